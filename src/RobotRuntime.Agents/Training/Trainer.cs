using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RobotRuntime.Agents.Analysis;
using RobotRuntime.Agents.Encoders;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Planning;
using RobotRuntime.Agents.Replay;
using RobotRuntime.Environments;
using RobotRuntime.Tensors;
using RobotRuntime.Tensors.Serialization;

namespace RobotRuntime.Agents.Training;

/// <summary>A snapshot of a run's progress for progress bars.</summary>
/// <param name="Step">Environment steps done.</param>
/// <param name="Steps">Steps the run will make.</param>
/// <param name="Episode">Episodes finished.</param>
/// <param name="Updates">Updates made.</param>
/// <param name="LastReturn">Return of the last training episode.</param>
/// <param name="LastEvalSuccess">Success rate of the last evaluation (NaN before the first).</param>
/// <param name="Losses">The last update's losses.</param>
public readonly record struct TrainerProgress(long Step, long Steps, int Episode, long Updates, double LastReturn, double LastEvalSuccess, UpdateMetrics Losses);

/// <summary>
/// Online TD-MPC2 training in one environment, on one thread: seed steps with uniform random actions,
/// then planning with exploration noise and updates per step; evaluation episodes every
/// <see cref="TrainerOptions.EvalEvery"/> steps; metrics to <c>metrics.csv</c>/<c>metrics.jsonl</c>
/// (per episode) and <c>eval.csv</c>, a learning curve <c>curve.png</c>/<c>curve.svg</c>; checkpoints
/// (<c>checkpoint.safetensors</c>: weights, optimiser moments and trainer state, written to a temporary
/// file and renamed) at episode boundaries; replay in <c>replay.bin</c>. Constructing a trainer on a
/// run folder that holds a checkpoint resumes from it: the replay is cut back to the records the
/// checkpoint knew, every random state is restored, and the run continues as if never stopped.
/// </summary>
public sealed class Trainer : IDisposable
{
    /// <summary>Checkpoint file name inside a run folder.</summary>
    public const string CheckpointFile = "checkpoint.safetensors";

    private readonly string _run;
    private readonly IEnvironment _environment;
    private readonly IVisualShiftEnvironment? _shiftable;
    private readonly string _evaluationShift = "";
    private readonly IFeatureExtractor _features;
    private readonly TrainerOptions _options;
    private readonly AgentRandom _actRandom;
    private readonly AgentRandom _learnRandom;
    private readonly ReplayBuffer _replay;
    private readonly BatchSampler _sampler;
    private readonly TdMpc2Learner _learner;
    private readonly TrainingBatch _batch;
    private readonly AgentActor _actor;
    private readonly int _seedSteps;
    private readonly int _pretrainUpdates;
    private readonly List<(long Step, double Seconds, double Success, double Return)> _evaluations = [];
    private long _step;
    private int _episode;
    private double _updateCredit;
    private double _elapsedBefore;
    private long _nextEval, _nextCheckpoint;
    private bool _pretrained;
    private double _lastReturn = double.NaN, _lastEvalSuccess = double.NaN;
    private string? _analysisHeader;

    /// <summary>Starts or resumes the run in <paramref name="runFolder"/>.</summary>
    /// <param name="runFolder">Run folder (created if missing).</param>
    /// <param name="config">Agent config (a resumed run must use the one it started with).</param>
    /// <param name="options">Trainer options.</param>
    /// <param name="environment">The training environment (owned by the caller).</param>
    /// <param name="features">The encoder mode's frozen front (owned by the caller).</param>
    /// <param name="encoderIdentity">Identity of the frozen encoder (zoo id and file hash) for the run record.</param>
    /// <exception cref="InvalidDataException">The folder holds a run with a different config.</exception>
    /// <param name="pvrTail">The PVR's trainable part in partial and full modes.</param>
    public Trainer(string runFolder, AgentConfig config, TrainerOptions options, IEnvironment environment, IFeatureExtractor features, string encoderIdentity = "scratch", PvrTail? pvrTail = null)
    {
        _run = Path.GetFullPath(runFolder);
        Directory.CreateDirectory(_run);
        _environment = environment;
        _features = features;
        _options = options;
        if (options.TrainShifts.Length > 0)
        {
            _shiftable = environment as IVisualShiftEnvironment
                ?? throw new ArgumentException($"training-time shifts ({DescribeShifts(options.TrainShifts)}) need an environment whose visual shift can change between episodes; {environment.GetType().Name} cannot", nameof(environment));
            _evaluationShift = _shiftable.Shift;
        }
        var spec = environment.Spec;
        Layout = LayoutFor(features, config, spec);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Config = config.Validate();
        string runRecord = Path.Combine(_run, "run.json");
        string configJson = config.ToJson();
        if (File.Exists(runRecord))
        {
            using var existing = JsonDocument.Parse(File.ReadAllText(runRecord));
            string previous = existing.RootElement.GetProperty("agent").GetRawText();
            if (ConfigDifferences(previous, configJson) is { Length: > 0 })
            {
                throw new InvalidDataException($"run folder '{_run}' holds a run with another agent config ({ConfigDifferences(previous, configJson)}); use a new folder or the same config ({runRecord})");
            }
            string previousLatency = ReadRunLatency(_run);
            if (previousLatency != options.Latency)
            {
                throw new InvalidDataException($"run folder '{_run}' holds a run trained with loop delays '{previousLatency}'; this one asks for '{options.Latency}': use a new folder or --latency {previousLatency} ({runRecord})");
            }
            string previousArm = ReadRunArm(_run);
            if (previousArm != options.Arm)
            {
                throw new InvalidDataException($"run folder '{_run}' holds a run on the '{previousArm}' arm; this one is on '{options.Arm}': use a new folder or --arm {previousArm} ({runRecord})");
            }
            string previousShifts = DescribeShifts(ReadRunTrainShifts(_run));
            if (previousShifts != DescribeShifts(options.TrainShifts))
            {
                throw new InvalidDataException($"run folder '{_run}' was trained with training-time shifts {previousShifts}; this run asks for {DescribeShifts(options.TrainShifts)}: use a new folder or --train-shifts {(previousShifts == "none" ? "none" : previousShifts.Replace('+', ','))} ({runRecord})");
            }
        }
        else
        {
            WriteAtomically(runRecord, $"{{\n\"task\": {JsonSerializer.Serialize(options.Task)},\n\"encoder\": {JsonSerializer.Serialize(encoderIdentity)},\n\"layout\": {JsonSerializer.Serialize(Layout.ToString())},\n\"trainer\": {JsonSerializer.Serialize(options)},\n\"agent\": {configJson}\n}}\n");
        }
        Model = new WorldModel(config, Layout, options.Seed, pvrTail);
        _actRandom = new AgentRandom((ulong)options.Seed * 7919 + 1);
        _learnRandom = new AgentRandom((ulong)options.Seed * 7919 + 2);
        _seedSteps = options.SeedSteps > 0 ? options.SeedSteps : Math.Max(1000, 5 * spec.MaxEpisodeSteps);
        _pretrainUpdates = options.PretrainUpdates >= 0 ? options.PretrainUpdates : _seedSteps;
        _learner = new TdMpc2Learner(Model, spec.MaxEpisodeSteps, _learnRandom);
        var plannerOptions = (PlannerOptions.FromConfig(config, _learner.Discount) with
        {
            Kind = options.PlanWhileTraining ? Planners.Mppi : Planners.Prior,
        }).Resized(options.PlanSamples, options.PlanIterations);
        _actor = new AgentActor(Model, features, Planners.Create(Model, plannerOptions, _actRandom));
        _batch = new TrainingBatch(Layout, config.BatchSize, config.Horizon);
        string replayPath = Path.Combine(_run, "replay.bin");
        string checkpoint = Path.Combine(_run, CheckpointFile);
        if (File.Exists(checkpoint))
        {
            _replay = ReplayBuffer.Open(replayPath, Layout, options.ReplayCapacity);
            LoadCheckpoint(checkpoint);
            Resumed = true;
        }
        else
        {
            if (File.Exists(replayPath))
            {
                // A run killed before its first checkpoint starts over.
                File.Delete(replayPath);
                foreach (var f in new[] { "metrics.csv", "metrics.jsonl", "eval.csv", "analysis.csv" })
                {
                    File.Delete(Path.Combine(_run, f));
                }
            }
            _replay = ReplayBuffer.Create(replayPath, Layout, options.ReplayCapacity);
            _nextEval = options.EvalEvery;
            _nextCheckpoint = options.CheckpointEvery;
        }
        _sampler = new BatchSampler(_replay, _learnRandom, features.Kind == FeatureKind.Images ? config.ShiftPad : 0);
    }

    /// <summary>The agent config.</summary>
    public AgentConfig Config { get; }

    /// <summary>The observation layout.</summary>
    public ObservationLayout Layout { get; }

    /// <summary>The model being trained.</summary>
    public WorldModel Model { get; }

    /// <summary>The learner (losses, discount).</summary>
    public TdMpc2Learner Learner => _learner;

    /// <summary>The replay buffer.</summary>
    public ReplayBuffer Replay => _replay;

    /// <summary>The actor (planner and encoder) used for training and evaluation.</summary>
    public AgentActor Actor => _actor;

    /// <summary>Whether the run resumed from a checkpoint.</summary>
    public bool Resumed { get; }

    /// <summary>Environment steps done.</summary>
    public long Step => _step;

    /// <summary>Episodes finished.</summary>
    public int Episode => _episode;

    /// <summary>Seed steps in use.</summary>
    public int SeedSteps => _seedSteps;

    /// <summary>Wall seconds of training so far, over every resumption, up to the last episode boundary.</summary>
    public double ElapsedSeconds => _elapsedBefore;

    /// <summary>The analyses of the last evaluation's episodes (also appended to <c>analysis.csv</c>); null before the first evaluation of this process.</summary>
    public AnalysisResult? LastAnalysis { get; private set; }

    /// <summary>Evaluations so far: step, wall seconds, success rate, mean return.</summary>
    public IReadOnlyList<(long Step, double Seconds, double Success, double Return)> Evaluations => _evaluations;

    /// <summary>
    /// Trains until <see cref="TrainerOptions.Steps"/> or <paramref name="stopAfterSteps"/> more steps
    /// (whichever first; the stop lands on an episode boundary and writes a checkpoint), or until cancelled.
    /// </summary>
    public void Run(Action<TrainerProgress>? progress = null, long stopAfterSteps = long.MaxValue, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        long stopAt = stopAfterSteps == long.MaxValue ? _options.Steps : Math.Min(_options.Steps, _step + stopAfterSteps);
        var action = new float[Layout.ActionDim];
        var lossSum = new double[6];
        UpdateMetrics last = default;
        while (_step < stopAt && !cancel.IsCancellationRequested)
        {
            string? shift = null;
            if (_shiftable is not null)
            {
                shift = TrainingShift(_options.Seed, _episode, _options.TrainShifts);
                _shiftable.Shift = shift;
            }
            var observation = _environment.Reset(EpisodeSeed(_episode));
            _actor.Reset();
            double episodeReturn = 0;
            bool success = false;
            int updates = 0;
            Array.Clear(lossSum);
            for (int t = 0; ; t++)
            {
                _actor.Observe(observation);
                if (_step < _seedSteps)
                {
                    for (int j = 0; j < action.Length; j++)
                    {
                        action[j] = _actRandom.NextFloat() * 2f - 1f;
                    }
                }
                else
                {
                    _actor.Act(action, explore: true);
                }
                var result = _environment.Step(action);
                episodeReturn += result.Reward;
                success |= result.Info.IsSuccess;
                var flags = ReplayFlags.HasAction | (result.Terminated ? ReplayFlags.Terminated : 0);
                _replay.Append(_actor.LastFeatures, Proprio(observation), action, (float)result.Reward, flags, _episode, t);
                _step++;
                int due = UpdatesDue();
                for (int u = 0; u < due; u++)
                {
                    _sampler.Fill(_batch);
                    last = _learner.Update(_batch);
                    lossSum[0] += last.Consistency; lossSum[1] += last.Reward; lossSum[2] += last.Value;
                    lossSum[3] += last.Policy; lossSum[4] += last.Total; lossSum[5] += last.GradNorm;
                    updates++;
                }
                progress?.Invoke(new TrainerProgress(_step, _options.Steps, _episode, _learner.Updates, _lastReturn, _lastEvalSuccess, last));
                if (result.Done)
                {
                    _actor.Observe(result.Observation);
                    _replay.Append(_actor.LastFeatures, Proprio(result.Observation), [], 0f, ReplayFlags.None, _episode, t + 1);
                    break;
                }
                observation = result.Observation;
            }
            _episode++;
            _lastReturn = episodeReturn;
            double seconds = _elapsedBefore + clock.Elapsed.TotalSeconds;
            AppendMetrics(seconds, episodeReturn, success, updates, lossSum, last.ValueScale, shift);
            if (_step >= _nextEval)
            {
                Evaluate(seconds);
                _nextEval = (_step / _options.EvalEvery + 1) * _options.EvalEvery;
            }
            if (_step >= _nextCheckpoint || _step >= stopAt || cancel.IsCancellationRequested)
            {
                _elapsedBefore += clock.Elapsed.TotalSeconds;
                clock.Restart();
                SaveCheckpoint();
                _nextCheckpoint = (_step / _options.CheckpointEvery + 1) * _options.CheckpointEvery;
            }
        }
        _elapsedBefore += clock.Elapsed.TotalSeconds;
        clock.Restart();
        if (_step >= _options.Steps)
        {
            SaveCheckpoint();
        }
    }

    /// <summary>The observation layout of an encoder front, config and environment.</summary>
    public static ObservationLayout LayoutFor(IFeatureExtractor features, AgentConfig config, EnvironmentSpec spec) =>
        new(features.Kind, features.FeatureLength, features.Cameras.Count, features.ImageSize,
            config.FrameStack, config.UseProprioception ? spec.ProprioceptionNames.Count : 0, spec.Action.Dimension);

    /// <summary>Reads a run folder's record: task, encoder identity and agent config.</summary>
    /// <exception cref="InvalidDataException">Not a run folder, or no checkpoint yet.</exception>
    public static (string Task, string EncoderIdentity, AgentConfig Config) ReadRun(string runFolder)
    {
        string record = Path.Combine(runFolder, "run.json");
        if (!File.Exists(record))
        {
            throw new InvalidDataException($"'{runFolder}' is not a run folder: {record} is missing");
        }
        if (!File.Exists(Path.Combine(runFolder, CheckpointFile)))
        {
            throw new InvalidDataException($"run '{runFolder}' has no {CheckpointFile} yet; train it longer");
        }
        using var document = JsonDocument.Parse(File.ReadAllText(record));
        var root = document.RootElement;
        return (root.GetProperty("task").GetString()!, root.GetProperty("encoder").GetString()!,
            AgentConfig.FromJson(root.GetProperty("agent").GetRawText(), record));
    }

    /// <summary>The loop delays a run trained under (its record's <c>trainer.Latency</c>; "none" for runs from before delays were recorded).</summary>
    /// <exception cref="InvalidDataException">No run record in <paramref name="runFolder"/>.</exception>
    public static string ReadRunLatency(string runFolder)
    {
        string record = Path.Combine(runFolder, "run.json");
        if (!File.Exists(record))
        {
            throw new InvalidDataException($"'{runFolder}' is not a run folder: {record} is missing");
        }
        using var document = JsonDocument.Parse(File.ReadAllText(record));
        return document.RootElement.TryGetProperty("trainer", out var trainer) && trainer.TryGetProperty("Latency", out var latency) && latency.GetString() is { Length: > 0 } text
            ? text
            : "none";
    }

    /// <summary>The simulated arm a run trained on (its record's <c>trainer.Arm</c>; "toy4" for runs from before arms were recorded).</summary>
    /// <exception cref="InvalidDataException">No run record in <paramref name="runFolder"/>.</exception>
    public static string ReadRunArm(string runFolder)
    {
        string record = Path.Combine(runFolder, "run.json");
        if (!File.Exists(record))
        {
            throw new InvalidDataException($"'{runFolder}' is not a run folder: {record} is missing");
        }
        using var document = JsonDocument.Parse(File.ReadAllText(record));
        return document.RootElement.TryGetProperty("trainer", out var trainer) && trainer.TryGetProperty("Arm", out var arm) && arm.GetString() is { Length: > 0 } name
            ? name
            : "toy4";
    }

    /// <summary>Copies a run's last checkpoint weights into <paramref name="model"/>.</summary>
    /// <exception cref="InvalidDataException">A tensor is missing or has another size.</exception>
    public static void LoadWeights(string runFolder, WorldModel model)
    {
        string path = Path.Combine(runFolder, CheckpointFile);
        var tensors = SafeTensors.Load(path);
        foreach (var p in model.AllParameters())
        {
            if (!tensors.TryGetValue(p.Name, out var t) || t.Length != p.Value.Length)
            {
                throw new InvalidDataException($"checkpoint '{path}' has no tensor '{p.Name}' of {p.Value.Length} floats");
            }
            t.Span.CopyTo(p.Value.Span);
        }
    }

    /// <summary>
    /// Runs evaluation episodes now (in the environment's own preset, also when training under shifts) and
    /// records them in eval.csv and the curve, and their analyses (<see cref="WorldModelAnalysis"/>: dormant
    /// ratio per network, dynamics and reward errors) in analysis.csv.
    /// </summary>
    public EvaluationResult Evaluate(double seconds)
    {
        if (_shiftable is not null)
        {
            _shiftable.Shift = _evaluationShift;
        }
        var traces = new List<EpisodeTrace>();
        var result = _actor.Evaluate(_environment, _options.EvalEpisodes, EvaluationSeedBase, traces);
        var analysis = WorldModelAnalysis.Run(Model, traces);
        LastAnalysis = analysis;
        AppendAnalysis(analysis);
        _lastEvalSuccess = result.SuccessRate;
        _evaluations.Add((_step, seconds, result.SuccessRate, result.MeanReturn));
        AppendLine("eval.csv", "step,wall_seconds,episodes,success_rate,mean_return,mean_length",
            string.Create(CultureInfo.InvariantCulture, $"{_step},{seconds:F1},{result.Episodes},{result.SuccessRate:F3},{result.MeanReturn:F3},{result.MeanLength:F1}"));
        AppendLine("metrics.jsonl", null, string.Create(CultureInfo.InvariantCulture,
            $"{{\"kind\":\"eval\",\"step\":{_step},\"wall_seconds\":{seconds:F1},\"success_rate\":{result.SuccessRate:F3},\"mean_return\":{result.MeanReturn:F3}}}"));
        var curve = Plots.CurvePlots.LearningCurve(_evaluations.Select(e => (e.Step, e.Success, e.Return)).ToList(),
            $"{_options.Task} · {Config.Mode.ToString().ToLowerInvariant()} · {Config.Encoder} · seed {_options.Seed}");
        Plots.PlotFiles.Save(curve, Path.Combine(_run, "curve"), Plots.CurvePlots.Width, Plots.CurvePlots.Height);
        return result;
    }

    /// <summary>Seeds of evaluation episodes start here (disjoint from training seeds).</summary>
    public const int EvaluationSeedBase = 1_000_000;

    /// <summary>Flushes the replay and writes the checkpoint (weights, optimiser, trainer state) atomically.</summary>
    public void SaveCheckpoint()
    {
        _replay.Flush();
        var state = new Dictionary<string, string>
        {
            ["step"] = _step.ToString(CultureInfo.InvariantCulture),
            ["episode"] = _episode.ToString(CultureInfo.InvariantCulture),
            ["replay_total"] = _replay.Total.ToString(CultureInfo.InvariantCulture),
            ["updates"] = _learner.Updates.ToString(CultureInfo.InvariantCulture),
            ["value_scale"] = BitConverter.SingleToInt32Bits(_learner.ValueScale).ToString(CultureInfo.InvariantCulture),
            ["update_credit"] = BitConverter.DoubleToInt64Bits(_updateCredit).ToString(CultureInfo.InvariantCulture),
            ["pretrained"] = _pretrained ? "1" : "0",
            ["act_random"] = _actRandom.Save(),
            ["learn_random"] = _learnRandom.Save(),
            ["elapsed_seconds"] = _elapsedBefore.ToString("R", CultureInfo.InvariantCulture),
            ["next_eval"] = _nextEval.ToString(CultureInfo.InvariantCulture),
            ["next_checkpoint"] = ((_step / _options.CheckpointEvery + 1) * _options.CheckpointEvery).ToString(CultureInfo.InvariantCulture),
            ["evaluations"] = string.Join(";", _evaluations.Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.Step}:{e.Seconds:R}:{e.Success:R}:{e.Return:R}"))),
            ["agent_config"] = Config.ToJson(),
        };
        var tensors = Model.AllParameters().Select(p => KeyValuePair.Create(p.Name, p.Value)).Concat(_learner.ExportOptimizerState());
        SafeTensors.Save(Path.Combine(_run, CheckpointFile), tensors, state);
    }

    /// <summary>
    /// The keys two agent-config JSON objects disagree on, as "key: run has A, now B"; empty when they
    /// agree. A key the run's record does not have (a setting added to the config after the run
    /// started) agrees when the new value is that setting's default, so older runs still resume.
    /// </summary>
    internal static string ConfigDifferences(string runJson, string nowJson)
    {
        using var run = JsonDocument.Parse(runJson);
        using var now = JsonDocument.Parse(nowJson);
        using var defaults = JsonDocument.Parse(new AgentConfig().ToJson());
        static Dictionary<string, string> Keys(JsonDocument d) => d.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => JsonSerializer.Serialize(p.Value));
        var a = Keys(run);
        var b = Keys(now);
        var d = Keys(defaults);
        var diffs = a.Keys.Union(b.Keys)
            .Where(k => a.TryGetValue(k, out var x)
                ? !b.TryGetValue(k, out var y) || x != y
                : !(b.TryGetValue(k, out var y2) && d.TryGetValue(k, out var z) && y2 == z))
            .Select(k => $"{k}: run has {(a.TryGetValue(k, out var x) ? x : "nothing")}, now {(b.TryGetValue(k, out var y) ? y : "nothing")}")
            .ToList();
        return string.Join("; ", diffs);
    }

    private void LoadCheckpoint(string path)
    {
        var tensors = SafeTensors.Load(path, out var meta);
        CopyCheckpointParameters(tensors, Model, path);
        _learner.ImportOptimizerState(tensors);
        long Long(string key) => long.Parse(meta[key], CultureInfo.InvariantCulture);
        _step = Long("step");
        _episode = (int)Long("episode");
        _learner.Updates = Long("updates");
        _learner.ValueScale = BitConverter.Int32BitsToSingle((int)Long("value_scale"));
        _updateCredit = BitConverter.Int64BitsToDouble(Long("update_credit"));
        _pretrained = meta["pretrained"] == "1";
        _actRandom.Restore(meta["act_random"]);
        _learnRandom.Restore(meta["learn_random"]);
        _elapsedBefore = double.Parse(meta["elapsed_seconds"], CultureInfo.InvariantCulture);
        _nextEval = Long("next_eval");
        _nextCheckpoint = Long("next_checkpoint");
        foreach (var e in meta["evaluations"].Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = e.Split(':');
            _evaluations.Add((long.Parse(f[0], CultureInfo.InvariantCulture), double.Parse(f[1], CultureInfo.InvariantCulture),
                double.Parse(f[2], CultureInfo.InvariantCulture), double.Parse(f[3], CultureInfo.InvariantCulture)));
        }
        _replay.TruncateTo(Long("replay_total"));
        TrimCsv("metrics.csv", _episode);
        TrimCsv("eval.csv", _evaluations.Count);
        TrimCsv("analysis.csv", _evaluations.Count);
    }

    private int UpdatesDue()
    {
        if (_step < _seedSteps)
        {
            return 0;
        }
        if (!_pretrained)
        {
            _pretrained = true;
            return Math.Max(1, _pretrainUpdates);
        }
        _updateCredit += _options.UpdatesPerStep;
        int due = (int)_updateCredit;
        _updateCredit -= due;
        return due;
    }

    private int EpisodeSeed(int episode) => unchecked(_options.Seed * 100_003 + episode);

    /// <summary>
    /// The visual shift preset of training episode <paramref name="episode"/> of a run with seed
    /// <paramref name="seed"/> under <paramref name="families"/>: uniform among "in-distribution" and, per
    /// family in the order given, "&lt;family&gt;-easy" and "&lt;family&gt;-hard" (1 + 2·families choices), by a
    /// SplitMix64 hash of (seed, episode) — the same for a run whenever it is (re)started.
    /// </summary>
    public static string TrainingShift(int seed, int episode, IReadOnlyList<string> families)
    {
        int choices = 1 + 2 * families.Count;
        ulong x = ((ulong)(uint)seed << 32) | (uint)episode;
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        x ^= x >> 31;
        int k = (int)(x % (ulong)choices);
        return k == 0 ? "in-distribution" : $"{families[(k - 1) / 2]}-{((k - 1) % 2 == 0 ? "easy" : "hard")}";
    }

    /// <summary>The training-time shift families a run folder's record names (empty for runs without, or from before they were recorded).</summary>
    /// <exception cref="InvalidDataException">No run record in <paramref name="runFolder"/>.</exception>
    public static string[] ReadRunTrainShifts(string runFolder)
    {
        string record = Path.Combine(runFolder, "run.json");
        if (!File.Exists(record))
        {
            throw new InvalidDataException($"'{runFolder}' is not a run folder: {record} is missing");
        }
        using var document = JsonDocument.Parse(File.ReadAllText(record));
        return document.RootElement.TryGetProperty("trainer", out var trainer) && trainer.TryGetProperty("TrainShifts", out var shifts) && shifts.ValueKind == JsonValueKind.Array
            ? shifts.EnumerateArray().Select(s => s.GetString() ?? "").ToArray()
            : [];
    }

    private static string DescribeShifts(IReadOnlyList<string> families) => families.Count == 0 ? "none" : string.Join("+", families);

    // One analysis.csv row per evaluation: the header is fixed by the first (the networks a model has do not change).
    private void AppendAnalysis(AnalysisResult analysis)
    {
        var c = CultureInfo.InvariantCulture;
        string header = "step,tau,transitions," + string.Join(",", analysis.DynamicsError.Select((_, k) => $"dynamics_error_h{k + 1}"))
            + ",reward_mae,reward_mean," + string.Join(",", analysis.DormantRatio.Keys.Select(k => "dormant_" + k));
        string path = Path.Combine(_run, "analysis.csv");
        _analysisHeader ??= File.Exists(path) ? File.ReadLines(path).FirstOrDefault() : null;
        if (_analysisHeader is not null && _analysisHeader != header)
        {
            throw new InvalidDataException($"{path} has the columns '{_analysisHeader}' but this model's analyses are '{header}'");
        }
        _analysisHeader = header;
        string line = string.Create(c, $"{_step},{analysis.Tau:R},{analysis.Steps},")
            + string.Join(",", analysis.DynamicsError.Select(e => e.ToString("G6", c)))
            + string.Create(c, $",{analysis.RewardMeanAbsoluteError:G6},{analysis.RewardMean:G6},")
            + string.Join(",", analysis.DormantRatio.Values.Select(v => v.ToString("G6", c)));
        AppendLine("analysis.csv", header, line);
    }

    private ReadOnlySpan<float> Proprio(Observation observation) => observation.Proprioception.AsSpan(0, Layout.ProprioceptionLength);

    private void AppendMetrics(double seconds, double episodeReturn, bool success, int updates, double[] lossSum, float valueScale, string? shift)
    {
        double n = Math.Max(1, updates);
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{_step},{_episode},{seconds:F1},{episodeReturn:F3},{(success ? 1 : 0)},{updates},{lossSum[0] / n:G6},{lossSum[1] / n:G6},{lossSum[2] / n:G6},{lossSum[3] / n:G6},{lossSum[4] / n:G6},{lossSum[5] / n:G6},{valueScale:G6}");
        AppendLine("metrics.csv", "step,episode,wall_seconds,return,success,updates,consistency_loss,reward_loss,value_loss,policy_loss,total_loss,grad_norm,value_scale", line);
        // Training under shifts also names each episode's preset (the column is absent otherwise, as before).
        string shiftField = shift is null ? "" : $",\"shift\":{JsonSerializer.Serialize(shift)}";
        AppendLine("metrics.jsonl", null, string.Create(CultureInfo.InvariantCulture,
            $"{{\"kind\":\"episode\",\"step\":{_step},\"episode\":{_episode},\"wall_seconds\":{seconds:F1},\"return\":{episodeReturn:F3},\"success\":{(success ? "true" : "false")},\"updates\":{updates},\"consistency_loss\":{lossSum[0] / n:G6},\"reward_loss\":{lossSum[1] / n:G6},\"value_loss\":{lossSum[2] / n:G6},\"policy_loss\":{lossSum[3] / n:G6}{shiftField}}}"));
    }

    // Appends one line and flushes it to the operating system, so a kill keeps every line written.
    private void AppendLine(string file, string? header, string line)
    {
        string path = Path.Combine(_run, file);
        bool fresh = !File.Exists(path);
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        var text = (fresh && header is not null ? header + "\n" : "") + line + "\n";
        stream.Write(Encoding.UTF8.GetBytes(text));
    }

    // Keeps the header and the first `rows` data lines (those the checkpoint knows about).
    private void TrimCsv(string file, int rows)
    {
        string path = Path.Combine(_run, file);
        if (!File.Exists(path))
        {
            return;
        }
        var lines = File.ReadAllLines(path);
        if (lines.Length > rows + 1)
        {
            WriteAtomically(path, string.Join("\n", lines.Take(rows + 1)) + "\n");
        }
    }

    /// <summary>Copies every parameter of <paramref name="model"/> from a checkpoint's tensors; names the first one missing or of another size.</summary>
    internal static void CopyCheckpointParameters(IReadOnlyDictionary<string, Tensor> tensors, WorldModel model, string path)
    {
        foreach (var p in model.AllParameters())
        {
            if (!tensors.TryGetValue(p.Name, out var t) || t.Length != p.Value.Length)
            {
                throw new InvalidDataException($"checkpoint '{path}' has no tensor '{p.Name}' of {p.Value.Length} floats; it was written by another agent config");
            }
            t.Span.CopyTo(p.Value.Span);
        }
    }

    private static void WriteAtomically(string path, string text)
    {
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Closes the replay file and the learner.</summary>
    public void Dispose()
    {
        _replay.Dispose();
        _learner.Dispose();
    }
}
