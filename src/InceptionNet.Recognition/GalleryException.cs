namespace InceptionNet.Recognition;

/// <summary>A gallery cannot be used as asked: unreadable, made with another model, unknown identity, and so on.</summary>
public sealed class GalleryException(string message, Exception? inner = null) : Exception(message, inner);
