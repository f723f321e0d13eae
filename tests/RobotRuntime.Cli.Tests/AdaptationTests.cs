using System.Globalization;
using System.Text.Json.Nodes;
using RobotRuntime.Agents.Packaging;
using RobotRuntime.Datasets;
using RobotRuntime.Datasets.Recording;
using RobotRuntime.Tensors.Serialization;
using Columns = RobotRuntime.Datasets.Recording.DeploymentLayout.Columns;

namespace RobotRuntime.Cli.Tests;

/// <summary>
/// Offline adaptation: <c>rr eval --record</c> keeps evaluated episodes as a dataset, <c>rr train
/// --from-dataset</c> fine-tunes a package on them (or on a recorded deployment) and writes a package
/// naming both parents; a dataset that does not fit the package is refused naming the field.
/// </summary>
public sealed class AdaptationTests : IDisposable
{
    private static readonly string Repository = Native.NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)!;
    private static readonly string Shipped = Path.Combine(Repository, "models", "agents", "reach-scratch");
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-adapt-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static (int Exit, string Output, string Error) Rr(params string[] args) => AgentCommandTests.Rr(args);

    /// <summary>Trains a tiny scratch agent for a few steps, packages it and records <paramref name="episodes"/> evaluated episodes per preset.</summary>
    private (string Package, string Recording) TinyAgentAndRecording(int episodes, string shifts = "table-hard")
    {
        string config = Path.Combine(_folder, "agent.json");
        File.WriteAllText(config, "{ \"size\": \"rt-tiny\", \"latentDim\": 32, \"mlpDim\": 64, \"encoderDim\": 64, \"cnnChannels\": 8, \"batchSize\": 4, \"frameStack\": 1 }");
        string run = Path.Combine(_folder, "run");
        var train = Rr("train", "--task", "reach", "--mode", "scratch", "--config", config, "--seed", "2", "--steps", "110",
            "--seed-steps", "105", "--pretrain-updates", "2", "--eval-every", "1000000", "--act", "prior", "--run", run, "--no-progress");
        Assert.True(train.Exit == 0, train.Error);
        string package = Path.Combine(_folder, "package");
        string recording = Path.Combine(_folder, "recorded");
        var eval = Rr("eval", run, "--shifts", shifts, "--episodes", episodes.ToString(CultureInfo.InvariantCulture), "--planner", "prior",
            "--package", package, "--record", recording, "--first-seed", "2000000");
        Assert.True(eval.Exit == 0, eval.Error);
        return (package, recording);
    }

    [Fact]
    public void EvaluatedEpisodesOfATinyAgentAdaptItOfflineIntoAPackageThatNamesBothParentsAndEvaluates()
    {
        var (package, recording) = TinyAgentAndRecording(episodes: 2);
        // rr eval --record: one dataset per preset, every evaluated episode with the agent's normalised action.
        var shifted = EpisodeDataset.Open(Path.Combine(recording, "table-hard"));
        Assert.Equal(2, shifted.Episodes.Count);
        Assert.Equal(["front"], shifted.Layout.Cameras);
        Assert.Equal(64, shifted.Layout.ImageWidth);
        Assert.Equal(["dx", "dy", "dz", "gripper"], shifted.Layout.ActionNames);
        Assert.Equal(12, shifted.Layout.StateNames.Count);
        Assert.Equal(["2000000", "2000001"], shifted.Episodes.Select(e => e.Extra["seed"]));
        Assert.All(shifted.Episodes, e => Assert.Equal("table-hard", e.Extra["visuals"]));
        var first = shifted.Read(0);
        Assert.All(first.Actions, a => Assert.InRange(a, -1f, 1f));
        Assert.All(first.Rewards, r => Assert.True(float.IsFinite(r)));
        Assert.True(first.Done[^1]);
        Assert.Equal(2, EpisodeDataset.Open(Path.Combine(recording, "in-distribution")).Episodes.Count);

        string run = Path.Combine(_folder, "adapt");
        string adapted = Path.Combine(_folder, "adapted");
        var adapt = Rr("train", "--from-dataset", Path.Combine(recording, "table-hard") + "," + Path.Combine(recording, "in-distribution"),
            "--package", package, "--run", run, "--updates", "6", "--checkpoint-every", "3", "--package-out", adapted, "--no-progress");
        Assert.True(adapt.Exit == 0, adapt.Output + adapt.Error);
        Assert.Contains("new run", adapt.Output);
        Assert.Contains("the CNN trains", adapt.Output);
        // Every frame is a transition but an episode's last when it did not end by success (no observation follows it).
        long frames = shifted.TotalFrames;
        long transitions = frames - Enumerable.Range(0, 2).Count(e => !shifted.Read(e).Success[^1]);
        Assert.Contains($"{Path.Combine(recording, "table-hard")}: 2 episode(s), {frames} frames → {transitions} transitions", adapt.Output);
        Assert.Contains("rr train: stopped at update 6 of 6", adapt.Output);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(run, "metrics.csv")).Length); // header + rows at updates 3 and 6

        // The manifest names the parent package (path and the sha256 of its weights) and each dataset (path, episodes, frames).
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(adapted, "manifest.json")))!;
        var parents = manifest["parents"]!.AsArray();
        Assert.Equal(3, parents.Count);
        Assert.Equal("package", parents[0]!["kind"]!.GetValue<string>());
        Assert.Equal(Path.GetFullPath(package), parents[0]!["path"]!.GetValue<string>());
        Assert.Equal(AgentPackage.Sha256(Path.Combine(package, "weights.safetensors")), parents[0]!["weightsSha256"]!.GetValue<string>());
        Assert.Equal(Path.Combine(recording, "table-hard"), parents[1]!["path"]!.GetValue<string>());
        Assert.Equal(2, parents[1]!["episodes"]!.GetValue<int>());
        Assert.Equal(frames, parents[1]!["frames"]!.GetValue<long>());
        Assert.Equal("dataset", parents[2]!["reward"]!.GetValue<string>());
        Assert.Equal(manifest["training"]!["controlRateHz"]!.GetValue<string>(), JsonNode.Parse(File.ReadAllText(Path.Combine(package, "manifest.json")))!["training"]!["controlRateHz"]!.GetValue<string>());

        // The weights moved from the parent's, and rr eval runs the adapted package (checking its weights first).
        var before = SafeTensors.Load(Path.Combine(package, "weights.safetensors"));
        var after = SafeTensors.Load(Path.Combine(adapted, "weights.safetensors"));
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        Assert.Contains(before.Keys, k => !before[k].Span.SequenceEqual(after[k].Span));
        var eval = Rr("eval", adapted, "--shifts", "table-hard", "--episodes", "1", "--planner", "prior");
        Assert.True(eval.Exit == 0, eval.Error);
        Assert.Contains("weights checked against the manifest's sha256", eval.Output);
        Assert.Contains("table-hard,1,", eval.Output);

        // --trainable encoder: only the encoder (here the CNN and its head) moves; dynamics, reward, Qs and policy stay the parent's.
        string encoderOnly = Path.Combine(_folder, "encoder-only");
        var aligned = Rr("train", "--from-dataset", Path.Combine(recording, "table-hard"), "--package", package, "--run", Path.Combine(_folder, "adapt-encoder"),
            "--updates", "4", "--trainable", "encoder", "--package-out", encoderOnly, "--no-progress");
        Assert.True(aligned.Exit == 0, aligned.Output + aligned.Error);
        Assert.Contains("dynamics, reward, Qs and policy stay the parent's", aligned.Output);
        var moved = SafeTensors.Load(Path.Combine(encoderOnly, "weights.safetensors"));
        foreach (var (name, tensor) in before.Where(kv => !kv.Key.StartsWith("encoder.", StringComparison.Ordinal)))
            Assert.True(tensor.Span.SequenceEqual(moved[name].Span), $"{name} moved");
        Assert.All(before.Keys.Where(k => k.StartsWith("encoder.", StringComparison.Ordinal) && k.EndsWith(".weight", StringComparison.Ordinal)),
            k => Assert.False(before[k].Span.SequenceEqual(moved[k].Span), $"{k} did not move"));
        Assert.Equal("encoder", JsonNode.Parse(File.ReadAllText(Path.Combine(_folder, "adapt-encoder", "run.json")))!["trainer"]!["Trainable"]!.GetValue<string>());

        // rr eval RUN --package makes the same package from the run folder, parents included.
        var fromRun = Rr("eval", run, "--episodes", "1", "--planner", "prior", "--package", Path.Combine(_folder, "from-run"));
        Assert.True(fromRun.Exit == 0, fromRun.Error);
        var again = JsonNode.Parse(File.ReadAllText(Path.Combine(_folder, "from-run", "manifest.json")))!;
        Assert.Equal(parents.ToJsonString(), again["parents"]!.ToJsonString());
        Assert.Equal(AgentPackage.Sha256(Path.Combine(adapted, "weights.safetensors")), AgentPackage.Sha256(Path.Combine(_folder, "from-run", "weights.safetensors")));
    }

    [Fact]
    public void OfflineLossFallsOverUpdatesForAFixedSeedAndTheRunReproducesAndResumesExactly()
    {
        var (package, recording) = TinyAgentAndRecording(episodes: 2);
        string data = Path.Combine(recording, "table-hard") + "," + Path.Combine(recording, "in-distribution");
        string Adapt(string name, string updates, params string[] more)
        {
            string run = Path.Combine(_folder, name);
            var adapt = Rr(["train", "--from-dataset", data, "--package", package, "--run", run, "--updates", updates, "--checkpoint-every", "20", "--seed", "5", "--threads", "1", "--warmup-updates", "50", "--no-progress", .. more]);
            Assert.True(adapt.Exit == 0, adapt.Output + adapt.Error);
            return run;
        }
        string straight = Adapt("straight", "200");
        var rows = File.ReadAllLines(Path.Combine(straight, "metrics.csv")).Skip(1).Select(l => l.Split(',')).ToList();
        Assert.Equal(10, rows.Count); // a row per 20 updates
        double Total(string[] row) => double.Parse(row[7], CultureInfo.InvariantCulture);
        double Reward(string[] row) => double.Parse(row[4], CultureInfo.InvariantCulture);
        // The loss on the recorded data falls: the mean of the last 20 updates is at most half the first 20's
        // (measured: 0.287 → 0.070, a quarter; the reward part 1.32 → 0.23), and so does its reward part.
        Assert.True(Total(rows[^1]) < 0.5 * Total(rows[0]), $"total loss {Total(rows[0])} → {Total(rows[^1])}");
        Assert.True(Reward(rows[^1]) < 0.5 * Reward(rows[0]), $"reward loss {Reward(rows[0])} → {Reward(rows[^1])}");

        // The same seed gives the same run bit for bit; one stopped at 100 and extended to 200 ends where the straight one did.
        string repeat = Adapt("repeat", "200");
        string extended = Adapt("extended", "100");
        extended = Adapt("extended", "200");
        var reference = SafeTensors.Load(Path.Combine(straight, "checkpoint.safetensors"));
        foreach (var other in new[] { repeat, extended })
        {
            var tensors = SafeTensors.Load(Path.Combine(other, "checkpoint.safetensors"));
            foreach (var (name, tensor) in reference)
                Assert.True(tensor.Span.SequenceEqual(tensors[name].Span), $"{other}: {name} differs");
        }
        Assert.Equal(Columns(straight), Columns(repeat));
        Assert.Equal(Columns(straight), Columns(extended));

        static IEnumerable<string> Columns(string run) => File.ReadAllLines(Path.Combine(run, "metrics.csv")).Select(l => string.Join(',', l.Split(',').Where((_, i) => i != 1)));
    }

    [Theory]
    [InlineData("partial")]
    [InlineData("frozen")]
    public void APvrAgentAdaptsItsHeadAndInPartialModeItsPvrTailWhileTheFrozenPartStaysOutside(string mode)
    {
        // tiny-resnet (models/test): partial mode trains layer2 in the engine on ONNX Runtime's trunk; frozen mode the head on its embedding.
        string zoo = Path.Combine(Repository, "models", "test", "agent-zoo.json");
        string config = Path.Combine(_folder, "agent.json");
        File.WriteAllText(config, "{ \"size\": \"rt-tiny\", \"latentDim\": 32, \"mlpDim\": 64, \"encoderDim\": 64, \"batchSize\": 4, \"frameStack\": 1, \"imageSize\": 64 }");
        string run = Path.Combine(_folder, "run");
        var train = Rr("train", "--task", "reach", "--mode", mode, "--encoder", "tiny-resnet", "--zoo", zoo, "--config", config, "--seed", "2",
            "--steps", "110", "--seed-steps", "105", "--pretrain-updates", "2", "--eval-every", "1000000", "--act", "prior", "--run", run, "--no-progress");
        Assert.True(train.Exit == 0, train.Error);
        string package = Path.Combine(_folder, "package");
        string recording = Path.Combine(_folder, "recorded");
        var eval = Rr("eval", run, "--zoo", zoo, "--shifts", "in-distribution", "--episodes", "1", "--planner", "prior", "--package", package,
            "--record", recording, "--first-seed", "2000000");
        Assert.True(eval.Exit == 0, eval.Error);

        string adapted = Path.Combine(_folder, "adapted");
        var adapt = Rr("train", "--from-dataset", Path.Combine(recording, "in-distribution"), "--package", package, "--zoo", zoo,
            "--run", Path.Combine(_folder, "adapt"), "--updates", "3", "--warmup-updates", "0", "--package-out", adapted, "--no-progress");
        Assert.True(adapt.Exit == 0, adapt.Output + adapt.Error);
        Assert.Contains(mode == "partial" ? "the PVR's trunk stays frozen, its tail trains" : "the PVR stays frozen", adapt.Output);
        var before = SafeTensors.Load(Path.Combine(package, "weights.safetensors"));
        var after = SafeTensors.Load(Path.Combine(adapted, "weights.safetensors"));
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        var pvr = before.Keys.Where(k => k.StartsWith("pvr.", StringComparison.Ordinal)).ToList();
        if (mode == "partial")
        {
            // The tail's weights are in the package and moved; the trunk's are not in it at all (ONNX Runtime runs it, unchanged).
            Assert.NotEmpty(pvr);
            Assert.Contains(pvr, k => !before[k].Span.SequenceEqual(after[k].Span));
        }
        else
        {
            Assert.Empty(pvr);
        }
        Assert.Contains(before.Keys, k => k.StartsWith("encoder.head", StringComparison.Ordinal) && !before[k].Span.SequenceEqual(after[k].Span));
        var evaluated = Rr("eval", adapted, "--zoo", zoo, "--episodes", "1", "--planner", "prior");
        Assert.True(evaluated.Exit == 0, evaluated.Error);
        Assert.Contains("in-distribution,1,", evaluated.Output);
    }

    [Theory]
    [InlineData("cameras", "cameras: the package's agent sees camera 'front'; the dataset has wrist")]
    [InlineData("image size", "image size: the dataset's images are 32×32; the package's agent takes 64×64")]
    [InlineData("observation.state", "observation.state: the dataset has 11 values; the package's agent takes 12 proprioception values")]
    [InlineData("action", "action: the dataset's action has 3 values (dx, dy, dz); the package's agent acts with 4 (dx, dy, dz, gripper)")]
    [InlineData("fps", "fps: the dataset was recorded at 10 Hz; the package's agent acts at 25 Hz")]
    [InlineData("task", "task: the dataset's episodes are of push; the package was trained on 'reach'")]
    public void ADatasetThatDoesNotFitThePackageIsRefusedNamingTheField(string field, string message)
    {
        string[] state = [.. Enumerable.Range(0, field == "observation.state" ? 11 : 12).Select(i => $"s{i}")];
        string[] action = field == "action" ? ["dx", "dy", "dz"] : ["dx", "dy", "dz", "gripper"];
        var layout = new DatasetLayout("robotruntime-tabletop-4dof", field == "fps" ? 10 : 25, [field == "cameras" ? "wrist" : "front"],
            field == "image size" ? 32 : 64, field == "image size" ? 32 : 64, state, action, [], [field == "task" ? "push" : "reach"]);
        string folder = Path.Combine(_folder, "misfit");
        var dataset = EpisodeDataset.OpenOrCreate(folder, layout);
        var episode = new Episode(layout, 0, layout.Tasks[0]);
        for (int f = 0; f < 5; f++)
            episode.Add([new byte[layout.ImageBytes]], new float[state.Length], new float[action.Length], [], 0.1f, f == 4, false);
        dataset.Append(episode);

        string run = Path.Combine(_folder, "refused");
        var adapt = Rr("train", "--from-dataset", folder, "--package", Shipped, "--run", run, "--updates", "2", "--no-progress");
        Assert.Equal(1, adapt.Exit);
        Assert.Contains($"dataset {folder}: {message}", adapt.Error);
        Assert.DoesNotContain("   at ", adapt.Error);
        Assert.False(Directory.Exists(run), "a run folder was made for a refused dataset");
    }

    [Fact]
    public void ARecordedDeploymentOfAnAgentCarriesItsNormalisedActionsAndIsAccepted()
    {
        // rr run --record with the shipped agent on the in-process simulator's arm (a synthetic front camera at the agent's size).
        string cell = Path.Combine(_folder, "cell.yaml");
        File.WriteAllText(cell, $$"""
            rate_hz: 25
            runs_folder: {{Path.Combine(_folder, "runs")}}
            arm: {kind: sim, task: reach, seed: 3}
            cameras:
              - {name: front, backend: synthetic, width: 64, height: 64, fps: 60}
            policy: {kind: agent, package: "{{Shipped}}", planner: prior}
            safety: {max_deadline_misses: 25, max_frame_age: 500ms}

            """);
        string data = Path.Combine(_folder, "deployment");
        var run = Rr("run", "--config", cell, "--duration", "3s", "--record", data);
        Assert.True(run.Exit == 0, run.Output + run.Error);
        Assert.Contains("rewards from the simulator", run.Output);

        var dataset = EpisodeDataset.Open(data);
        Assert.Equal(4, DeploymentLayout.NormalisedActionWidth(dataset.Layout));
        Assert.Equal(["dx", "dy", "dz", "gripper"], dataset.Layout.Columns.Single(c => c.Name == Columns.PolicyNormalisedAction).Names);
        int acted = 0;
        foreach (var entry in dataset.Episodes)
        {
            var episode = dataset.Read(entry.Index);
            for (int f = 0; f < episode.Length; f++)
            {
                var normalised = episode.Numbers(f, Columns.PolicyNormalisedAction).ToArray();
                bool ok = episode.Integer(f, Columns.PolicyStatus) is 0 or 1;
                if (ok)
                {
                    acted++;
                    Assert.All(normalised, v => Assert.InRange(v, -1.0, 1.0));
                    // What the arm was asked is the normalised action through the translator: dx × 3 cm, gripper (a + 1)/2.
                    var requested = episode.Numbers(f, Columns.PolicyAction);
                    Assert.Equal(normalised[0] * 0.03, requested[0], 1e-6);
                    Assert.Equal((normalised[3] + 1) / 2, requested[^1], 1e-6);
                }
                else
                {
                    Assert.All(normalised, v => Assert.True(double.IsNaN(v)));
                }
            }
        }
        // At least one: how many cycles of a fixed wall-clock run act depends on the machine (late ticks are skipped;
        // a frame older than max_frame_age holds); every recorded action is checked above, and the adaptation below
        // must find transitions in them.
        Assert.True(acted > 0, $"{acted} cycles with an action");

        var adapt = Rr("train", "--from-dataset", data, "--package", Shipped, "--run", Path.Combine(_folder, "adapt"), "--updates", "2", "--no-progress");
        Assert.True(adapt.Exit == 0, adapt.Output + adapt.Error);
        Assert.Matches(@"→ [1-9]\d* transitions", adapt.Output);
        Assert.Contains("rewards: dataset", adapt.Output);

        // Pre-training's inverse dynamics learns from the same actions, on the steps the arm carried out as the
        // agent chose them. How many there are depends on the machine (as above): with none, the run is refused.
        int steps = dataset.Episodes.Sum(e => RobotRuntime.Pretraining.FrameSampler.WindowStartsOf(dataset.Read(e.Index), Columns.PolicyNormalisedAction, 1).Length);
        string idmRun = Path.Combine(_folder, "idm");
        var idm = Rr("pretrain", "--data", data, "--run", idmRun, "--objective", "idm", "--steps", "10", "--batch-size", "8", "--pool-episodes", "2", "--seed", "1");
        if (steps > 0)
        {
            Assert.True(idm.Exit == 0, idm.Output + idm.Error);
            Assert.Contains("rr pretrain: a recorded deployment: actions from policy.normalised_action (the agent's own)", idm.Output);
            Assert.True(File.Exists(Path.Combine(idmRun, "encoder.onnx")));
        }
        else
        {
            Assert.Equal(1, idm.Exit);
            Assert.Contains("no episode has a window of 1 step(s) to learn from", idm.Error);
        }

        // A recording of a policy without a normalised action of its own has no such column: refused, naming it.
        string scripted = Path.Combine(_folder, "scripted");
        var other = Rr("run", "--config", cell, "--duration", "1s", "--record", scripted, "--set", "policy.kind=hold-still");
        Assert.True(other.Exit == 0, other.Output + other.Error);
        Assert.Equal(0, DeploymentLayout.NormalisedActionWidth(EpisodeDataset.Open(scripted).Layout));
        var refused = Rr("train", "--from-dataset", scripted, "--package", Shipped, "--run", Path.Combine(_folder, "refused"), "--updates", "2", "--no-progress");
        Assert.Equal(1, refused.Exit);
        Assert.Contains("policy.normalised_action: the recording has no such column", refused.Error);
        var refusedIdm = Rr("pretrain", "--data", scripted, "--run", Path.Combine(_folder, "refused-idm"), "--objective", "idm", "--steps", "10");
        Assert.Equal(1, refusedIdm.Exit);
        Assert.Contains("it has no 'policy.normalised_action' column, the agent's own action that idm and spr learn from", refusedIdm.Error);
    }
}
