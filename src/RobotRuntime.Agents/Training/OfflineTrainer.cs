using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RobotRuntime.Agents.Encoders;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Replay;
using RobotRuntime.Environments;
using RobotRuntime.Tensors.Serialization;

namespace RobotRuntime.Agents.Training;

/// <summary>How an offline adaptation run proceeds (<c>rr train --from-dataset</c>).</summary>
public sealed record OfflineTrainerOptions
{
    /// <summary>Seed of every random draw of the updates (batches, augmentation, policy noise, Q choice, dropout).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>TD-MPC2 updates to make in all (raising it on a finished run extends it).</summary>
    public long Updates { get; init; } = 2_000;

    /// <summary>Updates between checkpoints.</summary>
    public long CheckpointEvery { get; init; } = 500;

    /// <summary>Updates per row of <c>metrics.csv</c> (each row holds their mean losses).</summary>
    public int LogEvery { get; init; } = 50;

    /// <summary>Records the replay holds; at least the records the datasets give (each frame at most twice).</summary>
    public long ReplayCapacity { get; init; } = 100_000;

    /// <summary>Steps of an episode of the task, for TD-MPC2's discount heuristic (the parent's <c>episodeSteps</c>).</summary>
    public int EpisodeSteps { get; init; } = 100;

    /// <summary>
    /// Updates over which the learning rates ramp linearly from 1/W of their value to all of it (0: none). The
    /// optimiser starts with no moments (a package does not carry them), and Adam's first steps move every
    /// weight by the full rate: warming up keeps them small while its moments fill.
    /// </summary>
    public int WarmupUpdates { get; init; } = 500;

    /// <summary>Factor on the config's learning rates for the whole run (1: as in online training).</summary>
    public float LearningRateScale { get; init; } = 1f;

    /// <summary>Checks every option's range.</summary>
    /// <returns>This instance.</returns>
    /// <exception cref="ArgumentException">An option is out of range; the message names it (with <c>rr train</c>'s option) and what was expected.</exception>
    public OfflineTrainerOptions Validate()
    {
        static void Require(bool ok, string option, string expected, object value)
        {
            if (!ok)
                throw new ArgumentException($"{option}: expected {expected}, got {value}");
        }
        Require(Updates >= 1, "--updates", "at least 1 update", Updates);
        Require(CheckpointEvery >= 1, "--checkpoint-every", "at least 1 update between checkpoints", CheckpointEvery);
        Require(LogEvery >= 1, "log interval", "at least 1 update per metrics row", LogEvery);
        Require(ReplayCapacity >= 16, "replay capacity", "at least 16 records", ReplayCapacity);
        Require(EpisodeSteps >= 1, "episode steps", "at least 1 step", EpisodeSteps);
        Require(WarmupUpdates >= 0, "--warmup-updates", "0 (none) or more updates", WarmupUpdates);
        Require(float.IsFinite(LearningRateScale) && LearningRateScale > 0, "--lr-scale", "a finite factor > 0", LearningRateScale);
        return this;
    }
}

/// <summary>A snapshot of an offline run's progress for progress bars.</summary>
/// <param name="Updates">Updates made.</param>
/// <param name="Total">Updates the run will make.</param>
/// <param name="Losses">The last update's losses.</param>
public readonly record struct OfflineProgress(long Updates, long Total, UpdateMetrics Losses);

/// <summary>
/// Offline adaptation of a trained world model on recorded transitions: the replay buffer is filled once
/// from the recordings (<see cref="Append"/>, then <see cref="SealData"/>), through the same feature path
/// online training stores (<see cref="IFeatureExtractor"/>: images for scratch and full, PVR embeddings
/// for frozen, trunk features for partial), then <see cref="Run"/> makes TD-MPC2 updates with the same
/// <see cref="BatchSampler"/> and <see cref="TdMpc2Learner"/> as online training: consistency, reward,
/// value and policy losses on the encoder (the scratch CNN, or the head; a partial or full mode's PVR
/// part too), dynamics, reward, Q and policy heads; a frozen PVR or trunk is outside the model and
/// stays as it is. The run folder is <see cref="Trainer"/>'s: <c>run.json</c> (readable by
/// <see cref="Trainer.ReadRun"/>, so <c>rr eval RUN</c> evaluates and packages it), <c>replay.bin</c>,
/// <c>metrics.csv</c> (mean losses per <see cref="OfflineTrainerOptions.LogEvery"/> updates) and
/// <c>checkpoint.safetensors</c> (weights, optimiser moments, random state, update count); a killed run
/// started again resumes from its checkpoint and continues as if it had not stopped.
/// </summary>
/// <remarks>One thread; deterministic for a seed when the engine runs one thread.</remarks>
public sealed class OfflineTrainer : IDisposable
{
    private readonly string _run;
    private readonly IFeatureExtractor _features;
    private readonly OfflineTrainerOptions _options;
    private readonly AgentRandom _random;
    private readonly ReplayBuffer _replay;
    private readonly TdMpc2Learner _learner;
    private readonly byte[] _featureBuffer;
    private readonly double[] _lossSum = new double[6];
    private BatchSampler? _sampler;
    private TrainingBatch? _batch;
    private int _lossCount;
    private double _elapsedBefore;
    private Stopwatch? _clock;
    private bool _sealed;

    /// <summary>Starts or resumes the offline run in <paramref name="runFolder"/>.</summary>
    /// <param name="runFolder">Run folder (created if missing).</param>
    /// <param name="model">The model to adapt, holding the parent's weights (a resumed run overwrites them with its checkpoint's).</param>
    /// <param name="features">The encoder mode's frozen front (owned by the caller); must give the model's layout.</param>
    /// <param name="options">Run options.</param>
    /// <param name="record">The run record for <c>run.json</c>: task, encoder identity, trainer (with its arm), agent config, parents.
    /// A folder holding another run's record (its <see cref="RecordIdentity"/> differs) is refused.</param>
    /// <exception cref="InvalidDataException">The folder holds a different run; the message says what differs.</exception>
    public OfflineTrainer(string runFolder, WorldModel model, IFeatureExtractor features, OfflineTrainerOptions options, JsonObject record)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(record);
        options.Validate();
        _run = Path.GetFullPath(runFolder);
        _features = features;
        _options = options;
        Model = model;
        if (features.Kind != model.Layout.Kind || features.FeatureLength != model.Layout.FeatureLength)
            throw new ArgumentException($"the feature front gives {features.Kind} × {features.FeatureLength}; the model takes {model.Layout.Kind} × {model.Layout.FeatureLength}", nameof(features));
        Directory.CreateDirectory(_run);
        string runRecord = Path.Combine(_run, "run.json");
        if (File.Exists(runRecord))
        {
            var existing = JsonNode.Parse(File.ReadAllText(runRecord))?.AsObject() ?? new JsonObject();
            string before = RecordIdentity(existing), now = RecordIdentity(record);
            if (before != now)
                throw new InvalidDataException($"run folder '{_run}' holds another run ({runRecord}: {before}); this one is {now}. Use a new folder, or the same package, datasets, reward, seed and batch size");
            // The same run: the first start's record (with what the datasets gave) stays; the update count may have been raised.
            existing["trainer"] = record["trainer"]?.DeepClone();
            record = existing;
        }
        var text = record.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        File.WriteAllText(runRecord + ".tmp", text);
        File.Move(runRecord + ".tmp", runRecord, overwrite: true);

        _random = new AgentRandom((ulong)options.Seed * 7919 + 2);
        _learner = new TdMpc2Learner(model, options.EpisodeSteps, _random);
        _featureBuffer = new byte[model.Layout.FeatureBytes];
        string replayPath = Path.Combine(_run, "replay.bin");
        string checkpoint = Path.Combine(_run, Trainer.CheckpointFile);
        if (File.Exists(checkpoint) && File.Exists(replayPath))
        {
            _replay = ReplayBuffer.Open(replayPath, model.Layout, ReplayBuffer.ReadCapacity(replayPath));
            LoadCheckpoint(checkpoint);
            Resumed = true;
            _sealed = true;
        }
        else
        {
            // Nothing or a partly filled replay from a run killed before its data were complete: start over.
            foreach (var file in new[] { replayPath, checkpoint, Path.Combine(_run, "metrics.csv") })
                File.Delete(file);
            _replay = ReplayBuffer.Create(replayPath, model.Layout, options.ReplayCapacity);
        }
    }

    /// <summary>
    /// What a run record must agree on for a run folder to be resumed: everything but the update count and
    /// checkpoint interval, with the parents named by kind, path and weights' hash (not by what they gave).
    /// </summary>
    public static string RecordIdentity(JsonObject record)
    {
        var copy = record.DeepClone().AsObject();
        if (copy["trainer"] is JsonObject trainer)
        {
            trainer.Remove("Updates");
            trainer.Remove("CheckpointEvery");
        }
        if (copy["parents"] is JsonArray parents)
        {
            copy["parents"] = new JsonArray(parents.Select(p => (JsonNode?)new JsonObject
            {
                ["kind"] = p?["kind"]?.DeepClone(),
                ["path"] = p?["path"]?.DeepClone(),
                ["weightsSha256"] = p?["weightsSha256"]?.DeepClone(),
            }).ToArray());
        }
        return copy.ToJsonString();
    }

    /// <summary>The model being adapted.</summary>
    public WorldModel Model { get; }

    /// <summary>The learner (losses, discount).</summary>
    public TdMpc2Learner Learner => _learner;

    /// <summary>The replay buffer.</summary>
    public ReplayBuffer Replay => _replay;

    /// <summary>Whether the run resumed from a checkpoint (its replay is complete; nothing needs appending).</summary>
    public bool Resumed { get; }

    /// <summary>Updates made.</summary>
    public long Updates => _learner.Updates;

    /// <summary>Wall seconds of updates so far, over every resumption.</summary>
    public double Seconds => _elapsedBefore + (_clock?.Elapsed.TotalSeconds ?? 0);

    /// <summary>
    /// Stores one recorded observation: its features (through the frozen front), proprioception, and the
    /// action taken from it with the reward that followed; <paramref name="action"/> empty for the last
    /// observation of an episode (or of a stretch the recording cannot continue).
    /// </summary>
    /// <param name="observation">The recorded cameras and proprioception (at least the model's proprioception length).</param>
    /// <param name="action">The normalised action, the model's action dimension; empty for none.</param>
    /// <param name="reward">The reward after the action.</param>
    /// <param name="flags"><see cref="ReplayFlags.Terminated"/> when the action ended the episode by success; <see cref="ReplayFlags.Padding"/> on an observation that repeats the one before (not recorded).</param>
    /// <param name="episode">Episode number in the replay (consecutive records of one episode share it).</param>
    /// <param name="step">Step within the episode.</param>
    /// <exception cref="InvalidOperationException">The data are already sealed (a resumed run), or a camera is missing or of another size.</exception>
    public void Append(Observation observation, ReadOnlySpan<float> action, float reward, ReplayFlags flags, int episode, int step)
    {
        if (_sealed)
            throw new InvalidOperationException("the replay of this run is complete (it was sealed or resumed); nothing more can be appended");
        if (_replay.Total >= _replay.Capacity)
            throw new InvalidOperationException($"the replay holds {_replay.Capacity} records and is full; give a larger replay capacity");
        _features.Extract(observation, _featureBuffer);
        if (action.Length > 0)
            flags |= ReplayFlags.HasAction;
        _replay.Append(_featureBuffer, observation.Proprioception.AsSpan(0, Model.Layout.ProprioceptionLength), action, reward, flags, episode, step);
    }

    /// <summary>Ends the filling: flushes the replay and writes the first checkpoint (update 0), so a resumed run never refills.</summary>
    /// <exception cref="InvalidOperationException">Too few records to draw a sequence of the horizon.</exception>
    public void SealData()
    {
        if (_sealed)
            return;
        var sampler = new BatchSampler(_replay, _random, 0);
        if (!sampler.CanSample(Model.Config.Horizon))
            throw new InvalidOperationException($"the recordings gave {_replay.Total} replay records; at least {Model.Config.Horizon + 2} consecutive ones of an episode are needed");
        _sealed = true;
        SaveCheckpoint();
    }

    /// <summary>
    /// Makes updates until <see cref="OfflineTrainerOptions.Updates"/> (or <paramref name="stopAfter"/> more, or
    /// cancellation): batches from the replay, one <see cref="TdMpc2Learner.Update"/> each; a metrics row every
    /// <see cref="OfflineTrainerOptions.LogEvery"/> updates and a checkpoint every <see cref="OfflineTrainerOptions.CheckpointEvery"/>
    /// and at the end.
    /// </summary>
    /// <exception cref="InvalidOperationException">The data were not sealed.</exception>
    public void Run(Action<OfflineProgress>? progress = null, long stopAfter = long.MaxValue, CancellationToken cancel = default)
    {
        if (!_sealed)
            throw new InvalidOperationException("SealData first: the replay is still being filled");
        var config = Model.Config;
        _batch ??= new TrainingBatch(Model.Layout, config.BatchSize, config.Horizon);
        _sampler ??= new BatchSampler(_replay, _random, Model.Layout.Kind == FeatureKind.Images ? config.ShiftPad : 0);
        long stopAt = stopAfter == long.MaxValue ? _options.Updates : Math.Min(_options.Updates, _learner.Updates + stopAfter);
        var clock = _clock = Stopwatch.StartNew();
        UpdateMetrics last = default;
        while (_learner.Updates < stopAt && !cancel.IsCancellationRequested)
        {
            _learner.LearningRateScale = _options.LearningRateScale * (_options.WarmupUpdates == 0 ? 1f : Math.Min(1f, (_learner.Updates + 1f) / _options.WarmupUpdates));
            _sampler.Fill(_batch);
            last = _learner.Update(_batch);
            _lossSum[0] += last.Consistency; _lossSum[1] += last.Reward; _lossSum[2] += last.Value;
            _lossSum[3] += last.Policy; _lossSum[4] += last.Total; _lossSum[5] += last.GradNorm;
            _lossCount++;
            if (_learner.Updates % _options.LogEvery == 0)
            {
                AppendMetrics(_elapsedBefore + clock.Elapsed.TotalSeconds, last.ValueScale);
            }
            if (_learner.Updates % _options.CheckpointEvery == 0)
            {
                _elapsedBefore += clock.Elapsed.TotalSeconds;
                clock.Restart();
                SaveCheckpoint();
            }
            progress?.Invoke(new OfflineProgress(_learner.Updates, _options.Updates, last));
        }
        _elapsedBefore += clock.Elapsed.TotalSeconds;
        _clock = null;
        if (_learner.Updates % _options.CheckpointEvery != 0)
            SaveCheckpoint();
    }

    /// <summary>Flushes the replay and writes the checkpoint (weights, optimisers, random state, updates) atomically.</summary>
    public void SaveCheckpoint()
    {
        _replay.Flush();
        var state = new Dictionary<string, string>
        {
            ["kind"] = "offline",
            ["updates"] = _learner.Updates.ToString(CultureInfo.InvariantCulture),
            ["replay_total"] = _replay.Total.ToString(CultureInfo.InvariantCulture),
            ["value_scale"] = BitConverter.SingleToInt32Bits(_learner.ValueScale).ToString(CultureInfo.InvariantCulture),
            ["learn_random"] = _random.Save(),
            ["elapsed_seconds"] = _elapsedBefore.ToString("R", CultureInfo.InvariantCulture),
            ["agent_config"] = Model.Config.ToJson(),
            // Trainer.ReadRun and rr eval read these like an online run's.
            ["step"] = "0",
            ["episode"] = "0",
        };
        var tensors = Model.AllParameters().Select(p => KeyValuePair.Create(p.Name, p.Value)).Concat(_learner.ExportOptimizerState());
        SafeTensors.Save(Path.Combine(_run, Trainer.CheckpointFile), tensors, state);
    }

    private void LoadCheckpoint(string path)
    {
        var tensors = SafeTensors.Load(path, out var meta);
        Trainer.CopyCheckpointParameters(tensors, Model, path);
        _learner.ImportOptimizerState(tensors);
        long Long(string key) => long.Parse(meta[key], CultureInfo.InvariantCulture);
        _learner.Updates = Long("updates");
        _learner.ValueScale = BitConverter.Int32BitsToSingle((int)Long("value_scale"));
        _random.Restore(meta["learn_random"]);
        _elapsedBefore = double.Parse(meta["elapsed_seconds"], CultureInfo.InvariantCulture);
        _replay.TruncateTo(Long("replay_total"));
        // Metrics rows after the checkpoint belong to updates that will be made again.
        string metrics = Path.Combine(_run, "metrics.csv");
        if (File.Exists(metrics))
        {
            var keep = File.ReadAllLines(metrics).Where((line, i) => i == 0 || long.Parse(line.AsSpan(0, line.IndexOf(',')), CultureInfo.InvariantCulture) <= _learner.Updates).ToList();
            File.WriteAllText(metrics + ".tmp", string.Join("\n", keep) + "\n");
            File.Move(metrics + ".tmp", metrics, overwrite: true);
        }
    }

    private void AppendMetrics(double seconds, float valueScale)
    {
        double n = Math.Max(1, _lossCount);
        string path = Path.Combine(_run, "metrics.csv");
        bool fresh = !File.Exists(path);
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{_learner.Updates},{seconds:F1},{_lossCount},{_lossSum[0] / n:G6},{_lossSum[1] / n:G6},{_lossSum[2] / n:G6},{_lossSum[3] / n:G6},{_lossSum[4] / n:G6},{_lossSum[5] / n:G6},{valueScale:G6}");
        using (var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read))
        {
            stream.Write(Encoding.UTF8.GetBytes((fresh ? "update,wall_seconds,updates_in_row,consistency_loss,reward_loss,value_loss,policy_loss,total_loss,grad_norm,value_scale\n" : "") + line + "\n"));
        }
        Array.Clear(_lossSum);
        _lossCount = 0;
    }

    /// <summary>Closes the replay file and the learner.</summary>
    public void Dispose()
    {
        _replay.Dispose();
        _learner.Dispose();
    }
}
