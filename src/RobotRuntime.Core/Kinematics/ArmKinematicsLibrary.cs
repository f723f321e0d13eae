namespace RobotRuntime.Kinematics;

/// <summary>
/// Built-in kinematic chains by name: "toy4", the project's 4-joint tabletop arm
/// (<c>sim/scenes/tabletop_arm.xml</c>), and "ur5e", Universal Robots' UR5e from its published DH
/// parameters with a parallel gripper's fingertip centre 15 cm beyond the flange.
/// </summary>
/// <remarks>Setup only. The chains are immutable and shared.</remarks>
public static class ArmKinematicsLibrary
{
    private static readonly Lazy<KinematicChain> Toy4Chain = new(BuildToy4);
    private static readonly Lazy<KinematicChain> Ur5eChain = new(BuildUr5e);

    /// <summary>The built-in names: "toy4", "ur5e".</summary>
    public static IReadOnlyList<string> Names { get; } = Array.AsReadOnly(new[] { "toy4", "ur5e" });

    /// <summary>The built-in chain called <paramref name="name"/> (case-sensitive).</summary>
    /// <exception cref="ArgumentException">No such chain; the message lists the names.</exception>
    public static KinematicChain Get(string name) => name switch
    {
        "toy4" => Toy4Chain.Value,
        "ur5e" => Ur5eChain.Value,
        _ => throw new ArgumentException($"Unknown kinematic chain '{name}'; built-in chains: {string.Join(", ", Names)} (or give a path to a .json file).", nameof(name)),
    };

    /// <summary>
    /// A built-in chain by name, or the chain in a JSON file when <paramref name="nameOrPath"/>
    /// contains '/' or ends with ".json" (see <see cref="KinematicChain.Load"/>).
    /// </summary>
    /// <exception cref="ArgumentException">An unknown name.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">A malformed file.</exception>
    public static KinematicChain Resolve(string nameOrPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrPath);
        return nameOrPath.Contains('/') || nameOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? KinematicChain.Load(nameOrPath)
            : Get(nameOrPath);
    }

    /// <summary>
    /// The tabletop arm as the MJCF builds it: base at the origin; "yaw" about z there; "shoulder"
    /// about y at (0, 0, 0.12); "elbow" and "wrist" about y, each 0.3 m further up the previous link;
    /// the "tip" site 0.1 m along the hand's z. Limits are the MJCF's joint ranges.
    /// </summary>
    private static KinematicChain BuildToy4()
    {
        static Pose Up(double z) => Pose.FromXyzRpy(0, 0, z, 0, 0, 0);
        return new KinematicChain("toy4", Pose.Identity,
        [
            new KinematicJoint("yaw", JointType.Revolute, Pose.Identity, 0, 0, 1, -1.6, 1.6),
            new KinematicJoint("shoulder", JointType.Revolute, Up(0.12), 0, 1, 0, -0.6, 2.2),
            new KinematicJoint("elbow", JointType.Revolute, Up(0.3), 0, 1, 0, -0.2, 2.7),
            new KinematicJoint("wrist", JointType.Revolute, Up(0.3), 0, 1, 0, -1.0, 2.6),
        ], Up(0.1));
    }

    /// <summary>
    /// UR5e, standard DH (Universal Robots' published parameters); the base turned π about z so that
    /// the arm at zero reaches towards +x; the tool 0.15 m along the flange's z.
    /// </summary>
    private static KinematicChain BuildUr5e()
    {
        const double TwoPi = 2 * Math.PI;
        return KinematicChain.FromDenavitHartenberg(
            "ur5e",
            Pose.FromXyzRpy(0, 0, 0, 0, 0, Math.PI),
            d: [0.1625, 0, 0, 0.1333, 0.0997, 0.0996],
            a: [0, -0.425, -0.3922, 0, 0, 0],
            alpha: [Math.PI / 2, 0, 0, Math.PI / 2, -Math.PI / 2, 0],
            jointNames: ["shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3"],
            positionMin: [-TwoPi, -TwoPi, -Math.PI, -TwoPi, -TwoPi, -TwoPi],
            positionMax: [TwoPi, TwoPi, Math.PI, TwoPi, TwoPi, TwoPi],
            tool: Pose.FromXyzRpy(0, 0, 0.15, 0, 0, 0));
    }
}
