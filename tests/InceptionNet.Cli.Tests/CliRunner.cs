using System.Text;
using InceptionNet.Cli;

namespace InceptionNet.Cli.Tests;

/// <summary>Runs the CLI in-process and captures what it prints.</summary>
internal static class CliRunner
{
    public static (int Exit, string Stdout, string Stderr) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int exit = CliApp.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary>
    /// Runs the CLI as its own process (for what one process cannot show in-process: a heap cap, the working directory
    /// default paths are resolved against). Fails the test when it runs past <paramref name="deadline"/>.
    /// </summary>
    public static async Task<(int Exit, string Stdout, string Stderr)> RunProcessAsync(string[] args, TimeSpan deadline,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "inceptionnet.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var child = System.Diagnostics.Process.Start(start)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await child.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            child.Kill(entireProcessTree: true);
            throw new TimeoutException($"inceptionnet {string.Join(' ', args)} ran past its deadline of {deadline.TotalSeconds:F0} s");
        }

        return (child.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts the CLI on a background thread; its output can be waited on while it runs.</summary>
    public static RunningCli Start(params string[] args)
    {
        var stdout = new ObservedWriter();
        var stderr = new ObservedWriter();
        var exit = Task.Run(() => CliApp.Run(args, stdout, stderr));
        return new RunningCli(exit, stdout, stderr);
    }
}

/// <summary>A CLI run in progress.</summary>
internal sealed record RunningCli(Task<int> Exit, ObservedWriter Stdout, ObservedWriter Stderr);

/// <summary>A thread-safe text sink that lets a test wait until some text has been written.</summary>
internal sealed class ObservedWriter : TextWriter
{
    private readonly StringBuilder _text = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_text)
        {
            _text.Append(value);
            Monitor.PulseAll(_text);
        }
    }

    public override void Write(string? value)
    {
        lock (_text)
        {
            _text.Append(value);
            Monitor.PulseAll(_text);
        }
    }

    public override string ToString()
    {
        lock (_text)
        {
            return _text.ToString();
        }
    }

    /// <summary>Blocks until <paramref name="expected"/> has been written (true) or <paramref name="timeout"/> passes (false).</summary>
    public bool WaitFor(string expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_text)
        {
            while (!_text.ToString().Contains(expected, StringComparison.Ordinal))
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    return false;
                }

                Monitor.Wait(_text, left);
            }

            return true;
        }
    }
}
