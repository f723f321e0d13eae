using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using RobotRuntime.Datasets;
using RobotRuntime.Environments;
using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Collection;

/// <summary>What <c>rr collect</c> collects.</summary>
/// <param name="Episodes">Episodes the dataset should hold when done (a resumed run collects only the missing ones).</param>
/// <param name="Tasks">Tasks, taken in turn: episode i is on Tasks[i mod count].</param>
/// <param name="ImageSize">Side of both cameras' square images in pixels.</param>
/// <param name="Seed">Seeds every episode (initial state, goal, randomisation, policy noise).</param>
/// <param name="Workers">Simulator threads, each with its own environments (at least 1).</param>
/// <param name="ScriptedShare">Share of episodes acted by the task's scripted controller with noise; the rest by smoothed random play.</param>
/// <param name="RandomisedShare">Share of episodes with the visual randomisation; the rest show the default scene.</param>
public sealed record CollectOptions(
    int Episodes,
    IReadOnlyList<string> Tasks,
    int ImageSize = 64,
    int Seed = 1,
    int Workers = 2,
    double ScriptedShare = 0.5,
    double RandomisedShare = 0.75)
{
    /// <summary>Checks every field; throws naming the first bad one.</summary>
    public void Validate()
    {
        if (Episodes is < 1 or > 9_999_999)
            throw new ArgumentException($"episodes must be 1..9,999,999, got {Episodes}");
        if (Tasks.Count == 0)
            throw new ArgumentException($"no tasks; expected some of {string.Join(", ", TabletopTask.Names)}");
        foreach (var task in Tasks)
        {
            if (!TabletopTask.Names.Contains(task))
                throw new ArgumentException($"unknown task '{task}'; expected some of {string.Join(", ", TabletopTask.Names)}");
        }
        if (Tasks.Distinct().Count() != Tasks.Count)
            throw new ArgumentException($"a task is listed twice in {string.Join(",", Tasks)}");
        if (ImageSize is < 16 or > 256)
            throw new ArgumentException($"image size must be 16..256 pixels, got {ImageSize}");
        if (Seed is < 0 or > 99)
            throw new ArgumentException($"seed must be 0..99 (collection seeds are laid out so they never meet training or evaluation seeds), got {Seed}");
        if (Workers is < 1 or > 64)
            throw new ArgumentException($"workers must be 1..64, got {Workers}");
        if (ScriptedShare is < 0 or > 1 || double.IsNaN(ScriptedShare))
            throw new ArgumentException($"scripted share must be in [0, 1], got {ScriptedShare}");
        if (RandomisedShare is < 0 or > 1 || double.IsNaN(RandomisedShare))
            throw new ArgumentException($"randomised share must be in [0, 1], got {RandomisedShare}");
    }

    /// <summary>The episode seed of episode <paramref name="index"/>: 100,000,000 + seed × 10,000,000 + index, above every training (episode counter) and evaluation (1,000,000 + k) seed.</summary>
    public int EpisodeSeed(int index) => 100_000_000 + Seed * 10_000_000 + index;
}

/// <summary>Progress of a collection run.</summary>
/// <param name="Episodes">Episodes in the dataset.</param>
/// <param name="Frames">Frames in the dataset.</param>
/// <param name="CollectedThisRun">Frames collected by this run.</param>
/// <param name="Seconds">Seconds this run has taken.</param>
public readonly record struct CollectProgress(int Episodes, long Frames, long CollectedThisRun, double Seconds);

/// <summary>
/// Collects episodes of the tabletop tasks into an <see cref="EpisodeDataset"/>: both cameras,
/// the arm's proprioception, the actions, rewards and flags, and the environment state (tip, goal
/// and object positions) that representation probes regress onto. Episode i's task, policy,
/// visuals and seed are fixed by i and the options, so a killed run started again continues
/// where the dataset ends and produces the same episodes it would have.
/// </summary>
public static class DatasetCollector
{
    /// <summary>Names of the environment-state values: tip, goal and object positions (NaN where a task has none).</summary>
    public static readonly string[] EnvironmentStateNames =
    [
        "tip x (m)", "tip y (m)", "tip z (m)", "goal x (m)", "goal y (m)", "goal z (m)", "object x (m)", "object y (m)", "object z (m)",
    ];

    /// <summary>The dataset layout for <paramref name="options"/>.</summary>
    public static DatasetLayout Layout(CollectOptions options)
    {
        using var probe = new TabletopEnvironment(new TabletopEnvironmentOptions(options.Tasks[0], ImageWidth: 1, ImageHeight: 1, RenderImages: false));
        var spec = probe.Spec;
        return new DatasetLayout("robotruntime-tabletop-4dof", 1 / spec.ControlPeriodSeconds, spec.CameraNames, options.ImageSize, options.ImageSize,
            spec.ProprioceptionNames, spec.Action.Names, EnvironmentStateNames, options.Tasks);
    }

    /// <summary>
    /// Collects into <paramref name="folder"/> until it holds <see cref="CollectOptions.Episodes"/>
    /// episodes; <paramref name="progress"/> is called after each episode is stored (from the writer thread).
    /// </summary>
    /// <returns>The dataset.</returns>
    public static EpisodeDataset Collect(string folder, CollectOptions options, Action<CollectProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var layout = Layout(options);
        var dataset = EpisodeDataset.OpenOrCreate(folder, layout);
        var first = dataset.Episodes.Count;
        if (first >= options.Episodes)
            return dataset;
        var next = first - 1;
        var completed = new BlockingCollection<Episode>(boundedCapacity: 4 * options.Workers);
        var failures = new ConcurrentQueue<Exception>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var workers = Enumerable.Range(0, options.Workers).Select(_ => new Thread(() =>
        {
            try
            {
                var environments = new Dictionary<string, TabletopEnvironment>();
                try
                {
                    while (!stop.IsCancellationRequested)
                    {
                        var index = Interlocked.Increment(ref next);
                        if (index >= options.Episodes)
                            break;
                        var task = options.Tasks[index % options.Tasks.Count];
                        if (!environments.TryGetValue(task, out var environment))
                        {
                            environment = new TabletopEnvironment(new TabletopEnvironmentOptions(task, ImageWidth: options.ImageSize, ImageHeight: options.ImageSize));
                            environments[task] = environment;
                        }
                        completed.Add(Run(environment, layout, options, index), stop.Token);
                    }
                }
                finally
                {
                    foreach (var environment in environments.Values)
                        environment.Dispose();
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception error)
            {
                failures.Enqueue(error);
                stop.Cancel();
            }
        }) { IsBackground = true, Name = "rr collect" }).ToArray();
        foreach (var worker in workers)
            worker.Start();
        var finisher = new Thread(() =>
        {
            foreach (var worker in workers)
                worker.Join();
            completed.CompleteAdding();
        }) { IsBackground = true };
        finisher.Start();

        // Episodes finish out of order; they are stored in index order.
        var waiting = new Dictionary<int, Episode>();
        var clock = Stopwatch.StartNew();
        long collected = 0;
        try
        {
            foreach (var episode in completed.GetConsumingEnumerable(stop.Token))
            {
                waiting[episode.Index] = episode;
                while (waiting.Remove(dataset.Episodes.Count, out var ready))
                {
                    dataset.Append(ready);
                    collected += ready.Length;
                    progress?.Invoke(new CollectProgress(dataset.Episodes.Count, dataset.TotalFrames, collected, clock.Elapsed.TotalSeconds));
                }
            }
        }
        catch (OperationCanceledException) when (!failures.IsEmpty || cancellation.IsCancellationRequested)
        {
        }
        finally
        {
            // Also when storing an episode failed (a full disk): the workers must not stay blocked.
            stop.Cancel();
            finisher.Join();
        }
        if (failures.TryDequeue(out var failure))
            throw new InvalidOperationException($"collecting episode data failed: {failure.Message}", failure);
        cancellation.ThrowIfCancellationRequested();
        return dataset;
    }

    /// <summary>Runs episode <paramref name="index"/> on <paramref name="environment"/> (whose task must be the episode's).</summary>
    public static Episode Run(TabletopEnvironment environment, DatasetLayout layout, CollectOptions options, int index)
    {
        var seed = options.EpisodeSeed(index);
        var choice = new Random(seed ^ 0x5eed);
        var scripted = choice.NextDouble() < options.ScriptedShare;
        var randomised = choice.NextDouble() < options.RandomisedShare;
        environment.RandomiseVisuals = randomised;
        var observation = environment.Reset(seed);
        var episode = new Episode(layout, index, environment.Task.Name);
        episode.Extra["policy"] = scripted ? "scripted-noisy" : "random-walk";
        episode.Extra["visuals"] = randomised ? CollectionRandomisation.Name : VisualShifts.InDistribution;
        episode.Extra["seed"] = seed.ToString(CultureInfo.InvariantCulture);
        var action = new float[environment.Spec.Action.Dimension];
        var walk = new float[action.Length];
        var noise = (float)(0.1 + 0.4 * choice.NextDouble());
        var environmentState = new float[EnvironmentStateNames.Length];
        var images = new byte[layout.Cameras.Count][];
        while (true)
        {
            if (scripted)
            {
                ScriptedController.Act(environment, action);
                for (var i = 0; i < action.Length; i++)
                    action[i] = Math.Clamp(action[i] + noise * Normal(choice), -1f, 1f);
            }
            else
            {
                // Smoothed random play: an AR(1) walk that wanders the workspace instead of jittering in place.
                for (var i = 0; i < action.Length; i++)
                    walk[i] = action[i] = Math.Clamp(0.8f * walk[i] + 0.45f * Normal(choice), -1f, 1f);
            }
            for (var c = 0; c < images.Length; c++)
                images[c] = observation.Cameras[c].Rgb.ToArray(); // the step overwrites the observation's buffers
            WriteEnvironmentState(environment, environmentState);
            var proprioception = observation.Proprioception.ToArray();
            var result = environment.Step(action);
            episode.Add(images, proprioception, action, environmentState, (float)result.Reward, result.Done, result.Info.IsSuccess);
            observation = result.Observation;
            if (result.Done)
                return episode;
        }
    }

    /// <summary>Writes tip, goal and object positions (NaN for what the task does not have).</summary>
    public static void WriteEnvironmentState(TabletopEnvironment environment, Span<float> state)
    {
        var scene = environment.Scene;
        var (tx, ty, tz) = scene.Tip;
        state.Fill(float.NaN);
        state[0] = (float)tx;
        state[1] = (float)ty;
        state[2] = (float)tz;
        switch (environment.Task)
        {
            case ReachTask reach:
                var (gx, gy, gz) = reach.Target(scene);
                (state[3], state[4], state[5]) = ((float)gx, (float)gy, (float)gz);
                break;
            case PushTask push:
                var (px, py) = push.Goal(scene);
                (state[3], state[4], state[5]) = ((float)px, (float)py, 0f);
                var (ox, oy, oz) = push.Puck(scene);
                (state[6], state[7], state[8]) = ((float)ox, (float)oy, (float)oz);
                break;
            case PeekTask peek:
                var (kx, ky) = peek.Pad(scene);
                (state[3], state[4], state[5]) = ((float)kx, (float)ky, 0f);
                break;
            case PickPlaceTask pick:
                var (mx, my, mz) = pick.Goal(scene);
                (state[3], state[4], state[5]) = ((float)mx, (float)my, (float)mz);
                var (cx, cy, cz) = pick.Cube(scene);
                (state[6], state[7], state[8]) = ((float)cx, (float)cy, (float)cz);
                break;
        }
    }

    private static float Normal(Random random)
    {
        var u = 1 - random.NextDouble();
        return (float)(Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * random.NextDouble()));
    }
}
