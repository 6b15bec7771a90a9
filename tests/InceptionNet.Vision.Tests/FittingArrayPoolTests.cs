using System.Collections.Concurrent;
using InceptionNet.Vision;
using Xunit;

namespace InceptionNet.Vision.Tests;

/// <summary>
/// The decoders' pool (issue 14): a stream of photos of different sizes must leave about as many large buffers as one decode
/// uses, not a set per size class, which is what kept a run over 60 varied photos ~50 MB above its largest photo alone.
/// </summary>
public sealed class FittingArrayPoolTests
{
    private const int Max = 1 << 26;

    [Fact]
    public void A_large_rent_takes_a_longer_free_array_whatever_its_size()
    {
        var pool = new FittingArrayPool<short>(Max);
        var big = pool.Rent(6_000_000);
        pool.Return(big);
        Assert.Same(big, pool.Rent(1_000_000)); // a power-of-two pool would make a new 1 M (2^20) array here
    }

    [Fact]
    public void Photos_of_changing_sizes_leave_as_many_large_arrays_as_one_decode_uses()
    {
        // Each "decode" rents a coefficient buffer and three planes of its photo's size (all large rents), then returns
        // them. Sizes go up and down over 2^18..2^23, several power-of-two classes.
        var pool = new FittingArrayPool<byte>(Max);
        int[] pixels = [1_048_576, 2_137_880, 1_440_000, 718_800, 3_100_000, 300_000, 1_232_640, 2_137_880, 1_585_152];
        long largestDecode = 0;
        for (int round = 0; round < 3; round++)
        {
            foreach (int p in pixels)
            {
                byte[][] rented = [pool.Rent(p * 3 / 2), pool.Rent(p), pool.Rent(p / 4), pool.Rent(p / 4)];
                largestDecode = Math.Max(largestDecode, rented.Sum(a => (long)a.Length));
                foreach (var a in rented)
                {
                    pool.Return(a);
                }

                Assert.InRange(pool.FreeCount, 1, 4); // a miss lets a too-short array go: never more than were in use at once
            }
        }

        // Held: four arrays, each at most an eighth over the largest request, or an older photo's longer array taken over
        // (a plane may sit in a coefficient buffer): measured exactly the largest decode; 2x allows any such mix.
        Assert.InRange(pool.FreeElements, 1, 2 * largestDecode);
    }

    [Fact]
    public void A_photo_a_little_larger_than_the_last_reuses_most_of_its_buffers()
    {
        // Coefficients first, then the planes, as a JPEG decode rents them. The 10 % larger photo's coefficients need a
        // new array, but the old coefficient buffer serves its luma plane and the old luma plane one chroma plane: two
        // new arrays of four, where letting go of each too-short array on a miss replaced all four.
        var pool = new FittingArrayPool<byte>(Max);
        int[] Sizes(int p) => [p * 3 / 2, p, p / 4, p / 4];
        var before = Sizes(1_000_000).Select(pool.Rent).ToList();
        before.ForEach(a => pool.Return(a));
        var after = Sizes(1_100_000).Select(pool.Rent).ToList();
        Assert.Equal(2, after.Count(a => !before.Any(b => ReferenceEquals(a, b))));
        after.ForEach(a => pool.Return(a));
        Assert.Equal(4, pool.FreeCount);
    }

    [Fact]
    public void A_small_rent_does_not_take_a_photo_sized_array()
    {
        var pool = new FittingArrayPool<int>(Max);
        var plane = pool.Rent(2_000_000);
        pool.Return(plane);
        var row = pool.Rent(2_400);
        Assert.NotSame(plane, row);
        Assert.InRange(row.Length, 2_400, 4_096);
        pool.Return(row);
        Assert.Equal(2, pool.FreeCount); // the small array was made beside the plane, which stays for the next photo
        Assert.Same(plane, pool.Rent(1_900_000));
    }

    [Fact]
    public void Free_arrays_are_capped_and_arrays_over_the_maximum_are_not_kept()
    {
        var pool = new FittingArrayPool<byte>(1 << 20);
        var many = Enumerable.Range(1, FittingArrayPool<byte>.MaxKept + 10).Select(i => pool.Rent(i * 100)).ToList();
        many.ForEach(a => pool.Return(a));
        Assert.Equal(FittingArrayPool<byte>.MaxKept, pool.FreeCount);
        Assert.True(pool.Rent(100).Length >= 1_100); // the shortest ten (100..1000) were let go, the longest kept
        var huge = pool.Rent((1 << 20) + 1);
        Assert.Equal((1 << 20) + 1, huge.Length);
        int before = pool.FreeCount;
        pool.Return(huge);
        Assert.Equal(before, pool.FreeCount);
        Assert.Empty(pool.Rent(0));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(17)]
    [InlineData(4095)]
    [InlineData(4097)]
    [InlineData(65_537)]
    [InlineData(6_393_600)]
    [InlineData(Max - 1)]
    public void New_arrays_are_at_most_an_eighth_over_the_request(int length)
    {
        int rounded = FittingArrayPool<byte>.RoundUp(length, Max);
        Assert.InRange(rounded, length, Math.Max(16, length <= 4096 ? 2 * length : length + length / 8));
        Assert.Equal(length, FittingArrayPool<byte>.RoundUp(length, length)); // never past the pool's maximum
    }

    [Fact]
    public void Arrays_rented_at_once_from_many_threads_are_never_the_same()
    {
        var pool = new FittingArrayPool<byte>(Max);
        var errors = new ConcurrentBag<string>();
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 4 }, t =>
        {
            var random = new Random(t);
            for (int i = 0; i < 500; i++)
            {
                var a = pool.Rent(random.Next(1, 200_000));
                var b = pool.Rent(random.Next(1, 200_000));
                a.AsSpan().Fill((byte)t);
                b.AsSpan().Fill((byte)(t + 100));
                Thread.Yield(); // another thread holding the same array would overwrite it now
                if (ReferenceEquals(a, b) || a.AsSpan().IndexOfAnyExcept((byte)t) >= 0 || b.AsSpan().IndexOfAnyExcept((byte)(t + 100)) >= 0)
                {
                    errors.Add($"thread {t}, iteration {i}: an array was handed out twice");
                }

                pool.Return(a);
                pool.Return(b);
            }
        });
        Assert.Empty(errors);
    }
}
