using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Cli.Tests;

/// <summary>
/// Issue 14: a run over many photos of different sizes must fit in the memory its largest photo needs alone. Measured with
/// a hard GC heap limit, which turns "the peak grew" into a failed run (exit 2, "out of memory") instead of a number to
/// compare: <c>embed --model faceapi --largest --batch 1</c> on the largest shared photo (biden.jpg, 970×2204) alone
/// needs between 96 and 112 MiB of heap; measured by hand, 36 photos (three rounds of the 12 shared ones) ran at 112 MiB
/// too, now that the decoders' pool fits buffers across sizes, MTCNN's crops no longer copy each face box whole and its
/// pyramid reads the photo's bytes instead of a float copy. The test holds the 12 to a limit a little above what the
/// largest alone needs (below); before, they failed even at 224 MiB (biden2.jpg's face filled the photo: 59 MB of boxes
/// per photo; the power-of-two decode pool kept a set of buffers per size class).
/// </summary>
public sealed class BoundedMemoryTests
{
    // 1.3 × the 112 MiB the largest photo alone runs in: room for the GC's own slack, yet 80 MiB under what the photos
    // needed before the fix. --batch 1 keeps the encoder's batch out of it (a batch of 16 faces adds its activations).
    private const string HeapLimit = "0x9000000"; // 144 MiB

    private static readonly string[] Photos =
    [
        .. new[] { "alex_lacamoire/img1.jpg", "biden/biden.jpg", "biden/biden2.jpg", "kit_harington/john1.jpeg", "kit_harington/john2.jpeg",
            "obama/obama.jpg", "obama/obama2.jpg", "rose_leslie/img1.jpg", "rose_leslie/img2.jpg" }
            .Select(p => SharedData.PathOf(["images", "faces", "train", .. p.Split('/')])),
        SharedData.PathOf("images", "faces", "test", "obama1.jpg"),
        SharedData.PathOf("images", "faces", "test", "alex_lacamoire1.jpg"),
        SharedData.PathOf("images", "faces", "two_people.jpg"),
    ];

    [Fact]
    public async Task Photos_of_many_sizes_fit_the_heap_limit_their_largest_photo_alone_fits()
    {
        string largest = Photos[1];
        var alone = await Embed([largest]);
        Assert.True(alone.Exit == 0, $"biden.jpg alone under a 144 MiB heap: exit {alone.Exit}: {alone.Stderr}");

        var all = await Embed(Photos);
        Assert.True(all.Exit == 0, $"the 12 photos under the same 144 MiB heap: exit {all.Exit}: {all.Stderr}");
        Assert.Equal(Photos.Length, all.Stdout.Split("\"embedding\"").Length - 1);
    }

    private static Task<(int Exit, string Stdout, string Stderr)> Embed(string[] photos) =>
        CliRunner.RunProcessAsync(
            ["embed", "--model", "faceapi", "--weights", SharedData.PathOf("weights", "faceapi"), "--mtcnn", SharedData.PathOf("weights", "mtcnn"),
                "--largest", "--batch", "1", "--json", .. photos],
            TimeSpan.FromMinutes(3), environment: new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = HeapLimit });
}
