using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RobotRuntime.Agents;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Packaging;
using RobotRuntime.Agents.Training;
using RobotRuntime.Datasets;
using RobotRuntime.Sim.Tabletop;
using RobotRuntime.Tensors;
using RobotRuntime.Vision.Encoders;
using Spectre.Console;

namespace RobotRuntime.Cli.AgentCommands;

/// <summary>What <c>rr train --from-dataset</c> was asked.</summary>
internal sealed record AdaptRequest
{
    public required IReadOnlyList<string> Datasets { get; init; }
    public required string Package { get; init; }
    public required string Run { get; init; }
    public string? PackageOut { get; init; }
    public long Updates { get; init; } = 2_000;
    public int BatchSize { get; init; }
    public int Seed { get; init; } = 1;
    public AdaptationReward Reward { get; init; } = AdaptationReward.Auto;
    public bool EncoderOnly { get; init; }
    public int WarmupUpdates { get; init; } = 500;
    public float LearningRateScale { get; init; } = 1f;
    public long CheckpointEvery { get; init; } = 500;
    public string? Zoo { get; init; }
    public Onnx.OnnxSessionSettings? Device { get; init; }
    public bool Progress { get; init; } = true;
    public string CommandLine { get; init; } = "";
}

/// <summary>
/// <c>rr train --from-dataset</c>: offline adaptation of an agent package on recorded episodes. Loads the
/// parent package (weights, config, arm layout, PVR identity), refuses a dataset that does not fit it, fills
/// a replay from the datasets, makes TD-MPC2 updates (<see cref="OfflineTrainer"/>) in a resumable run
/// folder, and writes the adapted package with both parents named in its manifest.
/// </summary>
internal static class AdaptCommand
{
    public static int Run(AdaptRequest request, TextWriter output, CancellationToken cancel)
    {
        if (request.Updates < 1)
            throw new ArgumentException($"--updates: expected at least 1 update, got {request.Updates}");
        if (request.BatchSize < 0)
            throw new ArgumentException($"--batch-size: expected 0 (the package's) or a positive batch size, got {request.BatchSize}");
        if (request.Datasets.Count == 0)
            throw new ArgumentException("--from-dataset: expected at least one dataset folder");

        // The parent package, its PVR checked as rr eval checks it.
        var parentConfig = AgentPackage.ReadConfig(request.Package);
        PvrModel? pvrModel = null;
        string? pvrFile = null;
        if (parentConfig.Mode != EncoderMode.Scratch)
        {
            var zoo = PvrZoo.Load(request.Zoo ?? PvrZoo.DefaultManifestPath());
            pvrModel = zoo.Get(parentConfig.Encoder);
            pvrFile = zoo.ResolveFile(pvrModel);
        }
        var parent = AgentPackage.Load(request.Package, pvrFile, pvrModel);
        string parentIdentity = parent.Pvr.Id == "scratch" ? "scratch" : $"{parent.Pvr.Id} sha256:{parent.Pvr.Sha256}";
        var config = request.BatchSize > 0 ? parent.Model.Config with { BatchSize = request.BatchSize } : parent.Model.Config;
        config.Validate();
        var (_, features, identity, _) = AgentSetup.CreateFeatures(config, request.Zoo, request.Device);
        using var ownedFeatures = features;
        if (identity != parentIdentity)
            throw new InvalidDataException($"agent package '{request.Package}' was trained with encoder '{parentIdentity}' but this machine's is '{identity}'");
        // The model to adapt: the package's weights, under the run's config (the batch size may differ).
        var model = new WorldModel(config, parent.Model.Layout, seed: 0, parent.Model.PvrTail);
        var weights = parent.Model.InferenceParameters().ToDictionary(p => p.Name);
        foreach (var p in model.InferenceParameters())
            weights[p.Name].Value.Span.CopyTo(p.Value.Span);
        model.SyncTargets(1f);
        if (request.EncoderOnly)
        {
            // Only the encoder adapts; dynamics, reward, Qs and policy stay the parent's, so the losses pull the
            // recorded observations' latents to where the parent's heads read them.
            foreach (var p in model.DynamicsRewardValueParameters().Concat(model.Policy.Parameters()))
                p.Frozen = true;
        }
        long trained = model.InferenceParameters().Where(p => !p.Frozen).Sum(p => (long)p.Value.Length);

        // The datasets, each checked against the package before anything is written.
        var sources = new List<AdaptationSource>();
        foreach (var folder in request.Datasets)
        {
            var dataset = EpisodeDataset.Open(folder);
            sources.Add(AdaptationData.Check(dataset, parent, request.Reward));
        }
        var task = sources.Any(s => s.Reward == AdaptationReward.Task) ? TabletopTask.Create(parent.Task) : null;

        string packageFolder = Path.GetFullPath(request.Package);
        var parentEntry = new JsonObject
        {
            ["kind"] = "package",
            ["path"] = packageFolder,
            ["weightsSha256"] = AgentPackage.Sha256(Path.Combine(packageFolder, "weights.safetensors")),
            ["task"] = parent.Task,
            ["pvr"] = parentIdentity,
        };
        int episodeSteps = parent.EpisodeSteps ?? 100;
        var options = new OfflineTrainerOptions
        {
            Seed = request.Seed,
            Updates = request.Updates,
            CheckpointEvery = request.CheckpointEvery,
            LogEvery = (int)Math.Min(50, request.CheckpointEvery),
            ReplayCapacity = AdaptationData.ReplayCapacityFor(sources.Select(s => s.Dataset)),
            EpisodeSteps = episodeSteps,
            WarmupUpdates = request.WarmupUpdates,
            LearningRateScale = request.LearningRateScale,
        }.Validate();
        var record = new JsonObject
        {
            ["task"] = parent.Task,
            ["encoder"] = identity,
            ["layout"] = model.Layout.ToString(),
            ["trainer"] = new JsonObject
            {
                ["Kind"] = "offline",
                ["Task"] = parent.Task,
                ["Arm"] = parent.ArmName,
                ["Seed"] = request.Seed,
                ["Updates"] = request.Updates,
                ["CheckpointEvery"] = request.CheckpointEvery,
                ["BatchSize"] = config.BatchSize,
                ["Reward"] = request.Reward.ToString().ToLowerInvariant(),
                ["Trainable"] = request.EncoderOnly ? "encoder" : "all",
                ["WarmupUpdates"] = request.WarmupUpdates,
                ["LearningRateScale"] = request.LearningRateScale,
                ["EpisodeSteps"] = episodeSteps,
            },
            ["agent"] = JsonNode.Parse(config.ToJson()),
            ["armLayout"] = parent.ArmLayout.ToJson(),
            ["parentManifestTraining"] = parent.Manifest["training"]?.DeepClone(),
            ["parents"] = new JsonArray(new JsonNode?[] { parentEntry }.Concat(request.Datasets.Select(d => (JsonNode?)new JsonObject { ["kind"] = "dataset", ["path"] = Path.GetFullPath(d) })).ToArray()),
        };

        using var trainer = new OfflineTrainer(request.Run, model, features, options, record);
        output.WriteLine($"rr train: offline adaptation of {packageFolder} ({parent.Task} on {parent.ArmName}, {config.Mode.ToString().ToLowerInvariant()} {config.Encoder}; {trained:N0} of {model.TrainableParameterCount():N0} parameters train: " +
            $"{(config.Mode == EncoderMode.Frozen ? "the PVR stays frozen" : config.Mode == EncoderMode.Partial ? "the PVR's trunk stays frozen, its tail trains" : config.Mode == EncoderMode.Full ? "the whole PVR trains" : "the CNN trains")}" +
            $"{(request.EncoderOnly ? ", with the encoder head; dynamics, reward, Qs and policy stay the parent's" : ", with the encoder head, dynamics, reward, Qs and policy")}) · " +
            $"{(trainer.Resumed ? $"resuming at update {trainer.Updates}" : "new run")} · batch {config.BatchSize} · lr × {request.LearningRateScale:0.###} after {request.WarmupUpdates} warm-up updates · γ {trainer.Learner.Discount:F3} · seed {request.Seed}");
        if (!trainer.Resumed)
        {
            int episode = 0;
            foreach (var source in sources)
            {
                AdaptationData.Fill(trainer, source, parent, task, ref episode);
                output.WriteLine("rr train: " + AdaptationData.Describe(source));
            }
            trainer.SealData();
            output.WriteLine($"rr train: replay {trainer.Replay.Total:N0} records ({trainer.Replay.RecordBytes:N0} B each) in {Path.Combine(Path.GetFullPath(request.Run), "replay.bin")}");
        }
        else
        {
            // The parents' use is in the run record of the first start; the datasets were not read again.
            foreach (var source in sources)
            {
                source.EpisodesUsed = source.Dataset.Episodes.Count(e => e.Task == parent.Task);
                source.FramesUsed = source.Dataset.Episodes.Where(e => e.Task == parent.Task).Sum(e => (long)e.Length);
            }
        }
        var recordPath = Path.Combine(Path.GetFullPath(request.Run), "run.json");
        if (!trainer.Resumed)
        {
            // The datasets' use, now known, goes into the run record (rr eval RUN --package reads the parents from it).
            record["parents"] = new JsonArray(new JsonNode?[] { parentEntry.DeepClone() }.Concat(sources.Select(s => (JsonNode?)s.ToParent())).ToArray());
            File.WriteAllText(recordPath + ".tmp", record.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            File.Move(recordPath + ".tmp", recordPath, overwrite: true);
        }

        if (request.Progress && !Console.IsOutputRedirected)
        {
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var bar = context.AddTask("adapting", maxValue: request.Updates);
                    bar.Value = trainer.Updates;
                    trainer.Run(p =>
                    {
                        bar.Value = p.Updates;
                        bar.Description = string.Create(CultureInfo.InvariantCulture, $"update {p.Updates} · loss {p.Losses.Total:F3} (consistency {p.Losses.Consistency:F4}, reward {p.Losses.Reward:F3}, value {p.Losses.Value:F3})");
                    }, cancel: cancel);
                });
        }
        else
        {
            long every = Math.Max(1, request.Updates / 10);
            trainer.Run(p =>
            {
                if (p.Updates % every == 0)
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"update {p.Updates} · {trainer.Seconds:F0} s · loss {p.Losses.Total:F4} (consistency {p.Losses.Consistency:F5}, reward {p.Losses.Reward:F4}, value {p.Losses.Value:F4}, policy {p.Losses.Policy:F4})"));
            }, cancel: cancel);
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rr train: stopped at update {trainer.Updates} of {request.Updates} ({trainer.Seconds:F0} s of updates); checkpoint and metrics in {Path.GetFullPath(request.Run)}"));

        if (request.PackageOut is { } packageOut && trainer.Updates >= request.Updates)
        {
            var parents = JsonNode.Parse(File.ReadAllText(recordPath))!["parents"]!.AsArray().Select(p => p!.AsObject()).ToList();
            AgentPackage.Save(packageOut, model, parent.Task, parent.Pvr, parent.ArmLayout, parent.ArmName, TrainingRecord(request, parent, recordPath, trainer), parents);
            output.WriteLine($"rr train: wrote agent package {Path.GetFullPath(packageOut)} (parents: {packageFolder}, {string.Join(", ", sources.Select(s => s.Dataset.Folder))})");
        }
        return 0;
    }

    /// <summary>The manifest's <c>training</c> record of an adapted package: the run, and the parent's rate and episode length (it acts as its parent did).</summary>
    internal static Dictionary<string, string> TrainingRecord(AdaptRequest request, AgentPackage.Loaded parent, string runRecordPath, OfflineTrainer trainer)
    {
        var training = new Dictionary<string, string>
        {
            [AgentPackage.TrainingKeys.Run] = Path.GetFullPath(request.Run),
            [AgentPackage.TrainingKeys.RunRecord] = File.ReadAllText(runRecordPath),
            ["adaptation"] = string.Create(CultureInfo.InvariantCulture, $"offline: {trainer.Updates} TD-MPC2 updates on {trainer.Replay.Total} replay records, seed {request.Seed}, {trainer.Seconds:F0} s of updates"),
            ["commands"] = request.CommandLine,
            ["seed"] = request.Seed.ToString(CultureInfo.InvariantCulture),
            ["updates"] = trainer.Updates.ToString(CultureInfo.InvariantCulture),
        };
        if (parent.ControlRateHz is { } rate)
            training[AgentPackage.TrainingKeys.ControlRateHz] = rate.ToString("R", CultureInfo.InvariantCulture);
        if (parent.EpisodeSteps is { } steps)
            training[AgentPackage.TrainingKeys.EpisodeSteps] = steps.ToString(CultureInfo.InvariantCulture);
        return training;
    }
}
