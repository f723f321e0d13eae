using System.CommandLine;
using System.Globalization;
using RobotRuntime.Datasets;
using RobotRuntime.Pretraining;
using RobotRuntime.Tensors;

namespace RobotRuntime.Cli.Pretraining;

/// <summary><c>rr pretrain</c>: pre-trains an image encoder on an episode dataset into a run folder (resumes when the folder has a checkpoint), then exports it to ONNX with a zoo entry.</summary>
public static class PretrainCommand
{
    /// <summary>Builds the <c>pretrain</c> verb.</summary>
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Episode dataset folder: rr collect's, rr record --dataset's (frames only: atc, video-dynamics, mae, curl, siammae) or rr run --record's (frames only too: its action column is the sent command, not one action per frame).", Required = true };
        var run = new Option<string>("--run") { Description = "Run folder (run.json, metrics, curve, checkpoint, encoder.onnx, zoo.json). Resumes if it holds a checkpoint.", Required = true };
        var objective = new Option<string>("--objective") { Description = "atc, idm, bc, video-dynamics, spr, mae, curl or siammae (mae and siammae need --architecture vit-tiny).", Required = true };
        var architecture = new Option<string>("--architecture") { Description = $"Encoder: {string.Join(", ", EncoderArchitectures.Names)}.", DefaultValueFactory = _ => "cnn" };
        var steps = new Option<int>("--steps") { Description = "Updates in total (a resumed run may be given more).", DefaultValueFactory = _ => 5000 };
        var batch = new Option<int>("--batch-size") { Description = "Samples per update.", DefaultValueFactory = _ => 64 };
        var rate = new Option<float>("--lr") { Description = "Adam learning rate.", DefaultValueFactory = _ => 1e-3f };
        var seed = new Option<int>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 1 };
        var offset = new Option<int>("--offset") { Description = "Frames between anchor and positive (ATC) or the predicted frame (video dynamics).", DefaultValueFactory = _ => 3 };
        var pool = new Option<int>("--pool-episodes") { Description = "Episodes held decoded in memory.", DefaultValueFactory = _ => 96 };
        var group = new Option<int>("--group") { Description = "ATC, CURL and video dynamics: samples of a batch taken from one episode and camera (other moments of the same scene as negatives).", DefaultValueFactory = _ => 8 };
        var jitter = new Option<float>("--colour-jitter") { Description = "Colour augmentation: per-channel gain in [1-j, 1+j] and offset in [-j/2, j/2] for each image (0: off).", DefaultValueFactory = _ => 0f };
        var sprSteps = new Option<int>("--spr-steps") { Description = "SPR: K, the steps the transition model is rolled forward with the recorded actions (frames t+1 … t+K are predicted).", DefaultValueFactory = _ => 5 };
        var maskRatio = new Option<float>("--mask-ratio") { Description = "MAE: share of each image's patches hidden from the encoder.", DefaultValueFactory = _ => 0.75f };
        var siamMaeGap = new Option<int>("--siammae-gap") { Description = "SiamMAE: frames from the past frame to the future frame (both inside one episode; shorter episodes are not drawn).", DefaultValueFactory = _ => 4 };
        var siamMaeMaskRatio = new Option<float>("--siammae-mask-ratio") { Description = "SiamMAE: share of the future frame's patches hidden from the encoder (the past frame is never masked).", DefaultValueFactory = _ => 0.95f };
        var shiftPad = new Option<int>("--shift-pad") { Description = "Random-shift augmentation (CURL's crop): pixels of edge-replicated padding before a random crop back to size (0: none).", DefaultValueFactory = _ => 4 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Updates between checkpoints.", DefaultValueFactory = _ => 250 };
        var threads = new Option<int>("--threads") { Description = "Engine threads (1 is bit-reproducible).", DefaultValueFactory = _ => 1 };
        var id = new Option<string?>("--id") { Description = "Zoo id of the exported encoder (default: the run folder's name)." };
        var verb = new Command("pretrain", "Pre-train a visual representation (image encoder) on an episode dataset with a self-supervised objective; export it to ONNX for the PVR zoo.")
        {
            data, run, objective, architecture, steps, batch, rate, seed, offset, pool, group, jitter, sprSteps, maskRatio, siamMaeGap, siamMaeMaskRatio, shiftPad, checkpointEvery, threads, id,
        };
        verb.SetAction((result, cancellation) =>
        {
            var error = result.InvocationConfiguration.Error;
            var console = result.InvocationConfiguration.Output;
            try
            {
                var options = new PretrainOptions(
                    PretrainOptions.Parse(result.GetValue(objective)!),
                    result.GetValue(architecture)!,
                    result.GetValue(steps),
                    result.GetValue(batch),
                    result.GetValue(rate),
                    result.GetValue(seed),
                    result.GetValue(offset),
                    ShiftPad: result.GetValue(shiftPad),
                    PoolEpisodes: result.GetValue(pool),
                    CheckpointEvery: result.GetValue(checkpointEvery),
                    Group: result.GetValue(group),
                    ColourJitter: result.GetValue(jitter),
                    SprSteps: result.GetValue(sprSteps),
                    MaskRatio: result.GetValue(maskRatio),
                    SiamMaeGap: result.GetValue(siamMaeGap),
                    SiamMaeMaskRatio: result.GetValue(siamMaeMaskRatio));
                options.Validate();
                var threadCount = result.GetValue(threads);
                if (threadCount is < 1 or > 64)
                    throw new ArgumentException($"--threads must be 1..64, got {threadCount}");
                TensorEngine.ThreadCount = threadCount;
                var dataset = EpisodeDataset.Open(result.GetValue(data)!);
                var runFolder = result.GetValue(run)!;
                var trainer = new Pretrainer(runFolder, dataset, options);
                if (PretrainingData.ActionColumn(dataset.Layout, options.Objective) is { } actionColumn)
                    console.WriteLine($"rr pretrain: a recorded deployment: actions from {actionColumn} (the agent's own), on the steps where the arm carried it out unclipped, with usable frames one cycle apart");
                if (trainer.Step > 0)
                    console.WriteLine($"rr pretrain: resuming {Path.GetFullPath(runFolder)} at update {trainer.Step}");
                var lastPrint = DateTime.MinValue;
                trainer.Run(progress =>
                {
                    if ((DateTime.UtcNow - lastPrint).TotalSeconds < 10 && progress.Step != progress.Steps)
                        return;
                    lastPrint = DateTime.UtcNow;
                    console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"rr pretrain: {progress.Step}/{progress.Steps} loss {progress.Loss:G4} ({string.Join(", ", progress.Parts.Select(p => $"{p.Name} {p.Value:G4}"))}); {progress.ImagesPerSecond:F0} images/s"));
                }, cancellation);
                if (trainer.Step < options.Steps)
                {
                    console.WriteLine($"rr pretrain: stopped at update {trainer.Step} after a checkpoint; run the same command to continue.");
                    return Task.FromResult(130);
                }
                var zooId = result.GetValue(id) ?? new DirectoryInfo(Path.GetFullPath(runFolder)).Name;
                var command = "rr " + string.Join(' ', result.Tokens.Select(t => t.Value));
                var onnx = trainer.Export(zooId, command);
                console.WriteLine($"rr pretrain: exported {onnx} and {Path.Combine(Path.GetDirectoryName(onnx)!, "zoo.json")} (id {zooId}, {trainer.Objective.EmbeddingSize} floats per image)");
                return Task.FromResult(0);
            }
            catch (Exception failure) when (failure is ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException
                or InvalidOperationException or FileNotFoundException or RobotRuntime.Native.NativeDependencyMissingException)
            {
                error.WriteLine($"rr pretrain: {failure.Message}");
                return Task.FromResult(1);
            }
        });
        return verb;
    }
}
