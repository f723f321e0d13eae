using RobotRuntime.Agents;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Planning;
using RobotRuntime.Arm;
using RobotRuntime.Cli.Composition;
using RobotRuntime.Cli.Runtime;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using RobotRuntime.Testing;

namespace RobotRuntime.Cli.Tests.Extending;

/// <summary>
/// The worked examples of docs/extending.md, built and run: a camera, an encoder and a planner, each one
/// class plus one registration, and the arm link the runtime registers the same way (the in-process
/// simulator, <c>arm.kind: sim</c>). Each is chosen by config alone and runs in the real loop.
/// </summary>
public sealed class ExtendingTests
{
    static ExtendingTests()
    {
        GradientCamera.Register();
        MeanColourEncoder.Register();
        RandomShootingPlanner.Register();
    }

    private static string TempFolder()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"rr-extending-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        return folder;
    }

    [Fact]
    public void RrRunDrivesTheInProcessSimulatorArmChosenByArmKind()
    {
        var folder = TempFolder();
        var cell = Path.Combine(folder, "cell.yaml");
        File.WriteAllText(cell, $"""
            rate_hz: 25
            runs_folder: {Path.Combine(folder, "runs")}
            arm: {"{"}kind: sim, task: reach, seed: 3{"}"}
            policy: {"{"}kind: scripted-reach, goal: [0.3, 0.05, 0.15]{"}"}
            safety: {"{"}max_deadline_misses: 25{"}"}

            """);
        var run = AgentCommandTests.Rr("run", "--config", cell, "--duration", "2s");
        Assert.True(run.Exit == 0, run.Output + run.Error);
        Assert.Contains("rr: simulator arm toy4 in this process (task reach, shift in-distribution, seed 3; no sockets)", run.Output);
        var log = RunLog.Read(Path.Combine(Directory.GetDirectories(Path.Combine(folder, "runs")).Single(), "run.rrlog"));
        var acting = log.Records.Where(r => r.Safety != SafetyStatus.Hold).ToList();
        // At least one: how many cycles of a fixed wall-clock run act depends on the machine (late ticks are
        // skipped; a frame older than max_frame_age, or a stale state, holds). What the loop decides each cycle is
        // pinned on the fake clock in Core.Tests (ControlLoopTests); here every acting cycle is checked below.
        Assert.True(acting.Count > 0, $"{acting.Count} acting cycles of {log.Records.Count}");
        Assert.All(acting, r => Assert.Equal(ArmCommandMode.EndEffectorDelta, r.SentMode));
    }

    [Fact]
    public void ACameraAndAnEncoderAddedByOneRegistrationEachRunInTheLoopFromConfigAlone()
    {
        var folder = TempFolder();
        var config = RunConfig.Parse("""
            rate_hz: 20
            arm: {kind: sim}
            cameras:
              - {name: front, backend: gradient, width: 32, height: 24, fps: 40, fps_scale: 1.5}
            encoder: {kind: mean-colour}
            policy: {kind: hold-still}
            safety: {max_deadline_misses: 25}
            """, "cell.yaml");
        Assert.Equal("1.5", config.Cameras[0].Options["fps_scale"]);
        using var composer = new LoopComposer(config, _ => { });
        composer.Preflight(camerasFromHost: false);
        var link = composer.CreateLink();
        Assert.True(link.Handshake(TimeSpan.FromSeconds(10)).Succeeded);
        Assert.True(SpinWait.SpinUntil(() => link.Health.Status == ArmLinkStatus.Up, TimeSpan.FromSeconds(10)));
        link.Request(ArmControlRequest.Enable, TimeSpan.FromSeconds(5));
        var cameras = composer.CreateCameras();
        Assert.IsType<GradientCamera>(cameras.Single());
        var build = composer.CreatePolicy();
        Assert.IsType<MeanColourEncoder>(build.Encoder);
        var safety = composer.CreateSafety();
        var logPath = Path.Combine(folder, "run.rrlog");
        using (var log = RunLogWriter.Create(logPath, new RunLogMetadata(20, "extending")))
        {
            var loop = composer.CreateLoop(build, safety, log, null);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            do
                loop.RunCycles(5);
            while (!loop.RequestReset(TimeSpan.FromSeconds(1)).Succeeded && DateTime.UtcNow < deadline);
            loop.RunCycles(20);
        }
        var records = RunLog.Read(logPath).Records;
        Assert.Contains(records, r => r.Safety != SafetyStatus.Hold);
        // The encoder ran in the loop's encode stage, on the gradient camera's frames.
        Assert.True(records.Count(r => r.EncodeNs > 0) >= 20, "cycles with an encode time");
    }

    [Fact]
    public void ACameraKeyNoBackendDeclaredIsRefusedNamingTheKeysTheBackendHas()
    {
        var error = Assert.Throws<ConfigException>(() => RunConfig.Parse("""
            cameras:
              - {name: front, backend: gradient, fps_scal: 2}
            """, "cell.yaml"));
        Assert.Contains("unknown key 'cameras[0].fps_scal'", error.Message);
        Assert.Contains("fps_scale", error.Message);
    }

    [Fact]
    public void AnEncoderKeyNoKindDeclaredIsRefusedWithItsLine()
    {
        var error = Assert.Throws<ConfigException>(() => RunConfig.Parse("encoder:\n  kind: mean-colour\n  colour: red\n", "cell.yaml"));
        Assert.StartsWith("cell.yaml:3: unknown key 'encoder.colour'", error.Message);
    }

    [Fact]
    public void APlannerAddedByOneRegistrationIsChosenByName()
    {
        var config = RunConfig.Parse("policy: {kind: agent, package: pkg, planner: random-shooting}", "cell.yaml");
        Assert.Equal("random-shooting", config.AgentPlanner);
        Assert.Contains("random-shooting", Planners.Names);

        var agent = new AgentConfig { Size = "rt-tiny", LatentDim = 16, MlpDim = 32, EncoderDim = 32, NumQ = 2, Samples = 64, Elites = 8, PolicyTrajectories = 4 }.Validate();
        var model = new WorldModel(agent, new ObservationLayout(FeatureKind.Floats, 8, 1, 0, 1, 0, 4), 1);
        var planner = Planners.Create(model, PlannerOptions.FromConfig(agent, 0.95f) with { Kind = "random-shooting" }, new AgentRandom(2));
        Assert.IsType<RandomShootingPlanner>(planner);
        var latent = new float[16];
        var action = new float[4];
        planner.Plan(latent, action);
        var statuses = new PlanStatus[10];
        Assert.Equal(0, ThreadAllocations.During(() => // from an empty allocation buffer: see ThreadAllocations.During
        {
            for (var i = 0; i < 10; i++)
            {
                latent[i] = 0.1f * i;
                statuses[i] = planner.Plan(latent, action);
            }
        }));
        Assert.All(statuses, s => Assert.Equal(PlanStatus.Complete, s));
        Assert.All(action, a => Assert.InRange(a, -1f, 1f));
        var unknown = Assert.Throws<ConfigException>(() => RunConfig.Parse("policy: {planner: shooting}", "cell.yaml"));
        Assert.Contains("random-shooting", unknown.Message);
    }
}
