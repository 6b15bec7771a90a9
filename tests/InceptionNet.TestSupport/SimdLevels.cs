using InceptionNet.Tensors;
using Xunit;

namespace InceptionNet.TestSupport;

/// <summary>
/// Theory data over every <see cref="SimdLevel"/>, not only the ones this CPU has: a level the CPU lacks shows up as a
/// skipped case that names the level, instead of silently vanishing from the run (CI machines change between AVX2-only
/// and AVX-512 parts).
/// </summary>
public static partial class SimdLevels
{
    /// <summary>Every level the engine knows, scalar first.</summary>
    public static TheoryData<SimdLevel> All
    {
        get
        {
            var data = new TheoryData<SimdLevel>();
            foreach (var level in Enum.GetValues<SimdLevel>())
            {
                data.Add(level);
            }

            return data;
        }
    }

    /// <summary>Each row of <paramref name="cases"/> once per level, the level appended as the last argument.</summary>
    public static IEnumerable<object[]> Cross(IEnumerable<object[]> cases) =>
        cases.SelectMany(row => Enum.GetValues<SimdLevel>().Select(level => (object[])[.. row, level]));

    /// <summary>Each value once per level: rows of (value, level).</summary>
    public static IEnumerable<object[]> CrossValues<T>(params T[] values) => Cross(values.Select(v => new object[] { v! }));

    /// <summary>Skips the running case when this CPU cannot run <paramref name="level"/>.</summary>
    public static void SkipIfUnavailable(SimdLevel level) =>
        Skip.If(level > Simd.Best, $"skipped: {level} is not available on this CPU (it runs up to {Simd.Best})");
}
