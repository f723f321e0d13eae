using System.Text.Json;
using RobotRuntime.Agents.Analysis;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Planning;
using RobotRuntime.Agents.Training;
using RobotRuntime.Environments;
using RobotRuntime.Tensors;

namespace RobotRuntime.Agents.Tests;

/// <summary>
/// <see cref="PointReachEnvironment"/> whose visual shift can be set per episode, as the simulator's can;
/// it records the preset each reset ran under (the point environment draws nothing differently).
/// </summary>
internal sealed class ShiftRecordingEnvironment : IVisualShiftEnvironment
{
    private readonly PointReachEnvironment _inner = new();

    public List<(int Seed, string Shift)> Resets { get; } = [];

    public string Shift { get; set; } = "in-distribution";

    public EnvironmentSpec Spec => _inner.Spec;

    public Observation Reset(int seed)
    {
        Resets.Add((seed, Shift));
        return _inner.Reset(seed);
    }

    public StepResult Step(ReadOnlySpan<float> action) => _inner.Step(action);

    public void Dispose() => _inner.Dispose();
}

[Collection("engine threads")]
public class GridSupportTests
{
    public GridSupportTests() => TensorEngine.ThreadCount = 1;

    [Fact]
    public void TrainingEpisodesRunUnderTheDrawnShiftsAndEvaluationsInDistribution()
    {
        string folder = TestConfigs.TempFolder();
        string[] families = ["table", "lighting"];
        var options = TestConfigs.Trainer(160) with { TrainShifts = families, EvalEvery = 40, EvalEpisodes = 1 };
        using var env = new ShiftRecordingEnvironment();
        using var features = new StateFeatureExtractor(4);
        using (var trainer = new Trainer(folder, TestConfigs.Tiny(), options, env, features))
        {
            trainer.Run();
        }
        var training = env.Resets.Where(r => r.Seed < Trainer.EvaluationSeedBase).ToList();
        var evaluation = env.Resets.Where(r => r.Seed >= Trainer.EvaluationSeedBase).ToList();
        Assert.True(training.Count >= 8, $"{training.Count} training episodes");
        Assert.NotEmpty(evaluation);
        for (int episode = 0; episode < training.Count; episode++)
        {
            Assert.Equal(options.Seed * 100_003 + episode, training[episode].Seed);
            Assert.Equal(Trainer.TrainingShift(options.Seed, episode, families), training[episode].Shift);
        }
        Assert.True(training.Select(r => r.Shift).Distinct().Count() > 1, "every episode drew the same preset");
        Assert.All(evaluation, r => Assert.Equal("in-distribution", r.Shift));

        // metrics.jsonl names each training episode's preset; run.json records the families.
        var logged = File.ReadLines(Path.Combine(folder, "metrics.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(e => e.GetProperty("kind").GetString() == "episode")
            .Select(e => e.GetProperty("shift").GetString())
            .ToList();
        Assert.Equal(training.Select(r => r.Shift), logged);
        Assert.Equal(families, Trainer.ReadRunTrainShifts(folder));
    }

    [Fact]
    public void ARunIsNotResumedWithOtherTrainingShifts()
    {
        string folder = TestConfigs.TempFolder();
        using (var env = new ShiftRecordingEnvironment())
        using (var features = new StateFeatureExtractor(4))
        using (var trainer = new Trainer(folder, TestConfigs.Tiny(), TestConfigs.Trainer(40) with { TrainShifts = ["table", "lighting"] }, env, features))
        {
            trainer.Run();
        }
        using (var env = new ShiftRecordingEnvironment())
        using (var features = new StateFeatureExtractor(4))
        {
            var refused = Assert.Throws<InvalidDataException>(() => new Trainer(folder, TestConfigs.Tiny(), TestConfigs.Trainer(80), env, features));
            Assert.Contains("was trained with training-time shifts table+lighting; this run asks for none", refused.Message);
            Assert.Contains("--train-shifts table,lighting", refused.Message);
        }
        // The same shifts resume.
        using (var env = new ShiftRecordingEnvironment())
        using (var features = new StateFeatureExtractor(4))
        using (var resumed = new Trainer(folder, TestConfigs.Tiny(), TestConfigs.Trainer(80) with { TrainShifts = ["table", "lighting"] }, env, features))
        {
            Assert.True(resumed.Resumed);
        }
        // An environment that cannot change its shift is refused for training under shifts.
        using (var env = new PointReachEnvironment())
        using (var features = new StateFeatureExtractor(4))
        {
            var refused = Assert.Throws<ArgumentException>(() => new Trainer(TestConfigs.TempFolder(), TestConfigs.Tiny(), TestConfigs.Trainer(40) with { TrainShifts = ["camera"] }, env, features));
            Assert.Contains("training-time shifts (camera)", refused.Message);
        }
    }

    [Fact]
    public void TrainingShiftDrawsInDistributionAndEachFamilysPresetsEquallyOften()
    {
        // Two families: 5 choices. Over 3 seeds × 2,000 episodes each choice is expected 1,200 times,
        // binomial standard deviation √(6000 · 0.2 · 0.8) ≈ 31; ±150 is almost 5 of them.
        var counts = new Dictionary<string, int>();
        foreach (int seed in new[] { 1, 2, 3 })
        {
            for (int episode = 0; episode < 2000; episode++)
            {
                string preset = Trainer.TrainingShift(seed, episode, ["table", "lighting"]);
                counts[preset] = counts.GetValueOrDefault(preset) + 1;
                Assert.Equal(preset, Trainer.TrainingShift(seed, episode, ["table", "lighting"]));
            }
        }
        Assert.Equal(["in-distribution", "lighting-easy", "lighting-hard", "table-easy", "table-hard"], counts.Keys.Order());
        Assert.All(counts.Values, n => Assert.InRange(n, 1200 - 150, 1200 + 150));
        // Different seeds draw different sequences.
        var first = Enumerable.Range(0, 50).Select(e => Trainer.TrainingShift(1, e, ["table"])).ToList();
        var second = Enumerable.Range(0, 50).Select(e => Trainer.TrainingShift(2, e, ["table"])).ToList();
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void EvaluationReportsEachEpisodeAndTheEncoderHeadsDormantRatio()
    {
        var config = TestConfigs.Tiny();
        using var env = new PointReachEnvironment();
        using var features = new StateFeatureExtractor(4);
        var layout = Trainer.LayoutFor(features, config, env.Spec);
        var model = new WorldModel(config, layout, seed: 4);
        var options = PlannerOptions.FromConfig(config, 0.95f) with { Kind = Planners.Prior };
        var actor = new AgentActor(model, features, Planners.Create(model, options, new AgentRandom(1)));
        var traces = new List<EpisodeTrace>();
        var result = actor.Evaluate(env, 3, 500, traces);

        Assert.Equal([500, 501, 502], result.Outcomes.Select(o => o.Seed));
        Assert.Equal(result.MeanReturn, result.Outcomes.Average(o => o.Return), 9);
        Assert.Equal(result.MeanLength, result.Outcomes.Average(o => o.Length), 9);
        Assert.Equal(result.SuccessRate, result.Outcomes.Count(o => o.Success) / 3.0, 9);
        Assert.Equal(result.Outcomes.Select(o => o.Length), traces.Select(t => t.Actions.Count));

        // The head's input at each step: the frame stack of features (the first step fills the stack with
        // its own), then proprioception — for this extractor both are the 4 state values.
        var start = env.Reset(500).Proprioception.ToArray();
        float[] expected = [.. start, .. start, .. start, .. start];
        Assert.Equal(model.EncoderHead.InputWidth, traces[0].EncoderInputs[0].Length);
        Assert.Equal(expected, traces[0].EncoderInputs[0]);
        // The latent the actor planned from is the head's output on that input (tolerance: float rounding, none expected).
        var latent = new float[config.LatentDim];
        model.EncoderHead.Infer(traces[0].EncoderInputs[0], 1, latent, new float[1024], new float[1024]);
        Assert.Equal(latent, traces[0].Latents[0]);

        var analysis = WorldModelAnalysis.Run(model, traces);
        var inputs = traces.SelectMany(t => t.EncoderInputs).SelectMany(x => x).ToArray();
        Assert.Equal(WorldModelAnalysis.Dormant(model.EncoderHead, inputs, analysis.Steps, analysis.Tau), analysis.DormantRatio["encoder"], 12);
        Assert.Equal(["encoder", "dynamics", "reward", "q0", "q1", "policy"], analysis.DormantRatio.Keys);

        // Traces without the head's inputs leave the encoder out.
        foreach (var trace in traces)
        {
            trace.EncoderInputs.Clear();
        }
        Assert.DoesNotContain("encoder", WorldModelAnalysis.Run(model, traces).DormantRatio.Keys);
    }

    [Fact]
    public void AnalysisCsvHasOneRowPerEvaluationAcrossAKillAndAResume()
    {
        string folder = TestConfigs.TempFolder();
        var options = TestConfigs.Trainer(200) with { EvalEvery = 40, EvalEpisodes = 1 };
        using (var env = new PointReachEnvironment())
        using (var features = new StateFeatureExtractor(4))
        using (var first = new Trainer(folder, TestConfigs.Tiny(), options, env, features))
        {
            first.Run(stopAfterSteps: 90);
            Assert.Equal(first.Evaluations.Count, File.ReadAllLines(Path.Combine(folder, "analysis.csv")).Length - 1);
        }
        // A process that evaluated once more and was killed before its checkpoint: rows the checkpoint does not know.
        foreach (var file in new[] { "eval.csv", "analysis.csv" })
        {
            var lines = File.ReadAllLines(Path.Combine(folder, file));
            File.AppendAllLines(Path.Combine(folder, file), [lines[^1]]);
        }
        using (var env = new PointReachEnvironment())
        using (var features = new StateFeatureExtractor(4))
        using (var resumed = new Trainer(folder, TestConfigs.Tiny(), options, env, features))
        {
            resumed.Run();
            var rows = File.ReadAllLines(Path.Combine(folder, "analysis.csv"));
            Assert.Equal(resumed.Evaluations.Count + 1, rows.Length);
            Assert.Equal(resumed.Evaluations.Select(e => e.Step.ToString(System.Globalization.CultureInfo.InvariantCulture)), rows.Skip(1).Select(r => r.Split(',')[0]));
            Assert.Equal("step,tau,transitions,dynamics_error_h1,dynamics_error_h2,dynamics_error_h3,reward_mae,reward_mean,dormant_encoder,dormant_dynamics,dormant_reward,dormant_q0,dormant_q1,dormant_policy", rows[0]);
            Assert.NotNull(resumed.LastAnalysis);
        }
    }
}
