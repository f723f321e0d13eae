namespace RobotRuntime.Arm;

/// <summary>
/// One state published by the arm. A value type with inline storage: copying it does not
/// allocate. Only the first <see cref="JointCount"/> elements of the joint vectors are meaningful.
/// </summary>
public struct ArmState
{
    /// <summary>The arm's session: a non-zero number that changes whenever the arm's firmware restarts.</summary>
    public uint Session;

    /// <summary>The arm's sequence number of this state (+1 per state within a session).</summary>
    public uint Sequence;

    /// <summary>The arm's monotonic clock when it sent this state, ns (not comparable with the runtime's clock).</summary>
    public ulong ArmTimeNanoseconds;

    /// <summary>Sequence number of the last command the arm applied this session; 0 if none.</summary>
    public uint LastCommandSequence;

    /// <summary>Status flags.</summary>
    public ArmStatusFlags Status;

    /// <summary>Latched faults and warnings.</summary>
    public ArmFaultFlags Faults;

    /// <summary>Why the arm holds (when <see cref="ArmStatusFlags.Holding"/> is set).</summary>
    public ArmHoldReason HoldReason;

    /// <summary>Mode of the last applied command; <see cref="ArmCommandMode.None"/> if none.</summary>
    public ArmCommandMode ActiveMode;

    /// <summary>Number of joints, 1 to <see cref="JointVector.Capacity"/>.</summary>
    public int JointCount;

    /// <summary>Commands the arm rejected this session.</summary>
    public uint CommandsRejected;

    /// <summary>Joint positions, rad (m for prismatic joints).</summary>
    public JointVector Positions;

    /// <summary>Joint velocities, rad/s (m/s).</summary>
    public JointVector Velocities;

    /// <summary>Joint efforts, N·m (N).</summary>
    public JointVector Efforts;

    /// <summary>End-effector position in the base frame, m.</summary>
    public double EndEffectorX, EndEffectorY, EndEffectorZ;

    /// <summary>End-effector orientation as a unit quaternion (w, x, y, z) in the base frame.</summary>
    public double EndEffectorQw, EndEffectorQx, EndEffectorQy, EndEffectorQz;

    /// <summary>Gripper position, 0 (open) to 1 (closed).</summary>
    public double GripperPosition;

    /// <summary>Gripper effort, N.</summary>
    public double GripperEffort;
}
