namespace RobotRuntime.Policies;

/// <summary>
/// A policy that decides in a normalised action space of its own before translating to the arm's
/// command: a learned agent's action in [−1, 1] per value, in its arm layout's order (e.g. dx, dy, dz,
/// gripper). A recording keeps it next to the command the arm was told, because the command (joint
/// positions from inverse kinematics, a clipped step) cannot be turned back into the action the agent
/// learns from.
/// </summary>
/// <remarks>
/// Optional: the loop asks a policy for it with a type test at construction. The loop's thread reads
/// <see cref="LastAction"/> right after <see cref="IPolicy.Act"/> returned Ok or BudgetExhausted.
/// </remarks>
public interface INormalisedActionSource
{
    /// <summary>One name per value of <see cref="LastAction"/>, e.g. "dx", "dy", "dz", "gripper".</summary>
    /// <remarks>Setup only; fixed for the policy's lifetime.</remarks>
    IReadOnlyList<string> NormalisedActionNames { get; }

    /// <summary>
    /// The action the last <see cref="IPolicy.Act"/> decided, normalised to [−1, 1], <see cref="NormalisedActionNames"/>
    /// values. Owned by the policy and overwritten by its next <see cref="IPolicy.Act"/>; its length never changes.
    /// </summary>
    /// <remarks>Real-time: no allocation, no blocking, no throw.</remarks>
    ReadOnlySpan<float> LastAction { get; }
}
