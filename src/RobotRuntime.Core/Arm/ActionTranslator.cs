using RobotRuntime.Kinematics;
using RobotRuntime.Safety;

namespace RobotRuntime.Arm;

/// <summary>
/// Turns a policy's normalised action (an <see cref="ArmLayout"/>'s action vector) into the command
/// an arm takes: end-effector deltas go to the arm as they are when it takes them, or through the
/// runtime's inverse kinematics into joint positions when it takes only joint commands; joint deltas
/// become joint-position targets; joint positions are mapped onto the joint ranges.
/// </summary>
/// <remarks>
/// Through inverse kinematics the translator keeps its own end-effector target: it starts from the
/// measured pose (forward kinematics of the measured joints) after <see cref="Reset"/> and whenever the
/// arm reports itself holding or disabled, and otherwise moves on from the previous target (as the
/// firmware protocol applies end-effector deltas, PROTOCOL.md §3.4). A target the arm cannot reach is
/// pulled back to where the solver got, so targets never run away from the arm; a solution that would
/// move a joint by more than <see cref="MaxJointJump"/> (another branch of the arm) is not taken.
/// Real-time: <see cref="Translate"/> allocates nothing and never throws (tested).
/// One instance per loop (it holds the target and the solver's buffers).
/// </remarks>
public sealed class ActionTranslator
{
    /// <summary>Largest change of any joint target one end-effector step may ask for, rad; a solution beyond it is another branch of the arm and is not taken.</summary>
    public const double MaxJointJump = 0.5;

    private readonly ArmLayout _layout;
    private readonly ArmDescription _arm;
    private readonly InverseKinematics? _ik;
    private readonly WorkspaceBox? _workspace;
    private readonly double[] _jointTargets;
    private readonly double[] _measured;
    private readonly double[] _solution;
    private Pose _target;
    private bool _haveTarget;

    /// <summary>Chooses the route for <paramref name="layout"/>'s actions on <paramref name="arm"/>.</summary>
    /// <param name="layout">The policy's layout.</param>
    /// <param name="arm">The arm's description (its modes and joint limits).</param>
    /// <param name="chain">The arm's kinematic model, or null; needed when the policy acts in end-effector deltas and the arm takes only joint commands.</param>
    /// <param name="workspace">A box end-effector targets are kept in on the inverse-kinematics route; null: none.</param>
    /// <param name="ikOptions">Solver settings; default: <see cref="IkOptions"/>'s.</param>
    /// <exception cref="ArgumentException">The layout does not fit the arm (<see cref="ArmLayout.Mismatch"/>'s message), or the chain has another joint count.</exception>
    public ActionTranslator(ArmLayout layout, ArmDescription arm, KinematicChain? chain = null, WorkspaceBox? workspace = null, IkOptions ikOptions = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(arm);
        layout.Validate();
        if (chain is not null && chain.JointCount != arm.JointCount)
            throw new ArgumentException($"the kinematic model '{chain.Name}' has {chain.JointCount} joints; the arm has {arm.JointCount}", nameof(chain));
        if (layout.Mismatch(arm, chain is not null) is { } why)
            throw new ArgumentException(why, nameof(layout));
        _layout = layout;
        _arm = arm;
        _workspace = workspace;
        _jointTargets = new double[arm.JointCount];
        _measured = new double[arm.JointCount];
        _solution = new double[arm.JointCount];
        if (layout.ActionSpace == ActionSpaceKind.EndEffectorDelta)
        {
            if (arm.SupportedModes.Contains(ArmCommandMode.EndEffectorDelta))
            {
                CommandMode = ArmCommandMode.EndEffectorDelta;
            }
            else
            {
                CommandMode = ArmCommandMode.JointPosition;
                _ik = new InverseKinematics(chain!, ikOptions);
            }
        }
        else
        {
            CommandMode = ArmCommandMode.JointPosition;
        }
    }

    /// <summary>The layout the actions are in.</summary>
    public ArmLayout Layout => _layout;

    /// <summary>The kinematic model the inverse kinematics solves with, or null.</summary>
    public KinematicChain? Chain => _ik?.Chain;

    /// <summary>The mode of the commands this translator makes.</summary>
    public ArmCommandMode CommandMode { get; }

    /// <summary>End-effector actions go through the runtime's inverse kinematics.</summary>
    public bool UsesInverseKinematics => _ik is not null;

    /// <summary>The result of the last inverse-kinematics solve (default before any).</summary>
    public IkResult LastInverseKinematics { get; private set; }

    /// <summary>Solves that did not converge since construction (the target was pulled back to the solver's pose).</summary>
    public long UnreachedTargets { get; private set; }

    /// <summary>The current end-effector target on the inverse-kinematics route.</summary>
    public Pose Target => _target;

    /// <summary>For the operator: how actions reach the arm.</summary>
    public string Route => (_layout.ActionSpace, CommandMode, _ik) switch
    {
        (ActionSpaceKind.EndEffectorDelta, ArmCommandMode.EndEffectorDelta, _) => "end-effector deltas, applied by the arm",
        (ActionSpaceKind.EndEffectorDelta, _, not null) => $"end-effector deltas through the runtime's inverse kinematics ({_ik.Chain.Name}) into joint positions",
        (ActionSpaceKind.JointDelta, _, _) => "joint deltas as joint-position targets",
        _ => "joint positions",
    };

    /// <summary>The next <see cref="Translate"/> starts its targets from the measured state (call with the policy's reset).</summary>
    public void Reset() => _haveTarget = false;

    /// <summary>Fills <paramref name="command"/> from <paramref name="action"/> and the measured <paramref name="state"/>.</summary>
    /// <param name="action">The policy's normalised action, in the layout's order.</param>
    /// <param name="state">The arm's measured state.</param>
    /// <param name="command">The command to fill.</param>
    /// <param name="periodSeconds">
    /// The period the command will stand, s; &gt; 0 keeps every joint target within one period of its velocity
    /// limit from the measured joint (what the safety layer allows, PROTOCOL.md's joints move no faster), and
    /// the end-effector target with it, so the target never runs ahead of the arm; 0: no such bound.
    /// </param>
    /// <returns>False when the action has the wrong length or holds a non-finite value (the command is left unchanged).</returns>
    /// <remarks>Real-time: no allocation, no throw.</remarks>
    public bool Translate(ReadOnlySpan<float> action, in ArmState state, ref ArmCommand command, double periodSeconds = 0)
    {
        if (action.Length != _layout.ActionDimension)
            return false;
        foreach (var value in action)
        {
            if (!float.IsFinite(value))
                return false;
        }
        var n = _arm.JointCount;
        var holding = (state.Status & (ArmStatusFlags.Holding | ArmStatusFlags.EmergencyStop | ArmStatusFlags.Fault)) != 0
            || (state.Status & ArmStatusFlags.Enabled) == 0;
        for (var j = 0; j < n; j++)
            _measured[j] = j < state.JointCount ? state.Positions[j] : 0;
        var gripper = _layout.HasGripper ? (Math.Clamp(action[^1], -1f, 1f) + 1.0) / 2.0 : 0.0;
        command.GripperTarget = gripper;
        switch (_layout.ActionSpace)
        {
            case ActionSpaceKind.EndEffectorDelta when _ik is null:
                command.Mode = ArmCommandMode.EndEffectorDelta;
                command.ValueCount = 6;
                for (var i = 0; i < 3; i++)
                    command.Values[i] = Math.Clamp(action[i], -1f, 1f) * _layout.TranslationStep;
                for (var i = 0; i < 3; i++)
                    command.Values[3 + i] = _layout.ActionRotation ? Math.Clamp(action[3 + i], -1f, 1f) * _layout.RotationStep : 0;
                return true;
            case ActionSpaceKind.EndEffectorDelta:
                TranslateThroughInverseKinematics(action, holding, periodSeconds, ref command);
                return true;
            case ActionSpaceKind.JointDelta:
                if (!_haveTarget || holding)
                    _measured.CopyTo(_jointTargets, 0);
                _haveTarget = true;
                for (var j = 0; j < n; j++)
                {
                    var limits = _arm.Joints[j];
                    _jointTargets[j] = Math.Clamp(_jointTargets[j] + Math.Clamp(action[j], -1f, 1f) * _layout.JointStep, limits.PositionMin, limits.PositionMax);
                }
                KeepWithinReach(periodSeconds);
                WriteJointPositions(_jointTargets, ref command);
                return true;
            default:
                for (var j = 0; j < n; j++)
                {
                    var (low, high) = (_layout.JointRanges[2 * j], _layout.JointRanges[2 * j + 1]);
                    _jointTargets[j] = low + (Math.Clamp(action[j], -1f, 1f) + 1.0) / 2.0 * (high - low);
                }
                WriteJointPositions(_jointTargets, ref command);
                return true;
        }
    }

    /// <summary>
    /// Pulls each joint target to within one period of its velocity limit of the measured joint (a little
    /// inside, so the safety layer's same bound does not clip it); returns whether any target moved.
    /// </summary>
    private bool KeepWithinReach(double periodSeconds)
    {
        if (!(periodSeconds > 0))
            return false;
        var pulled = false;
        for (var j = 0; j < _jointTargets.Length; j++)
        {
            var reach = 0.95 * _arm.Joints[j].VelocityMax * periodSeconds;
            var bounded = Math.Clamp(_jointTargets[j], _measured[j] - reach, _measured[j] + reach);
            pulled |= bounded != _jointTargets[j];
            _jointTargets[j] = bounded;
        }
        if (pulled)
            BoundedTargets++;
        return pulled;
    }

    /// <summary>Cycles whose joint targets were pulled back to what the joints can reach in one period (<c>periodSeconds</c> &gt; 0).</summary>
    public long BoundedTargets { get; private set; }

    private void TranslateThroughInverseKinematics(ReadOnlySpan<float> action, bool holding, double periodSeconds, ref ArmCommand command)
    {
        var chain = _ik!.Chain;
        if (!_haveTarget || holding)
        {
            chain.Forward(_measured, out _target);
            _measured.CopyTo(_jointTargets, 0);
            _haveTarget = true;
        }
        var t = _layout.TranslationStep;
        var r = _layout.RotationStep;
        var rotation = _layout.ActionRotation;
        var next = Pose.ApplyDelta(in _target,
            Math.Clamp(action[0], -1f, 1f) * t, Math.Clamp(action[1], -1f, 1f) * t, Math.Clamp(action[2], -1f, 1f) * t,
            rotation ? Math.Clamp(action[3], -1f, 1f) * r : 0, rotation ? Math.Clamp(action[4], -1f, 1f) * r : 0, rotation ? Math.Clamp(action[5], -1f, 1f) * r : 0);
        if (_workspace is { } box)
        {
            next.X = Math.Clamp(next.X, box.MinX, box.MaxX);
            next.Y = Math.Clamp(next.Y, box.MinY, box.MaxY);
            next.Z = Math.Clamp(next.Z, box.MinZ, box.MaxZ);
        }
        var result = _ik.Solve(in next, _jointTargets, _solution);
        LastInverseKinematics = result;
        var jump = 0.0;
        for (var j = 0; j < _solution.Length; j++)
            jump = Math.Max(jump, Math.Abs(_solution[j] - _jointTargets[j]));
        if (jump > MaxJointJump)
        {
            // Another branch of the arm (the solver restarts from spread seeds when it stalls): a small
            // end-effector step must not swing a joint across. Stay, and make where the arm is headed the target.
            UnreachedTargets++;
            chain.Forward(_jointTargets, out _target);
        }
        else if (result.Status == IkStatus.Converged)
        {
            _solution.CopyTo(_jointTargets, 0);
            _target = next;
        }
        else
        {
            // Unreachable (or not reached this cycle): go where the solver got and make that the target.
            UnreachedTargets++;
            _solution.CopyTo(_jointTargets, 0);
            chain.Forward(_solution, out _target);
        }
        // Where the joints can be by the end of the period: the target follows them, so it never runs
        // ahead of an arm that moves slower than the policy asks (the next delta starts from there).
        if (KeepWithinReach(periodSeconds))
            chain.Forward(_jointTargets, out _target);
        WriteJointPositions(_jointTargets, ref command);
    }

    private void WriteJointPositions(ReadOnlySpan<double> positions, ref ArmCommand command)
    {
        command.Mode = ArmCommandMode.JointPosition;
        command.ValueCount = positions.Length;
        positions.CopyTo(command.Values);
    }
}
