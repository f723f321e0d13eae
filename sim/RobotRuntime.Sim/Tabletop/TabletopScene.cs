using RobotRuntime.Arm;
using RobotRuntime.Sim.MuJoCo;

namespace RobotRuntime.Sim.Tabletop;

/// <summary>
/// The tabletop scene (<c>sim/scenes/tabletop_arm.xml</c>) with one arm (<see cref="SimArm"/>) and one
/// task's objects, loaded into MuJoCo: model, data, and the ids and arrays the tasks, shifts and
/// environment use.
/// </summary>
/// <remarks>Setup only to construct; afterwards one thread at a time. Owns the model and data.</remarks>
public sealed class TabletopScene : IDisposable
{
    /// <summary>Physics steps per control step (0.002 s each: a control period of 0.04 s, 25 Hz).</summary>
    public const int PhysicsStepsPerControlStep = 20;

    /// <summary>Names of the 4-joint arm's joints, in actuator order.</summary>
    public static IReadOnlyList<string> ToyJointNames { get; } = ["yaw", "shoulder", "elbow", "wrist"];

    /// <summary>Names of the two cameras.</summary>
    public static IReadOnlyList<string> CameraNames { get; } = ["front", "wrist"];

    /// <summary>Number of distractor bodies in the scene.</summary>
    public const int DistractorCount = 4;

    /// <summary>Loads the scene with <paramref name="arm"/> (default: the 4-joint arm) and <paramref name="taskObjectsMjcf"/> inserted into its worldbody.</summary>
    /// <param name="taskObjectsMjcf">MJCF bodies/geoms of the task (may be empty).</param>
    /// <param name="arm">The arm; null: "toy4".</param>
    /// <exception cref="SimulatorException">MuJoCo rejected the combined document.</exception>
    public TabletopScene(string taskObjectsMjcf, SimArm? arm = null)
    {
        Arm = arm ??= SimArm.Get("toy4");
        var joints = arm.JointCount;
        Mjcf = arm.SceneMjcf().Replace("<!-- task objects -->", taskObjectsMjcf, StringComparison.Ordinal);
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
            QfrcApplied = Data.Field<double>("qfrc_applied");
            QfrcBias = Data.Field<double>("qfrc_bias");
            ActuatorForce = Data.Field<double>("actuator_force");
            SiteXmat = Data.Field<double>("site_xmat");
            ArmQposAddress = new int[joints];
            ArmDofAddress = new int[joints];
            for (var i = 0; i < joints; i++)
            {
                var joint = Model.Id(MjObject.Joint, arm.JointNames[i]);
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

    /// <summary>The arm in the scene.</summary>
    public SimArm Arm { get; }

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

    /// <summary><c>qfrc_applied</c>: generalised forces applied by the user (gravity compensation).</summary>
    public MjField<double> QfrcApplied { get; }

    /// <summary><c>qfrc_bias</c>: Coriolis, centrifugal and gravitational forces.</summary>
    public MjField<double> QfrcBias { get; }

    /// <summary><c>actuator_force</c>: actuator forces (N·m for the arm's joints, N for the fingers).</summary>
    public MjField<double> ActuatorForce { get; }

    /// <summary><c>site_xmat</c>: world orientations of sites (row-major 3 × 3).</summary>
    public MjField<double> SiteXmat { get; }

    /// <summary><c>ctrl</c>: actuator targets (the arm's joints in radians, then both fingers in metres).</summary>
    public MjField<double> Ctrl { get; }

    /// <summary><c>mocap_pos</c>: positions of the mocap bodies (distractors, task markers).</summary>
    public MjField<double> MocapPos { get; }

    /// <summary><c>site_xpos</c>: world positions of sites.</summary>
    public MjField<double> SiteXpos { get; }

    /// <summary><c>xpos</c>: world positions of bodies.</summary>
    public MjField<double> XPos { get; }

    /// <summary>Id of the fingertip site.</summary>
    public int TipSite { get; }

    /// <summary>qpos addresses of the arm's joints.</summary>
    public int[] ArmQposAddress { get; }

    /// <summary>qvel addresses of the arm's joints.</summary>
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

    /// <summary>Index in <see cref="Ctrl"/> of the left finger (the right one follows).</summary>
    public int FingerCtrl => Arm.JointCount;

    /// <summary>Puts the arm at joint angles <paramref name="joints"/> at rest, with matching actuator targets and the fingers at <paramref name="fingerOpening"/> metres each.</summary>
    public void PlaceArm(ReadOnlySpan<double> joints, double fingerOpening)
    {
        var qpos = Qpos.Span;
        var ctrl = Ctrl.Span;
        for (var i = 0; i < ArmQposAddress.Length; i++)
        {
            qpos[ArmQposAddress[i]] = joints[i];
            ctrl[i] = joints[i];
        }
        foreach (var address in FingerQposAddress)
            qpos[address] = fingerOpening;
        ctrl[FingerCtrl] = ctrl[FingerCtrl + 1] = fingerOpening;
    }

    /// <summary>
    /// Advances <paramref name="count"/> physics steps. On arms with <see cref="SimArm.GravityCompensation"/>
    /// each step first applies the bias forces the last step computed to the arm's joints, as a real arm's
    /// controller compensates gravity (MuJoCo 2.2.2 has no gravcomp attribute).
    /// </summary>
    /// <remarks>Real-time: no managed allocation.</remarks>
    public void Step(int count)
    {
        if (!Arm.GravityCompensation)
        {
            Data.Step(count);
            return;
        }
        for (var i = 0; i < count; i++)
        {
            CompensateGravity();
            Data.Step(1);
        }
    }

    /// <summary>Sets the arm joints' applied forces to the current bias forces (valid after a step or forward).</summary>
    public void CompensateGravity()
    {
        if (!Arm.GravityCompensation)
            return;
        var applied = QfrcApplied.Span;
        var bias = QfrcBias.Span;
        foreach (var dof in ArmDofAddress)
            applied[dof] = bias[dof];
    }

    /// <summary>The gripper's closing, 0 (open) to 1 (closed), from both fingers' mean opening.</summary>
    public double GripperClosing()
    {
        var qpos = Qpos.Span;
        var opening = (qpos[FingerQposAddress[0]] + qpos[FingerQposAddress[1]]) / 2;
        return Math.Clamp(1 - opening / Arm.FingerTravel, 0, 1);
    }

    /// <summary>
    /// Writes what an arm's firmware measures into <paramref name="state"/>: joints, velocities, efforts
    /// (actuator plus gravity-compensation torque), the gripper (0 open … 1 closed) and the tip's pose.
    /// Status, session and sequence fields are left as they are.
    /// </summary>
    /// <remarks>Real-time: no allocation.</remarks>
    public void Measure(ref ArmState state)
    {
        var qpos = Qpos.Span;
        var qvel = Qvel.Span;
        var force = ActuatorForce.Span;
        var applied = QfrcApplied.Span;
        state.JointCount = ArmQposAddress.Length;
        for (var i = 0; i < ArmQposAddress.Length; i++)
        {
            state.Positions[i] = qpos[ArmQposAddress[i]];
            state.Velocities[i] = qvel[ArmDofAddress[i]];
            state.Efforts[i] = force[i] + applied[ArmDofAddress[i]];
        }
        state.GripperPosition = GripperClosing();
        state.GripperEffort = (Math.Abs(force[FingerCtrl]) + Math.Abs(force[FingerCtrl + 1])) / 2;
        var (x, y, z) = Tip;
        state.EndEffectorX = x;
        state.EndEffectorY = y;
        state.EndEffectorZ = z;
        TipOrientation(out state.EndEffectorQw, out state.EndEffectorQx, out state.EndEffectorQy, out state.EndEffectorQz);
    }

    /// <summary>The tip's orientation as a unit quaternion (w ≥ 0).</summary>
    public void TipOrientation(out double qw, out double qx, out double qy, out double qz)
    {
        var m = SiteXmat.Row(TipSite);
        var pose = new RobotRuntime.Kinematics.Pose
        {
            R00 = m[0], R01 = m[1], R02 = m[2],
            R10 = m[3], R11 = m[4], R12 = m[5],
            R20 = m[6], R21 = m[7], R22 = m[8],
        };
        pose.ToQuaternion(out qw, out qx, out qy, out qz);
    }

    /// <summary>The scene's MJCF without task objects, with the 4-joint arm, as shipped in <c>sim/scenes/tabletop_arm.xml</c>.</summary>
    public static string BaseMjcf() => SimArm.Resource("tabletop_arm.xml");

    /// <summary>Frees the data and model.</summary>
    public void Dispose()
    {
        Data.Dispose();
        Model.Dispose();
    }
}
