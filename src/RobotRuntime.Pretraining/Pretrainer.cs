using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RobotRuntime.Agents.Model;
using RobotRuntime.Datasets;
using RobotRuntime.Tensors;
using RobotRuntime.Tensors.Onnx;
using RobotRuntime.Tensors.Optim;
using RobotRuntime.Tensors.Serialization;

namespace RobotRuntime.Pretraining;

/// <summary>Progress after an update.</summary>
/// <param name="Step">Updates done.</param>
/// <param name="Steps">Updates the run is to do.</param>
/// <param name="Loss">This update's loss.</param>
/// <param name="Parts">Its named parts.</param>
/// <param name="ImagesPerSecond">Images through the encoder (forward and backward) per second in this session.</param>
public readonly record struct PretrainProgress(long Step, long Steps, float Loss, IReadOnlyList<(string Name, float Value)> Parts, double ImagesPerSecond);

/// <summary>
/// A pre-training run in a folder, like <c>rr train</c>'s: <c>run.json</c> (options, dataset),
/// <c>metrics.csv</c> (one row per 10 updates), <c>curve.png</c>/<c>curve.svg</c>, <c>checkpoint.safetensors</c>
/// (every weight, the momentum targets, Adam's moments and the random and sampler states; written
/// to a temporary file and renamed) and, when done, <c>encoder.onnx</c> with <c>zoo.json</c>.
/// Starting it again on the same folder resumes from the checkpoint exactly: the updates that
/// follow are the ones an uninterrupted run would have made.
/// </summary>
public sealed class Pretrainer
{
    private const int MetricsEvery = 10;
    private readonly string _run;
    private readonly EpisodeDataset _dataset;
    private readonly PretrainOptions _options;
    private readonly PretrainingObjective _objective;
    private readonly Adam _optimizer;
    private readonly ExponentialMovingAverage? _momentum;
    private readonly FrameSampler _sampler;
    private readonly AgentRandom _lossRandom;
    private readonly Parameter[] _trainable;
    private readonly Tape _tape = new();
    private double _elapsedBefore;

    /// <summary>Opens or starts the run in <paramref name="runFolder"/>.</summary>
    /// <exception cref="ArgumentException">
    /// Bad options, a dataset that cannot serve the objective or the encoder (<see cref="PretrainingData.Check"/>: no actions
    /// for an objective that learns from them, an image size the encoder does not take), or the folder holds a run with other settings (named).
    /// </exception>
    public Pretrainer(string runFolder, EpisodeDataset dataset, PretrainOptions options)
    {
        options.Validate();
        PretrainingData.Check(dataset, options);
        _run = Path.GetFullPath(runFolder);
        _dataset = dataset;
        _options = options;
        var imageSize = dataset.Layout.ImageWidth;
        var init = new Random(options.Seed);
        var actionColumn = PretrainingData.ActionColumn(dataset.Layout, options.Objective);
        _objective = PretrainingObjective.Create(options, imageSize, PretrainingData.ActionSize(dataset.Layout, options.Objective), init);
        _trainable = _objective.TrainableParameters().ToArray();
        _optimizer = new Adam([new ParameterGroup(_trainable, options.LearningRate)]);
        var (online, target) = _objective.MomentumPairs();
        if (online.Count > 0)
        {
            _momentum = new ExponentialMovingAverage(online, target);
            _momentum.CopyOnlineToTarget();
        }
        _lossRandom = new AgentRandom((ulong)options.Seed * 7919UL + 17UL);
        _sampler = new FrameSampler(dataset, new AgentRandom((ulong)options.Seed * 104729UL + 3UL), options.PoolEpisodes, options.ShiftPad, _objective.Includes, options.ColourJitter, _objective.InclusionRule,
            actionColumn, actionColumn is null ? 0 : _objective.Offset);
        // Made only now: a dataset the sampler cannot draw from is refused before anything is written.
        Directory.CreateDirectory(_run);
        var runJson = Path.Combine(_run, "run.json");
        if (File.Exists(Path.Combine(_run, "checkpoint.safetensors")))
        {
            CheckSameRun(runJson);
            LoadCheckpoint();
        }
        else
        {
            File.WriteAllText(runJson, RunJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }
    }

    /// <summary>Updates done.</summary>
    public long Step { get; private set; }

    /// <summary>The objective (encoder and heads).</summary>
    public PretrainingObjective Objective => _objective;

    /// <summary>Trains until <see cref="PretrainOptions.Steps"/> updates, checkpointing on the way and at the end; stops early (after a checkpoint) when cancelled.</summary>
    public void Run(Action<PretrainProgress>? progress = null, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        long imagesThisSession = 0;
        var imagesPerUpdate = _objective.ImagesPerSample * _options.BatchSize;
        while (Step < _options.Steps)
        {
            if (cancellation.IsCancellationRequested)
                break;
            var batch = _objective.Draw(_sampler, _options.BatchSize, _options.Group);
            float lossValue;
            IReadOnlyList<(string Name, float Value)> parts;
            using (_tape.Record())
            {
                var (loss, lossParts) = _objective.Loss(batch, _lossRandom);
                lossValue = loss.Item();
                parts = lossParts;
                if (!float.IsFinite(lossValue))
                    throw new InvalidOperationException($"the {PretrainOptions.NameOf(_options.Objective)} loss became {lossValue} at update {Step + 1}; lower the learning rate (now {_options.LearningRate.ToString(CultureInfo.InvariantCulture)})");
                _optimizer.ZeroGrad();
                _tape.Backward(loss);
                GradientClipping.ClipByGlobalNorm(_trainable, 10f);
                _optimizer.Step();
            }
            _tape.Reset();
            _momentum?.Update(_options.TargetTau);
            Step++;
            imagesThisSession += imagesPerUpdate;
            var rate = imagesThisSession / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            if (Step % MetricsEvery == 0 || Step == _options.Steps)
                AppendMetrics(lossValue, parts, _elapsedBefore + clock.Elapsed.TotalSeconds, rate);
            progress?.Invoke(new PretrainProgress(Step, _options.Steps, lossValue, parts, rate));
            if (Step % _options.CheckpointEvery == 0 || Step == _options.Steps)
                SaveCheckpoint(_elapsedBefore + clock.Elapsed.TotalSeconds);
        }
        if (Step % _options.CheckpointEvery != 0 && Step != _options.Steps)
            SaveCheckpoint(_elapsedBefore + clock.Elapsed.TotalSeconds);
        _elapsedBefore += clock.Elapsed.TotalSeconds;
        WriteCurve();
    }

    /// <summary>
    /// Writes the encoder as <c>encoder.onnx</c> and a one-entry zoo manifest <c>zoo.json</c> for
    /// <paramref name="id"/> (input normalisation pixels / 255 − 0.5, the split for partial fine-tuning
    /// before the last convolution or, for a transformer, before its last block; SHA-256, dataset, command
    /// and seed in its description).
    /// </summary>
    /// <returns>The ONNX file's path.</returns>
    public string Export(string id, string command)
    {
        var side = _dataset.Layout.ImageWidth;
        var onnx = Path.Combine(_run, "encoder.onnx");
        OnnxModelFile.Export(_objective.Encoder, Tensor.Zeros(1, 3, side, side), onnx);
        var graph = OnnxGraph.Load(onnx);
        // Partial fine-tuning trains the last convolution of a CNN, or the last block of a transformer
        // (with the final LayerNorm and the token mean): each block holds two LayerNormalization nodes
        // and the final norm one, so the last block starts at the third LayerNormalization from the end.
        var trainableFrom = EncoderArchitectures.IsTransformer(_options.Architecture)
            ? graph.Nodes.Where(n => n.OpType == "LayerNormalization").SkipLast(2).Last().Inputs[0]
            : graph.Nodes.Last(n => n.OpType == "Conv").Inputs[0];
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(onnx))).ToLowerInvariant();
        var entry = new JsonObject
        {
            ["id"] = id,
            ["description"] = string.Create(CultureInfo.InvariantCulture,
                $"Pre-trained by RobotRuntime: {PretrainOptions.NameOf(_options.Objective)} objective, {_options.Architecture} encoder, {Step} updates of {_options.BatchSize}, seed {_options.Seed}, on {_dataset.Folder} ({_dataset.Episodes.Count} episodes, {_dataset.TotalFrames} frames, cameras {string.Join("+", _dataset.Layout.Cameras)}). SHA-256 {hash}."),
            ["file"] = "encoder.onnx",
            ["input"] = new JsonObject
            {
                ["name"] = "input", ["height"] = side, ["width"] = side, ["colorOrder"] = "RGB", ["resize"] = "stretch",
                ["scale"] = 1.0 / 255.0, ["mean"] = new JsonArray(0.5, 0.5, 0.5), ["std"] = new JsonArray(1.0, 1.0, 1.0),
            },
            ["output"] = new JsonObject { ["name"] = "output", ["selector"] = "embedding" },
            ["embeddingSize"] = _objective.EmbeddingSize,
            ["licence"] = "project model",
            ["source"] = _run,
            ["export"] = command,
            ["trainableFrom"] = trainableFrom,
        };
        var zoo = new JsonObject { ["version"] = 1, ["models"] = new JsonArray(entry) };
        File.WriteAllText(Path.Combine(_run, "zoo.json"), zoo.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return onnx;
    }

    private JsonObject RunJson() => new()
    {
        ["format"] = "robotruntime-pretrain",
        ["version"] = 1,
        ["objective"] = PretrainOptions.NameOf(_options.Objective),
        ["architecture"] = _options.Architecture,
        ["batchSize"] = _options.BatchSize,
        ["learningRate"] = _options.LearningRate,
        ["seed"] = _options.Seed,
        ["temporalOffset"] = _options.TemporalOffset,
        ["shiftPad"] = _options.ShiftPad,
        ["poolEpisodes"] = _options.PoolEpisodes,
        ["targetTau"] = _options.TargetTau,
        ["group"] = _options.Group,
        ["colourJitter"] = _options.ColourJitter,
        ["sprSteps"] = _options.SprSteps,
        ["maskRatio"] = _options.MaskRatio,
        ["siamMaeGap"] = _options.SiamMaeGap,
        ["siamMaeMaskRatio"] = _options.SiamMaeMaskRatio,
        ["dataset"] = _dataset.Folder,
        ["datasetEpisodes"] = _dataset.Episodes.Count,
        ["imageSize"] = _dataset.Layout.ImageWidth,
        ["engineThreads"] = TensorEngine.ThreadCount,
    };

    private void CheckSameRun(string runJson)
    {
        if (!File.Exists(runJson))
            throw new ArgumentException($"{_run} has a checkpoint but no run.json; it is not a pre-training run folder");
        var stored = JsonNode.Parse(File.ReadAllText(runJson))!.AsObject();
        var now = RunJson();
        // Settings added after runs were made: what those runs had.
        var before = new Dictionary<string, string> { ["colourJitter"] = "0", ["sprSteps"] = "5", ["maskRatio"] = "0.75", ["siamMaeGap"] = "4", ["siamMaeMaskRatio"] = "0.95" };
        foreach (var key in new[] { "format", "objective", "architecture", "batchSize", "learningRate", "seed", "temporalOffset", "shiftPad", "poolEpisodes", "targetTau", "group", "colourJitter", "sprSteps", "maskRatio", "siamMaeGap", "siamMaeMaskRatio", "imageSize", "datasetEpisodes" })
        {
            var a = stored[key]?.ToJsonString() ?? before.GetValueOrDefault(key);
            var b = now[key]?.ToJsonString();
            if (a != b)
                throw new ArgumentException($"{_run} holds a run with {key} = {a}; this command asks for {b}. Use another --run folder, or the same settings to resume (only --steps may change).");
        }
    }

    private void SaveCheckpoint(double elapsed)
    {
        var tensors = _objective.AllParameters().Select(p => new KeyValuePair<string, Tensor>(p.Name, p.Value))
            .Concat(_optimizer.ExportState())
            .ToList();
        SafeTensors.Save(Path.Combine(_run, "checkpoint.safetensors"), tensors, new Dictionary<string, string>
        {
            ["step"] = Step.ToString(CultureInfo.InvariantCulture),
            ["sampler"] = _sampler.SaveState(),
            ["loss_random"] = _lossRandom.Save(),
            ["elapsed_seconds"] = elapsed.ToString("R", CultureInfo.InvariantCulture),
        });
    }

    private void LoadCheckpoint()
    {
        var path = Path.Combine(_run, "checkpoint.safetensors");
        var tensors = SafeTensors.Load(path, out var metadata);
        foreach (var parameter in _objective.AllParameters())
        {
            if (!tensors.TryGetValue(parameter.Name, out var value) || value.Length != parameter.Value.Length)
                throw new InvalidDataException($"{path}: no tensor '{parameter.Name}' of {parameter.Value.ShapeString}; the checkpoint does not fit this run");
            value.Span.CopyTo(parameter.Value.Span);
        }
        _optimizer.ImportState(tensors);
        Step = long.Parse(metadata["step"], CultureInfo.InvariantCulture);
        _sampler.RestoreState(metadata["sampler"]);
        _lossRandom.Restore(metadata["loss_random"]);
        _elapsedBefore = double.Parse(metadata["elapsed_seconds"], CultureInfo.InvariantCulture);
        TruncateMetrics();
    }

    private void AppendMetrics(float loss, IReadOnlyList<(string Name, float Value)> parts, double seconds, double rate)
    {
        var path = Path.Combine(_run, "metrics.csv");
        if (!File.Exists(path))
            File.WriteAllText(path, "step,wall_seconds,loss," + string.Join(',', parts.Select(p => p.Name)) + ",images_per_second\n");
        File.AppendAllText(path, string.Create(CultureInfo.InvariantCulture,
            $"{Step},{seconds:F1},{loss:G6},{string.Join(',', parts.Select(p => p.Value.ToString("G6", CultureInfo.InvariantCulture)))},{rate:F1}\n"));
    }

    /// <summary>Drops metrics rows after the checkpoint's step (they are recomputed identically on resume).</summary>
    private void TruncateMetrics()
    {
        var path = Path.Combine(_run, "metrics.csv");
        if (!File.Exists(path))
            return;
        var lines = File.ReadAllLines(path);
        var kept = lines.Take(1).Concat(lines.Skip(1).Where(l => long.TryParse(l.Split(',')[0], CultureInfo.InvariantCulture, out var s) && s <= Step));
        File.WriteAllText(path, string.Concat(kept.Select(l => l + "\n")));
    }

    /// <summary>Loss against updates (<c>curve.png</c>, <c>curve.svg</c>).</summary>
    private void WriteCurve()
    {
        var path = Path.Combine(_run, "metrics.csv");
        if (!File.Exists(path))
            return;
        var lines = File.ReadAllLines(path);
        if (lines.Length < 2)
            return;
        var header = lines[0].Split(',');
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        var steps = rows.Select(f => long.Parse(f[0], CultureInfo.InvariantCulture)).ToList();
        var loss = rows.Select(f => double.Parse(f[2], CultureInfo.InvariantCulture)).ToArray();
        var plot = Plots.CurvePlots.Losses(steps, new Dictionary<string, double[]> { [header[2]] = loss },
            $"{PretrainOptions.NameOf(_options.Objective)} · {_options.Architecture} · seed {_options.Seed}: training loss");
        Plots.PlotFiles.Save(plot, Path.Combine(_run, "curve"), Plots.CurvePlots.Width, Plots.CurvePlots.Height);
    }
}
