using System.Diagnostics;
using InceptionNet.Detection;
using InceptionNet.Models;
using InceptionNet.Tensors;

namespace InceptionNet.Bench;

/// <summary>A fast Stopwatch report: latency per batch size, GFLOP/s, allocations and peak working set.</summary>
internal static class QuickReport
{
    public static void Run(string[] args)
    {
        if (args.Contains("--peak"))
        {
            Console.WriteLine(MachinePeak.Measured.Describe());
            return;
        }

        if (args.Contains("--kernels"))
        {
            MicroKernels();
            return;
        }

        // Same-process A/B of the Winograd path, FaceNet and face-api at batch 1 and 16: ten rounds alternating direct and
        // Winograd, so drift hits both alike.
        if (args.Contains("--winograd-ab"))
        {
            var facenet = new FaceNetBenchmarks().Load();
            foreach (int batch in new[] { 1, 16 })
            {
                var input = BenchData.Batch(facenet, batch);
                var raw = new float[batch * 128];
                WinogradAb($"FaceNet batch {batch}", () => facenet.Forward(input, batch, raw), batch == 1 ? 15 : 3);
                var faceApi = new FaceApiBenchmarks { Batch = batch };
                faceApi.Setup();
                WinogradAb($"face-api batch {batch}", () => faceApi.Descriptor(), batch == 1 ? 15 : 5);
            }

            Conv2D.WinogradEnabled = true;
            return;
        }

        // Same-process A/B of the direct kernel for few-channel inputs against the GEMM: P-Net's first layer, then MTCNN.
        if (args.Contains("--direct-ab"))
        {
            DirectSmallInputAb.Run();
            return;
        }

        // Same-process A/B of INTER_AREA's loops over MTCNN's pyramid of obama1.jpg: reference, 128-bit, 256-bit pairs.
        if (args.Contains("--area-ab"))
        {
            AreaPairAb.Run();
            return;
        }

        if (args.Contains("--batch-sizes"))
        {
            BatchSizes();
            return;
        }

        if (args.Contains("--winograd-layers-ab"))
        {
            WinogradLayerAb.Run();
            return;
        }

        if (args.Contains("--layers"))
        {
            bool cold = args.Contains("--cold");
            LayerProbe.Run(1, cold);
            LayerProbe.Run(16, cold);
            return;
        }

        if (args.Contains("--decode"))
        {
            Decode();
            return;
        }

        if (args.Contains("--detect"))
        {
            var bench = new DetectBenchmarks();
            foreach (string file in new[] { "faces/two_people.jpg", "faces/test/obama1.jpg", "course/kian.jpg" })
            {
                bench.File = file;
                bench.Setup();
                // Warm for two seconds (tiered JIT), as the peer's timing script warms its own; then 15 timed calls.
                for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 2;)
                {
                    bench.Detect();
                }

                long allocated = GC.GetTotalAllocatedBytes(precise: true);
                double median = MedianMilliseconds(() => bench.Detect(), 15);
                allocated = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / 15;
                Console.WriteLine($"MTCNN {file}: median {median:F1} ms, {allocated / 1e6:F2} MB allocated per photo (all threads)");
                Console.WriteLine($"  by stage (medians of 15 more calls): {DetectStages(bench)}");
            }

            return;
        }

        if (args.Contains("--faceapi"))
        {
            foreach (int batch in new[] { 1, 16 })
            {
                var bench = new FaceApiBenchmarks { Batch = batch };
                bench.Setup();
                // Two seconds of warm-up, as for FaceNet: one pass left the kernels in tier-0 code for most of the timed
                // ones (1 worker then looked faster than 2, the background JIT taking the second core).
                for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 2;)
                {
                    bench.Descriptor();
                }
                Console.WriteLine($"face-api ResNet-34 batch {batch}: median {MedianMilliseconds(() => bench.Descriptor(), 21) / batch:F2} ms per face (face-api wasm: 18.1 ms, tfjs CPU: 374 ms)");
            }

            return;
        }

        if (args.Contains("--split"))
        {
            Split();
            return;
        }

        if (args.Contains("--stages"))
        {
            Stages(args.Contains("16") ? 16 : 1);
            return;
        }

        if (args.Contains("--search-rows"))
        {
            // Where the int8 shadow starts to pay (QuantizedRows.MinRows): the float scan against the shadow at small sizes.
            Search([1_000, 2_000, 4_000, 8_000, 16_000, 32_000]);
            return;
        }

        if (args.Contains("--search"))
        {
            Search([10_000, 100_000, 1_000_000]);
            return;
        }

        // The repeat count is the one bare number among the options (`--quick 20 --ort`); options are not numbers.
        int repeats = 10;
        foreach (string arg in args)
        {
            if (int.TryParse(arg, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n > 0)
            {
                repeats = n;
            }
        }

        var model = new FaceNetBenchmarks().Load();
        long macs = model.MultiplyAddsPerImage, performed = model.PerformedMultiplyAddsPerImage;
        Console.WriteLine($"FaceNet-160: {macs:N0} multiply-adds per image ({2.0 * macs / 1e9:F2} GFLOP), {performed:N0} as performed " +
            $"(Winograd: {100.0 * performed / macs:F0} %), {model.Level}, {WorkerPool.Shared.WorkerCount} threads");
        Console.WriteLine(MachinePeak.Measured.Describe());
        foreach (int batch in new[] { 1, 16 })
        {
            var input = BenchData.Batch(model, batch);
            var raw = new float[batch * 128];
            // Warm up for two seconds: tiered JIT needs a few dozen passes before every kernel runs its optimized code.
            for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 2;)
            {
                model.Forward(input, batch, raw);
            }

            var times = new List<double>();
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < repeats; i++)
            {
                var clock = Stopwatch.StartNew();
                model.Forward(input, batch, raw);
                times.Add(clock.Elapsed.TotalMilliseconds);
            }

            allocated = (GC.GetAllocatedBytesForCurrentThread() - allocated) / repeats;
            times.Sort();
            double median = times[times.Count / 2];
            Console.WriteLine($"batch {batch,2}: median {median,8:F2} ms ({median / batch:F2} ms/image), {2.0 * macs * batch / (median / 1000) / 1e9:F0} GFLOP/s " +
                $"({2.0 * performed * batch / (median / 1000) / 1e9:F0} as performed), {allocated} B allocated per pass (calling thread)");
        }

        Console.WriteLine($"peak working set of the process so far (our engine only): {Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)} MiB");
        if (args.Contains("--ort"))
        {
            foreach (int batch in new[] { 1, 16 })
            {
                var input = BenchData.Batch(model, batch);
                var raw = new float[batch * 128];
                var peer = new FaceNetBenchmarks { Batch = batch };
                peer.Setup();
                for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 2;)
                {
                    peer.OnnxRuntime();
                }

                double ort = MedianMilliseconds(() => peer.OnnxRuntime(), repeats | 1);
                peer.Cleanup(); // its spinning thread pool would otherwise compete with ours
                double ours = MedianMilliseconds(() => model.Forward(input, batch, raw), repeats | 1);
                Console.WriteLine($"batch {batch,2}: ONNX Runtime {ort,8:F2} ms, ours {ours,8:F2} ms: ratio {ours / ort:F2}");
            }
        }

        if (args.Contains("--stages"))
        {
            var input = BenchData.Batch(model, 1);
            var raw = new float[128];
            var totals = new Dictionary<string, double>();
            var clock = new Stopwatch();
            model.StageObserver = (name, _) =>
            {
                string key = name.Split('_')[0];
                totals[key] = totals.GetValueOrDefault(key) + clock.Elapsed.TotalMilliseconds;
                clock.Restart();
            };
            for (int i = 0; i < repeats; i++)
            {
                clock.Restart();
                model.Forward(input, 1, raw);
            }

            model.StageObserver = null;
            foreach (var (key, ms) in totals)
            {
                Console.WriteLine($"  {key,-10} {ms / repeats,7:F2} ms");
            }
        }

    }

    private static void WinogradAb(string name, Action pass, int samples)
    {
        for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 2;)
        {
            pass();
        }

        var all = new[] { new List<double>(), new List<double>() };
        for (int round = 0; round < 10; round++)
        {
            for (int v = 0; v < 2; v++)
            {
                Conv2D.WinogradEnabled = v == 1;
                all[v].Add(MedianMilliseconds(pass, samples));
            }
        }

        for (int v = 0; v < 2; v++)
        {
            all[v].Sort();
            Console.WriteLine($"{name} {(v == 0 ? "direct  " : "winograd")}: median of round medians {all[v][5]:F2} ms, min {all[v][0]:F2}");
        }
    }

    // Each kernel set's micro-kernel alone on one thread, for reductions whose B slice sits in L1 (k = 64, 128) or fills it
    // (256, the convolution's KBlock), and past it: what the tile shape can reach before any gather, epilogue or hand-over.
    private static unsafe void MicroKernels()
    {
        Console.WriteLine(MachinePeak.Measured.Describe());
        foreach (var set in KernelSet.AllVariants)
        {
            if (set.Level == SimdLevel.Scalar || set.Level > Simd.Best)
            {
                continue;
            }

            foreach (bool narrow in new[] { false, true })
            {
                int width = narrow ? PackedConvWeights.NarrowPanelWidth : PackedConvWeights.PanelWidth;
                int rows = narrow ? set.NarrowTileRows : set.TileRows;
                foreach (int k in new[] { 64, 128, 256, 512 })
                {
                    const int tiles = 16; // a row block of 48 rows at 3 per tile: the block's tiles share the B slice
                    var a = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(tiles * rows * k * 4), 64);
                    var b = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(k * width * 4), 64);
                    var tile = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(tiles * KernelSet.MaxTileRows * KernelSet.TileColumns * 4), 64);
                    new Span<float>(a, tiles * rows * k).Fill(0.5f);
                    new Span<float>(b, k * width).Fill(0.25f);
                    void Once()
                    {
                        for (int t = 0; t < tiles; t++)
                        {
                            if (narrow)
                            {
                                set.NarrowMicroKernel(a + t * rows * k, k, b, k, tile + t * rows * KernelSet.TileColumns, false);
                            }
                            else
                            {
                                set.MicroKernel(a + t * rows * k, k, b, k, tile + t * rows * KernelSet.TileColumns, false, 0);
                            }
                        }
                    }

                    for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 0.3;)
                    {
                        Once();
                    }

                    int repeats = Math.Max(1, 100_000_000 / (tiles * rows * k * width)); // ~2 ms a sample
                    double ms = MedianMilliseconds(() =>
                    {
                        for (int i = 0; i < repeats; i++)
                        {
                            Once();
                        }
                    }, 15);
                    double gflops = 2.0 * tiles * rows * k * width * repeats / (ms / 1000) / 1e9;
                    Console.WriteLine($"{set,-44} {(narrow ? "narrow" : "wide"),-6} k {k,4}: {gflops,6:F1} GFLOP/s on one thread");
                    System.Runtime.InteropServices.NativeMemory.AlignedFree(a);
                    System.Runtime.InteropServices.NativeMemory.AlignedFree(b);
                    System.Runtime.InteropServices.NativeMemory.AlignedFree(tile);
                }
            }
        }
    }

    // Identify latency: GalleryIndex.TopTwo as the gallery runs it (through its int8 shadow from QuantizedRows.MinRows rows
    // on), VectorSearch.NearestTwo (inline below a size, chunked above) and the same through a shadow at every size, each
    // back to back (helpers spinning) and after 5 ms idle (helpers asleep, as between a server's requests). Every path is
    // warmed for a second first: tier-0 code of the scan loops is several times slower.
    private static void Search(int[] sizes)
    {
        var workers = WorkerPool.Shared;
        var kernels = KernelSet.Default;
        Console.WriteLine($"{kernels}, {workers.WorkerCount} workers");
        foreach (int n in sizes)
        {
            var (index, query) = SearchBenchmarks.Build(n);
            var vectors = SearchBenchmarks.RandomUnitVectors(n, 128);
            var owner = Enumerable.Range(0, n).ToArray();
            var distances = new float[n];
            var clock = Stopwatch.StartNew();
            var shadow = new QuantizedRows(128, n);
            shadow.Fill(vectors, 0, workers);
            Console.WriteLine($"int8 shadow of {n,9:N0} vectors: built in {clock.Elapsed.TotalMilliseconds:F0} ms on the workers, {(long)n * (128 + 12) / 1e6:F1} MB beside {(long)n * 512 / 1e6:F1} MB of floats");
            var paths = new (string Name, Action Run)[]
            {
                ("GalleryIndex.TopTwo", () => index.TopTwo(query)),
                ("VectorSearch.NearestTwo", () => VectorSearch.NearestTwo(vectors, 128, query, owner, distances, kernels, workers)),
                ("NearestTwo, int8 pass", () => VectorSearch.NearestTwo(vectors, 128, query, owner, distances, shadow, kernels, workers)),
            };
            foreach (var (name, run) in paths)
            {
                for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 1;)
                {
                    run();
                }

                double busy = MedianMilliseconds(run, 21);
                double idle = MedianMilliseconds(run, 21, idleMilliseconds: 5);
                Console.WriteLine($"identify over {n,9:N0} vectors, {name,-24}: median {busy,7:F3} ms back to back, {idle,7:F3} ms after 5 ms idle");
            }
        }
    }

    private static void Decode()
    {
        foreach (string file in new[] { "faces/test/obama_and_biden.jpg", "faces/test/obama1.jpg", "faces/misc/obama3.jpg" })
        {
            var bytes = File.ReadAllBytes(BenchData.PathOf(["images", .. file.Split('/')]));
            double Time(Func<int> decode)
            {
                for (int i = 0; i < 3; i++)
                {
                    decode();
                }

                var times = new List<double>();
                for (int i = 0; i < 10; i++)
                {
                    var clock = Stopwatch.StartNew();
                    decode();
                    times.Add(clock.Elapsed.TotalMilliseconds);
                }

                times.Sort();
                return times[5];
            }

            double ours = Time(() => InceptionNet.Vision.Jpeg.JpegDecoder.Decode(bytes, file).Pixels.Length);
            double stb = Time(() => StbImageSharp.ImageResult.FromMemory(bytes, StbImageSharp.ColorComponents.RedGreenBlue).Data.Length);
            Console.WriteLine($"{file}: ours {ours:F1} ms, StbImageSharp {stb:F1} ms, ratio {ours / stb:F2}");
        }
    }

    // FaceNet's time per image at several batch sizes, in alternating rounds (the VM's phases hit every size alike):
    // what the CLI's default batch should be. Median over the rounds of each size's per-image time.
    private static void BatchSizes()
    {
        var model = new FaceNetBenchmarks().Load();
        int[] sizes = [8, 16, 24, 32, 48, 64];
        var inputs = sizes.ToDictionary(b => b, b => BenchData.Batch(model, b));
        var outputs = sizes.ToDictionary(b => b, b => new float[b * 128]);
        var perImage = sizes.ToDictionary(b => b, _ => new List<double>());
        for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 3;)
        {
            model.Forward(inputs[16], 16, outputs[16]);
        }

        const int Rounds = 12;
        for (int round = 0; round < Rounds; round++)
        {
            foreach (int b in round % 2 == 0 ? sizes : sizes.Reverse())
            {
                var clock = Stopwatch.StartNew();
                model.Forward(inputs[b], b, outputs[b]);
                perImage[b].Add(clock.Elapsed.TotalMilliseconds / b);
            }
        }

        Console.WriteLine($"FaceNet-160, {model.Level}, {WorkerPool.Shared.WorkerCount} threads, {Rounds} alternating rounds: ms per image");
        foreach (int b in sizes)
        {
            var t = perImage[b].Order().ToList();
            Console.WriteLine($"batch {b,2}: median {t[t.Count / 2],6:F2}  min {t[0],6:F2}  max {t[^1],6:F2}");
        }
    }

    // Batch-1 convolutions of FaceNet-160 and face-api on one worker and on all of them: where splitting a small map
    // over the cores pays and where it costs (a diagnostic for the batch-1 split, issue 19).
    private static void Split()
    {
        (string Name, int H, int W, int Cin, int Cout, int K, int Stride)[] shapes =
        [
            ("facenet stem 3x3/2 3->32 @160", 160, 160, 3, 32, 3, 2),
            ("facenet block35 1x1 320->32 @17", 17, 17, 320, 32, 1, 1),
            ("facenet block35 3x3 32->48 @17", 17, 17, 32, 48, 3, 1),
            ("facenet block17 1x1 896->128 @8", 8, 8, 896, 128, 1, 1),
            ("facenet block17 1x1 384->896 @8", 8, 8, 384, 896, 1, 1),
            ("facenet block8 1x1 1792->192 @3", 3, 3, 1792, 192, 1, 1),
            ("facenet block8 1x1 384->1792 @3", 3, 3, 384, 1792, 1, 1),
            ("faceapi 3x3 32->32 @36", 36, 36, 32, 32, 3, 1),
            ("faceapi 3x3 64->64 @17", 17, 17, 64, 64, 3, 1),
            ("faceapi 3x3 128->128 @8", 8, 8, 128, 128, 3, 1),
            ("faceapi 3x3 256->256 @3", 3, 3, 256, 256, 3, 1),
        ];
        using var one = new WorkerPool(1);
        var all = WorkerPool.Shared;
        Console.WriteLine($"batch-1 convolutions, {KernelSet.Default.Level}: median of 201 after 1 s warm-up, 1 worker vs {all.WorkerCount}");
        foreach (var (name, h, w, cin, cout, k, stride) in shapes)
        {
            var geometry = new WindowGeometry(k, k, stride, stride, PaddingMode.Same);
            var (oh, ow, _, _) = geometry.Resolve(h, w);
            var x = new float[h * w * cin];
            var packed = new PackedConvWeights(new float[k * k * cin * cout], k, k, cin, cout, new float[cout]);
            var y = new float[oh * ow * cout];
            double Time(WorkerPool pool)
            {
                void Run() => Conv2D.Forward(TensorSlice.Dense(x, 1, h, w, cin), packed, geometry, TensorSlice.Dense(y, 1, oh, ow, cout),
                    ConvEpilogue.Bias(relu: true), KernelSet.Default, pool);
                for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 1;)
                {
                    Run();
                }

                return MedianMilliseconds(Run, 201);
            }

            double single = Time(one), shared = Time(all);
            Console.WriteLine($"{name,-34} {single * 1000,8:F1} us {shared * 1000,8:F1} us  {all.WorkerCount} workers / 1: {shared / single:F2}");
        }
    }

    // FaceNet-160 stage by stage at batch 1 (`--stages`, median over 101 passes) or 16 (`--stages 16`, 21 passes), with each
    // stage's nominal GFLOP/s: run it with INCEPTIONNET_THREADS=1 and without to see which stages gain from the second core.
    private static void Stages(int batch)
    {
        var model = new FaceNetBenchmarks().Load();
        var input = BenchData.Batch(model, batch);
        var raw = new float[batch * 128];
        var names = model.Stages.Select(s => s.Name).ToArray();
        var times = names.ToDictionary(n => n, _ => new List<double>());
        long last = 0;
        model.StageObserver = (name, _) =>
        {
            long now = Stopwatch.GetTimestamp();
            times[name].Add(Stopwatch.GetElapsedTime(last, now).TotalMicroseconds);
            last = Stopwatch.GetTimestamp();
        };
        for (var warm = Stopwatch.StartNew(); warm.Elapsed.TotalSeconds < 2;)
        {
            last = Stopwatch.GetTimestamp();
            model.Forward(input, batch, raw);
        }

        foreach (var list in times.Values)
        {
            list.Clear();
        }

        var passes = new List<double>();
        for (int i = 0; i < (batch == 1 ? 101 : 21); i++)
        {
            last = Stopwatch.GetTimestamp();
            long start = last;
            model.Forward(input, batch, raw);
            passes.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        passes.Sort();

        Console.WriteLine($"FaceNet-160 batch {batch} by stage, {model.Level}, {WorkerPool.Shared.WorkerCount} threads (median us, nominal GFLOP/s):");
        double total = 0;
        var shape = new InceptionNet.Graph.Shape(model.InputSize, model.InputSize, 3);
        foreach (var (name, layer) in model.Stages)
        {
            var list = times[name];
            list.Sort();
            double median = list[list.Count / 2];
            total += median;
            double flops = 2.0 * batch * layer.MultiplyAdds(shape);
            shape = layer.OutputShape(shape);
            Console.WriteLine($"{name,-28} {median,9:F1} {flops / median / 1e3,7:F1}");
        }

        Console.WriteLine($"{"sum of medians",-28} {total,9:F1}");
        int p = passes.Count;
        Console.WriteLine($"whole passes: p10 {passes[p / 10]:F2} ms, median {passes[p / 2]:F2} ms, p90 {passes[p * 9 / 10]:F2} ms");
    }

    // Where a photo's detection time goes: the time from the call's start, or the previous stage's end, to each stage's
    // end (MtcnnDetector.StageObserver), medians over 15 calls; the rest (the final NMS and regression) is "after".
    private static string DetectStages(DetectBenchmarks bench)
    {
        var detector = bench.Detector;
        var stages = Enum.GetValues<MtcnnStage>();
        var times = stages.ToDictionary(stage => stage, _ => new List<double>());
        var after = new List<double>();
        var clock = new Stopwatch();
        detector.StageObserver = stage =>
        {
            times[stage].Add(clock.Elapsed.TotalMilliseconds);
            clock.Restart();
        };
        try
        {
            for (int i = 0; i < 15; i++)
            {
                clock.Restart();
                bench.Detect();
                after.Add(clock.Elapsed.TotalMilliseconds);
            }
        }
        finally
        {
            detector.StageObserver = null;
        }

        // A stage the photo never reached (no candidates left) shows as "–", not as a time of zero.
        static string Median(List<double> values) => values.Count == 0 ? "–" : values.Order().ElementAt(values.Count / 2).ToString("F1");
        return string.Join(", ", stages.Select(stage => $"{stage} {Median(times[stage])}")) + $", after {Median(after)} ms";
    }

    // Median wall time of `runs` calls (odd, so the median is one measurement).
    private static double MedianMilliseconds(Action action, int runs, int idleMilliseconds = 0)
    {
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            if (idleMilliseconds > 0)
            {
                Thread.Sleep(idleMilliseconds);
            }

            var clock = Stopwatch.StartNew();
            action();
            times[i] = clock.Elapsed.TotalMilliseconds;
        }

        Array.Sort(times);
        return times[runs / 2];
    }
}
