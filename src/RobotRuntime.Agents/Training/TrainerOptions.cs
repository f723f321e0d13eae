namespace RobotRuntime.Agents.Training;

/// <summary>How a training run proceeds (the agent itself is described by <see cref="AgentConfig"/>).</summary>
public sealed record TrainerOptions
{
    /// <summary>Task name (recorded; the environment factory makes the environment).</summary>
    public string Task { get; init; } = "reach";

    /// <summary>The simulated arm (recorded; the environment factory makes it): "toy4" or "ur5e".</summary>
    public string Arm { get; init; } = "toy4";

    /// <summary>
    /// The loop delays the environment simulates while training, in <c>rr train --latency</c>'s form
    /// (camera[,command] milliseconds or ranges, drawn per episode; "none" for the undelayed step).
    /// Recorded; the environment factory applies it.
    /// </summary>
    public string Latency { get; init; } = "none";

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

    /// <summary>
    /// Visual shift families randomised in training (e.g. "table", "lighting"; empty: none): each training
    /// episode, not the evaluations, runs under a preset drawn by <see cref="Trainer.TrainingShift"/> —
    /// uniformly among "in-distribution" and every listed family's "-easy" and "-hard" preset. The
    /// environment must implement <see cref="RobotRuntime.Environments.IVisualShiftEnvironment"/>.
    /// </summary>
    public string[] TrainShifts { get; init; } = [];

    /// <summary>Checks every option's range.</summary>
    /// <returns>This instance.</returns>
    /// <exception cref="ArgumentException">An option is out of range; the message names it (with <c>rr train</c>'s option) and what was expected.</exception>
    public TrainerOptions Validate()
    {
        static void Require(bool ok, string name, string option, string expected, object value)
        {
            if (!ok)
                throw new ArgumentException($"{option} ({name}): expected {expected}, got {value}");
        }
        Require(!string.IsNullOrWhiteSpace(Task), nameof(Task), "--task", "a task name", $"'{Task}'");
        Require(!string.IsNullOrWhiteSpace(Arm), nameof(Arm), "--arm", "an arm name", $"'{Arm}'");
        Require(Steps >= 1, nameof(Steps), "--steps", "at least 1 environment step", Steps);
        Require(SeedSteps >= 0, nameof(SeedSteps), "--seed-steps", "0 (TD-MPC2's default) or more", SeedSteps);
        Require(PretrainUpdates >= -1, nameof(PretrainUpdates), "--pretrain-updates", "-1 (as many as seed steps), 0 or more", PretrainUpdates);
        Require(double.IsFinite(UpdatesPerStep) && UpdatesPerStep >= 0, nameof(UpdatesPerStep), "--updates-per-step", "a finite number ≥ 0", UpdatesPerStep);
        Require(EvalEvery >= 1, nameof(EvalEvery), "--eval-every", "at least 1 step between evaluations", EvalEvery);
        Require(EvalEpisodes >= 1, nameof(EvalEpisodes), "--eval-episodes", "at least 1 episode per evaluation", EvalEpisodes);
        Require(CheckpointEvery >= 1, nameof(CheckpointEvery), "--checkpoint-every", "at least 1 step between checkpoints", CheckpointEvery);
        Require(ReplayCapacity >= 1, nameof(ReplayCapacity), "replay capacity", "at least 1 transition", ReplayCapacity);
        Require(PlanSamples >= 0, nameof(PlanSamples), "--plan-samples", "0 (the config's) or more", PlanSamples);
        Require(PlanIterations >= 0, nameof(PlanIterations), "--plan-iterations", "0 (the config's) or more", PlanIterations);
        Require(TrainShifts.All(f => !string.IsNullOrWhiteSpace(f) && f != "none") && TrainShifts.Distinct().Count() == TrainShifts.Length,
            nameof(TrainShifts), "--train-shifts", "distinct shift family names", $"'{string.Join(",", TrainShifts)}'");
        return this;
    }
}
