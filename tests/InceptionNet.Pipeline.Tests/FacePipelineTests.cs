using InceptionNet.Pipeline;
using InceptionNet.Recognition;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using InceptionNet.Weights;
using Xunit;

namespace InceptionNet.Pipeline.Tests;

public sealed class FacePipelineTests : IDisposable
{
    private static readonly string OpenFaceWeights = SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5");
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-pipeline-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static FacePipeline OpenFace(FaceInput input) =>
        new(ModelRegistry.Get("openface"), ModelRegistry.Get("openface").Load(OpenFaceWeights), input, SharedData.PathOf("weights", "mtcnn"));

    [Fact]
    public void Registry_knows_each_models_needs_and_finds_weights_in_one_place()
    {
        Assert.Equal(["facenet", "openface", "openface-keras", "faceapi"], ModelRegistry.Ids);
        var faceapi = ModelRegistry.Get("faceapi");
        Assert.True(faceapi.DetectsByDefault);
        Assert.False(faceapi.NormalizesEmbedding);
        Assert.Equal((150, 0.6, FaceCrop.FaceApi), (faceapi.InputSize, faceapi.DefaultThreshold, faceapi.Crop));
        Assert.False(ModelRegistry.Get("facenet").DetectsByDefault);
        Assert.Contains("Known: facenet, openface", Assert.Throws<ArgumentException>(() => ModelRegistry.Get("vgg")).Message, StringComparison.Ordinal);

        var missing = Assert.Throws<InvalidWeightsException>(() => ModelRegistry.FindWeights(ModelRegistry.Get("facenet"), Path.Combine(_dir, "nothing.h5")));
        Assert.Contains("no weights found for model 'facenet'", missing.Message, StringComparison.Ordinal);
        Assert.Contains("nothing.h5", missing.Message, StringComparison.Ordinal);
        Assert.Contains("is a folder; model 'facenet' needs its Keras .h5 weights file",
            Assert.Throws<InvalidWeightsException>(() => ModelRegistry.Get("facenet").Load(SharedData.PathOf("weights", "faceapi"))).Message, StringComparison.Ordinal);
        Assert.Contains("no det1.npy", Assert.Throws<InvalidWeightsException>(() => ModelRegistry.FindMtcnn(_dir)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("facenet", FaceInputMode.Auto, null, null, "whole")]
    [InlineData("faceapi", FaceInputMode.Auto, null, null, "mtcnn+faceapi")]
    [InlineData("faceapi", FaceInputMode.Auto, null, "whole", "whole")]               // the gallery's record wins over the model
    [InlineData("facenet", FaceInputMode.Auto, null, "mtcnn+similarity", "mtcnn+similarity")]
    [InlineData("facenet", FaceInputMode.Detect, null, "whole", "mtcnn+dsb")]        // forced: the gallery then refuses it
    [InlineData("faceapi", FaceInputMode.Whole, null, null, "whole")]
    [InlineData("openface", FaceInputMode.Auto, FaceCrop.Similarity, null, "mtcnn+similarity")]
    public void Face_input_comes_from_the_options_then_the_gallery_then_the_model(string model, FaceInputMode mode, FaceCrop? crop, string? recorded, string expected) =>
        Assert.Equal(expected, FaceInput.Choose(ModelRegistry.Get(model), mode, crop, recorded).Id);

    [Fact]
    public void Face_input_ids_round_trip_and_unknown_ones_are_refused()
    {
        foreach (string id in new[] { "whole", "mtcnn+dsb", "mtcnn+faceapi", "mtcnn+similarity" })
        {
            Assert.Equal(id, FaceInput.Parse(id).Id);
        }

        Assert.Throws<ArgumentException>(() => FaceInput.Parse("mtcnn+sideways"));
    }

    [Fact]
    public void Face_api_takes_a_photo_no_larger_than_its_input_whole_as_a_precropped_face()
    {
        var input = FaceInput.Parse("mtcnn+faceapi");
        Assert.True(input.TakesWhole(new RgbImage(96, 96, new byte[96 * 96 * 3]), 150));
        Assert.False(input.TakesWhole(new RgbImage(151, 96, new byte[151 * 96 * 3]), 150));
        Assert.False(FaceInput.Parse("mtcnn+dsb").TakesWhole(new RgbImage(96, 96, new byte[96 * 96 * 3]), 96));
        Assert.True(FaceInput.Whole.TakesWhole(new RgbImage(400, 300, new byte[400 * 300 * 3]), 96)); // whole never detects
    }

    [Fact]
    public async Task Streaming_keeps_the_order_reports_bad_files_in_place_and_batches_match_single_encodes()
    {
        string bad = Path.Combine(_dir, "bad.jpg");
        File.WriteAllBytes(bad, [0xFF, 0xD8, 0xFF, 0x00]);
        var files = new[] { SharedData.CourseImageFile("kian"), bad, SharedData.CourseImageFile("danielle"), SharedData.CourseImageFile("younes"), SharedData.CourseImageFile("dan") };
        var pipeline = OpenFace(FaceInput.Whole);
        var results = new List<EncodedPhoto>();
        await foreach (var photo in pipeline.EncodeAsync(files, largestOnly: false, batchSize: 2))
        {
            results.Add(photo);
        }

        Assert.Equal(files, results.Select(r => r.Source));
        Assert.Contains("bad.jpg", results[1].Error, StringComparison.Ordinal);
        foreach (var (photo, file) in results.Zip(files).Where(p => p.First.Error is null))
        {
            var single = pipeline.Encoder.Encode(ImageDecoder.Decode(file));
            Assert.Equal(single.Raw, photo.Faces.Single().Encoding.Raw); // batching changes nothing, bit for bit
        }
    }

    [Fact]
    public async Task Detecting_ahead_of_the_encoder_gives_what_one_photo_at_a_time_gives_bit_for_bit()
    {
        // The detector and the encoder run at once on two threads and share the worker pool: any state they shared by
        // mistake would show as a different box or encoding here.
        var files = new[]
        {
            SharedData.PathOf("images", "faces", "two_people.jpg"), SharedData.PathOf("images", "faces", "test", "obama_and_biden.jpg"),
            SharedData.PathOf("images", "faces", "obama-240p.jpg"), SharedData.PathOf("images", "faces", "test", "kit_with_rose.jpg"),
            SharedData.PathOf("images", "faces", "test", "alex_lacamoire1.jpg"),
        };
        var pipeline = OpenFace(FaceInput.Parse("mtcnn+dsb"));
        var results = new List<EncodedPhoto>();
        await foreach (var photo in pipeline.EncodeAsync(files, largestOnly: false, batchSize: 2))
        {
            results.Add(photo);
        }

        Assert.Equal(files, results.Select(r => r.Source));
        Assert.True(results.Sum(r => r.Faces.Count) >= files.Length);
        foreach (var (photo, file) in results.Zip(files))
        {
            var alone = pipeline.Prepare(file, ImageDecoder.Decode(file), largestOnly: false);
            Assert.Equal(alone.Count, photo.Faces.Count);
            foreach (var (face, (ahead, encoding)) in alone.Zip(photo.Faces))
            {
                Assert.Equal(face.Label, ahead.Label);
                Assert.Equal(face.Detection!.Box, ahead.Detection!.Box);
                Assert.Equal(face.Detection.Probability, ahead.Detection.Probability);
                Assert.Equal(face.Detection.Landmarks, ahead.Detection.Landmarks);
                Assert.Equal(pipeline.Encoder.Encode(face.Chip).Raw, encoding.Raw);
            }
        }
    }

    [Fact]
    public async Task The_next_photos_are_read_while_a_batch_is_encoded_but_no_more_than_one_batch_ahead()
    {
        var paths = new CountingPaths(Enumerable.Repeat(SharedData.CourseImageFile("kian"), 40));
        var pipeline = OpenFace(FaceInput.Whole);
        const int batch = 2;
        await foreach (var photo in pipeline.EncodeAsync(paths, largestOnly: false, batchSize: batch))
        {
            // Held here with the first batch out: the preparing thread goes on until the channel is full (one batch) and
            // it waits to hand over the photo after that. One photo at a time would stop at the batch's 2.
            const int ahead = batch + FacePipeline.PrepareAhead * batch + 1;
            Assert.True(SpinWait.SpinUntil(() => paths.Taken >= ahead, TimeSpan.FromSeconds(30)), $"only {paths.Taken} photos were read");
            Assert.Equal(ahead, paths.Taken); // an unbounded reader would be through the 40 photos, 0.2 ms each, by now
            break;
        }

        Assert.True(paths.Disposed); // stopping early stopped the reading thread before the loop ended
        Assert.True(paths.Taken < 40);
    }

    [Fact]
    public async Task A_cancel_stops_at_the_next_photo_even_when_later_ones_were_read_ahead()
    {
        var paths = new CountingPaths(Enumerable.Repeat(SharedData.CourseImageFile("kian"), 40));
        var pipeline = OpenFace(FaceInput.Whole);
        using var cancel = new CancellationTokenSource();
        var results = new List<EncodedPhoto>();
        const int batch = 2;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var photo in pipeline.EncodeAsync(paths, largestOnly: false, batchSize: batch, cancel.Token))
            {
                results.Add(photo);
                if (results.Count == 1)
                {
                    // The next batch waits in the channel before the cancel: it must not be encoded and returned.
                    Assert.True(SpinWait.SpinUntil(() => paths.Taken >= 2 * batch + 1, TimeSpan.FromSeconds(30)), $"only {paths.Taken} photos were read");
                    await cancel.CancelAsync();
                }
            }
        });

        Assert.Equal(batch, results.Count); // the batch being returned ends; nothing after it
        Assert.True(paths.Disposed);
    }

    [Fact]
    public async Task A_failure_that_is_not_a_bad_image_comes_in_its_place_after_the_photos_before_it()
    {
        var files = new[] { SharedData.CourseImageFile("kian"), SharedData.CourseImageFile("dan"), SharedData.CourseImageFile("younes") };
        IEnumerable<string> Vanishing()
        {
            foreach (string file in files)
            {
                yield return file;
            }

            throw new IOException("the folder went away");
        }

        var pipeline = OpenFace(FaceInput.Whole);
        var results = new List<EncodedPhoto>();
        var error = await Assert.ThrowsAsync<IOException>(async () =>
        {
            await foreach (var photo in pipeline.EncodeAsync(Vanishing(), largestOnly: false, batchSize: 16))
            {
                results.Add(photo);
            }
        });

        Assert.Equal("the folder went away", error.Message);
        Assert.Equal(files, results.Select(r => r.Source)); // the three before it were encoded and returned first
    }

    // Paths that count how many were taken and whether the enumeration was disposed, from any thread.
    private sealed class CountingPaths(IEnumerable<string> paths) : IEnumerable<string>
    {
        private int _taken;
        private int _disposed;

        public int Taken => Volatile.Read(ref _taken);

        public bool Disposed => Volatile.Read(ref _disposed) == 1;

        public IEnumerator<string> GetEnumerator()
        {
            try
            {
                foreach (string path in paths)
                {
                    Interlocked.Increment(ref _taken);
                    yield return path;
                }
            }
            finally
            {
                Volatile.Write(ref _disposed, 1);
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    [Fact]
    public async Task Detection_labels_each_face_and_finds_none_in_a_blank_photo()
    {
        string blank = Path.Combine(_dir, "blank.png");
        PngEncoder.Write(blank, 200, 150, new byte[200 * 150 * 3]);
        var pipeline = OpenFace(FaceInput.Parse("mtcnn+dsb"));
        var results = new List<EncodedPhoto>();
        await foreach (var photo in pipeline.EncodeAsync([SharedData.PathOf("images", "faces", "two_people.jpg"), blank], largestOnly: false))
        {
            results.Add(photo);
        }

        Assert.Equal(2, results[0].Faces.Count);
        Assert.All(results[0].Faces, f => Assert.NotNull(f.Face.Detection));
        Assert.EndsWith("#1", results[0].Faces[1].Face.Label, StringComparison.Ordinal);
        Assert.True(results[1].NoFace);
    }

    [Fact]
    public void A_recognizer_refuses_a_gallery_of_other_faces()
    {
        var pipeline = OpenFace(FaceInput.Whole);
        string path = Path.Combine(_dir, "g.json");
        using (var writer = Gallery.OpenForWrite(path, pipeline.Stamp, faceInput: "mtcnn+dsb"))
        {
            writer.Enroll("kian", [("kian.jpg", pipeline.Encoder.Encode(ImageDecoder.Decode(SharedData.CourseImageFile("kian"))))], 0.7);
            writer.Commit();
        }

        Assert.Throws<GalleryException>(() => pipeline.Recognizer(Gallery.Open(path)));
        Assert.NotNull(OpenFace(FaceInput.Parse("mtcnn+dsb")).Recognizer(Gallery.Open(path)));
    }
}
