using System.Runtime.InteropServices;

namespace InceptionNet.Tensors;

/// <summary>
/// Native memory for packed weight panels, outside the GC heap, freed when its owner is collected. On Linux, blocks up to
/// <see cref="CarveLimit"/> are carved one after another from shared slabs: anonymous mappings of <see cref="SlabBytes"/>,
/// 2 MiB aligned and advised to use transparent huge pages, each block populated with one call before the packer writes
/// it. A collected block gives back the pages wholly its own at once (splitting the huge page around them, so its live
/// neighbours go on in small pages), so that garbage is not kept resident by the live blocks beside it; a slab is
/// unmapped once all its blocks are collected. A load's known garbage, the parts of fused branches (29 of FaceNet's
/// 152 MB), is packed as interim (<see cref="EnterInterim"/>) into slabs of its own, so that its release splits no huge
/// page of the weights that stay. Larger blocks get a mapping of their own, aligned and advised the same way. That is
/// why it exists: a cold start writes about 150 MB of fresh panels for FaceNet (its Winograd forms included) in 683
/// blocks, most under 2 MiB, and a fresh 4 KiB page cost about 7 µs on a Zen 5 VM: with a mapping per block FaceNet's
/// build took 390-520 ms in a fresh process, with slabs about 200 (bench/results/README.md). Elsewhere, or when mapping fails, it is an aligned native allocation. Either way
/// the memory starts zeroed (slabs are fresh and never reused); a block starts on a 4 KiB boundary when carved or mapped,
/// on a 64-byte one otherwise.
/// </summary>
internal sealed unsafe partial class PanelMemory
{
    /// <summary>Bytes of one shared slab: sixteen huge pages.</summary>
    internal const nuint SlabBytes = 32 << 20;

    /// <summary>Blocks of at most this many bytes are carved from a slab; larger ones are mapped on their own.</summary>
    internal const nuint CarveLimit = SlabBytes / 2;

    private static readonly Lock s_carving = new();
    private static WeakReference<Slab>? s_current; // weak: a slab none of whose blocks is alive goes, current or not
    private static WeakReference<Slab>? s_interim; // the same for interim blocks (EnterInterim)

    [ThreadStatic]
    private static int t_interimDepth;

    [ThreadStatic]
    private static List<(long Bytes, WeakReference<PanelMemory> Block)>? t_interimLog;

    /// <summary>
    /// Until the matching <see cref="ExitInterim"/>, blocks this thread allocates are interim (<see cref="PackedConvWeights.Interim"/>)
    /// and carved from slabs of their own. Given back among long-lived blocks, FaceNet's fused heads made its batch-16
    /// pass on the 256-bit set 8-10 % slower on a Zen 5 VM (bench/results/README.md). Nests.
    /// </summary>
    internal static void EnterInterim() => t_interimDepth++;

    /// <summary>Ends the innermost <see cref="EnterInterim"/> on this thread.</summary>
    internal static void ExitInterim()
    {
        if (t_interimDepth == 0)
        {
            throw new InvalidOperationException("No interim packing to end on this thread.");
        }

        t_interimDepth--;
    }

    /// <summary>
    /// From now until <see cref="StopLoggingInterim"/>, every interim block this thread allocates is added to the returned
    /// list with its bytes (tests: which parts a model packs as interim, and whether it drops them all).
    /// </summary>
    internal static List<(long Bytes, WeakReference<PanelMemory> Block)> LogInterimOnThisThread() => t_interimLog = [];

    /// <summary>Ends <see cref="LogInterimOnThisThread"/>.</summary>
    internal static void StopLoggingInterim() => t_interimLog = null;

    private readonly void* _block; // what was mapped or allocated (null when carved)
    private readonly nuint _bytes; // its size, for munmap
    private readonly bool _mapped;
    private readonly Slab? _slab; // the slab a carved block lives in: kept mapped as long as this block is reachable

    private PanelMemory(void* block, nuint bytes, bool mapped, float* values, int length, Slab? slab = null)
    {
        _block = block;
        _bytes = bytes;
        _mapped = mapped;
        _slab = slab;
        Values = values;
        Length = length;
        GC.AddMemoryPressure((long)bytes);
    }

    /// <summary>First value (at least 64-byte aligned; valid while this object is reachable).</summary>
    public float* Values { get; }

    /// <summary>Number of floats.</summary>
    public int Length { get; }

    /// <summary>The values as a span (valid while this object is reachable).</summary>
    public Span<float> Span => new(Values, Length);

    /// <summary>The slab this block was carved from, or null (tests).</summary>
    internal Slab? CarvedFrom => _slab;

    /// <summary><paramref name="length"/> zeroed floats.</summary>
    public static PanelMemory Allocate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        nuint bytes = BytesFor(length);
        bool interim = t_interimDepth > 0;
        var memory = Place(length, bytes, ref interim ? ref s_interim : ref s_current);
        if (interim && t_interimLog is { } log)
        {
            log.Add(((long)bytes, new WeakReference<PanelMemory>(memory)));
        }

        return memory;
    }

    // Carved from the given chain of slabs (long-lived or interim), else mapped on its own, else allocated.
    private static PanelMemory Place(int length, nuint bytes, ref WeakReference<Slab>? slabs)
    {
        if (OperatingSystem.IsLinux() && !s_mappingUnavailable)
        {
            if (bytes <= CarveLimit && TryCarve(length, bytes, ref slabs) is { } carved)
            {
                return carved;
            }

            if (TryMapOnce(bytes, huge: bytes >= HugePages.Size, out var block, out var mapped, out var start))
            {
                HugePages.Advise(start, mapped); // huge pages when at least 2 MiB, then one call populates the range (Linux 5.14+)
                return new PanelMemory(block, mapped, true, (float*)start, length);
            }
        }

        return AllocateAligned(length, bytes);
    }

    // The bytes a block of `length` floats takes: never less than a cache line.
    private static nuint BytesFor(int length) => Math.Max((nuint)length * sizeof(float), 64);

    // The next block of the current slab (long-lived or interim), or of a new one when it has no room left; its pages populated.
    private static PanelMemory? TryCarve(int length, nuint bytes, ref WeakReference<Slab>? current)
    {
        Slab? slab;
        byte* start;
        lock (s_carving)
        {
            if (current is null || !current.TryGetTarget(out slab) || (start = slab.TryTake(bytes)) is null)
            {
                slab = Slab.TryCreate();
                if (slab is null)
                {
                    return null;
                }

                current = new WeakReference<Slab>(slab);
                start = slab.TryTake(bytes);
            }
        }

        return Carved(slab, start, length, bytes);
    }

    /// <summary><paramref name="length"/> zeroed floats carved from <paramref name="slab"/>; null when it has no room left.</summary>
    internal static PanelMemory? CarveFrom(Slab slab, int length)
    {
        nuint bytes = BytesFor(length);
        byte* start;
        lock (s_carving)
        {
            start = slab.TryTake(bytes);
        }

        return start is null ? null : Carved(slab, start, length, bytes);
    }

    private static PanelMemory Carved(Slab slab, byte* start, int length, nuint bytes)
    {
        HugePages.Populate(start, bytes); // outside the lock: another load may carve beside this one meanwhile
        return new PanelMemory(null, bytes, false, (float*)start, length, slab);
    }

    /// <summary>A shared mapping blocks are carved from, front to back, and never reused; unmapped when collected.</summary>
    internal sealed class Slab
    {
        private readonly byte* _start;
        private readonly nuint _alignment;
        private nuint _taken;
        private bool _unmapped;

        private Slab(byte* start, nuint alignment)
        {
            _start = start;
            _alignment = alignment;
        }

        /// <summary>
        /// A fresh slab of <see cref="SlabBytes"/>, 2 MiB aligned and advised huge, nothing populated; null when it cannot
        /// be mapped. Its blocks start on multiples of <paramref name="alignment"/> (a power of two, at least 64; tests
        /// carve blocks that share pages, as 4 KiB blocks do on a kernel with larger pages).
        /// </summary>
        public static Slab? TryCreate(nuint alignment = 4096)
        {
            if (!TryMapOnce(SlabBytes, huge: true, out _, out _, out var start))
            {
                return null;
            }

            HugePages.AdviseHuge(start, SlabBytes);
            return new Slab(start, alignment);
        }

        /// <summary>
        /// The start of the next <paramref name="bytes"/>, or null when the slab has no room left. Only under the carving
        /// lock. Every block starts on a 4 KiB boundary, as a mapping of its own did on x64: with blocks 64 bytes apart
        /// FaceNet's batch-16 pass was 5-8 % slower (alternating runs of <c>--quick</c>, Zen 5), for 2 KiB of padding a
        /// block. On a kernel with larger pages (16 or 64 KiB on arm64) neighbours may share a page; releasing a block
        /// rounds inwards to the system's pages, so a shared one is kept.
        /// </summary>
        public byte* TryTake(nuint bytes)
        {
            nuint offset = (_taken + _alignment - 1) & ~(_alignment - 1);
            if (bytes > SlabBytes || offset > SlabBytes - bytes)
            {
                return null;
            }

            _taken = offset + bytes;
            return _start + offset;
        }

        /// <summary>Gives back the whole pages of a block carved from this slab, unless the slab is gone already.</summary>
        public void Release(void* block, nuint bytes)
        {
            if (!_unmapped)
            {
                HugePages.Release(block, bytes);
            }
        }

        ~Slab()
        {
            _unmapped = true;
            _ = MUnmap(_start, SlabBytes);
        }
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
    private static bool TryMapOnce(nuint bytes, bool huge, out void* block, out nuint mapped, out byte* start)
    {
        try
        {
            return TryMap(bytes, huge, out block, out mapped, out start);
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

    // Maps bytes rounded up to whole pages, starting on a 2 MiB boundary when `huge`. The mapping ends where the
    // values end: a huge page is only used for a 2 MiB stretch wholly inside it, so a tail is small pages and no block
    // costs more resident memory than its values. Returns the mapping (to unmap) and its start.
    private static bool TryMap(nuint bytes, bool huge, out void* block, out nuint mapped, out byte* start)
    {
        const int protReadWrite = 0x1 | 0x2, mapPrivateAnonymous = 0x02 | 0x20;
        nuint size = HugePages.RoundUp(bytes);
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

        block = first;
        mapped = size;
        start = first;
        return true;
    }

    ~PanelMemory()
    {
        // A carved block gives back the pages wholly its own; the slab is unmapped once unreachable, once all its blocks
        // are. Finalizers run one at a time on one thread, so the slab cannot be unmapped (and its range mapped again
        // for something else) while this runs; it may already have been, when both became unreachable together.
        if (_slab is not null)
        {
            _slab.Release(Values, _bytes);
        }
        else if (_mapped)
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
