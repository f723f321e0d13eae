using System.Reflection;
using System.Xml.Linq;
using RobotRuntime.Arm;
using RobotRuntime.Kinematics;
using RobotRuntime.Safety;

namespace RobotRuntime.Sim.Tabletop;

/// <summary>
/// An arm the tabletop scene can be built with: its MJCF, joints, datasheet limits, gripper, kinematic
/// model and the layout agents see it through. "toy4" is the 4-joint arm of
/// <c>sim/scenes/tabletop_arm.xml</c> (fast tests, the shipped agents); "ur5e" a 6-joint arm of the
/// UR5e class with a parallel gripper (<c>sim/scenes/arm_ur5e.xml</c>), composed into the same room,
/// cameras and tasks.
/// </summary>
public sealed class SimArm
{
    private static readonly Dictionary<string, SimArm> Arms = new(StringComparer.Ordinal)
    {
        ["toy4"] = CreateToy4(),
        ["ur5e"] = CreateUr5e(),
    };

    private SimArm(string name, string summary, IReadOnlyList<string> jointNames, IReadOnlyList<JointLimits> limits,
        double fingerTravel, KinematicChain chain, double[] home, WorkspaceBox workspace, double maxReach, ArmLayout layout)
    {
        Name = name;
        Summary = summary;
        JointNames = jointNames;
        Limits = limits;
        FingerTravel = fingerTravel;
        Chain = chain;
        _home = home;
        Workspace = workspace;
        MaxReach = maxReach;
        Layout = layout;
    }

    private readonly double[] _home;

    /// <summary>The arm names <see cref="Get"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["toy4", "ur5e"];

    /// <summary>The arm called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the arms.</exception>
    public static SimArm Get(string name) =>
        Arms.TryGetValue(name ?? "", out var arm) ? arm
            : throw new ArgumentException($"unknown simulated arm '{name}'; expected one of {string.Join(", ", Names)}", nameof(name));

    /// <summary>The arm's name, e.g. "ur5e".</summary>
    public string Name { get; }

    /// <summary>One line for the operator.</summary>
    public string Summary { get; }

    /// <summary>The arm's joints, in actuator order (the gripper's fingers follow them).</summary>
    public IReadOnlyList<string> JointNames { get; }

    /// <summary>Number of arm joints.</summary>
    public int JointCount => JointNames.Count;

    /// <summary>Position, velocity and effort limits per joint, as the arm's description announces them.</summary>
    public IReadOnlyList<JointLimits> Limits { get; }

    /// <summary>Travel of each finger, m (fully open).</summary>
    public double FingerTravel { get; }

    /// <summary>The arm's kinematic model (base to the "tip" site between the fingertips).</summary>
    public KinematicChain Chain { get; }

    /// <summary>Joint angles the inverse kinematics of episode resets start from.</summary>
    public ReadOnlySpan<double> Home => _home;

    /// <summary>The box end-effector targets are kept in (the tip, m, base frame).</summary>
    public WorkspaceBox Workspace { get; }

    /// <summary>Largest distance from the base axis's shoulder height to a reachable tip target, m.</summary>
    public double MaxReach { get; }

    /// <summary>The layout agents trained on this arm see it through.</summary>
    public ArmLayout Layout { get; }

    /// <summary>Applies gravity compensation to the arm's joints (the arm's own controller does on the real thing).</summary>
    public bool GravityCompensation => Name != "toy4";

    /// <summary>The 4-joint arm keeps its closed-form inverse kinematics (<see cref="ArmKinematics"/>).</summary>
    internal bool IsToy => Name == "toy4";

    /// <summary>Robot type for datasets, e.g. "robotruntime-tabletop-ur5e".</summary>
    public string RobotType => IsToy ? "robotruntime-tabletop-4dof" : "robotruntime-tabletop-" + Name;

    /// <summary>The tip pointing straight down (tool z = world −z), tool x along world −x: the orientation the end-effector tasks keep.</summary>
    public static Pose DownwardTip(double x, double y, double z) => Pose.FromXyzRpy(x, y, z, 0, Math.PI, 0);

    /// <summary>Clamps a tip target into the workspace and within <see cref="MaxReach"/> of the shoulder.</summary>
    public (double X, double Y, double Z) ClampToWorkspace(double x, double y, double z)
    {
        if (IsToy)
            return ArmKinematics.ClampToWorkspace(x, y, z);
        var box = Workspace;
        x = Math.Clamp(x, box.MinX, box.MaxX);
        y = Math.Clamp(y, box.MinY, box.MaxY);
        z = Math.Clamp(z, box.MinZ, box.MaxZ);
        return (x, y, z);
    }

    /// <summary>The scene's MJCF with this arm (the task objects still to be inserted).</summary>
    public string SceneMjcf()
    {
        var room = TabletopScene.BaseMjcf();
        if (IsToy)
            return room;
        // The room, cameras, lights and distractors of tabletop_arm.xml with its arm swapped for this one.
        var document = XDocument.Parse(room, LoadOptions.PreserveWhitespace);
        var fragment = XDocument.Parse(Resource($"arm_{Name}.xml"));
        var root = document.Root!;
        var worldbody = root.Element("worldbody")!;
        worldbody.Elements("body").Single(b => (string?)b.Attribute("name") == "base").Remove();
        var actuators = root.Element("actuator")!;
        actuators.RemoveNodes();
        // The toy arm's top-level joint and actuator defaults must not leak into this arm: it brings its own class.
        root.Element("default")!.Add(fragment.Root!.Element("default")!.Elements());
        var firstDistractor = worldbody.Elements("body").First(b => ((string?)b.Attribute("name"))?.StartsWith("distractor_", StringComparison.Ordinal) == true);
        firstDistractor.AddBeforeSelf(fragment.Root!.Element("worldbody")!.Elements());
        actuators.Add(fragment.Root!.Element("actuator")!.Elements());
        root.SetAttributeValue("model", $"rr_tabletop_{Name}");
        return document.ToString(SaveOptions.DisableFormatting);
    }

    internal static string Resource(string file)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("RobotRuntime.Sim.scenes." + file)
            ?? throw new SimulatorException($"the scene resource RobotRuntime.Sim.scenes.{file} is missing from the assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static SimArm CreateToy4()
    {
        var limits = new JointLimits[4];
        for (var i = 0; i < 4; i++)
            limits[i] = new JointLimits(ArmKinematics.JointLow[i], ArmKinematics.JointHigh[i], 3.0, 100.0);
        return new SimArm("toy4", "the 4-joint tabletop arm (yaw, shoulder, elbow, wrist pitch) with a two-finger gripper",
            TabletopScene.ToyJointNames, limits, TabletopEnvironment.FingerTravel, ArmKinematicsLibrary.Get("toy4"),
            [0, 0.6, 1.4, 1.1], new WorkspaceBox(0.12, -0.4, ArmKinematics.MinTipHeight, 0.62, 0.4, 0.35), 0.59, ArmLayout.Toy4);
    }

    private static SimArm CreateUr5e()
    {
        // Universal Robots' UR5e datasheet: ±360° on every joint (the elbow is limited to ±180° in UR's
        // own robot description), 180°/s on every joint, 150 N·m (base, shoulder, elbow) and 28 N·m (wrists).
        const double TwoPi = 2 * Math.PI;
        JointLimits[] limits =
        [
            new(-TwoPi, TwoPi, Math.PI, 150), new(-TwoPi, TwoPi, Math.PI, 150), new(-Math.PI, Math.PI, Math.PI, 150),
            new(-TwoPi, TwoPi, Math.PI, 28), new(-TwoPi, TwoPi, Math.PI, 28), new(-TwoPi, TwoPi, Math.PI, 28),
        ];
        var layout = new ArmLayout
        {
            JointCount = 6,
            HasGripper = true,
            EndEffectorOrientation = true,
            GripperOpeningScale = 1.0,
            ActionSpace = ActionSpaceKind.EndEffectorDelta,
            ActionRotation = false,
            TranslationStep = 0.03,
        };
        return new SimArm("ur5e", "a 6-joint arm of the UR5e class (published DH parameters and datasheet limits) with an 85 mm parallel gripper",
            ["shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3"], limits, 0.0425,
            ArmKinematicsLibrary.Get("ur5e"), [0, -1.2, 1.6, -1.97, -1.5708, 0],
            new WorkspaceBox(0.15, -0.45, 0.012, 0.65, 0.45, 0.45), 0.8, layout);
    }
}
