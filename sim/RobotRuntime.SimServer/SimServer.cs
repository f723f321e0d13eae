using System.Security.Cryptography;
using RobotRuntime.Arm;
using RobotRuntime.Cameras;
using RobotRuntime.Environments;
using RobotRuntime.Sim.Tabletop;
using RobotRuntime.Timing;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Vision.Cameras;

namespace RobotRuntime.SimServer;

/// <summary>Where a running sim-server is bound (wildcard ports resolved).</summary>
/// <param name="State">STATE publisher; empty when the arm is in-process (<see cref="ArmTransport.InProcess"/>).</param>
/// <param name="Command">COMMAND subscriber; empty when the arm is in-process.</param>
/// <param name="Control">Control replier; empty when the arm is in-process.</param>
/// <param name="Cameras">Camera stream publishers by camera name ("front", "wrist"); empty when the cameras are off.</param>
/// <param name="Session">The simulated arm's session number.</param>
/// <param name="Secret">The secret the server shares with its controller (protocol version 2): the one it was given, or the one it made for an in-process host.</param>
public sealed record SimServerEndpoints(string State, string Command, string Control, IReadOnlyDictionary<string, string> Cameras, uint Session, byte[] Secret)
{
    /// <summary>How the arm's channels are carried: ZeroMQ sockets at <see cref="State"/>, <see cref="Command"/> and
    /// <see cref="Control"/>, or in process (<see cref="SimServerHost.ConnectInProcess"/>).</summary>
    public ArmTransport ArmTransport { get; init; }

    /// <summary>
    /// Settings for a <see cref="ZmqArmLink"/> that talks to (and may claim) this server. Of no use when the
    /// arm is in-process (its addresses are empty, which <see cref="ZmqArmLinkSettings.Validate"/> refuses).
    /// </summary>
    public ZmqArmLinkSettings LinkSettings => new() { StateAddress = State, CommandAddress = Command, ControlAddress = Control, Secret = Secret };
}

/// <summary>The task as the simulation sees it: privileged state for tests and evaluation, never sent to the runtime.</summary>
/// <param name="SimulationTime">Simulation time, s.</param>
/// <param name="Reward">Dense reward of the task now.</param>
/// <param name="IsSuccess">The task's success condition holds now.</param>
/// <param name="EverSucceeded">The success condition held at some sample since the start.</param>
/// <param name="GoalDistance">Distance to success, m.</param>
/// <param name="Goal">Where the fingertip must go (reach target, peek pad) or the puck's goal (push), m.</param>
/// <param name="Object">The puck's (push) or cube's (pick-place) position; the goal again for the other tasks, m.</param>
/// <param name="Tip">The fingertip, m.</param>
public readonly record struct SimTaskSnapshot(
    double SimulationTime, double Reward, bool IsSuccess, bool EverSucceeded, double GoalDistance,
    (double X, double Y, double Z) Goal, (double X, double Y, double Z) Object, (double X, double Y, double Z) Tip);

/// <summary>Counters of a running sim-server.</summary>
/// <param name="StatesPublished">STATE frames sent.</param>
/// <param name="FramesPublished">Camera frames sent, all cameras.</param>
/// <param name="FramesDropped">Camera frames rendered but withheld by the injected drop probability.</param>
/// <param name="CommandsApplied">Commands applied to the simulation.</param>
/// <param name="CommandsRejected">COMMAND frames rejected.</param>
/// <param name="WatchdogTrips">Times the watchdog put the arm in hold.</param>
/// <param name="PhysicsStepsSkipped">Physics steps skipped because the process fell behind the wall clock.</param>
/// <param name="StateDeadlinesMissed">State deadlines that came more than a period late.</param>
/// <param name="CommandsExpired">Of <paramref name="CommandsRejected"/>, those that came after their expiry (the sender was late).</param>
public readonly record struct SimServerStatistics(
    long StatesPublished, long FramesPublished, long FramesDropped, long CommandsApplied, long CommandsRejected,
    long WatchdogTrips, long PhysicsStepsSkipped, long StateDeadlinesMissed, long CommandsExpired = 0);

/// <summary>
/// The simulator as an arm: binds the firmware protocol's three sockets (firmware-interfaces/PROTOCOL.md)
/// — or, with <see cref="ArmTransport.InProcess"/>, none, serving one <see cref="InProcessArmLink"/> the same
/// frames in memory — and one camera stream publisher per camera (CAMERA-STREAM.md), steps MuJoCo to wall-clock
/// deadlines, and behaves as the reference arm (firmware-interfaces/endpoint/rr_arm_endpoint.c) does:
/// handshake, STATE at a fixed rate and after each applied command, COMMANDs checked in the
/// protocol's order and applied only when valid, watchdog hold, enable/disable/e-stop/reset, fault
/// reports. Injects sensor and actuation delay with jitter and camera frame drops on request.
/// </summary>
/// <remarks>
/// <see cref="Run"/> owns the simulation, its GL context and every socket on the calling thread until
/// cancelled. <see cref="Endpoints"/>, <see cref="Snapshot"/>, <see cref="Statistics"/>,
/// <see cref="WaitUntilReady"/> and <see cref="ConnectInProcess"/> may be called from any thread.
/// </remarks>
public sealed class SimServer
{
    private const int ReceiveMaxWaitMilliseconds = 20;

    private readonly SimServerOptions _options;
    private readonly TextWriter _output;
    private readonly TextWriter _log;
    private readonly ManualResetEventSlim _ready = new();
    private readonly Lock _gate = new();
    private SimTaskSnapshot _snapshot;
    private bool _observed; // _snapshot holds a sample (under _gate)
    private SimServerStatistics _statistics;
    private volatile SimServerEndpoints? _endpoints;
    private volatile bool _finished;

    // The firmware's side of the protocol (sessions, claim, checks, watchdog, counters) lives in
    // ArmFirmware; this class keeps the sockets, the pacing, the delay lines and the cameras.
    private readonly byte[] _secret;
    private ArmFirmware _firmware = null!;
    private long _statesPublished, _deadlinesMissed;
    private bool _everSucceeded, _wasSuccess;
    private int _episode;
    private TabletopEnvironment? _environment;

    /// <summary>Checks the options; nothing is bound or loaded until <see cref="Run"/>.</summary>
    /// <param name="options">What to simulate and where.</param>
    /// <param name="output">Where the ready line (endpoints) goes: stdout in <c>rr sim-server</c>.</param>
    /// <param name="log">Where log lines (handshakes, holds, rejections, task success) go: stderr in <c>rr sim-server</c>.</param>
    /// <exception cref="ArgumentException">An option is not usable (the message names it and what is valid).</exception>
    public SimServer(SimServerOptions options, TextWriter output, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _output = output;
        _log = log;
        // No secret given: an in-process host (tests, rr demo, rr bench) gets one made here, shared
        // through Endpoints.LinkSettings (or with the in-process link) and never written anywhere.
        _secret = options.Secret is { } secret ? (byte[])secret.Clone() : System.Security.Cryptography.RandomNumberGenerator.GetBytes(FirmwareCodec.KeySize);
        _inProcessArm = options.ArmTransport == ArmTransport.InProcess ? new InProcessArmPort(_secret) : null;
        _localCameras = options.CameraRateHz > 0
            ? TabletopScene.CameraNames.ToDictionary(name => name, name => new PushCameraSource(name, options.CameraWidth, options.CameraHeight))
            : new Dictionary<string, PushCameraSource>();
        LocalCameras = _localCameras.ToDictionary(pair => pair.Key, pair => (ICameraSource)pair.Value);
    }

    private readonly Dictionary<string, PushCameraSource> _localCameras;
    private readonly InProcessArmPort? _inProcessArm;

    /// <summary>
    /// Attaches the in-process arm link (<see cref="ArmTransport.InProcess"/>): the runtime's side of the
    /// firmware protocol exchanging its frames with this server in memory. Like a <see cref="ZmqArmLink"/>
    /// just made, it has not handshaken: call <see cref="IArmLink.Handshake"/> to read the description and
    /// claim the arm with the server's secret. Allowed before, while and after the server runs.
    /// </summary>
    /// <param name="settings">Link timeout, command lifetime and the rest; null: the defaults.</param>
    /// <exception cref="InvalidOperationException">The server binds arm sockets instead, or an in-process link is
    /// attached already (one at a time: dispose it first).</exception>
    /// <exception cref="ArgumentException">A setting is not usable (the message names it).</exception>
    /// <remarks>Setup only; any thread.</remarks>
    public InProcessArmLink ConnectInProcess(InProcessArmLinkSettings? settings = null)
    {
        if (_inProcessArm is null)
            throw new InvalidOperationException(
                $"this sim-server binds arm sockets ({nameof(SimServerOptions.ArmTransport)} = {_options.ArmTransport}): connect a ZmqArmLink to " +
                $"{nameof(Endpoints)}.{nameof(SimServerEndpoints.LinkSettings)}, or start the server with {nameof(SimServerOptions.ArmTransport)} = {nameof(ArmTransport.InProcess)}");
        return _inProcessArm.Connect(settings ?? new InProcessArmLinkSettings());
    }

    /// <summary>
    /// The cameras as in-process sources, by name ("front", "wrist"); empty when the cameras are off.
    /// Each gets the same frames as its ZeroMQ stream, after the same injected delay and drops, so a
    /// runtime in this process can read the simulator without a socket. Call <c>Start</c> on the
    /// ones you read; <see cref="SimServerHost"/> disposes them.
    /// </summary>
    public IReadOnlyDictionary<string, ICameraSource> LocalCameras { get; }

    internal void DisposeLocalCameras()
    {
        foreach (var camera in _localCameras.Values)
            camera.Dispose();
    }

    /// <summary>The options the server runs with.</summary>
    public SimServerOptions Options => _options;

    /// <summary>Where the server is bound; null until it is ready.</summary>
    public SimServerEndpoints? Endpoints => _endpoints;

    /// <summary>Waits until the sockets are bound (true) or <see cref="Run"/> ended first or the timeout passed (false).</summary>
    public bool WaitUntilReady(TimeSpan timeout)
    {
        _ready.Wait(timeout);
        return _endpoints is not null && !_finished;
    }

    /// <summary>The task's privileged state as of the newest state sample.</summary>
    public SimTaskSnapshot Snapshot
    {
        get
        {
            lock (_gate)
                return _snapshot;
        }
    }

    /// <summary>
    /// <see cref="Snapshot"/> without waiting: false (and default) when the simulation's thread is
    /// writing it at this moment, or before its first sample.
    /// </summary>
    /// <remarks>Real-time: no allocation, no blocking. For a recording that samples the reward every control cycle.</remarks>
    public bool TryGetSnapshot(out SimTaskSnapshot snapshot)
    {
        if (!_gate.TryEnter())
        {
            snapshot = default;
            return false;
        }
        try
        {
            snapshot = _snapshot;
            return _observed;
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <summary>Counters as of the newest state sample.</summary>
    public SimServerStatistics Statistics
    {
        get
        {
            lock (_gate)
                return _statistics;
        }
    }

    /// <summary>
    /// Loads the scene, binds the sockets, prints the ready line and serves until
    /// <paramref name="cancellation"/> is cancelled; then closes everything.
    /// </summary>
    /// <exception cref="ArgumentException">An endpoint cannot be bound (the message names the option).</exception>
    /// <exception cref="Sim.SimulatorException">MuJoCo or the GL context failed.</exception>
    /// <remarks>Blocks the calling thread, which becomes the simulation's thread.</remarks>
    public void Run(CancellationToken cancellation)
    {
        try
        {
            Serve(cancellation);
        }
        finally
        {
            _finished = true;
            _inProcessArm?.Stop();
            _ready.Set();
        }
    }

    private void Serve(CancellationToken cancellation)
    {
        var o = _options;
        var cameras = o.CameraRateHz > 0;
        using var environment = new TabletopEnvironment(new TabletopEnvironmentOptions(
            o.Task, ActionMode.EndEffectorDelta, o.CameraWidth, o.CameraHeight, o.Shift, RenderImages: cameras, Arm: o.Arm));
        environment.Reset(o.Seed);
        _environment = environment;
        var arm = new SimulatedArm(environment, MonotonicClock.NowNanoseconds);

        var session = NewSession();
        var modes = SimulatedArm.Modes(environment.Arm);
        var description = new ArmDescription(session, FirmwareCodec.Version, SimulatedArm.Limits(environment.Arm), modes,
            Math.Min(o.StateRateHz, ushort.MaxValue), o.WatchdogMilliseconds,
            modes.Contains(ArmCommandMode.EndEffectorDelta) ? TabletopEnvironment.MaxEndEffectorStep : 0.0, 0.0)
        {
            // Both simulated arms carry a gripper (toy4 two fingers, ur5e an 85 mm parallel one): DESCRIPTION bit 3.
            HasGripper = environment.Arm.Layout.HasGripper,
        };

        // Jitter and drops are seeded, so a run with the same options injects the same faults.
        var faultRandom = new Random(HashCode.Combine(o.Seed, 0x5157));
        var stateLine = new DelayLine<ArmState>(4096, o.SensorDelay, o.SensorJitter, faultRandom);
        var actuationLine = new DelayLine<ArmCommand>(1024, o.ActuationDelay, o.ActuationJitter, faultRandom);
        var actuator = new SimulatedActuator(this, arm, actuationLine);
        var firmware = _firmware = new ArmFirmware(new ArmFirmwareOptions(description, _secret, o.ClaimLeaseMilliseconds, o.Quiet ? null : Log), actuator);

        // Sockets, or the in-process port (which stops, for any link attached, when this ends).
        using var channels = _inProcessArm ?? (IArmChannels)new ZmqArmChannels(o);
        var cameraSet = cameras ? new CameraSet(o, faultRandom, _localCameras) : null;
        try
        {
            var endpoints = new SimServerEndpoints(channels.StateEndpoint, channels.CommandEndpoint, channels.ControlEndpoint,
                cameraSet?.Endpoints ?? new Dictionary<string, string>(), session, _secret) { ArmTransport = o.ArmTransport };
            _endpoints = endpoints;
            var cameraText = string.Concat(endpoints.Cameras.Select(c => $" camera-{c.Key}={c.Value}"));
            var armText = _inProcessArm is not null ? "arm=in-process" : $"state={endpoints.State} command={endpoints.Command} control={endpoints.Control}";
            _output.WriteLine($"rr sim-server: ready session={session:X8} arm={o.Arm} task={o.Task} shift={o.Shift} seed={o.Seed} joints={arm.JointCount} " +
                $"state-rate={o.StateRateHz} watchdog-ms={o.WatchdogMilliseconds} {armText}{cameraText}");
            _output.Flush();
            LogGoal(environment);
            _ready.Set();

            var sendBuffer = new byte[FirmwareCodec.MaxFrame];
            var statePeriod = 1_000_000_000L / o.StateRateHz;
            var start = MonotonicClock.NowNanoseconds;
            var nextState = start;
            var framePeriod = cameras ? (long)(1e9 / o.CameraRateHz) : long.MaxValue;
            var nextFrame = cameras ? start : long.MaxValue;
            ArmState sample = default;

            while (!cancellation.IsCancellationRequested)
            {
                var now = MonotonicClock.NowNanoseconds;
                arm.AdvanceTo(now);
                firmware.ReportMeasuredFaults(arm.AtJointLimit, arm.OverEffort, "an actuator exceeded its joint's effort limit");

                // Latest-only (CONFLATE, or its in-process slot): usually one COMMAND, the newest sent.
                while (channels.TryReceiveCommand(out var commandFrame))
                    if (firmware.ReceiveCommand(commandFrame, now, out var accepted) == FrameStatus.Ok)
                        actuationLine.Enqueue(accepted, now);
                while (channels.TryReceiveControl(out var request))
                {
                    var length = firmware.ReceiveControl(request, now, sendBuffer);
                    if (length > 0)
                        channels.Reply(sendBuffer.AsSpan(0, length));
                }

                var applied = false;
                while (actuationLine.TryDequeueDue(now, out var command))
                    applied |= firmware.Apply(in command);
                firmware.Tick(now);

                if (now >= nextState || applied)
                {
                    Sample(arm, environment, now, ref sample);
                    stateLine.Enqueue(sample, now);
                    if (now >= nextState)
                    {
                        if (now - nextState > statePeriod)
                            _deadlinesMissed++;
                        nextState = now - nextState > statePeriod ? now + statePeriod : nextState + statePeriod;
                    }
                }
                if (cameraSet is not null && now >= nextFrame)
                {
                    cameraSet.Capture(environment, now);
                    nextFrame = now - nextFrame > framePeriod ? now + framePeriod : nextFrame + framePeriod;
                }

                now = MonotonicClock.NowNanoseconds;
                while (stateLine.TryDequeueDue(now, out var due))
                {
                    var length = FirmwareCodec.EncodeState(sendBuffer, due);
                    if (length > 0 && channels.TryPublishState(sendBuffer.AsSpan(0, length)))
                        _statesPublished++;
                }
                cameraSet?.PublishDue(now);
                PublishStatistics(arm, cameraSet);

                var wake = Math.Min(Math.Min(nextState, nextFrame), Math.Min(stateLine.NextDue, actuationLine.NextDue));
                wake = Math.Min(wake, cameraSet?.NextDue ?? long.MaxValue);
                wake = Math.Min(wake, firmware.WatchdogDeadlineNs);
                var waitNs = wake - MonotonicClock.NowNanoseconds;
                // zmq_poll (and the in-process port's event) count whole milliseconds: round up, so a deadline
                // is met up to 1 ms late, never early. A COMMAND or request that arrives wakes the wait at once.
                var waitMs = waitNs <= 0 ? 0 : (int)Math.Min(ReceiveMaxWaitMilliseconds, (waitNs + 999_999) / 1_000_000);
                if (waitMs > 0)
                    channels.WaitForInput(waitMs);
            }
            if (!_options.Quiet)
                Log($"stopped: {firmware.CommandsApplied} commands applied, {firmware.CommandsRejected} rejected, {firmware.WatchdogTrips} watchdog trips, " +
                    $"{_statesPublished} states and {cameraSet?.Published ?? 0} frames published ({cameraSet?.Dropped ?? 0} frames dropped on purpose)");
        }
        finally
        {
            cameraSet?.Dispose();
        }
    }

    private static uint NewSession()
    {
        uint session;
        do
            session = BitConverter.ToUInt32(RandomNumberGenerator.GetBytes(4));
        while (session == 0);
        return session;
    }

    // ---- log -------------------------------------------------------------------------------------

    private void Log(string line)
    {
        _log.WriteLine($"rr sim-server: {line}");
        _log.Flush();
    }

    /// <summary>Episode k (0 first) runs with seed + k, so every RESET gives a new, reproducible scene.</summary>
    private int EpisodeSeed => _options.Seed + _episode;

    private void LogGoal(TabletopEnvironment environment)
    {
        var snapshot = Observe(environment, 0);
        lock (_gate)
        {
            _snapshot = snapshot;
            _observed = true;
        }
        if (!_options.Quiet)
            Log($"episode: {_episode}, task {_options.Task}, seed {EpisodeSeed}, goal ({snapshot.Goal.X:0.000}, {snapshot.Goal.Y:0.000}, {snapshot.Goal.Z:0.000}) m, " +
                $"object ({snapshot.Object.X:0.000}, {snapshot.Object.Y:0.000}, {snapshot.Object.Z:0.000}) m, fingertip ({snapshot.Tip.X:0.000}, {snapshot.Tip.Y:0.000}, {snapshot.Tip.Z:0.000}) m");
    }

    private void Sample(SimulatedArm arm, TabletopEnvironment environment, long now, ref ArmState state)
    {
        _firmware.FillState(ref state, now, arm.Measure(ref state));

        var snapshot = Observe(environment, arm.Time);
        if (snapshot.IsSuccess != _wasSuccess && !_options.Quiet)
            Log(snapshot.IsSuccess
                ? $"task {_options.Task}: success at {snapshot.SimulationTime:0.00} s (goal distance {snapshot.GoalDistance:0.000} m)"
                : $"task {_options.Task}: success lost at {snapshot.SimulationTime:0.00} s (goal distance {snapshot.GoalDistance:0.000} m)");
        _wasSuccess = snapshot.IsSuccess;
        lock (_gate)
        {
            _snapshot = snapshot;
            _observed = true;
        }
    }

    private SimTaskSnapshot Observe(TabletopEnvironment environment, double time)
    {
        var scene = environment.Scene;
        var status = environment.Task.Evaluate(scene);
        _everSucceeded |= status.IsSuccess;
        (double, double, double) goal, item;
        switch (environment.Task)
        {
            case ReachTask reach:
                goal = item = reach.Target(scene);
                break;
            case PushTask push:
                var (gx, gy) = push.Goal(scene);
                goal = (gx, gy, 0.0);
                item = push.Puck(scene);
                break;
            case PeekTask peek:
                var (px, py) = peek.Pad(scene);
                goal = item = (px, py, 0.015);
                break;
            case PickPlaceTask pick:
                goal = pick.Goal(scene);
                item = pick.Cube(scene);
                break;
            default:
                goal = item = (double.NaN, double.NaN, double.NaN);
                break;
        }
        return new SimTaskSnapshot(time, status.Reward, status.IsSuccess, _everSucceeded, status.GoalDistance, goal, item, scene.Tip);
    }

    private void PublishStatistics(SimulatedArm arm, CameraSet? cameras)
    {
        var statistics = new SimServerStatistics(_statesPublished, cameras?.Published ?? 0, cameras?.Dropped ?? 0, _firmware.CommandsApplied,
            _firmware.CommandsRejected, _firmware.WatchdogTrips, arm.StepsSkipped, _deadlinesMissed, _firmware.RejectedFor(FrameStatus.Expired));
        lock (_gate)
            _statistics = statistics;
    }

    // ---- the simulation as the firmware's arm ---------------------------------------------------

    /// <summary>The firmware's view of the simulated arm: hold, brake and drive MuJoCo; RESET starts the next episode.</summary>
    private sealed class SimulatedActuator(SimServer server, SimulatedArm arm, DelayLine<ArmCommand> actuation) : IArmActuator
    {
        public void Hold()
        {
            arm.HoldHere();
            actuation.Clear();
        }

        public void Brake()
        {
            arm.Brake();
            actuation.Clear();
        }

        public void Apply(in ArmCommand command, bool fromMeasuredPose)
        {
            if (command.Mode == ArmCommandMode.JointPosition)
                arm.SetJointTargets(((ReadOnlySpan<double>)command.Values)[..arm.JointCount], command.GripperTarget);
            else
                arm.MoveEndEffector(command.Values[0], command.Values[1], command.Values[2], command.GripperTarget, fromMeasuredPose);
        }

        public void OnReset()
        {
            server.StartNextEpisode();
            // Hold at the new episode's start pose, not where the last episode left the targets.
            arm.HoldHere();
            actuation.Clear();
        }
    }

    /// <summary>
    /// The simulator's RESET also starts the next episode: a new seeded scene, the arm at its start pose
    /// (a real arm stays where it is; the protocol only promises the cleared faults and the disabled
    /// state, which hold for both).
    /// </summary>
    private void StartNextEpisode()
    {
        _episode++;
        _environment!.Reset(EpisodeSeed);
        _everSucceeded = false;
        _wasSuccess = false;
        if (!_options.Quiet)
            Log("new episode");
        LogGoal(_environment);
    }
}
