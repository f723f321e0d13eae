using System.Reflection;
using RobotRuntime.Sim.MuJoCo;

namespace RobotRuntime.Sim.Tabletop;

/// <summary>
/// The tabletop arm scene (<c>sim/scenes/tabletop_arm.xml</c>) with one task's objects, loaded
/// into MuJoCo: model, data, and the ids and arrays the tasks, shifts and environment use.
/// </summary>
/// <remarks>Setup only to construct; afterwards one thread at a time. Owns the model and data.</remarks>
public sealed class TabletopScene : IDisposable
{
    /// <summary>Physics steps per control step (0.002 s each: a control period of 0.04 s, 25 Hz).</summary>
    public const int PhysicsStepsPerControlStep = 20;

    /// <summary>Names of the four arm joints, in actuator order.</summary>
    public static IReadOnlyList<string> ArmJointNames { get; } = ["yaw", "shoulder", "elbow", "wrist"];

    /// <summary>Names of the two cameras.</summary>
    public static IReadOnlyList<string> CameraNames { get; } = ["front", "wrist"];

    /// <summary>Number of distractor bodies in the scene.</summary>
    public const int DistractorCount = 4;

    /// <summary>Loads the scene with <paramref name="taskObjectsMjcf"/> inserted into its worldbody.</summary>
    /// <param name="taskObjectsMjcf">MJCF bodies/geoms of the task (may be empty).</param>
    /// <exception cref="SimulatorException">MuJoCo rejected the combined document.</exception>
    public TabletopScene(string taskObjectsMjcf)
    {
        Mjcf = BaseMjcf().Replace("<!-- task objects -->", taskObjectsMjcf, StringComparison.Ordinal);
        Model = MjModel.FromXml(Mjcf);
        try
        {
            Data = new MjData(Model);
            Qpos = Data.Field<double>("qpos");
            Qvel = Data.Field<double>("qvel");
            Ctrl = Data.Field<double>("ctrl");
            MocapPos = Data.Field<double>("mocap_pos");
            SiteXpos = Data.Field<double>("site_xpos");
            XPos = Data.Field<double>("xpos");
            TipSite = Model.Id(MjObject.Site, "tip");
            var jointQposAddress = Model.Field<int>("jnt_qposadr").Span;
            var jointDofAddress = Model.Field<int>("jnt_dofadr").Span;
            ArmQposAddress = new int[4];
            ArmDofAddress = new int[4];
            for (var i = 0; i < 4; i++)
            {
                var joint = Model.Id(MjObject.Joint, ArmJointNames[i]);
                ArmQposAddress[i] = jointQposAddress[joint];
                ArmDofAddress[i] = jointDofAddress[joint];
            }
            FingerQposAddress =
            [
                jointQposAddress[Model.Id(MjObject.Joint, "finger_left")],
                jointQposAddress[Model.Id(MjObject.Joint, "finger_right")],
            ];
            CameraIds = CameraNames.Select(name => Model.Id(MjObject.Camera, name)).ToArray();
            var bodyMocapId = Model.Field<int>("body_mocapid").Span;
            DistractorMocap = new int[DistractorCount];
            DistractorGeoms = new int[DistractorCount];
            for (var i = 0; i < DistractorCount; i++)
            {
                DistractorMocap[i] = bodyMocapId[Model.Id(MjObject.Body, $"distractor_{i}")];
                DistractorGeoms[i] = Model.Id(MjObject.Geom, $"distractor_{i}");
            }
        }
        catch
        {
            Data?.Dispose();
            Model.Dispose();
            throw;
        }
    }

    /// <summary>The MJCF text that was compiled.</summary>
    public string Mjcf { get; }

    /// <summary>The compiled model.</summary>
    public MjModel Model { get; }

    /// <summary>The simulation state.</summary>
    public MjData Data { get; }

    /// <summary><c>qpos</c>: generalised positions.</summary>
    public MjField<double> Qpos { get; }

    /// <summary><c>qvel</c>: generalised velocities.</summary>
    public MjField<double> Qvel { get; }

    /// <summary><c>ctrl</c>: actuator targets (yaw, shoulder, elbow, wrist in radians; fingers in metres).</summary>
    public MjField<double> Ctrl { get; }

    /// <summary><c>mocap_pos</c>: positions of the mocap bodies (distractors, task markers).</summary>
    public MjField<double> MocapPos { get; }

    /// <summary><c>site_xpos</c>: world positions of sites.</summary>
    public MjField<double> SiteXpos { get; }

    /// <summary><c>xpos</c>: world positions of bodies.</summary>
    public MjField<double> XPos { get; }

    /// <summary>Id of the fingertip site.</summary>
    public int TipSite { get; }

    /// <summary>qpos addresses of the four arm joints.</summary>
    public int[] ArmQposAddress { get; }

    /// <summary>qvel addresses of the four arm joints.</summary>
    public int[] ArmDofAddress { get; }

    /// <summary>qpos addresses of the left and right finger slides.</summary>
    public int[] FingerQposAddress { get; }

    /// <summary>Camera ids in <see cref="CameraNames"/> order.</summary>
    public int[] CameraIds { get; }

    /// <summary>Mocap ids of the distractor bodies.</summary>
    public int[] DistractorMocap { get; }

    /// <summary>Geom ids of the distractor geoms.</summary>
    public int[] DistractorGeoms { get; }

    /// <summary>The fingertip's world position (after a forward or step).</summary>
    public (double X, double Y, double Z) Tip
    {
        get
        {
            var p = SiteXpos.Row(TipSite);
            return (p[0], p[1], p[2]);
        }
    }

    /// <summary>Puts the arm at joint angles <paramref name="joints"/> at rest, with matching actuator targets and the fingers at <paramref name="fingerOpening"/> metres each.</summary>
    public void PlaceArm(ReadOnlySpan<double> joints, double fingerOpening)
    {
        var qpos = Qpos.Span;
        var ctrl = Ctrl.Span;
        for (var i = 0; i < 4; i++)
        {
            qpos[ArmQposAddress[i]] = joints[i];
            ctrl[i] = joints[i];
        }
        foreach (var address in FingerQposAddress)
            qpos[address] = fingerOpening;
        ctrl[4] = ctrl[5] = fingerOpening;
    }

    /// <summary>The scene's MJCF without task objects, as shipped in <c>sim/scenes/tabletop_arm.xml</c>.</summary>
    public static string BaseMjcf()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("RobotRuntime.Sim.scenes.tabletop_arm.xml")
            ?? throw new SimulatorException("the tabletop scene resource RobotRuntime.Sim.scenes.tabletop_arm.xml is missing from the assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Frees the data and model.</summary>
    public void Dispose()
    {
        Data.Dispose();
        Model.Dispose();
    }
}
