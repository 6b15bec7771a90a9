// The shared kernel tests are written against xunit 2 with Xunit.SkippableFact; xunit v3 skips at run time by itself
// (Assert.Skip), so these names are all the shared sources need here.
using System.Runtime.CompilerServices;

namespace Xunit
{
    /// <summary>A fact that may skip itself at run time (xunit v3 does this natively).</summary>
    public sealed class SkippableFactAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : FactAttribute(sourceFilePath, sourceLineNumber);

    /// <summary>A theory whose cases may skip themselves at run time.</summary>
    public sealed class SkippableTheoryAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : TheoryAttribute(sourceFilePath, sourceLineNumber);

    /// <summary>Run-time skips, as Xunit.SkippableFact spells them.</summary>
    public static class Skip
    {
        /// <summary>Skips the running test when <paramref name="condition"/> holds.</summary>
        public static void If(bool condition, string reason)
        {
            if (condition)
            {
                Assert.Skip(reason);
            }
        }

        /// <summary>Skips the running test unless <paramref name="condition"/> holds.</summary>
        public static void IfNot(bool condition, string reason) => If(!condition, reason);
    }
}

namespace InceptionNet.TestSupport
{
    /// <summary>xunit v3's typed theory data holds rows, not object arrays.</summary>
    public static partial class SimdLevels
    {
        /// <summary>Each typed row once per level, the level appended as the last argument.</summary>
        public static IEnumerable<object[]> Cross(IEnumerable<Xunit.ITheoryDataRow> rows) => Cross(rows.Select(r => r.GetData().Cast<object>().ToArray()));
    }
}
