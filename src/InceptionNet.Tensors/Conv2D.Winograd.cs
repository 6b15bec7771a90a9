using System.Runtime.CompilerServices;

namespace InceptionNet.Tensors;

public static partial class Conv2D
{
    /// <summary>
    /// Whether convolutions whose weights carry a Winograd form (stride-1 3×3, 1×7 and 7×1; stride-2 3×3)
    /// (<see cref="PackedConvWeights.PrepareWinograd"/>) run through it (always, in the product; the benchmarks' same-process A/B switches it off and on).
    /// </summary>
    internal static bool WinogradEnabled { get; set; } = true;

    [ThreadStatic]
    private static WinogradJob? t_winograd;

    private static void ForwardWinograd(TensorSlice input, PackedConvWeights weights, WinogradWeights transformed, int outH, int outW,
        int top, int left, TensorSlice output, ConvEpilogue epilogue, KernelSet kernels, WorkerPool pool)
    {
        var job = t_winograd ??= new WinogradJob();
        job.Set(input, weights, transformed, outH, outW, top, left, output, epilogue, kernels, pool);
        try
        {
            pool.Run(job, job.ItemCount);
        }
        finally
        {
            job.Clear();
        }
    }

    /// <summary>
    /// Winograd convolution: the output is cut into tiles (2×2 for F(2×2, 3×3) and the stride-2 form; 1×2 along rows for
    /// a 1×7 kernel's F(2, 7), 2×1 along columns for a 7×1's), numbered image by image, row by row. An item takes a run of
    /// tiles and a group of output panels: it transforms each tile's input patch (4×4, 1×8, 8×1, or 5×5 at stride 2;
    /// <c>V = Bᵀ d B</c>, <c>Bᵀ d</c> or <c>T d Tᵀ</c>, every
    /// channel; patches reaching into the padding or past the input's last row or column are gathered with zeros first),
    /// multiplies, for each element ξ, the
    /// tiles' <c>V_ξ</c> rows by the panel of <c>U_ξ</c> with the convolution's own micro-kernel, transforms each tile's
    /// products back (<c>Y = Aᵀ M A</c>, <c>Aᵀ M</c> or <c>S M Sᵀ</c>) into the output rows it covers, and stores those rows through the
    /// epilogue as the direct convolution does (bias, residual, activation, split, channel slices).
    /// </summary>
    private sealed unsafe class WinogradJob : ConvWork
    {
        private const int Tc = KernelSet.TileColumns;

        // Transformed patches of an item are kept to about this many floats (256 KB), so they stay in L2 across the panels.
        private const int PatchBudget = 65536;

        private WinogradWeights? _transformed;
        private int _xi, _tileH, _tileW, _patchH, _patchW, _stride;
        private int _tilesX, _tilesPerImage, _tiles;
        private int _runLength, _runs;

        public int ItemCount => _runs * _panelGroups;

        public void Set(TensorSlice input, PackedConvWeights weights, WinogradWeights transformed, int outH, int outW, int top, int left,
            TensorSlice output, ConvEpilogue epilogue, KernelSet kernels, WorkerPool pool)
        {
            Bind(input, weights, outH, outW, top, left, output, epilogue, kernels, pool);
            _transformed = transformed;
            (_tileH, _tileW, _patchH, _patchW, _xi) = WinogradWeights.TileOf(transformed.Kind);
            _stride = transformed.Stride;
            (int tileRows, _tilesX) = WinogradWeights.TileGrid(transformed.Kind, outH, outW);
            _tilesPerImage = tileRows * _tilesX;
            _tiles = input.N * _tilesPerImage;

            // Runs of whole micro-kernel tiles: at most 48 tiles, fewer when the channels are many (PatchBudget), and
            // short enough that small maps still give every worker a few runs.
            int rows = kernels.TileRows;
            int byBudget = Math.Max(rows, PatchBudget / (_xi * input.C) / rows * rows);
            int bySpread = RoundUp((_tiles + 2 * pool.WorkerCount - 1) / (2 * pool.WorkerCount), rows);
            _runLength = Math.Min(Math.Min(Conv2D.RowBlock, byBudget), Math.Max(rows, bySpread));
            // Every run streams all of the transformed weights, so a small call (an 8×8 map at batch 1: 16 tiles; at most
            // MaxSingleRowBlock, as the direct path's single row block) whose patches fit twice the budget, and whose panels
            // give each worker at least two, is one run: the weights pass once, split by panels only. Several runs there
            // read them up to three times.
            int whole = RoundUp(_tiles, rows);
            if (whole > _runLength && whole <= MaxSingleRowBlock && (long)whole * _xi * input.C <= 2 * PatchBudget
                && weights.Panels >= 2 * pool.WorkerCount)
            {
                _runLength = whole;
            }

            _runs = (_tiles + _runLength - 1) / _runLength;
            // Fewer items than the direct path aims for: each panel group of a run transforms the run's patches again. A
            // single run is one panel group per worker, each transforming all the patches once (four groups per worker
            // were 0.4–0.5 ms slower a batch-1 FaceNet pass on Zen 5, most of it Block17's twenty 7-tap calls).
            SplitPanels(_runs, _runs == 1 ? pool.WorkerCount : 4 * pool.WorkerCount);
            pool.ReserveScratch(ScratchLength(_xi, _runLength, input.C), 0);
        }

        private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

        // V [ξ][run][C], M [ξ][run][32], Y [2][2·run][32], one gathered patch [ξ][C], and room to align V to 64 bytes.
        private static int ScratchLength(int xi, int run, int channels) =>
            xi * run * channels + xi * run * Tc + 4 * run * Tc + xi * channels + 16;

        public override void Clear()
        {
            base.Clear();
            _transformed = null;
        }

        [SkipLocalsInit]
        public override void Execute(int item, int worker)
        {
            var weights = _weights!;
            var transformed = _transformed!;
            var kernels = _kernels!;
            var input = _input;
            int c = input.C, run = _runLength, rows = kernels.TileRows, xiCount = _xi;
            var kind = transformed.Kind;
            var (block, firstPanel, lastPanel) = ItemRange(item);
            int first = block * run, count = Math.Min(run, _tiles - first);
            var scratch = _pool!.Scratch(worker, ScratchLength(xiCount, run, c));
            long vStride = (long)run * c, mStride = (long)run * Tc, yRow = 2L * run * Tc;
            long rowStride = (long)input.W * input.PixelStride;
            fixed (float* scratchBase = scratch)
            fixed (float* inBase = input.Buffer)
            {
                float* v = (float*)(((nuint)scratchBase + 63) & ~(nuint)63);
                float* m = v + xiCount * vStride;
                float* y = m + xiCount * mStride;
                float* patch = y + 2 * yRow;

                for (int t = 0; t < count; t++)
                {
                    var (n, ty, tx) = Locate(first + t);
                    int iy = _stride * _tileH * ty - _top, ix = _stride * _tileW * tx - _left;
                    bool inside = iy >= 0 && ix >= 0 && iy + _patchH <= input.H && ix + _patchW <= input.W;
                    float* src = inside ? inBase + input.PixelIndex(n, iy, ix) : patch;
                    if (!inside)
                    {
                        GatherPatch(inBase, n, iy, ix, patch);
                    }

                    float* dst = v + (long)t * c;
                    switch (kind)
                    {
                        case WinogradKind.F2x2K3x3:
                            kernels.WinogradInput(src, inside ? rowStride : (long)_patchW * c, inside ? input.PixelStride : c, c, dst, vStride);
                            break;
                        case WinogradKind.F2K1x7:
                            kernels.Winograd7Input(src, inside ? input.PixelStride : c, c, dst, vStride);
                            break;
                        case WinogradKind.F2x2K3x3S2:
                            kernels.WinogradS2Input(src, inside ? rowStride : (long)_patchW * c, inside ? input.PixelStride : c, c, dst, vStride);
                            break;
                        default:
                            kernels.Winograd7Input(src, inside ? rowStride : c, c, dst, vStride);
                            break;
                    }
                }

                // Rows past the run's last tile, up to whole micro-kernel tiles: zeros (their products are never read).
                int padded = RoundUp(count, rows);
                for (int xi = 0; count < padded && xi < xiCount; xi++)
                {
                    new Span<float>(v + xi * vStride + (long)count * c, (padded - count) * c).Clear();
                }

                for (int panel = firstPanel; panel < lastPanel; panel++)
                {
                    for (int xi = 0; xi < xiCount; xi++)
                    {
                        float* b = transformed[xi].Values + (long)panel * c * Tc;
                        float* a = v + xi * vStride;
                        float* acc = m + xi * mStride;
                        for (int k0 = 0; k0 < c; k0 += KBlock)
                        {
                            int kl = Math.Min(KBlock, c - k0);
                            for (int r = 0; r < padded; r += rows)
                            {
                                // The first tile streams U_ξ's slice from memory (prefetching ahead); the others find it in L1.
                                kernels.MicroKernel(a + (long)r * c + k0, c, b + (long)k0 * Tc, kl, acc + (long)r * Tc, k0 > 0,
                                    r == 0 ? KernelSet.PrefetchFloats : 0);
                            }
                        }
                    }

                    // Back to the output, one stretch of tiles in the same tile row at a time: each of its output rows (two,
                    // or one for 1×2 tiles) is consecutive pixels, stored with one epilogue call.
                    int cols = Math.Min(Tc, weights.OutChannels - panel * Tc);
                    for (int t = 0; t < count;)
                    {
                        var (n, ty, tx) = Locate(first + t);
                        int stretch = Math.Min(count - t, _tilesX - tx);
                        for (int s = 0; s < stretch; s++)
                        {
                            float* products = m + (long)(t + s) * Tc;
                            switch (kind)
                            {
                                case WinogradKind.F2x2K3x3:
                                    kernels.WinogradOutput(products, mStride, y + 2L * s * Tc, yRow);
                                    break;
                                case WinogradKind.F2x2K3x3S2:
                                    kernels.WinogradS2Output(products, mStride, y + 2L * s * Tc, yRow);
                                    break;
                                case WinogradKind.F2K1x7:
                                    kernels.Winograd7Output(products, mStride, y + 2L * s * Tc, Tc);
                                    break;
                                default:
                                    kernels.Winograd7Output(products, mStride, y + (long)s * Tc, yRow);
                                    break;
                            }
                        }

                        int pixels = Math.Min(_tileW * stretch, _outW - _tileW * tx);
                        int oy = _tileH * ty, pixel = (n * _outH + oy) * _outW + _tileW * tx;
                        Store(y, pixel, pixels, panel, cols);
                        if (_tileH == 2 && oy + 1 < _outH)
                        {
                            Store(y + yRow, pixel + _outW, pixels, panel, cols);
                        }

                        t += stretch;
                    }
                }
            }
        }

        // Image, tile row and tile column of tile `index`.
        private (int N, int Ty, int Tx) Locate(int index)
        {
            int n = index / _tilesPerImage, rest = index % _tilesPerImage;
            return (n, rest / _tilesX, rest % _tilesX);
        }

        // The patch from input pixel (iy, ix) of image n, dense [patchH][patchW][C], zeros outside the input.
        private void GatherPatch(float* inBase, int n, int iy, int ix, float* patch)
        {
            var input = _input;
            int c = input.C;
            for (int i = 0; i < _patchH; i++)
            {
                for (int j = 0; j < _patchW; j++)
                {
                    var target = new Span<float>(patch + (_patchW * i + j) * c, c);
                    int py = iy + i, px = ix + j;
                    if ((uint)py < (uint)input.H && (uint)px < (uint)input.W)
                    {
                        new ReadOnlySpan<float>(inBase + input.PixelIndex(n, py, px), c).CopyTo(target);
                    }
                    else
                    {
                        target.Clear();
                    }
                }
            }
        }
    }
}
