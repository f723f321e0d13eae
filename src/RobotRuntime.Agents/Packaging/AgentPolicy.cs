using System.Diagnostics;
using System.Runtime.InteropServices;
using RobotRuntime.Agents.Encoders;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Planning;
using RobotRuntime.Arm;
using RobotRuntime.Policies;
using RobotRuntime.Timing;

namespace RobotRuntime.Agents.Packaging;

/// <summary>
/// A trained agent as the runtime loop's <see cref="IPolicy"/>: the loop's PVR embedding (frozen mode)
/// or camera frames (scratch mode) and the arm state go through the frame stack and encoder head into
/// a latent; the planner (MPPI within the cycle's deadline, or the policy prior) gives an action in
/// [−1, 1]⁴ that becomes an end-effector delta command (metres) with a gripper target (0 open, 1 closed).
/// </summary>
/// <remarks>Real-time: in frozen mode <see cref="Act"/> allocates nothing once warm (tested); in scratch
/// mode the CNN runs through the engine's ops and allocates per call. Never throws from <see cref="Act"/>.</remarks>
public sealed class AgentPolicy : IPolicy
{
    private readonly WorldModel _model;
    private readonly LatentPlanner _planner;
    private readonly AgentEncoder _encoder;
    private readonly ImageFeatureExtractor? _images;
    private readonly byte[] _features;
    private readonly float[] _latent, _proprio, _action;
    private readonly double _metresPerUnit;
    private readonly long _marginNs;
    private string _lastError = "";

    /// <summary>Wraps <paramref name="model"/>.</summary>
    /// <param name="model">The trained world model.</param>
    /// <param name="planner">Planner settings (mode, samples, threads).</param>
    /// <param name="maxEndEffectorStepMetres">Metres an action of 1 moves the end effector (the environment's step size).</param>
    /// <param name="seed">Seed of the planner's sampling.</param>
    /// <param name="deadlineMargin">Time kept free before the cycle's deadline for the rest of the cycle.</param>
    public AgentPolicy(WorldModel model, PlannerOptions planner, double maxEndEffectorStepMetres, int seed = 1, TimeSpan? deadlineMargin = null)
    {
        _model = model;
        _planner = new LatentPlanner(model, planner, new AgentRandom((ulong)seed));
        _encoder = new AgentEncoder(model);
        var layout = model.Layout;
        if (layout.Kind == FeatureKind.Images)
        {
            _images = new ImageFeatureExtractor(model.Config.Cameras, layout.ImageSize);
        }
        _features = new byte[layout.FeatureBytes];
        _latent = new float[model.Config.LatentDim];
        _proprio = new float[layout.ProprioceptionLength];
        _action = new float[layout.ActionDim];
        _metresPerUnit = maxEndEffectorStepMetres;
        _marginNs = (long)((deadlineMargin ?? TimeSpan.FromMilliseconds(1)).TotalMilliseconds * 1e6);
    }

    /// <inheritdoc />
    public string Name => $"agent:{_model.Config.Mode.ToString().ToLowerInvariant()}:{_model.Config.Encoder}:{_planner.Options.Mode.ToString().ToLowerInvariant()}";

    /// <inheritdoc />
    public ArmCommandMode Mode => ArmCommandMode.EndEffectorDelta;

    /// <inheritdoc />
    public int EmbeddingSize => _model.Layout.Kind == FeatureKind.Floats ? _model.Layout.FeatureLength : 0;

    /// <inheritdoc />
    public string LastError => _lastError;

    /// <summary>The last action in [−1, 1] (dx, dy, dz, gripper).</summary>
    public ReadOnlySpan<float> LastAction => _action;

    /// <summary>The planner.</summary>
    public LatentPlanner Planner => _planner;

    /// <inheritdoc />
    public void Reset()
    {
        _encoder.Reset();
        _planner.Reset();
    }

    /// <inheritdoc />
    public PolicyStatus Act(PolicyObservation observation, ref ArmCommand command)
    {
        var layout = _model.Layout;
        if (layout.Kind == FeatureKind.Floats)
        {
            if (observation.Embedding.Length != layout.FeatureLength)
            {
                _lastError = $"the agent expects an embedding of {layout.FeatureLength} floats, the loop gives {observation.Embedding.Length}";
                return PolicyStatus.Failed;
            }
            MemoryMarshal.AsBytes(observation.Embedding.AsSpan()).CopyTo(_features);
        }
        else if (!_images!.TryExtract(observation.Frames, _features, out var error))
        {
            _lastError = error;
            return PolicyStatus.NoAction;
        }
        if (layout.ProprioceptionLength > 0)
        {
            if (!observation.HasArmState)
            {
                _lastError = "the agent needs the arm state (proprioception) and the loop has none fresh";
                return PolicyStatus.NoAction;
            }
            FillProprioception(in observation.ArmState, _proprio);
        }
        _encoder.Push(_features);
        _encoder.Encode(_proprio, _latent);
        for (int i = 0; i < _latent.Length; i++)
        {
            if (!float.IsFinite(_latent[i]))
            {
                _lastError = "the encoder produced a non-finite latent";
                return PolicyStatus.Failed;
            }
        }
        long deadline = 0;
        if (observation.DeadlineNs > 0)
        {
            long remainingNs = observation.DeadlineNs - MonotonicClock.NowNanoseconds - _marginNs;
            deadline = Stopwatch.GetTimestamp() + Math.Max(1, (long)(remainingNs * (Stopwatch.Frequency / 1e9)));
        }
        var status = _planner.Plan(_latent, _action, explore: false, deadline);
        Span<double> values = stackalloc double[6];
        values[0] = _action[0] * _metresPerUnit;
        values[1] = _action[1] * _metresPerUnit;
        values[2] = _action[2] * _metresPerUnit;
        command.Mode = ArmCommandMode.EndEffectorDelta;
        command.ValueCount = 6;
        values.CopyTo(command.Values);
        command.GripperTarget = _action.Length > 3 ? (_action[3] + 1.0) / 2.0 : 0.0;
        return status == PlanStatus.Complete ? PolicyStatus.Ok : PolicyStatus.BudgetExhausted;
    }

    /// <summary>
    /// Travel of one finger in the tabletop simulator (<c>TabletopEnvironment.FingerTravel</c>), to turn
    /// the firmware's normalised gripper position back into the opening the agent was trained on.
    /// </summary>
    public const double SimFingerTravelMetres = 0.035;

    /// <summary>
    /// The simulator's proprioception order from an arm state: joint positions (4, rad), joint velocities
    /// (4, rad/s), gripper opening (both fingers, m), end-effector x, y, z (m).
    /// </summary>
    public static void FillProprioception(in ArmState state, Span<float> destination)
    {
        int joints = Math.Min(4, state.JointCount);
        destination.Clear();
        for (int j = 0; j < joints && j < destination.Length; j++)
        {
            destination[j] = (float)state.Positions[j];
            if (4 + j < destination.Length)
            {
                destination[4 + j] = (float)state.Velocities[j];
            }
        }
        if (destination.Length >= 12)
        {
            // The firmware reports the gripper as 0 open … 1 closed; the simulator's observation (what the
            // agent learned on) is the two fingers' summed opening in metres.
            destination[8] = (float)(2 * SimFingerTravelMetres * (1 - state.GripperPosition));
            destination[9] = (float)state.EndEffectorX;
            destination[10] = (float)state.EndEffectorY;
            destination[11] = (float)state.EndEffectorZ;
        }
    }

    /// <summary>Nothing to release (the model's weights are managed).</summary>
    public void Dispose()
    {
    }
}
