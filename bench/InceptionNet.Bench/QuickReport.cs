using System.Diagnostics;
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

        if (args.Contains("--layers"))
        {
            LayerProbe.Run(1);
            LayerProbe.Run(16);
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
            }

            return;
        }

        if (args.Contains("--faceapi"))
        {
            foreach (int batch in new[] { 1, 16 })
            {
                var bench = new FaceApiBenchmarks { Batch = batch };
                bench.Setup();
                bench.Descriptor();
                Console.WriteLine($"face-api ResNet-34 batch {batch}: median {MedianMilliseconds(() => bench.Descriptor(), 21) / batch:F2} ms per face (face-api wasm: 18.1 ms, tfjs CPU: 374 ms)");
            }

            return;
        }

        if (args.Contains("--search"))
        {
            Search();
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
        long macs = model.MultiplyAddsPerImage;
        Console.WriteLine($"FaceNet-160: {macs:N0} multiply-adds per image ({2.0 * macs / 1e9:F2} GFLOP), {model.Level}, {WorkerPool.Shared.WorkerCount} threads");
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
            Console.WriteLine($"batch {batch,2}: median {median,8:F2} ms ({median / batch:F2} ms/image), {2.0 * macs * batch / (median / 1000) / 1e9:F0} GFLOP/s, {allocated} B allocated per pass (calling thread)");
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

    // Identify latency: GalleryIndex.TopTwo as the gallery runs it, and VectorSearch.NearestTwo (inline below a size,
    // chunked above), each back to back (helpers spinning) and after 5 ms idle (helpers asleep, as between a server's
    // requests). Every path is warmed for a second first: tier-0 code of the scan loops is several times slower.
    private static void Search()
    {
        var workers = WorkerPool.Shared;
        var kernels = KernelSet.Default;
        Console.WriteLine($"{kernels}, {workers.WorkerCount} workers");
        foreach (int n in new[] { 10_000, 100_000, 1_000_000 })
        {
            var (index, query) = SearchBenchmarks.Build(n);
            var vectors = SearchBenchmarks.RandomUnitVectors(n, 128);
            var owner = Enumerable.Range(0, n).ToArray();
            var distances = new float[n];
            var paths = new (string Name, Action Run)[]
            {
                ("GalleryIndex.TopTwo", () => index.TopTwo(query)),
                ("VectorSearch.NearestTwo", () => VectorSearch.NearestTwo(vectors, 128, query, owner, distances, kernels, workers)),
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
