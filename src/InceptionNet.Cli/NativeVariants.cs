using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using InceptionNet.Tensors;

namespace InceptionNet.Cli;

/// <summary>
/// The x64 native build ships as several binaries side by side, one per x86-64 microarchitecture level, because NativeAOT
/// fixes the instruction set at compile time: <c>inceptionnet</c> (x86-64-v2: SSE4.2, the Vector128 kernels; runs on
/// every 64-bit PC of the last fifteen years), <c>inceptionnet-x86-64-v3</c> (AVX2 + FMA: Vector256) and
/// <c>inceptionnet-x86-64-v4</c> (AVX-512: Vector512). The base binary looks at the CPU first thing and, when a sibling
/// built for a higher level is present and the CPU has every feature that level needs, replaces itself with it
/// (<c>execve</c>: same process id, arguments, environment and open files). Under the JIT nothing happens: the JIT
/// already compiles for the CPU it runs on.
/// </summary>
/// <remarks>
/// <c>INCEPTIONNET_SIMD</c> caps the choice as it caps the kernels (<c>=256</c> on an AVX-512 machine runs the v3
/// binary), so the cap stays truthful. The chosen binary gets <see cref="VariantVariable"/> set to its own file name,
/// which also stops it from dispatching again.
/// </remarks>
internal static partial class NativeVariants
{
    /// <summary>Set in the environment of a binary the launcher started: its file name.</summary>
    public const string VariantVariable = "INCEPTIONNET_NATIVE_VARIANT";

    /// <summary>A binary built for one x86-64 level and the CPU features (as Linux names them in <c>/proc/cpuinfo</c>) it needs.</summary>
    /// <param name="Suffix">Appended to the base binary's file name.</param>
    /// <param name="Level">Its widest kernels.</param>
    /// <param name="Flags">Every feature the level requires; one missing and the binary would abort at start.</param>
    public sealed record Variant(string Suffix, SimdLevel Level, string[] Flags);

    private static readonly string[] V2 = ["cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"];
    private static readonly string[] V3 = [.. V2, "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"];

    /// <summary>The siblings the base binary may hand over to, best first.</summary>
    public static readonly Variant[] Variants =
    [
        new("-x86-64-v4", SimdLevel.Vector512, [.. V3, "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]),
        new("-x86-64-v3", SimdLevel.Vector256, V3),
    ];

    /// <summary>
    /// The sibling binary that should run instead of this one, or null to carry on here: the best variant above
    /// <paramref name="compiled"/> that <paramref name="cap"/> allows, whose features the CPU has all of, and that exists.
    /// </summary>
    public static string? Choose(string selfPath, SimdLevel compiled, SimdLevel cap, IReadOnlySet<string> cpuFlags, Func<string, bool> exists)
    {
        foreach (var variant in Variants)
        {
            string candidate = selfPath + variant.Suffix;
            if (variant.Level > compiled && variant.Level <= cap && variant.Flags.All(cpuFlags.Contains) && exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>
    /// The features CPUID reports, named as Linux names them. CPUID is the source of truth for the feature bits (a
    /// hypervisor may leave a flag such as <c>abm</c> out of <c>/proc/cpuinfo</c> while the CPU has it).
    /// </summary>
    public static HashSet<string> CpuidFeatures()
    {
        var features = new HashSet<string>(StringComparer.Ordinal);
        if (!X86Base.IsSupported)
        {
            return features;
        }

        void Add(int register, int bit, string name)
        {
            if ((register & (1 << bit)) != 0)
            {
                features.Add(name);
            }
        }

        (_, _, int ecx1, _) = X86Base.CpuId(1, 0);
        foreach (var (bit, name) in new[] { (9, "ssse3"), (12, "fma"), (13, "cx16"), (19, "sse4_1"), (20, "sse4_2"), (22, "movbe"), (23, "popcnt"), (26, "xsave"), (28, "avx"), (29, "f16c") })
        {
            Add(ecx1, bit, name);
        }

        (int maxLeaf, _, _, _) = X86Base.CpuId(0, 0);
        if (maxLeaf >= 7)
        {
            (_, int ebx7, _, _) = X86Base.CpuId(7, 0);
            foreach (var (bit, name) in new[] { (3, "bmi1"), (5, "avx2"), (8, "bmi2"), (16, "avx512f"), (17, "avx512dq"), (28, "avx512cd"), (30, "avx512bw"), (31, "avx512vl") })
            {
                Add(ebx7, bit, name);
            }
        }

        (int maxExtended, _, _, _) = X86Base.CpuId(unchecked((int)0x80000000), 0);
        if ((uint)maxExtended >= 0x80000001)
        {
            (_, _, int ecx81, _) = X86Base.CpuId(unchecked((int)0x80000001), 0);
            Add(ecx81, 0, "lahf_lm");
            Add(ecx81, 5, "abm");
        }

        return features;
    }

    /// <summary>
    /// <paramref name="cpuid"/> less the vector extensions the kernel has not enabled: Linux lists <c>avx</c>,
    /// <c>avx2</c> and <c>avx512*</c> in <c>/proc/cpuinfo</c> only when it saves their registers on a context switch.
    /// Without a flags line (<paramref name="kernelFlags"/> empty) nothing above SSE is trusted.
    /// </summary>
    public static HashSet<string> EnabledFeatures(IReadOnlySet<string> cpuid, IReadOnlySet<string> kernelFlags)
    {
        var enabled = new HashSet<string>(StringComparer.Ordinal);
        foreach (var feature in cpuid)
        {
            if (!feature.StartsWith("avx", StringComparison.Ordinal) || kernelFlags.Contains(feature))
            {
                enabled.Add(feature);
            }
        }

        return enabled;
    }

    /// <summary>The feature flags of the first CPU in a <c>/proc/cpuinfo</c> text (empty when there is no flags line).</summary>
    public static HashSet<string> ParseCpuFlags(string cpuinfo)
    {
        foreach (var line in cpuinfo.Split('\n'))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].Trim() == "flags")
            {
                return [.. line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)];
            }
        }

        return [];
    }

    /// <summary>
    /// In a native x64 Linux build, hands the process over to the best sibling binary for this CPU (never returns when it
    /// does). Returns quietly in every other case, including any failure to read the CPU or to start the sibling: the
    /// base binary then simply runs, with its own kernels.
    /// </summary>
    public static void HandOverIfBetter(string[] args)
    {
        if (RuntimeFeature.IsDynamicCodeSupported || !OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64
            || Environment.GetEnvironmentVariable(VariantVariable) is not null || Environment.ProcessPath is not { } self)
        {
            return;
        }

        string? target;
        try
        {
            string cpuinfo = File.Exists("/proc/cpuinfo") ? File.ReadAllText("/proc/cpuinfo") : "";
            target = Choose(self, Simd.Best, Simd.Parse(Environment.GetEnvironmentVariable(Simd.EnvironmentVariable)),
                EnabledFeatures(CpuidFeatures(), ParseCpuFlags(cpuinfo)), File.Exists);
        }
        catch (IOException)
        {
            return;
        }
        catch (UnauthorizedAccessException)
        {
            return;
        }

        if (target is not null)
        {
            Exec(target, args);
        }
    }

    private static unsafe void Exec(string path, string[] args)
    {
        var environment = new List<string>();
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string key && key != VariantVariable)
            {
                environment.Add($"{key}={entry.Value}");
            }
        }

        environment.Add($"{VariantVariable}={Path.GetFileName(path)}");
        var argv = new List<string> { path };
        argv.AddRange(args);
        var allocated = new List<IntPtr>();
        try
        {
            IntPtr Utf8(string s)
            {
                var p = Marshal.StringToCoTaskMemUTF8(s);
                allocated.Add(p);
                return p;
            }

            var argvPointers = new IntPtr[argv.Count + 1];
            for (int i = 0; i < argv.Count; i++)
            {
                argvPointers[i] = Utf8(argv[i]);
            }

            var envPointers = new IntPtr[environment.Count + 1];
            for (int i = 0; i < environment.Count; i++)
            {
                envPointers[i] = Utf8(environment[i]);
            }

            Console.Out.Flush();
            Console.Error.Flush();
            fixed (IntPtr* a = argvPointers)
            fixed (IntPtr* e = envPointers)
            {
                // Only returns on failure (the file vanished, is not executable, …): carry on in this binary.
                _ = ExecVe((byte*)argvPointers[0], (byte**)a, (byte**)e);
            }
        }
        finally
        {
            foreach (var p in allocated)
            {
                Marshal.FreeCoTaskMem(p);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "execve", SetLastError = true)]
    private static unsafe partial int ExecVe(byte* path, byte** argv, byte** envp);
}
