using System.Globalization;
using RobotRuntime.Cli.Composition;
using RobotRuntime.Vision.Cameras;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RobotRuntime.Cli.Runtime;

/// <summary>A configuration file or override that cannot be used; the message names the key, where it is, and what was expected.</summary>
public sealed class ConfigException(string message) : Exception(message);

/// <summary>How <c>rr run</c> records every cycle into an episode dataset (<c>record</c>, <c>--record DIR</c>).</summary>
public sealed record RecordSettings
{
    /// <summary>The dataset folder (<c>record.folder</c>, or <c>record: DIR</c>, or <c>--record DIR</c>); runs recorded into one folder add episodes.</summary>
    public string? Folder { get; init; }

    /// <summary>Cycles the ring between the loop and the recording's writer holds (<c>record.buffer_cycles</c>); null: as many as fit in <see cref="DefaultBufferBytes"/>.</summary>
    public int? BufferCycles { get; init; }

    /// <summary>The task episodes are labelled with (<c>record.task</c>); null: the simulator arm's task, else the policy's kind.</summary>
    public string? Task { get; init; }

    /// <summary>The ring's size when <see cref="BufferCycles"/> is not given: 64 MB (frames included).</summary>
    public const long DefaultBufferBytes = 64L << 20;
}

/// <summary>Everything <c>rr run</c> needs, read from YAML with command-line overrides.</summary>
public sealed record RunConfig
{
    /// <summary>The YAML text the config was parsed from (null: defaults only), kept so a recording can store it.</summary>
    public string? SourceText { get; init; }

    /// <summary>The <c>--set</c> overrides applied after the file, in order.</summary>
    public IReadOnlyList<string> Overrides { get; init; } = [];

    /// <summary>Record every cycle into an episode dataset; null: not recorded.</summary>
    public RecordSettings? Record { get; init; }

    /// <summary>Cycles per second (10–100).</summary>
    public double RateHz { get; init; } = 30;

    /// <summary>
    /// Step the rate down after repeated missed deadlines and back up after a quiet period (the
    /// <c>degrade</c> section); null without the section (a fixed rate; K missed deadlines in a row hold).
    /// </summary>
    public RobotRuntime.Runtime.RateDegradeOptions? Degrade => DegradeRatesHz is { } rates
        ? new RobotRuntime.Runtime.RateDegradeOptions { RatesHz = rates, AfterMisses = DegradeAfterMisses, WithinCycles = DegradeWithinCycles, RecoverAfter = DegradeRecoverAfter }
        : null;

    /// <summary>The lower rates to step down through (<c>degrade.rates_hz</c>), highest first; null: no <c>degrade</c> section.</summary>
    public IReadOnlyList<double>? DegradeRatesHz { get; init; }

    /// <summary>Missed deadlines within <see cref="DegradeWithinCycles"/> that step the rate down (<c>degrade.after_misses</c>).</summary>
    public int DegradeAfterMisses { get; init; } = 3;

    /// <summary>The window of cycles at one rate in which <see cref="DegradeAfterMisses"/> misses step it down (<c>degrade.within_cycles</c>).</summary>
    public int DegradeWithinCycles { get; init; } = 10;

    /// <summary>How long without a miss before the rate steps back up one rate (<c>degrade.recover_after</c>).</summary>
    public TimeSpan DegradeRecoverAfter { get; init; } = TimeSpan.FromSeconds(5);

    // Where each degrade key was set ("file:line"), for the checks that need the whole file.
    private string? _degradeAt, _degradeRatesAt, _degradeMissesAt, _degradeWithinAt;

    /// <summary>How long to run; null: until Ctrl-C.</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Folder in which each run gets its own timestamped folder.</summary>
    public string RunsFolder { get; init; } = "runs";

    /// <summary>The arm's state endpoint (its PUB socket).</summary>
    public string ArmState { get; init; } = "tcp://127.0.0.1:5601";

    /// <summary>The arm's command endpoint (its SUB socket).</summary>
    public string ArmCommand { get; init; } = "tcp://127.0.0.1:5602";

    /// <summary>The arm's control endpoint (its REP socket).</summary>
    public string ArmControl { get; init; } = "tcp://127.0.0.1:5603";

    /// <summary>The key file of the secret shared with the arm (protocol version 2); null: <see cref="Transport.Firmware.ArmKeyFile.DefaultPath"/>.</summary>
    public string? ArmKey { get; init; }

    /// <summary>The shared secret itself, for a host that runs the arm in this process (rr demo); overrides <see cref="ArmKey"/>.</summary>
    public byte[]? ArmSecret { get; init; }

    /// <summary>The arm's CURVE public key (<c>arm.curve_public_key</c>, from rr keygen --curve): the link encrypts and talks only to that arm. Null: plain ZeroMQ.</summary>
    public string? ArmCurvePublicKey { get; init; }

    /// <summary>Claim the arm even from another controller's live claim (an operator's deliberate takeover; <c>rr run --takeover</c>).</summary>
    public bool Takeover { get; init; }

    /// <summary>The cameras, in the encoder's order; each made by its backend (<see cref="CameraFactory"/>).</summary>
    public IReadOnlyList<CameraSettings> Cameras { get; init; } = [];

    /// <summary>Which arm link (<c>arm.kind</c>, a name in <see cref="LoopComposer.ArmLinks"/>): zmq by default.</summary>
    public string ArmKind { get; init; } = "zmq";

    /// <summary>
    /// The arm's kinematic model (<c>arm.kinematics</c>): a built-in name (<see cref="RobotRuntime.Kinematics.ArmKinematicsLibrary.Names"/>)
    /// or a JSON file; the runtime solves inverse kinematics with it when a policy acts in end-effector deltas
    /// and the arm takes joint commands only. Null: none (the simulator's arm kind brings its own).
    /// </summary>
    public string? ArmKinematics { get; init; }

    /// <summary>Keys under <c>arm</c> that belong to its kind.</summary>
    public SectionOptions ArmOptions { get; init; } = SectionOptions.Empty("arm");

    /// <summary>
    /// Which encoder (<c>encoder.kind</c>, a name in <see cref="LoopComposer.Encoders"/>): onnx when the
    /// section names a zoo or an id; null when the run has no encoder section.
    /// </summary>
    public string? EncoderKind => _encoderKind ?? (EncoderZoo is not null || EncoderId is not null ? "onnx" : null);

    private string? _encoderKind;

    /// <summary>Keys under <c>encoder</c> that belong to its kind.</summary>
    public SectionOptions EncoderOptions { get; init; } = SectionOptions.Empty("encoder");

    /// <summary>Keys under <c>policy</c> that belong to its kind.</summary>
    public SectionOptions PolicyOptions { get; init; } = SectionOptions.Empty("policy");

    /// <summary>The PVR zoo manifest (null: no encoder).</summary>
    public string? EncoderZoo { get; init; }

    /// <summary>The encoder's id in the zoo.</summary>
    public string? EncoderId { get; init; }

    /// <summary>ONNX Runtime intra-op threads for the encoder.</summary>
    public int EncoderThreads { get; init; } = 1;

    /// <summary>Encode on a separate thread as frames arrive, overlapping the loop's planning (<c>encoder.pipeline</c>).</summary>
    public bool PipelineEncoding { get; init; }

    /// <summary>Where the encoder runs (<c>encoder.device</c>: cpu, cuda or tensorrt; the GPU ones need the GPU build).</summary>
    public Onnx.OnnxDevice EncoderDevice { get; init; } = Onnx.OnnxDevice.Cpu;

    /// <summary>The CUDA device ordinal (<c>encoder.device_id</c>).</summary>
    public int EncoderDeviceId { get; init; }

    /// <summary>The hardware e-stop input (<c>safety.estop_gpio</c>: chip, line, active, debounce); null: none.</summary>
    public Safety.Gpio.GpioLine? EmergencyStopGpio { get; init; }

    /// <summary>How long the hardware e-stop must read released before it counts as released.</summary>
    public TimeSpan GpioDebounce { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>The enable output (<c>safety.enable_gpio</c>: chip, line, active), active only while acting; null: none.</summary>
    public Safety.Gpio.GpioLine? EnableGpio { get; init; }

    /// <summary>The encoder's ONNX Runtime session settings.</summary>
    public Onnx.OnnxSessionSettings EncoderSession => new() { IntraOpThreads = EncoderThreads, Device = EncoderDevice, DeviceId = EncoderDeviceId };

    /// <summary>Which policy (<c>policy.kind</c>, a name in <see cref="LoopComposer.Policies"/>): hold-still, scripted-reach, agent.</summary>
    public string Policy { get; init; } = "hold-still";

    /// <summary>The scripted reach's goal (metres, arm base frame).</summary>
    public (double X, double Y, double Z)? Goal { get; init; }

    /// <summary>The agent package folder for <c>policy.kind: agent</c> (<c>policy.package</c>).</summary>
    public string? AgentPackage { get; init; }

    /// <summary>How the agent decides: <c>mppi</c> (latent MPPI within the cycle's budget) or <c>prior</c> (the policy prior alone) (<c>policy.planner</c>).</summary>
    public string AgentPlanner { get; init; } = "mppi";

    /// <summary>MPPI's sequences per iteration (<c>policy.samples</c>); 0: the package's config.</summary>
    public int AgentPlanSamples { get; init; }

    /// <summary>MPPI's iterations per cycle (<c>policy.iterations</c>); 0: the package's config.</summary>
    public int AgentPlanIterations { get; init; }

    /// <summary>Camera frames older than this hold the arm.</summary>
    public TimeSpan MaxFrameAge { get; init; } = TimeSpan.FromMilliseconds(150);

    /// <summary>
    /// Frames of one cycle captured further apart than this are not used together: the cycle holds on
    /// StaleCameraFrame (<c>safety.max_frame_skew</c>). Null: <see cref="FrameSkewLimit"/> works it out
    /// from the cameras' rates.
    /// </summary>
    public TimeSpan? MaxFrameSkew { get; init; }

    /// <summary>The skew allowed when <c>safety.max_frame_skew</c> is not set: 50 ms.</summary>
    public static readonly TimeSpan DefaultFrameSkew = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// The frame skew the loop allows: <c>safety.max_frame_skew</c> when set; else 50 ms, or one and a half
    /// frame periods of the slowest camera with an <c>fps</c> when that is longer. Two free-running
    /// cameras' newest frames are up to one period apart, plus capture jitter, so at 15 fps (a 67 ms
    /// period) 50 ms refuses up to a quarter of the cycles, depending on how the two cameras are phased.
    /// </summary>
    public TimeSpan FrameSkewLimit
    {
        get
        {
            if (MaxFrameSkew is { } set)
                return set;
            var slowest = Cameras.Where(c => c.Fps > 0).Select(c => c.Fps).DefaultIfEmpty(double.PositiveInfinity).Min();
            var fromRate = double.IsPositiveInfinity(slowest) ? TimeSpan.Zero : TimeSpan.FromSeconds(1.5 / slowest);
            return fromRate > DefaultFrameSkew ? fromRate : DefaultFrameSkew;
        }
    }

    /// <summary>
    /// A warning when <c>safety.max_frame_skew</c> is set shorter than a frame period of the slowest camera
    /// with an <c>fps</c> (most pairs of free-running cameras would be refused), else null.
    /// </summary>
    public string? FrameSkewWarning()
    {
        if (MaxFrameSkew is not { } set)
            return null;
        var slow = Cameras.Where(c => c.Fps > 0).OrderBy(c => c.Fps).FirstOrDefault();
        if (slow is null || set.TotalSeconds >= 1 / slow.Fps)
            return null;
        var byDefault = (this with { MaxFrameSkew = null }).FrameSkewLimit;
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"rr: warning: safety.max_frame_skew {set.TotalMilliseconds:0.#} ms is shorter than the frame period of camera '{slow.Name}' ({1000 / slow.Fps:0.#} ms at {slow.Fps:0.##} fps): unless the cameras are triggered together, many cycles will find their frames too far apart and hold (StaleCameraFrame); without the key these cameras get {byDefault.TotalMilliseconds:0.#} ms");
    }

    /// <summary>Arm states older than this hold the arm.</summary>
    public TimeSpan MaxArmStateAge { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Consecutive missed deadlines that hold the arm.</summary>
    public int MaxDeadlineMisses { get; init; } = 3;

    /// <summary>Margin kept from each joint limit (rad).</summary>
    public double JointMargin { get; init; } = 0.02;

    /// <summary>Workspace box (min x, y, z, max x, y, z in metres); null: none.</summary>
    public double[]? Workspace { get; init; }

    /// <summary>SCHED_FIFO priority asked for the loop's thread; null: do not ask.</summary>
    public int? FifoPriority { get; init; }

    /// <summary>CPUs the loop's thread is pinned to; null: any.</summary>
    public int[]? Cpus { get; init; }

    /// <summary>While this file exists the arm holds (e-stop input); null: no file.</summary>
    public string? StopFile { get; init; }

    /// <summary>Serve the live page on this localhost port (0: a free one); null: no page.</summary>
    public int? LivePort { get; init; }

    /// <summary>Serve the loop's figures for Prometheus on this port (<c>metrics.port</c>; 0: a free one); null: not served.</summary>
    public int? MetricsPort { get; init; }

    /// <summary>The address the metrics are served on (<c>metrics.host</c>): 127.0.0.1 by default, 0.0.0.0 for every interface.</summary>
    public string MetricsHost { get; init; } = "127.0.0.1";

    /// <summary>The sections and keys a file may hold, for error messages.</summary>
    internal static readonly IReadOnlyDictionary<string, string[]> Schema = new Dictionary<string, string[]>
    {
        [""] = ["rate_hz", "duration", "degrade", "runs_folder", "arm", "cameras", "encoder", "policy", "safety", "realtime", "stop_file", "live_port", "metrics", "record"],
        ["degrade"] = ["rates_hz", "after_misses", "within_cycles", "recover_after"],
        ["record"] = ["folder", "buffer_cycles", "task"],
        ["metrics"] = ["port", "host"],
        ["arm"] = ["state", "command", "control", "key", "curve_public_key", "kind", "kinematics"],
        ["cameras[]"] = CameraFactory.CommonKeys.ToArray(),
        ["encoder"] = ["zoo", "id", "threads", "pipeline", "device", "device_id", "kind"],
        ["policy"] = ["kind", "goal", "package", "planner", "samples", "iterations"],
        ["safety"] = ["max_frame_age", "max_frame_skew", "max_state_age", "max_deadline_misses", "joint_margin", "workspace", "estop_gpio", "enable_gpio"],
        ["realtime"] = ["fifo_priority", "cpus"],
    };

    /// <summary>Reads a YAML file; every key is checked.</summary>
    public static RunConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new ConfigException($"config file '{path}' does not exist");
        try
        {
            return Parse(File.ReadAllText(path), path);
        }
        catch (YamlException error)
        {
            throw new ConfigException($"{path}:{error.Start.Line}: not valid YAML: {error.InnerException?.Message ?? error.Message}");
        }
    }

    /// <summary>Parses YAML text (<paramref name="source"/> names it in errors).</summary>
    public static RunConfig Parse(string yaml, string source)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var config = new RunConfig { SourceText = yaml };
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
            return config;
        var root = stream.Documents[0].RootNode as YamlMappingNode
            ?? throw new ConfigException($"{source}: the file must be a mapping of keys (rate_hz, arm, cameras, ...), not a {Kind(stream.Documents[0].RootNode)}");
        foreach (var (keyNode, value) in root.Children)
            config = config.Apply(source, "", Key(keyNode), value);
        return config.CheckKindKeys().CheckDegrade();
    }

    /// <summary>
    /// The <c>degrade</c> checks that need other keys, once the whole file (or override) is read:
    /// rates_hz is there, every rate is below rate_hz, within_cycles can hold after_misses, and
    /// after_misses is at most safety.max_deadline_misses (K misses in a row hold the arm before the
    /// rate could step down otherwise).
    /// </summary>
    private RunConfig CheckDegrade()
    {
        if (_degradeAt is null)
            return this;
        var c = CultureInfo.InvariantCulture;
        if (DegradeRatesHz is not { } rates)
            throw new ConfigException($"{_degradeAt}: 'degrade' needs 'rates_hz', the lower rates to step down through, highest first (e.g. rates_hz: [15, 10])");
        if (rates[0] >= RateHz)
            throw new ConfigException(string.Create(c, $"{_degradeRatesAt}: 'degrade.rates_hz' must each be below rate_hz ({RateHz} Hz), got {rates[0]}"));
        if (DegradeWithinCycles < DegradeAfterMisses)
            throw new ConfigException(string.Create(c, $"{_degradeWithinAt ?? _degradeMissesAt}: 'degrade.within_cycles' ({DegradeWithinCycles}) must be at least degrade.after_misses ({DegradeAfterMisses}): fewer cycles cannot hold that many misses"));
        if (DegradeAfterMisses > MaxDeadlineMisses)
            throw new ConfigException(string.Create(c, $"{_degradeMissesAt ?? _degradeAt}: 'degrade.after_misses' ({DegradeAfterMisses}) must be at most safety.max_deadline_misses ({MaxDeadlineMisses}): that many misses in a row hold the arm before the rate could step down"));
        return this;
    }

    /// <summary>
    /// The keys of the arm, encoder and policy sections that are not the section's own belong to the
    /// kind it selects: checked once the whole file (or override) is read, when the kind is known.
    /// </summary>
    private RunConfig CheckKindKeys()
    {
        LoopComposer.ArmLinks.Get(ArmKind, ArmOptions);
        LoopComposer.Policies.Get(Policy, PolicyOptions);
        if (EncoderKind is { } kind)
            LoopComposer.Encoders.Get(kind, EncoderOptions);
        else if (EncoderOptions.Keys.Count > 0)
            EncoderOptions.CheckOnly([], LoopComposer.Encoders.CommonKeys, "no encoder");
        return this;
    }

    /// <summary>Applies one override <c>key.path=value</c> (value in YAML syntax, e.g. <c>policy.goal=[0.1,0,0.2]</c>).</summary>
    public RunConfig WithOverride(string assignment)
    {
        var equals = assignment.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
            throw new ConfigException($"--set '{assignment}': expected key.path=value, e.g. --set rate_hz=50 or --set policy.goal=[0.3,0,0.1]");
        var path = assignment[..equals].Trim();
        var valueText = assignment[(equals + 1)..];
        var stream = new YamlStream();
        stream.Load(new StringReader(valueText.Length == 0 ? "''" : valueText));
        var value = stream.Documents[0].RootNode;
        var dot = path.IndexOf('.', StringComparison.Ordinal);
        var config = this with { Overrides = [.. Overrides, assignment] };
        if (dot < 0)
            return config.Apply("--set", "", path, value).CheckKindKeys().CheckDegrade();
        var section = path[..dot];
        var key = path[(dot + 1)..];
        if (section == "cameras")
            throw new ConfigException($"--set '{assignment}': cameras are a list; change them in the config file");
        var mapping = new YamlMappingNode { { key, value } };
        return config.Apply("--set", "", section, mapping).CheckKindKeys().CheckDegrade();
    }

    private RunConfig Apply(string source, string section, string key, YamlNode value)
    {
        var where = section.Length == 0 ? key : $"{section}.{key}";
        string[] allowed = Schema[section];
        if (!allowed.Contains(key) && section is "arm" or "encoder" or "policy")
        {
            // A key of the section's kind: the kind's backend reads and checks it when the loop is composed.
            var text = value is YamlScalarNode { Value: { } scalar } ? scalar : throw new ConfigException($"{source}:{value.Start.Line}: '{where}' must be a single value");
            var at = $"{source}:{value.Start.Line}";
            return section switch
            {
                "arm" => this with { ArmOptions = ArmOptions.With(key, text, at) },
                "encoder" => this with { EncoderOptions = EncoderOptions.With(key, text, at) },
                _ => this with { PolicyOptions = PolicyOptions.With(key, text, at) },
            };
        }
        if (!allowed.Contains(key))
            throw new ConfigException($"{source}:{value.Start.Line}: unknown key '{where}'; {(section.Length == 0 ? "top-level keys" : $"keys under '{section}'")} are: {string.Join(", ", allowed)}");
        switch (where)
        {
            case "rate_hz":
                var rate = Number(source, where, value);
                if (rate is < 10 or > 100)
                    throw new ConfigException($"{source}:{value.Start.Line}: 'rate_hz' must be 10–100, got {rate.ToString(CultureInfo.InvariantCulture)}");
                return this with { RateHz = rate };
            case "duration": return this with { Duration = ParseDuration(source, where, value) };
            case "runs_folder": return this with { RunsFolder = Text(source, where, value) };
            case "stop_file": return this with { StopFile = Text(source, where, value) };
            case "live_port": return this with { LivePort = Integer(source, where, value, 0, 65535) };
            case "record" when value is YamlScalarNode:
                return this with { Record = (Record ?? new RecordSettings()) with { Folder = Text(source, where, value) } };
            case "record.folder": return this with { Record = (Record ?? new RecordSettings()) with { Folder = Text(source, where, value) } };
            case "record.buffer_cycles": return this with { Record = (Record ?? new RecordSettings()) with { BufferCycles = Integer(source, where, value, 2, 1_000_000) } };
            case "record.task": return this with { Record = (Record ?? new RecordSettings()) with { Task = Text(source, where, value) } };
            case "arm" or "encoder" or "policy" or "safety" or "realtime" or "metrics" or "record" or "degrade":
                var config = key == "degrade" ? this with { _degradeAt = _degradeAt ?? $"{source}:{value.Start.Line}" } : this;
                foreach (var (k, v) in Mapping(source, where, value).Children)
                    config = config.Apply(source, key, Key(k), v);
                return config;
            case "cameras":
                if (value is not YamlSequenceNode list)
                    throw new ConfigException($"{source}:{value.Start.Line}: 'cameras' must be a list of cameras (- name: front ...), not a {Kind(value)}");
                return this with { Cameras = list.Children.Select((c, i) => Camera(source, i, c)).ToList() };
            case "arm.kind": return this with { ArmKind = Text(source, where, value) };
            case "encoder.kind": return this with { _encoderKind = Text(source, where, value) };
            case "arm.state": return this with { ArmState = Text(source, where, value) };
            case "arm.command": return this with { ArmCommand = Text(source, where, value) };
            case "arm.control": return this with { ArmControl = Text(source, where, value) };
            case "arm.key": return this with { ArmKey = Text(source, where, value) };
            case "arm.kinematics":
                var kinematics = Text(source, where, value);
                try
                {
                    _ = RobotRuntime.Kinematics.ArmKinematicsLibrary.Resolve(kinematics);
                }
                catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException)
                {
                    throw new ConfigException($"{source}:{value.Start.Line}: 'arm.kinematics': {e.Message}");
                }
                return this with { ArmKinematics = kinematics };
            case "arm.curve_public_key":
                var curveKey = Text(source, where, value);
                try
                {
                    Transport.Zmq.CurveKeyPair.CheckKey(curveKey, $"{source}:{value.Start.Line}: 'arm.curve_public_key'");
                }
                catch (ArgumentException e)
                {
                    throw new ConfigException(e.Message);
                }
                return this with { ArmCurvePublicKey = curveKey };
            case "encoder.zoo": return this with { EncoderZoo = Text(source, where, value) };
            case "encoder.id": return this with { EncoderId = Text(source, where, value) };
            case "encoder.threads": return this with { EncoderThreads = Integer(source, where, value, 1, 64) };
            case "encoder.pipeline": return this with { PipelineEncoding = Boolean(source, where, value) };
            case "encoder.device":
                var device = Text(source, where, value);
                try
                {
                    return this with { EncoderDevice = Onnx.OnnxSessionSettings.ParseDevice(device, $"{source}:{value.Start.Line}: 'encoder.device'") };
                }
                catch (ArgumentException e)
                {
                    throw new ConfigException(e.Message);
                }
            case "encoder.device_id": return this with { EncoderDeviceId = Integer(source, where, value, 0, 63) };
            case "policy.kind":
                var kind = Text(source, where, value);
                if (!LoopComposer.Policies.Names.Contains(kind))
                    throw new ConfigException($"{source}:{value.Start.Line}: 'policy.kind' must be one of {string.Join(", ", LoopComposer.Policies.Names)}, got '{kind}'");
                return this with { Policy = kind };
            case "policy.package": return this with { AgentPackage = Text(source, where, value) };
            case "policy.planner":
                var planner = Text(source, where, value);
                if (!RobotRuntime.Agents.Planning.Planners.Contains(planner))
                    throw new ConfigException($"{source}:{value.Start.Line}: 'policy.planner' must be one of {string.Join(", ", RobotRuntime.Agents.Planning.Planners.Names)}, got '{planner}'");
                return this with { AgentPlanner = planner };
            case "policy.samples": return this with { AgentPlanSamples = Integer(source, where, value, 1, 1 << 16) };
            case "policy.iterations": return this with { AgentPlanIterations = Integer(source, where, value, 1, 100) };
            case "policy.goal":
                var goal = Numbers(source, where, value, 3);
                return this with { Goal = (goal[0], goal[1], goal[2]) };
            case "safety.max_frame_age": return this with { MaxFrameAge = ParseDuration(source, where, value) };
            case "safety.max_state_age": return this with { MaxArmStateAge = ParseDuration(source, where, value) };
            case "safety.max_frame_skew": return this with { MaxFrameSkew = ParseDuration(source, where, value) };
            case "safety.max_deadline_misses": return this with { MaxDeadlineMisses = Integer(source, where, value, 1, 1000) };
            case "safety.joint_margin": return this with { JointMargin = Number(source, where, value) };
            case "safety.workspace":
                var box = Numbers(source, where, value, 6);
                if (box[0] >= box[3] || box[1] >= box[4] || box[2] >= box[5])
                    throw new ConfigException($"{source}:{value.Start.Line}: 'safety.workspace' is [min x, min y, min z, max x, max y, max z] with each min below its max");
                return this with { Workspace = box };
            case "safety.estop_gpio":
                var (estop, debounce) = GpioLineOf(source, where, value, debounceAllowed: true);
                return this with { EmergencyStopGpio = estop, GpioDebounce = debounce ?? GpioDebounce };
            case "safety.enable_gpio":
                return this with { EnableGpio = GpioLineOf(source, where, value, debounceAllowed: false).Line };
            case "degrade.rates_hz":
                var steps = Numbers(source, where, value, -1);
                if (steps.Length == 0)
                    throw new ConfigException($"{source}:{value.Start.Line}: 'degrade.rates_hz' must list at least one lower rate, highest first (e.g. [15, 10])");
                for (var i = 0; i < steps.Length; i++)
                {
                    if (!(steps[i] >= RobotRuntime.Runtime.RateDegradeOptions.MinRateHz))
                        throw new ConfigException(string.Create(CultureInfo.InvariantCulture, $"{source}:{value.Start.Line}: 'degrade.rates_hz' must each be at least {RobotRuntime.Runtime.RateDegradeOptions.MinRateHz} Hz, got {steps[i]}"));
                    if (i > 0 && !(steps[i] < steps[i - 1]))
                        throw new ConfigException(string.Create(CultureInfo.InvariantCulture, $"{source}:{value.Start.Line}: 'degrade.rates_hz' must be strictly decreasing (each rate below the one before), got {steps[i]} after {steps[i - 1]}"));
                }
                return this with { DegradeRatesHz = steps, _degradeRatesAt = $"{source}:{value.Start.Line}" };
            case "degrade.after_misses": return this with { DegradeAfterMisses = Integer(source, where, value, 1, 1000), _degradeMissesAt = $"{source}:{value.Start.Line}" };
            case "degrade.within_cycles": return this with { DegradeWithinCycles = Integer(source, where, value, 1, 100_000), _degradeWithinAt = $"{source}:{value.Start.Line}" };
            case "degrade.recover_after":
                var recover = ParseDuration(source, where, value);
                if (recover <= TimeSpan.Zero)
                    throw new ConfigException($"{source}:{value.Start.Line}: 'degrade.recover_after' must be a duration > 0 such as 5s, got {recover.TotalMilliseconds} ms");
                return this with { DegradeRecoverAfter = recover };
            case "metrics.port": return this with { MetricsPort = Integer(source, where, value, 0, 65535) };
            case "metrics.host":
                var host = Text(source, where, value);
                if (host != "0.0.0.0" && host != "localhost" && !System.Net.IPAddress.TryParse(host, out _))
                    throw new ConfigException($"{source}:{value.Start.Line}: 'metrics.host' must be an IP address of this machine (127.0.0.1, 0.0.0.0 for every interface), got '{host}'");
                return this with { MetricsHost = host };
            case "realtime.fifo_priority": return this with { FifoPriority = Integer(source, where, value, 1, 99) };
            case "realtime.cpus": return this with { Cpus = Numbers(source, where, value, -1).Select(c => (int)c).ToArray() };
            default:
                throw new ConfigException($"{source}:{value.Start.Line}: '{where}' is not handled");
        }
    }

    /// <summary><c>{chip: 0, line: 17, active: low, debounce: 20ms}</c>; chip and line required, active defaults to high.</summary>
    private static (Safety.Gpio.GpioLine Line, TimeSpan? Debounce) GpioLineOf(string source, string where, YamlNode node, bool debounceAllowed)
    {
        var map = Mapping(source, where, node);
        int? chip = null, line = null;
        var activeLow = false;
        TimeSpan? debounce = null;
        foreach (var (k, v) in map.Children)
        {
            var key = Key(k);
            var at = $"{where}.{key}";
            switch (key)
            {
                case "chip": chip = Integer(source, at, v, 0, 255); break;
                case "line": line = Integer(source, at, v, 0, 4095); break;
                case "active":
                    var level = Text(source, at, v);
                    if (level is not ("low" or "high"))
                        throw new ConfigException($"{source}:{v.Start.Line}: '{at}' must be low or high (the level at which the line is active), got '{level}'");
                    activeLow = level == "low";
                    break;
                case "debounce" when debounceAllowed:
                    debounce = ParseDuration(source, at, v);
                    if (debounce < TimeSpan.Zero || debounce > TimeSpan.FromSeconds(5))
                        throw new ConfigException($"{source}:{v.Start.Line}: '{at}' must be 0–5 s, got {debounce.Value.TotalMilliseconds} ms");
                    break;
                default:
                    throw new ConfigException($"{source}:{k.Start.Line}: unknown key '{at}'; allowed: chip, line, active{(debounceAllowed ? ", debounce" : "")}");
            }
        }
        if (chip is null || line is null)
            throw new ConfigException($"{source}:{node.Start.Line}: '{where}' needs 'chip' (N of /dev/gpiochipN) and 'line' (the offset on it)");
        return (new Safety.Gpio.GpioLine(chip.Value, line.Value, activeLow), debounce);
    }

    /// <summary>
    /// One camera: the keys every backend shares (<see cref="CameraFactory.CommonKeys"/>) into their
    /// fields, the rest into <see cref="CameraSettings.Options"/> for the backend, which declares them and
    /// reads them itself (<see cref="CameraFactory.Check"/> refuses a key no one declared).
    /// </summary>
    private static CameraSettings Camera(string source, int index, YamlNode node)
    {
        var where = $"cameras[{index}]";
        var map = Mapping(source, where, node);
        var values = new Dictionary<string, (string Text, YamlNode Node)>(StringComparer.Ordinal);
        foreach (var (k, v) in map.Children)
            values[Key(k)] = (Text(source, $"{where}.{Key(k)}", v), v);
        if (!values.ContainsKey("name") || !values.ContainsKey("backend"))
            throw new ConfigException($"{source}:{node.Start.Line}: '{where}' needs 'name' and 'backend'");
        var backend = values["backend"].Text;
        var declared = CameraFactory.KeysOf(backend)
            ?? throw new ConfigException($"{source}:{values["backend"].Node.Start.Line}: '{where}.backend': unknown backend '{backend}'; known backends: {string.Join(", ", CameraFactory.Backends)}");
        var settings = new CameraSettings { Name = values["name"].Text, Backend = backend, Width = 64, Height = 64 };
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, (text, v)) in values)
        {
            var at = $"{where}.{key}";
            settings = key switch
            {
                "name" or "backend" => settings,
                "endpoint" => settings with { Endpoint = text },
                "path" => settings with { Path = text },
                "pipeline" => settings with { Pipeline = text },
                "device" => settings with { Device = Integer(source, at, v, 0, 255) },
                "width" => settings with { Width = Integer(source, at, v, 1, 4096) },
                "height" => settings with { Height = Integer(source, at, v, 1, 4096) },
                "fps" => settings with { Fps = Number(source, at, v) },
                "calibration" => settings with { Calibration = text },
                "curve_public_key" => settings with { CurvePublicKey = CurveKey(source, at, v, text) },
                _ when declared.Contains(key) => settings,
                _ => throw new ConfigException($"{source}:{v.Start.Line}: unknown key '{at}'; keys of a camera are: {string.Join(", ", CameraFactory.CommonKeys.Concat(declared))}"),
            };
            if (!CameraFactory.CommonKeys.Contains(key))
                options[key] = text;
        }
        return settings with { Options = options };
    }

    private static string CurveKey(string source, string at, YamlNode v, string text)
    {
        try
        {
            Transport.Zmq.CurveKeyPair.CheckKey(text, $"{source}:{v.Start.Line}: '{at}'");
        }
        catch (ArgumentException e)
        {
            throw new ConfigException(e.Message);
        }
        return text;
    }

    private static string Key(YamlNode node) => node is YamlScalarNode { Value: { } text } ? text : node.ToString();

    private static string Kind(YamlNode node) => node switch
    {
        YamlMappingNode => "mapping",
        YamlSequenceNode => "list",
        _ => "single value",
    };

    private static YamlMappingNode Mapping(string source, string where, YamlNode node) =>
        node as YamlMappingNode ?? throw new ConfigException($"{source}:{node.Start.Line}: '{where}' must be a mapping of keys, not a {Kind(node)}");

    private static string Text(string source, string where, YamlNode node) =>
        node is YamlScalarNode { Value: { Length: > 0 } text } ? text : throw new ConfigException($"{source}:{node.Start.Line}: '{where}' must be a non-empty text value");

    private static double Number(string source, string where, YamlNode node)
    {
        if (node is YamlScalarNode { Value: { } text } && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
            return value;
        throw new ConfigException($"{source}:{node.Start.Line}: '{where}' must be a number, got {Describe(node)}");
    }

    private static int Integer(string source, string where, YamlNode node, int min, int max)
    {
        if (node is YamlScalarNode { Value: { } text } && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
            return value;
        throw new ConfigException($"{source}:{node.Start.Line}: '{where}' must be a whole number {min}–{max}, got {Describe(node)}");
    }

    private static bool Boolean(string source, string where, YamlNode node)
    {
        if (node is YamlScalarNode { Value: { } text } && bool.TryParse(text, out var value))
            return value;
        throw new ConfigException($"{source}:{node.Start.Line}: '{where}' must be true or false, got {Describe(node)}");
    }

    private static double[] Numbers(string source, string where, YamlNode node, int count)
    {
        if (node is not YamlSequenceNode list || (count >= 0 && list.Children.Count != count))
            throw new ConfigException($"{source}:{node.Start.Line}: '{where}' must be a list of {(count >= 0 ? count.ToString(CultureInfo.InvariantCulture) + " " : "")}numbers, got {Describe(node)}");
        return list.Children.Select(n => Number(source, where, n)).ToArray();
    }

    private static TimeSpan ParseDuration(string source, string where, YamlNode node)
    {
        var text = node is YamlScalarNode { Value: { } t } ? t : throw new ConfigException($"{source}:{node.Start.Line}: '{where}' must be a duration such as 150ms or 30s, got {Describe(node)}");
        try
        {
            return RobotRuntime.Timing.SettingText.ParseDuration(where, text);
        }
        catch (ArgumentException error)
        {
            throw new ConfigException($"{source}:{node.Start.Line}: {error.Message.Split(" (Parameter", 2)[0]}");
        }
    }

    private static string Describe(YamlNode node) => node is YamlScalarNode { Value: { } text } ? $"'{text}'" : $"a {Kind(node)}";
}
