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
