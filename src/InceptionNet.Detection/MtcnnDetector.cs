using InceptionNet.Tensors;
using InceptionNet.Vision;
using ExecutionContext = InceptionNet.Graph.ExecutionContext;

namespace InceptionNet.Detection;

/// <summary>A detected face in source-image pixels.</summary>
/// <param name="Box">[x1, y1, x2, y2], float, not clipped to the image.</param>
/// <param name="Probability">O-Net face probability.</param>
/// <param name="Landmarks">Left eye, right eye, nose, left mouth corner, right mouth corner, as (x, y).</param>
public sealed record DetectedFace(double[] Box, double Probability, (double X, double Y)[] Landmarks)
{
    /// <summary>Box area (for --largest).</summary>
    public double Area => (Box[2] - Box[0]) * (Box[3] - Box[1]);
}

/// <summary>Per-scale and per-stage candidate counts, for debugging against the reference.</summary>
/// <param name="Scale">Pyramid scale.</param>
/// <param name="ResizedHeight">Level height.</param>
/// <param name="ResizedWidth">Level width.</param>
/// <param name="AboveThreshold">P-Net cells above threshold.</param>
/// <param name="AfterNms">Candidates after the per-scale NMS.</param>
public sealed record PyramidLevel(double Scale, int ResizedHeight, int ResizedWidth, int AboveThreshold, int AfterNms);

/// <summary>A step of the cascade, as reported to <see cref="MtcnnDetector.StageObserver"/> when it ends.</summary>
public enum MtcnnStage
{
    /// <summary>Every pyramid level resized from the photo, transposed and normalized.</summary>
    Pyramid,

    /// <summary>P-Net over every level, with each level's candidates and NMS.</summary>
    PNet,

    /// <summary>P-Net's candidates through the cross-scale NMS, regression and squaring, then cut and resized to R-Net's 24×24 input.</summary>
    RNetCrops,

    /// <summary>R-Net over those crops.</summary>
    RNet,

    /// <summary>R-Net's scores, NMS, regression and squaring, then the survivors cut and resized to O-Net's 48×48 input.</summary>
    ONetCrops,

    /// <summary>O-Net over those crops.</summary>
    ONet,
}

/// <summary>Detection settings (davidsandberg's defaults).</summary>
public sealed record MtcnnOptions
{
    /// <summary>Smallest face side in pixels.</summary>
    public int MinFaceSize { get; init; } = 20;

    /// <summary>P-Net, R-Net, O-Net score thresholds.</summary>
    public double[] Thresholds { get; init; } = [0.6, 0.7, 0.7];

    /// <summary>Pyramid scale factor.</summary>
    public double Factor { get; init; } = 0.709;

    /// <summary>
    /// Largest image (width·height) detection accepts: the pyramid's levels take ~8 bytes per pixel, so 40 M pixels
    /// cost ~320 MB. Larger images are refused with a message (resize them first) rather than risking running out of memory.
    /// </summary>
    public long MaxPixels { get; init; } = 40_000_000;
}

/// <summary>
/// The MTCNN cascade of davidsandberg/facenet <c>detect_face</c>, box arithmetic ported line by line: float32 image,
/// OpenCV INTER_AREA pyramid, transposed network inputs, stride-2 / cell-12 candidate boxes, stable-order NMS
/// (Union 0.5 per scale, 0.7 across scales and after R-Net, Min 0.7 after O-Net), square-ing, zero-padded crops resized
/// with INTER_AREA in double, bounding-box regression and landmarks. The one-cell vertical flip of the original is not
/// reproduced (see the fixture README).
/// </summary>
/// <remarks>
/// The image copy, the pyramid, the crop batches and the network outputs live in buffers the detector keeps from one photo
/// to the next (grown when a photo needs more), so a warm detector allocates little per photo. Calls are serialized: one
/// instance detects one photo at a time, on all the workers of the networks' <see cref="ExecutionContext"/>; callers that
/// want photos detected in parallel use one detector per caller.
/// </remarks>
public sealed class MtcnnDetector
{
    // A crop reads its zero-padded source box a band of rows at a time (one row, or the rows of one output row when the box
    // is an exact multiple of the network input) into a buffer kept per worker up to this many values (8 MB of doubles);
    // a larger band, only possible for a box thousands of pixels wide, gets a buffer of its own that is not kept.
    private const int MaxKeptCropValues = 1 << 20;

    private readonly MtcnnNetworks _networks;
    private readonly MtcnnOptions _options;
    private readonly Lock _gate = new();
    private readonly WorkerJob _levelJob;
    private readonly WorkerJob _cropJob;

    // Kept across photos (see remarks).
    private byte[] _pixels = [];              // the photo being detected (the caller's, not a copy); read by the jobs
    private float[][] _levels = [];           // per pyramid level: the transposed, normalized P-Net input
    private readonly float[][] _resized;      // per worker: a level resized, before transposition
    private readonly float[][] _photoRows;    // per worker: rows of the photo as floats, read by a level's resize
    private readonly double[][] _cropSource;  // per worker: rows of a box cut from the image, zero-padded
    private readonly double[][] _cropResized; // per worker: that box resized to the network input
    private readonly ResizeScratch<float>[] _levelScratch; // per worker: the resize tables of a pyramid level
    private readonly ResizeScratch<double>[] _cropScratch; // per worker: the resize tables of a crop
    private readonly float[][] _pnetOut = new float[2][];
    private readonly float[][] _pnetMap = [[], []];  // P-Net's heads over a whole level, gathered from its bands

    // Map cells per P-Net band: ~16 K cells keep a band's activations near 3 MB whatever the photo's size.
    private const int PNetBandCells = 1 << 14;
    private readonly float[][] _rnetOut = new float[2][];
    private readonly float[][] _onetOut = new float[3][];
    private readonly float[][] _chunkOut = new float[3][]; // one chunk's outputs, for R-Net and O-Net

    // Candidates per R-Net / O-Net pass: enough rows to keep both cores busy, few enough that the activations stay a
    // few megabytes (R-Net's first layer holds 54 KB per candidate, and a crowded or large photo yields thousands).
    internal const int CropChunk = 64;
    private float[] _rnetBatch = [];
    private float[] _onetBatch = [];

    // The current photo and stage, read by the jobs.
    private int _width;
    private int _height;
    private (int H, int W)[] _sizes = [];
    private List<double[]> _cropBoxes = [];
    private float[] _cropBatch = [];
    private int _cropSize;

    /// <summary>Creates a detector on loaded networks; it runs on their workers.</summary>
    public MtcnnDetector(MtcnnNetworks networks, MtcnnOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(networks);
        _networks = networks;
        _options = options ?? new MtcnnOptions();
        int workers = networks.Workers.WorkerCount;
        _resized = new float[workers][];
        _photoRows = new float[workers][];
        _cropSource = new double[workers][];
        _cropResized = new double[workers][];
        _levelScratch = new ResizeScratch<float>[workers];
        _cropScratch = new ResizeScratch<double>[workers];
        for (int i = 0; i < workers; i++)
        {
            _levelScratch[i] = new ResizeScratch<float>(networks.Level);
            _cropScratch[i] = new ResizeScratch<double>(networks.Level);
            _resized[i] = [];
            _photoRows[i] = [];
            _cropSource[i] = [];
            _cropResized[i] = [];
        }

        _levelJob = new WorkerJob(BuildLevel);
        _cropJob = new WorkerJob(CropOne);
    }

    /// <summary>
    /// When set, called on the thread running <see cref="Detect"/> as each stage of the cascade ends, in the order of
    /// <see cref="MtcnnStage"/> (for timing where a photo's time goes). A photo without candidates after P-Net ends there
    /// and reports no later stage; one without R-Net survivors reports no O-Net stages. It runs inside the detector's
    /// lock, so it must not call <see cref="Detect"/> on this detector (the inner call would overwrite the outer one's
    /// buffers).
    /// </summary>
    public Action<MtcnnStage>? StageObserver { get; set; }

    /// <summary>Stage counts of the last <see cref="Detect"/> call (P-Net levels; after cross-scale NMS; after R-Net; after O-Net).</summary>
    public (IReadOnlyList<PyramidLevel> Levels, int PNetOut, int RNetOut, int ONetOut) LastStages { get; private set; }

    /// <summary>
    /// Loads the networks from a folder with det1/det2/det3.npy; detection runs on <paramref name="context"/>'s workers
    /// and vector width (default: a new <see cref="ExecutionContext"/>).
    /// </summary>
    public static MtcnnDetector Load(string directory, MtcnnOptions? options = null, ExecutionContext? context = null) =>
        new(MtcnnNetworks.Load(directory, context), options);

    /// <summary>
    /// Detects faces, in the order of the final NMS (most probable first). The image's pixels are read in place while
    /// the call runs (no copy of the photo is made), so they must not change until it returns.
    /// </summary>
    public IReadOnlyList<DetectedFace> Detect(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        int h = image.Height, w = image.Width;
        if ((long)w * h > _options.MaxPixels)
        {
            throw new ArgumentException($"{w}x{h} is above the detection limit of {_options.MaxPixels:N0} pixels; downscale the photo first (or raise MtcnnOptions.MaxPixels).", nameof(image));
        }

        lock (_gate)
        {
            return DetectLocked(image);
        }
    }

    private List<DetectedFace> DetectLocked(RgbImage image)
    {
        int h = image.Height, w = image.Width;
        _pixels = image.Pixels; // read as floats (levels) or doubles (crops) a few rows at a time: no copy of the photo
        try
        {
            return DetectPhoto(w, h);
        }
        finally
        {
            _pixels = [];
        }
    }

    private List<DetectedFace> DetectPhoto(int w, int h)
    {
        var levels = new List<PyramidLevel>();
        var total = new List<double[]>(); // x1 y1 x2 y2 score dx1 dy1 dx2 dy2
        double m = 12.0 / _options.MinFaceSize;
        double minl = Math.Min(h, w) * m;
        var scales = new List<double>();
        for (int count = 0; minl >= 12; count++)
        {
            scales.Add(m * Math.Pow(_options.Factor, count));
            minl *= _options.Factor;
        }

        // The pyramid levels are independent: resize and transpose them on all cores (largest first), then run P-Net on each.
        (_width, _height) = (w, h);
        _sizes = scales.Select(s => (H: (int)Math.Ceiling(h * s), W: (int)Math.Ceiling(w * s))).ToArray();
        if (_levels.Length < scales.Count)
        {
            Array.Resize(ref _levels, scales.Count);
            for (int i = 0; i < _levels.Length; i++)
            {
                _levels[i] ??= [];
            }
        }

        // Every worker's buffers are sized for every level first: which worker takes which level changes from photo to
        // photo, and a worker meeting the largest level for the first time would otherwise allocate it mid-run.
        for (int worker = 0; worker < _resized.Length; worker++)
        {
            foreach (var (hs, ws) in _sizes)
            {
                Grow(ref _resized[worker], hs * ws * 3);
                _levelScratch[worker].Reserve(w, h, 3, ws, hs);
                Grow(ref _photoRows[worker], OpenCvResize.RowsAtOnce(w, h, 3, ws, hs, _levelScratch[worker]) * w * 3);
            }
        }

        _networks.Workers.Run(_levelJob, scales.Count);
        StageObserver?.Invoke(MtcnnStage.Pyramid);

        for (int i = 0; i < scales.Count; i++)
        {
            double scale = scales[i];
            var (hs, ws) = _sizes[i];
            var (mapA, mapB) = RunPNetInBands(_networks.PNet, _levels[i], ws, hs, PNetBandCells, _pnetOut, _pnetMap);
            var prob = _pnetMap[0];
            var reg = _pnetMap[1];
            var boxes = new List<double[]>();
            // Map index (a, b): a runs over image-x cells, b over image-y cells; np.where order is a outer, b inner.
            for (int a = 0; a < mapA; a++)
            {
                for (int b = 0; b < mapB; b++)
                {
                    int cell = a * mapB + b;
                    float score = Softmax1(prob[cell * 2], prob[cell * 2 + 1]);
                    if (score < _options.Thresholds[0])
                    {
                        continue;
                    }

                    boxes.Add([
                        Math.Truncate((2.0 * a + 1) / scale), Math.Truncate((2.0 * b + 1) / scale),
                        Math.Truncate((2.0 * a + 12) / scale), Math.Truncate((2.0 * b + 12) / scale),
                        score, reg[cell * 4], reg[cell * 4 + 1], reg[cell * 4 + 2], reg[cell * 4 + 3],
                    ]);
                }
            }

            var pick = Nms(boxes, 0.5, min: false);
            levels.Add(new PyramidLevel(scale, hs, ws, boxes.Count, pick.Count));
            total.AddRange(pick.Select(i => boxes[i]));
        }

        StageObserver?.Invoke(MtcnnStage.PNet);
        int pnetOut = 0, rnetOut = 0;
        var faces = new List<DetectedFace>();
        if (total.Count > 0)
        {
            total = Nms(total, 0.7, min: false).Select(i => total[i]).ToList();
            var candidates = total.Select(t =>
            {
                double regw = t[2] - t[0], regh = t[3] - t[1];
                return new[] { t[0] + t[5] * regw, t[1] + t[6] * regh, t[2] + t[7] * regw, t[3] + t[8] * regh, t[4] };
            }).ToList();
            Rerec(candidates);
            foreach (var c in candidates)
            {
                for (int j = 0; j < 4; j++)
                {
                    c[j] = Math.Truncate(c[j]);
                }
            }

            pnetOut = candidates.Count;

            // R-Net on 24×24 crops.
            var rnetInput = Crops(candidates, 24, ref _rnetBatch);
            StageObserver?.Invoke(MtcnnStage.RNetCrops);
            _networks.RNet.RunInChunks(rnetInput, candidates.Count, 24, 24, CropChunk, _rnetOut, _chunkOut);
            StageObserver?.Invoke(MtcnnStage.RNet);
            var (rnetProb, rnetReg) = (_rnetOut[0], _rnetOut[1]);
            var kept = new List<double[]>();
            var keptReg = new List<double[]>();
            for (int k = 0; k < candidates.Count; k++)
            {
                float score = Softmax1(rnetProb[k * 2], rnetProb[k * 2 + 1]);
                if (score > _options.Thresholds[1])
                {
                    kept.Add([candidates[k][0], candidates[k][1], candidates[k][2], candidates[k][3], score]);
                    keptReg.Add([rnetReg[k * 4], rnetReg[k * 4 + 1], rnetReg[k * 4 + 2], rnetReg[k * 4 + 3]]);
                }
            }

            if (kept.Count > 0)
            {
                var pick = Nms(kept, 0.7, min: false);
                kept = pick.Select(i => kept[i]).ToList();
                keptReg = pick.Select(i => keptReg[i]).ToList();
                BoxRegression(kept, keptReg);
                Rerec(kept);
            }

            rnetOut = kept.Count;
            if (kept.Count > 0)
            {
                foreach (var c in kept)
                {
                    for (int j = 0; j < 4; j++)
                    {
                        c[j] = Math.Truncate(c[j]);
                    }
                }

                var onetInput = Crops(kept, 48, ref _onetBatch);
                StageObserver?.Invoke(MtcnnStage.ONetCrops);
                _networks.ONet.RunInChunks(onetInput, kept.Count, 48, 48, CropChunk, _onetOut, _chunkOut);
                StageObserver?.Invoke(MtcnnStage.ONet);
                var (onetProb, onetReg, onetPoints) = (_onetOut[0], _onetOut[1], _onetOut[2]);
                var final = new List<double[]>();
                var finalReg = new List<double[]>();
                var points = new List<(double, double)[]>();
                for (int k = 0; k < kept.Count; k++)
                {
                    float score = Softmax1(onetProb[k * 2], onetProb[k * 2 + 1]);
                    if (!(score > _options.Thresholds[2]))
                    {
                        continue;
                    }

                    var b = kept[k];
                    double bw = b[2] - b[0] + 1, bh = b[3] - b[1] + 1;
                    var p = onetPoints.AsSpan(k * 10, 10).ToArray();
                    points.Add(Enumerable.Range(0, 5).Select(i => (bw * p[i] + b[0] - 1, bh * p[i + 5] + b[1] - 1)).ToArray());
                    final.Add([b[0], b[1], b[2], b[3], score]);
                    finalReg.Add([onetReg[k * 4], onetReg[k * 4 + 1], onetReg[k * 4 + 2], onetReg[k * 4 + 3]]);
                }

                if (final.Count > 0)
                {
                    BoxRegression(final, finalReg);
                    foreach (int i in Nms(final, 0.7, min: true))
                    {
                        faces.Add(new DetectedFace(final[i][..4], final[i][4], points[i]));
                    }
                }
            }
        }

        LastStages = (levels, pnetOut, rnetOut, faces.Count);
        return faces;
    }

    // TF softmax over two logits, float32: the face probability.
    private static float Softmax1(float x0, float x1)
    {
        float max = Math.Max(x0, x1);
        float e0 = MathF.Exp(x0 - max), e1 = MathF.Exp(x1 - max);
        return e1 / (e0 + e1);
    }

    // detect_face.nms: ascending stable sort by score, repeatedly keep the last (highest, later index on ties).
    private static List<int> Nms(List<double[]> boxes, double threshold, bool min)
    {
        var order = Enumerable.Range(0, boxes.Count).OrderBy(i => boxes[i][4]).ToList(); // LINQ OrderBy is stable
        var pick = new List<int>();
        while (order.Count > 0)
        {
            int i = order[^1];
            pick.Add(i);
            var bi = boxes[i];
            double areaI = (bi[2] - bi[0] + 1) * (bi[3] - bi[1] + 1);
            int kept = 0; // the survivors are compacted in place, in order
            for (int n = 0; n < order.Count - 1; n++)
            {
                var bj = boxes[order[n]];
                double ww = Math.Max(0.0, Math.Min(bi[2], bj[2]) - Math.Max(bi[0], bj[0]) + 1);
                double hh = Math.Max(0.0, Math.Min(bi[3], bj[3]) - Math.Max(bi[1], bj[1]) + 1);
                double inter = ww * hh;
                double areaJ = (bj[2] - bj[0] + 1) * (bj[3] - bj[1] + 1);
                double o = min ? inter / Math.Min(areaI, areaJ) : inter / (areaI + areaJ - inter);
                if (o <= threshold)
                {
                    order[kept++] = order[n];
                }
            }

            order.RemoveRange(kept, order.Count - kept);
        }

        return pick;
    }

    // detect_face.rerec: square each box around its centre.
    private static void Rerec(List<double[]> boxes)
    {
        foreach (var b in boxes)
        {
            double bh = b[3] - b[1], bw = b[2] - b[0], l = Math.Max(bw, bh);
            b[0] = b[0] + bw * 0.5 - l * 0.5;
            b[1] = b[1] + bh * 0.5 - l * 0.5;
            b[2] = b[0] + l;
            b[3] = b[1] + l;
        }
    }

    // detect_face.bbreg.
    private static void BoxRegression(List<double[]> boxes, List<double[]> reg)
    {
        for (int k = 0; k < boxes.Count; k++)
        {
            var b = boxes[k];
            double bw = b[2] - b[0] + 1, bh = b[3] - b[1] + 1;
            b[0] += reg[k][0] * bw;
            b[1] += reg[k][1] * bh;
            b[2] += reg[k][2] * bw;
            b[3] += reg[k][3] * bh;
        }
    }

    // detect_face.pad + crop + INTER_AREA resize in double + normalization, transposed for the networks: [N, size, size, 3],
    // into the start of `batch` (grown when too short).
    private float[] Crops(List<double[]> boxes, int size, ref float[] batch)
    {
        var target = Grow(ref batch, boxes.Count * size * size * 3);
        (_cropBoxes, _cropSize, _cropBatch) = (boxes, size, target);

        // Every worker's crop buffers are sized for the largest box first (as the pyramid's, in DetectLocked).
        int widest = 1, tallest = 1, largest = 0;
        foreach (var b in boxes)
        {
            int tmpw = (int)(b[2] - b[0] + 1), tmph = (int)(b[3] - b[1] + 1);
            if (tmpw > 0 && tmph > 0)
            {
                (widest, tallest) = (Math.Max(widest, tmpw), Math.Max(tallest, tmph));
                long band = BandValues(tmpw, tmph, size);
                largest = band <= MaxKeptCropValues ? Math.Max(largest, (int)band) : largest;
            }
        }

        for (int worker = 0; worker < _cropSource.Length; worker++)
        {
            Grow(ref _cropSource[worker], largest);
            Grow(ref _cropResized[worker], size * size * 3);
            _cropScratch[worker].Reserve(widest, tallest, 3, size, size);
        }

        _networks.Workers.Run(_cropJob, boxes.Count);
        return target;
    }

    // One box of Crops, written into its slice of the batch.
    private void CropOne(int k, int worker)
    {
        int size = _cropSize, w = _width, h = _height;
        var img = _pixels;
        var b = _cropBoxes[k];
        var target = _cropBatch.AsSpan(k * size * size * 3, size * size * 3);
        var rows = PaddedBoxRows.ForBox(img, w, h, b, _cropSource, worker, out int tmpw, out int tmph);
        if (tmpw <= 0 || tmph <= 0)
        {
            target.Clear(); // an empty crop is zero, as the reference's zero tensor
            return;
        }

        // The padded box is read from the image a band of rows at a time, never held whole: a face filling a large photo
        // would otherwise take tens of megabytes of doubles per candidate.
        var resized = Grow(ref _cropResized[worker], size * size * 3);
        OpenCvResize.Area(rows, tmpw, tmph, 3, size, size, resized.AsSpan(), _cropScratch[worker]);
        for (int yy = 0; yy < size; yy++)
        {
            for (int xx = 0; xx < size; xx++)
            {
                for (int ch = 0; ch < 3; ch++)
                {
                    target[(xx * size + yy) * 3 + ch] = (float)((resized[(yy * size + xx) * 3 + ch] - 127.5) * 0.0078125);
                }
            }
        }
    }

    // One pyramid level: the image resized with INTER_AREA, then transposed (network row = image column) and normalized.
    private void BuildLevel(int i, int worker)
    {
        var (hs, ws) = _sizes[i];
        var level = Grow(ref _resized[worker], hs * ws * 3);
        OpenCvResize.Area(new PhotoRows(_pixels, _width * 3, _photoRows, worker), _width, _height, 3, ws, hs, level.AsSpan(), _levelScratch[worker]);
        var input = Grow(ref _levels[i], hs * ws * 3);
        // Transposed a band of TransposeBand image rows at a time: each image column of the band becomes one run of
        // contiguous values in the network's row, and the band's rows are read in order (a pixel at a time across whole
        // rows wrote a cache line per pixel, hs·3 floats apart: 7 % of a detection).
        const int TransposeBand = 16;
        for (int y0 = 0; y0 < hs; y0 += TransposeBand)
        {
            int y1 = Math.Min(hs, y0 + TransposeBand);
            for (int x = 0; x < ws; x++)
            {
                var target = input.AsSpan((x * hs + y0) * 3, (y1 - y0) * 3);
                for (int y = y0, t = 0; y < y1; y++, t += 3)
                {
                    int from = (y * ws + x) * 3;
                    target[t] = (level[from] - 127.5f) * 0.0078125f;
                    target[t + 1] = (level[from + 1] - 127.5f) * 0.0078125f;
                    target[t + 2] = (level[from + 2] - 127.5f) * 0.0078125f;
                }
            }
        }
    }

    // P-Net over one pyramid level ([rows, cols, 3], transposed), a band of map rows at a time, so its activations take
    // the memory of a band instead of the whole level (~75 MB on the first level of a 2-megapixel photo, and a different
    // size for every photo shape). Exact: P-Net is conv 3×3 valid, max-pool 2×2 stride 2 (SAME), conv 3×3 valid twice,
    // so map row a reads input rows 2a .. 2a+11. A band of map rows [a0, a1) gets input rows [2·a0, 2·a1+10): an even
    // count, so the pool never pads inside the picture; the last band runs to the end of the level, so the pool pads
    // there exactly as on the whole level. The heads' outputs of all bands are gathered into `map`.
    internal static (int A, int B) RunPNetInBands(MtcnnNetworks.Net pnet, float[] level, int rows, int cols, int bandCells,
        float[][] bandOut, float[][] map)
    {
        var (mapA, mapB) = pnet.MapSize(rows, cols);
        if (mapA <= 0 || mapB <= 0)
        {
            return (Math.Max(mapA, 0), Math.Max(mapB, 0));
        }

        Grow(ref map[0], mapA * mapB * 2);
        Grow(ref map[1], mapA * mapB * 4);
        int band = Math.Max(1, bandCells / mapB);
        for (int a0 = 0; a0 < mapA; a0 += band)
        {
            int a1 = Math.Min(mapA, a0 + band);
            int inputRows = a1 == mapA ? rows - 2 * a0 : 2 * (a1 - a0) + 10;
            var (bandA, bandB) = pnet.Run(level, 2 * a0 * cols * 3, 1, inputRows, cols, bandOut);
            if (bandA != a1 - a0 || bandB != mapB)
            {
                throw new InvalidOperationException($"P-Net band [{a0}, {a1}) of a {mapA}x{mapB} map came out {bandA}x{bandB}.");
            }

            Array.Copy(bandOut[0], 0, map[0], a0 * mapB * 2, bandA * mapB * 2);
            Array.Copy(bandOut[1], 0, map[1], a0 * mapB * 4, bandA * mapB * 4);
        }

        return (mapA, mapB);
    }

    // `buffer` when it holds at least `length` values, else a new array of exactly `length` stored in its place.
    private static T[] Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new T[length];
        }

        return buffer;
    }

    // The most values a crop of a tmpw × tmph box asks PaddedBoxRows for at once: a row, or the tmph / size rows of one
    // output row of an integer-factor shrink.
    private static long BandValues(int tmpw, int tmph, int size) => (tmph / size + 1L) * tmpw * 3;

    // detect_face.pad's box as rows of doubles: box row ty, column tx is image row y − 1 + (ty − dy + 1), column
    // x − 1 + (tx − dx + 1) inside [dy − 1, edy − 1] × [dx − 1, edx − 1] and the image, zero elsewhere — the same values
    // the reference's zero tensor gets from its slice assignment. Rows are built into the worker's kept buffer.
    internal readonly struct PaddedBoxRows(byte[] image, int w, int h, int tmpw, int x, int y, int dx, int dy, int edx, int edy,
        double[][] buffers, int worker) : IImageRows<double>
    {
        /// <summary>detect_face.pad of <paramref name="box"/> (x1, y1, x2, y2, truncated) on a w × h RGB image: its rows, and its size.</summary>
        public static PaddedBoxRows ForBox(byte[] image, int w, int h, double[] box, double[][] buffers, int worker, out int tmpw, out int tmph)
        {
            tmpw = (int)(box[2] - box[0] + 1);
            tmph = (int)(box[3] - box[1] + 1);
            int x = (int)box[0], y = (int)box[1], ex = (int)box[2], ey = (int)box[3];
            int dx = 1, dy = 1, edx = tmpw, edy = tmph;
            if (ex > w)
            {
                edx = -ex + w + tmpw;
            }

            if (ey > h)
            {
                edy = -ey + h + tmph;
            }

            if (x < 1)
            {
                dx = 2 - x;
                x = 1;
            }

            if (y < 1)
            {
                dy = 2 - y;
                y = 1;
            }

            return new PaddedBoxRows(image, w, h, tmpw, x, y, dx, dy, edx, edy, buffers, worker);
        }

        public ReadOnlySpan<double> Rows(int first, int count)
        {
            int rowLength = tmpw * 3;
            int length = count * rowLength;
            var band = (length <= MaxKeptCropValues ? Grow(ref buffers[worker], length) : new double[length]).AsSpan(0, length);
            band.Clear(); // the padding outside the image is zero
            for (int k = 0; k < count; k++)
            {
                int r = first + k - (dy - 1), sy = y - 1 + r;
                if (r < 0 || r > edy - dy || sy < 0 || sy >= h)
                {
                    continue;
                }

                // Box columns c of [0, edx − dx] are image column x − 1 + c (x ≥ 1) and box column dx − 1 + c (edx ≤ tmpw):
                // those inside the image, c < w − x + 1, are one run, converted in one loop.
                int columns = Math.Min(edx - dx + 1, w - x + 1);
                if (columns <= 0)
                {
                    continue;
                }

                var source = image.AsSpan((sy * w + x - 1) * 3, columns * 3);
                PixelConversion.ToDoubles(source, band.Slice(k * rowLength + (dx - 1) * 3, source.Length));
            }

            return band;
        }
    }

    // The photo's rows as floats (exact: bytes), built a band at a time into the worker's kept buffer: the reference
    // resizes the photo as float32, and a float copy of a whole 2 MP photo is 25 MB.
    private readonly struct PhotoRows(byte[] pixels, int rowLength, float[][] buffers, int worker) : IImageRows<float>
    {
        public ReadOnlySpan<float> Rows(int first, int count)
        {
            var band = Grow(ref buffers[worker], count * rowLength).AsSpan(0, count * rowLength);
            PixelConversion.ToFloats(pixels.AsSpan(first * rowLength, count * rowLength), band);
            return band;
        }
    }

    private sealed class WorkerJob(Action<int, int> body) : IParallelWork
    {
        public void Execute(int item, int worker) => body(item, worker);
    }
}
