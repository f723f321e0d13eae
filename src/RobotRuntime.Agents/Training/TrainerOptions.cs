namespace RobotRuntime.Agents.Training;

/// <summary>How a training run proceeds (the agent itself is described by <see cref="AgentConfig"/>).</summary>
public sealed record TrainerOptions
{
    /// <summary>Task name (recorded; the environment factory makes the environment).</summary>
    public string Task { get; init; } = "reach";

    /// <summary>Run seed: model initialisation, episode seeds, every random draw.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Environment steps to train for.</summary>
    public long Steps { get; init; } = 10_000;

    /// <summary>Steps of uniformly random actions before planning starts; 0 means TD-MPC2's max(1000, 5 × episode length).</summary>
    public int SeedSteps { get; init; }

    /// <summary>Updates made once the seed steps are done (TD-MPC2 makes as many as seed steps); −1 means equal to the seed steps.</summary>
    public int PretrainUpdates { get; init; } = -1;

    /// <summary>Updates per environment step after the seed steps (fractions accumulate: 0.5 is one update every two steps).</summary>
    public double UpdatesPerStep { get; init; } = 1.0;

    /// <summary>Environment steps between evaluations (at the next episode boundary).</summary>
    public long EvalEvery { get; init; } = 2_000;

    /// <summary>Episodes per evaluation.</summary>
    public int EvalEpisodes { get; init; } = 10;

    /// <summary>Environment steps between checkpoints (at the next episode boundary).</summary>
    public long CheckpointEvery { get; init; } = 2_000;

    /// <summary>Replay capacity in transitions.</summary>
    public long ReplayCapacity { get; init; } = 1_000_000;

    /// <summary>Act with the MPPI planner (true) or the policy prior (false) after the seed steps.</summary>
    public bool PlanWhileTraining { get; init; } = true;

    /// <summary>Planner samples while training and evaluating (0 = the config's).</summary>
    public int PlanSamples { get; init; }

    /// <summary>Planner iterations while training and evaluating (0 = the config's).</summary>
    public int PlanIterations { get; init; }
}
