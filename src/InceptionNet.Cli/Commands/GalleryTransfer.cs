using System.CommandLine;
using InceptionNet.Recognition;
using InceptionNet.Server.Collections.Postgres;

namespace InceptionNet.Cli.Commands;

/// <summary>
/// <c>gallery export|import</c>: a collection between PostgreSQL (<c>serve --store</c>) and a gallery file, vectors
/// bit-identical (their float32 bytes are copied, never re-encoded as text numbers).
/// </summary>
internal static class GalleryTransfer
{
    public static (Command Export, Command Import) Create(CliConsole console)
    {
        var store = DbCommand.Store();
        var collection = new Option<string>("--collection", "-c") { Description = "The collection's name in the database.", Required = true };
        var gallery = new Option<string>("--gallery", "-g") { Description = "The gallery file (export: a new file; import: an existing one).", Required = true };

        var export = new Command("export", "Write a collection from PostgreSQL to a new gallery file.") { store, collection, gallery };
        export.SetAction(async (r, cancellation) =>
        {
            await using var source = PostgresLocation.Open(r.GetValue(store)!);
            var written = await PostgresGalleries.ExportAsync(source, r.GetValue(collection)!, r.GetValue(gallery)!, cancellation).ConfigureAwait(false);
            console.Stdout.WriteLine($"Exported '{r.GetValue(collection)}' to {written.Path}: {written.IdentityCount} identities, {written.EntryCount} photos.");
            return CliApp.Success;
        });

        var import = new Command("import", "Create a collection in PostgreSQL from a gallery file (one transaction; running instances load it).") { store, collection, gallery };
        import.SetAction(async (r, cancellation) =>
        {
            var file = Gallery.Open(r.GetValue(gallery)!);
            await using var source = PostgresLocation.Open(r.GetValue(store)!);
            long photos = await PostgresGalleries.ImportAsync(source, file, r.GetValue(collection)!, cancellation).ConfigureAwait(false);
            console.Stdout.WriteLine($"Imported {file.Path} as '{r.GetValue(collection)}': {file.IdentityCount} identities, {photos} photos.");
            return CliApp.Success;
        });
        return (export, import);
    }
}
