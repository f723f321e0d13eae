namespace RobotRuntime.Sim.Tabletop;

/// <summary>
/// Closed-form inverse kinematics of the tabletop arm in <c>sim/scenes/tabletop_arm.xml</c>
/// (base yaw, then shoulder, elbow and wrist pitch) for a gripper pointing straight down.
/// Lengths in metres and angles in radians, as in the MJCF.
/// </summary>
public static class ArmKinematics
{
    /// <summary>Height of the shoulder joint above the table top.</summary>
    public const double ShoulderHeight = 0.12;

    /// <summary>Shoulder-to-elbow length.</summary>
    public const double UpperArm = 0.3;

    /// <summary>Elbow-to-wrist length.</summary>
    public const double Forearm = 0.3;

    /// <summary>Wrist-to-fingertip length (the "tip" site).</summary>
    public const double Hand = 0.1;

    /// <summary>Lowest fingertip height the end-effector modes command (keeps the fingers off the table).</summary>
    public const double MinTipHeight = 0.012;

    /// <summary>Joint ranges (yaw, shoulder, elbow, wrist), the same as the MJCF's.</summary>
    public static ReadOnlySpan<double> JointLow => [-1.6, -0.6, -0.2, -1.0];

    /// <summary>Upper joint limits (yaw, shoulder, elbow, wrist).</summary>
    public static ReadOnlySpan<double> JointHigh => [1.6, 2.2, 2.7, 2.6];

    /// <summary>
    /// Clamps a fingertip target to the reachable workspace: x in [0.12, 0.62], |y| ≤ 0.4,
    /// z in [<see cref="MinTipHeight"/>, 0.35], and a wrist no farther than 0.59 m from the shoulder.
    /// </summary>
    public static (double X, double Y, double Z) ClampToWorkspace(double x, double y, double z)
    {
        x = Math.Clamp(x, 0.12, 0.62);
        y = Math.Clamp(y, -0.4, 0.4);
        z = Math.Clamp(z, MinTipHeight, 0.35);
        var radial = Math.Sqrt(x * x + y * y);
        var height = z + Hand - ShoulderHeight;
        var reach = Math.Sqrt(radial * radial + height * height);
        const double MaxReach = 0.59;
        if (reach > MaxReach)
        {
            // Shrink the horizontal distance so the wrist stays within reach at this height.
            var maxRadial = Math.Sqrt(Math.Max(MaxReach * MaxReach - height * height, 0.0144));
            var scale = maxRadial / radial;
            x *= scale;
            y *= scale;
        }
        return (x, y, z);
    }

    /// <summary>
    /// Joint angles (yaw, shoulder, elbow, wrist) that put the fingertip at (x, y, z) with the
    /// gripper pointing down, elbow up. The point should come from <see cref="ClampToWorkspace"/>.
    /// </summary>
    /// <remarks>Real-time: no allocation, no blocking, no throw.</remarks>
    public static void Solve(double x, double y, double z, Span<double> joints)
    {
        var yaw = Math.Atan2(y, x);
        var radial = Math.Sqrt(x * x + y * y);
        var height = z + Hand - ShoulderHeight; // wrist above the shoulder
        var squared = radial * radial + height * height;
        var cosElbow = Math.Clamp((squared - UpperArm * UpperArm - Forearm * Forearm) / (2 * UpperArm * Forearm), -1, 1);
        var elbow = Math.Acos(cosElbow);
        // Angles are measured from the vertical towards the target, as the hinges about +y turn +z towards +x.
        var shoulder = Math.Atan2(radial, height) - Math.Atan2(Forearm * Math.Sin(elbow), UpperArm + Forearm * Math.Cos(elbow));
        var wrist = Math.PI - shoulder - elbow;
        joints[0] = yaw;
        joints[1] = shoulder;
        joints[2] = elbow;
        joints[3] = wrist;
        for (var i = 0; i < 4; i++)
            joints[i] = Math.Clamp(joints[i], JointLow[i], JointHigh[i]);
    }
}
