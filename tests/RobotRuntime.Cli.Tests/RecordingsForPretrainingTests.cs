using System.Globalization;
using System.Text.Json.Nodes;
using RobotRuntime.Datasets;
using RobotRuntime.Datasets.Recording;
using RobotRuntime.SimServer;

namespace RobotRuntime.Cli.Tests;

/// <summary>
/// A user's own recordings as pre-training data: <c>rr record --dataset</c> of the simulator's camera
/// streams (the in-process sim-server, as a real robot's cameras would be reached) and a recorded
/// deployment (<c>rr run --record</c>), each given to <c>rr pretrain</c>.
/// </summary>
public sealed class RecordingsForPretrainingTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-recordings-pretrain-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string[] Pretrain(string data, string run, string objective, int steps) =>
        ["pretrain", "--data", data, "--run", run, "--objective", objective, "--steps", steps.ToString(CultureInfo.InvariantCulture),
         "--batch-size", "8", "--group", "4", "--pool-episodes", "2", "--seed", "1"];

    /// <summary>The losses metrics.csv logged (every 10 updates).</summary>
    private static List<double> LoggedLosses(string run) =>
        File.ReadAllLines(Path.Combine(run, "metrics.csv")).Skip(1).Select(l => double.Parse(l.Split(',')[2], CultureInfo.InvariantCulture)).ToList();

    [Fact]
    public void TheSimulatorsCamerasRecordedAsADatasetSplitIntoEpisodesAndPretrainOnlyFrameObjectives()
    {
        using var host = SimServerHost.Start(new SimServerOptions
        {
            Task = "reach", StateEndpoint = "tcp://127.0.0.1:*", CommandEndpoint = "tcp://127.0.0.1:*", ControlEndpoint = "tcp://127.0.0.1:*",
            FrontCameraEndpoint = "tcp://127.0.0.1:*", WristCameraEndpoint = "tcp://127.0.0.1:*",
            CameraRateHz = 20, CameraWidth = 32, CameraHeight = 32, WatchdogMilliseconds = 500, Quiet = true,
        });
        var cameras = host.Endpoints.Cameras;
        var data = Path.Combine(_folder, "data");

        var record = AgentCommandTests.Rr("record", "--camera", $"front=stream,endpoint={cameras["front"]}", "--camera", $"wrist=stream,endpoint={cameras["wrist"]}",
            "--size", "32", "--out", data, "--dataset", "--fps", "10", "--episode-length", "6", "--episodes", "2", "--task", "watch the arm");

        Assert.True(record.Exit == 0, record.Output + record.Error);
        Assert.Contains("episode 0: 6 frames (end: episode length)", record.Output);
        Assert.Contains("episode 1: 6 frames (end: episode length)", record.Output);
        Assert.Contains("dataset closed: 2 episode(s), 12 frames recorded", record.Output);
        var dataset = EpisodeDataset.Open(data);
        Assert.True(CameraDatasetLayout.IsCameraRecording(dataset.Layout));
        // The columns rr collect writes for its two cameras; nothing measured or commanded.
        var features = JsonNode.Parse(File.ReadAllText(Path.Combine(data, "meta", "info.json")))!["features"]!.AsObject();
        Assert.Equal("image", features["observation.images.front"]!["dtype"]!.GetValue<string>());
        Assert.Equal("image", features["observation.images.wrist"]!["dtype"]!.GetValue<string>());
        Assert.False(features.ContainsKey("action"));
        Assert.False(features.ContainsKey("observation.state"));
        Assert.Equal(["watch the arm"], dataset.Layout.Tasks);
        Assert.Equal([6, 6], dataset.Episodes.Select(e => e.Length));
        for (var e = 0; e < 2; e++)
        {
            var episode = dataset.Read(e);
            for (var f = 0; f < episode.Length; f++)
            {
                // Rendered scenes (not blank), and the two cameras see it differently.
                Assert.Contains(episode.Image(0, f), b => b != 0);
                Assert.NotEqual(episode.Image(0, f), episode.Image(1, f));
                Assert.True(episode.Integer(f, CameraDatasetLayout.SequenceColumn("front")) >= 1);
                Assert.Equal(f == 5, episode.Done[f]);
            }
        }

        // Frames alone: ATC trains on it and exports the encoder.
        var run = Path.Combine(_folder, "atc");
        var atc = AgentCommandTests.Rr(Pretrain(data, run, "atc", 20));
        Assert.True(atc.Exit == 0, atc.Output + atc.Error);
        var losses = LoggedLosses(run);
        Assert.Equal(2, losses.Count); // updates 10 and 20
        // InfoNCE over a batch of 8 lies in [0, ∞) and starts near ln 8 = 2.08.
        Assert.All(losses, l => Assert.True(double.IsFinite(l) && l >= 0, $"loss {l}"));
        Assert.True(File.Exists(Path.Combine(run, "encoder.onnx")));
        var entry = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "zoo.json")))!["models"]![0]!;
        Assert.Contains("12 frames, cameras front+wrist", entry["description"]!.GetValue<string>());

        // An objective that learns from actions is refused, naming the dataset, the column and what works.
        foreach (var objective in new[] { "idm", "bc", "spr" })
        {
            var refusedRun = Path.Combine(_folder, objective);
            var refused = AgentCommandTests.Rr(Pretrain(data, refusedRun, objective, 20));
            Assert.Equal(1, refused.Exit);
            Assert.Contains($"rr pretrain: {dataset.Folder} has no 'action' column: it is a recording of cameras alone (rr record --dataset). The {objective} objective learns from", refused.Error);
            Assert.Contains("Objectives that learn from frames alone train on it: atc, video-dynamics, mae, curl, siammae", refused.Error);
            Assert.False(Directory.Exists(refusedRun));
        }

        // More of the same cameras add episodes; another task is another layout, refused naming both.
        var other = AgentCommandTests.Rr("record", "--camera", $"front=stream,endpoint={cameras["front"]}", "--camera", $"wrist=stream,endpoint={cameras["wrist"]}",
            "--size", "32", "--out", data, "--dataset", "--fps", "10", "--episode-length", "6", "--episodes", "1", "--task", "something else");
        Assert.Equal(1, other.Exit);
        Assert.Contains("another layout", other.Error);
        Assert.Contains("tasks watch the arm", other.Error);
        Assert.Equal(2, EpisodeDataset.Open(data).Episodes.Count);
    }

    [Fact]
    public void ARecordedDeploymentPretrainsAFrameObjectiveAndRefusesAnActionOne()
    {
        var cell = Path.Combine(_folder, "cell.yaml");
        File.WriteAllText(cell, $$"""
            rate_hz: 30
            runs_folder: {{Path.Combine(_folder, "runs")}}
            arm: {kind: sim, task: reach, seed: 3}
            cameras:
              - {name: front, backend: synthetic, width: 32, height: 32, fps: 60}
              - {name: wrist, backend: synthetic, width: 32, height: 32, fps: 60}
            policy: {kind: scripted-reach, goal: [0.3, 0.05, 0.15]}
            safety: {max_deadline_misses: 25, max_frame_age: 500ms}

            """);
        var data = Path.Combine(_folder, "deployment");
        var recorded = AgentCommandTests.Rr("run", "--config", cell, "--duration", "2s", "--record", data);
        Assert.True(recorded.Exit == 0, recorded.Output + recorded.Error);
        Assert.True(DeploymentLayout.IsDeployment(EpisodeDataset.Open(data).Layout));

        var run = Path.Combine(_folder, "video-dynamics");
        var trained = AgentCommandTests.Rr(Pretrain(data, run, "video-dynamics", 10));
        Assert.True(trained.Exit == 0, trained.Output + trained.Error);
        var losses = LoggedLosses(run);
        Assert.Single(losses);
        Assert.True(double.IsFinite(losses[0]), $"loss {losses[0]}");
        Assert.True(File.Exists(Path.Combine(run, "encoder.onnx")));

        var refused = AgentCommandTests.Rr(Pretrain(data, Path.Combine(_folder, "idm"), "idm", 10));
        Assert.Equal(1, refused.Exit);
        Assert.Contains($"{Path.GetFullPath(data)} is a recorded deployment (rr run --record): its 'action' column is the command sent to the arm", refused.Error);
        Assert.Contains("not one action per frame", refused.Error);
        Assert.Contains("Objectives that learn from frames alone train on it: atc, video-dynamics, mae, curl, siammae", refused.Error);
    }
}
