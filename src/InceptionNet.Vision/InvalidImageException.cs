namespace InceptionNet.Vision;

/// <summary>An image file cannot be decoded: missing, empty, corrupt, unsupported or too large.</summary>
public sealed class InvalidImageException : Exception
{
    /// <summary>Creates the exception; the message is prefixed with the path.</summary>
    public InvalidImageException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner)
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>The image file.</summary>
    public string Path { get; }

    /// <summary>What is wrong, without the path.</summary>
    public string Problem { get; }

    /// <summary>The image is well formed as far as read, but its width·height is above the caller's pixel limit.</summary>
    public bool OverPixelLimit { get; init; }
}
