using InceptionNet.Models;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using InceptionNet.Weights;
using Xunit;

namespace InceptionNet.Models.Tests;

public sealed class ModelLoadingTests : IDisposable
{
    private static readonly string OpenFaceH5 = SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5");
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-models-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<KerasH5Writer.Tensor> Tensors() =>
        KerasH5WeightReader.Read(OpenFaceH5).Tensors.Select(t => new KerasH5Writer.Tensor(t.Layer, t.Name, t.Shape!, t.Data)).ToList();

    [Fact]
    public void H5_with_a_missing_layer_names_it()
    {
        string path = Path.Combine(_dir, "missing.h5");
        KerasH5Writer.Write(path, Tensors().Where(t => t.Layer != "inception_4a_pool_conv"));
        var ex = Assert.Throws<InvalidWeightsException>(() => OpenFaceNn4Small2.Load(path, OpenFaceVariant.Course));
        Assert.Contains("missing weight 'inception_4a_pool_conv/kernel' with shape (1, 1, 640, 128)", ex.Message, StringComparison.Ordinal);
        Assert.StartsWith(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void H5_with_a_kernel_of_the_wrong_shape_names_both_shapes()
    {
        string path = Path.Combine(_dir, "shape.h5");
        var tensors = Tensors().Select(t => t.Layer == "conv2" && t.Name == "kernel" ? t with { Shape = [1, 1, 32, 128] } : t);
        KerasH5Writer.Write(path, tensors);
        var ex = Assert.Throws<InvalidWeightsException>(() => OpenFaceNn4Small2.Load(path, OpenFaceVariant.Course));
        Assert.Contains("weight 'conv2/kernel' has shape (1, 1, 32, 128); the model expects (1, 1, 64, 64)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void H5_with_an_extra_layer_is_refused()
    {
        string path = Path.Combine(_dir, "extra.h5");
        KerasH5Writer.Write(path, Tensors().Append(new KerasH5Writer.Tensor("classifier", "kernel", [128, 10], new float[1280])));
        var ex = Assert.Throws<InvalidWeightsException>(() => OpenFaceNn4Small2.Load(path, OpenFaceVariant.Course));
        Assert.Contains("classifier/kernel", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Weights_of_another_model_are_refused_with_the_first_missing_layer()
    {
        var ex = Assert.Throws<InvalidWeightsException>(() => FaceNetInceptionResNetV1.Load(OpenFaceH5));
        Assert.Contains("missing weight 'Conv2d_1a_3x3/kernel'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Course_csv_directory_gives_the_same_encodings_as_the_h5()
    {
        string csv = Path.Combine(_dir, "csv");
        OpenFaceCsv.Write(csv, Tensors());

        var image = RgbImage.FromRawFile(SharedData.PathOf("fixtures", "decode", "course-rgb", "camera_0.rgb"), 96, 96);
        var fromCsv = OpenFaceNn4Small2.Load(csv, OpenFaceVariant.Course).Encode(image);
        var fromH5 = OpenFaceNn4Small2.Load(OpenFaceH5, OpenFaceVariant.Course).Encode(image);
        Assert.Equal(fromH5.Raw, fromCsv.Raw); // identical float32 weights after the layout change: identical bits
    }

    [Fact]
    public void Unknown_model_ids_are_refused() => Assert.Throws<ArgumentException>(() => FaceModels.Load("vgg", OpenFaceH5));
}
