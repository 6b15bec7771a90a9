using Xunit;

namespace InceptionNet.Tensors.Tests;

public sealed class TensorPoolTests
{
    [Fact]
    public void An_exact_pool_reuses_a_buffer_only_for_its_own_length()
    {
        var pool = new TensorPool();
        var a = pool.Rent(1, 4, 5, 3);
        pool.Return(a);
        Assert.Same(a.Buffer, pool.Rent(1, 5, 4, 3).Buffer);
        pool.Return(a);
        Assert.NotSame(a.Buffer, pool.Rent(1, 4, 5, 2).Buffer);
    }

    [Fact]
    public void A_reuse_larger_pool_serves_shorter_tensors_from_the_shortest_buffer_that_fits_and_clears_only_the_tensor()
    {
        var pool = new TensorPool(reuseLarger: true);
        var big = pool.Rent(1, 10, 10, 3);
        var mid = pool.Rent(1, 5, 5, 3);
        big.Buffer.AsSpan().Fill(7);
        pool.Return(big);
        pool.Return(mid);
        var small = pool.Rent(1, 3, 3, 3);
        Assert.Same(mid.Buffer, small.Buffer); // 27 values: the 75-value buffer, not the 300-value one
        var cleared = pool.Rent(2, 2, 3, 5, clear: true);
        Assert.Same(big.Buffer, cleared.Buffer);
        Assert.All(cleared.Buffer.AsSpan(0, 60).ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(7f, cleared.Buffer[60]); // beyond the tensor: left alone
    }

    [Fact]
    public void A_reuse_larger_pool_allocates_nothing_once_it_holds_the_largest_sizes_and_lets_shorter_buffers_go()
    {
        var pool = new TensorPool(reuseLarger: true);
        var seen = new List<WeakReference<float[]>>();
        Churn(pool, seen, 500, rounds: 50, new Random(1), new TensorSlice[3]); // sizes grow and shrink: buffers replaced by longer ones
        var held = new[] { pool.Rent(1, 1, 1, 500), pool.Rent(1, 1, 1, 500), pool.Rent(1, 1, 1, 500) };
        foreach (var t in held)
        {
            pool.Return(t);
        }

        var random = new Random(2);
        var slots = new TensorSlice[3];
        Churn(pool, seen: null, 500, rounds: 10, random, slots); // compiles the measured path
        long before = GC.GetAllocatedBytesForCurrentThread();
        Churn(pool, seen: null, 500, rounds: 1000, random, slots);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        // At most three rented at once, so the pool holds at most three buffers: every other buffer it saw is collectable.
        held = null;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        int alive = seen.Count(w => w.TryGetTarget(out _));
        Assert.InRange(alive, 0, 3);
    }

    // Three tensors of random lengths at a time, returned in a random order.
    private static void Churn(TensorPool pool, List<WeakReference<float[]>>? seen, int maxLength, int rounds, Random random, TensorSlice[] slots)
    {
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < slots.Length; i++)
            {
                slots[i] = pool.Rent(1, 1, 1, random.Next(1, maxLength + 1));
                if (seen is not null)
                {
                    Remember(seen, slots[i].Buffer);
                }
            }

            int first = random.Next(3);
            for (int i = 0; i < slots.Length; i++)
            {
                pool.Return(slots[(first + i) % 3]);
            }
        }
    }

    // Kept out of Churn: a lambda there would allocate its closure even on the measured path.
    private static void Remember(List<WeakReference<float[]>> seen, float[] buffer)
    {
        if (!seen.Any(w => w.TryGetTarget(out var b) && ReferenceEquals(b, buffer)))
        {
            seen.Add(new WeakReference<float[]>(buffer));
        }
    }
}
