using System.Globalization;
using System.Runtime.InteropServices;
using Xunit;

namespace InceptionNet.Tensors.Tests;

/// <summary>
/// What Linux says about this process's memory: fresh mappings, which pages are resident (<c>mincore</c>), and the
/// advice flags and huge pages of a mapping (<c>/proc/self/smaps</c>). For the tests of memory advice.
/// </summary>
internal static unsafe partial class ProcessMemory
{
    /// <summary>Transparent huge pages for advised memory: the mode is "always" or "madvise" (not "never", nor a kernel without them).</summary>
    public static void SkipUnlessHugePagesOnAdvice()
    {
        string mode = ThpMode();
        Skip.IfNot(mode is "always" or "madvise", $"transparent huge pages are off here (/sys/kernel/mm/transparent_hugepage/enabled: '{mode}')");
    }

    /// <summary>MADV_POPULATE_WRITE needs Linux 5.14.</summary>
    public static void SkipUnlessPopulateAdvice()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "memory advice is Linux only");
        Skip.If(Environment.OSVersion.Version < new Version(5, 14), $"MADV_POPULATE_WRITE needs Linux 5.14 (this kernel: {Environment.OSVersion.Version})");
    }

    /// <summary>The selected mode in /sys/kernel/mm/transparent_hugepage/enabled ("always", "madvise", "never"), or "" without it.</summary>
    public static string ThpMode()
    {
        const string path = "/sys/kernel/mm/transparent_hugepage/enabled";
        string text = File.Exists(path) ? File.ReadAllText(path) : "";
        int open = text.IndexOf('['), close = text.IndexOf(']');
        return open >= 0 && close > open ? text[(open + 1)..close] : "";
    }

    /// <summary>A fresh private anonymous mapping of <paramref name="bytes"/>: nothing resident until written or populated.</summary>
    public static byte* MapFresh(nuint bytes, out nuint mapped)
    {
        const int protReadWrite = 0x1 | 0x2, mapPrivateAnonymous = 0x02 | 0x20;
        mapped = bytes;
        var p = MMap(null, bytes, protReadWrite, mapPrivateAnonymous, -1, 0);
        Assert.True(p != (void*)-1, "mmap failed");
        return (byte*)p;
    }

    /// <summary>Unmaps what <see cref="MapFresh"/> mapped.</summary>
    public static void Unmap(byte* block, nuint mapped) => _ = MUnmap(block, mapped);

    /// <summary>How many of the 4 KiB pages of [<paramref name="start"/>, + <paramref name="bytes"/>) are resident (page-aligned start).</summary>
    public static int ResidentPages(byte* start, nuint bytes)
    {
        var vector = new byte[(int)((bytes + 4095) / 4096)];
        fixed (byte* v = vector)
        {
            Assert.Equal(0, MinCore(start, bytes, v));
        }

        return vector.Count(b => (b & 1) != 0);
    }

    /// <summary>The VmFlags line of the mapping /proc/self/smaps lists at <paramref name="address"/>, with a leading space.</summary>
    public static string FlagsOfMappingAt(void* address)
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

    /// <summary>The AnonHugePages of the mappings /proc/self/smaps lists over [<paramref name="start"/>, + <paramref name="bytes"/>), in bytes.</summary>
    public static long HugePageBytesAround(void* start, nuint bytes)
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

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial void* MMap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int MUnmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "mincore")]
    private static partial int MinCore(void* address, nuint length, byte* vector);
}
