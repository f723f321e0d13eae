using RobotRuntime.Arm;

namespace RobotRuntime.Transport.Firmware;

/// <summary>
/// What the firmware state machine asks of the arm it runs: the joints, brakes and drives of a real
/// arm, or the simulation. <see cref="ArmFirmware"/> calls these on the thread that feeds it.
/// </summary>
public interface IArmActuator
{
    /// <summary>Hold still where the arm is now (targets at the measured joints); drop any accepted command not yet applied.</summary>
    void Hold();

    /// <summary>E-stop: brake at once (joint speeds to zero) and hold there; drop any accepted command not yet applied.</summary>
    void Brake();

    /// <summary>Drive toward a command that passed every check (PROTOCOL.md §4).</summary>
    /// <param name="command">Joint positions, joint velocities or an end-effector delta, with the gripper target (which
    /// an arm described without a gripper ignores: PROTOCOL.md §3.2).</param>
    /// <param name="fromMeasuredPose">
    /// For an end-effector delta: start from the measured pose (the previous command was of another
    /// mode, or the arm held since); false: add it to the previous end-effector target (§3.4).
    /// </param>
    void Apply(in ArmCommand command, bool fromMeasuredPose);

    /// <summary>A RESET was accepted: the latches are cleared and the arm is disabled (a simulator may start its next episode here).</summary>
    void OnReset();
}

/// <summary>Settings of an <see cref="ArmFirmware"/>.</summary>
/// <param name="Description">What the arm announces: its session (non-zero, new at every start), joints, modes, whether it has a
/// gripper, rates and limits.</param>
/// <param name="Secret">The 32-byte secret shared with the operator's runtime (§2.1).</param>
/// <param name="ClaimLeaseMilliseconds">A claim lapses after this long without a valid authenticated frame from its holder.</param>
/// <param name="Log">Where log lines go (handshakes, holds, rejections); null: nowhere.</param>
public sealed record ArmFirmwareOptions(ArmDescription Description, byte[] Secret, int ClaimLeaseMilliseconds, Action<string>? Log = null);

/// <summary>
/// The firmware's side of the protocol (firmware-interfaces/PROTOCOL.md) as a state machine without
/// I/O: session, claim and authentication, enable / disable / e-stop / reset, the watchdog, the checks
/// of every COMMAND in the protocol's order, the counters STATE and FAULT_REPORT report. A host feeds it
/// the frames its sockets receive and the time, sends the replies it writes, and implements
/// <see cref="IArmActuator"/>: <c>rr sim-server</c> hosts it over MuJoCo, and a test hosts it over
/// nothing at all.
/// </summary>
/// <remarks>
/// Not thread-safe: one thread feeds it. Steady state (valid commands, states) allocates nothing;
/// rejections and control requests may allocate for their log lines.
/// </remarks>
public sealed class ArmFirmware
{
    private readonly ArmDescription _description;
    private readonly uint _session;
    private readonly byte[] _secret;
    private readonly long _watchdogNs, _leaseNs;
    private readonly IArmActuator _arm;
    private readonly Action<string>? _log;

    private bool _enabled, _estop, _moving;
    private ArmFaultFlags _faults;
    private ArmHoldReason _holdReason = ArmHoldReason.Disabled;
    private ArmCommandMode _appliedMode;
    private bool _heldSinceApply = true;
    private long _lastValidCommandNs;
    // Sequence numbers recorded this arm session (§5): a frame records its number once it passed the
    // frame checks, authentication and the sequence check itself, whatever later checks say.
    private bool _haveCommandSequence;
    private uint _lastCommandSequence, _lastCommandSequenceApplied, _lastControlSequence;
    private uint _claimant;
    private readonly byte[] _claimKey = new byte[FirmwareCodec.KeySize];
    private long _claimLastNs;
    private readonly uint[] _rejected = new uint[FirmwareCodec.StatusCount];
    private uint _commandsRejected, _commandsApplied, _watchdogTrips;
    private uint _stateSequence, _replySequence;

    /// <summary>A firmware that has just started: disabled, unclaimed, every sequence and counter 0.</summary>
    /// <param name="options">Description, secret, lease and log.</param>
    /// <param name="arm">The arm it drives.</param>
    /// <exception cref="ArgumentException">The session is 0, the secret is not 32 bytes, or the lease or watchdog is not positive.</exception>
    public ArmFirmware(ArmFirmwareOptions options, IArmActuator arm)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(arm);
        if (options.Description.Session == 0)
            throw new ArgumentException("the arm session must be non-zero (PROTOCOL.md §3.2)", nameof(options));
        if (options.Secret is not { Length: FirmwareCodec.KeySize })
            throw new ArgumentException($"the shared secret must be {FirmwareCodec.KeySize} bytes", nameof(options));
        if (options.ClaimLeaseMilliseconds <= 0 || options.Description.WatchdogMilliseconds <= 0)
            throw new ArgumentException("the claim lease and the watchdog must be positive milliseconds", nameof(options));
        _description = options.Description;
        _session = _description.Session;
        _secret = (byte[])options.Secret.Clone();
        _watchdogNs = _description.WatchdogMilliseconds * 1_000_000L;
        _leaseNs = options.ClaimLeaseMilliseconds * 1_000_000L;
        _arm = arm;
        _log = options.Log;
    }

    /// <summary>The arm's session.</summary>
    public uint Session => _session;

    /// <summary>What the arm announces in its DESCRIPTION.</summary>
    public ArmDescription Description => _description;

    /// <summary>Motion is allowed (ENABLE accepted, no e-stop, no stopping fault since).</summary>
    public bool Enabled => _enabled;

    /// <summary>Why the arm holds now.</summary>
    public ArmHoldReason HoldReason => _holdReason;

    /// <summary>The e-stop is latched.</summary>
    public bool EmergencyStopLatched => _estop;

    /// <summary>Latched faults and warnings.</summary>
    public ArmFaultFlags Faults => _faults;

    /// <summary>Client id of the controller holding the claim (live or lapsed); 0 if none.</summary>
    public uint Claimant => _claimant;

    /// <summary>COMMANDs applied this session.</summary>
    public uint CommandsApplied => _commandsApplied;

    /// <summary>Frames rejected on the COMMAND channel this session (STATE's commands_rejected).</summary>
    public uint CommandsRejected => _commandsRejected;

    /// <summary>Times the watchdog put the arm in hold.</summary>
    public uint WatchdogTrips => _watchdogTrips;

    /// <summary>Frames of both channels rejected this session for <paramref name="reason"/> (FAULT_REPORT's table).</summary>
    public uint RejectedFor(FrameStatus reason) => _rejected[(int)reason];

    /// <summary>
    /// When the watchdog trips if no valid COMMAND arrives (monotonic ns); <see cref="long.MaxValue"/>
    /// while it is not armed (disabled, e-stopped or already holding). A host wakes by then and calls
    /// <see cref="Tick"/>.
    /// </summary>
    public long WatchdogDeadlineNs => Moving ? _lastValidCommandNs + _watchdogNs + 1 : long.MaxValue;

    private bool Moving => _enabled && !_estop && _holdReason == ArmHoldReason.None;

    private bool StoppingFault => (_faults & ArmFaultFlags.OverEffort) != 0;

    /// <summary>The status flags (§3.3) as of now.</summary>
    public ArmStatusFlags StatusFlags
    {
        get
        {
            var flags = ArmStatusFlags.None;
            if (_enabled)
                flags |= ArmStatusFlags.Enabled;
            if (_holdReason != ArmHoldReason.None)
                flags |= ArmStatusFlags.Holding;
            if (_estop)
                flags |= ArmStatusFlags.EmergencyStop;
            if (StoppingFault)
                flags |= ArmStatusFlags.Fault;
            if (_moving)
                flags |= ArmStatusFlags.Moving;
            return flags;
        }
    }

    /// <summary>The FAULT_REPORT the arm would answer now.</summary>
    public FaultReport FaultReport() =>
        new(_session, StatusFlags, _faults, _holdReason, _watchdogTrips, _commandsApplied, _lastCommandSequenceApplied, (uint[])_rejected.Clone());

    // ---- time and the arm's own faults ----------------------------------------------------------

    /// <summary>Trips the watchdog if no valid COMMAND arrived for watchdog_ms while the arm was free to move.</summary>
    public void Tick(long nowNs)
    {
        if (!Moving || nowNs - _lastValidCommandNs <= _watchdogNs)
            return;
        Hold(ArmHoldReason.Watchdog);
        _watchdogTrips++;
        _faults |= ArmFaultFlags.Watchdog;
        Log($"watchdog: no valid command for {(nowNs - _lastValidCommandNs) * 1e-6:0.0} ms (limit {_description.WatchdogMilliseconds} ms); holding at the current position");
    }

    /// <summary>
    /// What the arm measured since the last call: a joint at its range sets fault flag 0x1 (a record);
    /// an effort above its limit sets 0x2, disables and holds (a fault that stops motion until RESET),
    /// reported as hold_reason 4 unless the e-stop is latched: the reason is the gravest that holds (§3.5).
    /// </summary>
    public void ReportMeasuredFaults(bool atJointLimit, bool overEffort, string? detail = null)
    {
        if (atJointLimit)
            _faults |= ArmFaultFlags.JointLimit;
        if (!overEffort || StoppingFault)
            return;
        _faults |= ArmFaultFlags.OverEffort;
        _enabled = false;
        // An e-stopped arm stays braked and says e-stop: the graver reason, as DISABLE keeps it.
        Hold(_estop ? ArmHoldReason.EmergencyStop : ArmHoldReason.Fault);
        Log($"fault: {detail ?? "an actuator exceeded its effort limit"}; holding, disabled; RESET then ENABLE to move again");
    }

    /// <summary>
    /// Fills the firmware's fields of a STATE about to be sent (session, sequence, time, status, faults,
    /// hold, active mode, counters); the host has filled the measurement. An arm described without a
    /// gripper reports gripper position and effort 0, whatever the host measured (PROTOCOL.md §3.2).
    /// <paramref name="moving"/>: some joint moves (status 0x10).
    /// </summary>
    public void FillState(ref ArmState state, long nowNs, bool moving)
    {
        _moving = moving;
        if (!_description.HasGripper)
        {
            state.GripperPosition = 0;
            state.GripperEffort = 0;
        }
        state.Session = _session;
        state.Sequence = ++_stateSequence;
        state.ArmTimeNanoseconds = (ulong)nowNs;
        state.LastCommandSequence = _lastCommandSequenceApplied;
        state.Status = StatusFlags;
        state.Faults = _faults;
        state.HoldReason = _holdReason;
        state.ActiveMode = _appliedMode;
        state.CommandsRejected = _commandsRejected;
    }

    // ---- commands -------------------------------------------------------------------------------

    /// <summary>
    /// Judges a frame from the COMMAND channel in the order of PROTOCOL.md §4. <see cref="FrameStatus.Ok"/>:
    /// <paramref name="accepted"/> is to be applied — now, or after the host's actuation delay — with
    /// <see cref="Apply"/>. Anything else was counted and logged and must be dropped.
    /// </summary>
    public FrameStatus ReceiveCommand(ReadOnlySpan<byte> frame, long nowNs, out ArmCommand accepted)
    {
        accepted = default;
        var status = FirmwareCodec.DecodeOnCommandChannel(frame, out var header, out var command);
        var sequence = frame.Length >= FirmwareCodec.HeaderSize ? header.Sequence : 0;
        if (status != FrameStatus.Ok)
            return RejectCommand(status, sequence, frame.Length, null);
        // Only the claimant's commands count, before anything else about them does: a frame without the
        // secret cannot even move the sequence numbers on.
        if (_claimant == 0 || !FirmwareCodec.TagValid(frame, _claimKey))
            return RejectCommand(FrameStatus.BadAuth, sequence, frame.Length, _claimant == 0 ? "no controller has claimed the arm" : null);
        if (_haveCommandSequence && sequence <= _lastCommandSequence)
            return RejectCommand(sequence == _lastCommandSequence ? FrameStatus.SequenceRepeat : FrameStatus.SequenceBackwards,
                sequence, frame.Length, _log is null ? null : $"last recorded {_lastCommandSequence}");
        _haveCommandSequence = true;
        _lastCommandSequence = sequence;

        ref readonly var c = ref command.Command;
        if (command.Session != _session)
            return RejectCommand(FrameStatus.WrongSession, sequence, frame.Length,
                _log is null ? null : $"session {command.Session:X8}, this arm is {_session:X8}");
        if ((ulong)nowNs >= command.ExpiresAtNanoseconds)
            return RejectCommand(FrameStatus.Expired, sequence, frame.Length,
                _log is null ? null : $"{((ulong)nowNs - command.ExpiresAtNanoseconds) * 1e-6:0.000} ms late");
        if (!_enabled || _estop || StoppingFault)
            return RejectCommand(FrameStatus.NotEnabled, sequence, frame.Length, null);
        if (!_description.SupportedModes.Contains(c.Mode))
            return RejectCommand(FrameStatus.BadPayload, sequence, frame.Length,
                _log is null ? null : $"mode {(int)c.Mode} ({c.Mode}) is not supported by this arm; it supports {string.Join(", ", _description.SupportedModes)}");
        if (c.Mode != ArmCommandMode.EndEffectorDelta && c.ValueCount != _description.JointCount)
            return RejectCommand(FrameStatus.BadPayload, sequence, frame.Length,
                _log is null ? null : $"{c.ValueCount} values, this arm has {_description.JointCount} joints");
        var limits = CheckLimits(in c);
        if (limits is not null)
            return RejectCommand(FrameStatus.OutOfLimits, sequence, frame.Length, limits);
        _lastValidCommandNs = nowNs;
        _claimLastNs = nowNs;
        accepted = c;
        return FrameStatus.Ok;
    }

    /// <summary>
    /// Applies a command <see cref="ReceiveCommand"/> accepted, unless the arm stopped since (disabled,
    /// e-stopped, faulted: a command still in an actuation delay line is dropped). True if applied.
    /// </summary>
    public bool Apply(in ArmCommand command)
    {
        if (!_enabled || _estop || StoppingFault)
            return false;
        if (_holdReason == ArmHoldReason.Watchdog)
            Log($"watchdog: valid command {command.Sequence} arrived, leaving hold");
        var fromMeasured = _heldSinceApply || _appliedMode != ArmCommandMode.EndEffectorDelta;
        _arm.Apply(in command, fromMeasured);
        _appliedMode = command.Mode;
        _heldSinceApply = false;
        _holdReason = ArmHoldReason.None;
        _lastCommandSequenceApplied = command.Sequence;
        _commandsApplied++;
        return true;
    }

    private string? CheckLimits(in ArmCommand c)
    {
        // Checked on an arm without a gripper too: it accepts any target in [0, 1] and ignores it (§3.2).
        if (!(c.GripperTarget >= 0 && c.GripperTarget <= 1))
            return $"gripper target {c.GripperTarget} outside [0, 1]";
        switch (c.Mode)
        {
            case ArmCommandMode.JointPosition:
                for (var j = 0; j < _description.JointCount; j++)
                {
                    var l = _description.Joints[j];
                    if (!(c.Values[j] >= l.PositionMin && c.Values[j] <= l.PositionMax))
                        return $"joint {j} position {c.Values[j]} outside [{l.PositionMin}, {l.PositionMax}]";
                }
                return null;
            case ArmCommandMode.JointVelocity:
                for (var j = 0; j < _description.JointCount; j++)
                {
                    var l = _description.Joints[j];
                    if (!(Math.Abs(c.Values[j]) <= l.VelocityMax))
                        return $"joint {j} velocity {c.Values[j]} exceeds {l.VelocityMax}";
                }
                return null;
            default:
                // Norms of the translation and of the rotation vector, with a tolerance of a few ulps:
                // a runtime scales an oversized delta to exactly the limit (§3.4).
                var translation = Math.Sqrt(c.Values[0] * c.Values[0] + c.Values[1] * c.Values[1] + c.Values[2] * c.Values[2]);
                var rotation = Math.Sqrt(c.Values[3] * c.Values[3] + c.Values[4] * c.Values[4] + c.Values[5] * c.Values[5]);
                if (translation > _description.EndEffectorMaxTranslation * (1 + 1e-9))
                    return $"translation {translation:0.######} m exceeds {_description.EndEffectorMaxTranslation} m per command";
                if (rotation > _description.EndEffectorMaxRotation * (1 + 1e-9))
                    return $"rotation {rotation:0.######} rad exceeds {_description.EndEffectorMaxRotation} rad per command";
                return null;
        }
    }

    private FrameStatus RejectCommand(FrameStatus status, uint sequence, int size, string? detail)
    {
        _commandsRejected++;
        Reject("command", status, sequence, size, detail);
        return status;
    }

    /// <summary>Counts a rejection; logs the first 20 of each reason, then every power of two, so a flood cannot flood the log.</summary>
    private void Reject(string channel, FrameStatus status, uint sequence, int size, string? detail)
    {
        var n = ++_rejected[(int)status];
        _faults |= ArmFaultFlags.BadFrames;
        if (_log is null || !(n <= 20 || (n & (n - 1)) == 0))
            return;
        _log($"rejected {channel} frame ({size} bytes, sequence {sequence}): {FirmwareCodec.StatusName(status)}: {FirmwareCodec.Describe(status)}" +
            $"{(detail is null ? "" : "; " + detail)} [{n} so far]");
    }

    private void Hold(ArmHoldReason reason)
    {
        if (reason == ArmHoldReason.EmergencyStop)
            _arm.Brake();
        else
            _arm.Hold();
        _heldSinceApply = true;
        _holdReason = reason;
    }

    private void Log(string line) => _log?.Invoke(line);

    // ---- control --------------------------------------------------------------------------------

    /// <summary>
    /// Answers one request from the control channel (REQ/REP: exactly one reply per request) and acts on
    /// it. Returns the length of the reply written to <paramref name="reply"/> (at least
    /// <see cref="FirmwareCodec.MaxFrame"/> bytes).
    /// </summary>
    public int ReceiveControl(ReadOnlySpan<byte> frame, long nowNs, Span<byte> reply)
    {
        if (reply.Length < FirmwareCodec.MaxFrame)
            throw new ArgumentException($"the reply buffer must hold {FirmwareCodec.MaxFrame} bytes", nameof(reply));
        var status = FirmwareCodec.DecodeOnControlChannel(frame, out var header);
        if (status != FrameStatus.Ok)
        {
            // Unreadable (§3.6): the request fields of the ACK are 0 when the header cannot be trusted to be one.
            var readable = status is not (FrameStatus.Truncated or FrameStatus.Oversized or FrameStatus.BadMagic);
            Reject("control", status, readable ? header.Sequence : 0, frame.Length, null);
            return Ack(reply, readable ? header.Sequence : 0, readable ? header.Type : 0, nowNs, AckResult.BadRequest, status);
        }
        switch (header.Type)
        {
            case FirmwareMessageType.Hello:
                FirmwareCodec.DecodeHello(frame, out _, out var hello);
                if (hello.MinVersion > FirmwareCodec.Version || hello.MaxVersion < FirmwareCodec.Version)
                {
                    Log($"hello from client {hello.ClientId:X8} refused: it speaks versions {hello.MinVersion}..{hello.MaxVersion}, this arm speaks {FirmwareCodec.Version}");
                    return Ack(reply, header, nowNs, AckResult.UnsupportedVersion, FrameStatus.Ok);
                }
                // HELLO changes nothing (§3.1): the description says where the sequences and the claim stand.
                Log($"hello from client {hello.ClientId:X8}: version {FirmwareCodec.Version}, session {_session:X8}");
                var claimStatus = new ClaimStatus((uint)(_leaseNs / 1_000_000), _haveCommandSequence ? _lastCommandSequence : 0,
                    _lastControlSequence, ClaimLive(nowNs) ? _claimant : 0);
                return FirmwareCodec.EncodeDescription(reply, ++_replySequence, (ulong)nowNs, _description, claimStatus);
            case FirmwareMessageType.FaultQuery:
                return FirmwareCodec.EncodeFaultReport(reply, ++_replySequence, (ulong)nowNs, FaultReport());
            case FirmwareMessageType.EmergencyStop:
                // Obeyed whatever session it names, 0 included: stopping is always allowed (§3.5).
                var wasStopped = _estop;
                _estop = true;
                _enabled = false;
                Hold(ArmHoldReason.EmergencyStop);
                if (!wasStopped)
                    Log("e-stop: latched, braked, holding; RESET then ENABLE to move again");
                return Ack(reply, header, nowNs, AckResult.Ok, FrameStatus.Ok);
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
            return Ack(reply, header, nowNs, AckResult.WrongSession, FrameStatus.WrongSession);
        }
        // Authenticated: a CLAIM by the key of the client it names; everything else by the claimant's.
        Span<byte> claimKey = stackalloc byte[FirmwareCodec.KeySize];
        var isClaim = header.Type == FirmwareMessageType.Claim;
        if (isClaim)
            FirmwareCodec.ControllerKey(_secret, _session, claim.ClientId, claimKey);
        if ((!isClaim && _claimant == 0) || !FirmwareCodec.TagValid(frame, isClaim ? claimKey : _claimKey))
        {
            Reject("control", FrameStatus.BadAuth, header.Sequence, frame.Length, !isClaim && _claimant == 0 ? "no controller has claimed the arm" : null);
            return Ack(reply, header, nowNs, AckResult.BadRequest, FrameStatus.BadAuth);
        }
        if (header.Sequence <= _lastControlSequence)
        {
            var order = header.Sequence == _lastControlSequence ? FrameStatus.SequenceRepeat : FrameStatus.SequenceBackwards;
            Reject("control", order, header.Sequence, frame.Length, $"last recorded {_lastControlSequence}");
            return Ack(reply, header, nowNs, AckResult.BadRequest, order);
        }
        // Recorded whatever the answer (ACK 0, 2, 3 or 6): §5.
        _lastControlSequence = header.Sequence;

        if (isClaim && claim.Release)
        {
            // The holder gives the arm up (a clean exit): the next controller need not wait for the lease.
            if (_claimant == claim.ClientId)
            {
                _claimant = 0;
                Array.Clear(_claimKey);
                Log($"released by client {claim.ClientId:X8}");
            }
            return Ack(reply, header, nowNs, AckResult.Ok, FrameStatus.Ok);
        }
        if (isClaim)
        {
            if (ClaimLive(nowNs) && _claimant != claim.ClientId && !claim.Takeover)
            {
                Log($"claim by client {claim.ClientId:X8} refused: client {_claimant:X8} holds the arm");
                return Ack(reply, header, nowNs, AckResult.Claimed, FrameStatus.Ok);
            }
            if (_claimant != claim.ClientId)
            {
                // A new controller starts from a disabled arm: it enables it when it is ready.
                if (_enabled)
                {
                    _enabled = false;
                    Hold(ArmHoldReason.Disabled);
                }
                Log($"claimed by client {claim.ClientId:X8}{(_claimant != 0 ? " (taken over)" : "")}");
            }
            _claimant = claim.ClientId;
            claimKey.CopyTo(_claimKey);
        }
        _claimLastNs = nowNs;
        switch (header.Type)
        {
            case FirmwareMessageType.Enable:
                if (_estop)
                    return Ack(reply, header, nowNs, AckResult.RefusedEmergencyStop, FrameStatus.Ok);
                if (StoppingFault)
                    return Ack(reply, header, nowNs, AckResult.RefusedFault, FrameStatus.Ok);
                if (!_enabled)
                {
                    // Enabling holds where the arm is; the watchdog counts from here.
                    _enabled = true;
                    _arm.Hold();
                    _heldSinceApply = true;
                    _holdReason = ArmHoldReason.None;
                    _lastValidCommandNs = nowNs;
                    Log($"enabled; watchdog {_description.WatchdogMilliseconds} ms");
                }
                return Ack(reply, header, nowNs, AckResult.Ok, FrameStatus.Ok);
            case FirmwareMessageType.Disable:
                // The reason a hold is reported under stays the gravest: an e-stop, then a fault.
                _enabled = false;
                Hold(_estop ? ArmHoldReason.EmergencyStop : StoppingFault ? ArmHoldReason.Fault : ArmHoldReason.Disabled);
                return Ack(reply, header, nowNs, AckResult.Ok, FrameStatus.Ok);
            case FirmwareMessageType.Reset:
                _estop = false;
                _enabled = false;
                _faults = ArmFaultFlags.None;
                Hold(ArmHoldReason.Disabled);
                Log("reset: e-stop and faults cleared, disabled");
                _arm.OnReset();
                return Ack(reply, header, nowNs, AckResult.Ok, FrameStatus.Ok);
            default: // CLAIM, HEARTBEAT
                return Ack(reply, header, nowNs, AckResult.Ok, FrameStatus.Ok);
        }
    }

    private bool ClaimLive(long nowNs) => _claimant != 0 && nowNs - _claimLastNs <= _leaseNs;

    private int Ack(Span<byte> reply, in FrameHeader request, long nowNs, AckResult result, FrameStatus reason) =>
        Ack(reply, request.Sequence, request.Type, nowNs, result, reason);

    private int Ack(Span<byte> reply, uint requestSequence, FirmwareMessageType requestType, long nowNs, AckResult result, FrameStatus reason) =>
        FirmwareCodec.EncodeAck(reply, ++_replySequence, (ulong)nowNs,
            new AckMessage(_session, requestSequence, requestType, result, reason, StatusFlags));
}
