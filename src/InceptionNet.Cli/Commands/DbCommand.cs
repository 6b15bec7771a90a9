using System.CommandLine;
using InceptionNet.Server.Collections;
using InceptionNet.Server.Collections.Postgres;

namespace InceptionNet.Cli.Commands;

/// <summary><c>db migrate|status</c>: the PostgreSQL schema that <c>serve --store</c> uses.</summary>
internal static class DbCommand
{
    public static Option<string> Store(string description = "The database: postgres://user@host:port/database, or an Npgsql connection string (Host=…;Database=…).") =>
        new("--store") { Description = description, Required = true };

    public static Command Create(CliConsole console)
    {
        var store = Store();
        var migrate = new Command("migrate", "Create or upgrade the collections' tables to this build's schema version (safe to run again).") { store };
        migrate.SetAction(async (r, cancellation) =>
        {
            await using var source = PostgresLocation.Open(r.GetValue(store)!);
            var (before, after) = await PostgresSchema.MigrateAsync(source, cancellation).ConfigureAwait(false);
            console.Stdout.WriteLine(before == after
                ? $"{PostgresLocation.Describe(source)}: schema already at version {after}."
                : $"{PostgresLocation.Describe(source)}: schema migrated from version {before} to {after}.");
            return CliApp.Success;
        });

        var status = new Command("status", "Check that the database is reachable and at this build's schema version (exit 2 if not).") { store };
        status.SetAction(async (r, cancellation) =>
        {
            await using var source = PostgresLocation.Open(r.GetValue(store)!);
            await PostgresSchema.CheckAsync(source, cancellation).ConfigureAwait(false);
            console.Stdout.WriteLine($"{PostgresLocation.Describe(source)}: schema version {PostgresSchema.Version}, as this build needs.");
            return CliApp.Success;
        });

        return new Command("db", "The PostgreSQL database behind 'serve --store'.") { migrate, status };
    }

    /// <summary>Refuses a store that cannot be used before the service binds its port (exit 2 with the reason).</summary>
    public static async Task CheckAsync(string? store, CancellationToken cancellation)
    {
        if (store is null)
        {
            return;
        }

        await using var source = PostgresLocation.Open(store);
        await PostgresSchema.CheckAsync(source, cancellation).ConfigureAwait(false);
    }
}
