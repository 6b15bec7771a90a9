using System.Globalization;
using System.Security.Cryptography;
using InceptionNet.TestSupport;
using InceptionNet.Weights;
using Xunit;

namespace InceptionNet.Weights.Tests;

public sealed class KerasH5WeightReaderTests : IDisposable
{
    private static readonly string OpenFaceH5 = SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5");
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-weights-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<KerasH5Writer.Tensor> FixtureTensors() =>
        KerasH5WeightReader.Read(OpenFaceH5).Tensors.Select(t => new KerasH5Writer.Tensor(t.Layer, t.Name, t.Shape!, t.Data)).ToList();

    [Fact]
    public void Reads_the_openface_fixture_layout()
    {
        var set = KerasH5WeightReader.Read(OpenFaceH5);
        var expected = SharedData.Json("fixtures", "openface-synthetic", "expected.json").GetProperty("weights");
        Assert.Equal(expected.GetProperty("params").GetInt64(), set.ParameterCount);
        Assert.Equal(expected.GetProperty("layers_with_weights").GetInt32(), set.Layers.Count);
        Assert.Equal(64, set.Take("conv1", "kernel", 7, 7, 3, 64).Length / (7 * 7 * 3));
        Assert.Equal("Keras h5 (save_weights)", set.Format);
    }

    [Fact]
    public void Facenet_fixture_has_the_documented_parameter_count_and_file_digest()
    {
        string path = SharedData.PathOf("fixtures", "facenet-synthetic", "weights.h5");
        var set = KerasH5WeightReader.Read(path);
        var expected = SharedData.Json("fixtures", "facenet-synthetic", "expected.json").GetProperty("weights");
        Assert.Equal(expected.GetProperty("params").GetInt64(), set.ParameterCount);
        Assert.Equal(expected.GetProperty("layers_with_weights").GetInt32(), set.Layers.Count);
        using var stream = File.OpenRead(path);
        Assert.Equal(expected.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(stream)));
        Assert.Matches("^[0-9a-f]{64}$", set.Digest);
    }

    [Fact]
    public void Full_model_layout_gives_the_same_tensors_and_digest()
    {
        string path = Path.Combine(_dir, "full.h5");
        KerasH5Writer.Write(path, FixtureTensors(), fullModel: true, extraLayers: ["input_1", "activation_1"]);
        var original = KerasH5WeightReader.Read(OpenFaceH5);
        var full = KerasH5WeightReader.Read(path);
        Assert.Equal("Keras h5 (full model)", full.Format);
        Assert.Equal(original.Tensors.Select(t => $"{t.Layer}/{t.Name}({string.Join(",", t.Shape!)})"), full.Tensors.Select(t => $"{t.Layer}/{t.Name}({string.Join(",", t.Shape!)})"));
        Assert.All(original.Tensors.Zip(full.Tensors), p => Assert.Equal(p.First.Data, p.Second.Data));
        Assert.Equal(original.Digest, full.Digest);
    }

    [Fact]
    public async Task The_digest_hashed_beside_binding_equals_the_one_taken_first_and_the_file_stays_open_for_it()
    {
        string path = SharedData.PathOf("fixtures", "facenet-synthetic", "weights.h5");
        var first = KerasH5WeightReader.Read(path);
        string expected = first.Digest; // waited for before anything is taken
        var tensors = first.Tensors.Select(t => (t.Layer, t.Name, Shape: t.Shape!, t.Data)).ToList();

        var inMemory = new WeightSet("memory", "test"); // values in memory are hashed on the calling thread: the same digest
        tensors.ForEach(t => inMemory.Add(t.Layer, t.Name, t.Shape, t.Data.ToArray()));
        Assert.Equal(expected, inMemory.Digest);

        // The hashing thread is held until the last take has begun: that take closes the file, and must wait for the hash
        // (which then reads every tensor from the file) instead of closing it under it.
        using var release = new ManualResetEventSlim();
        WeightSet.HashStartingForTests.Value = () => release.Wait(TimeSpan.FromSeconds(30));
        var streamed = KerasH5WeightReader.Read(path);
        WeightSet.HashStartingForTests.Value = null;
        var taken = tensors.Select(t => new float[t.Data.Length]).ToArray();
        for (int i = 0; i < tensors.Count - 1; i++)
        {
            streamed.Take(tensors[i].Layer, tensors[i].Name, taken[i], tensors[i].Shape);
        }

        var last = tensors[^1];
        var lastTake = Task.Run(() => streamed.Take(last.Layer, last.Name, taken[^1], last.Shape));
        await Task.Delay(200); // give a take that does not wait time to close the file before the hash reads it
        release.Set();
        await lastTake;
        Assert.Equal(expected, streamed.Digest);
        Assert.All(tensors.Zip(taken), p => Assert.Equal(p.First.Data, p.Second));
    }

    [Fact]
    public async Task Truncated_file_is_a_clear_error_without_hanging()
    {
        string path = Path.Combine(_dir, "truncated.h5");
        var bytes = File.ReadAllBytes(OpenFaceH5);
        foreach (int length in new[] { 8, 512, 4096, bytes.Length / 2, bytes.Length - 1000 })
        {
            File.WriteAllBytes(path, bytes.AsSpan(0, length).ToArray());
            var task = Task.Run(() => KerasH5WeightReader.Read(path));
            var finished = await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(30)));
            Assert.True(finished == task, $"reading a {length}-byte prefix hung");
            var ex = await Assert.ThrowsAsync<InvalidWeightsException>(() => task);
            Assert.StartsWith(path, ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Empty_file_directory_missing_file_and_non_hdf5_are_clear_errors()
    {
        string empty = Path.Combine(_dir, "empty.h5");
        File.WriteAllBytes(empty, []);
        Assert.Contains("empty (0 bytes)", Assert.Throws<InvalidWeightsException>(() => KerasH5WeightReader.Read(empty)).Message, StringComparison.Ordinal);
        Assert.Contains("is a directory", Assert.Throws<InvalidWeightsException>(() => KerasH5WeightReader.Read(_dir)).Message, StringComparison.Ordinal);
        Assert.Contains("not found", Assert.Throws<InvalidWeightsException>(() => KerasH5WeightReader.Read(Path.Combine(_dir, "nope.h5"))).Message, StringComparison.Ordinal);
        string text = Path.Combine(_dir, "text.h5");
        File.WriteAllText(text, "this is not an HDF5 file at all");
        Assert.Contains("not an HDF5 file", Assert.Throws<InvalidWeightsException>(() => KerasH5WeightReader.Read(text)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Hdf5_without_keras_layout_is_refused()
    {
        string path = Path.Combine(_dir, "plain.h5");
        new PureHDF.H5File { ["data"] = new PureHDF.H5Dataset(new float[] { 1, 2 }) }.Write(path);
        Assert.Contains("not a Keras weights file", Assert.Throws<InvalidWeightsException>(() => KerasH5WeightReader.Read(path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_layer_names_the_layer_and_shape()
    {
        var set = new WeightSet("x.h5", "test");
        set.Add("conv1", "kernel", [1, 1, 2, 3], new float[6]);
        var ex = Assert.Throws<InvalidWeightsException>(() => set.Take("conv2", "kernel", 1, 1, 3, 4));
        Assert.Equal("x.h5: missing weight 'conv2/kernel' with shape (1, 1, 3, 4): the file has no layer 'conv2'.", ex.Message);
        ex = Assert.Throws<InvalidWeightsException>(() => set.Take("conv1", "bias", 3));
        Assert.Contains("layer 'conv1' has [kernel]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_shape_names_both_shapes()
    {
        var set = new WeightSet("x.h5", "test");
        set.Add("conv1", "kernel", [7, 7, 3, 63], new float[7 * 7 * 3 * 63]);
        var ex = Assert.Throws<InvalidWeightsException>(() => set.Take("conv1", "kernel", 7, 7, 3, 64));
        Assert.Equal("x.h5: weight 'conv1/kernel' has shape (7, 7, 3, 63); the model expects (7, 7, 3, 64).", ex.Message);
    }

    [Fact]
    public void Unconsumed_weights_are_reported()
    {
        var set = new WeightSet("x.h5", "test");
        set.Add("conv1", "kernel", [1], [1f]);
        set.Add("extra", "kernel", [1], [1f]);
        set.Take("conv1", "kernel", 1);
        var ex = Assert.Throws<InvalidWeightsException>(set.EnsureAllConsumed);
        Assert.Contains("1 weight(s) in the file are not used by the model", ex.Message, StringComparison.Ordinal);
        Assert.Contains("extra/kernel", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_directory_in_torch_order_binds_to_the_same_keras_tensors()
    {
        var h5 = KerasH5WeightReader.Read(OpenFaceH5);
        string csvDir = Path.Combine(_dir, "csv");
        OpenFaceCsv.Write(csvDir, h5.Tensors.Select(t => new KerasH5Writer.Tensor(t.Layer, t.Name, t.Shape!, t.Data)));
        var csv = OpenFaceCsvWeightReader.Read(csvDir);
        var reference = KerasH5WeightReader.Read(OpenFaceH5);
        foreach (var t in reference.Tensors)
        {
            Assert.Equal(t.Data, csv.Take(t.Layer, t.Name, t.Shape!));
        }

        csv.EnsureAllConsumed();
    }

    [Fact]
    public void Csv_with_garbage_names_the_file_and_line()
    {
        string csvDir = Path.Combine(_dir, "bad");
        Directory.CreateDirectory(csvDir);
        File.WriteAllText(Path.Combine(csvDir, "conv1_b.csv"), "0.5,0.25\n1.0,abc\n");
        var ex = Assert.Throws<InvalidWeightsException>(() => OpenFaceCsvWeightReader.Read(csvDir));
        Assert.Contains("conv1_b.csv: line 2: 'abc' is not a finite number", ex.Message, StringComparison.Ordinal);
        Assert.Contains("contains no .csv", Assert.Throws<InvalidWeightsException>(() => OpenFaceCsvWeightReader.Read(_dir)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_prefers_the_argument_then_the_environment()
    {
        var (path, tried) = WeightsLoader.Resolve(OpenFaceH5, ["x.h5"]);
        Assert.Equal(OpenFaceH5, path);
        Assert.Single(tried);
        var (missing, triedMissing) = WeightsLoader.Resolve(Path.Combine(_dir, "absent.h5"), ["x.h5"]);
        Assert.Null(missing);
        Assert.Single(triedMissing);
    }
}
