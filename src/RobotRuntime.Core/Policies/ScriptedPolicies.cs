using RobotRuntime.Arm;

namespace RobotRuntime.Policies;

/// <summary>
/// Steers the measured end effector toward a goal in end-effector-delta mode, one bounded step per
/// cycle. The goal is a privileged oracle (a fixed point from the configuration, or the simulator's
/// own goal in <c>rr demo</c>): this controller proves the runtime's plumbing, it does not see.
/// </summary>
public sealed class ScriptedReachPolicy : IPolicy
{
    private readonly Func<(double X, double Y, double Z)> _goal;
    private readonly double _maxStep;
    private readonly double _gain;

    /// <summary>Creates the controller.</summary>
    /// <param name="goal">Where the end effector should go (metres, arm base frame); read once per cycle, must not allocate.</param>
    /// <param name="maxStepMetres">Largest translation per cycle (the arm's end-effector step limit).</param>
    /// <param name="gain">Fraction of the remaining distance asked for per cycle, before the step limit (0..1].</param>
    public ScriptedReachPolicy(Func<(double X, double Y, double Z)> goal, double maxStepMetres, double gain = 0.5)
    {
        ArgumentNullException.ThrowIfNull(goal);
        if (!(maxStepMetres > 0) || !double.IsFinite(maxStepMetres))
            throw new ArgumentOutOfRangeException(nameof(maxStepMetres), maxStepMetres, "the largest step per cycle must be a positive number of metres");
        if (!(gain > 0 && gain <= 1))
            throw new ArgumentOutOfRangeException(nameof(gain), gain, "the gain must be in (0, 1]");
        _goal = goal;
        _maxStep = maxStepMetres;
        _gain = gain;
    }

    /// <inheritdoc/>
    public string Name => "scripted-reach";

    /// <inheritdoc/>
    public ArmCommandMode Mode => ArmCommandMode.EndEffectorDelta;

    /// <inheritdoc/>
    public int EmbeddingSize => 0;

    /// <inheritdoc/>
    public string LastError { get; private set; } = "";

    /// <inheritdoc/>
    public void Reset() => LastError = "";

    /// <inheritdoc/>
    public PolicyStatus Act(PolicyObservation observation, ref ArmCommand command)
    {
        if (!observation.HasArmState)
        {
            LastError = "no arm state: the end effector's position is unknown";
            return PolicyStatus.NoAction;
        }
        var (x, y, z) = _goal();
        ref readonly var state = ref observation.ArmState;
        double dx = (x - state.EndEffectorX) * _gain, dy = (y - state.EndEffectorY) * _gain, dz = (z - state.EndEffectorZ) * _gain;
        double norm = Math.Sqrt(dx * dx + dy * dy + dz * dz);
        if (norm > _maxStep)
        {
            double scale = _maxStep / norm;
            dx *= scale;
            dy *= scale;
            dz *= scale;
        }
        command.Mode = ArmCommandMode.EndEffectorDelta;
        command.ValueCount = 6;
        command.Values = default;
        command.Values[0] = dx;
        command.Values[1] = dy;
        command.Values[2] = dz;
        command.GripperTarget = 0;
        return PolicyStatus.Ok;
    }

    /// <inheritdoc/>
    public void Dispose() { }
}

/// <summary>Asks the arm to stay where it is: joint position targets at the joints measured in its first cycle after a reset, kept from then on.</summary>
public sealed class HoldStillPolicy : IPolicy
{
    /// <inheritdoc/>
    public string Name => "hold-still";

    /// <inheritdoc/>
    public ArmCommandMode Mode => ArmCommandMode.JointPosition;

    /// <inheritdoc/>
    public int EmbeddingSize => 0;

    /// <inheritdoc/>
    public string LastError { get; private set; } = "";

    // The pose to hold: the measured joints of the first cycle after a reset, kept from then on
    // (commanding each cycle's measured pose would let a joint under gravity creep down).
    private JointVector _target;
    private int _jointCount;
    private double _gripper;
    private bool _latched;

    /// <inheritdoc/>
    public void Reset()
    {
        LastError = "";
        _latched = false;
    }

    /// <inheritdoc/>
    public PolicyStatus Act(PolicyObservation observation, ref ArmCommand command)
    {
        if (!_latched)
        {
            if (!observation.HasArmState)
            {
                LastError = "no arm state: the joints' positions are unknown";
                return PolicyStatus.NoAction;
            }
            ref readonly var state = ref observation.ArmState;
            _target = state.Positions;
            _jointCount = state.JointCount;
            _gripper = Math.Clamp(state.GripperPosition, 0, 1);
            _latched = true;
        }
        command.Mode = ArmCommandMode.JointPosition;
        command.ValueCount = _jointCount;
        command.Values = _target;
        command.GripperTarget = _gripper;
        return PolicyStatus.Ok;
    }

    /// <inheritdoc/>
    public void Dispose() { }
}
