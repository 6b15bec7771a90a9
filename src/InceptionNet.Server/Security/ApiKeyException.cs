namespace InceptionNet.Server.Security;

/// <summary>A keys file or a key request cannot be used as asked: unreadable or corrupt file, unknown id, invalid name.
/// The message names the file and the problem.</summary>
public sealed class ApiKeyException(string message, Exception? inner = null) : Exception(message, inner);
