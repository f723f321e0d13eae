namespace RobotRuntime.Arm;

/// <summary>Limits of one joint, in the joint's units (rad or m).</summary>
/// <param name="PositionMin">Lowest position.</param>
/// <param name="PositionMax">Highest position.</param>
/// <param name="VelocityMax">Largest speed, &gt; 0, per second.</param>
/// <param name="EffortMax">Largest effort, &gt; 0, N·m or N.</param>
public readonly record struct JointLimits(double PositionMin, double PositionMax, double VelocityMax, double EffortMax);

/// <summary>What an arm says about itself when the link connects (the handshake's answer).</summary>
/// <param name="Session">The arm's session (changes whenever its firmware restarts).</param>
/// <param name="ProtocolVersion">Protocol version both sides agreed on.</param>
/// <param name="Joints">Limits per joint; its length is the joint count.</param>
/// <param name="SupportedModes">Command modes the arm accepts.</param>
/// <param name="StateRateHz">Lowest rate at which the arm publishes state.</param>
/// <param name="WatchdogMilliseconds">The arm holds when no valid command arrives within this.</param>
/// <param name="EndEffectorMaxTranslation">Largest end-effector translation per command, m.</param>
/// <param name="EndEffectorMaxRotation">Largest end-effector rotation per command, rad.</param>
public sealed record ArmDescription(
    uint Session,
    int ProtocolVersion,
    IReadOnlyList<JointLimits> Joints,
    IReadOnlySet<ArmCommandMode> SupportedModes,
    int StateRateHz,
    int WatchdogMilliseconds,
    double EndEffectorMaxTranslation,
    double EndEffectorMaxRotation)
{
    /// <summary>Number of joints.</summary>
    public int JointCount => Joints.Count;

    /// <summary>
    /// The arm has a gripper: a command's gripper target moves it and the state's gripper position and effort measure
    /// it. Without one the arm ignores the target and reports both as 0. The firmware protocol carries it in the
    /// DESCRIPTION's capabilities (bit 3; clear, as from an arm built before the bit was defined, means none).
    /// Default true: what an arm described in code (a simulator, a test) has unless it says otherwise.
    /// </summary>
    public bool HasGripper { get; init; } = true;
}
