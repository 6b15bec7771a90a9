namespace InceptionNet.Tensors;

public static partial class Conv2D
{
    [ThreadStatic]
    private static bool t_directSmallInputOff;

    [ThreadStatic]
    private static DirectSmallInputJob? t_direct;

    /// <summary>
    /// Whether stride-1 convolutions of inputs with few channels (<see cref="PackedConvWeights.DirectForm"/>) whose windows
    /// stay inside the input run through the direct kernel, for calls made on this thread (always, in the product; tests
    /// and the benchmarks' A/B switch it off to compare with the GEMM path, whose values it gives bit for bit). Per thread,
    /// so a test switching it off never changes the path another test running beside it takes.
    /// </summary>
    internal static bool DirectSmallInputEnabled
    {
        get => !t_directSmallInputOff;
        set => t_directSmallInputOff = !value;
    }

    // The direct kernel takes a stride-1 convolution whose windows stay inside a dense input of at most four channels, into
    // at most 16 output channels (weights with a DirectForm), with no residual and no split.
    internal static bool FitsDirectSmallInput(TensorSlice input, PackedConvWeights weights, WindowGeometry geometry, int outH, int outW,
        int top, int left, ConvEpilogue epilogue) =>
        DirectSmallInputEnabled && geometry.StrideH == 1 && geometry.StrideW == 1 && input.IsDense && top == 0 && left == 0
        && outH - 1 + weights.KernelH <= input.H && outW - 1 + weights.KernelW <= input.W
        && !epilogue.HasResidual && epilogue.SplitAt == 0 && weights.DirectForm is not null;

    private static void ForwardDirectSmallInput(TensorSlice input, PackedConvWeights weights, int outH, int outW, TensorSlice output,
        ConvEpilogue epilogue, KernelSet kernels, WorkerPool pool)
    {
        var job = t_direct ??= new DirectSmallInputJob();
        job.Set(input, weights, outH, outW, output, epilogue, kernels, pool);
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
    /// The direct convolution of a few-channel input: items are runs of output rows of one image. An item copies the input
    /// rows its outputs read into planes, one per input channel, each row padded with zeros to whole calls of the kernel
    /// (<see cref="KernelSet.DirectPixels"/>), then runs the kernel along each output row. A GEMM tile of such a layer
    /// multiplies nine-tap slices into a 16-wide panel of which P-Net's ten channels use ten, and stores and reloads its
    /// accumulators after every kernel row; here every multiply-add counts and the sums stay in registers.
    /// </summary>
    private sealed unsafe class DirectSmallInputJob : ConvWork
    {
        // Output rows per item at most: enough to share the planes' copy of the rows above and below.
        private const int MaxRowsPerItem = 16;

        private int _rowsPerItem, _itemsPerImage, _planeWidth, _planeRows;

        // Tap t = (ky·kw + kx)·cin + ci, the GEMM's reduction order, at its offset in an item's planes: the same for every
        // item of a call, so worked out once per call (kept across calls; a call writes only the first taps).
        private readonly long[] _offsets = new long[PackedConvWeights.DirectMaxTaps];

        public int ItemCount => _input.N * _itemsPerImage;

        public void Set(TensorSlice input, PackedConvWeights weights, int outH, int outW, TensorSlice output, ConvEpilogue epilogue,
            KernelSet kernels, WorkerPool pool)
        {
            Bind(input, weights, outH, outW, 0, 0, output, epilogue, kernels, pool);
            // About eight items per worker, so dynamic claiming evens out the cores, in runs of at most MaxRowsPerItem rows.
            int wanted = (8 * pool.WorkerCount + input.N - 1) / input.N;
            _rowsPerItem = Math.Clamp(outH / Math.Max(1, wanted), 1, MaxRowsPerItem);
            _itemsPerImage = (outH + _rowsPerItem - 1) / _rowsPerItem;
            int pixels = kernels.DirectPixels;
            _planeWidth = (outW + pixels - 1) / pixels * pixels + weights.KernelW - 1;
            _planeRows = _rowsPerItem + weights.KernelH - 1;
            pool.ReserveScratch(input.C * _planeRows * _planeWidth, 0);
            long planeStride = (long)_planeRows * _planeWidth;
            for (int ky = 0, t = 0; ky < weights.KernelH; ky++)
            {
                for (int kx = 0; kx < weights.KernelW; kx++)
                {
                    for (int ci = 0; ci < input.C; ci++, t++)
                    {
                        _offsets[t] = ci * planeStride + (long)ky * _planeWidth + kx;
                    }
                }
            }
        }

        public override void Execute(int item, int worker)
        {
            var weights = _weights!;
            var kernels = _kernels!;
            var input = _input;
            int n = item / _itemsPerImage;
            int oy0 = item % _itemsPerImage * _rowsPerItem;
            int oy1 = Math.Min(_outH, oy0 + _rowsPerItem);
            int rows = oy1 - oy0 + weights.KernelH - 1, cin = input.C, width = _planeWidth, used = _outW + weights.KernelW - 1;
            long planeStride = (long)_planeRows * width;
            float[] planes = _pool!.Scratch(worker, (int)(cin * planeStride));

            // Planes of the input rows [oy0, oy0 + rows) and the columns the windows read: zeros past those.
            fixed (float* planeBase = planes)
            fixed (float* inBase = input.Buffer)
            {
                for (int r = 0; r < rows; r++)
                {
                    float* source = inBase + input.PixelIndex(n, oy0 + r, 0);
                    float* plane = planeBase + (long)r * width;
                    if (cin == 3)
                    {
                        // Photos' three channels in one pass over the row (a pass per channel cost a third of the layer).
                        float* plane1 = plane + planeStride, plane2 = plane1 + planeStride;
                        for (int x = 0; x < used; x++, source += 3)
                        {
                            plane[x] = source[0];
                            plane1[x] = source[1];
                            plane2[x] = source[2];
                        }
                    }
                    else
                    {
                        for (int ci = 0; ci < cin; ci++)
                        {
                            for (int x = 0; x < used; x++)
                            {
                                plane[ci * planeStride + x] = source[x * cin + ci];
                            }
                        }
                    }

                    for (int ci = 0; ci < cin; ci++)
                    {
                        new Span<float>(plane + ci * planeStride + used, width - used).Clear();
                    }
                }

                var epilogue = _epilogue;
                var output = _output;
                int pixels = kernels.DirectPixels, channels = weights.OutChannels, taps = weights.ReductionLength;
                fixed (long* offsets = _offsets)
                fixed (float* formBase = weights.DirectForm)
                fixed (float* biasBase = weights.Bias)
                fixed (float* slopeBase = epilogue.NegativeSlopes)
                fixed (float* outBase = output.Buffer)
                {
                    for (int oy = oy0; oy < oy1; oy++)
                    {
                        float* row = planeBase + (long)(oy - oy0) * width;
                        long m = ((long)n * _outH + oy) * _outW;
                        for (int ox = 0; ox < _outW; ox += pixels)
                        {
                            var target = new EpilogueTarget(outBase + output.Offset + (m + ox) * output.PixelStride, output.PixelStride,
                                biasBase, null, 0, 1f, slopeBase, epilogue.Relu);
                            kernels.DirectSmallInput(row + ox, offsets, taps, formBase, channels, Math.Min(pixels, _outW - ox), target);
                        }
                    }
                }
            }
        }
    }
}
