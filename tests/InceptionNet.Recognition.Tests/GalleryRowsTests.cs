using InceptionNet.Models;
using InceptionNet.Recognition;
using Xunit;

namespace InceptionNet.Recognition.Tests;

/// <summary>Memory measured for the whole process: nothing else may run meanwhile.</summary>
[CollectionDefinition(nameof(AloneInProcess), DisableParallelization = true)]
public sealed class AloneInProcess;

/// <summary>
/// A gallery holds each vector once, as a row of its index: <see cref="Gallery.BuildIndex"/> is a view, entries are read
/// from the rows, and removals (compactions included) keep every other photo bit for bit, in memory and on disk.
/// </summary>
[Collection(nameof(AloneInProcess))]
public sealed class GalleryRowsTests : IDisposable
{
    private static readonly ModelStamp Stamp = new("synthetic", "0123456789abcdef", "none", 128);
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-rows-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_gallery_its_index_and_a_recognizer_hold_each_vector_once_built_or_read_from_a_file()
    {
        const int Photos = 50_000, PerPerson = 10;
        long vectorBytes = (long)Photos * Stamp.EmbeddingSize * sizeof(float); // 25.6 MB
        long shadowBytes = (long)Photos * (Stamp.EmbeddingSize + 12); // the index's int8 shadow (QuantizedRows: dim + 12 bytes a row): 7 MB
        var random = new Random(1);
        var vector = new float[Stamp.EmbeddingSize];

        long before = GC.GetTotalMemory(forceFullCollection: true);
        var builder = new GalleryBuilder("rows", Stamp, "whole", null, Photos);
        for (int i = 0; i < Photos; i++)
        {
            for (int j = 0; j < vector.Length; j++)
            {
                vector[j] = (float)random.NextDouble();
            }

            builder.Add($"person {i / PerPerson}", vector, "synthetic", DateTimeOffset.UnixEpoch);
        }

        var gallery = builder.Build();
        var index = gallery.BuildIndex();
        var recognizer = new FaceRecognizer(new StampEncoder(), gallery);
        long held = GC.GetTotalMemory(forceFullCollection: true) - before;
        // Vectors once and their shadow once, plus a 32-byte record per photo; a float[] per photo as well would be > 2x.
        Assert.InRange(held, vectorBytes + shadowBytes, (vectorBytes + shadowBytes) * 5 / 4);
        Assert.Equal(Photos, index.Count);
        Assert.Equal(Photos, recognizer.Index.Count);

        // Written from the rows, read back into rows: the same held size, and every vector's bits.
        string path = Path.Combine(_dir, "big.gallery.json");
        gallery.WithPath(path).SaveAsNewFile();
        var kept = gallery.Get("person 4321").Entries.Select(e => e.Embedding).ToList();
        GC.KeepAlive(recognizer);
        // A first read leaves the parser's pooled buffers (ArrayPool.Shared) behind; what a second read adds is the gallery.
        Assert.Equal(Photos, Gallery.Open(path).EntryCount);
        before = GC.GetTotalMemory(forceFullCollection: true);
        var read = Gallery.Open(path);
        var readIndex = read.BuildIndex();
        held = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.InRange(held, vectorBytes + shadowBytes, (vectorBytes + shadowBytes) * 5 / 4);
        Assert.Equal(Photos, readIndex.Count);
        Assert.Equal(kept.Select(v => v.Select(BitConverter.SingleToInt32Bits)), read.Get("person 4321").Entries.Select(e => e.Embedding.Select(BitConverter.SingleToInt32Bits)));
        GC.KeepAlive(read);
    }

    [Fact]
    public void Removing_people_past_a_compaction_keeps_every_other_photo_bit_for_bit_in_memory_and_on_disk()
    {
        var random = new Random(2);
        var expected = new Dictionary<string, List<float[]>>();
        var identities = new List<Identity>();
        for (int p = 0; p < 40; p++)
        {
            var vectors = Enumerable.Range(0, 1 + p % 4).Select(_ => Enumerable.Range(0, Stamp.EmbeddingSize).Select(_ => (float)random.NextDouble()).ToArray()).ToList();
            expected[$"p{p}"] = vectors;
            identities.Add(new Identity($"p{p}", [.. vectors.Select((v, i) => new GalleryEntry(v, $"p{p}-{i}.jpg", DateTimeOffset.UnixEpoch.AddDays(i)))]));
        }

        string path = Path.Combine(_dir, "people.gallery.json");
        Gallery.FromIdentities(path, Stamp, "whole", 0.5, identities).SaveAsNewFile();
        var versions = new List<Gallery> { Gallery.Open(path) };
        foreach (int p in Enumerable.Range(0, 40).Where(p => p % 3 != 1))
        {
            versions.Add(versions[^1].Without($"p{p}"));
            using var writer = Gallery.OpenForWrite(path, Stamp, faceInput: "whole");
            writer.Remove($"p{p}");
            writer.Commit();
        }

        var last = versions[^1];
        var fromFile = Gallery.Open(path);
        Assert.Equal(last.Identities.Select(i => i.Name), fromFile.Identities.Select(i => i.Name));
        Assert.Equal(last.EntryCount, last.BuildIndex().Count);
        foreach (var gallery in new[] { last, fromFile, versions[0] })
        {
            foreach (var identity in gallery.Identities)
            {
                Assert.Equal(expected[identity.Name].Select(v => v.Select(BitConverter.SingleToInt32Bits)), identity.Entries.Select(e => e.Embedding.Select(BitConverter.SingleToInt32Bits)));
                Assert.Equal(Enumerable.Range(0, identity.Entries.Count).Select(i => $"{identity.Name}-{i}.jpg"), identity.Entries.Select(e => e.Source));
                var index = gallery.BuildIndex(unitVectors: false);
                Assert.Equal((identity.Name, 0.0), index.TopTwo(expected[identity.Name][0]).Best!.Value);
            }
        }

        Assert.Equal(40, versions[0].IdentityCount); // the first version is untouched by every removal after it
        Assert.Equal(13, last.IdentityCount);
    }

    [Fact]
    public void A_small_file_listing_many_empty_entries_is_refused_without_allocating_rows_for_them()
    {
        // 200,000 empty entries of a 4096-d model: rows for them would be 3.3 GB; the file is 0.6 MB.
        string path = Path.Combine(_dir, "hostile.gallery.json");
        string head = "{'format':'inceptionnet-gallery','version':2,'model':{'id':'m','weights_sha256':'0123456789abcdef','preprocessing':'p','embedding_size':4096},"
            + "'face_input':'whole','threshold':null,'identities':[{'name':'a','entries':[";
        File.WriteAllText(path, head.Replace('\'', '"') + string.Join(",", Enumerable.Repeat("{}", 200_000)) + "]}]}");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var refused = Assert.Throws<GalleryException>(() => Gallery.Open(path));
        Assert.Contains("embedding", refused.Message, StringComparison.Ordinal);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 400L << 20); // the parse itself, not 3.3 GB of rows
    }

    private sealed class StampEncoder : IFaceEncoder
    {
        public string ModelId => Stamp.ModelId;

        public int InputSize => 160;

        public int EmbeddingSize => Stamp.EmbeddingSize;

        public string PreprocessingId => Stamp.PreprocessingId;

        public double DefaultThreshold => 0.6;

        public bool NormalizesEmbedding => false;

        public string WeightsDigest => Stamp.WeightsDigest;

        public FaceEncoding Encode(InceptionNet.Vision.RgbImage image) => throw new NotSupportedException();

        public IReadOnlyList<FaceEncoding> Encode(IReadOnlyList<InceptionNet.Vision.RgbImage> images, int batchSize = 16) => throw new NotSupportedException();
    }
}
