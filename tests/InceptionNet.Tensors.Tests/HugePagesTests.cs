using Xunit;

namespace InceptionNet.Tensors.Tests;

/// <summary>
/// The advice large buffers get on Linux (<see cref="HugePages"/>): their pages are populated before anything writes
/// them, and their whole 2 MiB stretches are huge pages when the kernel's transparent huge pages allow it.
/// </summary>
public sealed unsafe class HugePagesTests
{
    private const nuint Block = 8 << 20;

    [SkippableFact]
    public void Advice_populates_fresh_memory_before_it_is_written()
    {
        ProcessMemory.SkipUnlessPopulateAdvice();
        // A fresh private mapping: no page is resident until written, or until the advice populates it.
        var block = ProcessMemory.MapFresh(Block, out nuint mapped);
        try
        {
            Assert.Equal(0, ProcessMemory.ResidentPages(block, Block)); // the check below can tell
            Assert.True(HugePages.Advise(block, Block));
            Assert.Equal((int)(Block / 4096), ProcessMemory.ResidentPages(block, Block));
            Assert.True(new ReadOnlySpan<byte>(block, (int)Block).IndexOfAnyExcept((byte)0) < 0, "advised memory is not zero");
        }
        finally
        {
            ProcessMemory.Unmap(block, mapped);
        }
    }

    [SkippableFact]
    public void Advice_backs_the_whole_aligned_stretches_with_huge_pages()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "memory advice is Linux only");
        ProcessMemory.SkipUnlessHugePagesOnAdvice();
        // Start half a huge page past a boundary: the advice must find the aligned stretches inside (3 of them here).
        var block = ProcessMemory.MapFresh(Block + HugePages.Size, out nuint mapped);
        try
        {
            var start = (byte*)(((nuint)block + HugePages.Size - 1) & ~(HugePages.Size - 1)) + HugePages.Size / 2;
            Assert.True(HugePages.Advise(start, Block - HugePages.Size / 2));
            long huge = ProcessMemory.HugePageBytesAround(start, Block);
            if (ProcessMemory.ThpMode() == "madvise")
            {
                Assert.Equal(3L * (long)HugePages.Size, huge); // exactly the advised stretches
            }
            else
            {
                Assert.True(huge >= 3L * (long)HugePages.Size, $"{huge} bytes on huge pages"); // "always" may add the one around the start
            }
        }
        finally
        {
            ProcessMemory.Unmap(block, mapped);
        }
    }

    [SkippableFact]
    public void A_pool_advises_a_new_large_activation_buffer_to_use_huge_pages()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "memory advice is Linux only");
        Skip.IfNot(Directory.Exists("/sys/kernel/mm/transparent_hugepage"), "this kernel has no transparent huge pages");
        // Whether the pages are huge depends on the memory the collector hands out (pages an earlier object touched stay
        // small), so the test reads the advice itself: the mapping holding the buffer's aligned stretch carries the huge-page
        // advice flag ("hg"), which the collector's own heap does not.
        var large = new TensorPool().Rent(4, 64, 64, 128); // 8 MiB: at least three whole huge pages wherever the array lands
        fixed (float* values = large.Buffer)
        {
            var stretch = (void*)(((nuint)values + HugePages.Size - 1) & ~(HugePages.Size - 1));
            Assert.Contains(" hg", ProcessMemory.FlagsOfMappingAt(stretch), StringComparison.Ordinal);
        }

        Assert.True(large.Buffer.AsSpan().IndexOfAnyExcept(0f) < 0, "a new activation buffer is not zero");
        large.Buffer.AsSpan().Fill(1f); // writable to the end
    }
}
