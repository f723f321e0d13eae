using RobotRuntime.Arm;
using RobotRuntime.Cli.Composition;
using RobotRuntime.Cli.Recording;
using RobotRuntime.Cli.Runtime;
using RobotRuntime.Datasets;
using RobotRuntime.Datasets.Recording;
using RobotRuntime.Policies;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using Columns = RobotRuntime.Datasets.Recording.DeploymentLayout.Columns;

namespace RobotRuntime.Cli.Tests;

/// <summary>
/// <c>rr run --record</c> against the in-process simulator's arm with two synthetic cameras, and
/// <c>rr replay</c> of what it recorded: every cycle is in the dataset as the run log has it, and a
/// deterministic policy replayed on its own recording matches it.
/// </summary>
public sealed class RecordedRunTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-recorded-run-").FullName;

    static RecordedRunTests()
    {
        // The scripted reach, except that on every cycle whose index is a multiple of 7 its dx is 1 mm larger.
        LoopComposer.Policies.Register(new Backend<PolicyBuild>("test-nudged-reach", "scripted reach nudged on every 7th cycle (tests)", [],
            c => new PolicyBuild(new NudgedReach(new ScriptedReachPolicy(() => c.Config.Goal!.Value, c.Arm!.EndEffectorMaxTranslation)), c.ConfiguredEncoder())));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private sealed class NudgedReach(ScriptedReachPolicy inner) : IPolicy
    {
        public string Name => "test-nudged-reach";
        public ArmCommandMode Mode => inner.Mode;
        public int EmbeddingSize => 0;
        public string LastError => inner.LastError;
        public void Reset() => inner.Reset();

        public PolicyStatus Act(PolicyObservation observation, ref ArmCommand command)
        {
            var status = inner.Act(observation, ref command);
            if (observation.CycleIndex % 7 == 0)
                command.Values[0] += 0.001;
            return status;
        }

        public void Dispose() { }
    }

    private string Cell(int rateHz = 30) => WriteCell($"""
        rate_hz: {rateHz}
        runs_folder: {Path.Combine(_folder, "runs")}
        arm: {"{"}kind: sim, task: reach, seed: 3{"}"}
        cameras:
          - {"{"}name: front, backend: synthetic, width: 32, height: 32, fps: 60{"}"}
          - {"{"}name: wrist, backend: synthetic, width: 32, height: 32, fps: 60{"}"}
        policy: {"{"}kind: scripted-reach, goal: [0.3, 0.05, 0.15]{"}"}
        safety: {"{"}max_deadline_misses: 25, max_frame_age: 500ms{"}"}

        """);

    private string WriteCell(string text)
    {
        var path = Path.Combine(_folder, "cell.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void EveryCycleOfARecordedRunIsInTheDatasetAndReplaysOnItsOwnPolicyWithinANanometre()
    {
        var data = Path.Combine(_folder, "data");
        var run = AgentCommandTests.Rr("run", "--config", Cell(), "--duration", "2s", "--record", data);
        Assert.True(run.Exit == 0, run.Output + run.Error);
        Assert.Contains("rr: recording every cycle into", run.Output);
        Assert.Contains("rewards from the simulator", run.Output);
        Assert.Matches(@"rr: recorded \d+ cycles into .* 0 cycle\(s\) dropped", run.Output);

        var log = RunLog.Read(Path.Combine(Directory.GetDirectories(Path.Combine(_folder, "runs")).Single(), "run.rrlog")).Records;
        var dataset = EpisodeDataset.Open(data);
        Assert.True(DeploymentLayout.IsDeployment(dataset.Layout));
        Assert.Equal(4, DeploymentLayout.JointCountOf(dataset.Layout)); // the simulator arm's description
        Assert.Equal(["front", "wrist"], dataset.Layout.Cameras);
        // An episode before arming, then one from the arming on.
        Assert.Equal(["run start (before arming)", "reset"], dataset.Episodes.Select(e => e.Extra["started_by"]));
        Assert.All(dataset.Episodes, e => Assert.Equal("simulator", e.Extra["rewards"]));
        Assert.All(dataset.Episodes, e => Assert.Equal("0", e.Extra["dropped_cycles"]));
        Assert.Equal(log.Count, dataset.TotalFrames);

        var row = 0;
        var frontDelivered = false;
        for (var e = 0; e < dataset.Episodes.Count; e++)
        {
            var episode = dataset.Read(e);
            for (var f = 0; f < episode.Length; f++, row++)
            {
                var logged = log[row];
                Assert.Equal(logged.CycleIndex, episode.Integer(f, Columns.CycleIndex));
                Assert.Equal(logged.StartNs, episode.Integer(f, Columns.StartNs));
                Assert.Equal(logged.EncodeNs, episode.Integer(f, Columns.Encode));
                Assert.Equal(logged.PlanNs, episode.Integer(f, Columns.Policy));
                Assert.Equal(logged.ComputeNs, episode.Integer(f, Columns.Total));
                Assert.Equal((long)logged.Safety, episode.Integer(f, Columns.SafetyStatus));
                Assert.Equal((long)logged.HoldReason, episode.Integer(f, Columns.HoldReason));
                Assert.Equal(logged.SendStatus, episode.Integer(f, Columns.SendStatus));
                // The state is the measured one, finite, with a unit quaternion.
                Assert.Equal(1, episode.Integer(f, Columns.StateValid));
                var state = episode.Numbers(f, Columns.StateExact);
                Assert.All(state.ToArray(), v => Assert.True(double.IsFinite(v)));
                var q = state[^4..];
                Assert.InRange(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3], 0.999, 1.001);
                Assert.Equal(state.ToArray().Select(v => (float)v), episode.State(f).ToArray());
                // The action is what was sent; the policy's column what it asked for.
                var action = episode.Numbers(f, Columns.ActionExact);
                if (logged.SentMode == ArmCommandMode.EndEffectorDelta)
                {
                    Assert.Equal(3, episode.Integer(f, Columns.ActionMode));
                    for (var i = 0; i < 6; i++)
                        Assert.Equal(logged.Sent[i], action[i]);
                    Assert.All(action[6..^1].ToArray(), v => Assert.True(double.IsNaN(v))); // the joint-position block
                }
                else if (logged.SentMode == ArmCommandMode.JointPosition)
                {
                    Assert.Equal(1, episode.Integer(f, Columns.ActionMode));
                    for (var j = 0; j < 4; j++)
                        Assert.Equal(logged.Sent[j], action[6 + j]);
                }
                var policy = episode.Numbers(f, Columns.PolicyAction);
                if (logged.RequestedMode == ArmCommandMode.None)
                {
                    // The policy proposed nothing (on a busy machine: no frame or state young enough to act on): the run
                    // log keeps zeros, the dataset NaN ("NaN when it proposed nothing").
                    Assert.All(policy.ToArray(), v => Assert.True(double.IsNaN(v)));
                }
                else
                {
                    for (var i = 0; i < 6; i++)
                        Assert.Equal(logged.Requested[i], policy[i]);
                }
                // The images decoded (Read checks their size); the synthetic pattern is not blank once the camera
                // delivered (a cycle before its first frame, on a busy machine, keeps the blank buffer: sequence 0).
                if (episode.Integer(f, "observation.images.front.sequence") > 0)
                {
                    Assert.Contains(episode.Image(0, f), b => b != 0);
                    frontDelivered = true;
                }
                else
                {
                    Assert.False(frontDelivered, $"cycle {logged.CycleIndex} has no front frame after earlier ones had");
                    Assert.Equal(RecordedCycle.PolicyNotRun, episode.Integer(f, Columns.PolicyStatus));
                    Assert.DoesNotContain(episode.Image(0, f), b => b != 0);
                }
                Assert.True(float.IsFinite(episode.Rewards[f]) || f == episode.Length - 1 && e == dataset.Episodes.Count - 1);
            }
            Assert.True(episode.Done[^1]);
        }
        Assert.True(frontDelivered);
        Assert.Contains(log, r => r.Safety != SafetyStatus.Hold && r.SentMode == ArmCommandMode.EndEffectorDelta);
        Assert.True(File.Exists(Path.Combine(data, "meta", "rr-runs", dataset.Episodes[0].Extra["run"] + ".yaml")));

        var replay = AgentCommandTests.Rr("replay", data, "--tolerance", "1e-9", "--out", Path.Combine(_folder, "replay.csv"));
        Assert.True(replay.Exit == 0, replay.Output + replay.Error);
        Assert.Contains(" 0 over 1E-09", replay.Output);
        // Every cycle on which the loop ran the policy is compared and written; a cycle it did not run it on (on a busy
        // machine: no frame young enough yet) is not replayed either, so it has no row.
        var ran = 0;
        for (var e = 0; e < dataset.Episodes.Count; e++)
        {
            var episode = dataset.Read(e);
            for (var f = 0; f < episode.Length; f++)
                ran += episode.Integer(f, Columns.PolicyStatus) == RecordedCycle.PolicyNotRun ? 0 : 1;
        }
        Assert.InRange(ran, 1, dataset.TotalFrames);
        Assert.Contains($"rr replay: 2 episode(s), {ran} cycle(s) compared; max |Δ| 0;", replay.Output);
        Assert.Equal(ran + 1, File.ReadAllLines(Path.Combine(_folder, "replay.csv")).Length);

        // Recording the same arm, cameras and policy again adds episodes; another layout is refused, naming both.
        var again = AgentCommandTests.Rr("run", "--config", Cell(), "--duration", "1s", "--record", data);
        Assert.True(again.Exit == 0, again.Output + again.Error);
        Assert.True(EpisodeDataset.Open(data).Episodes.Count >= 4);
        var other = AgentCommandTests.Rr("run", "--config", Cell(), "--duration", "1s", "--record", data, "--set", "policy.kind=hold-still");
        Assert.Equal(2, other.Exit);
        Assert.Contains("record: ", other.Output + other.Error);
        Assert.Contains("another layout", other.Output + other.Error);
    }

    [Fact]
    public void FramesCapturedFurtherApartThanTheSkewAllowedAreNeverActedOnAndTheOperatorIsToldWhy()
    {
        // Two free-running cameras never capture at the same nanosecond: with no skew allowed no set of frames
        // is usable, so the run cannot arm and says why; at 60 fps the default (50 ms) pairs them (the test above).
        var run = AgentCommandTests.Rr("run", "--config", Cell(), "--duration", "1s", "--set", "safety.max_frame_skew=0ms");
        var text = run.Output + run.Error;
        Assert.Contains("rr: warning: safety.max_frame_skew 0 ms is shorter than the frame period of camera 'front' (16.7 ms at 60 fps)", text);
        Assert.Matches(@"rr: could not arm: .*camera frames are still older than 500 ms, missing, or captured too far apart \(safety\.max_frame_skew\)", text);
        var log = RunLog.Read(Path.Combine(Directory.GetDirectories(Path.Combine(_folder, "runs")).Single(), "run.rrlog")).Records;
        Assert.NotEmpty(log);
        Assert.All(log, r => Assert.Equal(SafetyStatus.Hold, r.Safety));
        Assert.All(log, r => Assert.Equal(ArmCommandMode.None, r.RequestedMode)); // the policy never ran
    }

    [Fact]
    public void ReplayingAnotherPolicyReportsTheCyclesWhereItDiffersAndOnlyThose()
    {
        var data = Path.Combine(_folder, "data");
        var run = AgentCommandTests.Rr("run", "--config", Cell(), "--duration", "2s", "--record", data);
        Assert.True(run.Exit == 0, run.Output + run.Error);

        var csv = Path.Combine(_folder, "nudged.csv");
        var replay = AgentCommandTests.Rr("replay", data, "--policy", "test-nudged-reach", "--tolerance", "1e-6", "--out", csv);
        Assert.True(replay.Exit == 0, replay.Output + replay.Error);
        Assert.Contains("replayed test-nudged-reach", replay.Output);

        var dataset = EpisodeDataset.Open(data);
        var compared = new List<long>();
        for (var e = 0; e < dataset.Episodes.Count; e++)
        {
            var episode = dataset.Read(e);
            for (var f = 0; f < episode.Length; f++)
            {
                if (episode.Integer(f, Columns.PolicyStatus) == (long)PolicyStatus.Ok)
                    compared.Add(episode.Integer(f, Columns.CycleIndex));
            }
        }
        var expected = compared.Where(c => c % 7 == 0).ToList();
        Assert.NotEmpty(expected);
        var lines = File.ReadAllLines(csv);
        var header = lines[0].Split(',');
        var cycleAt = Array.IndexOf(header, "cycle");
        var differenceAt = Array.IndexOf(header, "difference");
        var over = lines.Skip(1).Select(l => l.Split(',')).Where(v => double.Parse(v[differenceAt], System.Globalization.CultureInfo.InvariantCulture) > 1e-6)
            .Select(v => long.Parse(v[cycleAt], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(expected, over);
        Assert.All(lines.Skip(1).Select(l => l.Split(',')).Where(v => over.Contains(long.Parse(v[cycleAt], System.Globalization.CultureInfo.InvariantCulture))),
            v => Assert.Equal(0.001, double.Parse(v[differenceAt], System.Globalization.CultureInfo.InvariantCulture), 1e-9));
        Assert.Contains($"the first in episode ", replay.Output);
        Assert.Contains($"at cycle {expected[0]}", replay.Output);
    }

    [Fact]
    public void ReplayNamesAFolderThatIsNeitherARecordedRunNorACameraRecording()
    {
        var empty = Directory.CreateDirectory(Path.Combine(_folder, "empty")).FullName;
        var neither = AgentCommandTests.Rr("replay", empty);
        Assert.Equal(1, neither.Exit);
        Assert.Contains("is neither a recorded run", neither.Error);

        var policyOnCameras = AgentCommandTests.Rr("replay", empty, "--policy", "hold-still");
        Assert.Equal(2, policyOnCameras.Exit);
        Assert.Contains("--policy, --set, --out and --episode are for a recorded run", policyOnCameras.Error);
    }

    [Fact]
    public void TheRecordedArmSaysWhetherItHasAGripperAndOlderRecordingsHadOne()
    {
        var data = Path.Combine(_folder, "data");
        JointLimits[] joints = [new(-1, 1, 1, 10), new(-2, 2, 1, 10)];
        var gripperless = new ArmDescription(0x5E551001, 2, joints, new HashSet<ArmCommandMode> { ArmCommandMode.JointPosition }, 250, 100, 0, 0)
        {
            HasGripper = false,
        };
        RecordedRun.Write(data, "run-a", RunConfig.Parse("rate_hz: 20", "cell.yaml"), "runs/a", gripperless);
        Assert.False(RecordedRun.Read(data, "run-a").Arm.HasGripper);

        // A recording from before the arm's description carried the gripper bit has no "gripper": the runtime then took
        // every arm to have one, and a replay rebuilds the run as it was.
        var path = Path.Combine(RecordedRun.FolderOf(data), "run-a.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        Assert.True(json["arm"]!.AsObject().Remove("gripper"));
        File.WriteAllText(path, json.ToJsonString());
        Assert.True(RecordedRun.Read(data, "run-a").Arm.HasGripper);
    }

    [Fact]
    public void TheRecordKeyTakesAFolderOrASectionAndTheFlagOverridesIt()
    {
        Assert.Equal("recordings/a", RunConfig.Parse("record: recordings/a", "cell.yaml").Record!.Folder);
        var section = RunConfig.Parse("record: {folder: recordings/b, buffer_cycles: 64, task: push}", "cell.yaml").Record!;
        Assert.Equal(("recordings/b", 64, "push"), (section.Folder, section.BufferCycles, section.Task));
        Assert.Equal("c", RunConfig.Parse("", "cell.yaml").WithOverride("record.folder=c").Record!.Folder);
        var unknown = Assert.Throws<ConfigException>(() => RunConfig.Parse("record: {folder: a, buffer: 3}", "cell.yaml"));
        Assert.Contains("unknown key 'record.buffer'", unknown.Message);
        Assert.Contains("buffer_cycles", unknown.Message);
        var small = Assert.Throws<ConfigException>(() => RunConfig.Parse("record: {folder: a, buffer_cycles: 1}", "cell.yaml"));
        Assert.Contains("'record.buffer_cycles' must be a whole number 2–1000000", small.Message);
    }
}
