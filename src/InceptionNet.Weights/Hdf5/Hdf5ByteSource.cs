using Microsoft.Win32.SafeHandles;

namespace InceptionNet.Weights.Hdf5;

/// <summary>
/// The bytes of an HDF5 file, read at absolute offsets. Callers check every range against <see cref="Length"/> first,
/// so a source only has to report a file that shrank while being read.
/// </summary>
internal abstract class Hdf5ByteSource : IDisposable
{
    /// <summary>Number of bytes in the file.</summary>
    public abstract long Length { get; }

    /// <summary>An in-memory file.</summary>
    public static Hdf5ByteSource FromArray(byte[] bytes) => new ArraySource(bytes);

    /// <summary>
    /// A file on disk, read with positional reads (no shared stream position), small reads served from a few recent
    /// windows of it (see <see cref="FileSource"/>); takes ownership of the handle.
    /// </summary>
    public static Hdf5ByteSource FromFile(SafeFileHandle handle) => new FileSource(handle);

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/>; false when the file ended first.</summary>
    public abstract bool TryRead(long offset, Span<byte> destination);

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the file handle, if any.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    private sealed class ArraySource(byte[] bytes) : Hdf5ByteSource
    {
        public override long Length => bytes.Length;

        public override bool TryRead(long offset, Span<byte> destination)
        {
            if (offset < 0 || offset > bytes.Length || destination.Length > bytes.Length - offset)
            {
                return false;
            }

            bytes.AsSpan((int)offset, destination.Length).CopyTo(destination);
            return true;
        }
    }

    /// <summary>
    /// Positional reads of a file. Reads of at most <see cref="WindowBytes"/> are served from the last
    /// <see cref="Windows"/> windows of the file read, each <see cref="WindowBytes"/> from where a read that missed them
    /// started: HDF5 metadata comes in thousands of reads of 8 to 256 bytes (6,176 to open FaceNet's h5 file), clustered
    /// around each object, and takes 326 reads of the file with the windows. Opening that file again in a warm process took
    /// 30-36 ms (medians) with a system call a read, 16-18 with the windows, on a Zen 5 VM; a fresh process's first open is
    /// the runtime's own warm-up. A window is an immutable snapshot, replaced whole, so threads that read at once (the
    /// digest's beside the model's) need no lock. Larger reads go to the file directly, and so does every read once the
    /// windows have taken <see cref="WindowBudget"/> bytes (four times the file, at most 64 MiB): a file whose structures
    /// jump about cannot make them allocate more than that. A small read answered from a window gives the file's bytes as
    /// they were when the window was read: a file changed while it is being read (which the reader does not allow for) is
    /// noticed only by larger reads and by reads past its new end that no window holds.
    /// </summary>
    internal sealed class FileSource(SafeFileHandle handle) : Hdf5ByteSource
    {
        /// <summary>Bytes of one window.</summary>
        public const int WindowBytes = 16 << 10;

        /// <summary>How many windows are kept, the oldest replaced first.</summary>
        public const int Windows = 4;

        /// <summary>The most bytes the windows of any file may take before every read goes to the file directly.</summary>
        public const long MaxWindowBytes = 64L << 20;

        private readonly long _length = RandomAccess.GetLength(handle);
        private long _windowBytes;
        private readonly Window?[] _windows = new Window?[Windows];
        private int _windowReads;
        private int _fileReads;

        public override long Length => _length;

        /// <summary>Bytes the windows may take: four times the file and one window, at most <see cref="MaxWindowBytes"/>.</summary>
        public long WindowBudget => Math.Min(MaxWindowBytes, 4 * _length + WindowBytes);

        /// <summary>Reads made of the file itself so far (tests count them).</summary>
        public int FileReads => Volatile.Read(ref _fileReads);

        public override bool TryRead(long offset, Span<byte> destination)
        {
            if (destination.Length > WindowBytes || offset < 0 || offset > _length - destination.Length)
            {
                return ReadFile(offset, destination); // large, or not wholly inside the file as it was opened
            }

            foreach (var window in _windows)
            {
                if (window is not null && window.TryCopy(offset, destination))
                {
                    return true;
                }
            }

            int size = (int)Math.Min(WindowBytes, _length - offset);
            var bytes = Interlocked.Add(ref _windowBytes, size) <= WindowBudget ? new byte[size] : null;
            if (bytes is null || !ReadFile(offset, bytes))
            {
                return ReadFile(offset, destination); // past the windows' budget; or the file shrank, and may still hold this
            }

            int slot = (int)((uint)Interlocked.Increment(ref _windowReads) % Windows);
            Volatile.Write(ref _windows[slot], new Window(offset, bytes));
            bytes.AsSpan(0, destination.Length).CopyTo(destination);
            return true;
        }

        private bool ReadFile(long offset, Span<byte> destination)
        {
            while (destination.Length > 0)
            {
                Interlocked.Increment(ref _fileReads);
                int read = RandomAccess.Read(handle, destination, offset);
                if (read <= 0)
                {
                    return false;
                }

                destination = destination[read..];
                offset += read;
            }

            return true;
        }

        private sealed class Window(long offset, byte[] bytes)
        {
            public bool TryCopy(long from, Span<byte> destination)
            {
                if (from < offset || from - offset > bytes.Length - destination.Length)
                {
                    return false;
                }

                bytes.AsSpan((int)(from - offset), destination.Length).CopyTo(destination);
                return true;
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                handle.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
