using System.Diagnostics;
using RobotRuntime.Agents.Encoders;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Planning;
using RobotRuntime.Arm;
using RobotRuntime.Policies;
using RobotRuntime.Timing;

namespace RobotRuntime.Agents.Packaging;

/// <summary>
/// A trained agent as the runtime loop's <see cref="IPolicy"/>: it reads the embedding the loop's encoder
/// made of this cycle's frames (<see cref="AgentVisionEncoders.Create"/> gives that encoder, whatever the
/// agent's encoder mode) and the arm state, observed through the arm layout it was trained on
/// (<see cref="ArmLayout"/>); the frame stack and encoder head turn them into a latent; the planner
/// (MPPI within the cycle's deadline, or the policy prior) gives a normalised action that the
/// <see cref="ActionTranslator"/> turns into the arm's command: an end-effector delta the arm applies,
/// joint positions from the runtime's inverse kinematics, or joint targets.
/// </summary>
/// <remarks>Real-time: <see cref="Act"/> allocates nothing once warm, in every mode (tested), and never throws.</remarks>
public sealed class AgentPolicy : IPolicy, INormalisedActionSource, IAnytimePolicy
{
    private readonly WorldModel _model;
    private readonly IPlanner _planner;
    private readonly int _embeddingSize, _stack;
    private readonly float[][] _history;
    private readonly float[] _headInput, _scratchA, _scratchB;
    private readonly float[] _latent, _proprio, _action;
    private readonly ArmLayout _armLayout;
    private readonly IReadOnlyList<string> _actionNames;
    private readonly ActionTranslator _translator;
    private readonly long _marginNs;
    private int _count;
    private string _lastError = "";

    /// <summary>Wraps <paramref name="model"/>, trained on the tabletop simulator's 4-joint arm, for an arm that applies end-effector deltas itself.</summary>
    /// <param name="model">The trained world model.</param>
    /// <param name="planner">Planner settings (kind, samples, threads); <see cref="Planners.Create"/> makes the planner.</param>
    /// <param name="maxEndEffectorStepMetres">Metres an action of 1 moves the end effector (the environment's step size).</param>
    /// <param name="seed">Seed of the planner's sampling.</param>
    /// <param name="deadlineMargin">Time kept free before the cycle's deadline for the rest of the cycle.</param>
    public AgentPolicy(WorldModel model, PlannerOptions planner, double maxEndEffectorStepMetres, int seed = 1, TimeSpan? deadlineMargin = null)
        : this(model, planner, ToyTranslator(ArmLayout.Toy4 with { TranslationStep = maxEndEffectorStepMetres }), seed, deadlineMargin)
    {
    }

    /// <summary>Wraps <paramref name="model"/>; <paramref name="translator"/> says how its actions reach the arm (and which layout it observes the arm through).</summary>
    /// <param name="model">The trained world model.</param>
    /// <param name="planner">Planner settings (kind, samples, threads); <see cref="Planners.Create"/> makes the planner.</param>
    /// <param name="translator">The action translator made for the agent's arm layout and this arm.</param>
    /// <param name="seed">Seed of the planner's sampling.</param>
    /// <param name="deadlineMargin">Time kept free before the cycle's deadline for the rest of the cycle.</param>
    /// <exception cref="ArgumentException">The layout's proprioception or action size differs from the model's.</exception>
    public AgentPolicy(WorldModel model, PlannerOptions planner, ActionTranslator translator, int seed = 1, TimeSpan? deadlineMargin = null)
    {
        ArgumentNullException.ThrowIfNull(translator);
        _armLayout = translator.Layout;
        _actionNames = _armLayout.ActionNames();
        _translator = translator;
        if (model.Layout.ProprioceptionLength != 0 && model.Layout.ProprioceptionLength != _armLayout.ProprioceptionLength)
            throw new ArgumentException($"agent '{model.Config.Encoder}': the model takes {model.Layout.ProprioceptionLength} proprioception values, its arm layout gives {_armLayout.ProprioceptionLength}", nameof(translator));
        if (model.Layout.ActionDim != _armLayout.ActionDimension)
            throw new ArgumentException($"agent '{model.Config.Encoder}': the model acts with {model.Layout.ActionDim} values, its arm layout with {_armLayout.ActionDimension}", nameof(translator));
        _model = model;
        _planner = Planners.Create(model, planner, new AgentRandom((ulong)seed));
        var layout = model.Layout;
        _embeddingSize = AgentVisionEncoders.EmbeddingSize(model);
        // The scratch CNN stacks frames itself (over channels); the other modes stack embeddings here.
        _stack = layout.Kind == FeatureKind.Images && model.PvrTail is null ? 1 : layout.FrameStack;
        _history = new float[_stack][];
        for (var i = 0; i < _stack; i++)
            _history[i] = new float[_embeddingSize];
        _headInput = new float[_stack * _embeddingSize + layout.ProprioceptionLength];
        if (_headInput.Length != model.EncoderHead.InputWidth)
            throw new ArgumentException($"agent '{model.Config.Encoder}': the encoder head takes {model.EncoderHead.InputWidth} floats, the embedding stack and proprioception give {_headInput.Length}", nameof(model));
        _scratchA = new float[Math.Max(model.EncoderHead.MaxWidth, 1024)];
        _scratchB = new float[Math.Max(model.EncoderHead.MaxWidth, 1024)];
        _latent = new float[model.Config.LatentDim];
        _proprio = new float[layout.ProprioceptionLength];
        _action = new float[layout.ActionDim];
        _marginNs = (long)((deadlineMargin ?? TimeSpan.FromMilliseconds(1)).TotalMilliseconds * 1e6);
    }

    /// <inheritdoc />
    public string Name => $"agent:{_model.Config.Mode.ToString().ToLowerInvariant()}:{_model.Config.Encoder}:{_planner.Name}";

    /// <inheritdoc />
    public ArmCommandMode Mode => _translator.CommandMode;

    /// <summary>How the agent observes the arm and what its actions mean.</summary>
    public ArmLayout ArmLayout => _armLayout;

    /// <summary>How actions reach the arm (e.g. through the runtime's inverse kinematics).</summary>
    public ActionTranslator Translator => _translator;

    /// <inheritdoc />
    public int EmbeddingSize => _embeddingSize;

    /// <inheritdoc />
    public string LastError => _lastError;

    /// <summary>The latent of the last <see cref="Act"/> (what the planner planned from).</summary>
    public ReadOnlySpan<float> LastLatent => _latent;

    /// <summary>The last action in [−1, 1], in the arm layout's order (e.g. dx, dy, dz, gripper).</summary>
    public ReadOnlySpan<float> LastAction => _action;

    /// <summary>The arm layout's action names (<see cref="ArmLayout.ActionNames"/>, joints named joint_0, joint_1, …).</summary>
    public IReadOnlyList<string> NormalisedActionNames => _actionNames;

    /// <summary>The planner.</summary>
    public IPlanner Planner => _planner;

    /// <inheritdoc />
    public void Reset()
    {
        _count = 0;
        _planner.Reset();
        _translator.Reset();
    }

    /// <inheritdoc />
    public PolicyStatus Act(PolicyObservation observation, ref ArmCommand command)
    {
        var layout = _model.Layout;
        if (observation.Embedding.Length != _embeddingSize)
        {
            _lastError = $"the agent expects an embedding of {_embeddingSize} floats, the loop gives {observation.Embedding.Length}";
            return PolicyStatus.Failed;
        }
        if (layout.ProprioceptionLength > 0)
        {
            if (!observation.HasArmState)
            {
                _lastError = "the agent needs the arm state (proprioception) and the loop has none fresh";
                return PolicyStatus.NoAction;
            }
            _armLayout.FillProprioception(in observation.ArmState, _proprio);
        }
        Push(observation.Embedding);
        for (var k = 0; k < _stack; k++)
            _history[k].CopyTo(_headInput, k * _embeddingSize);
        _proprio.CopyTo(_headInput, _stack * _embeddingSize);
        _model.EncoderHead.Infer(_headInput, 1, _latent, _scratchA, _scratchB);
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
        if (!_translator.Translate(_action, in observation.ArmState, ref command, observation.PeriodNs / 1e9))
        {
            _lastError = "the planner gave a non-finite action";
            return PolicyStatus.Failed;
        }
        return status == PlanStatus.Complete ? PolicyStatus.Ok : PolicyStatus.BudgetExhausted;
    }

    /// <inheritdoc />
    public int LastSearchIterations => _planner.LastIterations;

    /// <summary>Adds this step's embedding; the first step after <see cref="Reset"/> fills the whole stack (as in training).</summary>
    private void Push(ReadOnlySpan<float> embedding)
    {
        var newest = _history[0];
        for (var i = 0; i < _stack - 1; i++)
            _history[i] = _history[i + 1];
        _history[^1] = newest;
        embedding.CopyTo(newest);
        if (_count++ == 0)
        {
            foreach (var slot in _history)
                embedding.CopyTo(slot);
        }
    }

    /// <summary>
    /// Travel of one finger in the tabletop simulator's 4-joint arm (<c>TabletopEnvironment.FingerTravel</c>):
    /// <see cref="ArmLayout.Toy4"/> turns the firmware's normalised gripper position back into the opening
    /// (both fingers, m) the agents trained on it saw.
    /// </summary>
    public const double SimFingerTravelMetres = 0.035;

    /// <summary>
    /// A translator for the 4-joint simulator arm's layout on an arm that applies end-effector deltas
    /// itself (the legacy constructor's arm).
    /// </summary>
    private static ActionTranslator ToyTranslator(ArmLayout layout)
    {
        var joints = new JointLimits[layout.JointCount];
        Array.Fill(joints, new JointLimits(-Math.PI, Math.PI, 3, 100));
        var arm = new ArmDescription(1, 2, joints, new HashSet<ArmCommandMode> { ArmCommandMode.JointPosition, ArmCommandMode.EndEffectorDelta },
            100, 100, layout.TranslationStep, 0);
        return new ActionTranslator(layout, arm);
    }

    /// <summary>Nothing to release (the model's weights are managed).</summary>
    public void Dispose()
    {
    }
}
