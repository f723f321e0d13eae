using RobotRuntime.Arm;
using RobotRuntime.Datasets;
using RobotRuntime.Datasets.Recording;
using RobotRuntime.Tensors;
using Columns = RobotRuntime.Datasets.Recording.DeploymentLayout.Columns;

namespace RobotRuntime.Pretraining.Tests;

/// <summary>
/// idm and spr on a recorded deployment (rr run --record): actions from the agent's own
/// policy.normalised_action, drawn only from windows where it acted throughout with usable images.
/// </summary>
public sealed class DeploymentActionsTests
{
    private static readonly string[] NormalisedNames = ["dx", "dy", "dz", "gripper"];

    // A deployment of `episodes` × `frames` frames of one 32-px camera (the synthetic square). Frame f of
    // episode e acted with the normalised action (e, f, f/2, 1) when acted(e, f), else NaN (held, or the
    // policy proposed nothing); its images are usable unless unusable(e, f).
    private static EpisodeDataset Deployment(string folder, int episodes, int frames, Func<int, int, bool> acted, Func<int, int, bool>? unusable = null, bool normalised = true)
    {
        var layout = DeploymentLayout.Create(6, ["front"], SyntheticEpisodes.Size, SyntheticEpisodes.Size, ArmCommandMode.EndEffectorDelta, 25, "reach",
            normalised ? NormalisedNames : null);
        var dataset = EpisodeDataset.OpenOrCreate(folder, layout);
        var usableAt = layout.ColumnAt(Columns.FramesUsable).Offset;
        for (var e = 0; e < episodes; e++)
        {
            var source = SyntheticEpisodes.Make(e, frames, seed: 4);
            var episode = new Episode(layout, e, "reach");
            for (var f = 0; f < frames; f++)
            {
                var numbers = new double[layout.ColumnNumberCount];
                var integers = new long[layout.ColumnIntegerCount];
                if (normalised)
                {
                    var actionAt = layout.ColumnAt(Columns.PolicyNormalisedAction).Offset;
                    double[] values = acted(e, f) ? [e, f, f / 2.0, 1] : [double.NaN, double.NaN, double.NaN, double.NaN];
                    values.CopyTo(numbers, actionAt);
                }
                integers[usableAt] = unusable?.Invoke(e, f) == true ? 0 : 1;
                episode.Add([source.Image(0, f)], new float[layout.StateNames.Count], new float[layout.ActionNames.Count], new float[layout.EnvironmentStateNames.Count],
                    float.NaN, f == frames - 1, false, numbers, integers);
            }
            dataset.Append(episode);
        }
        return dataset;
    }

    private static PretrainOptions Options(PretrainObjective objective, int steps = 2) =>
        new(objective, "cnn", steps, BatchSize: 8, Seed: 5, TemporalOffset: 1, ShiftPad: 2, PoolEpisodes: 3, Group: 4, SprSteps: 3);

    [Fact]
    public void WindowStartsNeedActionsThroughoutAndUsableImagesToTheLastFrame()
    {
        // Frames 0..9: frame 4 has no action; frame 8's images are not usable (so it has no action-run either).
        bool[] usable = [true, true, true, true, true, true, true, true, false, true];
        bool[] acted = [true, true, true, true, false, true, true, true, false, true];
        var runs = new int[10];
        for (var t = 9; t >= 0; t--)
            runs[t] = acted[t] && usable[t] ? 1 + (t < 9 ? runs[t + 1] : 0) : 0;

        // One step (idm): a_t, frames t and t + 1 usable, t + 1 inside the episode.
        Assert.Equal(new[] { 0, 1, 2, 3, 5, 6 }, FrameSampler.WindowStarts(runs, usable, 1));
        // Three steps (spr with K = 3): a_t … a_t+2 and frames t … t + 3 (t = 5 would end on frame 8).
        Assert.Equal(new[] { 0, 1 }, FrameSampler.WindowStarts(runs, usable, 3));
        Assert.Empty(FrameSampler.WindowStarts(runs, usable, 5));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void EveryDrawnWindowIsOneWhereThePolicyActedThroughout(int window)
    {
        using var folder = new TemporaryFolder();
        // Episode 1 never acted (held from start to end): never drawn. Episodes 0 and 2 have NaN gaps and an unusable frame.
        var dataset = Deployment(Path.Combine(folder.Path, "data"), 3, 12,
            acted: (e, f) => e != 1 && f % 5 != 2, unusable: (e, f) => e == 2 && f == 7);
        var sampler = new FrameSampler(dataset, new RobotRuntime.Agents.Model.AgentRandom(9), poolEpisodes: 3, shiftPad: 0,
            actionColumn: Columns.PolicyNormalisedAction, actionWindow: window);
        Assert.Equal(4, sampler.ActionSize);
        var seen = new HashSet<(int Episode, int Frame)>();
        for (var draw = 0; draw < 40; draw++)
        {
            float[] actions;
            int size;
            if (window == 1)
            {
                var pairs = sampler.Next(8, 1, sameShift: true);
                (actions, size) = (pairs.Actions, pairs.Size);
            }
            else
            {
                var windows = sampler.NextSequence(8, window);
                (actions, size) = (windows.Actions, windows.Size);
            }
            for (var i = 0; i < size; i++)
            {
                // Step k of sample i (step-major for windows): the action recorded at t + k, so (e, t + k, (t + k)/2, 1).
                var start = actions.AsSpan(i * 4, 4).ToArray();
                int e = (int)start[0], t = (int)start[1];
                Assert.NotEqual(1, e);
                for (var k = 0; k < window; k++)
                {
                    var a = actions.AsSpan((k * size + i) * 4, 4).ToArray();
                    Assert.All(a, v => Assert.True(float.IsFinite(v), $"a NaN action was drawn: window {window}, sample {i}, step {k}"));
                    Assert.Equal(new[] { e, t + k, (t + k) / 2f, 1f }, a);
                    Assert.NotEqual(2, (t + k) % 5);
                }
                Assert.True(t + window <= 11, $"window {t}..{t + window} runs past the episode");
                Assert.False(e == 2 && t <= 7 && 7 <= t + window, $"episode 2's unusable frame 7 is in the window {t}..{t + window}");
                seen.Add((e, t));
            }
        }
        // Every window there is, and nothing else, in 320 draws (worked out by hand from the gaps: actions
        // missing at frames 2 and 7, episode 2's frame 7 unusable, 12 frames).
        (int, int)[] expected = window == 1
            ? [(0, 0), (0, 1), (0, 3), (0, 4), (0, 5), (0, 6), (0, 8), (0, 9), (0, 10), (2, 0), (2, 1), (2, 3), (2, 4), (2, 5), (2, 8), (2, 9), (2, 10)]
            : [(0, 3), (0, 4), (0, 8), (2, 3), (2, 8)];
        Assert.Equal(expected, seen.Select(s => (s.Episode, s.Frame)).OrderBy(s => s));
    }

    [Theory]
    [InlineData(PretrainObjective.Idm)]
    [InlineData(PretrainObjective.Spr)]
    public void IdmAndSprTrainOnADeploymentFromTheAgentsNormalisedActions(PretrainObjective objective)
    {
        TensorEngine.ThreadCount = 1;
        using var folder = new TemporaryFolder();
        var dataset = Deployment(Path.Combine(folder.Path, "data"), 2, 10, acted: (e, f) => f != 4);
        Assert.Equal(Columns.PolicyNormalisedAction, PretrainingData.ActionColumn(dataset.Layout, objective));
        Assert.Equal(4, PretrainingData.ActionSize(dataset.Layout, objective));
        var losses = new List<float>();
        var trainer = new Pretrainer(Path.Combine(folder.Path, "run"), dataset, Options(objective));
        trainer.Run(p => losses.Add(p.Loss));
        Assert.Equal(2, losses.Count);
        // MSE for idm (positive); spr's is a negative cosine similarity (in [−1, 1]).
        Assert.All(losses, l => Assert.True(objective == PretrainObjective.Idm ? float.IsFinite(l) && l > 0 : l is >= -1 and <= 1, $"{objective}: loss {l}"));
    }

    [Fact]
    public void ADeploymentWhereThePolicyNeverActedIsRefusedNamingTheColumn()
    {
        using var folder = new TemporaryFolder();
        var dataset = Deployment(Path.Combine(folder.Path, "data"), 2, 6, acted: (_, _) => false);
        var run = Path.Combine(folder.Path, "run");
        var refused = Assert.Throws<ArgumentException>(() => new Pretrainer(run, dataset, Options(PretrainObjective.Idm)));
        Assert.False(Directory.Exists(run)); // refused before the run folder is made
        Assert.Equal($"{dataset.Folder}: no episode has 2 frames in a row with usable images in which the policy acted (policy.normalised_action is NaN where it did not: "
            + "the arm was held, or the policy proposed nothing), so there is no window of 1 step(s) to learn from", refused.Message);
    }

    [Fact]
    public void BehaviourCloningAndADeploymentWithoutTheAgentsActionAreRefusedSayingWhy()
    {
        using var folder = new TemporaryFolder();
        var agent = Deployment(Path.Combine(folder.Path, "agent"), 1, 6, acted: (_, _) => true);
        var bc = Assert.Throws<ArgumentException>(() => new Pretrainer(Path.Combine(folder.Path, "bc"), agent, Options(PretrainObjective.Bc)));
        Assert.Contains("is a recorded deployment (rr run --record)", bc.Message);
        Assert.Contains("the actions its agent took are the agent's own, not a demonstrator's", bc.Message);
        Assert.Contains("idm and spr learn from the agent's actions (policy.normalised_action)", bc.Message);

        var scripted = Deployment(Path.Combine(folder.Path, "scripted"), 1, 6, acted: (_, _) => true, normalised: false);
        Assert.Null(PretrainingData.ActionColumn(scripted.Layout, PretrainObjective.Idm));
        var idm = Assert.Throws<ArgumentException>(() => new Pretrainer(Path.Combine(folder.Path, "idm"), scripted, Options(PretrainObjective.Idm)));
        Assert.Contains("it has no 'policy.normalised_action' column, the agent's own action that idm and spr learn from", idm.Message);
        Assert.Contains("Objectives that learn from frames alone train on it", idm.Message);
        Assert.False(Directory.Exists(Path.Combine(folder.Path, "idm")));
    }
}
