namespace RobotRuntime.Environments;

/// <summary>
/// The command modes an agent acts in, matching the firmware protocol's
/// <see cref="RobotRuntime.Arm.ArmCommandMode"/>: <see cref="EndEffectorDelta"/> is its
/// <c>EndEffectorDelta</c> (translation only; the environment keeps the gripper's orientation)
/// and <see cref="JointPositionTargets"/> its <c>JointPosition</c>, both normalised to [-1, 1]
/// for learning and followed by a gripper value.
/// </summary>
public enum ActionMode
{
    /// <summary>
    /// Move the end-effector set point by a Cartesian delta, plus a gripper command:
    /// [dx, dy, dz, gripper], each in [-1, 1]; a delta of 1 is <see cref="ActionSpace.MaxEndEffectorStepMetres"/>;
    /// gripper -1 is fully open, +1 fully closed.
    /// </summary>
    EndEffectorDelta,

    /// <summary>
    /// Joint position targets: one value per arm joint in [-1, 1], mapped linearly onto that
    /// joint's range, then the gripper command (-1 open, +1 closed).
    /// </summary>
    JointPositionTargets,
}

/// <summary>The shape and meaning of an environment's actions.</summary>
/// <param name="Mode">Which command mode the values are in.</param>
/// <param name="Names">One name per action value, in order.</param>
/// <param name="MaxEndEffectorStepMetres">For <see cref="ActionMode.EndEffectorDelta"/>: metres moved by a delta of 1 in one step.</param>
public sealed record ActionSpace(ActionMode Mode, IReadOnlyList<string> Names, double MaxEndEffectorStepMetres)
{
    /// <summary>Number of action values.</summary>
    public int Dimension => Names.Count;

    /// <summary>Lowest value of every action component.</summary>
    public const float Low = -1f;

    /// <summary>Highest value of every action component.</summary>
    public const float High = 1f;
}

/// <summary>What an environment observes and accepts.</summary>
/// <param name="Task">Task name, e.g. "reach".</param>
/// <param name="Action">The action space.</param>
/// <param name="CameraNames">Cameras in the order of <see cref="Observation.Cameras"/>.</param>
/// <param name="ImageWidth">Width of every camera image in pixels.</param>
/// <param name="ImageHeight">Height of every camera image in pixels.</param>
/// <param name="ProprioceptionNames">One name (with unit) per value of <see cref="Observation.Proprioception"/>.</param>
/// <param name="ControlPeriodSeconds">Simulated time one step covers.</param>
/// <param name="MaxEpisodeSteps">Steps after which an episode is truncated.</param>
public sealed record EnvironmentSpec(
    string Task,
    ActionSpace Action,
    IReadOnlyList<string> CameraNames,
    int ImageWidth,
    int ImageHeight,
    IReadOnlyList<string> ProprioceptionNames,
    double ControlPeriodSeconds,
    int MaxEpisodeSteps);
