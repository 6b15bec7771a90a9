using System.Diagnostics;
using InceptionNet.Tensors;

namespace InceptionNet.Bench;

/// <summary>Times single convolutions of FaceNet-160's shapes (random weights) to show where GFLOP/s are lost.</summary>
internal static class LayerProbe
{
    private static readonly (string Name, int H, int W, int In, int Out, int Kh, int Kw, int Stride, PaddingMode Padding)[] Shapes =
    [
        ("stem 2b 3x3 32->64 @77", 77, 77, 32, 64, 3, 3, 1, PaddingMode.Same),
        ("stem 4a 3x3 80->192 @38", 38, 38, 80, 192, 3, 3, 1, PaddingMode.Valid),
        ("stem 4b 3x3/2 192->256 @36", 36, 36, 192, 256, 3, 3, 2, PaddingMode.Valid),
        ("block35 1x1 256->32 @17", 17, 17, 256, 32, 1, 1, 1, PaddingMode.Same),
        ("block35 3x3 32->32 @17", 17, 17, 32, 32, 3, 3, 1, PaddingMode.Same),
        ("block35 up 1x1 96->256 @17", 17, 17, 96, 256, 1, 1, 1, PaddingMode.Same),
        ("mixed6a 3x3/2 256->384 @17", 17, 17, 256, 384, 3, 3, 2, PaddingMode.Valid),
        ("mixed6a 3x3 192->192 @17", 17, 17, 192, 192, 3, 3, 1, PaddingMode.Same),
        ("block17 1x1 896->128 @8", 8, 8, 896, 128, 1, 1, 1, PaddingMode.Same),
        ("block17 1x7 128->128 @8", 8, 8, 128, 128, 1, 7, 1, PaddingMode.Same),
        ("block17 up 1x1 256->896 @8", 8, 8, 256, 896, 1, 1, 1, PaddingMode.Same),
        ("block8 1x1 1792->192 @3", 3, 3, 1792, 192, 1, 1, 1, PaddingMode.Same),
        ("block8 heads 1x1 1792->384 @3", 3, 3, 1792, 384, 1, 1, 1, PaddingMode.Same),
        ("block8 1x3 192->224 @3", 3, 3, 192, 224, 1, 3, 1, PaddingMode.Same),
        ("block8 3x1 224->256 @3", 3, 3, 224, 256, 3, 1, 1, PaddingMode.Same),
        ("block8 up 1x1 384->1792 @3", 3, 3, 384, 1792, 1, 1, 1, PaddingMode.Same),
    ];

    /// <summary>
    /// Times each shape at <paramref name="batch"/>. With <paramref name="cold"/>, each call takes the next of as many
    /// copies of the weights as fill 64 MB (at least two), so the weights come from memory as in a whole pass, where the
    /// other layers' weights have pushed them out of the caches; otherwise the one copy stays cached between calls.
    /// </summary>
    public static void Run(int batch, bool cold = false)
    {
        var random = new Random(1);
        Console.WriteLine($"batch {batch}, {KernelSet.Default}, {WorkerPool.Shared.WorkerCount} threads{(cold ? ", weights cold (64 MB of copies in turn)" : "")}");
        double totalMs = 0, totalMacs = 0;
        foreach (var s in Shapes)
        {
            var kernel = new float[s.Kh * s.Kw * s.In * s.Out];
            for (int i = 0; i < kernel.Length; i++)
            {
                kernel[i] = (float)(random.NextDouble() - 0.5);
            }

            int copies = cold ? Math.Max(2, (int)((64L << 20) / (4L * kernel.Length))) : 1;
            var copySet = Enumerable.Range(0, copies).Select(_ => new PackedConvWeights(kernel, s.Kh, s.Kw, s.In, s.Out, new float[s.Out])).ToArray();
            var weights = copySet[0];
            int turn = 0;
            var geometry = new WindowGeometry(s.Kh, s.Kw, s.Stride, s.Stride, s.Padding);
            var (oh, ow, _, _) = geometry.Resolve(s.H, s.W);
            var input = TensorSlice.Dense(new float[batch * s.H * s.W * s.In], batch, s.H, s.W, s.In);
            var output = TensorSlice.Dense(new float[batch * oh * ow * s.Out], batch, oh, ow, s.Out);
            void Once() => Conv2D.Forward(input, copySet[turn++ % copies], geometry, output, ConvEpilogue.Bias(true), KernelSet.Default, WorkerPool.Shared);
            for (int i = 0; i < 5; i++)
            {
                Once();
            }

            var times = new double[31];
            for (int i = 0; i < times.Length; i++)
            {
                var clock = Stopwatch.StartNew();
                for (int j = 0; j < 4; j++)
                {
                    Once();
                }

                times[i] = clock.Elapsed.TotalMilliseconds / 4;
            }

            Array.Sort(times);
            double ms = times[times.Length / 2];
            double macs = (double)batch * oh * ow * weights.MultiplyAddsPerPixel;
            totalMs += ms;
            totalMacs += macs;
            Console.WriteLine($"  {s.Name,-30} {ms * 1000,8:F0} us {2 * macs / (ms / 1000) / 1e9,6:F0} GFLOP/s");
        }

        Console.WriteLine($"  {"all",-30} {totalMs * 1000,8:F0} us {2 * totalMacs / (totalMs / 1000) / 1e9,6:F0} GFLOP/s");
    }
}

/// <summary>
/// Same-process A/B of FaceNet's 8×8-map convolutions that took a Winograd form in round two's second step (random weights):
/// Block17's 1×7 and 7×1 (128 → 128, F(2, 7)) and Mixed_7a's 3×3 256 → 256 (F(2×2, 3×3) past the default cap), direct GEMM
/// against Winograd, alternating fifteen rounds so the VM's drift hits both alike.
/// </summary>
internal static class WinogradLayerAb
{
    public static void Run()
    {
        var random = new Random(1);
        foreach (int batch in new[] { 1, 16 })
        {
            // FaceNet-160's Block17 1×7 / 7×1 and Mixed_7a 3×3 (8×8 maps, same padding), and its stride-2 3×3s (valid):
            // Conv2d_4b 36×36 → 17×17, Mixed_6a's two 17×17 → 8×8.
            foreach (var (kh, kw, size, cin, cout, stride) in new[]
            {
                (1, 7, 8, 128, 128, 1), (7, 1, 8, 128, 128, 1), (3, 3, 8, 256, 256, 1),
                (3, 3, 36, 192, 256, 2), (3, 3, 17, 256, 384, 2), (3, 3, 17, 192, 256, 2),
            })
            {
                var kernel = new float[kh * kw * cin * cout];
                for (int i = 0; i < kernel.Length; i++)
                {
                    kernel[i] = (float)(random.NextDouble() - 0.5);
                }

                var weights = new PackedConvWeights(kernel, kh, kw, cin, cout, new float[cout]);
                weights.PrepareWinograd(evenIfLarge: true, stride);
                var geometry = new WindowGeometry(kh, kw, stride, stride, stride == 1 ? PaddingMode.Same : PaddingMode.Valid);
                var (oh, ow, _, _) = geometry.Resolve(size, size);
                var x = new float[batch * size * size * cin];
                for (int i = 0; i < x.Length; i++)
                {
                    x[i] = (float)random.NextDouble();
                }

                var input = TensorSlice.Dense(x, batch, size, size, cin);
                var output = TensorSlice.Dense(new float[batch * oh * ow * cout], batch, oh, ow, cout);
                void Once() => Conv2D.Forward(input, weights, geometry, output, ConvEpilogue.Bias(true), KernelSet.Default, WorkerPool.Shared);
                // Both paths warm first (tiered JIT: each path's first new methods would otherwise keep the other in tier 0).
                for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 1.5;)
                {
                    Conv2D.WinogradEnabled = !Conv2D.WinogradEnabled;
                    Once();
                }

                var results = new[] { new List<double>(), new List<double>() };
                for (int round = 0; round < 15; round++)
                {
                    for (int v = 0; v < 2; v++)
                    {
                        Conv2D.WinogradEnabled = v == 1;
                        Once();
                        var clock = Stopwatch.StartNew();
                        int reps = 0;
                        do
                        {
                            Once();
                            reps++;
                        }
                        while (clock.Elapsed.TotalMilliseconds < 30);
                        results[v].Add(clock.Elapsed.TotalMilliseconds / reps);
                    }
                }

                Conv2D.WinogradEnabled = true;
                results[0].Sort();
                results[1].Sort();
                Console.WriteLine($"batch {batch,2} {kh}x{kw}/{stride} {cin}->{cout} @{size}: direct {results[0][7] * 1000:F0} us, Winograd {results[1][7] * 1000:F0} us (medians of 15 rounds)");
            }
        }
    }
}

/// <summary>
/// INTER_AREA over MTCNN's pyramid of obama1.jpg (1480×832, scales 0.6 × 0.709ⁱ down to a 12-pixel side): the reference
/// loops, one source row at a time in 128-bit vectors, and two rows at a time in 256-bit vectors, alternating in one
/// process (issue 19's same-process A/B); all three give the same values bit for bit (ResizeLevelTests).
/// </summary>
internal static class AreaPairAb
{
    public static void Run()
    {
        if (!System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated || Simd.Default < SimdLevel.Vector256)
        {
            Console.WriteLine("area A/B: this machine (or INCEPTIONNET_SIMD) has no 256-bit vectors; nothing to compare");
            return;
        }

        var image = InceptionNet.Vision.ImageDecoder.Decode(BenchData.PathOf("images", "faces", "test", "obama1.jpg"));
        var source = new float[image.Pixels.Length];
        PixelConversion.ToFloats(image.Pixels, source);
        var sizes = new List<(int W, int H)>();
        for (double scale = 0.6; Math.Min(image.Width, image.Height) * scale >= 12; scale *= 0.709)
        {
            sizes.Add(((int)Math.Ceiling(image.Width * scale), (int)Math.Ceiling(image.Height * scale)));
        }

        var target = new float[sizes[0].W * sizes[0].H * 3];
        var scratches = new[]
        {
            new InceptionNet.Vision.ResizeScratch<float>(SimdLevel.Scalar),
            new InceptionNet.Vision.ResizeScratch<float>(SimdLevel.Vector128),
            new InceptionNet.Vision.ResizeScratch<float>(SimdLevel.Vector256),
        };
        void Pyramid(InceptionNet.Vision.ResizeScratch<float> scratch)
        {
            foreach (var (w, h) in sizes)
            {
                InceptionNet.Vision.OpenCvResize.Area<float>(source, image.Width, image.Height, 3, w, h, target, scratch);
            }
        }

        for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 1.5;)
        {
            foreach (var scratch in scratches)
            {
                Pyramid(scratch);
            }
        }

        var results = new[] { new List<double>(), new List<double>(), new List<double>() };
        for (int round = 0; round < 15; round++)
        {
            for (int v = 0; v < scratches.Length; v++)
            {
                var clock = Stopwatch.StartNew();
                Pyramid(scratches[v]);
                results[v].Add(clock.Elapsed.TotalMilliseconds);
            }
        }

        foreach (var list in results)
        {
            list.Sort();
        }

        Console.WriteLine($"INTER_AREA pyramid of obama1.jpg ({sizes.Count} levels, one thread): reference loops {results[0][7]:F2} ms, " +
            $"one row at 128 bits {results[1][7]:F2} ms, two rows at 256 bits {results[2][7]:F2} ms (medians of 15 rounds)");
    }
}

/// <summary>
/// Same-process A/B of the direct kernel for few-channel inputs (<c>--quick --direct-ab</c>) against the GEMM path it
/// replaces: P-Net's first layer (3 → 10, 3×3, PReLU) over one band of obama1.jpg's largest pyramid level (142 × 500
/// input), then MTCNN on obama1.jpg and two_people.jpg; alternating rounds so the VM's drift hits both alike.
/// </summary>
internal static class DirectSmallInputAb
{
    public static void Run()
    {
        var weights = new PackedConvWeights(TestValues(27 * 10, 1), 3, 3, 3, 10, TestValues(10, 2));
        var geometry = WindowGeometry.Square(3, 1, PaddingMode.Valid);
        var input = TensorSlice.Dense(TestValues(142 * 500 * 3, 3), 1, 142, 500, 3);
        var output = TensorSlice.Dense(new float[140 * 498 * 10], 1, 140, 498, 10);
        var epilogue = ConvEpilogue.Prelu(TestValues(10, 4));
        void Layer() => Conv2D.Forward(input, weights, geometry, output, epilogue, KernelSet.Default, WorkerPool.Shared);
        Report($"P-Net conv1 over a 142x500 band, {KernelSet.Default}, {WorkerPool.Shared.WorkerCount} threads", Layer, 31, 1000, "us");

        foreach (string file in new[] { "faces/test/obama1.jpg", "faces/two_people.jpg" })
        {
            var bench = new DetectBenchmarks { File = file };
            bench.Setup();
            Report($"MTCNN {file}", () => bench.Detect(), 15, 1, "ms");
        }
    }

    // Warms both paths for a second, then `rounds` alternating timings of each; medians.
    private static void Report(string what, Action once, int rounds, double scale, string unit)
    {
        for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 1;)
        {
            Conv2D.DirectSmallInputEnabled = warm.ElapsedTicks % 2 == 0;
            once();
        }

        var times = new[] { new List<double>(), new List<double>() };
        try
        {
            for (int round = 0; round < rounds; round++)
            {
                for (int path = 0; path < 2; path++)
                {
                    Conv2D.DirectSmallInputEnabled = path == 1;
                    var clock = Stopwatch.StartNew();
                    once();
                    times[path].Add(clock.Elapsed.TotalMilliseconds);
                }
            }
        }
        finally
        {
            Conv2D.DirectSmallInputEnabled = true;
        }

        double gemm = Median(times[0]) * scale, direct = Median(times[1]) * scale;
        Console.WriteLine($"{what}: GEMM {gemm:F1} {unit}, direct {direct:F1} {unit} ({direct / gemm:F2}x; medians of {rounds} alternating rounds)");
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    private static float[] TestValues(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }
}
