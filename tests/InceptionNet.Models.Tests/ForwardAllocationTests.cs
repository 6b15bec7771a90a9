using InceptionNet.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Models.Tests;

/// <summary>Tests that count every thread's allocations, so nothing else may run beside them.</summary>
[CollectionDefinition(nameof(AllocationCounting), DisableParallelization = true)]
public sealed class AllocationCounting;

[Collection(nameof(AllocationCounting))]
public sealed class ForwardAllocationTests(FaceNetFixture fixture, ITestOutputHelper output) : IClassFixture<FaceNetFixture>
{
    // Other threads (the test host's reporting, the JIT's background tier-up right after the first passes) may allocate
    // while a pass runs, and that can only add bytes: the smallest count over several passes is the forward pass's own.
    // One pass that allocates nothing on any thread proves the claim; a pass that allocates on a worker every time fails
    // every attempt.
    private const int Attempts = 10;

    [Fact]
    public void A_warm_forward_pass_allocates_nothing_on_any_thread()
    {
        foreach (int batch in new[] { 1, 4 })
        {
            var input = fixture.Inputs.Take(batch).SelectMany(x => x).ToArray();
            var raw = new float[batch * 128];
            for (int warm = 0; warm < 3; warm++)
            {
                fixture.Model.Forward(input, batch, raw); // the first pass of this batch size sizes the pools
            }

            long fewest = SmallestAllocation(() => fixture.Model.Forward(input, batch, raw));
            output.WriteLine($"batch {batch}: {fewest} bytes allocated by a warm pass (all threads, fewest of {Attempts})");
            Assert.Equal(0, fewest);
        }
    }

    [Fact]
    public void The_count_sees_allocations_made_on_worker_threads()
    {
        using var pool = new WorkerPool(2);
        var sink = new object[64];
        // Every item allocates; whichever thread runs it, the process-wide count must see it.
        long fewest = SmallestAllocation(() => pool.For(sink.Length, i => sink[i] = new byte[1024]));
        Assert.True(fewest >= sink.Length * 1024, $"only {fewest} bytes counted for {sink.Length} KiB allocated");
    }

    private static long SmallestAllocation(Action action)
    {
        long fewest = long.MaxValue;
        for (int attempt = 0; attempt < Attempts && fewest > 0; attempt++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            action();
            fewest = Math.Min(fewest, GC.GetTotalAllocatedBytes(precise: true) - before);
        }

        return fewest;
    }
}
