using RobotRuntime.Arm;
using RobotRuntime.Sim.MuJoCo;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.SimServer;

/// <summary>
/// The tabletop arm seen as firmware sees its hardware: joint set points that move towards their
/// targets no faster than <see cref="VelocityMax"/>, physics stepped to wall-clock deadlines, and
/// the measured joints, efforts, gripper and end-effector pose.
/// </summary>
/// <remarks>The environment's thread only (it owns the GL context). Allocates only in the constructor.</remarks>
internal sealed class SimulatedArm
{
    /// <summary>Joints the protocol sees: yaw, shoulder, elbow, wrist (the gripper is separate).</summary>
    public const int JointCount = 4;

    /// <summary>Fastest a joint set point moves, rad/s (the description's velocity_max).</summary>
    public const double VelocityMax = 3.0;

    /// <summary>Largest actuator torque before the arm faults, N·m (the description's effort_max).</summary>
    public const double EffortMax = 100.0;

    /// <summary>Joint speed above which the arm reports itself moving, rad/s.</summary>
    private const double MovingSpeed = 0.01;

    /// <summary>Physics steps the simulation may fall behind the wall clock before it skips ahead.</summary>
    private const int MaxCatchUpSteps = 250;

    private readonly TabletopEnvironment _environment;
    private readonly TabletopScene _scene;
    private readonly MjField<double> _actuatorForce;
    private readonly MjField<double> _siteXmat;
    private readonly double[] _targets = new double[JointCount];
    private readonly double[] _setpoint = new double[3];
    private readonly double _timestep;
    private readonly long _timestepNs;
    private double _gripperTarget;
    private long _originNs;
    private long _stepsDone;

    public SimulatedArm(TabletopEnvironment environment, long nowNs)
    {
        _environment = environment;
        _scene = environment.Scene;
        _actuatorForce = _scene.Data.Field<double>("actuator_force");
        _siteXmat = _scene.Data.Field<double>("site_xmat");
        _timestep = _scene.Model.Timestep;
        _timestepNs = (long)Math.Round(_timestep * 1e9);
        var (x, y, z) = environment.Setpoint;
        _setpoint[0] = x;
        _setpoint[1] = y;
        _setpoint[2] = z;
        var ctrl = _scene.Ctrl.Span;
        for (var i = 0; i < JointCount; i++)
            _targets[i] = ctrl[i];
        _gripperTarget = Math.Clamp(1 - ctrl[4] / TabletopEnvironment.FingerTravel, 0, 1);
        _originNs = nowNs;
    }

    /// <summary>Simulation time, s.</summary>
    public double Time => _scene.Data.Time;

    /// <summary>Physics steps skipped because the simulation fell more than <see cref="MaxCatchUpSteps"/> behind the wall clock.</summary>
    public long StepsSkipped { get; private set; }

    /// <summary>Physics steps taken.</summary>
    public long StepsTaken => _stepsDone;

    /// <summary>An actuator exceeded <see cref="EffortMax"/> during the last <see cref="AdvanceTo"/>.</summary>
    public bool OverEffort { get; private set; }

    /// <summary>A joint was at or beyond its range during the last <see cref="AdvanceTo"/>.</summary>
    public bool AtJointLimit { get; private set; }

    /// <summary>Joint ranges, velocity and effort limits as the description announces them.</summary>
    public static JointLimits[] Limits()
    {
        var limits = new JointLimits[JointCount];
        for (var i = 0; i < JointCount; i++)
            limits[i] = new JointLimits(ArmKinematics.JointLow[i], ArmKinematics.JointHigh[i], VelocityMax, EffortMax);
        return limits;
    }

    /// <summary>Steps the physics until simulation time catches up with <paramref name="nowNs"/> (wall clock since start).</summary>
    public void AdvanceTo(long nowNs)
    {
        var due = (nowNs - _originNs) / _timestepNs - _stepsDone;
        if (due <= 0)
            return;
        if (due > MaxCatchUpSteps)
        {
            // The process was descheduled (or the machine is overloaded): do not try to run seconds of
            // physics at once; let simulation time lag and say so in the statistics.
            StepsSkipped += due - MaxCatchUpSteps;
            _originNs += (due - MaxCatchUpSteps) * _timestepNs;
            due = MaxCatchUpSteps;
        }
        OverEffort = false;
        AtJointLimit = false;
        var ctrl = _scene.Ctrl.Span;
        var maxMove = VelocityMax * _timestep;
        var opening = TabletopEnvironment.FingerTravel * (1 - _gripperTarget);
        ctrl[4] = ctrl[5] = opening;
        for (var step = 0; step < due; step++)
        {
            var settled = true;
            for (var i = 0; i < JointCount; i++)
            {
                var error = _targets[i] - ctrl[i];
                ctrl[i] += Math.Clamp(error, -maxMove, maxMove);
                settled &= Math.Abs(error) <= maxMove;
            }
            if (settled)
            {
                // Set points have reached their targets: the rest can run in one native call.
                _scene.Data.Step((int)(due - step));
                _stepsDone += due - step;
                break;
            }
            _scene.Data.Step(1);
            _stepsDone++;
            CheckLimits();
        }
        // mj_step leaves positions of bodies and sites from before its integration: recompute them so
        // the published pose, the efforts and the camera images match the published joints.
        _scene.Data.Forward();
        CheckLimits();
    }

    private void CheckLimits()
    {
        var force = _actuatorForce.Span;
        var qpos = _scene.Qpos.Span;
        for (var i = 0; i < JointCount; i++)
        {
            OverEffort |= Math.Abs(force[i]) > EffortMax;
            var q = qpos[_scene.ArmQposAddress[i]];
            AtJointLimit |= q <= ArmKinematics.JointLow[i] || q >= ArmKinematics.JointHigh[i];
        }
    }

    /// <summary>Holds where the arm is now: targets and set points at the measured joints, gripper where it is.</summary>
    public void HoldHere()
    {
        var qpos = _scene.Qpos.Span;
        var ctrl = _scene.Ctrl.Span;
        for (var i = 0; i < JointCount; i++)
        {
            var q = Math.Clamp(qpos[_scene.ArmQposAddress[i]], ArmKinematics.JointLow[i], ArmKinematics.JointHigh[i]);
            _targets[i] = q;
            ctrl[i] = q;
        }
        _gripperTarget = GripperPosition();
        SyncSetpointToTip();
    }

    /// <summary>
    /// E-stop: brakes every arm joint at once (its velocity to zero, as a real arm's brakes stop it
    /// within milliseconds) and holds there.
    /// </summary>
    public void Brake()
    {
        var qvel = _scene.Qvel.Span;
        for (var i = 0; i < JointCount; i++)
            qvel[_scene.ArmDofAddress[i]] = 0;
        HoldHere();
        _scene.Data.Forward();
    }

    /// <summary>Targets joint positions (rad, already checked against the limits) and the gripper (0 open .. 1 closed).</summary>
    public void SetJointTargets(ReadOnlySpan<double> positions, double gripper)
    {
        for (var i = 0; i < JointCount; i++)
            _targets[i] = positions[i];
        _gripperTarget = gripper;
    }

    /// <summary>
    /// Moves the end-effector set point by (dx, dy, dz) metres in the base frame, clamped to the
    /// workspace, and targets the joints that put the fingertip there pointing down (as the
    /// environment's end-effector-delta action does).
    /// </summary>
    /// <param name="dx">Base-frame x translation, m.</param>
    /// <param name="dy">Base-frame y translation, m.</param>
    /// <param name="dz">Base-frame z translation, m.</param>
    /// <param name="gripper">Gripper target, 0 open .. 1 closed.</param>
    /// <param name="fromMeasuredTip">Start from the measured fingertip (after joint-mode commands or a hold) rather than the last set point.</param>
    public void MoveEndEffector(double dx, double dy, double dz, double gripper, bool fromMeasuredTip)
    {
        if (fromMeasuredTip)
            SyncSetpointToTip();
        var (x, y, z) = ArmKinematics.ClampToWorkspace(_setpoint[0] + dx, _setpoint[1] + dy, _setpoint[2] + dz);
        _setpoint[0] = x;
        _setpoint[1] = y;
        _setpoint[2] = z;
        ArmKinematics.Solve(x, y, z, _targets);
        _gripperTarget = gripper;
    }

    private void SyncSetpointToTip()
    {
        var (x, y, z) = ArmKinematics.ClampToWorkspace(_scene.Tip.X, _scene.Tip.Y, _scene.Tip.Z);
        _setpoint[0] = x;
        _setpoint[1] = y;
        _setpoint[2] = z;
    }

    private double GripperPosition()
    {
        var qpos = _scene.Qpos.Span;
        var opening = (qpos[_scene.FingerQposAddress[0]] + qpos[_scene.FingerQposAddress[1]]) / 2;
        return Math.Clamp(1 - opening / TabletopEnvironment.FingerTravel, 0, 1);
    }

    /// <summary>Writes the measured joints, efforts, gripper and fingertip pose into <paramref name="state"/>; returns whether any joint moves.</summary>
    public bool Measure(ref ArmState state)
    {
        var qpos = _scene.Qpos.Span;
        var qvel = _scene.Qvel.Span;
        var force = _actuatorForce.Span;
        var moving = false;
        state.JointCount = JointCount;
        for (var i = 0; i < JointCount; i++)
        {
            state.Positions[i] = qpos[_scene.ArmQposAddress[i]];
            var v = qvel[_scene.ArmDofAddress[i]];
            state.Velocities[i] = v;
            state.Efforts[i] = force[i];
            moving |= Math.Abs(v) > MovingSpeed;
        }
        state.GripperPosition = GripperPosition();
        state.GripperEffort = (Math.Abs(force[4]) + Math.Abs(force[5])) / 2;
        var (x, y, z) = _scene.Tip;
        state.EndEffectorX = x;
        state.EndEffectorY = y;
        state.EndEffectorZ = z;
        var m = _siteXmat.Row(_scene.TipSite);
        MatrixToQuaternion(m, out state.EndEffectorQw, out state.EndEffectorQx, out state.EndEffectorQy, out state.EndEffectorQz);
        return moving;
    }

    /// <summary>Unit quaternion (w, x, y, z) of a row-major 3×3 rotation matrix (Shepperd's method).</summary>
    internal static void MatrixToQuaternion(ReadOnlySpan<double> m, out double w, out double x, out double y, out double z)
    {
        var trace = m[0] + m[4] + m[8];
        if (trace > 0)
        {
            var s = 2 * Math.Sqrt(trace + 1);
            w = s / 4;
            x = (m[7] - m[5]) / s;
            y = (m[2] - m[6]) / s;
            z = (m[3] - m[1]) / s;
        }
        else if (m[0] > m[4] && m[0] > m[8])
        {
            var s = 2 * Math.Sqrt(1 + m[0] - m[4] - m[8]);
            w = (m[7] - m[5]) / s;
            x = s / 4;
            y = (m[1] + m[3]) / s;
            z = (m[2] + m[6]) / s;
        }
        else if (m[4] > m[8])
        {
            var s = 2 * Math.Sqrt(1 + m[4] - m[0] - m[8]);
            w = (m[2] - m[6]) / s;
            x = (m[1] + m[3]) / s;
            y = s / 4;
            z = (m[5] + m[7]) / s;
        }
        else
        {
            var s = 2 * Math.Sqrt(1 + m[8] - m[0] - m[4]);
            w = (m[3] - m[1]) / s;
            x = (m[2] + m[6]) / s;
            y = (m[5] + m[7]) / s;
            z = s / 4;
        }
        if (w < 0)
        {
            w = -w;
            x = -x;
            y = -y;
            z = -z;
        }
    }
}
