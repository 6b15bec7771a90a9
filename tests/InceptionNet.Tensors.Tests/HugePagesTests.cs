using System.Globalization;
using System.Runtime.InteropServices;
using Xunit;

namespace InceptionNet.Tensors.Tests;

/// <summary>
/// The advice large buffers get on Linux (<see cref="HugePages"/>): their pages are populated before anything writes
/// them, and their whole 2 MiB stretches are huge pages when the kernel's transparent huge pages allow it.
/// </summary>
public sealed unsafe partial class HugePagesTests
{
    private const nuint Block = 8 << 20;

    [SkippableFact]
    public void Advice_populates_fresh_memory_before_it_is_written()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "memory advice is Linux only");
        Skip.If(Environment.OSVersion.Version < new Version(5, 14), $"MADV_POPULATE_WRITE needs Linux 5.14 (this kernel: {Environment.OSVersion.Version})");
        // A fresh private mapping: no page is resident until written, or until the advice populates it.
        var block = MapFresh(Block, out nuint mapped);
        try
        {
            Assert.Equal(0, ResidentPages(block, Block)); // the check below can tell
            Assert.True(HugePages.Advise(block, Block));
            Assert.Equal((int)(Block / 4096), ResidentPages(block, Block));
            Assert.True(new ReadOnlySpan<byte>(block, (int)Block).IndexOfAnyExcept((byte)0) < 0, "advised memory is not zero");
        }
        finally
        {
            _ = MUnmap(block, mapped);
        }
    }

    [SkippableFact]
    public void Advice_backs_the_whole_aligned_stretches_with_huge_pages()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "memory advice is Linux only");
        SkipUnlessHugePagesOnAdvice();
        // Start half a huge page past a boundary: the advice must find the aligned stretches inside (3 of them here).
        var block = MapFresh(Block + HugePages.Size, out nuint mapped);
        try
        {
            var start = (byte*)(((nuint)block + HugePages.Size - 1) & ~(HugePages.Size - 1)) + HugePages.Size / 2;
            Assert.True(HugePages.Advise(start, Block - HugePages.Size / 2));
            long huge = HugePageBytesAround(start, Block);
            if (ThpMode() == "madvise")
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
            _ = MUnmap(block, mapped);
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
            Assert.Contains(" hg", FlagsOfMappingAt(stretch), StringComparison.Ordinal);
        }

        Assert.True(large.Buffer.AsSpan().IndexOfAnyExcept(0f) < 0, "a new activation buffer is not zero");
        large.Buffer.AsSpan().Fill(1f); // writable to the end
    }

    // Transparent huge pages for advised memory: the mode is "always" or "madvise" (not "never", nor a kernel without them).
    private static void SkipUnlessHugePagesOnAdvice()
    {
        string mode = ThpMode();
        Skip.IfNot(mode is "always" or "madvise", $"transparent huge pages are off here (/sys/kernel/mm/transparent_hugepage/enabled: '{mode}')");
    }

    // The selected mode in /sys/kernel/mm/transparent_hugepage/enabled ("always", "madvise", "never"), or "" without it.
    private static string ThpMode()
    {
        const string path = "/sys/kernel/mm/transparent_hugepage/enabled";
        string text = File.Exists(path) ? File.ReadAllText(path) : "";
        int open = text.IndexOf('['), close = text.IndexOf(']');
        return open >= 0 && close > open ? text[(open + 1)..close] : "";
    }

    private static byte* MapFresh(nuint bytes, out nuint mapped)
    {
        const int protReadWrite = 0x1 | 0x2, mapPrivateAnonymous = 0x02 | 0x20;
        mapped = bytes;
        var p = MMap(null, bytes, protReadWrite, mapPrivateAnonymous, -1, 0);
        Assert.True(p != (void*)-1, "mmap failed");
        return (byte*)p;
    }

    private static int ResidentPages(byte* start, nuint bytes)
    {
        var vector = new byte[(int)(bytes / 4096)];
        fixed (byte* v = vector)
        {
            Assert.Equal(0, MinCore(start, bytes, v));
        }

        return vector.Count(b => (b & 1) != 0);
    }

    // The VmFlags line of the mapping /proc/self/smaps lists at `address`, with a leading space.
    private static string FlagsOfMappingAt(void* address)
    {
        ulong at = (ulong)address;
        bool inside = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            if (Range(line) is (var from, var to))
            {
                inside = from <= at && at < to;
            }
            else if (inside && line.StartsWith("VmFlags:", StringComparison.Ordinal))
            {
                return line["VmFlags:".Length..];
            }
        }

        throw new InvalidOperationException($"no mapping in /proc/self/smaps holds 0x{at:x}");
    }

    // A mapping's header line "start-end perms ...": its range.
    private static (ulong From, ulong To)? Range(string line)
    {
        int dash = line.IndexOf('-', StringComparison.Ordinal);
        int space = line.IndexOf(' ', StringComparison.Ordinal);
        return dash > 0 && space > dash
            && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong from)
            && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong to)
            ? (from, to) : null;
    }

    // The AnonHugePages of the mappings /proc/self/smaps lists over [start, start + bytes), in bytes.
    private static long HugePageBytesAround(void* start, nuint bytes)
    {
        ulong first = (ulong)start, end = first + bytes;
        long total = 0;
        bool inside = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            if (Range(line) is (var from, var to))
            {
                inside = from < end && to > first;
            }
            else if (inside && line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
            {
                total += long.Parse(line["AnonHugePages:".Length..].Replace("kB", "", StringComparison.Ordinal).Trim(), CultureInfo.InvariantCulture) * 1024;
            }
        }

        return total;
    }

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial void* MMap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int MUnmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "mincore")]
    private static partial int MinCore(void* address, nuint length, byte* vector);
}
