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

    /// <summary>A file on disk, read with positional reads (no shared stream position); takes ownership of the handle.</summary>
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

    private sealed class FileSource(SafeFileHandle handle) : Hdf5ByteSource
    {
        private readonly long _length = RandomAccess.GetLength(handle);

        public override long Length => _length;

        public override bool TryRead(long offset, Span<byte> destination)
        {
            while (destination.Length > 0)
            {
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
