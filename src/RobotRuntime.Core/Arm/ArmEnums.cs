namespace RobotRuntime.Arm;

/// <summary>How the values of an <see cref="ArmCommand"/> are meant.</summary>
public enum ArmCommandMode : byte
{
    /// <summary>No command (an empty state or a command not filled in).</summary>
    None = 0,

    /// <summary>Target joint positions, rad (m for prismatic joints).</summary>
    JointPosition = 1,

    /// <summary>Joint velocities, rad/s (m/s for prismatic joints).</summary>
    JointVelocity = 2,

    /// <summary>End-effector delta in the base frame: dx, dy, dz (m), then rotation drx, dry, drz (rad, axis-angle).</summary>
    EndEffectorDelta = 3,
}

/// <summary>What the arm reports about itself in every state.</summary>
[Flags]
public enum ArmStatusFlags : uint
{
    /// <summary>Nothing set: disabled, not holding, not moving.</summary>
    None = 0,

    /// <summary>Motion is allowed.</summary>
    Enabled = 0x1,

    /// <summary>Holding position; <see cref="ArmState.HoldReason"/> says why.</summary>
    Holding = 0x2,

    /// <summary>The emergency stop is latched; a reset clears it.</summary>
    EmergencyStop = 0x4,

    /// <summary>A fault in <see cref="ArmState.Faults"/> stops motion; a reset clears it.</summary>
    Fault = 0x8,

    /// <summary>At least one joint velocity is non-zero.</summary>
    Moving = 0x10,
}

/// <summary>Faults and warnings the arm latches until a reset.</summary>
[Flags]
public enum ArmFaultFlags : uint
{
    /// <summary>No fault or warning.</summary>
    None = 0,

    /// <summary>A joint reached a position limit (warning).</summary>
    JointLimit = 0x1,

    /// <summary>An effort limit was exceeded (fault: stops motion).</summary>
    OverEffort = 0x2,

    /// <summary>The arm's command watchdog tripped since the last reset (warning).</summary>
    Watchdog = 0x4,

    /// <summary>The arm rejected frames since the last reset (warning).</summary>
    BadFrames = 0x8,
}

/// <summary>Why the arm is holding.</summary>
public enum ArmHoldReason : ushort
{
    /// <summary>Not holding.</summary>
    None = 0,

    /// <summary>Not enabled.</summary>
    Disabled = 1,

    /// <summary>Enabled, but no valid command arrived within the arm's watchdog time.</summary>
    Watchdog = 2,

    /// <summary>The emergency stop is latched.</summary>
    EmergencyStop = 3,

    /// <summary>A fault stops motion.</summary>
    Fault = 4,
}

/// <summary>What became of a command handed to <see cref="IArmLink.Send"/>.</summary>
public enum ArmSendStatus
{
    /// <summary>Sent; the command actually sent (after clipping) is returned beside this status.</summary>
    Sent,

    /// <summary>Sent after clipping at least one value to the arm's limits.</summary>
    SentClipped,

    /// <summary>Not sent: no fresh state from the arm, so the link is down or its session unknown.</summary>
    LinkDown,

    /// <summary>Not sent: the arm's description is not known yet (no successful handshake).</summary>
    NoDescription,

    /// <summary>Not sent: a value is NaN or infinite, the value count does not match, or the arm does not support the mode.</summary>
    InvalidCommand,

    /// <summary>Not sent: the transport refused the message (the socket could not queue it).</summary>
    TransportError,
}

/// <summary>How the link to the arm is doing.</summary>
public enum ArmLinkStatus
{
    /// <summary>No state has been received yet.</summary>
    Connecting,

    /// <summary>States arrive within the configured link timeout.</summary>
    Up,

    /// <summary>No valid state arrived within the configured link timeout; commands are not sent.</summary>
    Lost,
}

/// <summary>Control requests that go over the request/reply channel.</summary>
public enum ArmControlRequest
{
    /// <summary>Liveness check; changes nothing.</summary>
    Heartbeat,

    /// <summary>Allow motion (refused while the e-stop is latched or a fault stops motion).</summary>
    Enable,

    /// <summary>Stop and refuse motion.</summary>
    Disable,

    /// <summary>Emergency stop: latched by the arm until <see cref="Reset"/>; obeyed whatever session it names.</summary>
    EmergencyStop,

    /// <summary>Clear the e-stop latch and faults; the arm stays disabled.</summary>
    Reset,
}

/// <summary>Outcome of a control request.</summary>
public enum ArmControlStatus
{
    /// <summary>The arm did what was asked.</summary>
    Ok,

    /// <summary>The arm answered but refused (wrong session, e-stop latched, fault, unsupported version).</summary>
    Refused,

    /// <summary>The arm rejected the request frame as malformed.</summary>
    BadRequest,

    /// <summary>No reply within the timeout; the request channel was reset so the next request can go out.</summary>
    TimedOut,

    /// <summary>A reply came but was not a valid answer to this request.</summary>
    BadReply,
}
