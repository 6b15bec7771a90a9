using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using InceptionNet.Tensors;

namespace InceptionNet.Bench;

/// <summary>
/// The machine's fp32 peak: one core's FMA throughput measured with independent FMA chains of the widest vectors the
/// kernels use here (no memory traffic; a multiply and an add per link where the machine has no FMA), times the number of
/// cores. What all cores reach together at the same moment is measured too and reported: on a shared
/// VM it varies from run to run, so it is not used as the denominator.
/// </summary>
internal sealed record MachinePeak(string CpuModel, int Cores, double NominalMHz, double PerCoreGflops, double AllCoresMeasuredGflops)
{
    private static readonly Lazy<MachinePeak> s_measured = new(Measure);

    /// <summary>Measured once per process (about a second).</summary>
    public static MachinePeak Measured => s_measured.Value;

    /// <summary>Peak of all cores: cores × the single-core measurement.</summary>
    public double TotalGflops => Cores * PerCoreGflops;

    /// <summary>One line for reports.</summary>
    public string Describe() =>
        $"{CpuModel}, {Cores} cores, nominal {NominalMHz:F0} MHz; measured fp32 {Kind} peak {PerCoreGflops:F0} GFLOP/s per core, " +
        $"peak {TotalGflops:F0} GFLOP/s on {Cores} cores (all cores at once measured {AllCoresMeasuredGflops:F0} this time)" +
        (Fused
            ? $"; that is {PerCoreGflops / 2 / Lanes * 1000:F0} MHz × {Lanes} fp32 FMA lanes per cycle per core (e.g. two {Lanes * 16}-bit FMA pipes; " +
              "the most lanes that put the clock at 90 % of nominal or above)"
            : " (no FMA: the multiplies and adds may run on separate pipes, so no clock × lanes split is given)");

    // 8 (two 128-bit pipes: Zen 1 splits a 256-bit FMA), 16 (two 256-bit: Zen 3, and Zen 4's split 512-bit) or 32 (two
    // 512-bit: Zen 5): the widest at which the measured rate needs a clock no lower than 90 % of the nominal one.
    private int Lanes => new[] { 32, 16 }.FirstOrDefault(lanes => NominalMHz > 0 && PerCoreGflops / 2 / lanes * 1000 >= 0.9 * NominalMHz, NominalMHz > 0 ? 8 : 16);

    private static MachinePeak Measure()
    {
        string model = "unknown CPU";
        double mhz = 0;
        if (File.Exists("/proc/cpuinfo"))
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal) && model == "unknown CPU")
                {
                    model = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
                }
                else if (line.StartsWith("cpu MHz", StringComparison.Ordinal) && mhz == 0)
                {
                    _ = double.TryParse(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture, out mhz);
                }
            }
        }

        int cores = Environment.ProcessorCount;
        double single = Best(() => FmaGflops(1));
        double all = Best(() => FmaGflops(cores));
        return new MachinePeak(model, cores, mhz, single, all);
    }

    private static double Best(Func<double> measure)
    {
        double best = 0;
        for (int i = 0; i < 5; i++)
        {
            best = Math.Max(best, measure());
        }

        return best;
    }

    private static double FmaGflops(int threads)
    {
        const long Iterations = 40_000_000;
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() => Chains(Iterations))).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());
        double flops = 2.0 * threads * Iterations * 12 * VectorLanes;
        return flops / clock.Elapsed.TotalSeconds / 1e9;
    }

    // What the chains run: fused multiply-adds, or on a machine without FMA a multiply and an add.
    private static string Kind => Fused ? "FMA" : "multiply-and-add";

    // The fp32 lanes of the vectors Chains runs: the widest the kernels can use here.
    private static int VectorLanes => Simd.Best switch
    {
        SimdLevel.Vector512 => 16,
        SimdLevel.Vector256 => 8,
        _ => 4,
    };

    // Whether the chains are fused: a machine whose best level is Vector128 may lack FMA (x86-64-v2: SSE4.1 and no AVX), and
    // there the kernels multiply and add (Vector128Kernels.Ops.MultiplyAdd), so its peak is that pair's, not a software FMA's.
    private static bool Fused => Simd.Best > SimdLevel.Vector128 || Fma.IsSupported || AdvSimd.IsSupported;

    // 12 independent accumulators hide the FMA latency; the result is returned so the loop is not removed. Each level runs
    // at its own width: a wider vector than the hardware has, or Vector*.FusedMultiplyAdd without FMA, would take the
    // software fallback and run for minutes.
    private static float Chains(long iterations)
    {
        if (Simd.Best <= SimdLevel.Vector128)
        {
            return Fused ? Chains128Fused(iterations) : Chains128Separate(iterations);
        }

        if (Simd.Best == SimdLevel.Vector512)
        {
            var a = Vector512.Create(1.0001f);
            var b = Vector512.Create(0.9999f);
            Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
            Vector512<float> c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
            for (long i = 0; i < iterations; i++)
            {
                c0 = Vector512.FusedMultiplyAdd(a, b, c0); c1 = Vector512.FusedMultiplyAdd(a, b, c1);
                c2 = Vector512.FusedMultiplyAdd(a, b, c2); c3 = Vector512.FusedMultiplyAdd(a, b, c3);
                c4 = Vector512.FusedMultiplyAdd(a, b, c4); c5 = Vector512.FusedMultiplyAdd(a, b, c5);
                c6 = Vector512.FusedMultiplyAdd(a, b, c6); c7 = Vector512.FusedMultiplyAdd(a, b, c7);
                c8 = Vector512.FusedMultiplyAdd(a, b, c8); c9 = Vector512.FusedMultiplyAdd(a, b, c9);
                c10 = Vector512.FusedMultiplyAdd(a, b, c10); c11 = Vector512.FusedMultiplyAdd(a, b, c11);
            }

            return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
        }

        var x = Vector256.Create(1.0001f);
        var y = Vector256.Create(0.9999f);
        Vector256<float> d0 = default, d1 = default, d2 = default, d3 = default, d4 = default, d5 = default;
        Vector256<float> d6 = default, d7 = default, d8 = default, d9 = default, d10 = default, d11 = default;
        for (long i = 0; i < iterations; i++)
        {
            d0 = Vector256.FusedMultiplyAdd(x, y, d0); d1 = Vector256.FusedMultiplyAdd(x, y, d1);
            d2 = Vector256.FusedMultiplyAdd(x, y, d2); d3 = Vector256.FusedMultiplyAdd(x, y, d3);
            d4 = Vector256.FusedMultiplyAdd(x, y, d4); d5 = Vector256.FusedMultiplyAdd(x, y, d5);
            d6 = Vector256.FusedMultiplyAdd(x, y, d6); d7 = Vector256.FusedMultiplyAdd(x, y, d7);
            d8 = Vector256.FusedMultiplyAdd(x, y, d8); d9 = Vector256.FusedMultiplyAdd(x, y, d9);
            d10 = Vector256.FusedMultiplyAdd(x, y, d10); d11 = Vector256.FusedMultiplyAdd(x, y, d11);
        }

        return Vector256.Sum(d0 + d1 + d2 + d3 + d4 + d5 + d6 + d7 + d8 + d9 + d10 + d11);
    }

    private static float Chains128Fused(long iterations)
    {
        var a = Vector128.Create(1.0001f);
        var b = Vector128.Create(0.9999f);
        Vector128<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        Vector128<float> c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Vector128.FusedMultiplyAdd(a, b, c0); c1 = Vector128.FusedMultiplyAdd(a, b, c1);
            c2 = Vector128.FusedMultiplyAdd(a, b, c2); c3 = Vector128.FusedMultiplyAdd(a, b, c3);
            c4 = Vector128.FusedMultiplyAdd(a, b, c4); c5 = Vector128.FusedMultiplyAdd(a, b, c5);
            c6 = Vector128.FusedMultiplyAdd(a, b, c6); c7 = Vector128.FusedMultiplyAdd(a, b, c7);
            c8 = Vector128.FusedMultiplyAdd(a, b, c8); c9 = Vector128.FusedMultiplyAdd(a, b, c9);
            c10 = Vector128.FusedMultiplyAdd(a, b, c10); c11 = Vector128.FusedMultiplyAdd(a, b, c11);
        }

        return Vector128.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    // A multiply and an add per link: c = c·0.9999 + 1.0001 settles near 10,001 (no overflow, no subnormals).
    private static float Chains128Separate(long iterations)
    {
        var a = Vector128.Create(0.9999f);
        var b = Vector128.Create(1.0001f);
        Vector128<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        Vector128<float> c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        for (long i = 0; i < iterations; i++)
        {
            // c·a + b, not c + a·b: a·b would be hoisted out of the loop, leaving only the adds.
            c0 = c0 * a + b; c1 = c1 * a + b; c2 = c2 * a + b; c3 = c3 * a + b; c4 = c4 * a + b; c5 = c5 * a + b;
            c6 = c6 * a + b; c7 = c7 * a + b; c8 = c8 * a + b; c9 = c9 * a + b; c10 = c10 * a + b; c11 = c11 * a + b;
        }

        return Vector128.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }
}
