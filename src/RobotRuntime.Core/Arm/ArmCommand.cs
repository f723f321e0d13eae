namespace RobotRuntime.Arm;

/// <summary>
/// One command for the arm: joint positions, joint velocities or an end-effector delta, plus the
/// gripper target. A value type with inline storage: copying it does not allocate.
/// </summary>
public struct ArmCommand
{
    /// <summary>How <see cref="Values"/> are meant.</summary>
    public ArmCommandMode Mode;

    /// <summary>How many of <see cref="Values"/> are used: the arm's joint count for joint modes, 6 for an end-effector delta.</summary>
    public int ValueCount;

    /// <summary>The values, in the units of <see cref="Mode"/>.</summary>
    public JointVector Values;

    /// <summary>Gripper target, 0 (open) to 1 (closed).</summary>
    public double GripperTarget;

    /// <summary>Sequence number the link gave the command when it was sent (0 before sending).</summary>
    public uint Sequence;

    /// <summary>Creates a joint-position command from <paramref name="positions"/> (rad).</summary>
    public static ArmCommand JointPositions(ReadOnlySpan<double> positions, double gripperTarget) =>
        Create(ArmCommandMode.JointPosition, positions, gripperTarget);

    /// <summary>Creates a joint-velocity command from <paramref name="velocities"/> (rad/s).</summary>
    public static ArmCommand JointVelocities(ReadOnlySpan<double> velocities, double gripperTarget) =>
        Create(ArmCommandMode.JointVelocity, velocities, gripperTarget);

    /// <summary>Creates a command of <paramref name="mode"/> from <paramref name="values"/>.</summary>
    /// <exception cref="ArgumentException">More than <see cref="JointVector.Capacity"/> values.</exception>
    public static ArmCommand Create(ArmCommandMode mode, ReadOnlySpan<double> values, double gripperTarget)
    {
        if (values.Length > JointVector.Capacity)
            throw new ArgumentException($"a command holds at most {JointVector.Capacity} values, got {values.Length}", nameof(values));
        var command = new ArmCommand { Mode = mode, ValueCount = values.Length, GripperTarget = gripperTarget };
        values.CopyTo(command.Values);
        return command;
    }
}
