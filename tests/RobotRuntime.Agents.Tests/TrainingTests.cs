using RobotRuntime.Agents.Encoders;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Replay;
using RobotRuntime.Agents.Training;
using RobotRuntime.Native;
using RobotRuntime.Tensors;
using RobotRuntime.Vision.Encoders;

namespace RobotRuntime.Agents.Tests;

[Collection("engine threads")]
public class TrainingTests
{
    public TrainingTests() => TensorEngine.ThreadCount = 1;

    [Fact]
    public void AShortSeededTrainingRunLowersEachLoss()
    {
        // Random-action data from the point environment, then 60 updates: the mean of the last ten
        // updates' losses must be below the first ten's for consistency, reward, value and policy.
        string folder = TestConfigs.TempFolder();
        using var env = new PointReachEnvironment();
        using var features = new StateFeatureExtractor(4);
        var options = TestConfigs.Trainer(steps: 200) with { SeedSteps = 200, PretrainUpdates = 0 };
        using var trainer = new Trainer(folder, TestConfigs.Tiny(), options, env, features);
        trainer.Run(stopAfterSteps: 150);
        var sampler = new BatchSampler(trainer.Replay, new AgentRandom(5), 0);
        var batch = new TrainingBatch(trainer.Layout, trainer.Config.BatchSize, trainer.Config.Horizon);
        var metrics = new List<UpdateMetrics>();
        for (int i = 0; i < 60; i++)
        {
            sampler.Fill(batch);
            metrics.Add(trainer.Learner.Update(batch));
        }
        double First(Func<UpdateMetrics, float> f) => metrics.Take(10).Average(m => f(m));
        double Last(Func<UpdateMetrics, float> f) => metrics.TakeLast(10).Average(m => f(m));
        Assert.True(Last(m => m.Consistency) < First(m => m.Consistency), "consistency");
        Assert.True(Last(m => m.Reward) < First(m => m.Reward), "reward");
        Assert.True(Last(m => m.Value) < First(m => m.Value), "value");
        Assert.True(Last(m => m.Policy) < First(m => m.Policy), "policy");
        Assert.All(metrics, m => Assert.True(float.IsFinite(m.Total)));
    }

    [Fact]
    public void TrainingIsBitReproducibleForASeedOnOneThread()
    {
        var a = Train(TestConfigs.TempFolder(), 120);
        var b = Train(TestConfigs.TempFolder(), 120);
        Assert.Equal(a.Count, b.Count);
        foreach (var (name, values) in a)
        {
            Assert.True(values.AsSpan().SequenceEqual(b[name]), name);
        }
    }

    [Fact]
    public void AStoppedAndKilledTrainingResumesFromItsCheckpointAndMatchesAnUninterruptedRun()
    {
        var uninterrupted = Train(TestConfigs.TempFolder(), 200);

        string folder = TestConfigs.TempFolder();
        using (var env = new PointReachEnvironment())
        using (var features = new StateFeatureExtractor(4))
        using (var first = new Trainer(folder, TestConfigs.Tiny(), TestConfigs.Trainer(200), env, features))
        {
            first.Run(stopAfterSteps: 90);   // stops at the next episode boundary, checkpointed
            Assert.InRange(first.Step, 90, 120);
        }
        long checkpointed;
        using (var env = new PointReachEnvironment())
        using (var features = new StateFeatureExtractor(4))
        {
            // A second process resumes, keeps training past the checkpoint and is killed before the
            // next one: its transitions are in replay.bin, its checkpoint never written.
            var killed = new Trainer(folder, TestConfigs.Tiny(), TestConfigs.Trainer(200) with { CheckpointEvery = 1_000_000 }, env, features);
            Assert.True(killed.Resumed);
            checkpointed = killed.Replay.Total;
            var junk = new byte[killed.Layout.FeatureBytes];
            for (int i = 0; i < 30; i++)
            {
                killed.Replay.Append(junk, new float[4], new float[2], 9f, ReplayFlags.HasAction, 999, i);
            }
            // No Dispose and no checkpoint: the process is gone.
        }
        int episodes;
        using (var env = new PointReachEnvironment())
        using (var features = new StateFeatureExtractor(4))
        using (var resumed = new Trainer(folder, TestConfigs.Tiny(), TestConfigs.Trainer(200), env, features))
        {
            Assert.True(resumed.Resumed);
            Assert.Equal(checkpointed, resumed.Replay.Total);
            resumed.Run();
            Assert.InRange(resumed.Step, 200, 220);
            episodes = resumed.Episode;
        }
        var final = ReadCheckpointWeights(folder);
        foreach (var (name, values) in uninterrupted)
        {
            Assert.True(values.AsSpan().SequenceEqual(final[name]), name);
        }
        // One metrics row per episode: nothing lost, nothing written twice across the stop and the kill.
        Assert.Equal(episodes + 1, File.ReadAllLines(Path.Combine(folder, "metrics.csv")).Length);
    }

    [Fact]
    public void AFinishedRunIsExtendedWithMoreStepsAndKeepsItsReplayRing()
    {
        string folder = TestConfigs.TempFolder();
        using (var env = new PointReachEnvironment())
        using (var features = new StateFeatureExtractor(4))
        using (var first = new Trainer(folder, TestConfigs.Tiny(), TestConfigs.Trainer(100) with { ReplayCapacity = 150 }, env, features))
        {
            first.Run();
        }
        // What `rr train --steps` does on an existing run: the ring keeps the capacity it was made with.
        long capacity = ReplayBuffer.ReadCapacity(Path.Combine(folder, "replay.bin"));
        Assert.Equal(150, capacity);
        using (var env = new PointReachEnvironment())
        using (var features = new StateFeatureExtractor(4))
        using (var extended = new Trainer(folder, TestConfigs.Tiny(), TestConfigs.Trainer(260) with { ReplayCapacity = capacity }, env, features))
        {
            Assert.True(extended.Resumed);
            extended.Run();
            Assert.InRange(extended.Step, 260, 300);
            Assert.True(extended.Replay.Total > capacity, "the ring wrapped");
            Assert.Equal(extended.Replay.Total - capacity, extended.Replay.Oldest);
        }
    }

    [Fact]
    public void AResumeWithAnotherConfigNamesTheKeysThatDifferAndOlderRunsMissingNewDefaultsStillMatch()
    {
        var config = TestConfigs.Tiny();
        string json = config.ToJson();
        Assert.Equal("", Trainer.ConfigDifferences(json, json));

        string changed = (config with { BatchSize = config.BatchSize + 1 }).ToJson();
        string message = Trainer.ConfigDifferences(json, changed);
        Assert.Contains($"batchSize: run has {config.BatchSize}, now {config.BatchSize + 1}", message);

        // A run recorded before "pvrLearningRateScale" existed resumes while the value is the default…
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        node.Remove("pvrLearningRateScale");
        Assert.Equal("", Trainer.ConfigDifferences(node.ToJsonString(), json));
        // …and not when the new value differs from it.
        string raised = (config with { PvrLearningRateScale = 0.5f }).ToJson();
        Assert.Contains("pvrLearningRateScale: run has nothing, now 0.5", Trainer.ConfigDifferences(node.ToJsonString(), raised));
    }

    [Fact]
    public void ScratchModeTrainsAFewStepsOnImages()
    {
        string folder = TestConfigs.TempFolder();
        using var env = new PointReachEnvironment(48);
        using var features = new ImageFeatureExtractor(["front"], 48);
        var config = TestConfigs.Tiny(EncoderMode.Scratch, "scratch") with { BatchSize = 4 };
        using var trainer = new Trainer(folder, config, TestConfigs.Trainer(80) with { EvalEvery = 80, EvalEpisodes = 1 }, env, features);
        var before = trainer.Model.Cnn!.Parameters().First().Value.Span.ToArray();
        trainer.Run();
        Assert.True(trainer.Learner.Updates > 0);
        Assert.False(before.AsSpan().SequenceEqual(trainer.Model.Cnn!.Parameters().First().Value.Span), "the CNN did not change");
        Assert.Equal(48 * 48 * 3, trainer.Layout.FeatureLength);
        Assert.Single(trainer.Evaluations);
        Assert.True(File.Exists(Path.Combine(folder, "curve.svg")));
        Assert.True(File.Exists(Path.Combine(folder, "curve.png")));
        Assert.True(File.Exists(Path.Combine(folder, "eval.csv")));
    }

    [Fact]
    public void FrozenModeTrainsAFewStepsOnAnOnnxPvr()
    {
        string repository = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)!;
        var zoo = PvrZoo.Load(Path.Combine(repository, "models", "test", "agent-zoo.json"));
        var pvr = zoo.Get("pool-conv");
        using var encoder = new OnnxPvrEncoder(pvr, zoo.ResolveFile(pvr), 1, 64, 64);
        using var features = new EncoderFeatureExtractor(encoder, ["front"], ownsEncoder: false);
        using var env = new PointReachEnvironment(64);
        string folder = TestConfigs.TempFolder();
        var config = TestConfigs.Tiny(EncoderMode.Frozen, "pool-conv");
        using var trainer = new Trainer(folder, config, TestConfigs.Trainer(80), env, features, "pool-conv");
        trainer.Run();
        Assert.Equal(512, trainer.Layout.FeatureLength);
        Assert.Equal(FeatureKind.Floats, trainer.Layout.Kind);
        Assert.True(trainer.Learner.Updates > 0);
        // The replay holds the PVR's embeddings: the first record is the encoding of episode 0's first image
        // (episode seeds are seed · 100003 + episode).
        var expected = new byte[trainer.Layout.FeatureBytes];
        using var check = new PointReachEnvironment(64);
        features.Extract(check.Reset(3 * 100_003), expected);
        Assert.True(expected.AsSpan().SequenceEqual(trainer.Replay.Features(0)));
    }

    private static Dictionary<string, float[]> Train(string folder, long steps)
    {
        using var env = new PointReachEnvironment();
        using var features = new StateFeatureExtractor(4);
        using var trainer = new Trainer(folder, TestConfigs.Tiny(), TestConfigs.Trainer(steps), env, features);
        trainer.Run();
        return ReadCheckpointWeights(folder);
    }

    private static Dictionary<string, float[]> ReadCheckpointWeights(string folder) =>
        RobotRuntime.Tensors.Serialization.SafeTensors.Load(Path.Combine(folder, Trainer.CheckpointFile))
            .ToDictionary(kv => kv.Key, kv => kv.Value.Span.ToArray());
}
