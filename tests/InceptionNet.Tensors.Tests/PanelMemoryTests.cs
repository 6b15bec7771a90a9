using System.Runtime.CompilerServices;
using Xunit;

namespace InceptionNet.Tensors.Tests;

/// <summary>
/// Where packed weights live on Linux (<see cref="PanelMemory"/>): small blocks are carved from shared slabs advised for
/// huge pages, each populated before it is written, given back when collected, and the slab unmapped with its last block.
/// Most tests carve from a slab of their own, so that other tests' blocks cannot keep its pages resident or it alive.
/// </summary>
public sealed unsafe class PanelMemoryTests
{
    [SkippableFact]
    public void A_small_block_lives_in_memory_advised_for_huge_pages()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "slabs are Linux only");
        Skip.IfNot(Directory.Exists("/sys/kernel/mm/transparent_hugepage"), "this kernel has no transparent huge pages");
        // A block of its own mapping would be too small for huge pages (and would not be advised at all).
        var block = PanelMemory.Allocate(1000);
        Assert.Contains(" hg", ProcessMemory.FlagsOfMappingAt(block.Values), StringComparison.Ordinal);
        GC.KeepAlive(block);
    }

    [SkippableFact]
    public void A_carved_block_is_resident_before_it_is_written()
    {
        ProcessMemory.SkipUnlessPopulateAdvice();
        var slab = NewSlab();
        var block = PanelMemory.CarveFrom(slab, 300_000)!; // 1.2 MB, the slab's first: nothing of it was touched before
        var (first, bytes) = WholePages(block.Values, 300_000 * sizeof(float));
        Assert.Equal((int)(bytes / 4096), ProcessMemory.ResidentPages((byte*)first, bytes));
        GC.KeepAlive(block);
    }

    [SkippableFact]
    public void Blocks_carved_from_one_slab_are_aligned_disjoint_zeroed_and_keep_their_values()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "slabs are Linux only");
        var slab = NewSlab();
        int[] lengths = [1, 17, 1000, 16, 3 << 18, 15, 100_003];
        var blocks = lengths.Select(n => PanelMemory.CarveFrom(slab, n)!).ToArray();
        for (int i = 0; i < blocks.Length; i++)
        {
            Assert.Equal(lengths[i], blocks[i].Length);
            Assert.Equal(0u, (nuint)blocks[i].Values & 4095); // each on a page of its own, as a mapping of its own was
            Assert.True(blocks[i].Span.IndexOfAnyExcept(0f) < 0, $"block {i} is not zero");
            if (i > 0)
            {
                Assert.True((nuint)blocks[i].Values >= (nuint)(blocks[i - 1].Values + lengths[i - 1]), $"block {i} overlaps block {i - 1}");
            }
        }

        for (int i = 0; i < blocks.Length; i++)
        {
            blocks[i].Span.Fill(i + 1);
        }

        for (int i = 0; i < blocks.Length; i++)
        {
            Assert.True(blocks[i].Span.IndexOfAnyExcept(i + 1f) < 0, $"block {i} lost its values to a neighbour");
        }

        GC.KeepAlive(blocks);
    }

    [SkippableFact]
    public void A_full_slab_carves_nothing_more_and_large_blocks_get_a_mapping_of_their_own()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "slabs are Linux only");
        var slab = NewSlab();
        var whole = PanelMemory.CarveFrom(slab, (int)(PanelMemory.SlabBytes / sizeof(float)));
        Assert.NotNull(whole);
        Assert.Null(PanelMemory.CarveFrom(slab, 1));

        // Past the carving limit: a mapping of its own, starting on a huge-page boundary.
        var large = PanelMemory.Allocate((int)(PanelMemory.CarveLimit / sizeof(float)) + 1);
        Assert.Equal(0u, (nuint)large.Values & (HugePages.Size - 1));
        Assert.True(large.Span.IndexOfAnyExcept(0f) < 0, "a large block is not zero");
        GC.KeepAlive(whole);
        GC.KeepAlive(large);
    }

    [SkippableFact]
    public void A_collected_block_gives_its_pages_back_and_the_slab_goes_with_its_last_block()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "slabs are Linux only");
        var blocks = TwoBlocksOfANewSlab();
        Collect();
        // The released block's whole pages are no longer resident; its neighbour, in the same huge page (split by the
        // release), keeps its values.
        Assert.Equal(0, ProcessMemory.ResidentPages((byte*)blocks.ReleasedFirst, blocks.ReleasedBytes));
        Assert.True(KeptHoldsItsValues(blocks), "the block still alive lost its values");
        Assert.True(IsAlive(blocks.Slab), "the slab went while one of its blocks was alive");

        blocks.Kept = null; // a field, not a local: nothing else on this frame may still hold the block
        Collect();
        Assert.False(IsAlive(blocks.Slab), "the slab outlived its last block");
    }

    [SkippableFact]
    public void Releasing_a_block_keeps_the_pages_it_shares_with_its_neighbours()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "slabs are Linux only");
        // Blocks 64 bytes apart share their end pages, as 4 KiB-aligned blocks do on a kernel with 16 or 64 KiB pages: the
        // release of the middle one may only give back the pages wholly its own.
        var (before, after) = NeighboursOfADroppedBlock();
        Collect();
        Assert.True(before.Span.IndexOfAnyExcept(1f) < 0, "the block before a released one lost values");
        Assert.True(after.Span.IndexOfAnyExcept(3f) < 0, "the block after a released one lost values");
    }

    [SkippableFact]
    public void Interim_blocks_are_carved_from_slabs_of_their_own()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "slabs are Linux only");
        // Interim blocks (a fused block's parts) given back among long-lived ones would split the huge pages those sit in.
        // Other tests may carve long-lived blocks meanwhile, so the long-lived slab may change between two allocations
        // here, which only makes the blocks' slabs differ more often; no other test of this assembly packs as interim.
        var before = PanelMemory.Allocate(1000);
        var log = PanelMemory.LogInterimOnThisThread();
        PanelMemory first, second;
        using (PackedConvWeights.Interim())
        {
            first = PanelMemory.Allocate(1000);
            using (PackedConvWeights.Interim())
            {
                second = PanelMemory.Allocate(3000);
            }
        }

        var after = PanelMemory.Allocate(1000);
        PanelMemory.StopLoggingInterim();
        Assert.NotNull(before.CarvedFrom); // all carved (none mapped on its own or allocated)
        Assert.NotNull(first.CarvedFrom);
        Assert.NotSame(before.CarvedFrom, first.CarvedFrom);
        Assert.Same(first.CarvedFrom, second.CarvedFrom); // the inner scope's end left the outer one interim
        Assert.NotSame(first.CarvedFrom, after.CarvedFrom); // and the outer one's end made the next block long-lived
        Assert.Equal([1000 * sizeof(float), 3000 * sizeof(float)], log.Select(entry => entry.Bytes));
        GC.KeepAlive(before);
        GC.KeepAlive(second);
        GC.KeepAlive(after);
    }

    [Fact]
    public void An_interim_scope_ends_once_and_only_on_its_own_thread()
    {
        var scope = PackedConvWeights.Interim();
        InvalidOperationException? elsewhere = null;
        var thread = new Thread(() => elsewhere = Record.Exception(scope.Dispose) as InvalidOperationException);
        thread.Start();
        thread.Join();
        Assert.NotNull(elsewhere);
        Assert.Contains("cannot be ended on thread", elsewhere.Message, StringComparison.Ordinal);

        scope.Dispose(); // still open after the failed end elsewhere: this ends it
        scope.Dispose(); // a second dispose ends nothing more: with no scope left, ending one would throw
        var ex = Assert.Throws<InvalidOperationException>(PanelMemory.ExitInterim);
        Assert.Contains("No interim packing", ex.Message, StringComparison.Ordinal);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (PanelMemory Before, PanelMemory After) NeighboursOfADroppedBlock()
    {
        var slab = NewSlab(alignment: 64);
        var before = PanelMemory.CarveFrom(slab, 5_003)!;
        var dropped = PanelMemory.CarveFrom(slab, 7_001)!; // 28 KB: shares a page with each neighbour, and holds whole ones
        var after = PanelMemory.CarveFrom(slab, 5_003)!;
        before.Span.Fill(1f);
        dropped.Span.Fill(2f);
        after.Span.Fill(3f);
        return (before, after);
    }

    // These two look at the objects in methods of their own, so that no temporary of the test's frame holds one afterwards
    // (unoptimized code, a debug build's or tier 0's, keeps every temporary alive to the end of the method).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool KeptHoldsItsValues(Blocks blocks) => blocks.Kept!.Span.IndexOfAnyExcept(7f) < 0;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool IsAlive(WeakReference<PanelMemory.Slab> slab) => slab.TryGetTarget(out _);

    private sealed class Blocks(PanelMemory kept, nuint releasedFirst, nuint releasedBytes, WeakReference<PanelMemory.Slab> slab)
    {
        public PanelMemory? Kept { get; set; } = kept;

        public nuint ReleasedFirst { get; } = releasedFirst;

        public nuint ReleasedBytes { get; } = releasedBytes;

        public WeakReference<PanelMemory.Slab> Slab { get; } = slab;
    }

    // A block of 1 MiB that is written and then dropped (its whole pages returned), beside a small one that is kept in the
    // same 2 MiB, both carved from a new slab this method lets go of.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Blocks TwoBlocksOfANewSlab()
    {
        var slab = NewSlab();
        var dropped = PanelMemory.CarveFrom(slab, 1 << 18)!;
        var kept = PanelMemory.CarveFrom(slab, 1000)!;
        dropped.Span.Fill(3f);
        kept.Span.Fill(7f);
        var (first, bytes) = WholePages(dropped.Values, (nuint)dropped.Length * sizeof(float));
        Assert.Equal((int)(bytes / 4096), ProcessMemory.ResidentPages((byte*)first, bytes)); // resident now: the check can tell
        return new Blocks(kept, first, bytes, new WeakReference<PanelMemory.Slab>(slab));
    }

    private static PanelMemory.Slab NewSlab(nuint alignment = 4096) =>
        PanelMemory.Slab.TryCreate(alignment) ?? throw new InvalidOperationException("no slab could be mapped");

    // The whole 4 KiB pages inside [start, start + bytes): the first's address and their bytes.
    private static (nuint First, nuint Bytes) WholePages(void* start, nuint bytes)
    {
        nuint first = ((nuint)start + 4095) & ~(nuint)4095, end = ((nuint)start + bytes) & ~(nuint)4095;
        return (first, end - first);
    }

    private static void Collect()
    {
        for (int i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }
}
