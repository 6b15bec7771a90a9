using System.CommandLine;
using System.Globalization;
using InceptionNet.Pipeline;
using InceptionNet.Recognition;
using InceptionNet.Vision;
using InceptionNet.Weights;

namespace InceptionNet.Cli.Commands;

/// <summary><c>demo</c>: the course's happy house on whatever real weights are at hand.</summary>
internal static class DemoCommand
{
    private static readonly string[] Cameras = ["camera_0", "camera_2"];
    private static readonly string[] CourseDatabase = ["danielle", "younes", "tian", "andrew", "kian", "dan", "sebastiano", "bertrand", "kevin", "felix", "benoit", "arnaud"];

    public static Command Create(CliConsole console)
    {
        var images = new Option<string>("--images") { Description = "Folder of the course faces.", DefaultValueFactory = _ => Path.Combine("..", "shared", "images", "course") };
        var gallery = new Option<string?>("--gallery", "-g") { Description = "Gallery to build (default: a temporary file, removed afterwards)." };
        var model = CliOptions.Model(withDefault: false);
        model.Description = "Model (default: the first whose real weights are found: facenet, then faceapi; else facenet on the synthetic fixture weights, whose distances mean nothing).";
        var weights = CliOptions.Weights();
        var command = new Command("demo", "The course's happy house: build the 12-person database and open the door for camera_0 and camera_2.") { model, weights, images, gallery };
        command.SetAction(r =>
        {
            var pipeline = Choose(r.GetValue(model), r.GetValue(weights), console);
            string folder = r.GetValue(images)!;
            string path = r.GetValue(gallery) ?? Path.Combine(Path.GetTempPath(), $"inceptionnet-demo-{Environment.ProcessId}.json");
            if (File.Exists(path) && r.GetValue(gallery) is null)
            {
                File.Delete(path);
            }

            string FileOf(string name) => Path.Combine(folder, name + (name == "danielle" ? ".png" : ".jpg"));
            var encoder = pipeline.Encoder;
            using (var writer = Gallery.OpenForWrite(path, pipeline.Stamp, faceInput: pipeline.Input.Id))
            {
                foreach (string name in CourseDatabase.Where(n => !writer.Gallery.Contains(n)))
                {
                    writer.Enroll(name, [(FileOf(name), encoder.Encode(ImageDecoder.Decode(FileOf(name))))], encoder.DefaultThreshold);
                }

                writer.Commit();
            }

            // The course's who_is_it picks the nearest identity however close the runner-up is: no ambiguity check here.
            var recognizer = pipeline.Recognizer(Gallery.Open(path), new RecognitionOptions { AmbiguityMargin = 0 });
            console.Stdout.WriteLine($"Database: {CourseDatabase.Length} people in {path} ({encoder.ModelId}, weights {encoder.WeightsSource}, threshold {recognizer.Threshold:F2}).");
            // The course's story: camera_0 is younes at the door; camera_2 is Benoit with Kian's badge, who must be turned away.
            foreach (var (photo, claim, courseOpens) in new[] { ("camera_0", "younes", true), ("camera_2", "kian", false) })
            {
                var v = recognizer.Verify(ImageDecoder.Decode(FileOf(photo)), claim);
                string verdict = v.Accepted == courseOpens ? "as in the course" : $"the course's FaceNet {(courseOpens ? "opens" : "keeps it closed")}";
                console.Stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"verify({photo}.jpg, \"{claim}\"): {v.Message} — distance {v.Distance:F7}, door {(v.Accepted ? "open" : "closed")} ({verdict})"));
            }

            foreach (string photo in Cameras)
            {
                var who = recognizer.Identify(ImageDecoder.Decode(FileOf(photo)));
                console.Stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"who_is_it({photo}.jpg): {who.Message} (nearest {who.Nearest} at {who.Distance:F7})"));
            }
            if (r.GetValue(gallery) is null)
            {
                File.Delete(path);
                File.Delete(Gallery.LockPathOf(path));
            }

            return CliApp.Success;
        });
        return command;
    }

    // The course faces are pre-cropped: every model takes them whole (faceapi does so by itself for images this small).
    private static FacePipeline Choose(string? modelId, string? weights, CliConsole console)
    {
        if (modelId is not null)
        {
            var chosen = ModelRegistry.Get(modelId);
            return new FacePipeline(chosen, ModelRegistry.LoadEncoder(chosen, weights), FaceInput.Choose(chosen, FaceInputMode.Auto, null, null));
        }

        foreach (string id in new[] { "facenet", "faceapi" })
        {
            var candidate = ModelRegistry.Get(id);
            try
            {
                return new FacePipeline(candidate, ModelRegistry.LoadEncoder(candidate, weights), FaceInput.Choose(candidate, FaceInputMode.Auto, null, null));
            }
            catch (InvalidWeightsException) when (weights is null)
            {
                // not here: try the next model
            }
        }

        var facenet = ModelRegistry.Get("facenet");
        string synthetic = Path.Combine("..", "shared", "fixtures", "facenet-synthetic", "weights.h5");
        console.Stderr.WriteLine($"note: no real weights found; using the synthetic fixture weights {synthetic}: its distances mean nothing, so both doors will likely stay closed.");
        return new FacePipeline(facenet, facenet.Load(synthetic), FaceInput.Whole);
    }
}
