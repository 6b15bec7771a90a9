using InceptionNet.Vision;

namespace InceptionNet.Detection;

/// <summary>Turns a detection into the square chip a recognition model expects.</summary>
public static class FaceAligner
{
    /// <summary>
    /// davidsandberg <c>align_dataset_mtcnn.py</c> (how FaceNet's training and evaluation crops were made): the box grown by
    /// <paramref name="margin"/> pixels in total, clamped, truncated to integers, cropped and resized with PIL BILINEAR
    /// (<c>scipy.misc.imresize</c>). The original clamps x2 with the image height and y2 with the width
    /// (<c>img_size = shape[0:2]</c>); like the MTCNN fixture, we clamp x2 with the width and y2 with the height.
    /// </summary>
    public static (RgbImage Chip, int[] CropLtrb) DavidSandbergCrop(RgbImage image, DetectedFace face, int margin = 44, int size = 160)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(face);
        var b = face.Box;
        int[] ltrb =
        [
            (int)Math.Max(b[0] - margin / 2.0, 0),
            (int)Math.Max(b[1] - margin / 2.0, 0),
            (int)Math.Min(b[2] + margin / 2.0, image.Width),
            (int)Math.Min(b[3] + margin / 2.0, image.Height),
        ];
        return (Cut(image, ltrb, size), ltrb);
    }

    /// <summary>
    /// facenet-pytorch <c>extract_face</c>: margin scaled to the box (<c>margin · side / (size − margin)</c>), clamped to the
    /// image, truncated, cropped and resized with PIL BILINEAR. With margin 0 this is the fixture's <c>m0</c> chip.
    /// </summary>
    public static (RgbImage Chip, int[] CropLtrb) MarginCrop(RgbImage image, DetectedFace face, double margin = 0, int size = 160)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(face);
        var b = face.Box;
        double mx = margin * (b[2] - b[0]) / (size - margin), my = margin * (b[3] - b[1]) / (size - margin);
        int[] ltrb =
        [
            (int)Math.Max(b[0] - mx / 2, 0),
            (int)Math.Max(b[1] - my / 2, 0),
            (int)Math.Min(b[2] + mx / 2, image.Width),
            (int)Math.Min(b[3] + my / 2, image.Height),
        ];
        return (Cut(image, ltrb, size), ltrb);
    }

    /// <summary>
    /// The five-point template (left eye, right eye, nose, mouth corners) on a 112×112 face, as widely used for 5-point
    /// alignment (ArcFace/InsightFace); scaled to the requested size.
    /// </summary>
    public static IReadOnlyList<(double X, double Y)> Template112 { get; } =
        [(38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366), (41.5493, 92.3655), (70.7299, 92.2041)];

    /// <summary>
    /// 5-point similarity alignment: the least-squares rotation + uniform scale + translation (Umeyama, no reflection) that
    /// maps the detected landmarks onto <see cref="Template112"/> scaled to <paramref name="size"/>, applied with bilinear
    /// sampling (black outside the photo). Returns the chip and the 2×3 matrix [a, −b, tx; b, a, ty] used.
    /// </summary>
    public static (RgbImage Chip, double[] Transform) SimilarityAlign(RgbImage image, DetectedFace face, int size = 96)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(face);
        var src = face.Landmarks;
        var dst = Template112.Select(p => (p.X * size / 112.0, p.Y * size / 112.0)).ToArray();
        var m = Similarity(src, dst);
        return (Warp(image, m, size), m);
    }

    /// <summary>
    /// face-api's dlib-style crop (<c>landmarks.align(null, { useDlibAlignment: true })</c> then <c>clipAtImageBorders</c>),
    /// from the MTCNN landmarks: eye centres are MTCNN's eye points, the mouth centre is the midpoint of the mouth corners
    /// (face-api uses the means of its 68-point eye and lip contours). No rotation and no resize: the cut is returned at
    /// its own size, and face-api's recognition preprocessing pads it to a square and resizes it to 150.
    /// </summary>
    public static (RgbImage Chip, int[] CropLtrb) FaceApiCrop(RgbImage image, DetectedFace face)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(face);
        var l = face.Landmarks;
        var mouth = ((l[3].X + l[4].X) / 2, (l[3].Y + l[4].Y) / 2);
        var ltrb = FaceApiCropBox(l[0], l[1], mouth, image.Width, image.Height);
        return (image.Crop(ltrb[0], ltrb[1], ltrb[2], ltrb[3]), ltrb);
    }

    /// <summary>
    /// The face-api dlib-alignment box from the left-eye, right-eye and mouth centres: side
    /// <c>floor(mean eye–mouth distance / 0.45)</c>, left <c>floor(max(0, cx − 0.5·side))</c>, top
    /// <c>floor(max(0, cy − 0.43·side))</c> with (cx, cy) the mean of the three centres, clipped to the image.
    /// Returns [left, top, right, bottom) in whole pixels.
    /// </summary>
    public static int[] FaceApiCropBox((double X, double Y) leftEye, (double X, double Y) rightEye, (double X, double Y) mouth, int imageWidth, int imageHeight)
    {
        static double Distance((double X, double Y) a, (double X, double Y) b) => Math.Sqrt((a.X - b.X) * (a.X - b.X) + (a.Y - b.Y) * (a.Y - b.Y));
        double eyeToMouth = (Distance(mouth, leftEye) + Distance(mouth, rightEye)) / 2;
        int size = (int)Math.Floor(eyeToMouth / 0.45);
        double cx = (leftEye.X + rightEye.X + mouth.X) / 3, cy = (leftEye.Y + rightEye.Y + mouth.Y) / 3;
        int x = (int)Math.Floor(Math.Max(0, cx - 0.5 * size)), y = (int)Math.Floor(Math.Max(0, cy - 0.43 * size));
        x = Math.Min(x, imageWidth - 1);
        y = Math.Min(y, imageHeight - 1);
        int right = Math.Min(x + Math.Max(size, 1), imageWidth), bottom = Math.Min(y + Math.Max(size, 1), imageHeight);
        return [x, y, right, bottom];
    }

    /// <summary>Least-squares similarity [a, −b, tx; b, a, ty] mapping <paramref name="from"/> onto <paramref name="to"/>.</summary>
    public static double[] Similarity(IReadOnlyList<(double X, double Y)> from, IReadOnlyList<(double X, double Y)> to)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        int n = from.Count;
        double fx = from.Average(p => p.X), fy = from.Average(p => p.Y), tx = to.Average(p => p.X), ty = to.Average(p => p.Y);
        double norm = 0, dot = 0, cross = 0;
        for (int i = 0; i < n; i++)
        {
            double px = from[i].X - fx, py = from[i].Y - fy, qx = to[i].X - tx, qy = to[i].Y - ty;
            norm += px * px + py * py;
            dot += px * qx + py * qy;
            cross += px * qy - py * qx;
        }

        if (norm <= 0)
        {
            throw new ArgumentException("The landmarks coincide; no alignment is possible.");
        }

        double a = dot / norm, b = cross / norm;
        return [a, -b, tx - (a * fx - b * fy), b, a, ty - (b * fx + a * fy)];
    }

    // Inverse-maps every output pixel centre and samples bilinearly (cv2.warpAffine, INTER_LINEAR, BORDER_CONSTANT 0).
    private static RgbImage Warp(RgbImage image, double[] m, int size)
    {
        double det = m[0] * m[4] - m[1] * m[3];
        double i0 = m[4] / det, i1 = -m[1] / det, i3 = -m[3] / det, i4 = m[0] / det;
        var pixels = new byte[size * size * 3];
        for (int y = 0; y < size; y++)
        {
            for (int x = 0; x < size; x++)
            {
                double dx = x - m[2], dy = y - m[5];
                double sx = i0 * dx + i1 * dy, sy = i3 * dx + i4 * dy;
                int x0 = (int)Math.Floor(sx), y0 = (int)Math.Floor(sy);
                double ax = sx - x0, ay = sy - y0;
                for (int c = 0; c < 3; c++)
                {
                    double Sample(int xx, int yy) => xx < 0 || yy < 0 || xx >= image.Width || yy >= image.Height ? 0 : image.Pixels[(yy * image.Width + xx) * 3 + c];
                    double v = (1 - ay) * ((1 - ax) * Sample(x0, y0) + ax * Sample(x0 + 1, y0)) + ay * ((1 - ax) * Sample(x0, y0 + 1) + ax * Sample(x0 + 1, y0 + 1));
                    pixels[(y * size + x) * 3 + c] = (byte)Math.Clamp(Math.Round(v), 0, 255);
                }
            }
        }

        return new RgbImage(size, size, pixels);
    }

    // PIL crop semantics: the part outside the image reads as black.
    private static RgbImage Cut(RgbImage image, int[] ltrb, int size)
    {
        int w = Math.Max(ltrb[2] - ltrb[0], 1), h = Math.Max(ltrb[3] - ltrb[1], 1);
        var pixels = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
        {
            int sy = ltrb[1] + y;
            for (int x = 0; x < w; x++)
            {
                int sx = ltrb[0] + x;
                if (sy < image.Height && sx < image.Width && sy >= 0 && sx >= 0)
                {
                    image.Pixels.AsSpan((sy * image.Width + sx) * 3, 3).CopyTo(pixels.AsSpan((y * w + x) * 3));
                }
            }
        }

        return Resize.PilBilinear(new RgbImage(w, h, pixels), size, size);
    }
}

/// <summary>Draws detections on a copy of a photo (for <c>detect --draw</c>).</summary>
public static class DetectionDrawing
{
    /// <summary>Boxes in green (2 px), landmarks as red 5×5 squares.</summary>
    public static RgbImage Draw(RgbImage image, IEnumerable<DetectedFace> faces)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(faces);
        var pixels = (byte[])image.Pixels.Clone();
        void Put(int x, int y, byte r, byte g, byte b)
        {
            if (x >= 0 && y >= 0 && x < image.Width && y < image.Height)
            {
                int o = (y * image.Width + x) * 3;
                pixels[o] = r;
                pixels[o + 1] = g;
                pixels[o + 2] = b;
            }
        }

        foreach (var face in faces)
        {
            int x1 = (int)Math.Round(face.Box[0]), y1 = (int)Math.Round(face.Box[1]), x2 = (int)Math.Round(face.Box[2]), y2 = (int)Math.Round(face.Box[3]);
            for (int t = 0; t < 2; t++)
            {
                for (int x = x1; x <= x2; x++)
                {
                    Put(x, y1 + t, 0, 255, 0);
                    Put(x, y2 - t, 0, 255, 0);
                }

                for (int y = y1; y <= y2; y++)
                {
                    Put(x1 + t, y, 0, 255, 0);
                    Put(x2 - t, y, 0, 255, 0);
                }
            }

            foreach (var (lx, ly) in face.Landmarks)
            {
                for (int dy = -2; dy <= 2; dy++)
                {
                    for (int dx = -2; dx <= 2; dx++)
                    {
                        Put((int)Math.Round(lx) + dx, (int)Math.Round(ly) + dy, 255, 0, 0);
                    }
                }
            }
        }

        return new RgbImage(image.Width, image.Height, pixels);
    }
}
