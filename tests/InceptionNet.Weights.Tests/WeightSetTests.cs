using InceptionNet.TestSupport;
using InceptionNet.Weights;
using Xunit;

namespace InceptionNet.Weights.Tests;

/// <summary>A weight set hands each tensor over once and lets go of it, so a model never holds the file twice.</summary>
public sealed class WeightSetTests
{
    private static WeightSet Set()
    {
        var set = new WeightSet("test.h5", "test");
        set.Add("conv", "kernel", [1, 1, 2, 2], [1, 2, 3, 4]);
        set.Add("conv", "bias", [2], [0.5f, -0.5f]);
        return set;
    }

    [Fact]
    public void The_digest_is_the_same_whether_taken_before_or_after_binding()
    {
        string before = Set().Digest;
        var set = Set();
        set.Take("conv", "kernel", 1, 1, 2, 2);
        set.Take("conv", "bias", 2);
        Assert.Equal(before, set.Digest);
        Assert.Equal(6, set.ParameterCount);
    }

    // In its own frame, so no local of the test keeps the array alive.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference TakeBias(WeightSet set) => new(set.Take("conv", "bias", 2));

    [Fact]
    public void A_taken_tensor_is_released_and_cannot_be_taken_again()
    {
        var set = Set();
        var kernel = set.Take("conv", "kernel", 1, 1, 2, 2);
        Assert.Equal([1f, 2, 3, 4], kernel);
        var weak = TakeBias(set);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.False(weak.IsAlive, "the set still holds the values it handed over");
        var again = Assert.Throws<InvalidOperationException>(() => set.Take("conv", "kernel", 1, 1, 2, 2));
        Assert.Contains("conv/kernel", again.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => set.Tensors.ToList());
        set.EnsureAllConsumed();
    }

    [Fact]
    public void A_file_damaged_after_reading_fails_naming_the_weight_when_it_is_taken()
    {
        string copy = Path.Combine(Path.GetTempPath(), $"weightset-{Guid.NewGuid():N}.h5");
        try
        {
            File.Copy(SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5"), copy);
            var set = KerasH5WeightReader.Read(copy);
            var last = set.Tensors.Last(); // read now, while the file is whole
            using (var stream = new FileStream(copy, FileMode.Open, FileAccess.Write))
            {
                stream.SetLength(stream.Length / 2);
            }

            var failure = Assert.Throws<InvalidWeightsException>(() => set.Take(last.Layer, last.Name, last.Shape!));
            Assert.Contains($"{last.Layer}/{last.Name}", failure.Message, StringComparison.Ordinal);
            Assert.Contains("changed on disk", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Fact]
    public void Taking_into_a_buffer_gives_the_values_of_an_array_take_and_releases_the_tensor()
    {
        // A stored tensor, a lazily read h5 tensor and a Torch-ordered one (reordered into the buffer).
        var set = Set();
        var buffer = new float[4];
        set.Take("conv", "kernel", buffer, 1, 1, 2, 2);
        Assert.Equal([1f, 2, 3, 4], buffer);
        Assert.Throws<InvalidOperationException>(() => set.Take("conv", "kernel", buffer, 1, 1, 2, 2));

        string path = SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5");
        var byArray = KerasH5WeightReader.Read(path);
        var bySpan = KerasH5WeightReader.Read(path);
        var tensor = byArray.Tensors.First(t => t.Shape!.Length == 4);
        var expected = byArray.Take(tensor.Layer, tensor.Name, tensor.Shape!);
        var values = new float[expected.Length];
        bySpan.Take(tensor.Layer, tensor.Name, values, tensor.Shape!);
        Assert.Equal(expected, values);
        Assert.Equal(byArray.Digest, bySpan.Digest);

        var torch = new WeightSet("course", "csv");
        var torchToo = new WeightSet("course", "csv");
        var stored = Enumerable.Range(0, 2 * 3 * 2 * 2).Select(i => (float)i).ToArray(); // (out 2, in 3, kh 2, kw 2)
        torch.Add("conv", "kernel", null, stored, WeightLayout.TorchFlat);
        torchToo.Add("conv", "kernel", null, [.. stored], WeightLayout.TorchFlat);
        var reordered = new float[stored.Length];
        torch.Take("conv", "kernel", reordered, 2, 2, 3, 2);
        Assert.Equal(torchToo.Take("conv", "kernel", 2, 2, 3, 2), reordered);
        Assert.NotEqual(stored, reordered); // Keras (kh, kw, in, out) order, not the stored one
    }

    [Fact]
    public void A_buffer_of_the_wrong_length_is_refused_naming_the_weight_and_leaves_it_to_take()
    {
        var set = Set();
        var error = Assert.Throws<ArgumentException>(() => set.Take("conv", "kernel", new float[3], 1, 1, 2, 2));
        Assert.Contains("conv/kernel", error.Message, StringComparison.Ordinal);
        Assert.Contains("4 values; the destination holds 3", error.Message, StringComparison.Ordinal);
        var shape = Assert.Throws<InvalidWeightsException>(() => set.Take("conv", "kernel", new float[4], 2, 2));
        Assert.Contains("has shape (1, 1, 2, 2); the model expects (2, 2)", shape.Message, StringComparison.Ordinal);
        Assert.Equal([1f, 2, 3, 4], set.Take("conv", "kernel", 1, 1, 2, 2));
    }
}

/// <summary>Memory measured for the whole process: nothing else in this assembly may run meanwhile.</summary>
[CollectionDefinition(nameof(AloneInProcess), DisableParallelization = true)]
public sealed class AloneInProcess;

/// <summary>What a weight set keeps of an h5 file: names, shapes and addresses, not the values.</summary>
[Collection(nameof(AloneInProcess))]
public sealed class WeightSetMemoryTests
{
    [Fact]
    public void An_h5_file_is_read_tensor_by_tensor_not_held_whole()
    {
        string path = SharedData.PathOf("fixtures", "facenet-synthetic", "weights.h5");
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var set = KerasH5WeightReader.Read(path);
        _ = set.Digest; // hashed on a second thread, through one buffer of the largest tensor: wait for it to be let go
        // The fewest bytes of three looks, a moment apart: a hash another test's set still runs on the thread pool holds a
        // transient buffer for a moment; a set that kept its values would hold them in every look.
        long held = long.MaxValue;
        for (int look = 0; look < 3; look++)
        {
            Thread.Sleep(100);
            held = Math.Min(held, GC.GetTotalMemory(forceFullCollection: true) - before);
        }

        // 22.8 M parameters (91 MB of float32) are in the file; the set holds names, shapes and dataset addresses only.
        // 8 MB leaves room for the metadata and the reader's buffers, and is a tenth of what holding the values takes.
        Assert.True(held < 8 << 20, $"the weight set holds {held / 1e6:F1} MB after reading");
        Assert.Equal(SharedData.Json("fixtures", "facenet-synthetic", "expected.json").GetProperty("weights").GetProperty("params").GetInt64(), set.ParameterCount);
        GC.KeepAlive(set);
    }

    // The digest as its documentation defines it, written out here independently of WeightSet: for every tensor in ordinal
    // (layer, name) order, "layer/name\n[d0,d1,…]\n" (Keras layout) or "layer/name\ntorch[length]\n" (Torch-flat), then its
    // float32 values' little-endian bytes; SHA-256 of it all, lower-case hex. Galleries are pinned to it, so its bytes must
    // never change with the implementation.
    private static string DigestBySpecification(IEnumerable<(string Layer, string Name, int[]? Shape, float[] Values)> tensors)
    {
        var bytes = new List<byte>();
        foreach (var (layer, name, shape, values) in tensors.OrderBy(t => t.Layer, StringComparer.Ordinal).ThenBy(t => t.Name, StringComparer.Ordinal))
        {
            string header = shape is null ? $"{layer}/{name}\ntorch[{values.Length}]\n" : $"{layer}/{name}\n[{string.Join(",", shape)}]\n";
            bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(header));
            foreach (float v in values)
            {
                bytes.AddRange(BitConverter.GetBytes(v)); // little-endian on every platform we run on
            }
        }

        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData([.. bytes]));
    }

    // Names whose ordinal order differs from a culture's ("B" before "a", "a_b" after "aB"), a scalar, a 4-d kernel.
    private static readonly (string Layer, string Name, int[]? Shape, float[] Values)[] Tensors =
    [
        ("a", "kernel", [1, 1, 2, 2], [1, 2, 3, -4]),
        ("B", "bias", [2], [0.5f, -0.5f]),
        ("aB", "gamma", [], [3.25f]),
        ("a_b", "beta", [3], [-0f, float.Epsilon, 1e30f]),
        ("a", "bias", [2], [7, 8]),
    ];

    [Fact]
    public void The_digest_has_the_bytes_its_specification_gives_for_tensors_in_memory()
    {
        var set = new WeightSet("test.h5", "test");
        foreach (var (layer, name, shape, values) in Tensors)
        {
            set.Add(layer, name, shape, values);
        }

        Assert.Equal(DigestBySpecification(Tensors), set.Digest);
    }

    [Fact]
    public void The_digest_has_the_bytes_its_specification_gives_for_tensors_read_lazily_and_hashed_beside_binding()
    {
        var set = new WeightSet("test.h5", "test");
        foreach (var (layer, name, shape, values) in Tensors)
        {
            set.AddLazy(layer, name, shape!, values.Length, destination => values.CopyTo(destination));
        }

        var first = set.Take("a", "kernel", [1, 1, 2, 2]); // the first take starts the hash (on a second thread when there is one)
        Assert.Equal([1f, 2, 3, -4], first);
        Assert.Equal(DigestBySpecification(Tensors), set.Digest);
    }

    [Fact]
    public void The_digest_has_the_bytes_its_specification_gives_for_torch_flat_tensors()
    {
        (string, string, int[]?, float[])[] torch = [("conv", "weight", null, [1, 2, 3, 4, 5, 6]), ("Conv", "bias", null, [0.25f])];
        var set = new WeightSet("csv", "test");
        foreach (var (layer, name, _, values) in torch)
        {
            set.Add(layer, name, null, values, WeightLayout.TorchFlat);
        }

        Assert.Equal(DigestBySpecification(torch), set.Digest);
    }
}
