using InceptionNet.Models;
using InceptionNet.Recognition;
using Xunit;

namespace InceptionNet.Recognition.Tests;

/// <summary>
/// The copy-on-write versions a database-backed store publishes: <see cref="Gallery.WithPhotos"/>, <see cref="Gallery.Without"/>,
/// <see cref="Gallery.WithRenamed"/> and <see cref="GalleryIndex.Renamed"/> leave the version they start from as it was.
/// </summary>
public sealed class GalleryVersionTests
{
    private static readonly ModelStamp Stamp = new("synthetic", "0123456789abcdef", "none", 4);

    private static GalleryEntry Entry(float x) => new([x, 1 - x, 0.5f, -x], "s", DateTimeOffset.UnixEpoch);

    [Fact]
    public void New_versions_leave_the_old_one_unchanged_and_refuse_what_a_file_refuses()
    {
        var v0 = Gallery.FromIdentities("db/c", Stamp, "whole", 0.5, [new Identity("ada", [Entry(0.1f)])]);
        var v1 = v0.WithPhotos("ada", [Entry(0.2f)]).WithPhotos("bob", [Entry(0.3f)]);
        var v2 = v1.WithRenamed("ada", "eve").Without("bob");

        Assert.Equal(["ada"], v0.Identities.Select(i => i.Name));
        Assert.Single(v0.Get("ada").Entries);
        Assert.Equal(["ada", "bob"], v1.Identities.Select(i => i.Name));
        Assert.Equal(2, v1.Get("ada").Entries.Count);
        Assert.Equal(["eve"], v2.Identities.Select(i => i.Name));
        Assert.Equal(2, v2.Get("eve").Entries.Count);
        Assert.Equal((0.5, "whole"), (v2.Threshold, v2.FaceInput));

        Assert.Throws<GalleryException>(() => v1.WithRenamed("ada", "bob"));
        Assert.Throws<GalleryException>(() => v1.Without("nobody"));
        Assert.Throws<GalleryException>(() => v1.WithPhotos("ada", [new GalleryEntry([1, 2, 3], "s", DateTimeOffset.UnixEpoch)]));
        Assert.Throws<GalleryException>(() => v1.WithPhotos("ada", [new GalleryEntry([1, float.NaN, 3, 4], "s", DateTimeOffset.UnixEpoch)]));
        Assert.Throws<GalleryException>(() => Gallery.FromIdentities("db/c", Stamp, null, null, [new Identity("ada", [])]));
        Assert.Throws<GalleryException>(() => Gallery.FromIdentities("db/c", Stamp, null, null, [new Identity("ada", [Entry(0)]), new Identity("ada", [Entry(1)])]));
    }

    [Fact]
    public void A_renamed_index_shares_the_vectors_answers_with_the_new_name_and_the_old_index_with_the_old()
    {
        var gallery = Gallery.FromIdentities("db/c", Stamp, null, null, [new Identity("ada", [Entry(0.1f)]), new Identity("bob", [Entry(0.9f)])]);
        var index = gallery.BuildIndex(unitVectors: false);
        var renamed = index.Renamed("ada", "eve");
        float[] probe = Entry(0.12f).Embedding;

        Assert.Equal("eve", renamed.TopTwo(probe).Best!.Value.Name);
        Assert.Equal("ada", index.TopTwo(probe).Best!.Value.Name);
        Assert.Equal(index.TopTwo(probe).Best!.Value.Distance, renamed.TopTwo(probe).Best!.Value.Distance);
        foreach (var rule in new[] { IdentityRule.Mean, IdentityRule.MeanDistance })
        {
            Assert.Equal(index.DistancesByIdentity(probe, rule).Select(d => d.Distance), renamed.DistancesByIdentity(probe, rule).Select(d => d.Distance));
        }

        // Appending to the renamed version (the newest) goes on in place; the old version still sees two rows.
        var appended = renamed.Append("eve", Entry(0.12f).Embedding);
        Assert.Equal(3, appended.Count);
        Assert.Equal(2, index.Count);
        Assert.Equal(0, appended.TopTwo(probe).Best!.Value.Distance, 6);
        Assert.Throws<ArgumentException>(() => index.Renamed("ada", "bob"));
        Assert.Throws<ArgumentException>(() => index.Renamed("nobody", "zed"));
    }

    [Fact]
    public void Spare_rows_change_no_answer_and_appends_fill_them_before_growing()
    {
        Identity[] people = [new Identity("ada", [Entry(0.1f)]), new Identity("bob", [Entry(0.9f)])];
        var spare = Gallery.FromIdentities("db/c", Stamp, null, null, people, spareRows: 3).BuildIndex(unitVectors: false);
        var exact = Gallery.FromIdentities("db/c", Stamp, null, null, people).BuildIndex(unitVectors: false);
        for (int i = 0; i < 6; i++)
        {
            spare = spare.Append(i % 2 == 0 ? "ada" : $"new{i}", Entry(0.1f * i).Embedding);
            exact = exact.Append(i % 2 == 0 ? "ada" : $"new{i}", Entry(0.1f * i).Embedding);
        }

        Assert.Equal(exact.Count, spare.Count);
        Assert.Equal(exact.IdentityCount, spare.IdentityCount);
        foreach (float x in new[] { 0f, 0.33f, 0.77f })
        {
            float[] probe = Entry(x).Embedding;
            Assert.Equal(exact.TopTwo(probe), spare.TopTwo(probe));
            foreach (var rule in new[] { IdentityRule.Closest, IdentityRule.Mean, IdentityRule.MeanDistance })
            {
                Assert.Equal(exact.DistancesByIdentity(probe, rule), spare.DistancesByIdentity(probe, rule));
            }
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => Gallery.FromIdentities("db/c", Stamp, null, null, people, spareRows: -1));
    }
}
