using System.Security.Cryptography;
using RobotRuntime.Arm;
using RobotRuntime.Cameras;
using RobotRuntime.Environments;
using RobotRuntime.Sim.Tabletop;
using RobotRuntime.Timing;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;
using RobotRuntime.Vision.Cameras;

namespace RobotRuntime.SimServer;

/// <summary>Where a running sim-server is bound (wildcard ports resolved).</summary>
/// <param name="State">STATE publisher.</param>
/// <param name="Command">COMMAND subscriber.</param>
/// <param name="Control">Control replier.</param>
/// <param name="Cameras">Camera stream publishers by camera name ("front", "wrist"); empty when the cameras are off.</param>
/// <param name="Session">The simulated arm's session number.</param>
/// <param name="Secret">The secret the server shares with its controller (protocol version 2): the one it was given, or the one it made for an in-process host.</param>
public sealed record SimServerEndpoints(string State, string Command, string Control, IReadOnlyDictionary<string, string> Cameras, uint Session, byte[] Secret)
{
    /// <summary>Settings for a <see cref="ZmqArmLink"/> that talks to (and may claim) this server.</summary>
    public ZmqArmLinkSettings LinkSettings => new() { StateAddress = State, CommandAddress = Command, ControlAddress = Control, Secret = Secret };
}

/// <summary>The task as the simulation sees it: privileged state for tests and evaluation, never sent to the runtime.</summary>
/// <param name="SimulationTime">Simulation time, s.</param>
/// <param name="Reward">Dense reward of the task now.</param>
/// <param name="IsSuccess">The task's success condition holds now.</param>
/// <param name="EverSucceeded">The success condition held at some sample since the start.</param>
/// <param name="GoalDistance">Distance to success, m.</param>
/// <param name="Goal">Where the fingertip must go (reach target, peek pad) or the puck's goal (push), m.</param>
/// <param name="Object">The puck's position (push); the goal again for the other tasks, m.</param>
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
public readonly record struct SimServerStatistics(
    long StatesPublished, long FramesPublished, long FramesDropped, long CommandsApplied, long CommandsRejected,
    long WatchdogTrips, long PhysicsStepsSkipped, long StateDeadlinesMissed);

/// <summary>
/// The simulator as an arm: binds the firmware protocol's three sockets (firmware-interfaces/PROTOCOL.md)
/// and one camera stream publisher per camera (CAMERA-STREAM.md), steps MuJoCo to wall-clock
/// deadlines, and behaves as the reference arm (firmware-interfaces/endpoint/rr_arm_endpoint.c) does:
/// handshake, STATE at a fixed rate and after each applied command, COMMANDs checked in the
/// protocol's order and applied only when valid, watchdog hold, enable/disable/e-stop/reset, fault
/// reports. Injects sensor and actuation delay with jitter and camera frame drops on request.
/// </summary>
/// <remarks>
/// <see cref="Run"/> owns the simulation, its GL context and every socket on the calling thread until
/// cancelled. <see cref="Endpoints"/>, <see cref="Snapshot"/>, <see cref="Statistics"/> and
/// <see cref="WaitUntilReady"/> may be called from any thread.
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
    private SimServerStatistics _statistics;
    private volatile SimServerEndpoints? _endpoints;
    private volatile bool _finished;

    // Firmware state: the same fields as the reference arm's.
    private uint _session;
    private ArmDescription _description = null!;
    private bool _enabled, _estop;
    private ArmFaultFlags _faults;
    private ArmHoldReason _holdReason = ArmHoldReason.Disabled;
    private ArmCommandMode _mode;
    private long _lastValidCommandNs;
    private bool _haveCommandSequence;
    private uint _lastCommandSequenceSeen, _lastCommandSequenceApplied;
    // The controller holding the arm (protocol version 2): its client id, its key, when its last valid
    // authenticated frame arrived, and the highest authenticated control sequence of this arm session.
    private readonly byte[] _secret;
    private uint _claimant;
    private readonly byte[] _claimKey = new byte[FirmwareCodec.KeySize];
    private long _claimLastNs;
    private uint _lastControlSequence;
    private readonly uint[] _rejected = new uint[FirmwareCodec.StatusCount];
    private uint _commandsRejected, _commandsApplied, _watchdogTrips;
    private uint _stateSequence, _replySequence;
    private bool _moving;
    private long _statesPublished, _deadlinesMissed;
    private bool _everSucceeded, _wasSuccess;
    private int _episode;
    private TabletopEnvironment? _environment;
    private DelayLine<ArmCommand> _actuation = null!;

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
        // through Endpoints.LinkSettings and never written anywhere.
        _secret = options.Secret is { } secret ? (byte[])secret.Clone() : System.Security.Cryptography.RandomNumberGenerator.GetBytes(FirmwareCodec.KeySize);
        _localCameras = options.CameraRateHz > 0
            ? TabletopScene.CameraNames.ToDictionary(name => name, name => new PushCameraSource(name, options.CameraWidth, options.CameraHeight))
            : new Dictionary<string, PushCameraSource>();
        LocalCameras = _localCameras.ToDictionary(pair => pair.Key, pair => (ICameraSource)pair.Value);
    }

    private readonly Dictionary<string, PushCameraSource> _localCameras;

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
            _ready.Set();
        }
    }

    private void Serve(CancellationToken cancellation)
    {
        var o = _options;
        var cameras = o.CameraRateHz > 0;
        using var environment = new TabletopEnvironment(new TabletopEnvironmentOptions(
            o.Task, ActionMode.EndEffectorDelta, o.CameraWidth, o.CameraHeight, o.Shift, RenderImages: cameras));
        environment.Reset(o.Seed);
        _environment = environment;
        var arm = new SimulatedArm(environment, MonotonicClock.NowNanoseconds);

        _session = NewSession();
        _description = new ArmDescription(_session, FirmwareCodec.Version, SimulatedArm.Limits(),
            new HashSet<ArmCommandMode> { ArmCommandMode.JointPosition, ArmCommandMode.EndEffectorDelta },
            Math.Min(o.StateRateHz, ushort.MaxValue), o.WatchdogMilliseconds,
            TabletopEnvironment.MaxEndEffectorStep, 0.0);

        // Jitter and drops are seeded, so a run with the same options injects the same faults.
        var faultRandom = new Random(HashCode.Combine(o.Seed, 0x5157));
        var stateLine = new DelayLine<ArmState>(4096, o.SensorDelay, o.SensorJitter, faultRandom);
        var actuationLine = _actuation = new DelayLine<ArmCommand>(1024, o.ActuationDelay, o.ActuationJitter, faultRandom);

        using var context = ZmqContext.Create();
        using var stateSocket = Bind(context, ZmqSocketType.Publisher, o.StateEndpoint, "--state", o.CurveKeys);
        using var commandSocket = Bind(context, ZmqSocketType.Subscriber, o.CommandEndpoint, "--command", o.CurveKeys);
        using var controlSocket = Bind(context, ZmqSocketType.Reply, o.ControlEndpoint, "--control", o.CurveKeys);
        using var message = new ZmqMessage();
        var cameraSet = cameras ? new CameraSet(o, faultRandom, _localCameras) : null;
        try
        {
            var endpoints = new SimServerEndpoints(stateSocket.LastEndpoint, commandSocket.LastEndpoint, controlSocket.LastEndpoint,
                cameraSet?.Endpoints ?? new Dictionary<string, string>(), _session, _secret);
            _endpoints = endpoints;
            var cameraText = string.Concat(endpoints.Cameras.Select(c => $" camera-{c.Key}={c.Value}"));
            _output.WriteLine($"rr sim-server: ready session={_session:X8} task={o.Task} shift={o.Shift} seed={o.Seed} joints={SimulatedArm.JointCount} " +
                $"state-rate={o.StateRateHz} watchdog-ms={o.WatchdogMilliseconds} state={endpoints.State} command={endpoints.Command} control={endpoints.Control}{cameraText}");
            _output.Flush();
            LogGoal(environment);
            _ready.Set();

            var sendBuffer = new byte[FirmwareCodec.MaxFrame];
            var statePeriod = 1_000_000_000L / o.StateRateHz;
            var start = MonotonicClock.NowNanoseconds;
            var nextState = start;
            var framePeriod = cameras ? (long)(1e9 / o.CameraRateHz) : long.MaxValue;
            var nextFrame = cameras ? start : long.MaxValue;
            ZmqSocket[] pollSet = [commandSocket, controlSocket];
            ArmState sample = default;

            while (!cancellation.IsCancellationRequested)
            {
                var now = MonotonicClock.NowNanoseconds;
                arm.AdvanceTo(now);
                CheckArmFaults(arm);

                while (commandSocket.TryReceive(message) == ZmqReceiveStatus.Received)
                    HandleCommand(message.Data, now, actuationLine);
                while (controlSocket.TryReceive(message) == ZmqReceiveStatus.Received)
                    HandleControl(message.Data, now, arm, actuationLine, controlSocket, sendBuffer);

                var applied = false;
                while (actuationLine.TryDequeueDue(now, out var command))
                    applied |= Apply(command, now, arm);
                CheckWatchdog(now, arm, actuationLine);

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
                    // WouldBlock is fine: state is latest-only.
                    if (length > 0 && stateSocket.TrySend(sendBuffer.AsSpan(0, length)) == ZmqSendStatus.Sent)
                        _statesPublished++;
                }
                cameraSet?.PublishDue(now);
                PublishStatistics(arm, cameraSet);

                var wake = Math.Min(Math.Min(nextState, nextFrame), Math.Min(stateLine.NextDue, actuationLine.NextDue));
                wake = Math.Min(wake, cameraSet?.NextDue ?? long.MaxValue);
                if (_enabled && !_estop && _holdReason == ArmHoldReason.None)
                    wake = Math.Min(wake, _lastValidCommandNs + o.WatchdogMilliseconds * 1_000_000L + 1);
                var waitNs = wake - MonotonicClock.NowNanoseconds;
                // zmq_poll counts whole milliseconds: round up, so a deadline is met up to 1 ms late, never early.
                var waitMs = waitNs <= 0 ? 0 : (int)Math.Min(ReceiveMaxWaitMilliseconds, (waitNs + 999_999) / 1_000_000);
                if (waitMs > 0)
                    ZmqPoll.WaitReadable(pollSet, waitMs);
            }
            if (!_options.Quiet)
                Log($"stopped: {_commandsApplied} commands applied, {_commandsRejected} rejected, {_watchdogTrips} watchdog trips, " +
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

    private static ZmqSocket Bind(ZmqContext context, ZmqSocketType type, string endpoint, string option, CurveKeyPair? curve)
    {
        var socket = ZmqSocket.Create(context, type);
        try
        {
            if (curve is not null)
                socket.SetCurveServer(curve);
            if (type != ZmqSocketType.Reply)
                socket.SetConflate(true);
            if (type != ZmqSocketType.Publisher)
                socket.SetMaxMessageSize(FirmwareCodec.SocketMaxMessage);
            if (type == ZmqSocketType.Subscriber)
                socket.Subscribe([]);
            if (type == ZmqSocketType.Reply)
                socket.SetSendTimeout(0);
            socket.Bind(endpoint);
            return socket;
        }
        catch (ZmqException error)
        {
            socket.Dispose();
            throw new ArgumentException($"{option}: cannot bind {endpoint}: {error.Message}", option, error);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
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
            _snapshot = snapshot;
        if (!_options.Quiet)
            Log($"episode: {_episode}, task {_options.Task}, seed {EpisodeSeed}, goal ({snapshot.Goal.X:0.000}, {snapshot.Goal.Y:0.000}, {snapshot.Goal.Z:0.000}) m, " +
                $"object ({snapshot.Object.X:0.000}, {snapshot.Object.Y:0.000}, {snapshot.Object.Z:0.000}) m, fingertip ({snapshot.Tip.X:0.000}, {snapshot.Tip.Y:0.000}, {snapshot.Tip.Z:0.000}) m");
    }

    /// <summary>Logs the first 20 rejections of each reason, then every power of two, so a flood cannot flood the log.</summary>
    private void Reject(string channel, FrameStatus status, uint sequence, int size, string? extra)
    {
        _rejected[(int)status]++;
        _faults |= ArmFaultFlags.BadFrames;
        var n = _rejected[(int)status];
        if (_options.Quiet || !(n <= 20 || (n & (n - 1)) == 0))
            return;
        Log($"rejected {channel} frame ({size} bytes, sequence {sequence}): {FirmwareCodec.StatusName(status)}: {FirmwareCodec.Describe(status)}" +
            $"{(extra is null ? "" : "; " + extra)} [{n} so far]");
    }

    // ---- state -----------------------------------------------------------------------------------

    private ArmStatusFlags StatusFlags()
    {
        var flags = ArmStatusFlags.None;
        if (_enabled)
            flags |= ArmStatusFlags.Enabled;
        if (_holdReason != ArmHoldReason.None)
            flags |= ArmStatusFlags.Holding;
        if (_estop)
            flags |= ArmStatusFlags.EmergencyStop;
        if ((_faults & ArmFaultFlags.OverEffort) != 0)
            flags |= ArmStatusFlags.Fault;
        if (_moving)
            flags |= ArmStatusFlags.Moving;
        return flags;
    }

    private void Sample(SimulatedArm arm, TabletopEnvironment environment, long now, ref ArmState state)
    {
        _moving = arm.Measure(ref state);
        state.Session = _session;
        state.Sequence = ++_stateSequence;
        state.ArmTimeNanoseconds = (ulong)now;
        state.LastCommandSequence = _lastCommandSequenceApplied;
        state.Status = StatusFlags();
        state.Faults = _faults;
        state.HoldReason = _holdReason;
        state.ActiveMode = _commandsApplied > 0 ? _mode : ArmCommandMode.None;
        state.CommandsRejected = _commandsRejected;

        var snapshot = Observe(environment, arm.Time);
        if (snapshot.IsSuccess != _wasSuccess && !_options.Quiet)
            Log(snapshot.IsSuccess
                ? $"task {_options.Task}: success at {snapshot.SimulationTime:0.00} s (goal distance {snapshot.GoalDistance:0.000} m)"
                : $"task {_options.Task}: success lost at {snapshot.SimulationTime:0.00} s (goal distance {snapshot.GoalDistance:0.000} m)");
        _wasSuccess = snapshot.IsSuccess;
        lock (_gate)
            _snapshot = snapshot;
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
            default:
                goal = item = (double.NaN, double.NaN, double.NaN);
                break;
        }
        return new SimTaskSnapshot(time, status.Reward, status.IsSuccess, _everSucceeded, status.GoalDistance, goal, item, scene.Tip);
    }

    private void PublishStatistics(SimulatedArm arm, CameraSet? cameras)
    {
        var statistics = new SimServerStatistics(_statesPublished, cameras?.Published ?? 0, cameras?.Dropped ?? 0, _commandsApplied,
            _commandsRejected, _watchdogTrips, arm.StepsSkipped, _deadlinesMissed);
        lock (_gate)
            _statistics = statistics;
    }

    // ---- commands --------------------------------------------------------------------------------

    /// <summary>The checks of PROTOCOL.md §4 in their order; a valid command goes into the actuation delay line.</summary>
    private void HandleCommand(ReadOnlySpan<byte> frame, long now, DelayLine<ArmCommand> actuation)
    {
        var status = FirmwareCodec.DecodeCommand(frame, out var header, out var command);
        if (status == FrameStatus.UnexpectedType)
        {
            // Another type on this channel: its own payload checks come first (as in the C codec).
            var own = FirmwareCodec.DecodeAny(frame, out _);
            status = own == FrameStatus.Ok ? FrameStatus.UnexpectedType : own;
        }
        var sequence = status == FrameStatus.Ok || frame.Length >= FirmwareCodec.HeaderSize ? header.Sequence : 0;
        if (status != FrameStatus.Ok)
        {
            _commandsRejected++;
            Reject("command", status, sequence, frame.Length, null);
            return;
        }
        // Only the claimant's commands count, before anything else about them does: a frame from a
        // process without the secret cannot even move the sequence numbers on.
        if (_claimant == 0 || !FirmwareCodec.TagValid(frame, _claimKey))
        {
            _commandsRejected++;
            Reject("command", FrameStatus.BadAuth, sequence, frame.Length, _claimant == 0 ? "no controller has claimed the arm" : null);
            return;
        }
        if (_haveCommandSequence && sequence <= _lastCommandSequenceSeen)
        {
            _commandsRejected++;
            Reject("command", sequence == _lastCommandSequenceSeen ? FrameStatus.SequenceRepeat : FrameStatus.SequenceBackwards,
                sequence, frame.Length, $"last seen {_lastCommandSequenceSeen}");
            return;
        }
        _haveCommandSequence = true;
        _lastCommandSequenceSeen = sequence;

        var c = command.Command;
        var verdict = FrameStatus.Ok;
        string? extra = null;
        if (command.Session != _session)
        {
            verdict = FrameStatus.WrongSession;
            extra = $"session {command.Session:X8}, this arm is {_session:X8}";
        }
        else if ((ulong)now >= command.ExpiresAtNanoseconds)
        {
            verdict = FrameStatus.Expired;
            extra = $"{((ulong)now - command.ExpiresAtNanoseconds) * 1e-6:0.000} ms late";
        }
        else if (!_enabled || _estop || (_faults & ArmFaultFlags.OverEffort) != 0)
        {
            verdict = FrameStatus.NotEnabled;
        }
        else if (!_description.SupportedModes.Contains(c.Mode))
        {
            verdict = FrameStatus.BadPayload;
            extra = $"mode {(int)c.Mode} ({c.Mode}) is not supported by this arm; it supports {string.Join(", ", _description.SupportedModes)}";
        }
        else if (c.Mode != ArmCommandMode.EndEffectorDelta && c.ValueCount != SimulatedArm.JointCount)
        {
            verdict = FrameStatus.BadPayload;
            extra = $"{c.ValueCount} values, this arm has {SimulatedArm.JointCount} joints";
        }
        else if (!(c.GripperTarget >= 0 && c.GripperTarget <= 1))
        {
            verdict = FrameStatus.OutOfLimits;
            extra = $"gripper target {c.GripperTarget} outside [0, 1]";
        }
        else
        {
            extra = CheckLimits(c);
            if (extra is not null)
                verdict = FrameStatus.OutOfLimits;
        }
        if (verdict != FrameStatus.Ok)
        {
            _commandsRejected++;
            Reject("command", verdict, sequence, frame.Length, extra);
            return;
        }
        _lastValidCommandNs = now;
        _claimLastNs = now;
        actuation.Enqueue(c, now);
    }

    private string? CheckLimits(in ArmCommand c)
    {
        if (c.Mode == ArmCommandMode.JointPosition)
        {
            for (var j = 0; j < SimulatedArm.JointCount; j++)
            {
                var limits = _description.Joints[j];
                if (!(c.Values[j] >= limits.PositionMin && c.Values[j] <= limits.PositionMax))
                    return $"joint {j} value {c.Values[j]} outside [{limits.PositionMin}, {limits.PositionMax}]";
            }
            return null;
        }
        // End-effector delta: translation and rotation norms within the description's per-command limits
        // (a tolerance of a few ulps: the runtime scales an oversized delta to exactly the limit).
        var translation = Math.Sqrt(c.Values[0] * c.Values[0] + c.Values[1] * c.Values[1] + c.Values[2] * c.Values[2]);
        var rotation = Math.Sqrt(c.Values[3] * c.Values[3] + c.Values[4] * c.Values[4] + c.Values[5] * c.Values[5]);
        if (translation > _description.EndEffectorMaxTranslation * (1 + 1e-9))
            return $"translation {translation:0.######} m exceeds {_description.EndEffectorMaxTranslation} m per command";
        if (rotation > _description.EndEffectorMaxRotation * (1 + 1e-9))
            return $"rotation {rotation:0.######} rad exceeds {_description.EndEffectorMaxRotation} rad per command (the gripper always points down)";
        return null;
    }

    private bool Apply(in ArmCommand c, long now, SimulatedArm arm)
    {
        // A command still in the actuation delay line when the arm stopped is dropped with the line;
        // this covers a fault that arrived while it waited.
        if (!_enabled || _estop || (_faults & ArmFaultFlags.OverEffort) != 0)
            return false;
        if (_holdReason == ArmHoldReason.Watchdog && !_options.Quiet)
            Log($"watchdog: valid command {c.Sequence} arrived, leaving hold");
        if (c.Mode == ArmCommandMode.JointPosition)
            arm.SetJointTargets(((ReadOnlySpan<double>)c.Values)[..SimulatedArm.JointCount], c.GripperTarget);
        else
            arm.MoveEndEffector(c.Values[0], c.Values[1], c.Values[2], c.GripperTarget,
                fromMeasuredTip: _mode != ArmCommandMode.EndEffectorDelta || _holdReason != ArmHoldReason.None);
        _mode = c.Mode;
        _holdReason = ArmHoldReason.None;
        _lastCommandSequenceApplied = c.Sequence;
        _commandsApplied++;
        return true;
    }

    private void Hold(ArmHoldReason reason, SimulatedArm arm, DelayLine<ArmCommand> actuation)
    {
        arm.HoldHere();
        while (actuation.TryDequeue(out _)) { }
        _mode = _commandsApplied > 0 ? ArmCommandMode.JointPosition : ArmCommandMode.None;
        _holdReason = reason;
    }

    private void CheckWatchdog(long now, SimulatedArm arm, DelayLine<ArmCommand> actuation)
    {
        if (!_enabled || _estop || _holdReason != ArmHoldReason.None)
            return;
        var limit = _options.WatchdogMilliseconds * 1_000_000L;
        if (now - _lastValidCommandNs <= limit)
            return;
        Hold(ArmHoldReason.Watchdog, arm, actuation);
        _watchdogTrips++;
        _faults |= ArmFaultFlags.Watchdog;
        if (!_options.Quiet)
            Log($"watchdog: no valid command for {(now - _lastValidCommandNs) * 1e-6:0.0} ms (limit {_options.WatchdogMilliseconds} ms); holding at the current position");
    }

    private void CheckArmFaults(SimulatedArm arm)
    {
        if (arm.AtJointLimit)
            _faults |= ArmFaultFlags.JointLimit;
        if (arm.OverEffort && (_faults & ArmFaultFlags.OverEffort) == 0)
        {
            _faults |= ArmFaultFlags.OverEffort;
            _enabled = false;
            arm.HoldHere();
            while (_actuation.TryDequeue(out _)) { }
            _holdReason = ArmHoldReason.Fault;
            if (!_options.Quiet)
                Log($"fault: an actuator exceeded {SimulatedArm.EffortMax} N·m; holding, disabled; RESET then ENABLE to move again");
        }
    }

    // ---- control ---------------------------------------------------------------------------------

    private void HandleControl(ReadOnlySpan<byte> frame, long now, SimulatedArm arm, DelayLine<ArmCommand> actuation, ZmqSocket reply, byte[] buffer)
    {
        var status = FirmwareCodec.DecodeAny(frame, out var header);
        var readable = status is not (FrameStatus.Truncated or FrameStatus.Oversized or FrameStatus.BadMagic);
        if (status == FrameStatus.Ok && header.Type is FirmwareMessageType.State or FirmwareMessageType.Command or FirmwareMessageType.Ack
                or FirmwareMessageType.Description or FirmwareMessageType.FaultReport)
            status = FrameStatus.UnexpectedType;
        if (status != FrameStatus.Ok)
        {
            Reject("control", status, readable ? header.Sequence : 0, frame.Length, null);
            Ack(reply, buffer, readable ? header : null, AckResult.BadRequest, status);
            return;
        }
        switch (header.Type)
        {
            case FirmwareMessageType.Hello:
                FirmwareCodec.DecodeHello(frame, out _, out var hello);
                if (hello.MinVersion > FirmwareCodec.Version || hello.MaxVersion < FirmwareCodec.Version)
                {
                    if (!_options.Quiet)
                        Log($"hello from client {hello.ClientId:X8} refused: it speaks versions {hello.MinVersion}..{hello.MaxVersion}, this arm speaks {FirmwareCodec.Version}");
                    Ack(reply, buffer, header, AckResult.UnsupportedVersion, FrameStatus.Ok);
                    return;
                }
                // Version 2: HELLO changes nothing; the description says where the sequences and the claim stand.
                if (!_options.Quiet)
                    Log($"hello from client {hello.ClientId:X8}: version {FirmwareCodec.Version}, session {_session:X8}");
                var claimStatus = new ClaimStatus((uint)_options.ClaimLeaseMilliseconds, _haveCommandSequence ? _lastCommandSequenceSeen : 0,
                    _lastControlSequence, ClaimLive(now) ? _claimant : 0);
                Send(reply, buffer, FirmwareCodec.EncodeDescription(buffer, ++_replySequence, (ulong)MonotonicClock.NowNanoseconds, _description, claimStatus));
                return;
            case FirmwareMessageType.FaultQuery:
                var report = new FaultReport(_session, StatusFlags(), _faults, _holdReason, _watchdogTrips, _commandsApplied,
                    _lastCommandSequenceApplied, (uint[])_rejected.Clone());
                Send(reply, buffer, FirmwareCodec.EncodeFaultReport(buffer, ++_replySequence, (ulong)MonotonicClock.NowNanoseconds, report));
                return;
            case FirmwareMessageType.EmergencyStop:
                // Obeyed whatever session it names: stopping is always allowed.
                _estop = true;
                _enabled = false;
                Hold(ArmHoldReason.EmergencyStop, arm, actuation);
                if (!_options.Quiet)
                    Log("e-stop: latched, holding; RESET then ENABLE to move again");
                Ack(reply, buffer, header, AckResult.Ok, FrameStatus.Ok);
                return;
        }
        uint session;
        ClaimMessage claim = default;
        if (header.Type == FirmwareMessageType.Claim)
        {
            FirmwareCodec.DecodeClaim(frame, out _, out claim);
            session = claim.Session;
        }
        else
        {
            FirmwareCodec.DecodeSessionRequest(frame, out _, out session);
        }
        if (session != _session)
        {
            Reject("control", FrameStatus.WrongSession, header.Sequence, frame.Length, $"session {session:X8}, this arm is {_session:X8}");
            Ack(reply, buffer, header, AckResult.WrongSession, FrameStatus.WrongSession);
            return;
        }
        // Authenticated: a CLAIM by the key of the client it names; everything else by the claimant's.
        Span<byte> claimKey = stackalloc byte[FirmwareCodec.KeySize];
        if (header.Type == FirmwareMessageType.Claim)
            FirmwareCodec.ControllerKey(_secret, _session, claim.ClientId, claimKey);
        if ((header.Type != FirmwareMessageType.Claim && _claimant == 0)
            || !FirmwareCodec.TagValid(frame, header.Type == FirmwareMessageType.Claim ? claimKey : _claimKey))
        {
            Reject("control", FrameStatus.BadAuth, header.Sequence, frame.Length,
                header.Type != FirmwareMessageType.Claim && _claimant == 0 ? "no controller has claimed the arm" : null);
            Ack(reply, buffer, header, AckResult.BadRequest, FrameStatus.BadAuth);
            return;
        }
        if (header.Sequence <= _lastControlSequence)
        {
            var order = header.Sequence == _lastControlSequence ? FrameStatus.SequenceRepeat : FrameStatus.SequenceBackwards;
            Reject("control", order, header.Sequence, frame.Length, $"last accepted {_lastControlSequence}");
            Ack(reply, buffer, header, AckResult.BadRequest, order);
            return;
        }
        if (header.Type == FirmwareMessageType.Claim && claim.Release)
        {
            // The holder gives the arm up (a clean exit): the next controller need not wait for the lease.
            _lastControlSequence = header.Sequence;
            if (_claimant == claim.ClientId)
            {
                _claimant = 0;
                Array.Clear(_claimKey);
                if (!_options.Quiet)
                    Log($"released by client {claim.ClientId:X8}");
            }
            Ack(reply, buffer, header, AckResult.Ok, FrameStatus.Ok);
            return;
        }
        if (header.Type == FirmwareMessageType.Claim)
        {
            if (ClaimLive(now) && _claimant != claim.ClientId && !claim.Takeover)
            {
                if (!_options.Quiet)
                    Log($"claim by client {claim.ClientId:X8} refused: client {_claimant:X8} holds the arm");
                Ack(reply, buffer, header, AckResult.Claimed, FrameStatus.Ok);
                return;
            }
            if (_claimant != claim.ClientId)
            {
                // A new controller starts from a disabled arm: it enables it when it is ready.
                if (_enabled)
                {
                    _enabled = false;
                    Hold(_estop ? ArmHoldReason.EmergencyStop : ArmHoldReason.Disabled, arm, actuation);
                }
                if (!_options.Quiet)
                    Log($"claimed by client {claim.ClientId:X8}{(_claimant != 0 ? " (taken over)" : "")}");
            }
            _claimant = claim.ClientId;
            claimKey.CopyTo(_claimKey);
        }
        _lastControlSequence = header.Sequence;
        _claimLastNs = now;
        switch (header.Type)
        {
            case FirmwareMessageType.Claim:
                Ack(reply, buffer, header, AckResult.Ok, FrameStatus.Ok);
                return;
            case FirmwareMessageType.Heartbeat:
                Ack(reply, buffer, header, AckResult.Ok, FrameStatus.Ok);
                return;
            case FirmwareMessageType.Enable:
                if (_estop)
                {
                    Ack(reply, buffer, header, AckResult.RefusedEmergencyStop, FrameStatus.Ok);
                    return;
                }
                if ((_faults & ArmFaultFlags.OverEffort) != 0)
                {
                    Ack(reply, buffer, header, AckResult.RefusedFault, FrameStatus.Ok);
                    return;
                }
                if (!_enabled)
                {
                    _enabled = true;
                    Hold(ArmHoldReason.None, arm, actuation);
                    _lastValidCommandNs = now; // the watchdog counts from enabling
                    if (!_options.Quiet)
                        Log($"enabled; watchdog {_options.WatchdogMilliseconds} ms");
                }
                Ack(reply, buffer, header, AckResult.Ok, FrameStatus.Ok);
                return;
            case FirmwareMessageType.Disable:
                _enabled = false;
                Hold(_estop ? ArmHoldReason.EmergencyStop : ArmHoldReason.Disabled, arm, actuation);
                Ack(reply, buffer, header, AckResult.Ok, FrameStatus.Ok);
                return;
            case FirmwareMessageType.Reset:
                _estop = false;
                _enabled = false;
                _faults = ArmFaultFlags.None;
                // The simulator's RESET also starts the next episode: a new seeded scene, the arm
                // at its start pose (a real arm stays where it is; the protocol only promises the
                // cleared faults and the disabled state, which hold for both).
                _episode++;
                _environment!.Reset(EpisodeSeed);
                _everSucceeded = false;
                _wasSuccess = false;
                Hold(ArmHoldReason.Disabled, arm, actuation);
                if (!_options.Quiet)
                    Log("reset: e-stop and faults cleared, disabled, new episode");
                LogGoal(_environment);
                Ack(reply, buffer, header, AckResult.Ok, FrameStatus.Ok);
                return;
            default:
                Ack(reply, buffer, header, AckResult.BadRequest, FrameStatus.UnexpectedType);
                return;
        }
    }

    private bool ClaimLive(long now) => _claimant != 0 && now - _claimLastNs <= _options.ClaimLeaseMilliseconds * 1_000_000L;

    private void Ack(ZmqSocket reply, byte[] buffer, FrameHeader? request, AckResult result, FrameStatus reason)
    {
        var ack = new AckMessage(_session, request?.Sequence ?? 0, request?.Type ?? 0, result, reason, StatusFlags());
        Send(reply, buffer, FirmwareCodec.EncodeAck(buffer, ++_replySequence, (ulong)MonotonicClock.NowNanoseconds, ack));
    }

    private static void Send(ZmqSocket reply, byte[] buffer, int length)
    {
        if (length > 0)
            reply.TrySend(buffer.AsSpan(0, length));
    }
}
