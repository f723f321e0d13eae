using RobotRuntime.Arm;
using RobotRuntime.Safety;
using RobotRuntime.SimServer;
using RobotRuntime.Telemetry;
using static RobotRuntime.Cli.Tests.AgentCommandTests;

namespace RobotRuntime.Cli.Tests;

/// <summary>
/// An agent trained on the simulator's UR5e-class arm drives that arm through rr sim-server, whose
/// firmware takes joint positions only: the runtime solves inverse kinematics from arm.kinematics.
/// Packages that do not fit the arm are refused before anything moves.
/// </summary>
public sealed class Ur5eDeploymentTests
{
    [Fact]
    public void AUr5eAgentDrivesTheJointOnlyArmThroughTheRuntimesInverseKinematicsAndMismatchesAreRefused()
    {
        string repository = Native.NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)!;
        string folder = Path.Combine(Path.GetTempPath(), "rr-cli-ur5e-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        string config = Path.Combine(folder, "agent.json");
        File.WriteAllText(config, "{ \"size\": \"rt-tiny\", \"latentDim\": 32, \"mlpDim\": 64, \"encoderDim\": 64, \"cnnChannels\": 8, \"batchSize\": 4, \"frameStack\": 1 }");
        string run = Path.Combine(folder, "run");
        var train = Rr("train", "--arm", "ur5e", "--task", "reach", "--mode", "scratch", "--config", config, "--seed", "2", "--steps", "110",
            "--seed-steps", "105", "--pretrain-updates", "2", "--eval-every", "1000000", "--act", "prior", "--run", run, "--no-progress");
        Assert.True(train.Exit == 0, train.Error);
        Assert.Contains("reach on ur5e", train.Output);
        // The run remembers its arm: resuming it on another is refused.
        var other = Rr("train", "--arm", "toy4", "--task", "reach", "--mode", "scratch", "--config", config, "--seed", "2", "--steps", "120",
            "--run", run, "--no-progress");
        Assert.NotEqual(0, other.Exit);
        Assert.Contains("holds a run on the 'ur5e' arm", other.Error);

        string package = Path.Combine(folder, "package");
        var eval = Rr("eval", run, "--episodes", "1", "--planner", "prior", "--package", package);
        Assert.True(eval.Exit == 0, eval.Error);
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(package, "manifest.json")))!;
        Assert.Equal("ur5e", manifest["arm"]!["name"]!.GetValue<string>());
        Assert.Equal(6, manifest["arm"]!["layout"]!["joints"]!.GetValue<int>());
        Assert.True(manifest["arm"]!["layout"]!["endEffectorOrientation"]!.GetValue<bool>());

        using var host = SimServerHost.Start(new SimServerOptions
        {
            Arm = "ur5e", Task = "reach", StateEndpoint = "tcp://127.0.0.1:*", CommandEndpoint = "tcp://127.0.0.1:*", ControlEndpoint = "tcp://127.0.0.1:*",
            FrontCameraEndpoint = "tcp://127.0.0.1:*", WristCameraEndpoint = "tcp://127.0.0.1:*",
            CameraRateHz = 30, CameraWidth = 64, CameraHeight = 64, WatchdogMilliseconds = 500, Quiet = true,
        });
        var ends = host.Endpoints;
        var link = ends.LinkSettings;
        string key = KeyFileFor(link);
        string Cell(string packageFolder, string kinematics) => $$"""
            rate_hz: 25
            runs_folder: {{Path.Combine(folder, "runs")}}
            arm: {state: "{{link.StateAddress}}", command: "{{link.CommandAddress}}", control: "{{link.ControlAddress}}", key: "{{key}}"{{kinematics}}}
            cameras:
              - {name: front, backend: stream, endpoint: "{{ends.Cameras["front"]}}", width: 64, height: 64}
            policy: {kind: agent, package: "{{packageFolder}}", planner: prior}
            safety: {max_frame_age: 500ms, max_state_age: 400ms, max_deadline_misses: 25}

            """;
        string cell = Path.Combine(folder, "cell.yaml");

        // Without the arm's kinematic model the runtime cannot turn end-effector actions into joint commands: refused.
        File.WriteAllText(cell, Cell(package, ""));
        var refused = Rr("run", "--config", cell, "--duration", "1s");
        Assert.True(refused.Exit == 2, refused.Output + refused.Error);
        Assert.Contains("6 joints, modes JointPosition, gripper, watchdog", refused.Output);
        Assert.Contains("takes only joint commands; give the arm's kinematic model (arm.kinematics)", refused.Output + refused.Error);

        // A package trained on the 4-joint arm: refused, naming both arms.
        File.WriteAllText(cell, Cell(Path.Combine(repository, "models", "agents", "reach-scratch"), ", kinematics: ur5e"));
        var wrongArm = Rr("run", "--config", cell, "--duration", "1s");
        Assert.True(wrongArm.Exit == 2, wrongArm.Output + wrongArm.Error);
        Assert.Contains("was trained on the 'toy4' arm", wrongArm.Output + wrongArm.Error);
        Assert.Contains("trained on an arm with 4 joints; this arm has 6", wrongArm.Output + wrongArm.Error);

        // A model that is not this arm's (the UR5e's DH table with a tool 15 cm longer): refused before anything moves.
        var wrongTool = Path.Combine(folder, "long-tool.json");
        var ur5e = RobotRuntime.Kinematics.ArmKinematicsLibrary.Get("ur5e");
        File.WriteAllText(wrongTool, new RobotRuntime.Kinematics.KinematicChain("ur5e-long-tool", ur5e.BaseFrame, ur5e.Joints,
            RobotRuntime.Kinematics.Pose.Multiply(ur5e.Tool, RobotRuntime.Kinematics.Pose.FromXyzRpy(0, 0, 0.15, 0, 0, 0))).ToJson());
        File.WriteAllText(cell, Cell(package, $", kinematics: \"{wrongTool}\""));
        var wrongModel = Rr("run", "--config", cell, "--duration", "1s");
        Assert.True(wrongModel.Exit == 2, wrongModel.Output + wrongModel.Error);
        Assert.Contains("arm.kinematics: the model 'ur5e-long-tool' puts the end effector 150", wrongModel.Output + wrongModel.Error);

        // With arm.kinematics the agent drives the arm: every command the arm applied is a joint-position command.
        File.WriteAllText(cell, Cell(package, ", kinematics: ur5e"));
        var applied = host.Server.Statistics.CommandsApplied;
        var drive = Rr("run", "--config", cell, "--duration", "3s");
        Assert.True(drive.Exit == 0, drive.Output + drive.Error);
        Assert.Contains("rr: the agent's actions: end-effector deltas through the runtime's inverse kinematics (ur5e) into joint positions", drive.Output);
        Assert.Contains("(task reach on ur5e,", drive.Output);
        Assert.Contains("rr: arm.kinematics 'ur5e' agrees with the arm's reported end-effector pose (0 mm and 0 rad apart)", drive.Output);
        var log = RunLog.Read(Path.Combine(Directory.GetDirectories(Path.Combine(folder, "runs")).Single(d => File.Exists(Path.Combine(d, "run.rrlog")) && RunLog.Read(Path.Combine(d, "run.rrlog")).Records.Count > 10), "run.rrlog"));
        var acting = log.Records.Where(r => r.Safety != SafetyStatus.Hold).ToList();
        // At least one: how many cycles of a fixed wall-clock run act depends on the machine (late ticks are
        // skipped; a frame older than max_frame_age, or a stale state, holds). What the loop decides each cycle is
        // pinned on the fake clock in Core.Tests (ControlLoopTests); here every acting cycle is checked below.
        Assert.True(acting.Count > 0, $"{acting.Count} acting cycles of {log.Records.Count}");
        Assert.All(acting, r => Assert.Equal(ArmCommandMode.JointPosition, r.SentMode));
        Assert.DoesNotContain(log.Records, r => r.HoldReason == HoldReason.PolicyFailed);
        Assert.True(host.Server.Statistics.CommandsApplied - applied > 0, "the simulated UR5e applied none of the run's joint commands");
        // None refused as malformed, unauthorised or unsafe. A command can expire on the way when the machine
        // starves the loop or the simulator for about its lifetime (~100 ms): the arm refusing it is the
        // protocol working, so expired ones are not counted (seen once on a loaded 2-core machine).
        var statistics = host.Server.Statistics;
        Assert.Equal(0, statistics.CommandsRejected - statistics.CommandsExpired);
    }
}
