namespace InceptionNet.Server.Storage;

/// <summary>
/// The cross-process writer lock of a file, as the gallery takes it: an exclusive open (<see cref="FileShare.None"/>,
/// an flock on Unix) of a hidden file beside it, <c>.NAME.lock</c>. The OS releases it when the holder dies, so a
/// killed writer never blocks the next one. The lock file stays: deleting it could let two writers lock two files.
/// </summary>
internal static class WriterLock
{
    /// <summary>The hidden lock file of <paramref name="path"/>.</summary>
    public static string PathOf(string path) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "." + Path.GetFileName(path) + ".lock");

    /// <summary>
    /// Takes the lock of <paramref name="path"/>, retrying until <paramref name="timeout"/> passes (zero: one try); then
    /// throws what <paramref name="busy"/> makes of the lock file's path.
    /// </summary>
    public static FileStream Acquire(string path, TimeSpan timeout, Func<string, IOException, Exception> busy)
    {
        string lockPath = PathOf(path);
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException ex) when (ex is not FileNotFoundException and not DirectoryNotFoundException)
            {
                if (DateTime.UtcNow >= deadline)
                {
                    throw busy(lockPath, ex);
                }

                // Another process holds it; there is no OS notification to wait on, so poll briefly.
                Thread.Sleep(25);
            }
        }
    }
}
