using System.Text.Json;
using InceptionNet.Cli;
using InceptionNet.Recognition;
using InceptionNet.TestSupport;
using InceptionNet.Vision;
using Xunit;
using static InceptionNet.Cli.Tests.CliRunner;

namespace InceptionNet.Cli.Tests;

public sealed class FolderModeTests : IDisposable
{
    private static readonly string Weights = SharedData.PathOf("fixtures", "openface-synthetic", "weights.h5");
    private static readonly string Mtcnn = SharedData.PathOf("weights", "mtcnn");
    private readonly string _dir = Directory.CreateTempSubdirectory("inceptionnet-folder-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Enroll_from_dir_keeps_usable_frames_and_reports_the_rest()
    {
        string frames = Path.Combine(_dir, "frames");
        Directory.CreateDirectory(frames);
        File.Copy(SharedData.PathOf("images", "faces", "train", "obama", "obama2.jpg"), Path.Combine(frames, "a_sharp.jpg"));
        PngEncoder.Write(Path.Combine(frames, "b_wall.png"), 80, 60, Enumerable.Repeat((byte)90, 80 * 60 * 3).ToArray());
        // The same photo smeared: shrunk 12× and blown back up, so the face is there but soft.
        var photo = ImageDecoder.Decode(SharedData.PathOf("images", "faces", "train", "obama", "obama2.jpg"));
        var smeared = Resize.PilBilinear(Resize.PilBilinear(photo, photo.Width / 12, photo.Height / 12), photo.Width, photo.Height);
        PngEncoder.Write(Path.Combine(frames, "c_blurry.png"), smeared);
        File.WriteAllText(Path.Combine(frames, "notes.txt"), "not a frame");

        string gallery = Path.Combine(_dir, "g.json");
        var (exit, _, stderr) = Run("enroll", "--gallery", gallery, "--model", "openface", "--weights", Weights, "--name", "obama", "--from-dir", frames,
            "--mtcnn", Mtcnn, "--min-sharpness", "25", "--json");
        Assert.True(exit == 0, stderr);
        Assert.Contains("skipped " + Path.Combine(frames, "b_wall.png") + ": no face", stderr, StringComparison.Ordinal);
        Assert.Contains("skipped " + Path.Combine(frames, "c_blurry.png"), stderr, StringComparison.Ordinal);
        var entries = Gallery.Open(gallery).Get("obama").Entries;
        Assert.Equal([Path.Combine(frames, "a_sharp.jpg")], entries.Select(e => e.Source));
    }

    [Fact]
    public async Task Watch_recognizes_each_new_frame_with_its_latency()
    {
        string gallery = Path.Combine(_dir, "door.json");
        // A camera frame is an ordinary photo: the gallery is enrolled with detection, and watch reads frames as the
        // gallery was enrolled (a frame taken whole against detected faces would be compared wrongly).
        Assert.Equal(0, Run("enroll", "--gallery", gallery, "--model", "openface", "--weights", Weights, "--name", "younes", "--detect", "--mtcnn", Mtcnn, SharedData.CourseImageFile("younes")).Exit);
        string camera = Path.Combine(_dir, "camera");
        Directory.CreateDirectory(camera);
        var watching = Start("watch", "--gallery", gallery, "--weights", Weights, "--mtcnn", Mtcnn, "--json", "--max-frames", "2", "--idle-timeout", "60", camera);
        // Deadlines are generous (a loaded 2-core CI VM); the waits end as soon as the condition holds.
        Assert.True(watching.Stderr.WaitFor($"Watching {camera}", TimeSpan.FromSeconds(60)), "the watcher never said it was ready: " + watching.Stderr);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        File.Copy(SharedData.CourseImageFile("camera_0"), Path.Combine(camera, "frame1.jpg"));
        Assert.True(watching.Stdout.WaitFor("\n", TimeSpan.FromSeconds(60)), "no decision for frame1: " + watching.Stderr);
        double observed = clock.Elapsed.TotalMilliseconds;
        PngEncoder.Write(Path.Combine(camera, "frame2.png"), 40, 40, new byte[40 * 40 * 3]);
        var exit = await watching.Exit.WaitAsync(TimeSpan.FromSeconds(90));
        Assert.True(exit == 0, watching.Stderr.ToString());
        var lines = watching.Stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Equal("younes", lines[0].GetProperty("identity").GetString());
        // The reported latency is the frame's own processing time: positive, and no longer than the test saw from
        // writing the file to reading the decision.
        Assert.InRange(lines[0].GetProperty("latency_ms").GetDouble(), 0.001, observed);
        Assert.Equal("no face", lines[1].GetProperty("message").GetString());
    }

    [Fact]
    public async Task Watch_decides_the_door_with_the_rule_serve_keeps_beside_the_gallery()
    {
        // Real photos and face-api (the door wants faces of 80 px and more). The side file a serve data folder keeps
        // (NAME.door.json beside NAME.gallery.json) sets 2 votes; frame times are the files' write times.
        string gallery = Path.Combine(_dir, "door.gallery.json");
        string faceapi = SharedData.PathOf("weights", "faceapi");
        foreach (string photo in Directory.GetFiles(SharedData.PathOf("images", "faces", "train", "obama")))
        {
            var enrolled = Run("enroll", "--gallery", gallery, "--model", "faceapi", "--weights", faceapi, "--mtcnn", Mtcnn, "--name", "obama", photo);
            Assert.True(enrolled.Exit == 0, enrolled.Stderr);
        }

        File.WriteAllText(Path.Combine(_dir, "door.door.json"), "{\"votes\": 2, \"window\": 3}");
        string camera = Path.Combine(_dir, "camera");
        Directory.CreateDirectory(camera);
        var watching = Start("watch", "--gallery", gallery, "--weights", faceapi, "--mtcnn", Mtcnn, "--json", "--max-frames", "3", "--idle-timeout", "120", camera);
        Assert.True(watching.Stderr.WaitFor($"Watching {camera}", TimeSpan.FromSeconds(60)), "the watcher never said it was ready: " + watching.Stderr);
        var t0 = DateTime.UtcNow;
        string[] frames = [SharedData.PathOf("images", "faces", "test", "obama1.jpg"), SharedData.PathOf("images", "faces", "test", "obama1.jpg"), SharedData.PathOf("images", "faces", "two_people.jpg")];
        for (int i = 0; i < frames.Length; i++)
        {
            // Written aside with its camera time, then moved in whole; each waits for the previous decision (frame order).
            string staged = Path.Combine(_dir, $"frame{i}.jpg");
            File.Copy(frames[i], staged);
            File.SetLastWriteTimeUtc(staged, t0.AddMilliseconds(200 * i));
            File.Move(staged, Path.Combine(camera, $"frame{i}.jpg"));
            Assert.True(WaitLines(watching, i + 1), "no decision for frame " + i + ": " + watching.Stderr);
        }

        var exit = await watching.Exit.WaitAsync(TimeSpan.FromSeconds(90));
        Assert.True(exit == 0, watching.Stderr.ToString());
        var lines = Lines(watching);
        Assert.Equal(["verifying", "welcome", "too_many_people"], lines.Select(l => l.GetProperty("door").GetString()));
        Assert.Equal([false, true, false], lines.Select(l => l.GetProperty("opened").GetBoolean()));
        Assert.Equal("Welcome in, obama!", lines[1].GetProperty("door_message").GetString());
        Assert.Equal("Only one person at a time, please", lines[2].GetProperty("door_message").GetString());

        File.WriteAllText(Path.Combine(_dir, "door.door.json"), "{\"votes\": 9}");
        var bad = Run("watch", "--gallery", gallery, "--weights", faceapi, "--mtcnn", Mtcnn, "--max-frames", "1", camera);
        Assert.Equal(CliApp.Error, bad.Exit);
        Assert.Contains("votes must be 1 to window", bad.Stderr, StringComparison.Ordinal);
    }

    private static List<JsonElement> Lines(RunningCli cli) =>
        [.. cli.Stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)];

    private static bool WaitLines(RunningCli cli, int count)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (cli.Stdout.ToString().Count(c => c == '\n') >= count)
            {
                return true;
            }

            Thread.Sleep(50); // polling interval of a bounded wait
        }

        return false;
    }
}
