using InceptionNet.Models;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Models.Tests;

/// <summary>
/// Whole ordinary photos (every image under shared/images/faces, up to 2000×2333, one RGBA PNG) through the course's
/// FaceNet path — our decode, PIL NEAREST to 160×160 (the Vision sweep proves those bytes equal Pillow's load_img
/// bytes for each of these files), v / 255 — embedded by our engine and by ONNX Runtime on the fixture's model.onnx
/// with the same synthetic weights, from the same pixels.
/// </summary>
public sealed class OrdinaryPhotoFaceNetTests(ITestOutputHelper output)
{
    // The fixture README measures ORT float32 within 2.0e-5 of the float64 reference on raw and asks a float32 engine for
    // 1e-5 on the normalized embedding. Our engine and ORT are both float32 and differ only in summation order; the raw
    // norms of these photos are 20–100, so raw differences of that size shrink below 1e-6 after normalization (measured:
    // 4e-7 to 1.3e-6). 1e-5 per component is the README's budget, with room for other CPUs' SIMD paths.
    private const double EmbeddingTolerance = 1e-5;

    [SkippableFact]
    public void Our_engine_and_onnx_runtime_agree_on_whole_ordinary_photos()
    {
        string weights = SharedData.PathOf("fixtures", "facenet-synthetic", "weights.h5");
        string onnx = SharedData.PathOf("fixtures", "facenet-synthetic", "model.onnx");
        string faces = SharedData.PathOf("images", "faces");
        foreach (string path in new[] { weights, onnx })
        {
            Skip.IfNot(File.Exists(path), $"skipped: {path} not found");
        }

        Skip.IfNot(Directory.Exists(faces), $"skipped: {faces} not found");
        var photos = Directory.EnumerateFiles(faces, "*", SearchOption.AllDirectories)
            .Where(p => p.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || p.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase) || p.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToList();
        Skip.If(photos.Count == 0, $"skipped: no photos under {faces}");

        var model = FaceNetInceptionResNetV1.Load(weights);
        int n = photos.Count, per = 160 * 160 * 3;
        var batch = new float[n * per];
        for (int i = 0; i < n; i++)
        {
            var image = ImageDecoder.Decode(photos[i]); // x: [H, W, 3], the whole photo
            model.Preprocess(image).CopyTo(batch, i * per); // PIL NEAREST to [160, 160, 3], then v / 255
        }

        var ours = model.EncodeInputs(batch, n);
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 2 };
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(onnx, options);
        var tensor = new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(batch, [n, 160, 160, 3]);
        using var results = session.Run([Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("input", tensor)]);
        var raw = results.Single(r => r.Name == "embedding").AsTensor<float>().ToArray(); // [n, 128], before normalization
        Assert.Equal(n * 128, raw.Length);

        double worst = 0;
        string worstPhoto = "";
        for (int i = 0; i < n; i++)
        {
            var ortRaw = raw.AsSpan(i * 128, 128);
            double norm = Math.Sqrt(ortRaw.ToArray().Sum(v => (double)v * v));
            var ortEmbedding = ortRaw.ToArray().Select(v => v / norm).ToArray();
            double difference = TestData.MaxAbsDiff(ours[i].Embedding, ortEmbedding);
            output.WriteLine($"{Path.GetRelativePath(faces, photos[i])}: |raw| {norm:F3}, max |embedding difference| {difference:E2}");
            Assert.True(difference <= EmbeddingTolerance, $"{photos[i]}: our embedding differs from ONNX Runtime's by {difference:E2} (> {EmbeddingTolerance:E0})");
            if (difference > worst)
            {
                (worst, worstPhoto) = (difference, photos[i]);
            }
        }

        output.WriteLine($"{n} photos: worst {worst:E2} ({Path.GetRelativePath(faces, worstPhoto)})");
    }
}
