using InceptionNet.Weights.Hdf5;
using Xunit;

namespace InceptionNet.Weights.Tests;

/// <summary>
/// The h5 reader's positional reads of a file (<see cref="Hdf5ByteSource.FileSource"/>): small reads come from a few
/// windows of the file, every read of an unchanged file returns its bytes whatever the windows hold, and the windows'
/// allocations are bounded by the file's size.
/// </summary>
public sealed class Hdf5FileSourceTests : IDisposable
{
    private const int FileBytes = 200_000; // a dozen windows
    private readonly string _path = Path.Combine(Directory.CreateTempSubdirectory("inceptionnet-filesource-").FullName, "bytes.bin");
    private readonly byte[] _bytes = new byte[FileBytes];

    public Hdf5FileSourceTests()
    {
        new Random(19).NextBytes(_bytes);
        File.WriteAllBytes(_path, _bytes);
    }

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_path)!, recursive: true);

    private Hdf5ByteSource.FileSource Open() => (Hdf5ByteSource.FileSource)Hdf5ByteSource.FromFile(File.OpenHandle(_path));

    [Fact]
    public void Small_reads_near_each_other_take_one_read_of_the_file()
    {
        using var source = Open();
        var piece = new byte[16];
        for (int offset = 1000; offset < 1000 + Hdf5ByteSource.FileSource.WindowBytes - piece.Length; offset += 40)
        {
            Assert.True(source.TryRead(offset, piece));
            Assert.True(piece.AsSpan().SequenceEqual(_bytes.AsSpan(offset, piece.Length)), $"bytes at {offset}");
        }

        Assert.Equal(1, source.FileReads);
    }

    [Fact]
    public async Task Every_read_gives_the_files_bytes_from_two_threads_at_once()
    {
        using var source = Open();
        using var start = new Barrier(2); // both readers begin together, so that their reads and windows interleave
        // Offsets cluster in a few places (as metadata does) and jump about; lengths from nothing to past a window; some
        // reads end exactly at the file's end or straddle a window's.
        void Reader(int seed)
        {
            var random = new Random(seed);
            start.SignalAndWait();
            for (int i = 0; i < 20_000; i++)
            {
                int length = random.Next(8) switch
                {
                    0 => 0,
                    1 => random.Next(Hdf5ByteSource.FileSource.WindowBytes - 64, 2 * Hdf5ByteSource.FileSource.WindowBytes),
                    _ => random.Next(1, 300),
                };
                int offset = random.Next(4) == 0
                    ? FileBytes - length - random.Next(Math.Min(64, FileBytes - length + 1))
                    : (random.Next(6) * 33_000 + random.Next(20_000)) % (FileBytes - length + 1);
                var destination = new byte[length];
                Assert.True(source.TryRead(offset, destination), $"read of {length} at {offset} failed");
                Assert.True(destination.AsSpan().SequenceEqual(_bytes.AsSpan(offset, length)), $"read of {length} at {offset} differs from the file");
            }
        }

        var readers = new[] { Task.Factory.StartNew(() => Reader(1), TaskCreationOptions.LongRunning), Task.Factory.StartNew(() => Reader(2), TaskCreationOptions.LongRunning) };
        await Task.WhenAll(readers);
        Assert.True(source.FileReads < 2 * 20_000, $"{source.FileReads} reads of the file for 40,000 reads"); // the windows served some
    }

    [Fact]
    public void A_read_past_the_end_fails_and_so_does_one_past_the_end_of_a_file_that_shrank_when_no_window_holds_it()
    {
        using var source = Open();
        var piece = new byte[32];
        Assert.False(source.TryRead(FileBytes - 16, piece));
        File.WriteAllBytes(_path, _bytes.AsSpan(0, FileBytes / 2).ToArray()); // shrinks under the open handle
        Assert.False(source.TryRead(FileBytes - 1000, piece));
        Assert.True(source.TryRead(100, piece));
        Assert.True(piece.AsSpan().SequenceEqual(_bytes.AsSpan(100, piece.Length)));
    }

    [Fact]
    public void Reads_that_miss_every_window_stop_allocating_windows_at_four_times_the_file()
    {
        using var source = Open();
        // Five places further apart than the windows cover, in turn: with four windows every read misses until the budget
        // is spent (then the last four windows stay, and only the fifth place goes to the file).
        var piece = new byte[8];
        const int reads = 12_000;
        bool same = true;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < reads; i++)
        {
            int offset = i % 5 * 36_000;
            same &= source.TryRead(offset, piece) && piece.AsSpan().SequenceEqual(_bytes.AsSpan(offset, piece.Length));
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(same, "a read gave other bytes than the file's");
        Assert.Equal(4L * FileBytes + Hdf5ByteSource.FileSource.WindowBytes, source.WindowBudget);
        // The loop allocates nothing but windows; 64 KiB of slack for the runtime's own.
        Assert.True(allocated <= source.WindowBudget + (64 << 10), $"{allocated:N0} bytes allocated by {reads:N0} missed reads (budget {source.WindowBudget:N0})");
    }
}
