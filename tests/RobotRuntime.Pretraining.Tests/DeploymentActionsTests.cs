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

    // What the recording says of one cycle beyond its action: the safety verdict (0 passed, 1 clipped,
    // 2 held), whether its images were usable, and cycles the recording dropped just before it.
    private sealed record Cycle(long Safety = 0, bool Usable = true, long DroppedBefore = 0);

    // A deployment of `episodes` × `frames` frames of one 32-px camera (the synthetic square). Frame f of
    // episode e has the normalised action (e, f, f/2, 1) when acted(e, f), else NaN (the policy proposed
    // nothing); cycle(e, f) gives the rest (every cycle passed, usable and sent by default).
    private static EpisodeDataset Deployment(string folder, int episodes, int frames, Func<int, int, bool> acted, Func<int, int, Cycle>? cycle = null, bool normalised = true)
    {
        var layout = DeploymentLayout.Create(6, ["front"], SyntheticEpisodes.Size, SyntheticEpisodes.Size, ArmCommandMode.EndEffectorDelta, 25, "reach",
            normalised ? NormalisedNames : null);
        var dataset = EpisodeDataset.OpenOrCreate(folder, layout);
        int Integer(string name) => layout.ColumnAt(name).Offset;
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
                var c = cycle?.Invoke(e, f) ?? new Cycle();
                integers[Integer(Columns.FramesUsable)] = c.Usable ? 1 : 0;
                integers[Integer(Columns.SafetyStatus)] = c.Safety;
                integers[Integer(Columns.ActionMode)] = (long)ArmCommandMode.EndEffectorDelta;
                integers[Integer(Columns.SendStatus)] = 0;
                integers[Integer(Columns.DroppedBefore)] = c.DroppedBefore;
                episode.Add([source.Image(0, f)], new float[layout.StateNames.Count], new float[layout.ActionNames.Count], new float[layout.EnvironmentStateNames.Count],
                    float.NaN, f == frames - 1, false, numbers, integers);
            }
            dataset.Append(episode);
        }
        return dataset;
    }

    // Three episodes of 16 frames: no action at frames 2 and 10 of every episode; episode 1 never acted;
    // episode 0 held (with a finite action) at frame 9 and dropped 3 cycles before frame 5; episode 2
    // clipped at frame 4 and with unusable images at frame 7.
    private static EpisodeDataset WithGaps(string folder) =>
        Deployment(folder, 3, 16, acted: (e, f) => e != 1 && f % 8 != 2,
            cycle: (e, f) => (e, f) switch
            {
                (0, 9) => new Cycle(Safety: 2),
                (0, 5) => new Cycle(DroppedBefore: 3),
                (2, 4) => new Cycle(Safety: 1),
                (2, 7) => new Cycle(Usable: false),
                _ => new Cycle(),
            });

    private static PretrainOptions Options(PretrainObjective objective, int steps = 2) =>
        new(objective, "cnn", steps, BatchSize: 8, Seed: 5, TemporalOffset: 1, ShiftPad: 2, PoolEpisodes: 3, Group: 4, SprSteps: 3);

    [Fact]
    public void WindowStartsNeedActionsThroughoutAndUsableImagesToTheLastFrame()
    {
        // Frames 0..9: frame 4 has no action; frame 8's images are not usable (so no step starts there
        // either); frame 9 is the last (no step starts there). runs[t]: valid steps in a row from t.
        bool[] usable = [true, true, true, true, true, true, true, true, false, true];
        bool[] acted = [true, true, true, true, false, true, true, true, false, true];
        var runs = new int[10];
        for (var t = 9; t >= 0; t--)
            runs[t] = acted[t] && usable[t] && t < 9 ? 1 + runs[t + 1] : 0;

        // One step (idm): a_t, frames t and t + 1 usable, t + 1 inside the episode.
        Assert.Equal(new[] { 0, 1, 2, 3, 5, 6 }, FrameSampler.WindowStarts(runs, usable, 1));
        // Three steps (spr with K = 3): a_t … a_t+2 and frames t … t + 3 (t = 5 would end on frame 8).
        Assert.Equal(new[] { 0, 1 }, FrameSampler.WindowStarts(runs, usable, 3));
        Assert.Empty(FrameSampler.WindowStarts(runs, usable, 5));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void EveryDrawnWindowIsOneWhereTheAgentsActionWasCarriedOutThroughout(int window)
    {
        using var folder = new TemporaryFolder();
        var dataset = WithGaps(Path.Combine(folder.Path, "data"));
        var sampler = new FrameSampler(dataset, new RobotRuntime.Agents.Model.AgentRandom(9), poolEpisodes: 3, shiftPad: 0,
            actionColumn: Columns.PolicyNormalisedAction, actionWindow: window);
        Assert.Equal(4, sampler.ActionSize);
        var seen = new HashSet<(int Episode, int Frame)>();
        for (var draw = 0; draw < 40; draw++)
        {
            var (actions, size) = Draw(sampler, window);
            for (var i = 0; i < size; i++)
            {
                // Step k of sample i (step-major for windows): the action recorded at t + k, so (e, t + k, (t + k)/2, 1).
                var start = actions.AsSpan(i * 4, 4).ToArray();
                int e = (int)start[0], t = (int)start[1];
                for (var k = 0; k < window; k++)
                    Assert.Equal(new[] { e, t + k, (t + k) / 2f, 1f }, actions.AsSpan((k * size + i) * 4, 4).ToArray());
                seen.Add((e, t));
            }
        }
        // Every window there is, and nothing else, in 320 samples. Worked out by hand: a step t → t + 1
        // counts when a_t is finite, passed unclipped, frame t usable and t + 1 not after a drop.
        // Episode 0's steps: 0, 1, 3, 5–8, 11–14 (2 and 10 no action, 4 → 5 across a drop, 9 held, 15 last).
        // Episode 2's: 0, 1, 3, 5, 6, 8, 9, 11–14 (4 clipped, 7 unusable); a window also needs its last
        // frame usable, so 6 (ending on frame 7) is not a one-step window.
        (int, int)[] expected = window == 1
            ? [(0, 0), (0, 1), (0, 3), (0, 5), (0, 6), (0, 7), (0, 8), (0, 11), (0, 12), (0, 13), (0, 14),
               (2, 0), (2, 1), (2, 3), (2, 5), (2, 8), (2, 9), (2, 11), (2, 12), (2, 13), (2, 14)]
            : [(0, 5), (0, 6), (0, 11), (0, 12), (2, 11), (2, 12)];
        Assert.Equal(expected, seen.Select(s => (s.Episode, s.Frame)).OrderBy(s => s));
    }

    private static (float[] Actions, int Size) Draw(FrameSampler sampler, int window)
    {
        if (window == 1)
        {
            var pairs = sampler.Next(8, 1, sameShift: true);
            return (pairs.Actions, pairs.Size);
        }
        var windows = sampler.NextSequence(8, window);
        return (windows.Actions, windows.Size);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ASamplerRestoredFromItsStateDrawsWhatTheOriginalDraws(int window)
    {
        using var folder = new TemporaryFolder();
        // Episode 1 has no window: the pool passes over it (with a draw from the sampler's random source).
        var dataset = WithGaps(Path.Combine(folder.Path, "data"));
        FrameSampler Make() => new(dataset, new RobotRuntime.Agents.Model.AgentRandom(21), poolEpisodes: 2, shiftPad: 2,
            actionColumn: Columns.PolicyNormalisedAction, actionWindow: window);
        var original = Make();
        for (var k = 0; k < 5; k++)
            Draw(original, window);
        var state = original.SaveState();
        var restored = Make();
        Draw(restored, window); // moves it elsewhere first
        restored.RestoreState(state);
        for (var k = 0; k < 5; k++)
            Assert.Equal(Draw(original, window).Actions, Draw(restored, window).Actions);
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
        Assert.Equal($"{dataset.Folder}: no episode has a window of 1 step(s) to learn from: 2 usable frames one cycle apart, the first 1 with the agent's action "
            + "carried out as it chose it (policy.normalised_action finite, the safety filter passed it unclipped, and it was sent). The agent did not act, "
            + "or the arm was held, clipped or not reached, throughout the recording", refused.Message);
    }

    [Fact]
    public void ADeploymentHeldThroughoutWithTheAgentProposingIsRefused()
    {
        using var folder = new TemporaryFolder();
        // The agent kept proposing (finite actions) while the safety filter held the arm: nothing was carried out.
        var dataset = Deployment(Path.Combine(folder.Path, "data"), 1, 6, acted: (_, _) => true, cycle: (_, _) => new Cycle(Safety: 2));
        var run = Path.Combine(folder.Path, "run");
        var refused = Assert.Throws<ArgumentException>(() => new Pretrainer(run, dataset, Options(PretrainObjective.Spr)));
        Assert.Contains("no episode has a window of 3 step(s) to learn from", refused.Message);
        Assert.False(Directory.Exists(run));
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
        Assert.Null(PretrainingData.ActionColumn(agent.Layout, PretrainObjective.Bc));

        var scripted = Deployment(Path.Combine(folder.Path, "scripted"), 1, 6, acted: (_, _) => true, normalised: false);
        Assert.Null(PretrainingData.ActionColumn(scripted.Layout, PretrainObjective.Idm));
        var scriptedBc = Assert.Throws<ArgumentException>(() => new Pretrainer(Path.Combine(folder.Path, "bc2"), scripted, Options(PretrainObjective.Bc)));
        Assert.DoesNotContain("agent", scriptedBc.Message); // nothing in it was an agent's
        Assert.Contains("not one action per frame; the bc objective learns from the demonstrator's action at each frame", scriptedBc.Message);
        var idm = Assert.Throws<ArgumentException>(() => new Pretrainer(Path.Combine(folder.Path, "idm"), scripted, Options(PretrainObjective.Idm)));
        Assert.Contains("it has no 'policy.normalised_action' column, the agent's own action that idm and spr learn from", idm.Message);
        Assert.Contains("Objectives that learn from frames alone train on it", idm.Message);
        Assert.False(Directory.Exists(Path.Combine(folder.Path, "idm")));
    }
}
