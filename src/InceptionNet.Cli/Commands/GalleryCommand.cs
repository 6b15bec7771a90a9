using System.CommandLine;
using System.Text.Json.Nodes;
using InceptionNet.Recognition;

namespace InceptionNet.Cli.Commands;

/// <summary><c>gallery list|remove|rename|migrate|export|import</c>.</summary>
internal static class GalleryCommand
{
    public static Command Create(CliConsole console)
    {
        var gallery = CliOptions.Gallery();
        var json = CliOptions.Json();
        var list = new Command("list", "List identities and their photos.") { gallery, json };
        list.SetAction(r =>
        {
            var g = Gallery.Open(r.GetValue(gallery)!);
            if (r.GetValue(json))
            {
                console.Json(new JsonObject
                {
                    ["model"] = g.Model.ModelId,
                    ["weights_sha256"] = g.Model.WeightsDigest,
                    ["face_input"] = g.FaceInput,
                    ["threshold"] = g.Threshold,
                    ["identities"] = new JsonArray([.. g.Identities.Select(i => (JsonNode)new JsonObject
                    {
                        ["name"] = i.Name,
                        ["photos"] = new JsonArray([.. i.Entries.Select(e => (JsonNode)e.Source)]),
                    })]),
                });
            }
            else
            {
                console.Stdout.WriteLine($"{g.Path}: {g.Identities.Count} identities, {g.EntryCount} photos, model {g.Model.ModelId} (weights {g.Model.WeightsDigest[..12]}…), faces: {g.FaceInput ?? "not recorded (run gallery migrate)"}");
                foreach (var identity in g.Identities)
                {
                    console.Stdout.WriteLine($"  {identity.Name} ({identity.Entries.Count}): {string.Join(", ", identity.Entries.Select(e => e.Source))}");
                }
            }

            return CliApp.Success;
        });

        var removeName = new Option<string>("--name", "-n") { Description = "Identity to remove.", Required = true };
        var remove = new Command("remove", "Remove an identity and all its photos.") { gallery, removeName };
        remove.SetAction(r => Change(r.GetValue(gallery)!, w => w.Remove(r.GetValue(removeName)!), $"Removed {r.GetValue(removeName)}.", console));

        var from = new Option<string>("--name", "-n") { Description = "Current name.", Required = true };
        var to = new Option<string>("--to") { Description = "New name.", Required = true };
        var rename = new Command("rename", "Rename an identity.") { gallery, from, to };
        rename.SetAction(r => Change(r.GetValue(gallery)!, w => w.Rename(r.GetValue(from)!, r.GetValue(to)!), $"Renamed {r.GetValue(from)} to {r.GetValue(to)}.", console));

        var faceInput = new Option<string>("--face-input") { Description = "How the gallery's faces were taken from their photos when it was enrolled: whole (no detection), mtcnn+dsb, mtcnn+faceapi or mtcnn+similarity.", Required = true };
        faceInput.AcceptOnlyFromAmong([.. InceptionNet.Pipeline.FaceInput.Ids]);
        var migrate = new Command("migrate", "Record how an older gallery's faces were prepared (galleries from before face inputs were recorded).") { gallery, faceInput };
        migrate.SetAction(r => Change(r.GetValue(gallery)!, w => w.SetFaceInput(r.GetValue(faceInput)!), $"Recorded face input '{r.GetValue(faceInput)}'.", console));

        var (export, import) = GalleryTransfer.Create(console);
        return new Command("gallery", "Inspect or edit a gallery; move a collection between a gallery file and PostgreSQL.") { list, remove, rename, migrate, export, import };
    }

    private static int Change(string path, Action<GalleryWriter> change, string done, CliConsole console)
    {
        using var writer = Gallery.OpenForWrite(path, null);
        change(writer);
        writer.Commit();
        console.Stdout.WriteLine(done);
        return CliApp.Success;
    }
}
