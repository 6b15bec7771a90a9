namespace InceptionNet.Weights;

/// <summary>A weights file or directory cannot be used: unreadable, malformed, or not matching the model.</summary>
public sealed class InvalidWeightsException : Exception
{
    /// <summary>Creates the exception; the message is prefixed with the source path.</summary>
    public InvalidWeightsException(string source, string problem, Exception? inner = null)
        : base($"{source}: {problem}", inner)
    {
        Source = source;
        Problem = problem;
    }

    /// <summary>The file or directory the weights came from.</summary>
    public new string Source { get; }

    /// <summary>What is wrong, without the path.</summary>
    public string Problem { get; }
}
