namespace InceptionNet.Pipeline;

/// <summary>
/// Keeps a long run over many photos at the memory of a short one. Each photo leaves megabytes of large-object garbage
/// (decoded pixels, detector crops) that the GC would otherwise let pile up for hundreds of photos before a full
/// collection, so the peak grew with the number of photos. After each photo, once more than <see cref="Budget"/> bytes
/// were allocated since the last full collection, one is made: a few milliseconds against hundreds per photo.
/// </summary>
public static class MemoryCeiling
{
    /// <summary>Bytes a run may allocate between two full collections.</summary>
    public const long Budget = 16L << 20;

    private static long s_collectedAt;

    /// <summary>Call between photos: collects when the garbage since the last collection exceeds <see cref="Budget"/>.</summary>
    public static void AfterPhoto()
    {
        long allocated = GC.GetTotalAllocatedBytes();
        if (allocated - Interlocked.Read(ref s_collectedAt) < Budget)
        {
            return;
        }

        Interlocked.Exchange(ref s_collectedAt, allocated);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);
    }
}
