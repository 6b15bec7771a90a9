using InceptionNet.Detection;
using InceptionNet.TestSupport;
using Xunit;

namespace InceptionNet.Detection.Tests;

/// <summary>
/// The detector's work is split so its memory does not grow with the photo: P-Net runs over each pyramid level a band of map rows at a time (bounded memory); the bands' outputs must be the
/// whole level's, bit for bit, at every level shape: odd and even row counts (the pool's SAME padding at the end), a
/// level that is one band, bands of one row, and a last band shorter than the others. R-Net and O-Net run on the candidates a chunk at a time, which must
/// equal one batch of all of them.
/// </summary>
public sealed class MtcnnBoundedWorkTests
{
    private static readonly Lazy<MtcnnNetworks> Networks = new(() => MtcnnNetworks.Load(SharedData.PathOf("weights", "mtcnn")));

    [Theory]
    [InlineData(12, 12, 1)]      // the smallest level: a 1×1 map
    [InlineData(13, 12, 1)]      // odd rows: the pool pads the last row
    [InlineData(31, 17, 1)]      // bands of one map row
    [InlineData(31, 17, 4)]
    [InlineData(100, 57, 3 * 24)] // 3 map rows per band, the last band shorter
    [InlineData(257, 33, 11 * 12)]
    [InlineData(640, 37, 1 << 14)] // one band: the whole level
    [InlineData(641, 90, 41 * 5)]
    public void Banded_pnet_equals_the_whole_level_bit_for_bit(int rows, int cols, int bandCells)
    {
        var pnet = Networks.Value.PNet;
        var random = new Random(rows * 1000 + cols);
        var level = new float[rows * cols * 3];
        for (int i = 0; i < level.Length; i++)
        {
            level[i] = (float)(random.NextDouble() * 2 - 1);
        }

        var whole = new float[2][];
        var (wholeA, wholeB) = pnet.Run(level, 1, rows, cols, whole);
        var map = new float[][] { [], [] };
        var (a, b) = MtcnnDetector.RunPNetInBands(pnet, level, rows, cols, bandCells, new float[2][], map);

        Assert.Equal((wholeA, wholeB), (a, b));
        for (int head = 0; head < 2; head++)
        {
            int length = a * b * (head == 0 ? 2 : 4);
            for (int i = 0; i < length; i++)
            {
                // Bit equality: a band must compute each output from the same inputs in the same order.
                Assert.True(BitConverter.SingleToInt32Bits(whole[head][i]) == BitConverter.SingleToInt32Bits(map[head][i]),
                    $"head {head}, value {i} (map row {i / (b * (head == 0 ? 2 : 4))}): whole {whole[head][i]:R}, banded {map[head][i]:R}");
            }
        }
    }

    [Theory]
    [InlineData(true, 1, 64)]
    [InlineData(true, 63, 64)]
    [InlineData(true, 65, 64)]
    [InlineData(true, 200, 7)]
    [InlineData(false, 1, 64)]
    [InlineData(false, 129, 64)]
    [InlineData(false, 50, 3)]
    public void Rnet_and_onet_in_chunks_equal_one_batch_bit_for_bit(bool rnet, int n, int chunk)
    {
        var net = rnet ? Networks.Value.RNet : Networks.Value.ONet;
        int size = rnet ? 24 : 48;
        var random = new Random(n * 31 + chunk);
        var crops = new float[n * size * size * 3];
        for (int i = 0; i < crops.Length; i++)
        {
            crops[i] = (float)(random.NextDouble() * 2 - 1);
        }

        var batch = new float[net.HeadCount][];
        net.Run(crops, n, size, size, batch);
        var chunked = new float[net.HeadCount][];
        net.RunInChunks(crops, n, size, size, chunk, chunked, new float[net.HeadCount][]);
        for (int head = 0; head < net.HeadCount; head++)
        {
            int length = n * net.HeadChannels(head);
            for (int i = 0; i < length; i++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(batch[head][i]) == BitConverter.SingleToInt32Bits(chunked[head][i]),
                    $"head {head}, crop {i / net.HeadChannels(head)}: one batch {batch[head][i]:R}, in chunks {chunked[head][i]:R}");
            }
        }
    }
}
