namespace RobotRuntime.Kinematics;

/// <summary>How a joint moves.</summary>
public enum JointType
{
    /// <summary>Rotation about the joint's axis; position in rad.</summary>
    Revolute,

    /// <summary>Translation along the joint's axis; position in m.</summary>
    Prismatic,
}

/// <summary>
/// One joint of a <see cref="KinematicChain"/>: the fixed transform from the previous link's frame
/// to this joint's frame (URDF's <c>&lt;origin&gt;</c>), then motion about or along the axis.
/// </summary>
/// <param name="Name">The joint's name, unique within its chain.</param>
/// <param name="Type">Revolute or prismatic.</param>
/// <param name="Origin">Pose of the joint frame in the previous link's frame (the base frame for the first joint).</param>
/// <param name="AxisX">Axis x, in the joint frame. The chain normalises the axis.</param>
/// <param name="AxisY">Axis y, in the joint frame.</param>
/// <param name="AxisZ">Axis z, in the joint frame.</param>
/// <param name="PositionMin">Lowest joint position, rad or m.</param>
/// <param name="PositionMax">Highest joint position, rad or m; ≥ <paramref name="PositionMin"/>.</param>
public sealed record KinematicJoint(
    string Name,
    JointType Type,
    Pose Origin,
    double AxisX,
    double AxisY,
    double AxisZ,
    double PositionMin,
    double PositionMax);
