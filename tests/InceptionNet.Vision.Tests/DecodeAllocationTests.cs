using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Vision.Tests;

/// <summary>
/// Issue 14: a warm decode allocates little beyond the <see cref="RgbImage"/> it returns, so that streaming photos keeps
/// a steady peak memory. The decoders' temporary buffers (coefficients, component planes, upsampled planes, inflate
/// buffers) come from the decoders' process-wide pool (<c>DecodeBuffers</c>) and go back when the decode ends. Before
/// that change a decode allocated 13.2 MB for obama1.jpg (3.7 MB of pixels), 11.2 MB for two_people.jpg (2.2 MB),
/// 32.2 MB for biden.jpg (6.4 MB).
/// Counted with GC.GetAllocatedBytesForCurrentThread: decoding is single-threaded (no tasks, no worker pool in
/// InceptionNet.Vision), so every byte it allocates is counted on the test's thread.
/// </summary>
/// <remarks>
/// Alone in the process: the decoders' pool is shared by every thread, and a test decoding another photo beside this
/// one takes the free arrays that fit it (or makes the pool let one go). CI once saw all three warm decodes of
/// two_people.jpg make one plane afresh (794 KB over its pixels) while the rest of this assembly ran beside them.
/// </remarks>
[Collection(nameof(AloneInProcess))]
public sealed class DecodeAllocationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("images/faces/test/obama1.jpg")]
    [InlineData("images/faces/two_people.jpg")]
    [InlineData("images/faces/train/biden/biden.jpg")]
    [InlineData("images/faces/misc/32bit.png")]
    public void Warm_decode_allocates_little_beyond_its_pixels(string relative)
    {
        // Both entry points: from memory, and from a path as the CLI and the pipeline decode (the file is read too).
        string path = SharedData.PathOf(relative.Split('/'));
        byte[] file = File.ReadAllBytes(path);
        var first = ImageDecoder.Decode(file, relative);
        long pixelBytes = (long)first.Width * first.Height * 3;
        long fromMemory = LeastAllocated(() => ImageDecoder.Decode(file, relative), first);
        long fromPath = LeastAllocated(() => ImageDecoder.Decode(path), first);

        // The returned pixels (width·height·3, exact) plus a quarter for what stays per decode, and 64 KB for the small
        // objects (Huffman lookup tables of 1 KB each, quantization tables, the decoder and its components, inflater
        // state, the file handle): the old decoders needed 3 to 5 times the pixel bytes, and 1x more than the file size
        // from a path. Measured after the change: the pixels plus 6 to 11 KB.
        long bound = pixelBytes * 5 / 4 + 64 * 1024;
        output.WriteLine($"{relative}: {first.Width}x{first.Height}, pixels {pixelBytes} B, warm decode from memory {fromMemory} B, from the path {fromPath} B (bound {bound} B)");
        Assert.True(fromMemory <= bound, $"{relative}: a warm decode from memory allocated {fromMemory} bytes, above {bound} ({pixelBytes} of pixels)");
        Assert.True(fromPath <= bound, $"{relative}: a warm decode from the path allocated {fromPath} bytes, above {bound} ({pixelBytes} of pixels)");
    }

    [Theory]
    [InlineData("images/faces/test/obama1.jpg")]
    [InlineData("images/faces/two_people.jpg")]
    [InlineData("images/faces/misc/32bit.png")]
    public void Buffers_left_by_a_failed_decode_do_not_reach_the_next_one(string relative)
    {
        // A file cut in the middle of its data fails (or, for JPEG, decodes with zeros supplied) after its buffers are
        // rented and partly filled; they go back to the pool dirty. The next decode must clear what it relies on.
        byte[] file = File.ReadAllBytes(SharedData.PathOf(relative.Split('/')));
        var expected = ImageDecoder.Decode(file, relative).Pixels;
        for (int i = 0; i < 3; i++)
        {
            try
            {
                ImageDecoder.Decode(file[..(file.Length * (i + 1) / 4)], "cut");
            }
            catch (InvalidImageException)
            {
            }

            Assert.Equal(expected, ImageDecoder.Decode(file, relative).Pixels);
        }
    }

    // The least of three warm decodes is the decoder's own cost.
    private static long LeastAllocated(Func<RgbImage> decode, RgbImage expected)
    {
        long least = long.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var image = decode();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            Assert.Equal(expected.Pixels, image.Pixels);
        }

        return least;
    }
}

/// <summary>
/// Allocation counted through the decoders' shared pool, and time bounds: nothing else in this assembly may run meanwhile.
/// </summary>
[CollectionDefinition(nameof(AloneInProcess), DisableParallelization = true)]
public sealed class AloneInProcess;
