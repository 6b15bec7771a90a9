using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using InceptionNet.Pipeline;
using InceptionNet.TestSupport;

namespace InceptionNet.Server.Tests.Http;

/// <summary>
/// <c>inceptionnet serve</c> as a child process (the CLI built beside the tests), on an ephemeral loopback port read
/// from its first line, so a test can kill it as an operator's <c>kill -9</c> or a power cut would.
/// </summary>
internal sealed partial class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private ServerProcess(Process process)
    {
        _process = process;
    }

    public Uri Address { get; private set; } = null!;

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Starts the server over <paramref name="data"/> and <paramref name="keys"/> (and <paramref name="extra"/> arguments); returns once it prints Ready.</summary>
    public static async Task<ServerProcess> StartAsync(string data, string keys, TimeSpan deadline, params string[] extra)
    {
        var model = ModelRegistry.Get("faceapi");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string[] args =
        [
            Path.Combine(AppContext.BaseDirectory, "inceptionnet.dll"), "serve", "--listen", "127.0.0.1:0", "--data", data, "--keys", keys,
            "--model", "faceapi", "--weights", ModelRegistry.FindWeights(model, SharedData.PathOf("weights", "faceapi")), "--mtcnn", SharedData.PathOf("weights", "mtcnn"),
            .. extra,
        ];
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var server = new ServerProcess(new Process { StartInfo = start });
        server._process.OutputDataReceived += (_, e) => server.Append(server._stdout, e.Data);
        server._process.ErrorDataReceived += (_, e) => server.Append(server._stderr, e.Data);
        server._process.Start();
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        try
        {
            string listening = await server.WaitForLineAsync("Listening on ", deadline);
            server.Address = new Uri(ListeningPattern().Match(listening).Groups[1].Value);
            await server.WaitForLineAsync("Ready: ", deadline);
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, exactly as with <c>kill -9</c>.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(30_000);
        }

        _process.Dispose();
    }

    private void Append(StringBuilder text, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (text)
        {
            text.Append(line).Append('\n');
            Monitor.PulseAll(text);
        }
    }

    // The first stdout line starting with `prefix`; fails when the process exits or the deadline passes first.
    private Task<string> WaitForLineAsync(string prefix, TimeSpan deadline) => Task.Run(() =>
    {
        var until = DateTime.UtcNow + deadline;
        lock (_stdout)
        {
            while (true)
            {
                string? line = _stdout.ToString().Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
                if (line is not null)
                {
                    return line;
                }

                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"the server exited ({_process.ExitCode}) before printing '{prefix}': {Stderr}");
                }

                var left = until - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    throw new TimeoutException($"the server did not print '{prefix}' within {deadline.TotalSeconds:F0} s: {_stdout} {Stderr}");
                }

                // Woken by every line; the bound on one wait only re-checks whether the process has exited.
                Monitor.Wait(_stdout, TimeSpan.FromMilliseconds(Math.Min(left.TotalMilliseconds, 500)));
            }
        }
    });

    [GeneratedRegex(@"^Listening on (http://[^;\s]+);")]
    private static partial Regex ListeningPattern();
}
