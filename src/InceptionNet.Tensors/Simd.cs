using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace InceptionNet.Tensors;

/// <summary>The widest vector instructions a kernel may use; each level has its own <see cref="KernelSet"/>.</summary>
public enum SimdLevel
{
    /// <summary>Plain scalar loops: the reference behaviour, available everywhere.</summary>
    Scalar = 0,

    /// <summary>128-bit vectors: SSE4.1 (AVX-class with FMA) on x64, AdvSimd (NEON) on ARM64.</summary>
    Vector128 = 1,

    /// <summary>256-bit vectors with fused multiply-add (AVX2 + FMA class hardware).</summary>
    Vector256 = 2,

    /// <summary>512-bit vectors (AVX-512F class hardware).</summary>
    Vector512 = 3,
}

/// <summary>
/// Chooses the vector width in one place. The default can be lowered from outside with the <c>INCEPTIONNET_SIMD</c>
/// environment variable (<c>0</c>, <c>128</c>, <c>256</c>, <c>512</c>) so the test suite can prove every path, not only
/// the one this machine picks. A cap above the hardware gives the widest level the hardware has; an empty or
/// unrecognized value means "no cap".
/// </summary>
public static class Simd
{
    /// <summary>Name of the environment variable that caps the vector width.</summary>
    public const string EnvironmentVariable = "INCEPTIONNET_SIMD";

    /// <summary>The widest level this hardware runs natively.</summary>
    public static SimdLevel Best { get; } = DetectBest();

    /// <summary>The level kernels use unless told otherwise: <see cref="Best"/> capped by the environment variable.</summary>
    public static SimdLevel Default { get; } = Select(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>Every level this hardware can run, from scalar up to <see cref="Best"/>.</summary>
    public static IReadOnlyList<SimdLevel> Supported { get; } = UpTo(Best);

    /// <summary>The level an <c>INCEPTIONNET_SIMD</c> value selects on this hardware (<see cref="Default"/> is this of the real variable).</summary>
    public static SimdLevel Select(string? environmentValue) => Clamp(Parse(environmentValue));

    /// <summary>Lowers <paramref name="requested"/> to what the hardware supports.</summary>
    public static SimdLevel Clamp(SimdLevel requested) => requested <= Best ? requested : Best;

    /// <summary>Parses the environment variable's value; unknown or empty means "best available".</summary>
    public static SimdLevel Parse(string? value) => value?.Trim().ToUpperInvariant() switch
    {
        "0" or "OFF" or "SCALAR" or "NONE" or "FALSE" => SimdLevel.Scalar,
        "128" => SimdLevel.Vector128,
        "256" or "AVX2" => SimdLevel.Vector256,
        _ => SimdLevel.Vector512,
    };

    // Scalar (0) to `best`, the levels being numbered in order; a loop, not Enum.GetValues and LINQ, whose instantiations a
    // cold start would compile.
    private static SimdLevel[] UpTo(SimdLevel best)
    {
        var levels = new SimdLevel[(int)best + 1];
        for (int i = 0; i < levels.Length; i++)
        {
            levels[i] = (SimdLevel)i;
        }

        return levels;
    }

    private static SimdLevel DetectBest()
    {
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            return SimdLevel.Vector512;
        }

        if (Vector256.IsHardwareAccelerated && Fma.IsSupported)
        {
            return SimdLevel.Vector256;
        }

        return Vector128.IsHardwareAccelerated && (Sse41.IsSupported || AdvSimd.IsSupported) ? SimdLevel.Vector128 : SimdLevel.Scalar;
    }
}
