namespace InceptionNet.Server.Storage;

/// <summary>
/// All-or-nothing replacement of a small file: the new bytes go to a temporary file in the same folder, are flushed to
/// disk, and the temporary is renamed over the old file (rename(2) is atomic on one file system), so a crash at any
/// moment leaves the old or the new content, never a mix. Call it under the file's <see cref="WriterLock"/>.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Replaces <paramref name="path"/> with <paramref name="bytes"/>; <paramref name="ownerOnly"/> creates it readable by its owner only (Unix).</summary>
    public static void Replace(string path, ReadOnlySpan<byte> bytes, bool ownerOnly)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        DeleteStaleTemporaries(full);
        string temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (ownerOnly && !OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    // Only the lock holder writes temporaries, so any left over belong to a writer that died mid-save.
    private static void DeleteStaleTemporaries(string full)
    {
        foreach (string stale in Directory.GetFiles(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.*.tmp"))
        {
            File.Delete(stale);
        }
    }
}
