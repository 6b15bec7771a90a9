using System.Buffers.Binary;
using System.Text;
using InceptionNet.Weights;
using Xunit;

namespace InceptionNet.Weights.Tests;

public sealed class NpyReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-npy-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // Writes an .npy file by hand, as numpy's format spec describes it.
    private string Write(int version, string descr, bool fortran, int[] shape, byte[] data)
    {
        string header = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': ({string.Join(", ", shape)}{(shape.Length == 1 ? "," : string.Empty)}), }}";
        int prefix = version == 1 ? 10 : 12;
        int padded = (prefix + header.Length + 1 + 63) / 64 * 64 - prefix;
        header = header.PadRight(padded - 1) + "\n";
        using var stream = new MemoryStream();
        stream.Write([0x93, .. "NUMPY"u8, (byte)version, 0]);
        var length = new byte[version == 1 ? 2 : 4];
        if (version == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)header.Length);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)header.Length);
        }

        stream.Write(length);
        stream.Write(Encoding.ASCII.GetBytes(header));
        stream.Write(data);
        string path = Path.Combine(_dir, $"a{Guid.NewGuid():N}.npy");
        File.WriteAllBytes(path, stream.ToArray());
        return path;
    }

    [Fact]
    public void Little_endian_float32_c_order()
    {
        var data = new byte[24];
        for (int i = 0; i < 6; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), i + 0.5f);
        }

        var array = NpyReader.ReadArray(Write(1, "<f4", false, [2, 3], data));
        Assert.Equal([2, 3], array.Shape);
        Assert.Equal([0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f], array.Data);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Big_endian_float64_fortran_order_is_returned_in_c_order(int version)
    {
        // Fortran order of [[1, 2, 3], [4, 5, 6]] is 1, 4, 2, 5, 3, 6.
        double[] stored = [1, 4, 2, 5, 3, 6];
        var data = new byte[48];
        for (int i = 0; i < 6; i++)
        {
            BinaryPrimitives.WriteDoubleBigEndian(data.AsSpan(i * 8), stored[i]);
        }

        var array = NpyReader.ReadArray(Write(version, ">f8", true, [2, 3], data));
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], array.Data);
    }

    [Fact]
    public void Unsupported_dtypes_short_data_and_bad_versions_are_clear_errors()
    {
        Assert.Contains("dtype '<i4' is not supported", Assert.Throws<InvalidWeightsException>(() => NpyReader.ReadArray(Write(1, "<i4", false, [2], new byte[8]))).Message, StringComparison.Ordinal);
        Assert.Contains("truncated", Assert.Throws<InvalidWeightsException>(() => NpyReader.ReadArray(Write(1, "<f4", false, [4], new byte[8]))).Message, StringComparison.Ordinal);
        string path = Write(1, "<f4", false, [1], new byte[4]);
        var bytes = File.ReadAllBytes(path);
        bytes[6] = 9;
        File.WriteAllBytes(path, bytes);
        Assert.Contains("version 9 is not supported", Assert.Throws<InvalidWeightsException>(() => NpyReader.ReadArray(path)).Message, StringComparison.Ordinal);
        Assert.Contains("holds a plain array", Assert.Throws<InvalidWeightsException>(() => NpyReader.ReadLayerDictionary(Write(1, "<f4", false, [1], new byte[4]))).Message, StringComparison.Ordinal);
    }
}
