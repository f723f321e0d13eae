using System.CommandLine;
using RobotRuntime.Agents;
using RobotRuntime.Agents.Replay;
using RobotRuntime.Agents.Training;
using RobotRuntime.Native;
using RobotRuntime.Sim;
using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;
using RobotRuntime.Tensors;
using Spectre.Console;

namespace RobotRuntime.Cli.AgentCommands;

/// <summary><c>rr train</c>: online TD-MPC2 training in the simulator into a run folder (resumes when the folder has a checkpoint).</summary>
public static class TrainCommand
{
    /// <summary>Builds the <c>train</c> verb.</summary>
    public static Command Create()
    {
        var task = new Option<string>("--task") { Description = $"Task: {string.Join(", ", TabletopTask.Names)}.", DefaultValueFactory = _ => "reach" };
        var arm = new Option<string>("--arm") { Description = $"The simulated arm: {string.Join(", ", SimArm.Names)} (ur5e: 6 joints, end-effector actions through the runtime's inverse kinematics).", DefaultValueFactory = _ => "toy4" };
        var encoder = new Option<string>("--encoder") { Description = "PVR zoo id (frozen mode) or scratch.", DefaultValueFactory = _ => "scratch" };
        var mode = new Option<string>("--mode") { Description = "Encoder mode: scratch, frozen, partial, full.", DefaultValueFactory = _ => "scratch" };
        var seed = new Option<int>("--seed") { Description = "Run seed.", DefaultValueFactory = _ => 1 };
        var steps = new Option<long>("--steps") { Description = "Environment steps.", DefaultValueFactory = _ => 20_000 };
        var run = new Option<string>("--run") { Description = "Run folder (metrics, curves, checkpoint, replay). Resumes if it holds a checkpoint.", Required = true };
        var size = new Option<string>("--size") { Description = $"Agent size preset: {string.Join(", ", AgentConfig.PresetNames)}.", DefaultValueFactory = _ => "rt-small" };
        var config = new Option<string?>("--config") { Description = "Agent config JSON: keys override the preset (unknown keys are rejected)." };
        var zoo = new Option<string?>("--zoo") { Description = "PVR zoo manifest (default models/pvr-zoo.json)." };
        var seedSteps = new Option<int>("--seed-steps") { Description = "Random-action steps before planning (0: TD-MPC2's max(1000, 5 × episode length)).", DefaultValueFactory = _ => 0 };
        var pretrain = new Option<int>("--pretrain-updates") { Description = "Updates after the seed steps (-1: as many as seed steps).", DefaultValueFactory = _ => -1 };
        var updates = new Option<double>("--updates-per-step") { Description = "Updates per environment step.", DefaultValueFactory = _ => 1.0 };
        var batch = new Option<int>("--batch-size") { Description = "Batch size (0: the config's).", DefaultValueFactory = _ => 0 };
        var evalEvery = new Option<long>("--eval-every") { Description = "Steps between evaluations.", DefaultValueFactory = _ => 2000 };
        var evalEpisodes = new Option<int>("--eval-episodes") { Description = "Episodes per evaluation.", DefaultValueFactory = _ => 10 };
        var checkpointEvery = new Option<long>("--checkpoint-every") { Description = "Steps between checkpoints.", DefaultValueFactory = _ => 2000 };
        var act = new Option<string>("--act") { Description = "Acting while training: mppi or prior.", DefaultValueFactory = _ => "mppi" };
        var planSamples = new Option<int>("--plan-samples") { Description = "MPPI samples while training (0: the config's).", DefaultValueFactory = _ => 0 };
        var planIterations = new Option<int>("--plan-iterations") { Description = "MPPI iterations while training (0: the config's).", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "Engine threads (1 is bit-reproducible).", DefaultValueFactory = _ => 1 };
        var trainableFrom = new Option<string?>("--trainable-from") { Description = "Partial mode: where the PVR splits into the frozen trunk and the trained tail, a node-name prefix (e.g. /layer2/) or a value name (default: the zoo entry's trainableFrom)." };
        var latency = new Option<string>("--latency") { Description = "Loop delays to train under, as a deployment has them: CAMERA[,COMMAND], each a duration or range in ms (e.g. 0..40ms,0..8ms), drawn per episode (training and its evaluations): the image is that old when the agent decides, and the arm follows the previous command that long after. none: the simulator's undelayed step.", DefaultValueFactory = _ => "none" };
        var trainShifts = new Option<string>("--train-shifts") { Description = $"Visual shift families randomised in training, comma-separated ({string.Join(", ", VisualShifts.FamilyNames)}), or none: each training episode (not the evaluations) runs under a preset drawn uniformly among in-distribution and those families' easy and hard presets, from the run seed and the episode index.", DefaultValueFactory = _ => "none" };
        var noProgress = new Option<bool>("--no-progress") { Description = "Print a line per evaluation instead of a progress bar." };
        var fromDataset = new Option<string?>("--from-dataset") { Description = "Offline adaptation: fine-tune --package on these recorded datasets (comma-separated folders: rr eval --record, rr run --record, rr collect) instead of training in the simulator." };
        var parentPackage = new Option<string?>("--package") { Description = "With --from-dataset: the agent package to adapt (its weights, config, arm layout and PVR)." };
        var offlineUpdates = new Option<long>("--updates") { Description = "With --from-dataset: TD-MPC2 updates to make.", DefaultValueFactory = _ => 2000 };
        var reward = new Option<string>("--reward") { Description = "With --from-dataset: rewards from the dataset's reward column (dataset), the task's reward function on its environment state (task), or 1 on success frames (success); auto: dataset if recorded, else task, else success.", DefaultValueFactory = _ => "auto" };
        var trainable = new Option<string>("--trainable") { Description = "With --from-dataset: all (the encoder, dynamics, reward, Qs and policy) or encoder (the encoder alone; the parent's heads and policy stay as they are).", DefaultValueFactory = _ => "all" };
        var warmup = new Option<int>("--warmup-updates") { Description = "With --from-dataset: updates over which the learning rates ramp up linearly (0: none).", DefaultValueFactory = _ => 500 };
        var lrScale = new Option<float>("--lr-scale") { Description = "With --from-dataset: factor on the package's learning rates.", DefaultValueFactory = _ => 1f };
        var packageOut = new Option<string?>("--package-out") { Description = "With --from-dataset: write the adapted agent package here when the updates are done (or later: rr eval RUN --package DIR)." };

        var device = new Runtime.DeviceOption();
        var verb = new Command("train", "Train a TD-MPC2-style world-model agent in the simulator.")
        {
            task, arm, encoder, mode, seed, steps, run, size, config, zoo, seedSteps, pretrain, updates, batch, evalEvery, evalEpisodes,
            checkpointEvery, act, planSamples, planIterations, threads, trainableFrom, latency, trainShifts, noProgress, fromDataset, parentPackage, offlineUpdates, reward, trainable, warmup, lrScale, packageOut,
        };
        foreach (var option in device.All)
            verb.Options.Add(option);
        verb.SetAction(result =>
        {
            var error = result.InvocationConfiguration.Error;
            var output = result.InvocationConfiguration.Output;
            try
            {
                if (result.GetValue(fromDataset) is { } datasets)
                {
                    if (result.GetResult(trainShifts) is { Implicit: false } && ParseTrainShifts(result.GetValue(trainShifts)!).Length > 0)
                    {
                        throw new ArgumentException("--train-shifts is for training in the simulator; offline adaptation trains on the recorded episodes as they are");
                    }
                    if (result.GetValue(threads) < 1)
                        throw new ArgumentException($"--threads: expected at least 1 engine thread, got {result.GetValue(threads)}");
                    if (!Enum.TryParse<AdaptationReward>(result.GetValue(reward), ignoreCase: true, out var rewardSource) || int.TryParse(result.GetValue(reward), out var numeric))
                        throw new ArgumentException($"--reward '{result.GetValue(reward)}' is not one of auto, dataset, task, success");
                    var parent = result.GetValue(parentPackage) ?? throw new ArgumentException("--from-dataset needs --package: the agent package to adapt");
                    if (result.GetValue(trainable) is not ("all" or "encoder"))
                        throw new ArgumentException($"--trainable '{result.GetValue(trainable)}' is not one of all, encoder");
                    TensorEngine.ThreadCount = result.GetValue(threads);
                    using var cancelAdapt = new CancellationTokenSource();
                    Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancelAdapt.Cancel(); };
                    return AdaptCommand.Run(new AdaptRequest
                    {
                        Datasets = datasets.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
                        Package = parent,
                        Run = result.GetValue(run)!,
                        PackageOut = result.GetValue(packageOut),
                        Updates = result.GetValue(offlineUpdates),
                        BatchSize = result.GetValue(batch),
                        Seed = result.GetValue(seed),
                        Reward = rewardSource,
                        EncoderOnly = result.GetValue(trainable) == "encoder",
                        WarmupUpdates = result.GetValue(warmup),
                        LearningRateScale = result.GetValue(lrScale),
                        // Online runs count steps between checkpoints; offline runs updates (default 500).
                        CheckpointEvery = result.GetResult(checkpointEvery) is { Implicit: false } ? result.GetValue(checkpointEvery) : 500,
                        Zoo = result.GetValue(zoo),
                        Device = device.Settings(result),
                        Progress = !result.GetValue(noProgress),
                        CommandLine = "rr " + string.Join(" ", result.Tokens.Select(t => t.Value)),
                    }, output, cancelAdapt.Token);
                }
                foreach (var offlineOnly in new Option[] { parentPackage, packageOut, offlineUpdates, reward, trainable, warmup, lrScale })
                {
                    if (result.GetResult(offlineOnly) is { Implicit: false })
                        throw new ArgumentException($"{offlineOnly.Name} is for offline adaptation: give --from-dataset too");
                }
                var agent = result.GetValue(config) is { } path
                    ? AgentConfig.FromJson(File.ReadAllText(path), path)
                    : AgentConfig.Preset(result.GetValue(size)!);
                if (!Enum.TryParse<EncoderMode>(result.GetValue(mode), ignoreCase: true, out var encoderMode))
                {
                    throw new ArgumentException($"--mode '{result.GetValue(mode)}' is not one of scratch, frozen, partial, full");
                }
                agent = agent with { Mode = encoderMode, Encoder = result.GetValue(encoder)! };
                if (result.GetValue(trainableFrom) is { } split)
                {
                    agent = agent with { TrainableFrom = split };
                }
                if (result.GetValue(batch) < 0)
                {
                    throw new ArgumentException($"--batch-size: expected 0 (the config's) or a positive batch size, got {result.GetValue(batch)}");
                }
                if (result.GetValue(threads) < 1)
                {
                    throw new ArgumentException($"--threads: expected at least 1 engine thread, got {result.GetValue(threads)}");
                }
                if (result.GetValue(batch) > 0)
                {
                    agent = agent with { BatchSize = result.GetValue(batch) };
                }
                agent.Validate();
                string actWith = result.GetValue(act)!;
                if (actWith is not ("mppi" or "prior"))
                {
                    throw new ArgumentException($"--act '{actWith}' is not one of mppi, prior");
                }
                long stepCount = result.GetValue(steps);
                var delays = RobotRuntime.Sim.Tabletop.ControlLatency.Parse(result.GetValue(latency)!, "--latency");
                var options = new TrainerOptions
                {
                    Task = result.GetValue(task)!,
                    Arm = result.GetValue(arm)!,
                    Latency = delays.Describe(),
                    Seed = result.GetValue(seed),
                    Steps = stepCount,
                    SeedSteps = result.GetValue(seedSteps),
                    PretrainUpdates = result.GetValue(pretrain),
                    UpdatesPerStep = result.GetValue(updates),
                    EvalEvery = result.GetValue(evalEvery),
                    EvalEpisodes = result.GetValue(evalEpisodes),
                    CheckpointEvery = result.GetValue(checkpointEvery),
                    ReplayCapacity = ReplayCapacityFor(result.GetValue(run)!, stepCount),
                    PlanWhileTraining = actWith == "mppi",
                    PlanSamples = result.GetValue(planSamples),
                    PlanIterations = result.GetValue(planIterations),
                    TrainShifts = ParseTrainShifts(result.GetValue(trainShifts)!),
                }.Validate();
                TensorEngine.ThreadCount = result.GetValue(threads);
                (agent, var features, var identity, var tail) = AgentSetup.CreateFeatures(agent, result.GetValue(zoo), device.Settings(result));
                using var _ = features;
                SimArm.Get(options.Arm);
                using var environment = AgentSetup.CreateEnvironment(options.Task, agent, arm: options.Arm);
                environment.Latency = delays;
                using var trainer = new Trainer(result.GetValue(run)!, agent, options, environment, features, identity, tail);
                output.WriteLine($"rr train: {(trainer.Resumed ? $"resuming at step {trainer.Step}" : "new run")} · {options.Task} on {options.Arm} · {agent.Mode.ToString().ToLowerInvariant()} {agent.Encoder} · {agent.Size} ({trainer.Model.TrainableParameterCount():N0} parameters){(options.Latency == "none" ? "" : $" · loop delays {options.Latency}")} · replay {trainer.Replay.RecordBytes:N0} B/transition · seed steps {trainer.SeedSteps} · γ {trainer.Learner.Discount:F3}"
                    + (options.TrainShifts.Length > 0 ? $" · training under shifts {string.Join("+", options.TrainShifts)}" : ""));
                using var stop = new CancellationTokenSource();
                Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
                if (result.GetValue(noProgress) || Console.IsOutputRedirected)
                {
                    int evaluations = trainer.Evaluations.Count;
                    trainer.Run(p =>
                    {
                        if (trainer.Evaluations.Count != evaluations)
                        {
                            evaluations = trainer.Evaluations.Count;
                            var e = trainer.Evaluations[^1];
                            output.WriteLine($"step {e.Step} · {e.Seconds:F0} s · eval success {e.Success:P0} · return {e.Return:F1} · updates {p.Updates}");
                        }
                    }, cancel: stop.Token);
                }
                else
                {
                    AnsiConsole.Progress()
                        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                        .Start(context =>
                        {
                            var bar = context.AddTask("training", maxValue: stepCount);
                            bar.Value = trainer.Step;
                            trainer.Run(p =>
                            {
                                bar.Value = p.Step;
                                bar.Description = $"step {p.Step} · ep {p.Episode} · return {p.LastReturn:F1} · eval {p.LastEvalSuccess:P0} · loss {p.Losses.Total:F3}";
                            }, cancel: stop.Token);
                        });
                }
                output.WriteLine($"rr train: stopped at step {trainer.Step}; checkpoint and metrics in {Path.GetFullPath(result.GetValue(run)!)}");
                return 0;
            }
            catch (Exception failure) when (failure is ArgumentException or InvalidDataException or IOException or SimulatorException or NativeDependencyMissingException or InvalidOperationException or KeyNotFoundException or Onnx.ExecutionProviderUnavailableException or Onnx.OnnxModelException)
            {
                error.WriteLine($"rr train: {failure.Message}");
                return failure is ArgumentException or KeyNotFoundException ? 2 : 1;
            }
        });
        return verb;
    }
    /// <summary>
    /// The families of <c>--train-shifts</c>: "none" (or empty) is none; otherwise comma-separated family
    /// names, returned in the presets' family order without repeats, so a run's record does not depend on
    /// how they were written.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown family, or none mixed with families; the message lists the families.</exception>
    internal static string[] ParseTrainShifts(string text)
    {
        var names = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (names.Length == 0 || (names.Length == 1 && names[0] == "none"))
        {
            return [];
        }
        foreach (var name in names)
        {
            if (!VisualShifts.FamilyNames.Contains(name))
            {
                throw new ArgumentException($"--train-shifts: '{name}' is not a shift family; expected none or a comma-separated list of {string.Join(", ", VisualShifts.FamilyNames)}");
            }
        }
        return VisualShifts.FamilyNames.Where(names.Contains).ToArray();
    }

    /// <summary>
    /// Replay capacity for a run: a new run holds every step (plus 1% and 1,000 spare, at most a
    /// million); a resumed run keeps the capacity its buffer was made with, so <c>--steps</c> can be
    /// raised to extend a finished run (the ring then keeps the newest records).
    /// </summary>
    internal static long ReplayCapacityFor(string runFolder, long steps)
    {
        string replay = Path.Combine(runFolder, "replay.bin");
        if (File.Exists(Path.Combine(runFolder, Trainer.CheckpointFile)) && File.Exists(replay))
        {
            return ReplayBuffer.ReadCapacity(replay);
        }
        return Math.Min(1_000_000, steps + steps / 100 + 1000);
    }
}
