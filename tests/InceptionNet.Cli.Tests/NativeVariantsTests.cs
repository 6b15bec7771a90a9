using InceptionNet.Tensors;
using Xunit;

namespace InceptionNet.Cli.Tests;

/// <summary>Which sibling binary the native x64 launcher hands over to (<see cref="NativeVariants"/>).</summary>
public sealed class NativeVariantsTests
{
    private const string Self = "/opt/inceptionnet/inceptionnet";
    private static readonly string[] V2 = ["cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"];
    private static readonly string[] V3 = [.. V2, "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"];
    private static readonly string[] V4 = [.. V3, "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"];
    private static readonly HashSet<string> BothSiblings = [Self + "-x86-64-v3", Self + "-x86-64-v4"];

    private static string? Choose(string[] cpu, SimdLevel cap = SimdLevel.Vector512, SimdLevel compiled = SimdLevel.Vector128, HashSet<string>? present = null) =>
        NativeVariants.Choose(Self, compiled, cap, cpu.ToHashSet(), (present ?? BothSiblings).Contains);

    [Fact]
    public void An_AVX512_cpu_runs_the_v4_binary() => Assert.Equal(Self + "-x86-64-v4", Choose(V4));

    [Fact]
    public void An_AVX2_cpu_runs_the_v3_binary() => Assert.Equal(Self + "-x86-64-v3", Choose(V3));

    [Fact]
    public void A_plain_x86_64_v2_cpu_stays_in_the_base_binary() => Assert.Null(Choose(V2));

    [Fact]
    public void One_missing_feature_drops_to_the_next_level()
    {
        Assert.Equal(Self + "-x86-64-v3", Choose([.. V4.Where(f => f != "avx512vl")]));
        Assert.Null(Choose([.. V3.Where(f => f != "movbe")]));
    }

    [Fact]
    public void The_SIMD_cap_picks_the_binary_as_it_picks_the_kernels()
    {
        Assert.Equal(Self + "-x86-64-v3", Choose(V4, cap: SimdLevel.Vector256));
        Assert.Null(Choose(V4, cap: SimdLevel.Vector128));
        Assert.Null(Choose(V4, cap: SimdLevel.Scalar));
    }

    [Fact]
    public void A_sibling_that_is_not_there_is_skipped()
    {
        Assert.Equal(Self + "-x86-64-v3", Choose(V4, present: [Self + "-x86-64-v3"]));
        Assert.Null(Choose(V4, present: []));
    }

    [Fact]
    public void A_binary_already_at_the_best_level_does_not_hand_over()
    {
        Assert.Null(Choose(V4, compiled: SimdLevel.Vector512));
        Assert.Equal(Self + "-x86-64-v4", Choose(V4, compiled: SimdLevel.Vector256));
    }

    [Fact]
    public void Vector_extensions_the_kernel_did_not_enable_are_not_trusted()
    {
        var enabled = NativeVariants.EnabledFeatures(V4.ToHashSet(), V3.Where(f => f != "abm").ToHashSet());
        Assert.DoesNotContain("avx512f", enabled);
        Assert.Contains("avx2", enabled);
        Assert.Contains("abm", enabled); // CPUID's word for a non-vector feature stands even when the flags line leaves it out
        Assert.DoesNotContain(NativeVariants.EnabledFeatures(V4.ToHashSet(), new HashSet<string>()), f => f.StartsWith("avx", StringComparison.Ordinal));
    }

    [Fact]
    public void The_flags_line_of_proc_cpuinfo_is_read()
    {
        var flags = NativeVariants.ParseCpuFlags("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse4_2 avx2\nbugs\t\t: sysret_ss_attrs\n\nprocessor\t: 1\nflags\t\t: other\n");
        Assert.Equal(["avx2", "fpu", "sse4_2"], flags.Order(StringComparer.Ordinal));
        Assert.Empty(NativeVariants.ParseCpuFlags("processor : 0\n"));
    }

    [SkippableFact]
    public void CPUID_reads_the_features_of_the_level_the_JIT_found_on_this_cpu()
    {
        Skip.IfNot(System.Runtime.Intrinsics.X86.X86Base.IsSupported, "x64 only: CPUID");
        var features = NativeVariants.CpuidFeatures();
        Assert.Empty(V2.Except(features));
        // The JIT's own detection is the independent witness: each level it found must be one CPUID's bits allow.
        if (Simd.Best >= SimdLevel.Vector256)
        {
            Assert.Empty(V3.Except(features));
        }

        if (Simd.Best == SimdLevel.Vector512)
        {
            Assert.Empty(V4.Except(features));
        }
    }
}
