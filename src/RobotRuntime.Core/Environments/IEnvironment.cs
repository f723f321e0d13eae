namespace RobotRuntime.Environments;

/// <summary>
/// An episodic task the agent trains and is evaluated on: <see cref="Reset"/> starts an episode
/// from a seed, <see cref="Step"/> applies one action for one control period. The simulator
/// implements it; the agent learns through it without knowing what is behind it.
/// </summary>
/// <remarks>
/// Thread: an environment is used by one thread, the one that created it (a simulator's GL
/// context belongs to that thread); use <see cref="VectorEnvironment"/> to step several in
/// parallel. Ownership: the <see cref="Observation"/> returned by <see cref="Reset"/> and
/// <see cref="Step"/> belongs to the environment and is overwritten by the next call; copy it
/// with <see cref="Observation.Clone"/> to keep it.
/// </remarks>
public interface IEnvironment : IDisposable
{
    /// <summary>What the environment observes and accepts; fixed for its lifetime.</summary>
    EnvironmentSpec Spec { get; }

    /// <summary>Starts a new episode. The same seed gives the same initial state and images.</summary>
    /// <param name="seed">Seeds every random choice of the episode (initial state, goal, visual shift).</param>
    /// <returns>The first observation; valid until the next call.</returns>
    /// <remarks>Setup-rate call: may allocate the first time; never called in a real-time loop.</remarks>
    Observation Reset(int seed);

    /// <summary>Applies <paramref name="action"/> for one control period (<see cref="EnvironmentSpec.ControlPeriodSeconds"/>).</summary>
    /// <param name="action"><see cref="ActionSpace.Dimension"/> values in [-1, 1]; values outside are clipped.</param>
    /// <returns>Observation after the period, the reward for it and whether the episode ended.</returns>
    /// <exception cref="InvalidOperationException">Called before <see cref="Reset"/> or after the episode ended.</exception>
    /// <exception cref="ArgumentException">The action has the wrong length or holds NaN.</exception>
    /// <remarks>Real-time: no managed allocation in steady state; does block for the physics and
    /// rendering of one period.</remarks>
    StepResult Step(ReadOnlySpan<float> action);
}

/// <summary>The outcome of one <see cref="IEnvironment.Step"/>.</summary>
/// <param name="Observation">Observation after the step; owned by the environment, valid until its next call.</param>
/// <param name="Reward">Dense reward for the step (task-defined, dimensionless).</param>
/// <param name="Terminated">The episode ended because of the task (success).</param>
/// <param name="Truncated">The episode ended because the time limit was reached.</param>
/// <param name="Info">Task facts that are not part of the observation.</param>
public readonly record struct StepResult(Observation Observation, double Reward, bool Terminated, bool Truncated, StepInfo Info)
{
    /// <summary>True if either <see cref="Terminated"/> or <see cref="Truncated"/>.</summary>
    public bool Done => Terminated || Truncated;
}

/// <summary>Facts about a step that the agent must not observe but evaluation needs.</summary>
/// <param name="IsSuccess">The task's success condition holds after this step.</param>
/// <param name="GoalDistance">The task's distance to success in metres (end effector to target, or object to goal).</param>
/// <param name="EpisodeStep">Steps taken since the last reset, counting this one.</param>
public readonly record struct StepInfo(bool IsSuccess, double GoalDistance, int EpisodeStep);

/// <summary>
/// An environment whose visual shift preset can be changed between episodes (the simulator's
/// presets: "in-distribution", "table-easy", "table-hard", …). Training with visual randomisation
/// (<c>rr train --train-shifts</c>) picks one per episode through it.
/// </summary>
public interface IVisualShiftEnvironment : IEnvironment
{
    /// <summary>The preset the next <see cref="IEnvironment.Reset"/> applies.</summary>
    /// <exception cref="ArgumentException">An unknown preset name; the message lists the presets.</exception>
    /// <remarks>Setup-rate: takes effect at the next reset.</remarks>
    string Shift { get; set; }
}
