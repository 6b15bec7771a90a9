using System.CommandLine;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using InceptionNet.Tensors;
using InceptionNet.Weights;

namespace InceptionNet.Cli.Commands;

/// <summary><c>info</c>: which build this is and which kernels it runs on this CPU.</summary>
internal static class InfoCommand
{
    public static Command Create(CliConsole console)
    {
        var json = CliOptions.Json();
        var command = new Command("info", "Show the version, the runtime (JIT or native), the binary's instruction-set target and the kernels in use.") { json };
        command.SetAction(r =>
        {
            string version = typeof(InfoCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            bool native = !RuntimeFeature.IsDynamicCodeSupported;
            string architecture = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
            string binary = Path.GetFileName(Environment.ProcessPath ?? "inceptionnet");
            string? launchedBy = Environment.GetEnvironmentVariable(NativeVariants.VariantVariable) is null ? null : "inceptionnet";
            // A native binary's Simd.Best is its compile-time target (capped by the CPU it runs on, which it must have).
            string target = !native ? "this CPU (JIT)" : RuntimeInformation.ProcessArchitecture == Architecture.X64
                ? Simd.Best switch { SimdLevel.Vector512 => "x86-64-v4", SimdLevel.Vector256 => "x86-64-v3", _ => "x86-64-v2" }
                : architecture;
            string? cap = Environment.GetEnvironmentVariable(Simd.EnvironmentVariable);
            if (r.GetValue(json))
            {
                console.Json(new JsonObject
                {
                    ["version"] = version,
                    ["runtime"] = native ? "native" : "jit",
                    ["framework"] = RuntimeInformation.FrameworkDescription,
                    ["architecture"] = architecture,
                    ["binary"] = binary,
                    ["launched_by"] = launchedBy,
                    ["target"] = target,
                    ["best_kernels"] = Simd.Best.ToString(),
                    ["kernels"] = Simd.Default.ToString(),
                    ["simd_cap"] = cap,
                    ["hashing"] = Sha256.UsesPlatform ? "platform" : "managed",
                });
            }
            else
            {
                console.Stdout.WriteLine($"inceptionnet {version}");
                console.Stdout.WriteLine($"runtime: {(native ? "native (NativeAOT)" : "JIT")}, {RuntimeInformation.FrameworkDescription}, {architecture}");
                console.Stdout.WriteLine($"binary: {binary}{(launchedBy is null ? "" : $" (started by {launchedBy} for this CPU)")}, compiled for {target}");
                console.Stdout.WriteLine($"kernels: {Simd.Default}{(cap is null ? "" : $" ({Simd.EnvironmentVariable}={cap}; this binary's best here: {Simd.Best})")}");
                console.Stdout.WriteLine(Sha256.UsesPlatform
                    ? "hashing: SHA-256 and random bytes from the platform (OpenSSL on Linux)"
                    : "hashing: SHA-256 and random bytes managed (no OpenSSL found; /dev/urandom for random bytes)");
            }

            return CliApp.Success;
        });
        return command;
    }
}
