using System.Runtime.InteropServices;

namespace InceptionNet.Tensors;

/// <summary>
/// Native memory for packed weight panels, outside the GC heap, freed when its owner is collected. On Linux it is an
/// anonymous mapping, 2 MiB aligned when it is at least that large and advised to use transparent huge pages, and
/// populated with one call before the packer writes it. That is why it exists: a cold start writes about 90 MB of fresh
/// panels for FaceNet, and taking those pages one 4 KiB fault at a time cost a third of a native binary's start-up
/// (perf, Zen 5 VM: <c>exc_page_fault</c> 35 % of an <c>embed</c>). Elsewhere, or when mapping fails, it is an aligned
/// native allocation. Either way the memory starts zeroed and the start is 64-byte aligned.
/// </summary>
internal sealed unsafe partial class PanelMemory
{
    private readonly void* _block; // what was mapped or allocated
    private readonly nuint _bytes; // its size, for munmap
    private readonly bool _mapped;

    private PanelMemory(void* block, nuint bytes, bool mapped, float* values, int length)
    {
        _block = block;
        _bytes = bytes;
        _mapped = mapped;
        Values = values;
        Length = length;
        GC.AddMemoryPressure((long)bytes);
    }

    /// <summary>First value (64-byte aligned; valid while this object is reachable).</summary>
    public float* Values { get; }

    /// <summary>Number of floats.</summary>
    public int Length { get; }

    /// <summary>The values as a span (valid while this object is reachable).</summary>
    public Span<float> Span => new(Values, Length);

    /// <summary><paramref name="length"/> zeroed floats.</summary>
    public static PanelMemory Allocate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        nuint bytes = Math.Max((nuint)length * sizeof(float), 64);
        if (OperatingSystem.IsLinux() && !s_mappingUnavailable && TryMapOnce(bytes, out var block, out var mapped, out var start))
        {
            return new PanelMemory(block, mapped, true, (float*)start, length);
        }

        return AllocateAligned(length, bytes);
    }

    // The portable path (and the one a test forces): an aligned native allocation, cleared.
    internal static PanelMemory AllocateAligned(int length, nuint bytes)
    {
        var memory = NativeMemory.AlignedAlloc(bytes, 64);
        NativeMemory.Clear(memory, bytes);
        return new PanelMemory(memory, bytes, false, (float*)memory, length);
    }

    private static bool s_mappingUnavailable;

    // A libc whose mmap cannot be bound (no "libc" to load) switches to the portable path for the rest of the process.
    private static bool TryMapOnce(nuint bytes, out void* block, out nuint mapped, out byte* start)
    {
        try
        {
            return TryMap(bytes, out block, out mapped, out start);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            s_mappingUnavailable = true;
            block = null;
            mapped = 0;
            start = null;
            return false;
        }
    }

    // Maps bytes rounded up to whole 4 KiB pages, starting on a 2 MiB boundary and advised huge when at least that large,
    // then populates the range in one call. The mapping ends where the values end: a huge page is only used for a 2 MiB
    // stretch wholly inside it, so a tail is 4 KiB pages and no block costs more resident memory than its values.
    // Returns the mapping (to unmap) and its start.
    private static bool TryMap(nuint bytes, out void* block, out nuint mapped, out byte* start)
    {
        const int protReadWrite = 0x1 | 0x2, mapPrivateAnonymous = 0x02 | 0x20;
        bool huge = bytes >= HugePages.Size;
        nuint size = (bytes + 4095) & ~(nuint)4095;
        nuint request = huge ? size + HugePages.Size : size; // room to slide to a 2 MiB boundary
        var p = MMap(null, request, protReadWrite, mapPrivateAnonymous, -1, 0);
        if (p == (void*)-1)
        {
            block = null;
            mapped = 0;
            start = null;
            return false;
        }

        var first = (byte*)p;
        if (huge)
        {
            // Unmap the unaligned head and the tail, keeping exactly [aligned, aligned + size).
            var aligned = (byte*)(((nuint)first + HugePages.Size - 1) & ~(HugePages.Size - 1));
            nuint head = (nuint)(aligned - first), tail = request - head - size;
            if (head > 0)
            {
                _ = MUnmap(first, head);
            }

            if (tail > 0)
            {
                _ = MUnmap(aligned + size, tail);
            }

            first = aligned;
        }

        HugePages.Advise(first, size); // huge pages when at least 2 MiB, then one call populates the range (Linux 5.14+)
        block = first;
        mapped = size;
        start = first;
        return true;
    }

    ~PanelMemory()
    {
        if (_mapped)
        {
            _ = MUnmap(_block, _bytes);
        }
        else
        {
            NativeMemory.AlignedFree(_block);
        }

        GC.RemoveMemoryPressure((long)_bytes);
    }

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial void* MMap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int MUnmap(void* address, nuint length);
}
