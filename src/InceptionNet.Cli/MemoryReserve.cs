using System.Runtime.ExceptionServices;

namespace InceptionNet.Cli;

/// <summary>
/// A few megabytes held from the start and let go the moment an <see cref="OutOfMemoryException"/> is thrown, before any
/// handler runs. Without it, a run that reached its heap's limit could die in the runtime itself: the async machinery
/// that carries the exception to the command's handler allocates to capture it, that allocation failed too, and the
/// process aborted with the runtime's bare "Out of memory." and exit 134 (seen in 2 of 3 runs of <c>embed</c> under a
/// 96 MiB <c>DOTNET_GCHeapHardLimit</c>) instead of printing the documented error line and exiting 2.
/// </summary>
internal static class MemoryReserve
{
    /// <summary>Bytes held in reserve: far more than capturing and reporting an exception needs.</summary>
    public const int Bytes = 4 << 20;

    private static byte[]? s_reserve;

    private static int s_watching;

    /// <summary>
    /// Takes the reserve (again, if an earlier out-of-memory let it go) and watches for the next out-of-memory exception.
    /// A one-shot command installs it once; a long-running one may call this again after handling an out-of-memory.
    /// </summary>
    public static void Install()
    {
        s_reserve ??= new byte[Bytes]; // fresh pages from the OS: counted in the heap, not resident until written
        if (Interlocked.Exchange(ref s_watching, 1) == 0)
        {
            AppDomain.CurrentDomain.FirstChanceException += Release;
        }
    }

    /// <summary>Whether the reserve is still held (for tests).</summary>
    public static bool Held => s_reserve is not null;

    // Runs on the throwing thread before any catch block and allocates nothing itself (the runtime allocates the event's
    // arguments, so this is best effort: if even that fails, the runtime's own handling takes over).
    private static void Release(object? sender, FirstChanceExceptionEventArgs e)
    {
        if (e.Exception is OutOfMemoryException)
        {
            s_reserve = null;
        }
    }
}
