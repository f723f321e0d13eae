using RobotRuntime.Arm;

namespace RobotRuntime.Safety;

/// <summary>Why the safety layer holds the arm.</summary>
public enum HoldReason : byte
{
    /// <summary>Not holding.</summary>
    None = 0,
    /// <summary>The filter has not been armed yet: it starts held and needs one <see cref="ISafetyFilter.Reset"/>.</summary>
    NotArmed = 1,
    /// <summary>An emergency stop came from one of its sources (operator, file, signal, control channel).</summary>
    EmergencyStop = 2,
    /// <summary>The link to the arm is not up (connecting or lost).</summary>
    ArmLinkLost = 3,
    /// <summary>The newest arm state is older than the configured bound.</summary>
    StaleArmState = 4,
    /// <summary>The newest camera frame is older than the configured bound, there is none, or the cameras' newest frames were captured too far apart to be used together.</summary>
    StaleCameraFrame = 5,
    /// <summary>K consecutive cycles missed their deadline.</summary>
    DeadlineMisses = 6,
    /// <summary>The command is older than the configured expiry.</summary>
    CommandExpired = 7,
    /// <summary>A command value or the gripper target is NaN or infinite.</summary>
    NonFiniteCommand = 8,
    /// <summary>The command's mode is unsupported by the arm or its value count does not match.</summary>
    InvalidCommand = 9,
    /// <summary>The measured end effector is outside the workspace box.</summary>
    OutsideWorkspace = 10,

    /// <summary>The policy produced no action (it failed or lacked an input); see the loop's log for its error.</summary>
    PolicyFailed = 11,
    /// <summary>The arm reports itself disabled (or its own e-stop latched) while the runtime acts: someone or something disabled it behind the runtime's back.</summary>
    ArmDisabled = 12,
    /// <summary>The arm reports that it holds on its own (watchdog, fault) while the runtime acts: it is not following the commands.</summary>
    ArmHolding = 13,
    /// <summary>The arm rejects the runtime's commands (its rejection counter rises while the last applied command does not advance).</summary>
    ArmRejecting = 14,
    /// <summary>The arm's session changed: its firmware restarted (it comes back disabled and must be handshaken and enabled again).</summary>
    ArmRestarted = 15,
}

/// <summary>Where an emergency stop came from.</summary>
public enum EmergencyStopSource : byte
{
    /// <summary>The operator's terminal (a key press, a command).</summary>
    Operator = 0,
    /// <summary>A file watched by <see cref="EmergencyStopWatcher"/>.</summary>
    File = 1,
    /// <summary>A POSIX signal (SIGUSR1) caught by <see cref="EmergencyStopWatcher"/>.</summary>
    Signal = 2,
    /// <summary>The runtime's control channel (a remote request).</summary>
    ControlChannel = 3,
    /// <summary>A hardware input (for example a GPIO line).</summary>
    Hardware = 4,
}

/// <summary>What the filter did with one command.</summary>
public enum SafetyStatus : byte
{
    /// <summary>The command passes unchanged.</summary>
    Pass = 0,
    /// <summary>The command passes after clipping; <see cref="SafetyResult.Clipped"/> says what was clipped.</summary>
    Clipped = 1,
    /// <summary>The arm holds; <see cref="SafetyResult.Reason"/> says why.</summary>
    Hold = 2,
}

/// <summary>Which limits clipped a command (several may apply in one cycle).</summary>
[Flags]
public enum ClipKinds : byte
{
    /// <summary>Nothing clipped.</summary>
    None = 0,
    /// <summary>A joint position target was moved inside the joint's limits less the margin.</summary>
    JointPosition = 0x1,
    /// <summary>A joint speed was limited to the joint's velocity limit (scaled).</summary>
    JointVelocity = 0x2,
    /// <summary>A value changed by more than the maximum change per cycle.</summary>
    ChangePerCycle = 0x4,
    /// <summary>An end-effector target was moved inside the workspace box less the margin.</summary>
    Workspace = 0x8,
    /// <summary>An end-effector translation or rotation was shortened to the per-command maximum.</summary>
    EndEffectorStep = 0x10,
    /// <summary>The gripper target was moved into 0..1.</summary>
    Gripper = 0x20,
}

/// <summary>
/// What the control loop knows in one cycle, handed to <see cref="ISafetyFilter.Filter"/>. A value
/// type: building one does not allocate.
/// </summary>
public struct SafetyInput
{
    /// <summary>The command the policy asks for.</summary>
    public ArmCommand Requested;
    /// <summary>When the policy produced <see cref="Requested"/>, on <see cref="Timing.MonotonicClock"/> (ns).</summary>
    public long CommandTimestampNs;
    /// <summary>Now, on <see cref="Timing.MonotonicClock"/> (ns).</summary>
    public long NowNs;
    /// <summary>The link's status this cycle.</summary>
    public ArmLinkStatus LinkStatus;
    /// <summary>Whether <see cref="ArmState"/> holds a state received from the arm.</summary>
    public bool HasArmState;
    /// <summary>The newest state from the arm.</summary>
    public ArmState ArmState;
    /// <summary>Age of <see cref="ArmState"/> (ns).</summary>
    public long ArmStateAgeNs;
    /// <summary>Age of the oldest camera frame the policy used (ns); <see cref="long.MaxValue"/> when a camera has no frame.</summary>
    public long FrameAgeNs;
    /// <summary>Consecutive cycles that missed their deadline, up to and including the previous one.</summary>
    public int ConsecutiveDeadlineMisses;
    /// <summary>
    /// How long this cycle's command will stand before the next, ns: the period of the rate the loop
    /// runs at now; 0 (the default): the filter's configured <see cref="SafetyFilterOptions.CyclePeriod"/>.
    /// A loop that steps its rate down passes the lower rate's period, so that limits in units per
    /// second hold at every rate (see <see cref="SafetyFilter"/>).
    /// </summary>
    public long CyclePeriodNs;
    /// <summary>True when the policy produced no action this cycle (the requested command is then meaningless).</summary>
    public bool PolicyFailed;
}

/// <summary>The outcome of one <see cref="ISafetyFilter.Filter"/> call: what was asked, what is allowed, and why.</summary>
public struct SafetyResult
{
    /// <summary>Pass, clipped or hold.</summary>
    public SafetyStatus Status;
    /// <summary>Why the arm holds; <see cref="HoldReason.None"/> unless <see cref="Status"/> is <see cref="SafetyStatus.Hold"/>.</summary>
    public HoldReason Reason;
    /// <summary>Text for <see cref="Reason"/> (a constant or the e-stop source's text; never built per cycle); empty when not holding.</summary>
    public string ReasonText;
    /// <summary>True in the cycle the hold was latched (the hold event); false while it continues.</summary>
    public bool HoldStarted;
    /// <summary>Which limits clipped the command (the clip event).</summary>
    public ClipKinds Clipped;
    /// <summary>The command as requested.</summary>
    public ArmCommand Requested;
    /// <summary>
    /// The command to send. On hold: a joint-position command to the hold's target, latched once when
    /// the hold began (the last joint-position target sent, else the measured joints at that moment),
    /// while the arm reports itself enabled and a fresh state exists; otherwise mode
    /// <see cref="ArmCommandMode.None"/> (send nothing: a disabled or e-stopped arm holds by itself and
    /// would reject commands, and without a state the arm's watchdog holds).
    /// </summary>
    public ArmCommand Allowed;
}

/// <summary>Outcome of <see cref="ISafetyFilter.Reset"/>.</summary>
/// <param name="Succeeded">Whether the hold was released.</param>
/// <param name="PersistingCause">The cause that is still present when refused; <see cref="HoldReason.None"/> on success.</param>
/// <param name="Message">What happened, and when refused what to fix.</param>
public readonly record struct SafetyResetResult(bool Succeeded, HoldReason PersistingCause, string Message);
