using System.CommandLine;
using InceptionNet.Pipeline;
using InceptionNet.Server;
using InceptionNet.Server.Http;

namespace InceptionNet.Cli.Commands;

/// <summary><c>serve</c>: the HTTP service (collections, API keys, audit log, metrics, micro-batching).</summary>
internal static class ServeCommand
{
    public static Command Create(CliConsole console)
    {
        var listen = new Option<string>("--listen", "-l") { Description = "HOST:PORT to listen on (port 0: any free port, printed at start).", DefaultValueFactory = _ => "127.0.0.1:8080" };
        listen.Validators.Add(result =>
        {
            try
            {
                ServiceHost.ParseListen(result.GetValueOrDefault<string>() ?? "");
            }
            catch (ArgumentException ex)
            {
                result.AddError(ex.Message);
            }
        });
        var data = new Option<string>("--data", "-d") { Description = "Folder of the collections (one gallery file each) and, by default, the audit log.", Required = true };
        var keys = new Option<string>("--keys", "-k") { Description = "API keys file (inceptionnet keys add).", Required = true };
        var model = CliOptions.Model(withDefault: false);
        model.Description = "Model: " + string.Join("; ", ModelRegistry.All.Select(m => $"{m.Id} ({m.Description})")) + ". Default: faceapi.";
        var weights = CliOptions.Weights();
        var mtcnn = new Option<string?>("--mtcnn") { Description = $"Folder with det1/det2/det3.npy. Default: ${ModelRegistry.MtcnnEnvironmentVariable}, ./weights/mtcnn, ../shared/weights/mtcnn." };
        var audit = new Option<string?>("--audit") { Description = "Audit log (JSON lines, hash-chained; check with inceptionnet audit verify). Default: DATA/audit.jsonl." };
        var captures = new Option<string?>("--keep-captures") { Description = "Keep every uploaded image in this folder (off by default: no images are stored)." };
        var maxBody = CliOptions.AtLeast(new Option<int>("--max-body") { Description = "Largest request body in bytes, at least 1024 (413 above).", DefaultValueFactory = _ => 10 << 20 }, 1024);
        var maxBatch = CliOptions.AtLeast(new Option<int>("--max-batch") { Description = "Most faces per encoder pass, at least 1.", DefaultValueFactory = _ => 16 }, 1);
        var maxWait = CliOptions.AtLeast(new Option<double>("--max-wait-ms") { Description = "Longest a batch waits for more faces, in milliseconds, at least 0 (0: no micro-batching wait).", DefaultValueFactory = _ => 5.0 }, 0);
        var queue = CliOptions.AtLeast(new Option<int>("--queue") { Description = "Most faces waiting for the encoder, at least 1; more get 503 with Retry-After.", DefaultValueFactory = _ => 64 }, 1);
        var store = DbCommand.Store("Keep the collections in PostgreSQL, shared by every instance given the same database: postgres://user@host:port/database or an Npgsql connection string. Default: gallery files in --data.");
        store.Required = false;
        var webhook = ServeWebhookOption.Create(); // door events; ServeWebhookOption.cs
        var command = new Command("serve", "Serve the HTTP API: identify, verify, enroll, collections, detect, embed, health and metrics. Every /v1 call needs an API key.")
        {
            listen, data, keys, model, weights, mtcnn, audit, captures, maxBody, maxBatch, maxWait, queue, store, webhook,
        };
        command.SetAction(async (r, cancellation) =>
        {
            var descriptor = ModelRegistry.Get(r.GetValue(model) ?? "faceapi");
            // Resolve files now, so a wrong path fails before the port is bound; the weights then load in the background.
            string weightsPath = ModelRegistry.FindWeights(descriptor, r.GetValue(weights));
            var input = FaceInput.Choose(descriptor, FaceInputMode.Auto, null, null);
            string? mtcnnPath = input.Detect ? ModelRegistry.FindMtcnn(r.GetValue(mtcnn)) : r.GetValue(mtcnn);
            await DbCommand.CheckAsync(r.GetValue(store), cancellation).ConfigureAwait(false); // a bad --store fails before the port is bound
            var options = new ServeOptions
            {
                Store = r.GetValue(store),
                Listen = r.GetValue(listen)!,
                DataDirectory = r.GetValue(data)!,
                KeysPath = r.GetValue(keys)!,
                Model = descriptor.Id,
                Weights = weightsPath,
                Mtcnn = mtcnnPath,
                AuditPath = r.GetValue(audit),
                KeepCaptures = r.GetValue(captures),
                MaxBodyBytes = r.GetValue(maxBody),
                MaxBatch = r.GetValue(maxBatch),
                MaxWait = TimeSpan.FromMilliseconds(r.GetValue(maxWait)),
                QueueCapacity = r.GetValue(queue),
                Webhook = r.GetValue(webhook),
            };
            await using var host = await ServiceHost.StartAsync(options, () => new FacePipeline(descriptor, ModelRegistry.LoadEncoder(descriptor, weightsPath), input, mtcnnPath),
                console.Stderr, cancellation).ConfigureAwait(false);
            console.Stdout.WriteLine($"Listening on {host.Address}; loading {descriptor.Id} from {weightsPath} (GET /readyz says when it is ready).");
            console.Stdout.Flush();
            try
            {
                await host.Ready.WaitAsync(cancellation).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                console.Stderr.WriteLine($"error: the model failed to load: {ex.Message}");
                return CliApp.Error;
            }

            console.Stdout.WriteLine($"Ready: {descriptor.Id}, faces {input.Id}, collections in {(options.Store is null ? Path.GetFullPath(options.DataDirectory) : "PostgreSQL (--store)")}. Ctrl+C stops.");
            console.Stdout.Flush();
            try
            {
                await host.WaitForShutdownAsync(cancellation).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            console.Stdout.WriteLine("Stopped.");
            return CliApp.Success;
        });
        return command;
    }
}
