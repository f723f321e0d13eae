using RobotRuntime.Datasets;
using RobotRuntime.Sim.Collection;
using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Tests;

public sealed class CollectionTests
{
    [Fact]
    public void TheCollectionsRandomisationNeverDrawsWhatAPresetDraws()
    {
        for (var seed = 0; seed < 2000; seed++)
        {
            var draw = CollectionRandomisation.Draw(new Random(seed));
            // Easy table presets paint Gradient or Noise; hard ones two colours at least 0.5 apart.
            Assert.Contains(draw.TablePattern, new[] { TexturePattern.Checker, TexturePattern.Stripes });
            var table = draw.TableFirst.Contrast(draw.TableSecond);
            Assert.InRange(table, CollectionRandomisation.MinContrast, CollectionRandomisation.MaxContrast);
            Assert.True(CollectionRandomisation.MaxContrast < 0.5f);
            // Easy background presets paint only a Gradient; hard ones need a contrast of 0.5.
            Assert.NotEqual(TexturePattern.Gradient, draw.SkyPattern);
            Assert.InRange(draw.SkyFirst.Contrast(draw.SkySecond), CollectionRandomisation.MinContrast, CollectionRandomisation.MaxContrast);
            Assert.InRange(draw.Ambient, 0f, 0.35f);
            Assert.InRange(draw.Specular, 0.1f, 0.6f);
        }
    }

    [Fact]
    public void RandomisedEpisodesChangeTheSceneButNotTheArmOrTheCameras()
    {
        const int size = 32;
        using var environment = new TabletopEnvironment(new TabletopEnvironmentOptions("push", ImageWidth: size, ImageHeight: size));
        var plain = environment.Reset(5).Clone();
        var plainVisuals = environment.Scene.Model.Field<float>("mat_rgba").Span.ToArray();
        var cameraPose = environment.Scene.Model.Field<double>("cam_pos").Span.ToArray();
        environment.RandomiseVisuals = true;
        var randomised = environment.Reset(5).Clone();
        Assert.NotNull(environment.LastRandomisation);
        Assert.Equal(plain.Proprioception, randomised.Proprioception); // same state: only visuals change
        Assert.NotEqual(plain.Cameras[0].Rgb, randomised.Cameras[0].Rgb);
        Assert.Equal(cameraPose, environment.Scene.Model.Field<double>("cam_pos").Span.ToArray());
        var arm = environment.Scene.Model.Id(MuJoCo.MjObject.Material, "arm");
        Assert.Equal(plainVisuals.AsSpan(4 * arm, 4).ToArray(), environment.Scene.Model.Field<float>("mat_rgba").Span.Slice(4 * arm, 4).ToArray());

        // The same seed gives the same randomisation; switching it off restores the default scene.
        var again = environment.Reset(5).Clone();
        Assert.Equal(randomised.Cameras[0].Rgb, again.Cameras[0].Rgb);
        environment.RandomiseVisuals = false;
        Assert.Equal(plain.Cameras[0].Rgb, environment.Reset(5).Cameras[0].Rgb);
    }

    [Fact]
    public void CollectedEpisodesHoldBothCamerasActionsAndTheTaskStateAndAreTheSameForASeed()
    {
        using var folder = new TemporaryDirectory();
        var options = new CollectOptions(Episodes: 6, Tasks: ["reach", "push"], ImageSize: 32, Seed: 2, Workers: 2);
        var dataset = DatasetCollector.Collect(Path.Combine(folder.Path, "a"), options);
        Assert.Equal(6, dataset.Episodes.Count);
        Assert.Equal(["front", "wrist"], dataset.Layout.Cameras);
        Assert.Equal(["reach", "push", "reach", "push", "reach", "push"], dataset.Episodes.Select(e => e.Task));
        var push = dataset.Read(1);
        Assert.True(float.IsFinite(push.EnvironmentState(0)[6]), "push episodes record the puck's position");
        var reach = dataset.Read(0);
        Assert.True(float.IsNaN(reach.EnvironmentState(0)[6]), "reach has no object: NaN");
        // The tip in the environment state is the proprioception's end-effector position.
        Assert.Equal(reach.State(0)[9], reach.EnvironmentState(0)[0], 5);
        Assert.Contains(dataset.Episodes, e => e.Extra["visuals"] == CollectionRandomisation.Name);

        // One worker, another folder: the same episodes, byte for byte.
        var single = DatasetCollector.Collect(Path.Combine(folder.Path, "b"), options with { Workers = 1 });
        for (var e = 0; e < 6; e++)
        {
            var x = dataset.Read(e);
            var y = single.Read(e);
            Assert.Equal(x.Length, y.Length);
            Assert.Equal(x.Actions, y.Actions);
            Assert.Equal(x.Image(1, x.Length - 1), y.Image(1, y.Length - 1));
        }
    }

    [Fact]
    public void ACancelledCollectionContinuesWhereItStoppedWithTheSameEpisodes()
    {
        using var folder = new TemporaryDirectory();
        var options = new CollectOptions(Episodes: 5, Tasks: ["peek"], ImageSize: 32, Seed: 3, Workers: 1);
        using var stop = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => DatasetCollector.Collect(Path.Combine(folder.Path, "run"), options, p =>
        {
            if (p.Episodes == 2)
                stop.Cancel();
        }, stop.Token));
        var partial = EpisodeDataset.Open(Path.Combine(folder.Path, "run"));
        Assert.InRange(partial.Episodes.Count, 2, 4);
        var resumed = DatasetCollector.Collect(Path.Combine(folder.Path, "run"), options);
        var straight = DatasetCollector.Collect(Path.Combine(folder.Path, "straight"), options);
        Assert.Equal(straight.Episodes.Select(e => e.Extra["seed"]), resumed.Episodes.Select(e => e.Extra["seed"]));
        Assert.Equal(straight.Read(4).Image(0, 0), resumed.Read(4).Image(0, 0));
    }

    [Fact]
    public void TheTasksRewardOnARecordedEnvironmentStateIsTheSimulatorsReward()
    {
        // Every task: the reward after frame f's action, recomputed from the environment state recorded with
        // frame f + 1, is the reward the simulator gave (tolerance 1e-5: the state is stored as float32 metres,
        // and the rewards' slope is at most 10 + 5 per metre); the success flag is the same.
        using var folder = new TemporaryDirectory();
        var options = new CollectOptions(Episodes: 8, Tasks: TabletopTask.Names, ImageSize: 16, Seed: 4, Workers: 1, ScriptedShare: 1);
        var dataset = DatasetCollector.Collect(folder.Path, options);
        int compared = 0;
        foreach (var entry in dataset.Episodes)
        {
            var task = TabletopTask.Create(entry.Task);
            var episode = dataset.Read(entry.Index);
            for (var f = 0; f + 1 < episode.Length; f++)
            {
                var status = task.EvaluateState(episode.EnvironmentState(f + 1));
                Assert.Equal(episode.Rewards[f], status.Reward, 1e-5);
                Assert.Equal(episode.Success[f], status.IsSuccess);
                compared++;
            }
        }
        Assert.True(compared > 200, $"{compared} frames compared");
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => TabletopTask.Create("push").EvaluateState(new float[9] { 0, 0, 0, 0, 0, 0, float.NaN, 0, 0 })).Message);
    }

    [Fact]
    public void BadCollectionOptionsAreNamed()
    {
        Assert.Contains("unknown task 'fly'", Assert.Throws<ArgumentException>(() => new CollectOptions(1, ["fly"]).Validate()).Message);
        Assert.Contains("image size", Assert.Throws<ArgumentException>(() => new CollectOptions(1, ["reach"], ImageSize: 8).Validate()).Message);
        Assert.Contains("seed must be 0..99", Assert.Throws<ArgumentException>(() => new CollectOptions(1, ["reach"], Seed: 100).Validate()).Message);
    }

    [Fact]
    public void ProbeFramesShowTheSameStatesInEveryCondition()
    {
        var conditions = ProbeFrames.Render("push", [VisualShifts.InDistribution, CollectionRandomisation.Name, "table-hard"], episodes: 2, steps: 4, imageSize: 32);
        Assert.Equal(3, conditions.Count);
        for (var i = 0; i < conditions[0].States.Count; i++)
        {
            Assert.Equal(conditions[0].States[i], conditions[1].States[i]);
            Assert.Equal(conditions[0].States[i], conditions[2].States[i]);
        }
        Assert.NotEqual(conditions[0].Images[0], conditions[2].Images[0]);
    }

    private sealed class TemporaryDirectory : IDisposable
    {
        public TemporaryDirectory() => Directory.CreateDirectory(Path);

        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rr-collect-tests-" + Guid.NewGuid().ToString("N"));

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
