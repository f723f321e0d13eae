using RobotRuntime.Arm;
using RobotRuntime.Sim.MuJoCo;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.SimServer;

/// <summary>
/// The tabletop arm seen as firmware sees its hardware: joint set points that move towards their
/// targets no faster than each joint's velocity limit, physics stepped to wall-clock deadlines, and
/// the measured joints, efforts, gripper and end-effector pose. Any <see cref="SimArm"/>: the 4-joint
/// arm also takes end-effector deltas (its closed-form inverse kinematics); the others are driven by
/// joint-position commands only, as a bridge to a real arm's joint servo interface would be.
/// </summary>
/// <remarks>The environment's thread only (it owns the GL context). Allocates only in the constructor.</remarks>
internal sealed class SimulatedArm
{
    /// <summary>Joint speed above which the arm reports itself moving, rad/s.</summary>
    private const double MovingSpeed = 0.01;

    /// <summary>Physics steps the simulation may fall behind the wall clock before it skips ahead.</summary>
    private const int MaxCatchUpSteps = 250;

    private readonly TabletopEnvironment _environment;
    private readonly TabletopScene _scene;
    private readonly SimArm _arm;
    private readonly double[] _targets;
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
        _arm = environment.Arm;
        _targets = new double[_arm.JointCount];
        _timestep = _scene.Model.Timestep;
        _timestepNs = (long)Math.Round(_timestep * 1e9);
        var (x, y, z) = environment.Setpoint;
        _setpoint[0] = x;
        _setpoint[1] = y;
        _setpoint[2] = z;
        var ctrl = _scene.Ctrl.Span;
        for (var i = 0; i < _targets.Length; i++)
            _targets[i] = ctrl[i];
        _gripperTarget = Math.Clamp(1 - ctrl[_scene.FingerCtrl] / _arm.FingerTravel, 0, 1);
        _originNs = nowNs;
    }

    /// <summary>Number of arm joints.</summary>
    public int JointCount => _targets.Length;

    /// <summary>Simulation time, s.</summary>
    public double Time => _scene.Data.Time;

    /// <summary>Physics steps skipped because the simulation fell more than <see cref="MaxCatchUpSteps"/> behind the wall clock.</summary>
    public long StepsSkipped { get; private set; }

    /// <summary>Physics steps taken.</summary>
    public long StepsTaken => _stepsDone;

    /// <summary>An actuator exceeded its joint's effort limit during the last <see cref="AdvanceTo"/>.</summary>
    public bool OverEffort { get; private set; }

    /// <summary>A joint was at or beyond its range during the last <see cref="AdvanceTo"/>.</summary>
    public bool AtJointLimit { get; private set; }

    /// <summary>Joint ranges, velocity and effort limits as the description announces them.</summary>
    public static JointLimits[] Limits(SimArm arm) => arm.Limits.ToArray();

    /// <summary>Command modes the simulated firmware takes: the 4-joint arm joint positions and end-effector deltas, the others joint positions only.</summary>
    public static HashSet<ArmCommandMode> Modes(SimArm arm) => arm.Name == "toy4"
        ? [ArmCommandMode.JointPosition, ArmCommandMode.EndEffectorDelta]
        : [ArmCommandMode.JointPosition];

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
        var opening = _arm.FingerTravel * (1 - _gripperTarget);
        ctrl[_scene.FingerCtrl] = ctrl[_scene.FingerCtrl + 1] = opening;
        for (var step = 0; step < due; step++)
        {
            var settled = true;
            for (var i = 0; i < _targets.Length; i++)
            {
                var maxMove = _arm.Limits[i].VelocityMax * _timestep;
                var error = _targets[i] - ctrl[i];
                ctrl[i] += Math.Clamp(error, -maxMove, maxMove);
                settled &= Math.Abs(error) <= maxMove;
            }
            if (settled)
            {
                // Set points have reached their targets: the rest can run without moving them.
                _scene.Step((int)(due - step));
                _stepsDone += due - step;
                break;
            }
            _scene.Step(1);
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
        var force = _scene.ActuatorForce.Span;
        var qpos = _scene.Qpos.Span;
        for (var i = 0; i < _targets.Length; i++)
        {
            var limits = _arm.Limits[i];
            OverEffort |= Math.Abs(force[i]) > limits.EffortMax;
            var q = qpos[_scene.ArmQposAddress[i]];
            AtJointLimit |= q <= limits.PositionMin || q >= limits.PositionMax;
        }
    }

    /// <summary>Holds where the arm is now: targets and set points at the measured joints, gripper where it is.</summary>
    public void HoldHere()
    {
        var qpos = _scene.Qpos.Span;
        var ctrl = _scene.Ctrl.Span;
        for (var i = 0; i < _targets.Length; i++)
        {
            var limits = _arm.Limits[i];
            var q = Math.Clamp(qpos[_scene.ArmQposAddress[i]], limits.PositionMin, limits.PositionMax);
            _targets[i] = q;
            ctrl[i] = q;
        }
        _gripperTarget = _scene.GripperClosing();
        SyncSetpointToTip();
    }

    /// <summary>
    /// E-stop: brakes every arm joint at once (its velocity to zero, as a real arm's brakes stop it
    /// within milliseconds) and holds there.
    /// </summary>
    public void Brake()
    {
        var qvel = _scene.Qvel.Span;
        foreach (var dof in _scene.ArmDofAddress)
            qvel[dof] = 0;
        HoldHere();
        _scene.Data.Forward();
    }

    /// <summary>Targets joint positions (rad, already checked against the limits) and the gripper (0 open .. 1 closed).</summary>
    public void SetJointTargets(ReadOnlySpan<double> positions, double gripper)
    {
        for (var i = 0; i < _targets.Length; i++)
            _targets[i] = positions[i];
        _gripperTarget = gripper;
    }

    /// <summary>
    /// Moves the end-effector set point by (dx, dy, dz) metres in the base frame, clamped to the
    /// workspace, and targets the joints that put the fingertip there pointing down (as the
    /// environment's end-effector-delta action does). The 4-joint arm only (<see cref="Modes"/>).
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
        var (x, y, z) = _arm.ClampToWorkspace(_scene.Tip.X, _scene.Tip.Y, _scene.Tip.Z);
        _setpoint[0] = x;
        _setpoint[1] = y;
        _setpoint[2] = z;
    }

    /// <summary>Writes the measured joints, efforts, gripper and fingertip pose into <paramref name="state"/>; returns whether any joint moves.</summary>
    public bool Measure(ref ArmState state)
    {
        _scene.Measure(ref state);
        var moving = false;
        for (var i = 0; i < state.JointCount; i++)
            moving |= Math.Abs(state.Velocities[i]) > MovingSpeed;
        return moving;
    }
}
