using Npgsql;

namespace InceptionNet.Server.Collections.Postgres;

/// <summary>
/// Where the collections' database is: a URL (<c>postgres://user[:password]@host[:port]/database[?sslmode=…&amp;host=/socket/dir]</c>)
/// or an Npgsql connection string (<c>Host=…;Port=…;Username=…;Database=…</c>).
/// </summary>
public static class PostgresLocation
{
    /// <summary>The PostgreSQL notification channel every write announces its change sequence number on.</summary>
    public const string Channel = "inceptionnet_changes";

    /// <summary>
    /// A data source for <paramref name="store"/>, with short connect timeouts so an outage is answered quickly. The slim
    /// builder: the store uses text, integers, doubles, timestamps and bytea only, and it needs no reflection (NativeAOT).
    /// </summary>
    /// <exception cref="GalleryStoreException"><paramref name="store"/> is neither a postgres:// URL nor a connection string.</exception>
    public static NpgsqlDataSource Open(string store)
    {
        var builder = new NpgsqlSlimDataSourceBuilder(Parse(store).ConnectionString);
        return builder.Build();
    }

    /// <summary>The connection settings of <paramref name="store"/> (see <see cref="Open"/>).</summary>
    /// <exception cref="GalleryStoreException">Not a postgres:// URL nor a connection string.</exception>
    public static NpgsqlConnectionStringBuilder Parse(string store)
    {
        if (string.IsNullOrWhiteSpace(store))
        {
            throw new GalleryStoreException("--store is empty: give postgres://user@host:port/database or an Npgsql connection string (Host=…;Database=…)");
        }

        NpgsqlConnectionStringBuilder settings;
        if (store.Contains("://", StringComparison.Ordinal))
        {
            settings = FromUrl(store);
        }
        else
        {
            try
            {
                settings = new NpgsqlConnectionStringBuilder(store);
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or KeyNotFoundException)
            {
                throw new GalleryStoreException($"--store '{Redacted(store)}' is not a postgres:// URL nor an Npgsql connection string ({ex.Message})", ex);
            }

            if (string.IsNullOrEmpty(settings.Host) || string.IsNullOrEmpty(settings.Database))
            {
                throw new GalleryStoreException($"--store '{Redacted(store)}': a connection string needs Host and Database (e.g. Host=127.0.0.1;Port=5432;Username=app;Database=faces)");
            }
        }

        // An outage must turn into a quick 503, not a request hanging for the default 15 s; keepalives notice a dead server
        // under a listening connection that sends nothing.
        if (!settings.ContainsKey("Timeout") || settings.Timeout == 15)
        {
            settings.Timeout = 3;
        }

        if (settings.KeepAlive == 0)
        {
            settings.KeepAlive = 5;
        }

        settings.ApplicationName ??= "inceptionnet";
        return settings;
    }

    /// <summary>host:port/database, for messages (never the password).</summary>
    public static string Describe(NpgsqlConnectionStringBuilder settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return $"postgres {settings.Host}:{settings.Port}/{settings.Database}";
    }

    /// <summary>host:port/database of <paramref name="source"/>, for messages (never the password).</summary>
    public static string Describe(NpgsqlDataSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Describe(new NpgsqlConnectionStringBuilder(source.ConnectionString));
    }

    private static NpgsqlConnectionStringBuilder FromUrl(string store)
    {
        if (!Uri.TryCreate(store, UriKind.Absolute, out var url) || url.Scheme is not ("postgres" or "postgresql"))
        {
            throw new GalleryStoreException($"--store '{Redacted(store)}' is not a postgres:// URL (expected postgres://user@host:port/database)");
        }

        string database = Uri.UnescapeDataString(url.AbsolutePath.TrimStart('/'));
        if (database.Length == 0 || database.Contains('/', StringComparison.Ordinal))
        {
            throw new GalleryStoreException($"--store '{Redacted(store)}' names no database (expected postgres://user@host:port/database)");
        }

        var settings = new NpgsqlConnectionStringBuilder { Database = database };
        if (url.Host.Length > 0)
        {
            settings.Host = url.Host.Trim('[', ']');
        }

        if (url.Port > 0)
        {
            settings.Port = url.Port;
        }

        if (url.UserInfo.Length > 0)
        {
            string[] user = url.UserInfo.Split(':', 2);
            settings.Username = Uri.UnescapeDataString(user[0]);
            if (user.Length == 2)
            {
                settings.Password = Uri.UnescapeDataString(user[1]);
            }
        }

        foreach (string pair in url.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] kv = pair.Split('=', 2);
            string key = Uri.UnescapeDataString(kv[0]);
            string value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : string.Empty;
            switch (key)
            {
                case "host":
                    settings.Host = value; // a unix socket folder, as libpq's ?host=
                    break;
                case "sslmode":
                    settings.SslMode = Enum.TryParse<SslMode>(value, ignoreCase: true, out var mode) ? mode
                        : throw new GalleryStoreException($"--store: sslmode '{value}' is not one of disable, allow, prefer, require, verify-ca, verify-full");
                    break;
                case "application_name":
                    settings.ApplicationName = value;
                    break;
                case "connect_timeout":
                    settings.Timeout = int.TryParse(value, out int seconds) && seconds > 0 ? seconds
                        : throw new GalleryStoreException($"--store: connect_timeout '{value}' is not a positive number of seconds");
                    break;
                default:
                    throw new GalleryStoreException($"--store: the URL parameter '{key}' is not supported (host, sslmode, application_name, connect_timeout)");
            }
        }

        if (string.IsNullOrEmpty(settings.Host))
        {
            throw new GalleryStoreException($"--store '{Redacted(store)}' names no host (expected postgres://user@host:port/database)");
        }

        return settings;
    }

    // A password never reaches a message or a log.
    private static string Redacted(string store) =>
        System.Text.RegularExpressions.Regex.Replace(store, "(://[^:/@]*:)[^@]*@|([Pp]assword\\s*=)[^;]*", m => m.Groups[1].Success ? m.Groups[1].Value + "***@" : m.Groups[2].Value + "***");
}
