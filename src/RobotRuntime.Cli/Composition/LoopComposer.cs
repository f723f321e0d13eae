using RobotRuntime.Arm;
using RobotRuntime.Cameras;
using RobotRuntime.Cli.Runtime;
using RobotRuntime.Encoders;
using RobotRuntime.Policies;
using RobotRuntime.Runtime;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using RobotRuntime.Vision.Cameras;

namespace RobotRuntime.Cli.Composition;

/// <summary>What a policy backend made: the policy, and the encoder the loop runs for it (null: none).</summary>
/// <param name="Policy">The loop's policy.</param>
/// <param name="Encoder">The loop's encoder; the policy's <see cref="IPolicy.EmbeddingSize"/> must match it.</param>
public sealed record PolicyBuild(IPolicy Policy, IEncoder? Encoder);

/// <summary>
/// What a backend sees while the loop is composed: the validated config, its own section's extra keys,
/// what was made before it (the arm link and its description, the cameras), and the host's hooks.
/// Parts made here are owned by the composition (<see cref="Own"/>) and disposed with it.
/// </summary>
public sealed class CompositionContext
{
    private readonly List<IDisposable> _owned;

    private readonly Lazy<byte[]> _secret;

    internal CompositionContext(RunConfig config, Action<string> say, List<IDisposable> owned, Func<(double X, double Y, double Z)>? goal, Func<byte[]> secret)
    {
        Config = config;
        Say = say;
        _owned = owned;
        Goal = goal;
        _secret = new Lazy<byte[]>(secret);
        Options = SectionOptions.Empty("");
    }

    /// <summary>The run's config.</summary>
    public RunConfig Config { get; }

    /// <summary>The extra keys of the section whose backend is being made.</summary>
    public SectionOptions Options { get; internal set; }

    /// <summary>Prints a line for the operator.</summary>
    public Action<string> Say { get; }

    /// <summary>
    /// The secret shared with the arm (protocol version 2), read when a backend first asks: the host's
    /// (rr demo, rr bench), else <c>arm.key</c>'s file (or the default path). An arm link that needs no
    /// shared secret (the in-process simulator) never reads it.
    /// </summary>
    /// <exception cref="ConfigException">The key file is missing or unreadable (the message names arm.key).</exception>
    public byte[] Secret => _secret.Value;

    /// <summary>The host's goal for the scripted reach (rr demo, rr bench: the simulator's); null: <c>policy.goal</c>.</summary>
    public Func<(double X, double Y, double Z)>? Goal { get; }

    /// <summary>The arm link, once made.</summary>
    public IArmLink? Link { get; internal set; }

    /// <summary>
    /// The arm's kinematic model: <c>arm.kinematics</c>'s, else the one an arm kind knows for its arm (the
    /// simulator's), else null. The runtime's inverse kinematics solves with it.
    /// </summary>
    public RobotRuntime.Kinematics.KinematicChain? Kinematics
    {
        get => _kinematics ??= Config.ArmKinematics is { } k ? RobotRuntime.Kinematics.ArmKinematicsLibrary.Resolve(k) : null;
        set => _kinematics = Config.ArmKinematics is null ? value : _kinematics;
    }

    private RobotRuntime.Kinematics.KinematicChain? _kinematics;

    /// <summary>The arm's description, once the link has handshaken (or the recorded arm's, for rr replay).</summary>
    public ArmDescription? Arm => _recordedArm ?? Link?.Description;

    internal ArmDescription? _recordedArm;

    /// <summary>
    /// Where a recording samples the task's reward each cycle: set by an arm link that knows it (the
    /// in-process simulator, <c>arm.kind: sim</c>); null for a real arm or another process's simulator.
    /// </summary>
    public ITaskRewardSource? RewardSource { get; set; }

    /// <summary>The cameras, in the config's order, once made.</summary>
    public IReadOnlyList<ICameraSource> Cameras { get; internal set; } = [];

    /// <summary>What an encoder will be given: the number of cameras and their frame size (the cameras', unless a tool encodes frames of its own, as rr replay does).</summary>
    public (int Count, int Width, int Height) Frames =>
        _frames ?? (Cameras.Count, Cameras.Count > 0 ? Cameras[0].Width : 0, Cameras.Count > 0 ? Cameras[0].Height : 0);

    internal (int Count, int Width, int Height)? _frames;

    /// <summary>The encoder the config's <c>encoder</c> section describes (its <c>kind</c>), made on first use; null when the run has no encoder section.</summary>
    public Func<IEncoder?> ConfiguredEncoder { get; internal set; } = () => null;

    /// <summary>Hands <paramref name="part"/> to the composition, which disposes it (last made, first disposed).</summary>
    public T Own<T>(T part) where T : IDisposable
    {
        _owned.Add(part);
        return part;
    }
}

/// <summary>
/// The one composition root: turns a validated <see cref="RunConfig"/> into the loop's parts through the
/// registries the config selects from — <see cref="CameraFactory"/> (<c>cameras[].backend</c>),
/// <see cref="Encoders"/> (<c>encoder.kind</c>), <see cref="ArmLinks"/> (<c>arm.kind</c>),
/// <see cref="Policies"/> (<c>policy.kind</c>, whose agent picks a planner from
/// <see cref="RobotRuntime.Agents.Planning.Planners"/> by <c>policy.planner</c>). <c>rr run</c>, <c>rr demo</c>,
/// <c>rr bench</c> and <c>rr replay</c> all build through it.
/// </summary>
public sealed class LoopComposer : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private readonly CompositionContext _context;
    private IEncoder? _configuredEncoder;
    private bool _encoderMade;

    /// <summary>Cameras (<c>cameras[].backend</c>) are <see cref="CameraFactory"/>'s registry.</summary>
    public static Registry<IEncoder> Encoders { get; } = BuiltIns.Encoders();

    /// <summary>Arm links by <c>arm.kind</c>.</summary>
    public static Registry<IArmLink> ArmLinks { get; } = BuiltIns.ArmLinks();

    /// <summary>Policies by <c>policy.kind</c>.</summary>
    public static Registry<PolicyBuild> Policies { get; } = BuiltIns.Policies();

    /// <summary>Starts a composition of <paramref name="config"/>.</summary>
    /// <param name="config">The run's config.</param>
    /// <param name="say">Where operator lines go.</param>
    /// <param name="goal">The host's goal for the scripted reach; null: <c>policy.goal</c>.</param>
    public LoopComposer(RunConfig config, Action<string> say, Func<(double X, double Y, double Z)>? goal = null)
    {
        _context = new CompositionContext(config, say, _owned, goal, () => ReadSecret(config));
        _context.ConfiguredEncoder = () =>
        {
            if (!_encoderMade)
            {
                _encoderMade = true;
                _configuredEncoder = MakeConfiguredEncoder();
            }
            return _configuredEncoder;
        };
    }

    /// <summary>The context backends see.</summary>
    public CompositionContext Context => _context;

    /// <summary>
    /// Checks what can be checked before anything is opened or contacted: each section's kind and its
    /// keys, and each backend's own preflight. Every problem is a <see cref="ConfigException"/> naming the key.
    /// </summary>
    public void Preflight(bool camerasFromHost)
    {
        var config = _context.Config;
        // The arm link's own checks (its key file) come last, in PreflightArm: the run's other problems are named first.
        ArmLinks.Get(config.ArmKind, config.ArmOptions);
        Check(Policies, config.Policy, config.PolicyOptions);
        if (config.EncoderKind is { } kind)
            Check(Encoders, kind, config.EncoderOptions);
        if (!camerasFromHost)
        {
            for (var i = 0; i < config.Cameras.Count; i++)
            {
                var message = CameraFactory.Check(config.Cameras[i]);
                if (message is not null)
                    throw new ConfigException($"cameras[{i}] ('{config.Cameras[i].Name}'): {message}");
            }
        }

        void Check<T>(Registry<T> registry, string name, SectionOptions options)
        {
            var backend = registry.Get(name, options);
            _context.Options = options;
            backend.Preflight?.Invoke(_context);
        }
    }

    /// <summary>The arm link's own checks before it is made (the zmq link: the shared secret's key file).</summary>
    public void PreflightArm()
    {
        var config = _context.Config;
        var backend = ArmLinks.Get(config.ArmKind, config.ArmOptions);
        _context.Options = config.ArmOptions;
        backend.Preflight?.Invoke(_context);
    }

    /// <summary>The arm link <c>arm.kind</c> selects (not yet handshaken).</summary>
    public IArmLink CreateLink()
    {
        var config = _context.Config;
        var backend = ArmLinks.Get(config.ArmKind, config.ArmOptions);
        _context.Options = config.ArmOptions;
        var link = _context.Own(backend.Create(_context));
        _context.Link = link;
        return link;
    }

    /// <summary>The cameras: the host's (rr demo's in-process simulator cameras), else the config's, each by its backend.</summary>
    public IReadOnlyList<ICameraSource> CreateCameras(IReadOnlyList<ICameraSource>? fromHost = null)
    {
        var cameras = fromHost ?? [.. _context.Config.Cameras.Select((c, i) =>
        {
            try
            {
                return _context.Own(CameraFactory.Create(c));
            }
            catch (ArgumentException e)
            {
                throw new ConfigException($"cameras[{i}] ('{c.Name}'): {e.Message}");
            }
        })];
        _context.Cameras = cameras;
        return cameras;
    }

    /// <summary>
    /// For a tool that runs the policy on a recording (rr replay) instead of a live arm: the parts are made
    /// for the recorded arm's description and for cameras of the recorded names and sizes.
    /// </summary>
    public void UseRecording(ArmDescription arm, IReadOnlyList<ICameraSource> cameras)
    {
        _context._recordedArm = arm;
        _context.Cameras = cameras;
    }

    /// <summary>The policy <c>policy.kind</c> selects, and the encoder the loop runs for it.</summary>
    public PolicyBuild CreatePolicy()
    {
        var config = _context.Config;
        var backend = Policies.Get(config.Policy, config.PolicyOptions);
        _context.Options = config.PolicyOptions;
        var build = backend.Create(_context);
        _context.Own(build.Policy);
        if (build.Encoder is not null && !ReferenceEquals(build.Encoder, _configuredEncoder))
            _context.Own(build.Encoder);
        return build;
    }

    /// <summary>The safety layer for the arm the link described, with the config's limits.</summary>
    public SafetyFilter CreateSafety()
    {
        var config = _context.Config;
        var arm = _context.Arm ?? throw new InvalidOperationException("the safety layer needs the arm's description: handshake first");
        return new SafetyFilter(new SafetyFilterOptions
        {
            Arm = arm,
            CyclePeriod = TimeSpan.FromSeconds(1 / config.RateHz),
            JointPositionMargin = config.JointMargin,
            MaxFrameAge = _context.Cameras.Count > 0 ? config.MaxFrameAge : null,
            MaxArmStateAge = config.MaxArmStateAge,
            MaxConsecutiveDeadlineMisses = config.MaxDeadlineMisses,
            CommandExpiry = TimeSpan.FromSeconds(1 / config.RateHz),
            Workspace = config.Workspace is { } w ? new WorkspaceBox(w[0], w[1], w[2], w[3], w[4], w[5]) : null,
        });
    }

    /// <summary>The loop over the parts made, with the config's rate (and its <c>degrade</c> steps), ages and encoding pipeline.</summary>
    /// <exception cref="ConfigException">The loop's period, or the lowest <c>degrade</c> rate's, is not shorter than the arm's watchdog.</exception>
    public ControlLoop CreateLoop(PolicyBuild build, SafetyFilter safety, RunLogWriter? log, LiveStatusBoard? board,
        RealTimeRequest? realTime = null, CycleRecordRing? cycleRecords = null, RecordingRing? recording = null)
    {
        var config = _context.Config;
        var degrade = config.Degrade;
        if (_context.Arm is { WatchdogMilliseconds: > 0 } described && 1000 / config.RateHz >= described.WatchdogMilliseconds)
            throw new ConfigException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"rate_hz: {config.RateHz} Hz is a {1000 / config.RateHz:0.#} ms period, not shorter than the arm's watchdog ({described.WatchdogMilliseconds} ms): the arm would hold on its own between two commands; run above {1000.0 / described.WatchdogMilliseconds:0.#} Hz"));
        if (degrade is not null && _context.Arm is { } arm && degrade.CheckAgainstWatchdog(arm.WatchdogMilliseconds) is { } tooSlow)
            throw new ConfigException("degrade.rates_hz: " + tooSlow);
        return _context.Own(new ControlLoop(new ControlLoopOptions
        {
            RateHz = config.RateHz, MaxFrameAge = config.MaxFrameAge, FramePairingTolerance = config.FrameSkewLimit, MaxArmStateAge = config.MaxArmStateAge, RealTime = realTime,
            PipelineEncoding = config.PipelineEncoding, CycleRecords = cycleRecords, Degrade = degrade, Recording = recording,
        }, _context.Cameras, build.Encoder, build.Policy, safety, _context.Link!, log, board));
    }

    /// <summary>
    /// The encoder of the config's <c>encoder</c> section for frames of a tool's own (rr replay encodes a
    /// recording's frames, camera by camera): owned by the caller. Null when the config has no encoder.
    /// </summary>
    public IEncoder? CreateEncoder(int cameras, int width, int height)
    {
        var config = _context.Config;
        if (config.EncoderKind is not { } kind)
            return null;
        var backend = Encoders.Get(kind, config.EncoderOptions);
        _context.Options = config.EncoderOptions;
        _context._frames = (cameras, width, height);
        try
        {
            return backend.Create(_context);
        }
        finally
        {
            _context._frames = null;
        }
    }

    /// <summary>The secret shared with the arm: the host's (<see cref="RunConfig.ArmSecret"/>), else the key file's (arm.key, or the default path).</summary>
    private static byte[] ReadSecret(RunConfig config)
    {
        if (config.ArmSecret is { } secret)
            return secret;
        try
        {
            return Transport.Firmware.ArmKeyFile.Read(config.ArmKey ?? Transport.Firmware.ArmKeyFile.DefaultPath);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new ConfigException("arm.key: " + e.Message);
        }
    }

    private IEncoder? MakeConfiguredEncoder()
    {
        var config = _context.Config;
        if (config.EncoderKind is not { } kind)
            return null;
        var backend = Encoders.Get(kind, config.EncoderOptions);
        var previous = _context.Options;
        _context.Options = config.EncoderOptions;
        try
        {
            return _context.Own(backend.Create(_context));
        }
        finally
        {
            _context.Options = previous;
        }
    }

    /// <summary>Disposes everything made, last first.</summary>
    public void Dispose()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
            _owned[i].Dispose();
        _owned.Clear();
    }
}
