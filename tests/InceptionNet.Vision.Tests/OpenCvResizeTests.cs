using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using InceptionNet.Vision;
using Xunit;
using Xunit.Abstractions;

namespace InceptionNet.Vision.Tests;

/// <summary>
/// Against cv2.resize of OpenCV 4.6.0 (Fixtures/opencv-resize.json, written by tools/opencv_resize_reference.py with
/// Debian's python3-opencv): SHA-256 of the output bytes, i.e. bit-exact.
/// </summary>
public sealed class OpenCvResizeTests(ITestOutputHelper output)
{
    public static TheoryData<int> Cases
    {
        get
        {
            var data = new TheoryData<int>();
            for (int i = 0; i < Reference().GetProperty("cases").GetArrayLength(); i++)
            {
                data.Add(i);
            }

            return data;
        }
    }

    private static JsonElement Reference()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "opencv-resize.json")));
        return doc.RootElement.Clone();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_cv2_resize_bit_for_bit(int index)
    {
        var c = Reference().GetProperty("cases")[index];
        var src = c.GetProperty("src").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var dst = c.GetProperty("dst").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        bool area = c.GetProperty("interpolation").GetString() == "area";
        byte[] bytes;
        double first;
        if (c.GetProperty("dtype").GetString() == "float32")
        {
            var input = Source(src[0], src[1], src[2]).Select(v => (float)v).ToArray();
            var result = area ? OpenCvResize.Area<float>(input, src[0], src[1], src[2], dst[0], dst[1]) : OpenCvResize.Linear<float>(input, src[0], src[1], src[2], dst[0], dst[1]);
            bytes = MemoryMarshal.AsBytes(result.AsSpan()).ToArray();
            first = result[0];
        }
        else
        {
            var input = Source(src[0], src[1], src[2]);
            var result = area ? OpenCvResize.Area<double>(input, src[0], src[1], src[2], dst[0], dst[1]) : OpenCvResize.Linear<double>(input, src[0], src[1], src[2], dst[0], dst[1]);
            bytes = MemoryMarshal.AsBytes(result.AsSpan()).ToArray();
            first = result[0];
        }

        output.WriteLine($"{c.GetProperty("interpolation")} {c.GetProperty("dtype")} {string.Join("x", src)} → {string.Join("x", dst)}: first {first} (cv2 {c.GetProperty("first")[0]})");
        Assert.Equal(c.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    private static double[] Source(int w, int h, int cn)
    {
        var values = new double[w * h * cn];
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                for (int c = 0; c < cn; c++)
                {
                    values[(y * w + x) * cn + c] = ((x * 7 + y * 13 + c * 5) % 256) + ((x * y + c) % 7) / 8.0;
                }
            }
        }

        return values;
    }
}
