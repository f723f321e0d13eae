using RobotRuntime.Cli.Runtime;

namespace RobotRuntime.Cli.Tests;

/// <summary>rr run's YAML configuration: what a file sets, and the errors for what it must not.</summary>
public class RunConfigTests
{
    private const string Full = """
        rate_hz: 50
        duration: 30s
        runs_folder: /tmp/rr-runs
        stop_file: /tmp/rr-stop
        arm:
          state: tcp://10.0.0.2:5601
          command: tcp://10.0.0.2:5602
          control: tcp://10.0.0.2:5603
        cameras:
          - name: front
            backend: stream
            endpoint: tcp://10.0.0.2:5610
            width: 112
            height: 112
          - name: wrist
            backend: device
            device: 2
        encoder:
          zoo: models/pvr-zoo.json
          id: resnet18-pieg
          threads: 2
          pipeline: true
        policy:
          kind: scripted-reach
          goal: [0.3, -0.1, 0.12]
        safety:
          max_frame_age: 80ms
          max_state_age: 50ms
          max_deadline_misses: 5
          joint_margin: 0.05
          workspace: [-0.5, -0.5, 0.0, 0.5, 0.5, 0.6]
        realtime:
          fifo_priority: 80
          cpus: [1]
        """;

    private static RunConfig TwoCameras(string fps1, string fps2, string safety = "") => RunConfig.Parse($$"""
        rate_hz: 20
        arm: {kind: sim}
        cameras:
          - {name: front, backend: synthetic, {{fps1}}}
          - {name: wrist, backend: synthetic, {{fps2}}}
        policy: {kind: hold-still}
        {{safety}}
        """, "cell.yaml");

    [Theory]
    // Without the key: 50 ms, or 1.5 periods of the slowest camera with an fps when longer (15 fps: 100 ms;
    // 30 fps: 50 ms either way; no fps: the source's own rate is unknown, 50 ms).
    [InlineData("fps: 15", "fps: 30", "", 100, false)]
    [InlineData("fps: 30", "fps: 60", "", 50, false)]
    [InlineData("width: 32", "width: 32", "", 50, false)]
    // Set: as set; below one period of the slowest camera it is kept but warned about.
    [InlineData("fps: 15", "fps: 30", "safety: {max_frame_skew: 80ms}", 80, false)]
    [InlineData("fps: 15", "fps: 30", "safety: {max_frame_skew: 20ms}", 20, true)]
    [InlineData("fps: 30", "fps: 60", "safety: {max_frame_skew: 0ms}", 0, true)]
    public void TheFrameSkewIsTheOneSetOrWorkedOutFromTheCamerasRates(string fps1, string fps2, string safety, double expectedMs, bool warned)
    {
        var config = TwoCameras(fps1, fps2, safety);
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), config.FrameSkewLimit);
        var warning = config.FrameSkewWarning();
        Assert.Equal(warned, warning is not null);
        if (warning is not null)
        {
            Assert.StartsWith($"rr: warning: safety.max_frame_skew {expectedMs:0} ms is shorter than the frame period of camera 'front'", warning);
            Assert.Contains("StaleCameraFrame", warning);
            Assert.EndsWith($"without the key these cameras get {(fps1 == "fps: 15" ? 100 : 50)} ms", warning);
        }
    }

    [Fact]
    public void EveryKeyOfAFullFileLandsInItsSetting()
    {
        var c = RunConfig.Parse(Full, "cell.yaml");
        Assert.Equal(50, c.RateHz);
        Assert.Equal(TimeSpan.FromSeconds(30), c.Duration);
        Assert.Equal("/tmp/rr-runs", c.RunsFolder);
        Assert.Equal("/tmp/rr-stop", c.StopFile);
        Assert.Equal(("tcp://10.0.0.2:5601", "tcp://10.0.0.2:5602", "tcp://10.0.0.2:5603"), (c.ArmState, c.ArmCommand, c.ArmControl));
        Assert.Equal(2, c.Cameras.Count);
        Assert.Equal(("front", "stream", "tcp://10.0.0.2:5610", (string?)null, 112, 112, 0.0), (c.Cameras[0].Name, c.Cameras[0].Backend, c.Cameras[0].Endpoint, c.Cameras[0].Path, c.Cameras[0].Width, c.Cameras[0].Height, c.Cameras[0].Fps));
        Assert.Empty(c.Cameras[0].Options);
        Assert.Equal(("wrist", "device", 2, 64), (c.Cameras[1].Name, c.Cameras[1].Backend, c.Cameras[1].Device, c.Cameras[1].Width));
        Assert.Equal(("models/pvr-zoo.json", "resnet18-pieg", 2, true), (c.EncoderZoo, c.EncoderId, c.EncoderThreads, c.PipelineEncoding));
        Assert.Equal("scripted-reach", c.Policy);
        Assert.Equal((0.3, -0.1, 0.12), c.Goal);
        Assert.Equal(TimeSpan.FromMilliseconds(80), c.MaxFrameAge);
        Assert.Equal(TimeSpan.FromMilliseconds(50), c.MaxArmStateAge);
        Assert.Equal(5, c.MaxDeadlineMisses);
        Assert.Equal(0.05, c.JointMargin);
        Assert.Equal([-0.5, -0.5, 0.0, 0.5, 0.5, 0.6], c.Workspace!);
        Assert.Equal(80, c.FifoPriority);
        Assert.Equal([1], c.Cpus!);
    }

    [Fact]
    public void OverridesChangeOneSettingAndKeepTheRest()
    {
        var c = RunConfig.Parse(Full, "cell.yaml").WithOverride("rate_hz=100").WithOverride("policy.goal=[0.1, 0.2, 0.3]").WithOverride("safety.max_frame_age=120ms");
        Assert.Equal(100, c.RateHz);
        Assert.Equal((0.1, 0.2, 0.3), c.Goal);
        Assert.Equal(TimeSpan.FromMilliseconds(120), c.MaxFrameAge);
        Assert.Equal("resnet18-pieg", c.EncoderId);
        Assert.False(RunConfig.Parse(Full, "cell.yaml").WithOverride("encoder.pipeline=false").PipelineEncoding);
    }

    [Fact]
    public void TheAgentsSearchCanBeSizedForTheRunsBudget()
    {
        var c = RunConfig.Parse("policy:\n  kind: agent\n  package: models/agent\n  samples: 128\n  iterations: 3\n", "cell.yaml");
        Assert.Equal((128, 3), (c.AgentPlanSamples, c.AgentPlanIterations));
        Assert.Equal((0, 0), (RunConfig.Parse(Full, "cell.yaml").AgentPlanSamples, RunConfig.Parse(Full, "cell.yaml").AgentPlanIterations));
        Assert.Equal(64, RunConfig.Parse(Full, "cell.yaml").WithOverride("policy.samples=64").AgentPlanSamples);
    }

    [Theory]
    [InlineData("rate_hz: 30\nratehz: 50\n", "cell.yaml:2: unknown key 'ratehz'; top-level keys are: rate_hz, duration")]
    [InlineData("arm:\n  stat: tcp://x:1\n", "cell.yaml:2: unknown key 'arm.stat'; keys under 'arm' are: state, command, control")]
    [InlineData("cameras:\n  - name: front\n    backend: stream\n    fsp: 30\n", "cell.yaml:4: unknown key 'cameras[0].fsp'; keys of a camera are: name, backend")]
    [InlineData("rate_hz: fast\n", "cell.yaml:1: 'rate_hz' must be a number, got 'fast'")]
    [InlineData("rate_hz: 500\n", "'rate_hz' must be 10–100, got 500")]
    [InlineData("policy:\n  goal: [0.1, 0.2]\n", "'policy.goal' must be a list of 3 numbers")]
    [InlineData("policy:\n  kind: mppi\n", "'policy.kind' must be one of agent, hold-still, scripted-reach")]
    [InlineData("safety:\n  max_frame_age: soon\n", "safety.max_frame_age: 'soon' is not a duration")]
    [InlineData("safety:\n  max_frame_skew: -5ms\n", "safety.max_frame_skew")]
    [InlineData("encoder:\n  threads: 0\n", "'encoder.threads' must be a whole number 1–64, got '0'")]
    [InlineData("encoder:\n  pipeline: yes please\n", "'encoder.pipeline' must be true or false, got 'yes please'")]
    [InlineData("safety:\n  estop_gpio: {chip: 0}\n", "'safety.estop_gpio' needs 'chip' (N of /dev/gpiochipN) and 'line' (the offset on it)")]
    [InlineData("safety:\n  estop_gpio: {chip: 0, line: 4, active: sideways}\n", "'safety.estop_gpio.active' must be low or high (the level at which the line is active), got 'sideways'")]
    [InlineData("safety:\n  enable_gpio: {chip: 0, line: 4, debounce: 5ms}\n", "unknown key 'safety.enable_gpio.debounce'; allowed: chip, line, active")]
    [InlineData("arm:\n  curve_public_key: abc\n", "cell.yaml:2: 'arm.curve_public_key': expected a CURVE key, 40 characters of Z85")]
    [InlineData("metrics:\n  host: example.org\n", "'metrics.host' must be an IP address of this machine (127.0.0.1, 0.0.0.0 for every interface), got 'example.org'")]
    [InlineData("metrics:\n  port: 70000\n", "'metrics.port' must be a whole number 0–65535, got '70000'")]
    [InlineData("encoder:\n  device: npu\n", "cell.yaml:2: 'encoder.device': 'npu' is not a device; expected cpu, cuda or tensorrt.")]
    [InlineData("encoder:\n  device_id: -1\n", "'encoder.device_id' must be a whole number 0–63, got '-1'")]
    [InlineData("safety:\n  workspace: [0, 0, 0, -1, 1, 1]\n", "each min below its max")]
    [InlineData("cameras: front\n", "'cameras' must be a list of cameras")]
    [InlineData("cameras:\n  - name: front\n", "'cameras[0]' needs 'name' and 'backend'")]
    [InlineData("- rate_hz\n", "the file must be a mapping of keys")]
    [InlineData("policy:\n  samples: 0\n", "'policy.samples' must be a whole number 1–65536, got '0'")]
    [InlineData("policy:\n  iterations: many\n", "'policy.iterations' must be a whole number 1–100, got 'many'")]
    public void ABadFileIsRefusedNamingTheKeyAndWhatWasExpected(string yaml, string expected)
    {
        var error = Assert.Throws<ConfigException>(() => RunConfig.Parse(yaml, "cell.yaml"));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void TheDegradeSectionIsReadIntoTheLoopsRateSteps()
    {
        var config = RunConfig.Parse("""
            rate_hz: 25
            degrade:
              rates_hz: [12.5, 10]
              after_misses: 2
              within_cycles: 8
              recover_after: 1.5s
            """, "cell.yaml");
        var degrade = config.Degrade!;
        Assert.Equal([12.5, 10], degrade.RatesHz);
        Assert.Equal((2, 8, TimeSpan.FromSeconds(1.5)), (degrade.AfterMisses, degrade.WithinCycles, degrade.RecoverAfter));
        // Only the rates are required; the rest have defaults.
        var defaults = RunConfig.Parse("rate_hz: 25\ndegrade: {rates_hz: [12.5]}\n", "cell.yaml").Degrade!;
        Assert.Equal((3, 10, TimeSpan.FromSeconds(5)), (defaults.AfterMisses, defaults.WithinCycles, defaults.RecoverAfter));
        // Without the section the rate is fixed.
        Assert.Null(RunConfig.Parse(Full, "cell.yaml").Degrade);
        Assert.Null(new RunConfig().Degrade);
    }

    [Theory]
    [InlineData("rate_hz: 25\ndegrade:\n  rates_hz: [12.5, 15]\n", "cell.yaml:3: 'degrade.rates_hz' must be strictly decreasing (each rate below the one before), got 15 after 12.5")]
    [InlineData("rate_hz: 25\ndegrade:\n  rates_hz: [30]\n", "cell.yaml:3: 'degrade.rates_hz' must each be below rate_hz (25 Hz), got 30")]
    [InlineData("degrade:\n  rates_hz: [30, 20]\nrate_hz: 25\n", "cell.yaml:2: 'degrade.rates_hz' must each be below rate_hz (25 Hz), got 30")]
    [InlineData("degrade:\n  rates_hz: [12.5, 0]\n", "cell.yaml:2: 'degrade.rates_hz' must each be at least 1 Hz, got 0")]
    [InlineData("degrade:\n  rates_hz: []\n", "cell.yaml:2: 'degrade.rates_hz' must list at least one lower rate")]
    [InlineData("degrade:\n  rates_hz: 12.5\n", "cell.yaml:2: 'degrade.rates_hz' must be a list of numbers, got '12.5'")]
    [InlineData("degrade:\n  after_misses: 2\n", "cell.yaml:2: 'degrade' needs 'rates_hz'")]
    [InlineData("degrade:\n  rates_hz: [15]\n  after_misses: 0\n", "cell.yaml:3: 'degrade.after_misses' must be a whole number 1–1000, got '0'")]
    [InlineData("degrade:\n  rates_hz: [15]\n  within_cycles: 2\n", "cell.yaml:3: 'degrade.within_cycles' (2) must be at least degrade.after_misses (3)")]
    [InlineData("degrade:\n  rates_hz: [15]\n  recover_after: 0s\n", "cell.yaml:3: 'degrade.recover_after' must be a duration > 0")]
    [InlineData("degrade:\n  rates_hz: [15]\n  recover_after: soon\n", "cell.yaml:3: degrade.recover_after: 'soon' is not a duration")]
    [InlineData("degrade:\n  rates_hz: [15]\n  after_misses: 5\n", "cell.yaml:3: 'degrade.after_misses' (5) must be at most safety.max_deadline_misses (3): that many misses in a row hold the arm")]
    [InlineData("degrade:\n  rates_hz: [15]\n  afte_misses: 2\n", "cell.yaml:3: unknown key 'degrade.afte_misses'; keys under 'degrade' are: rates_hz, after_misses, within_cycles, recover_after")]
    [InlineData("degrade: slower\n", "cell.yaml:1: 'degrade' must be a mapping of keys")]
    public void ABadDegradeSectionIsRefusedWithItsLine(string yaml, string expected)
    {
        var error = Assert.Throws<ConfigException>(() => RunConfig.Parse(yaml, "cell.yaml"));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void DegradeChecksAgainstTheOtherKeysHoldAfterOverridesToo()
    {
        var config = RunConfig.Parse("rate_hz: 30\ndegrade:\n  rates_hz: [20, 12.5]\n  after_misses: 5\nsafety:\n  max_deadline_misses: 5\n", "cell.yaml");
        Assert.Equal([20, 12.5], config.Degrade!.RatesHz);
        Assert.Equal([15.0], config.WithOverride("degrade.rates_hz=[15]").Degrade!.RatesHz);
        Assert.Equal(2, config.WithOverride("degrade.after_misses=2").Degrade!.AfterMisses);
        Assert.Contains("cell.yaml:3: 'degrade.rates_hz' must each be below rate_hz (15 Hz), got 20",
            Assert.Throws<ConfigException>(() => config.WithOverride("rate_hz=15")).Message);
        Assert.Contains("cell.yaml:4: 'degrade.after_misses' (5) must be at most safety.max_deadline_misses (3)",
            Assert.Throws<ConfigException>(() => config.WithOverride("safety.max_deadline_misses=3")).Message);
        Assert.Contains("'degrade' needs 'rates_hz'", Assert.Throws<ConfigException>(() => new RunConfig().WithOverride("degrade.after_misses=2")).Message);
    }

    [Fact]
    public void GpioLinesAreReadWithTheirActiveLevelAndDebounce()
    {
        var config = RunConfig.Parse("safety:\n  estop_gpio: {chip: 0, line: 17, active: low, debounce: 30ms}\n  enable_gpio: {chip: 1, line: 5}\n", "cell.yaml");
        Assert.Equal(new Safety.Gpio.GpioLine(0, 17, ActiveLow: true), config.EmergencyStopGpio);
        Assert.Equal(TimeSpan.FromMilliseconds(30), config.GpioDebounce);
        Assert.Equal(new Safety.Gpio.GpioLine(1, 5, ActiveLow: false), config.EnableGpio);
        Assert.Null(new RunConfig().EmergencyStopGpio);
    }

    [Fact]
    public void TheEncoderDeviceIsReadIntoTheSessionSettings()
    {
        var config = RunConfig.Parse("encoder:\n  threads: 2\n  device: CUDA\n  device_id: 1\n", "cell.yaml");
        Assert.Equal(new Onnx.OnnxSessionSettings { IntraOpThreads = 2, Device = Onnx.OnnxDevice.Cuda, DeviceId = 1 }, config.EncoderSession);
        Assert.Equal(Onnx.OnnxDevice.Cpu, new RunConfig().EncoderSession.Device);
    }

    [Theory]
    [InlineData("rate_hz", "expected key.path=value")]
    [InlineData("arm.stat=tcp://x:1", "unknown key 'arm.stat'")]
    [InlineData("cameras.front=1", "cameras are a list; change them in the config file")]
    [InlineData("rate_hz=abc", "'rate_hz' must be a number, got 'abc'")]
    public void ABadOverrideIsRefusedNamingIt(string assignment, string expected)
    {
        var error = Assert.Throws<ConfigException>(() => new RunConfig().WithOverride(assignment));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void AMissingFileOrInvalidYamlSaysWhich()
    {
        Assert.Contains("does not exist", Assert.Throws<ConfigException>(() => RunConfig.Load("/nonexistent/cell.yaml")).Message);
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "arm: [unclosed\n");
            var error = Assert.Throws<ConfigException>(() => RunConfig.Load(path));
            Assert.Contains(path, error.Message);
            Assert.Contains("not valid YAML", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
