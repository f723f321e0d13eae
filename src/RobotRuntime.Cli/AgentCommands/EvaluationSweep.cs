using System.Globalization;
using System.Text.Json;
using RobotRuntime.Agents;
using RobotRuntime.Agents.Analysis;
using RobotRuntime.Agents.Encoders;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Planning;
using RobotRuntime.Agents.Training;
using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Cli.AgentCommands;

/// <summary>
/// What <c>rr eval</c> does for one agent, shared with <c>rr grid</c>'s cells: evaluation episodes in
/// distribution and under each requested shift preset (a fresh environment per preset, the same seeds
/// for every preset), the analyses on the in-distribution episodes.
/// </summary>
internal static class EvaluationSweep
{
    /// <summary>How to evaluate.</summary>
    internal sealed record Settings
    {
        /// <summary>Task name.</summary>
        public required string Task { get; init; }

        /// <summary>Simulated arm.</summary>
        public required string Arm { get; init; }

        /// <summary>The agent's config (image size, planner defaults).</summary>
        public required AgentConfig Config { get; init; }

        /// <summary>Presets, in-distribution first (see <see cref="Presets"/>).</summary>
        public required IReadOnlyList<string> Presets { get; init; }

        /// <summary>Episodes per preset.</summary>
        public required int Episodes { get; init; }

        /// <summary>Seed of each preset's first episode (episode k uses FirstSeed + k).</summary>
        public required int FirstSeed { get; init; }

        /// <summary>A registered planner (mppi, prior).</summary>
        public string Planner { get; init; } = Planners.Mppi;

        /// <summary>MPPI samples (0: the config's).</summary>
        public int PlanSamples { get; init; }

        /// <summary>MPPI iterations (0: the config's).</summary>
        public int PlanIterations { get; init; }

        /// <summary>Loop delays the environment simulates (rr eval --latency); none by default.</summary>
        public RobotRuntime.Sim.Tabletop.ControlLatency Latency { get; init; } = RobotRuntime.Sim.Tabletop.ControlLatency.None;
    }

    /// <summary>One preset's outcome.</summary>
    /// <param name="Preset">The preset (name, family, severity).</param>
    /// <param name="Result">Success, return, length and each episode's outcome.</param>
    internal sealed record PresetOutcome(VisualShift Preset, EvaluationResult Result);

    /// <summary>Everything a sweep found.</summary>
    internal sealed class Outcome
    {
        /// <summary>Per preset, in the order evaluated.</summary>
        public List<PresetOutcome> Presets { get; } = [];

        /// <summary>The analyses of the in-distribution episodes.</summary>
        public AnalysisResult? Analysis { get; set; }

        /// <summary>The in-distribution episodes as traced (latents, rewards).</summary>
        public List<EpisodeTrace> InDistributionTraces { get; } = [];

        /// <summary>The model evaluated.</summary>
        public WorldModel? Model { get; set; }

        /// <summary>How the last environment saw the arm.</summary>
        public RobotRuntime.Arm.ArmLayout? ArmLayout { get; set; }

        /// <summary>Control rate of the environment (Hz).</summary>
        public double ControlRate { get; set; } = 25;

        /// <summary>Steps of an episode.</summary>
        public int EpisodeSteps { get; set; } = 100;
    }

    /// <summary>
    /// The presets of <c>--shifts</c>: "all" or a comma-separated list, in-distribution put first when
    /// missing; each name checked (aliases such as hard-textures accepted, kept as written).
    /// </summary>
    /// <exception cref="ArgumentException">An unknown preset; the message lists them.</exception>
    public static List<string> Presets(string list)
    {
        var presets = list == "all" ? VisualShifts.Names.ToList() : list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList();
        if (!presets.Contains(VisualShifts.InDistribution))
        {
            presets.Insert(0, VisualShifts.InDistribution);
        }
        foreach (var preset in presets)
        {
            _ = VisualShifts.Get(preset);
        }
        return presets;
    }

    /// <summary>
    /// Evaluates every preset of <paramref name="settings"/>. <paramref name="model"/> makes the model once,
    /// for the first environment; <paramref name="check"/> (optional) sees each environment before it is used;
    /// <paramref name="recorder"/> (optional) gives a recorder per preset; <paramref name="presetDone"/> sees each
    /// preset's result as soon as it is there. Cancellation is checked between presets.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was cancelled.</exception>
    public static Outcome Run(Settings settings, IFeatureExtractor features, Func<TabletopEnvironment, WorldModel> model,
        Action<TabletopEnvironment>? check = null, Func<string, TabletopEnvironment, IEvaluationRecorder?>? recorder = null,
        Action<string, EvaluationResult, IEvaluationRecorder?>? presetDone = null, CancellationToken cancel = default)
    {
        var outcome = new Outcome();
        foreach (var preset in settings.Presets)
        {
            cancel.ThrowIfCancellationRequested();
            using var environment = AgentSetup.CreateEnvironment(settings.Task, settings.Config, preset, settings.Arm);
            environment.Latency = settings.Latency;
            outcome.ArmLayout = environment.Layout;
            check?.Invoke(environment);
            outcome.ControlRate = 1 / environment.Spec.ControlPeriodSeconds;
            outcome.EpisodeSteps = environment.Spec.MaxEpisodeSteps;
            outcome.Model ??= model(environment);
            var config = settings.Config;
            var options = (PlannerOptions.FromConfig(config, config.DiscountFor(environment.Spec.MaxEpisodeSteps)) with
            {
                Kind = settings.Planner,
            }).Resized(settings.PlanSamples, settings.PlanIterations);
            var actor = new AgentActor(outcome.Model, features, Planners.Create(outcome.Model, options, new AgentRandom(7)));
            bool inDistribution = VisualShifts.Get(preset).Name == VisualShifts.InDistribution;
            var traces = inDistribution ? new List<EpisodeTrace>() : null;
            var presetRecorder = recorder?.Invoke(preset, environment);
            var result = actor.Evaluate(environment, settings.Episodes, settings.FirstSeed, traces, presetRecorder);
            if (traces is not null)
            {
                outcome.Analysis = WorldModelAnalysis.Run(outcome.Model, traces);
                outcome.InDistributionTraces.Clear();
                outcome.InDistributionTraces.AddRange(traces);
            }
            outcome.Presets.Add(new PresetOutcome(VisualShifts.Get(preset), result));
            presetDone?.Invoke(preset, result, presetRecorder);
        }
        return outcome;
    }

    /// <summary>JSON writer options for the files the sweep's JSON goes into: indented, '+' and non-ASCII left as they are.</summary>
    public static JsonWriterOptions WriterOptions { get; } = new() { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Writes <paramref name="outcome"/> as JSON: <c>{"format": 1, "episodes_per_preset", "presets": {name:
    /// {family, severity, episodes: [{seed, success, return, length}], success_rate, mean_return, mean_length}},
    /// "analysis": {...}}</c> — the "eval" and "analysis" parts of a grid cell's result.json (<c>rr eval --json</c>).
    /// </summary>
    public static void WriteJson(Utf8JsonWriter json, Outcome outcome, int episodesPerPreset)
    {
        json.WriteStartObject();
        json.WriteNumber("format", 1);
        json.WritePropertyName("eval");
        WriteEval(json, outcome, episodesPerPreset);
        json.WritePropertyName("analysis");
        WriteAnalysis(json, outcome.Analysis);
        json.WriteEndObject();
    }

    /// <summary>The "eval" object: episodes per preset and, per preset, its family, severity, episodes and means.</summary>
    public static void WriteEval(Utf8JsonWriter json, Outcome outcome, int episodesPerPreset)
    {
        json.WriteStartObject();
        json.WriteNumber("episodes_per_preset", episodesPerPreset);
        json.WriteStartObject("presets");
        foreach (var (preset, result) in outcome.Presets)
        {
            json.WriteStartObject(preset.Name);
            json.WriteString("family", VisualShifts.FamilyName(preset.Family));
            json.WriteString("severity", preset.Severity.ToString().ToLowerInvariant());
            json.WriteStartArray("episodes");
            foreach (var episode in result.Outcomes)
            {
                json.WriteStartObject();
                json.WriteNumber("seed", episode.Seed);
                json.WriteBoolean("success", episode.Success);
                WriteNumber(json, "return", episode.Return);
                json.WriteNumber("length", episode.Length);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            WriteNumber(json, "success_rate", result.SuccessRate);
            WriteNumber(json, "mean_return", result.MeanReturn);
            WriteNumber(json, "mean_length", result.MeanLength);
            json.WriteEndObject();
        }
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>The "analysis" object (null when there is none): tau, dynamics error per horizon step, reward error and mean, dormant ratio per network, transitions.</summary>
    public static void WriteAnalysis(Utf8JsonWriter json, AnalysisResult? analysis)
    {
        if (analysis is null)
        {
            json.WriteNullValue();
            return;
        }
        json.WriteStartObject();
        WriteNumber(json, "tau", analysis.Tau);
        json.WriteStartArray("dynamics_error");
        foreach (var e in analysis.DynamicsError)
        {
            WriteNumber(json, null, e);
        }
        json.WriteEndArray();
        WriteNumber(json, "reward_mae", analysis.RewardMeanAbsoluteError);
        WriteNumber(json, "reward_mean", analysis.RewardMean);
        json.WriteStartObject("dormant");
        foreach (var (network, ratio) in analysis.DormantRatio)
        {
            WriteNumber(json, network, ratio);
        }
        json.WriteEndObject();
        json.WriteNumber("steps", analysis.Steps);
        json.WriteEndObject();
    }

    /// <summary>A number, rounded to 6 significant digits (what the CSVs keep); NaN and infinities as null.</summary>
    public static void WriteNumber(Utf8JsonWriter json, string? name, double value)
    {
        if (name is not null)
        {
            json.WritePropertyName(name);
        }
        if (!double.IsFinite(value))
        {
            json.WriteNullValue();
            return;
        }
        json.WriteNumberValue(double.Parse(value.ToString("G6", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture));
    }
}
