using InceptionNet.Detection;
using InceptionNet.Tensors;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;
using Xunit.Abstractions;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Detection.Tests;

/// <summary>
/// A warm detector keeps its image copy, pyramid, crop batches, resize tables and network activations from one photo to
/// the next. Measured per photo (summed over the caller and the pool's helper, after warm-up): obama1.jpg (1480×832)
/// 147.7 MB before pooling, 3.7 MB with the buffers kept, 0.08 MB with the resize tables kept too; two_people.jpg
/// (1126×661) 83.9 MB, 4.1 MB, 0.13 MB. What is left is per candidate: a small array per box, the NMS orderings, the
/// returned faces. biden2.jpg (1200×1200) has a face filling most of the photo: its R-Net and O-Net crops each took a
/// zero-padded box of doubles of their own (too large to keep), 58.9 MB per photo, until the crops read the box a band of
/// rows at a time: 0.09 MB.
/// </summary>
public sealed class MtcnnAllocationTests(ITestOutputHelper output)
{
    // 1 MB: a fifth of the 5 MB goal (issue 19) and about 8× what is measured, so a photo with more candidates passes;
    // yet below any buffer a photo needs — a crop batch of 64 R-Net inputs (0.44 MB) is the smallest, a pyramid level of
    // either photo is 4–5 MB — so re-allocating one of them, or a resize table per level or per crop (2.8 MB per photo
    // before they were kept), fails it.
    private const long BytesPerPhoto = 1_000_000;

    [Fact]
    public void A_warm_detector_allocates_under_a_megabyte_per_photo_even_when_photo_sizes_alternate()
    {
        using var pool = new WorkerPool(2);
        var detector = MtcnnDetector.Load(SharedData.PathOf("weights", "mtcnn"), context: new ExecutionContext(pool));
        var counter = new PerThreadAllocations(pool);
        var photos = new[] { "test/obama1.jpg", "two_people.jpg", "train/biden/biden2.jpg" }
            .Select(name => (Name: name, Image: ImageDecoder.Decode(SharedData.PathOf(["images", "faces", .. name.Split('/')]))))
            .ToArray();
        for (int round = 0; round < 2; round++)
        {
            foreach (var (_, image) in photos)
            {
                // Sizes the buffers and the activation pool; the pool settles in the second round (its first round after
                // the smaller photo still replaces a buffer or two with longer ones: 10.4 MB measured there).
                detector.Detect(image);
            }
        }

        for (int round = 0; round < 2; round++)
        {
            foreach (var (name, image) in photos)
            {
                int faces = 0;
                long allocated = counter.Measure(() => faces = detector.Detect(image).Count);
                output.WriteLine($"{name}: {allocated / 1e6:F2} MB allocated by a warm Detect on the caller and the pool's helper ({faces} faces)");
                Assert.True(faces > 0, $"no face found in {name}");
                Assert.InRange(allocated, 0, BytesPerPhoto);
            }
        }
    }
}
