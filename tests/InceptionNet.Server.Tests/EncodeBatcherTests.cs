using InceptionNet.Pipeline;
using InceptionNet.Server.Batching;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;

namespace InceptionNet.Server.Tests;

/// <summary>
/// The micro-batching queue: a full queue refuses at once (the service's 503) instead of growing, a request's faces are
/// taken together or not at all, and faces waiting in one open batch are encoded in one pass.
/// </summary>
public sealed class EncodeBatcherTests
{
    private static readonly Lazy<InceptionNet.Models.FaceEncoder> Encoder = new(() =>
    {
        var model = ModelRegistry.Get("faceapi");
        return ModelRegistry.LoadEncoder(model, SharedData.PathOf("weights", "faceapi"));
    });

    private static RgbImage Chip(byte value) => new(150, 150, Enumerable.Repeat(value, 150 * 150 * 3).ToArray());

    [Fact]
    public async Task A_full_queue_refuses_at_once_and_takes_a_request_whole_or_not_at_all()
    {
        // One batch stays open for 30 s waiting for 100 faces: nothing leaves the queue while the test fills it.
        await using var batcher = new EncodeBatcher(Encoder.Value, maxBatch: 100, maxWait: TimeSpan.FromSeconds(30), capacity: 3);
        var first = batcher.TryEncodeAsync([Chip(10), Chip(20)], CancellationToken.None);
        Assert.NotNull(first);
        Assert.Null(batcher.TryEncodeAsync([Chip(30), Chip(40)], CancellationToken.None)); // 2 + 2 > 3: refused whole
        Assert.Equal(2, batcher.Depth);
        var third = batcher.TryEncodeAsync([Chip(50)], CancellationToken.None);            // 2 + 1 fits
        Assert.NotNull(third);
        Assert.Equal(3, batcher.Depth);
        Assert.Null(batcher.TryEncodeAsync([Chip(60)], CancellationToken.None));
        Assert.False(first!.IsCompleted);
    }

    [Fact]
    public async Task Faces_of_concurrent_requests_are_encoded_in_one_pass_and_each_gets_its_own()
    {
        var sizes = new List<int>();
        await using var batcher = new EncodeBatcher(Encoder.Value, maxBatch: 3, maxWait: TimeSpan.FromSeconds(30), capacity: 16)
        {
            BatchEncoded = n => { lock (sizes) { sizes.Add(n); } },
        };
        // Three requests, three faces: the batch closes when full (not after 30 s), in one pass.
        var a = batcher.TryEncodeAsync([Chip(10)], CancellationToken.None)!;
        var b = batcher.TryEncodeAsync([Chip(200), Chip(10)], CancellationToken.None)!;
        var results = await Task.WhenAll(a, b).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal([3], sizes);
        var alone = Encoder.Value.Encode(Chip(10));
        Assert.Equal(alone.Embedding, results[0][0].Embedding);
        Assert.Equal(alone.Embedding, results[1][1].Embedding);
        Assert.NotEqual(alone.Embedding, results[1][0].Embedding);
        Assert.Equal(0, batcher.Depth);
    }
}
