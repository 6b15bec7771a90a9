using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Cli.Tests;

/// <summary>
/// Issue 14: a run over many photos of different sizes must fit in the memory its largest photo needs alone. Measured with
/// a hard GC heap limit, which turns "the peak grew" into a failed run (exit 2, "out of memory") instead of a number to
/// compare: <c>embed --model faceapi --largest --batch 1</c> on the largest shared photo (biden.jpg, 970×2204) alone
/// needs between 112 and 128 MiB of heap; the 12 shared photos one after the other ran at 144 MiB once the decoders'
/// pool fitted buffers across sizes and MTCNN's crops stopped copying each face box whole, and failed even at 224 MiB
/// before (biden2.jpg's face filled the photo: 59 MB of boxes per photo; the power-of-two decode pool kept a set of
/// buffers per size class).
/// </summary>
public sealed class BoundedMemoryTests
{
    // 1.25 × the 128 MiB the largest photo alone runs in: room for the GC's own slack, yet 64 MiB under what the photos
    // needed before the fix. --batch 1 keeps the encoder's batch out of it (a batch of 16 faces adds its activations).
    private const string HeapLimit = "0xA000000"; // 160 MiB

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
    public async Task Photos_of_many_sizes_run_in_the_heap_their_largest_photo_needs_alone()
    {
        string largest = Photos[1];
        var alone = await Embed([largest]);
        Assert.True(alone.Exit == 0, $"biden.jpg alone under a 160 MiB heap: exit {alone.Exit}: {alone.Stderr}");

        var all = await Embed(Photos);
        Assert.True(all.Exit == 0, $"the 12 photos under the same 160 MiB heap: exit {all.Exit}: {all.Stderr}");
        Assert.Equal(Photos.Length, all.Stdout.Split("\"embedding\"").Length - 1);
    }

    private static Task<(int Exit, string Stdout, string Stderr)> Embed(string[] photos) =>
        CliRunner.RunProcessAsync(
            ["embed", "--model", "faceapi", "--weights", SharedData.PathOf("weights", "faceapi"), "--mtcnn", SharedData.PathOf("weights", "mtcnn"),
                "--largest", "--batch", "1", "--json", .. photos],
            TimeSpan.FromMinutes(3), environment: new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = HeapLimit });
}
