namespace InceptionNet.Server.Collections;

/// <summary>
/// The collection storage cannot be used as asked: a store address that does not parse, a database that cannot be
/// reached, a schema that is missing, older or newer than this build. The message names the problem and the fix.
/// </summary>
public sealed class GalleryStoreException(string message, Exception? inner = null) : Exception(message, inner);
