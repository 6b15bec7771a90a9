using System.Runtime.InteropServices;

namespace InceptionNet.Tensors;

/// <summary>
/// Linux memory advice for large blocks that are about to be written whole: the 2 MiB-aligned stretch inside a block is
/// advised to use transparent huge pages, then the block's whole pages are populated with one call. Taking fresh memory
/// one 4 KiB fault at a time is dear in a VM, where each fault leaves the guest's user mode: a batch-16 FaceNet pass's
/// first run wrote about 80 MB of fresh activations that way (half of a 16-image <c>embed</c>'s page faults). Packed
/// weights (<see cref="PanelMemory"/>) and the activation pool's large buffers (<see cref="TensorPool"/>) use it. Only
/// advice: on other systems, with transparent huge pages off, or on a kernel without <c>MADV_POPULATE_WRITE</c> (before
/// 5.14) the memory is the same and the faults come as it is written.
/// </summary>
internal static unsafe partial class HugePages
{
    /// <summary>The huge page size on x64 and arm64 Linux with 4 KiB base pages.</summary>
    public const nuint Size = 2 << 20;

    /// <summary>
    /// The system's page size (4 KiB on x64; 4, 16 or 64 KiB on arm64 kernels): every range given to madvise is rounded
    /// to it, since the kernel rounds a length up to whole pages itself, and a page shared with a neighbour must never
    /// be released.
    /// </summary>
    public static readonly nuint PageSize = (nuint)Environment.SystemPageSize;

    /// <summary>
    /// Blocks of at least this many bytes are advised: twice <see cref="Size"/>, so an array placed anywhere holds at least
    /// one whole aligned huge page.
    /// </summary>
    public const long MinBytes = 2 * (long)Size;

    private const int MadvDontNeed = 4, MadvHugePage = 14, MadvPopulateWrite = 23;

    private static bool s_unavailable = !OperatingSystem.IsLinux();

    /// <summary>
    /// Advises the whole 2 MiB pages inside [<paramref name="start"/>, + <paramref name="bytes"/>) to be huge, then
    /// populates its whole pages for writing. Values already there are kept. Returns false when the advice could
    /// not be given at all (not Linux, or no bindable libc).
    /// </summary>
    public static bool Advise(void* start, nuint bytes)
    {
        nuint first = (nuint)start, end = first + bytes;
        return AdviseHuge(start, bytes) && Call(RoundUp(first), RoundDown(end), MadvPopulateWrite);
    }

    /// <summary>
    /// Advises the whole 2 MiB pages inside [<paramref name="start"/>, + <paramref name="bytes"/>) to be huge, without
    /// populating anything: a page is taken when first written or populated, a whole huge page at a time.
    /// </summary>
    public static bool AdviseHuge(void* start, nuint bytes)
    {
        nuint first = (nuint)start, end = first + bytes;
        return Call((first + Size - 1) & ~(Size - 1), end & ~(Size - 1), MadvHugePage);
    }

    /// <summary>
    /// Populates for writing every page that holds a byte of [<paramref name="start"/>, + <paramref name="bytes"/>),
    /// rounded out to whole pages: only for memory whose pages all belong to the caller's own mapping. Values
    /// already there are kept.
    /// </summary>
    public static bool Populate(void* start, nuint bytes)
    {
        nuint first = (nuint)start, end = first + bytes;
        return Call(RoundDown(first), RoundUp(end), MadvPopulateWrite);
    }

    /// <summary>
    /// Gives the whole pages inside [<paramref name="start"/>, + <paramref name="bytes"/>) back to the system
    /// (<c>MADV_DONTNEED</c>): they read as zero if touched again. Only for memory nothing will read, in the caller's own
    /// mapping; a huge page that holds them is split.
    /// </summary>
    public static bool Release(void* start, nuint bytes)
    {
        nuint first = (nuint)start, end = first + bytes;
        return Call(RoundUp(first), RoundDown(end), MadvDontNeed);
    }

    /// <summary><paramref name="address"/> rounded down to a page boundary.</summary>
    public static nuint RoundDown(nuint address) => address & ~(PageSize - 1);

    /// <summary><paramref name="address"/> rounded up to a page boundary.</summary>
    public static nuint RoundUp(nuint address) => (address + PageSize - 1) & ~(PageSize - 1);

    // madvise over [first, end) when that is not empty; false only when there is no madvise to call.
    private static bool Call(nuint first, nuint end, int advice)
    {
        if (s_unavailable)
        {
            return false;
        }

        try
        {
            if (end > first)
            {
                _ = MAdvise((void*)first, end - first, advice);
            }

            return true;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            s_unavailable = true;
            return false;
        }
    }

    /// <summary>
    /// <see cref="Advise"/> for a new array's values when it is at least <see cref="MinBytes"/> long. The array is pinned
    /// only for the call: a large object is not moved by the collector unless told to compact that heap, and if it were,
    /// the advice would only have been wasted.
    /// </summary>
    public static void AdviseNew(float[] array)
    {
        if (s_unavailable || (long)array.Length * sizeof(float) < MinBytes)
        {
            return;
        }

        fixed (float* values = array)
        {
            Advise(values, (nuint)array.Length * sizeof(float));
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int MAdvise(void* address, nuint length, int advice);
}
