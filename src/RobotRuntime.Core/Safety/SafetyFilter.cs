using RobotRuntime.Arm;

namespace RobotRuntime.Safety;

/// <summary>
/// The safety layer: joint position and velocity limits with margins, a workspace box, maximum
/// change per cycle, a NaN/Inf guard, command expiry, stale arm state and camera frames, K
/// consecutive deadline misses, arm-link loss, e-stops from any thread, and the arm's own account
/// of itself (disabled, holding on its own, rejecting commands, restarted). A hold is latched with
/// its reason and released only by <see cref="Reset"/>, which refuses while a cause persists.
/// The filter starts held (<see cref="HoldReason.NotArmed"/>).
/// </summary>
/// <remarks>
/// <para>What a hold tells the arm: the hold's joint target is latched once, when the hold begins —
/// the last joint-position target sent while acting (the set point the arm was already tracking, so
/// a gravity-loaded joint does not move at all), or, after end-effector or velocity commands, the
/// measured joints at that moment (a joint under load then settles once by its servo's steady-state
/// error and stays). That same target is sent every cycle until <see cref="Reset"/>: re-reading the
/// measured pose each cycle would let a loaded joint ratchet down. Nothing is sent while the arm
/// reports itself disabled or e-stopped (it holds by itself and would reject commands) or without a
/// fresh state (its watchdog holds).</para>
/// <para>Limits across rates: a cycle may say its period (<see cref="SafetyInput.CyclePeriodNs"/>; a
/// loop at a degraded rate does). Limits in units per second hold at every rate: a joint-position
/// target moves at most the scaled velocity limit × that period from the measured position, and a
/// joint-velocity command is cut so that one such period cannot carry the joint past its limit — the
/// longer period is what keeps a slower loop from overshooting. Limits given per command
/// (<see cref="SafetyFilterOptions.MaxJointPositionChangePerCycle"/>, the velocity change per cycle,
/// the end-effector translation and rotation per command, the arm's own step limits) stay per
/// command: at a slower rate they allow less speed, never more.</para>
/// </remarks>
/// <remarks>
/// Threading: <see cref="Filter"/> and <see cref="Reset"/> on the control loop's thread;
/// <see cref="EmergencyStop"/> and <see cref="SetEmergencyStopInput"/> from any thread.
/// </remarks>
public sealed class SafetyFilter : ISafetyFilter
{
    private const int SourceCount = 5;

    private readonly SafetyFilterOptions _options;
    private readonly int _jointCount;
    private readonly double[] _positionLow;
    private readonly double[] _positionHigh;
    private readonly double[] _velocityMax;
    private readonly double[] _positionStepMax;
    private readonly double _periodSeconds;
    private readonly double _translationMax;
    private readonly double _rotationMax;
    private readonly long _commandExpiryNs;
    private readonly long _armStateMaxAgeNs;
    private readonly long _frameMaxAgeNs;
    private readonly bool _holdCommandSupported;

    // The last joint velocities allowed (for the change-per-cycle limit); zero after a hold.
    private JointVector _lastVelocity;

    // Latched hold.
    private HoldReason _holdReason = HoldReason.NotArmed;
    private string _holdText = NotArmedText;

    // Conditions seen in the last Filter call, for Reset to judge whether a cause persists.
    private bool _sawLinkDown, _sawStaleState, _sawStaleFrame, _sawMisses, _sawOutsideWorkspace;
    private bool _sawArmDisabled, _sawArmEmergencyStop;
    private bool _filteredOnce;

    // The hold's target: latched once per hold (see the remarks), sent until Reset.
    private JointVector _holdTarget;
    private double _holdGripper;
    private bool _holdLatched;

    // The last joint-position target allowed while acting (cleared by any other command or a hold).
    private JointVector _lastJointTarget;
    private double _lastJointGripper;
    private bool _lastJointTargetValid;

    // The arm's account of itself while acting: the session acting began with (0: take the next
    // state's), cycles in a row the arm said it is disabled or holding, and the rejection counter
    // since the arm last applied a new command.
    private uint _actingSession;
    private int _armDisabledCycles, _armHoldingCycles;
    private bool _rejectionBaselineValid;
    private uint _rejectedAtBaseline, _appliedAtBaseline;

    /// <summary>Cycles in a row the arm must report itself disabled (or e-stopped) while the runtime acts before the filter holds.</summary>
    public const int ArmDisabledCycles = 2;

    /// <summary>Cycles in a row the arm must report a hold of its own while the runtime acts before the filter holds (a single watchdog trip that the next command ends is not a hold).</summary>
    public const int ArmHoldingCycles = 3;

    /// <summary>Commands the arm must reject, with none applied in between, before the filter holds.</summary>
    public const int ArmRejectedCommands = 3;

    // E-stop inputs, written by any thread.
    private int _pressCount;
    private int _acknowledgedPressCount;
    private int _seenPressCount;
    private int _assertedMask;
    private readonly string[] _sourceText = new string[SourceCount];
    private volatile string _lastPressText = "";

    private const string NotArmedText = "not armed yet: the filter starts held; reset once the arm link is up";
    private const string LinkText = "arm link is not up (connecting or lost)";
    private const string StaleStateText = "arm state is older than the configured bound";
    private const string NoStateText = "no arm state received yet";
    private const string StaleFrameText = "camera frame is older than the configured bound, missing, or captured too far from the other cameras' frames";
    private const string MissesText = "too many consecutive missed deadlines";
    private const string PolicyFailedText = "the policy produced no action";
    private const string ExpiredText = "command is older than the configured expiry";
    private const string NonFiniteText = "command holds NaN or infinity";
    private const string BadModeText = "command mode is not supported by the arm";
    private const string BadCountText = "command value count does not match the mode";
    private const string OutsideText = "end effector is outside the workspace box";
    private const string ArmDisabledText = "the arm reports itself disabled while the runtime acts (disabled behind the runtime's back, or by the arm itself)";
    private const string ArmEmergencyStopText = "the arm reports its own e-stop latched (pressed at the arm, or sent by another process)";
    private const string ArmWatchdogText = "the arm holds on its own: its watchdog tripped (it gets no valid commands)";
    private const string ArmFaultText = "the arm holds on its own: a fault stops motion (see its fault report)";
    private const string ArmHoldingText = "the arm holds on its own";
    private const string ArmRejectingText = "the arm rejects the runtime's commands (its rejection count rises and it applies none)";
    private const string ArmRestartedText = "the arm's session changed: its firmware restarted (it is disabled until a reset handshakes and enables it again)";

    /// <summary>Builds a filter for <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">An option is out of range, naming it and what was expected.</exception>
    /// <remarks>Setup only.</remarks>
    public SafetyFilter(SafetyFilterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.Arm, nameof(options.Arm));
        var arm = options.Arm;
        if (arm.JointCount < 1 || arm.JointCount > JointVector.Capacity)
            throw new ArgumentException($"Arm.Joints: expected 1 to {JointVector.Capacity} joints, got {arm.JointCount}", nameof(options));
        if (!(options.CyclePeriod > TimeSpan.Zero))
            throw new ArgumentException($"CyclePeriod: expected > 0, got {options.CyclePeriod}", nameof(options));
        RequireFiniteNonNegative(options.JointPositionMargin, nameof(options.JointPositionMargin));
        RequireFiniteNonNegative(options.WorkspaceMargin, nameof(options.WorkspaceMargin));
        if (!(options.VelocityScale > 0 && options.VelocityScale <= 1))
            throw new ArgumentException($"VelocityScale: expected a value in (0, 1], got {options.VelocityScale}", nameof(options));
        RequirePositive(options.MaxJointPositionChangePerCycle, nameof(options.MaxJointPositionChangePerCycle));
        RequirePositive(options.MaxJointVelocityChangePerCycle, nameof(options.MaxJointVelocityChangePerCycle));
        RequirePositive(options.MaxEndEffectorTranslation, nameof(options.MaxEndEffectorTranslation));
        RequirePositive(options.MaxEndEffectorRotation, nameof(options.MaxEndEffectorRotation));
        if (!(options.CommandExpiry > TimeSpan.Zero))
            throw new ArgumentException($"CommandExpiry: expected > 0, got {options.CommandExpiry}", nameof(options));
        if (!(options.MaxArmStateAge > TimeSpan.Zero))
            throw new ArgumentException($"MaxArmStateAge: expected > 0, got {options.MaxArmStateAge}", nameof(options));
        if (options.MaxFrameAge is { } frameAge && !(frameAge > TimeSpan.Zero))
            throw new ArgumentException($"MaxFrameAge: expected > 0 or null (no cameras), got {frameAge}", nameof(options));
        if (options.MaxConsecutiveDeadlineMisses < 1)
            throw new ArgumentException($"MaxConsecutiveDeadlineMisses: expected ≥ 1, got {options.MaxConsecutiveDeadlineMisses}", nameof(options));
        if (options.Workspace is { } box)
        {
            if (!(double.IsFinite(box.MinX) && double.IsFinite(box.MinY) && double.IsFinite(box.MinZ) &&
                  double.IsFinite(box.MaxX) && double.IsFinite(box.MaxY) && double.IsFinite(box.MaxZ)))
                throw new ArgumentException($"Workspace: expected finite bounds, got {box}", nameof(options));
            double m = options.WorkspaceMargin;
            if (!(box.MinX + m < box.MaxX - m && box.MinY + m < box.MaxY - m && box.MinZ + m < box.MaxZ - m))
                throw new ArgumentException($"Workspace: expected Min + WorkspaceMargin < Max - WorkspaceMargin on every axis, got {box} with margin {m}", nameof(options));
        }

        _options = options;
        _jointCount = arm.JointCount;
        _periodSeconds = options.CyclePeriod.TotalSeconds;
        _positionLow = new double[_jointCount];
        _positionHigh = new double[_jointCount];
        _velocityMax = new double[_jointCount];
        _positionStepMax = new double[_jointCount];
        for (int i = 0; i < _jointCount; i++)
        {
            var joint = arm.Joints[i];
            double low = joint.PositionMin + options.JointPositionMargin;
            double high = joint.PositionMax - options.JointPositionMargin;
            if (!(double.IsFinite(low) && double.IsFinite(high) && low < high))
                throw new ArgumentException($"Arm.Joints[{i}]: expected PositionMin + JointPositionMargin < PositionMax - JointPositionMargin, got [{joint.PositionMin}, {joint.PositionMax}] with margin {options.JointPositionMargin}", nameof(options));
            if (!(joint.VelocityMax > 0 && double.IsFinite(joint.VelocityMax)))
                throw new ArgumentException($"Arm.Joints[{i}].VelocityMax: expected a finite value > 0, got {joint.VelocityMax}", nameof(options));
            _positionLow[i] = low;
            _positionHigh[i] = high;
            _velocityMax[i] = joint.VelocityMax * options.VelocityScale;
            _positionStepMax[i] = Math.Min(options.MaxJointPositionChangePerCycle, _velocityMax[i] * _periodSeconds);
        }
        _translationMax = Math.Min(options.MaxEndEffectorTranslation, arm.EndEffectorMaxTranslation > 0 ? arm.EndEffectorMaxTranslation : double.PositiveInfinity);
        _rotationMax = Math.Min(options.MaxEndEffectorRotation, arm.EndEffectorMaxRotation > 0 ? arm.EndEffectorMaxRotation : double.PositiveInfinity);
        _commandExpiryNs = options.CommandExpiry.Ticks * 100;
        _armStateMaxAgeNs = options.MaxArmStateAge.Ticks * 100;
        _frameMaxAgeNs = options.MaxFrameAge is { } age ? age.Ticks * 100 : long.MaxValue;
        _holdCommandSupported = arm.SupportedModes.Contains(ArmCommandMode.JointPosition);
        for (int i = 0; i < SourceCount; i++) _sourceText[i] = "";
    }

    private static void RequireFiniteNonNegative(double value, string name)
    {
        if (!(value >= 0 && double.IsFinite(value)))
            throw new ArgumentException($"{name}: expected a finite value ≥ 0, got {value}", "options");
    }

    private static void RequirePositive(double value, string name)
    {
        if (!(value > 0))
            throw new ArgumentException($"{name}: expected a value > 0 (or infinity for no limit), got {value}", "options");
    }

    /// <summary>The options the filter was built with.</summary>
    public SafetyFilterOptions Options => _options;

    /// <inheritdoc/>
    public bool IsHolding => _holdReason != HoldReason.None;

    /// <inheritdoc/>
    public HoldReason HoldReason => _holdReason;

    /// <inheritdoc/>
    public string HoldText => _holdText;

    /// <summary>
    /// Called on every e-stop (a press, or an input becoming asserted), on the thread that raised it,
    /// after the filter has latched it: the host relays it to the arm's firmware (ESTOP). Must return
    /// at once (signal a thread that does the sending); null: nothing is called.
    /// </summary>
    /// <remarks>Setup only (set before the loop starts).</remarks>
    public Action<EmergencyStopSource>? EmergencyStopRaised { get; set; }

    /// <inheritdoc/>
    public void EmergencyStop(EmergencyStopSource source, string detail)
    {
        _lastPressText = string.IsNullOrEmpty(detail) ? SourceName(source) : detail;
        Interlocked.Increment(ref _pressCount);
        EmergencyStopRaised?.Invoke(source);
    }

    /// <inheritdoc/>
    public void SetEmergencyStopInput(EmergencyStopSource source, bool asserted, string detail)
    {
        int index = (int)source;
        if ((uint)index >= SourceCount) return;
        Volatile.Write(ref _sourceText[index], string.IsNullOrEmpty(detail) ? SourceName(source) : detail);
        int bit = 1 << index;
        if (asserted)
        {
            if ((Interlocked.Or(ref _assertedMask, bit) & bit) == 0)
                EmergencyStopRaised?.Invoke(source);
        }
        else
        {
            Interlocked.And(ref _assertedMask, ~bit);
        }
    }

    private static string SourceName(EmergencyStopSource source) => source switch
    {
        EmergencyStopSource.Operator => "e-stop from the operator",
        EmergencyStopSource.File => "e-stop from the watched file",
        EmergencyStopSource.Signal => "e-stop from a signal",
        EmergencyStopSource.ControlChannel => "e-stop from the control channel",
        EmergencyStopSource.Hardware => "e-stop from a hardware input",
        _ => "e-stop",
    };

    /// <inheritdoc/>
    public SafetyStatus Filter(in SafetyInput input, out SafetyResult result)
    {
        result = default;
        result.Requested = input.Requested;
        result.ReasonText = "";

        HoldReason cause = Evaluate(in input, out string causeText);
        if (_holdReason == HoldReason.None && cause != HoldReason.None)
        {
            _holdReason = cause;
            _holdText = causeText;
            result.HoldStarted = true;
        }
        else if (_holdReason == HoldReason.StaleArmState && cause == HoldReason.ArmLinkLost)
        {
            // States stopped: first they were too old for acting, now the link counts them lost. The
            // hold is the same; its name becomes the truer one.
            _holdReason = cause;
            _holdText = causeText;
        }

        if (_holdReason != HoldReason.None)
        {
            _lastVelocity = default;
            result.Status = SafetyStatus.Hold;
            result.Reason = _holdReason;
            result.ReasonText = _holdText;
            FillHoldCommand(in input, ref result.Allowed);
            return SafetyStatus.Hold;
        }

        result.Allowed = input.Requested;
        result.Allowed.Sequence = 0;
        ClipKinds clipped = input.Requested.Mode switch
        {
            ArmCommandMode.JointPosition => ClipJointPositions(in input, ref result.Allowed),
            ArmCommandMode.JointVelocity => ClipJointVelocities(in input, ref result.Allowed),
            _ => ClipEndEffectorDelta(in input, ref result.Allowed),
        };
        if (input.Requested.Mode != ArmCommandMode.JointVelocity) _lastVelocity = default;

        double gripper = result.Allowed.GripperTarget;
        if (gripper < 0 || gripper > 1)
        {
            result.Allowed.GripperTarget = Math.Clamp(gripper, 0, 1);
            clipped |= ClipKinds.Gripper;
        }
        result.Clipped = clipped;
        result.Status = clipped == ClipKinds.None ? SafetyStatus.Pass : SafetyStatus.Clipped;
        _lastJointTargetValid = result.Allowed.Mode == ArmCommandMode.JointPosition;
        if (_lastJointTargetValid)
        {
            _lastJointTarget = result.Allowed.Values;
            _lastJointGripper = result.Allowed.GripperTarget;
        }
        return result.Status;
    }

    // Checks every hold cause, records the persistent ones for Reset, and returns the first that applies.
    private HoldReason Evaluate(in SafetyInput input, out string text)
    {
        _filteredOnce = true;
        _seenPressCount = Volatile.Read(ref _pressCount);
        bool stopPressed = _seenPressCount != _acknowledgedPressCount;
        int asserted = Volatile.Read(ref _assertedMask);
        _sawLinkDown = input.LinkStatus != ArmLinkStatus.Up;
        _sawStaleState = !input.HasArmState || input.ArmStateAgeNs > _armStateMaxAgeNs || input.ArmStateAgeNs < 0;
        _sawStaleFrame = _options.MaxFrameAge is not null && (input.FrameAgeNs > _frameMaxAgeNs || input.FrameAgeNs < 0);
        _sawMisses = input.ConsecutiveDeadlineMisses >= _options.MaxConsecutiveDeadlineMisses;
        _sawArmEmergencyStop = input.HasArmState && (input.ArmState.Status & ArmStatusFlags.EmergencyStop) != 0;
        _sawArmDisabled = input.HasArmState && ((input.ArmState.Status & ArmStatusFlags.Enabled) == 0 || _sawArmEmergencyStop);
        _sawOutsideWorkspace = input.HasArmState && _options.Workspace is { } box &&
            !box.Contains(input.ArmState.EndEffectorX, input.ArmState.EndEffectorY, input.ArmState.EndEffectorZ);

        if (asserted != 0)
        {
            text = Volatile.Read(ref _sourceText[System.Numerics.BitOperations.TrailingZeroCount(asserted)]);
            return HoldReason.EmergencyStop;
        }
        if (stopPressed)
        {
            text = _lastPressText;
            return HoldReason.EmergencyStop;
        }
        if (_sawLinkDown) { text = LinkText; return HoldReason.ArmLinkLost; }
        if (_sawStaleState) { text = input.HasArmState ? StaleStateText : NoStateText; return HoldReason.StaleArmState; }
        if (JudgeArm(in input.ArmState, out text) is var armCause and not HoldReason.None)
            return armCause;
        if (_sawStaleFrame) { text = StaleFrameText; return HoldReason.StaleCameraFrame; }
        if (_sawMisses) { text = MissesText; return HoldReason.DeadlineMisses; }
        if (_sawOutsideWorkspace) { text = OutsideText; return HoldReason.OutsideWorkspace; }
        if (input.PolicyFailed) { text = PolicyFailedText; return HoldReason.PolicyFailed; }

        long commandAge = input.NowNs - input.CommandTimestampNs;
        if (commandAge > _commandExpiryNs) { text = ExpiredText; return HoldReason.CommandExpired; }

        ref readonly var command = ref input.Requested;
        if (!_options.Arm.SupportedModes.Contains(command.Mode)) { text = BadModeText; return HoldReason.InvalidCommand; }
        int expectedCount = command.Mode == ArmCommandMode.EndEffectorDelta ? 6 : _jointCount;
        if (command.ValueCount != expectedCount) { text = BadCountText; return HoldReason.InvalidCommand; }
        if (!double.IsFinite(command.GripperTarget)) { text = NonFiniteText; return HoldReason.NonFiniteCommand; }
        for (int i = 0; i < expectedCount; i++)
        {
            if (!double.IsFinite(command.Values[i])) { text = NonFiniteText; return HoldReason.NonFiniteCommand; }
        }
        text = "";
        return HoldReason.None;
    }

    /// <summary>
    /// Compares what the arm says of itself (fresh state only) with a runtime that acts: disabled or
    /// e-stopped, holding on its own, rejecting every command, or a new session. Counts only while
    /// acting; while holding it records what Reset must see cleared.
    /// </summary>
    private HoldReason JudgeArm(in ArmState arm, out string text)
    {
        text = "";
        bool enabled = (arm.Status & ArmStatusFlags.Enabled) != 0;
        if (_holdReason != HoldReason.None)
        {
            _armDisabledCycles = _armHoldingCycles = 0;
            _rejectionBaselineValid = false;
            return HoldReason.None;
        }

        if (_actingSession == 0)
            _actingSession = arm.Session;
        else if (arm.Session != _actingSession)
        {
            text = ArmRestartedText;
            return HoldReason.ArmRestarted;
        }

        _armDisabledCycles = _sawArmDisabled ? _armDisabledCycles + 1 : 0;
        if (_armDisabledCycles >= ArmDisabledCycles)
        {
            text = _sawArmEmergencyStop ? ArmEmergencyStopText : ArmDisabledText;
            return HoldReason.ArmDisabled;
        }
        _armHoldingCycles = enabled && (arm.Status & ArmStatusFlags.Holding) != 0 ? _armHoldingCycles + 1 : 0;
        if (_armHoldingCycles >= ArmHoldingCycles)
        {
            text = arm.HoldReason switch
            {
                ArmHoldReason.Watchdog => ArmWatchdogText,
                ArmHoldReason.Fault => ArmFaultText,
                _ => ArmHoldingText,
            };
            return HoldReason.ArmHolding;
        }

        // Rejections count against the runtime only while the arm applies nothing new.
        if (!_rejectionBaselineValid || arm.LastCommandSequence != _appliedAtBaseline || arm.CommandsRejected < _rejectedAtBaseline)
        {
            _rejectionBaselineValid = true;
            _appliedAtBaseline = arm.LastCommandSequence;
            _rejectedAtBaseline = arm.CommandsRejected;
        }
        else if (arm.CommandsRejected - _rejectedAtBaseline >= ArmRejectedCommands)
        {
            text = ArmRejectingText;
            return HoldReason.ArmRejecting;
        }
        return HoldReason.None;
    }

    private void FillHoldCommand(in SafetyInput input, ref ArmCommand hold)
    {
        hold = default;
        bool fresh = input.HasArmState && !_sawLinkDown && !_sawStaleState && input.ArmState.JointCount == _jointCount;
        if (!_holdLatched)
        {
            // Latched once per hold: the set point the arm tracked, else where it is now.
            if (_lastJointTargetValid)
            {
                _holdTarget = _lastJointTarget;
                _holdGripper = _lastJointGripper;
                _holdLatched = true;
            }
            else if (fresh)
            {
                _holdTarget = input.ArmState.Positions;
                _holdGripper = double.IsFinite(input.ArmState.GripperPosition) ? Math.Clamp(input.ArmState.GripperPosition, 0, 1) : 0;
                _holdLatched = true;
            }
            _lastJointTargetValid = false;
        }
        if (!_holdCommandSupported || !_holdLatched || !fresh || _sawArmDisabled)
            return;
        hold.Mode = ArmCommandMode.JointPosition;
        hold.ValueCount = _jointCount;
        hold.Values = _holdTarget;
        hold.GripperTarget = _holdGripper;
    }

    /// <summary>The hold's latched joint target and gripper; false when none is latched (not holding, or no state yet in this hold).</summary>
    /// <remarks>Control-loop thread (tests and diagnostics).</remarks>
    public bool TryGetHoldTarget(out JointVector target, out double gripper)
    {
        target = _holdTarget;
        gripper = _holdGripper;
        return _holdReason != HoldReason.None && _holdLatched;
    }

    private ClipKinds ClipJointPositions(in SafetyInput input, ref ArmCommand allowed)
    {
        var clipped = ClipKinds.None;
        for (int i = 0; i < _jointCount; i++)
        {
            double target = allowed.Values[i];
            double measured = input.ArmState.Positions[i];
            // At another period (a degraded rate) the velocity limit × that period, never more than the fixed per-cycle step.
            double step = input.CyclePeriodNs > 0
                ? Math.Min(_options.MaxJointPositionChangePerCycle, _velocityMax[i] * (input.CyclePeriodNs / 1e9))
                : _positionStepMax[i];
            if (target > _positionHigh[i]) { target = _positionHigh[i]; clipped |= ClipKinds.JointPosition; }
            else if (target < _positionLow[i]) { target = _positionLow[i]; clipped |= ClipKinds.JointPosition; }
            // The step limit comes last, so a joint found beyond its limit is brought back at most one step per cycle.
            if (target > measured + step) { target = measured + step; clipped |= ClipKinds.ChangePerCycle; }
            else if (target < measured - step) { target = measured - step; clipped |= ClipKinds.ChangePerCycle; }
            allowed.Values[i] = target;
        }
        return clipped;
    }

    private ClipKinds ClipJointVelocities(in SafetyInput input, ref ArmCommand allowed)
    {
        var clipped = ClipKinds.None;
        double changeMax = _options.MaxJointVelocityChangePerCycle;
        // The command stands for this cycle's period: a longer one (a degraded rate) carries the joint further.
        double periodSeconds = input.CyclePeriodNs > 0 ? input.CyclePeriodNs / 1e9 : _periodSeconds;
        for (int i = 0; i < _jointCount; i++)
        {
            double velocity = allowed.Values[i];
            double max = _velocityMax[i];
            if (velocity > max) { velocity = max; clipped |= ClipKinds.JointVelocity; }
            else if (velocity < -max) { velocity = -max; clipped |= ClipKinds.JointVelocity; }
            double previous = _lastVelocity[i];
            if (velocity > previous + changeMax) { velocity = previous + changeMax; clipped |= ClipKinds.ChangePerCycle; }
            else if (velocity < previous - changeMax) { velocity = previous - changeMax; clipped |= ClipKinds.ChangePerCycle; }
            // Do not let one period at this velocity carry the joint past its limit (less the margin);
            // a joint already beyond it may only move back.
            double position = input.ArmState.Positions[i];
            double upward = Math.Max(0, (_positionHigh[i] - position) / periodSeconds);
            double downward = Math.Min(0, (_positionLow[i] - position) / periodSeconds);
            if (velocity > upward) { velocity = upward; clipped |= ClipKinds.JointPosition; }
            else if (velocity < downward) { velocity = downward; clipped |= ClipKinds.JointPosition; }
            allowed.Values[i] = velocity;
            _lastVelocity[i] = velocity;
        }
        return clipped;
    }

    private ClipKinds ClipEndEffectorDelta(in SafetyInput input, ref ArmCommand allowed)
    {
        var clipped = ClipKinds.None;
        if (_options.Workspace is { } box)
        {
            double margin = _options.WorkspaceMargin;
            ref readonly var state = ref input.ArmState;
            clipped |= ClipAxis(ref allowed.Values[0], state.EndEffectorX, box.MinX + margin, box.MaxX - margin);
            clipped |= ClipAxis(ref allowed.Values[1], state.EndEffectorY, box.MinY + margin, box.MaxY - margin);
            clipped |= ClipAxis(ref allowed.Values[2], state.EndEffectorZ, box.MinZ + margin, box.MaxZ - margin);
        }
        clipped |= ClipNorm(ref allowed.Values[0], ref allowed.Values[1], ref allowed.Values[2], _translationMax);
        clipped |= ClipNorm(ref allowed.Values[3], ref allowed.Values[4], ref allowed.Values[5], _rotationMax);
        return clipped;
    }

    private static ClipKinds ClipAxis(ref double delta, double position, double low, double high)
    {
        double target = position + delta;
        if (target > high) { delta = Math.Max(high - position, Math.Min(delta, 0)); return ClipKinds.Workspace; }
        if (target < low) { delta = Math.Min(low - position, Math.Max(delta, 0)); return ClipKinds.Workspace; }
        return ClipKinds.None;
    }

    private static ClipKinds ClipNorm(ref double x, ref double y, ref double z, double max)
    {
        double norm = Math.Sqrt(x * x + y * y + z * z);
        if (norm <= max) return ClipKinds.None;
        double scale = max / norm;
        x *= scale; y *= scale; z *= scale;
        return ClipKinds.EndEffectorStep;
    }

    /// <inheritdoc/>
    public SafetyResetResult Reset()
    {
        if (_holdReason == HoldReason.None)
            return new SafetyResetResult(true, HoldReason.None, "not holding; nothing to reset");

        int asserted = Volatile.Read(ref _assertedMask);
        if (asserted != 0)
        {
            var source = (EmergencyStopSource)System.Numerics.BitOperations.TrailingZeroCount(asserted);
            return Refuse(HoldReason.EmergencyStop, $"the {source} e-stop input is still asserted ({Volatile.Read(ref _sourceText[(int)source])}); release it first");
        }
        if (Volatile.Read(ref _pressCount) != _seenPressCount)
            return Refuse(HoldReason.EmergencyStop, $"an e-stop ({_lastPressText}) arrived after the last cycle; it must reach a cycle before a reset");
        if (_filteredOnce)
        {
            if (_sawLinkDown) return Refuse(HoldReason.ArmLinkLost, "the arm link is still not up; reconnect the arm (or restart the sim-server) first");
            if (_sawStaleState) return Refuse(HoldReason.StaleArmState, $"the arm state is still older than {_options.MaxArmStateAge.TotalMilliseconds} ms (or missing)");
            if (_sawStaleFrame) return Refuse(HoldReason.StaleCameraFrame, $"camera frames are still older than {_options.MaxFrameAge?.TotalMilliseconds} ms, missing, or captured too far apart (safety.max_frame_skew); check the cameras");
            if (_sawMisses) return Refuse(HoldReason.DeadlineMisses, $"the loop still misses {_options.MaxConsecutiveDeadlineMisses} or more deadlines in a row; lower the rate or speed up the policy");
            if (_sawOutsideWorkspace) return Refuse(HoldReason.OutsideWorkspace, "the end effector is still outside the workspace box; move it back inside first");
            if (_sawArmEmergencyStop) return Refuse(HoldReason.ArmDisabled, "the arm still reports its own e-stop latched; release it at the arm (firmware RESET) first");
            if (_sawArmDisabled) return Refuse(HoldReason.ArmDisabled, "the arm still reports itself disabled; enable it first");
        }

        var previous = _holdReason;
        var previousText = _holdText;
        _acknowledgedPressCount = _seenPressCount;
        _holdReason = HoldReason.None;
        _holdText = "";
        _lastVelocity = default;
        _holdLatched = false;
        _lastJointTargetValid = false;
        _actingSession = 0; // acting resumes with whatever session the arm has now (a restarted arm was handshaken by then)
        _armDisabledCycles = _armHoldingCycles = 0;
        _rejectionBaselineValid = false;
        return new SafetyResetResult(true, HoldReason.None, $"released the hold ({previous}: {previousText})");
    }

    private SafetyResetResult Refuse(HoldReason cause, string why) =>
        new(false, cause, $"reset refused while holding for {_holdReason} ({_holdText}): {why}");
}
