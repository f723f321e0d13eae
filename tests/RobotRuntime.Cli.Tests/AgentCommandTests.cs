using System.CommandLine;
using RobotRuntime.Arm;
using RobotRuntime.Cli;
using RobotRuntime.Safety;
using RobotRuntime.SimServer;
using RobotRuntime.Telemetry;

namespace RobotRuntime.Cli.Tests;

public class AgentCommandTests
{
    /// <summary>The in-process simulator's secret in a key file (mode 600), for rr run's arm.key.</summary>
    internal static string KeyFileFor(RobotRuntime.Transport.Firmware.ZmqArmLinkSettings link)
    {
        var path = Path.Combine(Path.GetTempPath(), "rr-cli-key-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, Convert.ToHexStringLower(link.Secret!));
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    /// <summary>Runs <c>rr</c> in this process with its output captured.</summary>
    internal static (int Exit, string Output, string Error) Rr(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = RrCommand.Create().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void EvalTakesTheShippedAgentPackageAndChecksItsWeightsFirst()
    {
        string shipped = Path.Combine(RobotRuntime.Native.NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)!, "models", "agents", "reach-scratch");
        string plot = Path.Combine(Path.GetTempPath(), "rr-cli-eval-bars-" + Guid.NewGuid().ToString("N"));
        var eval = Rr("eval", shipped, "--episodes", "2", "--planner", "prior", "--plot", plot);
        Assert.True(eval.Exit == 0, eval.Error);
        Assert.Contains("weights checked against the manifest's sha256", eval.Output);
        Assert.Matches(@"in-distribution,2,[01]\.[0-9]{3},", eval.Output);
        Assert.Contains($"rr eval: wrote {plot}.png and {plot}.svg", eval.Output);
        Assert.Contains("in-distribution", File.ReadAllText(plot + ".svg"));
        File.Delete(plot + ".png");
        File.Delete(plot + ".svg");

        // A copy whose weights were changed is refused before anything runs.
        string copy = Path.Combine(Path.GetTempPath(), "rr-cli-tampered-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(shipped))
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        var weights = File.ReadAllBytes(Path.Combine(copy, "weights.safetensors"));
        weights[^5] ^= 1;
        File.WriteAllBytes(Path.Combine(copy, "weights.safetensors"), weights);
        var tampered = Rr("eval", copy, "--episodes", "1");
        Assert.Equal(1, tampered.Exit);
        Assert.Contains("weights.safetensors has sha256", tampered.Error);
        Directory.Delete(copy, recursive: true);
    }

    [Fact]
    public void EvalOnAGpuThatIsNotHereSaysWhatIsMissingInsteadOfRunningOnTheCpu()
    {
        // The shipped frozen-PVR agent on --device cuda: this machine has the CPU build and no CUDA.
        string shipped = Path.Combine(RobotRuntime.Native.NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)!, "models", "agents", "reach-frozen-pvr");
        var zoo = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(shipped))!, "pretrained", "zoo.json");
        var cuda = Rr("eval", shipped, "--zoo", zoo, "--episodes", "1", "--device", "cuda");
        Assert.Equal(1, cuda.Exit);
        Assert.Contains("Device 'cuda' needs ONNX Runtime's CUDAExecutionProvider", cuda.Error);
        Assert.Contains("-p:RrOnnxRuntimeGpu=true", cuda.Error);
        Assert.Contains("libcudnn.so.9", cuda.Error);
        Assert.DoesNotContain("in-distribution,", cuda.Output);

        var unknown = Rr("eval", shipped, "--zoo", zoo, "--episodes", "1", "--device", "npu");
        Assert.Equal(2, unknown.Exit);
        Assert.Contains("--device: 'npu' is not a device; expected cpu, cuda or tensorrt.", unknown.Error);
    }

    [Theory]
    [InlineData("--steps", "-5", "--steps (Steps): expected at least 1 environment step, got -5")]
    [InlineData("--eval-every", "0", "--eval-every (EvalEvery): expected at least 1 step between evaluations, got 0")]
    [InlineData("--checkpoint-every", "0", "--checkpoint-every (CheckpointEvery): expected at least 1 step between checkpoints, got 0")]
    [InlineData("--eval-episodes", "-1", "--eval-episodes (EvalEpisodes): expected at least 1 episode per evaluation, got -1")]
    [InlineData("--batch-size", "-3", "--batch-size: expected 0 (the config's) or a positive batch size, got -3")]
    [InlineData("--updates-per-step", "-0.5", "--updates-per-step (UpdatesPerStep): expected a finite number ≥ 0, got -0.5")]
    [InlineData("--threads", "0", "--threads: expected at least 1 engine thread, got 0")]
    [InlineData("--latency", "60ms", "--latency: '60ms': camera latency of 30 physics steps is longer than one control period")]
    public void TrainRefusesAnOptionOutOfRangeBeforeMakingARun(string option, string value, string message)
    {
        string run = Path.Combine(Path.GetTempPath(), "rr-cli-bad-option-" + Guid.NewGuid().ToString("N"));
        var train = Rr("train", "--task", "reach", "--mode", "scratch", "--run", run, "--no-progress", option, value);
        Assert.Equal(2, train.Exit);
        Assert.Contains(message, train.Error);
        Assert.DoesNotContain("   at ", train.Error); // a message, not a stack trace
        Assert.False(Directory.Exists(run), "a run folder was made for a refused run");
    }

    [Fact]
    public void TrainThenEvalWritesARunFolderATableAndAPackage()
    {
        string folder = Path.Combine(Path.GetTempPath(), "rr-cli-agent-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        string config = Path.Combine(folder, "agent.json");
        File.WriteAllText(config, "{ \"size\": \"rt-tiny\", \"latentDim\": 32, \"mlpDim\": 64, \"encoderDim\": 64, \"cnnChannels\": 8, \"batchSize\": 4, \"frameStack\": 1 }");
        string run = Path.Combine(folder, "run");
        var train = Rr("train", "--task", "reach", "--mode", "scratch", "--config", config, "--seed", "2", "--steps", "110",
            "--seed-steps", "105", "--pretrain-updates", "2", "--eval-every", "1000000", "--act", "prior", "--run", run, "--no-progress");
        Assert.True(train.Exit == 0, train.Error);
        Assert.Contains("new run", train.Output);
        foreach (var file in new[] { "run.json", "metrics.csv", "metrics.jsonl", "checkpoint.safetensors", "replay.bin" })
        {
            Assert.True(File.Exists(Path.Combine(run, file)), file);
        }
        var eval = Rr("eval", run, "--shifts", "table-hard", "--episodes", "1", "--planner", "prior", "--package", Path.Combine(folder, "package"));
        Assert.True(eval.Exit == 0, eval.Error);
        Assert.Contains("in-distribution,1,", eval.Output);
        Assert.Contains("table-hard,1,", eval.Output);
        Assert.Contains("dormant ratio", eval.Output);
        Assert.True(File.Exists(Path.Combine(folder, "package", "manifest.json")));
        Assert.Contains("controlRateHz", File.ReadAllText(Path.Combine(folder, "package", "manifest.json")));

        // The package drives the arm through `rr run` against the simulator over ZeroMQ (the runtime's
        // HIL path): its own camera stream at the package's image size, no PVR, the policy prior.
        using var host = SimServerHost.Start(new SimServerOptions
        {
            Task = "reach", StateEndpoint = "tcp://127.0.0.1:*", CommandEndpoint = "tcp://127.0.0.1:*", ControlEndpoint = "tcp://127.0.0.1:*",
            FrontCameraEndpoint = "tcp://127.0.0.1:*", WristCameraEndpoint = "tcp://127.0.0.1:*",
            CameraRateHz = 30, CameraWidth = 64, CameraHeight = 64, WatchdogMilliseconds = 500, Quiet = true,
        });
        var ends = host.Endpoints;
        string cell = Path.Combine(folder, "cell.yaml");
        string package = Path.Combine(folder, "package");
        string runs = Path.Combine(folder, "runs");
        var link = ends.LinkSettings;
        string front = ends.Cameras["front"];
        File.WriteAllText(cell, $$"""
            rate_hz: 25
            runs_folder: {{runs}}
            arm: {state: "{{link.StateAddress}}", command: "{{link.CommandAddress}}", control: "{{link.ControlAddress}}", key: "{{KeyFileFor(link)}}"}
            cameras:
              - {name: front, backend: stream, endpoint: "{{front}}", width: 64, height: 64}
            policy: {kind: agent, package: "{{package}}", planner: prior}
            safety: {max_frame_age: 500ms, max_state_age: 400ms, max_deadline_misses: 25}

            """);
        var drive = Rr("run", "--config", cell, "--duration", "3s");
        Assert.True(drive.Exit == 0, drive.Output + drive.Error);
        Assert.Contains("rr: agent agent:scratch:scratch:prior", drive.Output);
        Assert.Contains("rr: encoder agent-cnn:scratch (scratch; ", drive.Output);
        Assert.Contains("rr: armed", drive.Output);
        var log = RunLog.Read(Path.Combine(Directory.GetDirectories(Path.Combine(folder, "runs")).Single(), "run.rrlog"));
        var acting = log.Records.Where(r => r.Safety != SafetyStatus.Hold).ToList();
        // At least one: how many cycles of a fixed wall-clock run act depends on the machine (late ticks are
        // skipped; a frame older than max_frame_age, or a stale state, holds). What the loop decides each cycle is
        // pinned on the fake clock in Core.Tests (ControlLoopTests); here every acting cycle is checked below.
        Assert.True(acting.Count > 0, $"{acting.Count} acting cycles of {log.Records.Count}");
        // The agent's CNN is the loop's encoder: its time is logged as encode, not as plan.
        Assert.All(acting, r => Assert.True(r.EncodeNs > 0, $"cycle {r.CycleIndex}: no encode time"));
        Assert.All(acting, r => Assert.Equal(ArmCommandMode.EndEffectorDelta, r.SentMode));
        Assert.DoesNotContain(log.Records, r => r.HoldReason == HoldReason.PolicyFailed);
        Assert.True(host.Server.Statistics.CommandsApplied > 0, "the simulated arm applied none of the run's commands");

        // The same package with a PVR encoder configured is refused, naming why.
        string zoo = Path.Combine(Native.NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)!, "models", "test", "test-zoo.json");
        File.AppendAllText(cell, $"encoder: {{zoo: \"{zoo}\", id: test-conv}}\n");
        var refused = Rr("run", "--config", cell, "--duration", "1s");
        Assert.Equal(2, refused.Exit);
        Assert.Contains("learned its own encoder from camera images (scratch)", refused.Output + refused.Error);
    }

    [Theory]
    [InlineData("partial", "rr: encoder tiny-resnet-trunk+agent-tail (partial; ")]
    [InlineData("full", "rr: encoder agent-pvr:tiny-resnet (full; ")]
    public void AFineTunedPvrAgentTrainsPackagesAndDrivesTheArm(string mode, string encoderLine)
    {
        // tiny-resnet (models/test, a PyTorch-exported ResNet in miniature): partial mode trains layer2 in the
        // engine on ONNX Runtime's trunk, full mode the whole network; rr run then loads the package with the
        // PVR's zoo entry and drives the simulated arm.
        string repository = Native.NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)!;
        string zoo = Path.Combine(repository, "models", "test", "agent-zoo.json");
        string folder = Path.Combine(Path.GetTempPath(), "rr-cli-pvr-agent-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        string config = Path.Combine(folder, "agent.json");
        File.WriteAllText(config, "{ \"size\": \"rt-tiny\", \"latentDim\": 32, \"mlpDim\": 64, \"encoderDim\": 64, \"batchSize\": 4, \"frameStack\": 1, \"imageSize\": 64 }");
        string run = Path.Combine(folder, "run");
        var train = Rr("train", "--task", "reach", "--mode", mode, "--encoder", "tiny-resnet", "--zoo", zoo, "--config", config, "--seed", "2",
            "--steps", "110", "--seed-steps", "105", "--pretrain-updates", "2", "--eval-every", "1000000", "--act", "prior", "--run", run, "--no-progress");
        Assert.True(train.Exit == 0, train.Error);
        Assert.Contains($"{mode} tiny-resnet", train.Output);
        string package = Path.Combine(folder, "package");
        var eval = Rr("eval", run, "--zoo", zoo, "--shifts", "in-distribution", "--episodes", "1", "--planner", "prior", "--package", package);
        Assert.True(eval.Exit == 0, eval.Error);
        if (mode == "partial")
        {
            Assert.Contains("\"trainableFrom\": \"/layer2/\"", File.ReadAllText(Path.Combine(package, "manifest.json")));
        }

        using var host = SimServerHost.Start(new SimServerOptions
        {
            Task = "reach", StateEndpoint = "tcp://127.0.0.1:*", CommandEndpoint = "tcp://127.0.0.1:*", ControlEndpoint = "tcp://127.0.0.1:*",
            FrontCameraEndpoint = "tcp://127.0.0.1:*", WristCameraEndpoint = "tcp://127.0.0.1:*",
            CameraRateHz = 30, CameraWidth = 64, CameraHeight = 64, WatchdogMilliseconds = 500, Quiet = true,
        });
        var ends = host.Endpoints;
        var link = ends.LinkSettings;
        string cell = Path.Combine(folder, "cell.yaml");
        File.WriteAllText(cell, $$"""
            rate_hz: 10
            runs_folder: {{Path.Combine(folder, "runs")}}
            arm: {state: "{{link.StateAddress}}", command: "{{link.CommandAddress}}", control: "{{link.ControlAddress}}", key: "{{KeyFileFor(link)}}"}
            cameras:
              - {name: front, backend: stream, endpoint: "{{ends.Cameras["front"]}}", width: 64, height: 64}
            encoder: {zoo: "{{zoo}}", id: tiny-resnet}
            policy: {kind: agent, package: "{{package}}", planner: prior}
            safety: {max_frame_age: 500ms, max_state_age: 400ms, max_deadline_misses: 25}

            """);
        var drive = Rr("run", "--config", cell, "--duration", "3s");
        Assert.True(drive.Exit == 0, drive.Output + drive.Error);
        Assert.Contains(encoderLine, drive.Output);
        Assert.Contains($"rr: agent agent:{mode}:tiny-resnet:prior", drive.Output);
        var log = RunLog.Read(Path.Combine(Directory.GetDirectories(Path.Combine(folder, "runs")).Single(), "run.rrlog"));
        var acting = log.Records.Where(r => r.Safety != SafetyStatus.Hold).ToList();
        // At least one: how many cycles of a fixed wall-clock run act depends on the machine (late ticks are
        // skipped; a frame older than max_frame_age, or a stale state, holds). What the loop decides each cycle is
        // pinned on the fake clock in Core.Tests (ControlLoopTests); here every acting cycle is checked below.
        Assert.True(acting.Count > 0, $"{acting.Count} acting cycles of {log.Records.Count}");
        Assert.DoesNotContain(log.Records, r => r.HoldReason == HoldReason.PolicyFailed);
        Assert.All(acting, r => Assert.True(r.EncodeNs > 0, $"cycle {r.CycleIndex}: no encode time"));
    }

    [Fact]
    public void ARunTrainedUnderLoopDelaysRecordsThemRefusesOthersOnResumeAndEvalSaysSo()
    {
        string folder = Directory.CreateTempSubdirectory("rr-cli-latency-").FullName;
        try
        {
            string config = Path.Combine(folder, "agent.json");
            File.WriteAllText(config, "{ \"size\": \"rt-tiny\", \"latentDim\": 32, \"mlpDim\": 64, \"encoderDim\": 64, \"cnnChannels\": 8, \"batchSize\": 4, \"frameStack\": 1 }");
            string run = Path.Combine(folder, "run");
            string[] common = ["train", "--task", "reach", "--mode", "scratch", "--config", config, "--seed", "2", "--seed-steps", "105",
                "--pretrain-updates", "2", "--eval-every", "1000000", "--act", "prior", "--run", run, "--no-progress"];
            var train = Rr([.. common, "--steps", "110", "--latency", "0..40ms,4ms"]);
            Assert.True(train.Exit == 0, train.Error);
            Assert.Contains("loop delays 0..40ms,4ms", train.Output);
            using (var record = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "run.json"))))
                Assert.Equal("0..40ms,4ms", record.RootElement.GetProperty("trainer").GetProperty("Latency").GetString());

            var resumed = Rr([.. common, "--steps", "120", "--latency", "20ms"]);
            Assert.Equal(1, resumed.Exit);
            Assert.Contains("trained with loop delays '0..40ms,4ms'; this one asks for '20ms,0ms'", resumed.Error);

            var eval = Rr("eval", run, "--episodes", "1", "--planner", "prior");
            Assert.True(eval.Exit == 0, eval.Error);
            Assert.Contains("this run trained under loop delays 0..40ms,4ms; evaluating without them", eval.Output);
            var under = Rr("eval", run, "--episodes", "1", "--planner", "prior", "--latency", "0..40ms,4ms");
            Assert.True(under.Exit == 0, under.Error);
            Assert.Contains("rr eval: under loop delays (camera,command) 0..40ms,4ms", under.Output);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void BadAgentOptionsAreNamedWithWhatIsValid()
    {
        var mode = Rr("train", "--mode", "half", "--run", Path.GetTempPath());
        Assert.Equal(2, mode.Exit);
        Assert.Contains("--mode 'half'", mode.Error);
        var size = Rr("train", "--size", "10m", "--run", Path.GetTempPath());
        Assert.Equal(2, size.Exit);
        Assert.Contains("rt-small", size.Error);
        var missing = Rr("eval", Path.Combine(Path.GetTempPath(), "no-such-run-" + Guid.NewGuid().ToString("N")));
        Assert.Equal(1, missing.Exit);
        Assert.Contains("run.json", missing.Error);
    }
}

public class AgentProprioceptionTests
{
    [Fact]
    public void TheFirmwaresGripperPositionBecomesTheSimulatorsFingerOpeningTheAgentLearnedOn()
    {
        // The agent learned on TabletopEnvironment's observation: both fingers' opening in metres
        // (0 closed … 2 × FingerTravel open); the firmware reports 0 open … 1 closed.
        Assert.Equal(RobotRuntime.Sim.Tabletop.TabletopEnvironment.FingerTravel, RobotRuntime.Agents.Packaging.AgentPolicy.SimFingerTravelMetres);
        var state = new ArmState { JointCount = 4, EndEffectorX = 0.3, EndEffectorY = -0.1, EndEffectorZ = 0.2 };
        var proprio = new float[12];
        foreach (var (gripper, opening) in new[] { (1.0, 0.0), (0.0, 0.07), (0.5, 0.035) })
        {
            state.GripperPosition = gripper;
            RobotRuntime.Arm.ArmLayout.Toy4.FillProprioception(in state, proprio);
            Assert.Equal(opening, proprio[8], 1e-6); // float rounding only
            Assert.Equal([0.3f, -0.1f, 0.2f], proprio[9..12]);
        }
    }
}
