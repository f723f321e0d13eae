using RobotRuntime.Arm;
using RobotRuntime.Cameras;

namespace RobotRuntime.Policies;

/// <summary>What a policy's decision came to in one cycle.</summary>
public enum PolicyStatus : byte
{
    /// <summary>An action was written and may be sent (after the safety layer).</summary>
    Ok = 0,

    /// <summary>The policy ran out of its time budget and wrote the best action it had.</summary>
    BudgetExhausted = 1,

    /// <summary>The policy has no action this cycle (for example it lacks a needed input); the loop holds.</summary>
    NoAction = 2,

    /// <summary>The policy failed; <see cref="IPolicy.LastError"/> says why. The loop holds.</summary>
    Failed = 3,
}

/// <summary>
/// A policy whose decision is a search within its time budget (a planner) says how much of the search
/// its last <see cref="IPolicy.Act"/> ran, so that a cycle cut short can be told apart from one that
/// never searched at all and acted on its fallback (e.g. MPPI's policy prior).
/// </summary>
public interface IAnytimePolicy
{
    /// <summary>Search iterations the last <see cref="IPolicy.Act"/> completed; 0 when it acted on its fallback alone.</summary>
    int LastSearchIterations { get; }
}

/// <summary>
/// Everything a policy sees in one control cycle. The loop owns one instance, fills it in place each
/// cycle and never reallocates it, so a policy must not keep references to its arrays past
/// <see cref="IPolicy.Act"/>.
/// </summary>
public sealed class PolicyObservation
{
    /// <summary>Creates an observation for an encoder output of <paramref name="embeddingSize"/> floats.</summary>
    public PolicyObservation(int embeddingSize, IReadOnlyList<CameraFrame> frames)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(embeddingSize);
        Embedding = new float[embeddingSize];
        Frames = frames;
    }

    /// <summary>The encoder's output for this cycle's frames (every camera, concatenated in camera order).</summary>
    public float[] Embedding { get; }

    /// <summary>This cycle's camera frames, in the configured camera order (the frames the embedding came from).</summary>
    public IReadOnlyList<CameraFrame> Frames { get; }

    /// <summary>Whether <see cref="ArmState"/> holds a state fresh enough to act on.</summary>
    public bool HasArmState { get; set; }

    /// <summary>The arm's latest state (proprioception) when <see cref="HasArmState"/> is true.</summary>
    public ArmState ArmState;

    /// <summary>Time of the cycle start, nanoseconds, on the loop's clock (<see cref="Timing.MonotonicClock"/> unless a test gave the loop a fake one).</summary>
    public long CycleStartNs { get; set; }

    /// <summary>Time by which <see cref="IPolicy.Act"/> must return, nanoseconds, on the same clock as <see cref="CycleStartNs"/>.</summary>
    public long DeadlineNs { get; set; }

    /// <summary>Index of the cycle since the loop started.</summary>
    public long CycleIndex { get; set; }

    /// <summary>
    /// This cycle's period, nanoseconds: 1 / the loop's rate now, the time the command will stand
    /// before the next. Longer than the configured period while the loop runs at a degraded rate
    /// (<see cref="Runtime.ControlLoopOptions.Degrade"/>): a policy trained at a fixed control rate may
    /// use it to scale its actions, or ignore it and see frames, and act, at the lower rate.
    /// </summary>
    public long PeriodNs { get; set; }
}

/// <summary>
/// The decision seam: one observation in, one arm command out, once per control cycle. Implemented by
/// scripted controllers, the policy prior of a trained agent, and the latent MPPI planner. Called on the
/// real-time thread: <see cref="Act"/> must not allocate in steady state, must not throw for ordinary
/// failures (return <see cref="PolicyStatus.Failed"/> with <see cref="LastError"/>), and must return by
/// <see cref="PolicyObservation.DeadlineNs"/>, with its best action so far if it has a budget.
/// </summary>
public interface IPolicy : IDisposable
{
    /// <summary>A short name for logs and the live page.</summary>
    string Name { get; }

    /// <summary>The command mode every action of this policy uses.</summary>
    ArmCommandMode Mode { get; }

    /// <summary>Length of the embedding the policy expects (0 when it does not use vision).</summary>
    int EmbeddingSize { get; }

    /// <summary>Why the last call returned <see cref="PolicyStatus.Failed"/> or <see cref="PolicyStatus.NoAction"/>.</summary>
    string LastError { get; }

    /// <summary>Starts a new episode: clears warm starts, frame stacks and other per-episode memory.</summary>
    void Reset();

    /// <summary>Decides this cycle's command and writes it to <paramref name="command"/>.</summary>
    PolicyStatus Act(PolicyObservation observation, ref ArmCommand command);
}
