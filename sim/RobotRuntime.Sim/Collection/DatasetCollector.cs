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
        return Layout(probe.Spec, probe.Arm.RobotType, probe.Spec.CameraNames, options.ImageSize, options.Tasks);
    }

    /// <summary>
    /// The dataset layout of episodes on an environment of <paramref name="spec"/>: the named cameras at
    /// <paramref name="imageSize"/>, the environment's proprioception as "observation.state", its
    /// normalised action as "action", and the environment state (<see cref="EnvironmentStateNames"/>).
    /// </summary>
    /// <param name="spec">The environment's spec (fps, proprioception and action names).</param>
    /// <param name="robotType">The robot type recorded (e.g. <see cref="SimArm.RobotType"/>).</param>
    /// <param name="cameras">The cameras kept, a subset of the spec's.</param>
    /// <param name="imageSize">Side of the square images.</param>
    /// <param name="tasks">The task names episodes are labelled with.</param>
    /// <exception cref="ArgumentException">A camera the environment does not have.</exception>
    public static DatasetLayout Layout(EnvironmentSpec spec, string robotType, IReadOnlyList<string> cameras, int imageSize, IReadOnlyList<string> tasks)
    {
        foreach (var camera in cameras)
        {
            if (!spec.CameraNames.Contains(camera))
                throw new ArgumentException($"camera '{camera}' is not one of the environment's ({string.Join(", ", spec.CameraNames)})", nameof(cameras));
        }
        return new DatasetLayout(robotType, 1 / spec.ControlPeriodSeconds, [.. cameras], imageSize, imageSize,
            spec.ProprioceptionNames, spec.Action.Names, EnvironmentStateNames, tasks);
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
        var capture = new EpisodeCapture(environment, layout);
        var episode = capture.Begin(index);
        episode.Extra["policy"] = scripted ? "scripted-noisy" : "random-walk";
        episode.Extra["visuals"] = randomised ? CollectionRandomisation.Name : VisualShifts.InDistribution;
        episode.Extra["seed"] = seed.ToString(CultureInfo.InvariantCulture);
        var action = new float[environment.Spec.Action.Dimension];
        var walk = new float[action.Length];
        var noise = (float)(0.1 + 0.4 * choice.NextDouble());
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
            capture.Before(observation, action);
            var result = environment.Step(action);
            capture.After(in result);
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

/// <summary>
/// Turns the steps of episodes on a <see cref="TabletopEnvironment"/> into <see cref="Episode"/>s of a
/// dataset (<see cref="DatasetCollector.Layout(EnvironmentSpec, string, IReadOnlyList{string}, int, IReadOnlyList{string})"/>):
/// before each step, the layout's cameras, the proprioception, the environment state and the action;
/// after it, the reward, done and success that followed. <c>rr collect</c> records its episodes with it,
/// and <c>rr eval --record</c> the agent's.
/// </summary>
/// <remarks>The environment's thread; the buffers are allocated once and <see cref="Episode.Add(IReadOnlyList{byte[]}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, float, bool, bool)"/> copies them.</remarks>
public sealed class EpisodeCapture
{
    private readonly TabletopEnvironment _environment;
    private readonly DatasetLayout _layout;
    private readonly string[] _cameras;
    private readonly byte[][] _images;
    private readonly float[] _proprioception, _environmentState, _action;
    private Episode? _episode;
    private bool _pending;

    /// <summary>Captures episodes of <paramref name="environment"/> into frames of <paramref name="layout"/>.</summary>
    /// <exception cref="ArgumentException">The layout does not describe this environment (cameras, image size, state, action, environment state); the message names the field.</exception>
    public EpisodeCapture(TabletopEnvironment environment, DatasetLayout layout)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(layout);
        var spec = environment.Spec;
        foreach (var camera in layout.Cameras)
        {
            if (!spec.CameraNames.Contains(camera))
                throw new ArgumentException($"dataset camera '{camera}' is not one of the environment's ({string.Join(", ", spec.CameraNames)})", nameof(layout));
        }
        if (layout.ImageWidth != spec.ImageWidth || layout.ImageHeight != spec.ImageHeight)
            throw new ArgumentException($"dataset image size {layout.ImageWidth}x{layout.ImageHeight}; the environment renders {spec.ImageWidth}x{spec.ImageHeight}", nameof(layout));
        if (layout.StateNames.Count != spec.ProprioceptionNames.Count)
            throw new ArgumentException($"dataset observation.state has {layout.StateNames.Count} values; the environment's proprioception {spec.ProprioceptionNames.Count}", nameof(layout));
        if (layout.ActionNames.Count != spec.Action.Dimension)
            throw new ArgumentException($"dataset action has {layout.ActionNames.Count} values; the environment's {spec.Action.Dimension}", nameof(layout));
        if (layout.EnvironmentStateNames.Count != DatasetCollector.EnvironmentStateNames.Length)
            throw new ArgumentException($"dataset observation.environment_state has {layout.EnvironmentStateNames.Count} values; a tabletop episode keeps {DatasetCollector.EnvironmentStateNames.Length}", nameof(layout));
        _environment = environment;
        _layout = layout;
        _cameras = [.. layout.Cameras];
        _images = layout.Cameras.Select(_ => new byte[layout.ImageBytes]).ToArray();
        _proprioception = new float[layout.StateNames.Count];
        _environmentState = new float[layout.EnvironmentStateNames.Count];
        _action = new float[layout.ActionNames.Count];
    }

    /// <summary>Starts episode <paramref name="index"/> on the environment's task (after its reset); returns it, for its <see cref="Episode.Extra"/> facts.</summary>
    public Episode Begin(int index)
    {
        _episode = new Episode(_layout, index, _environment.Task.Name);
        _pending = false;
        return _episode;
    }

    /// <summary>The episode being captured (null before <see cref="Begin"/>).</summary>
    public Episode? Episode => _episode;

    /// <summary>Keeps the frame the action is taken from: call with the observation and action just before the environment steps.</summary>
    /// <exception cref="InvalidOperationException">No episode begun, or the last frame is still waiting for its <see cref="After"/>.</exception>
    public void Before(Observation observation, ReadOnlySpan<float> action)
    {
        if (_episode is null || _pending)
            throw new InvalidOperationException(_episode is null ? "Begin an episode first" : "the previous frame has not had its After");
        for (var c = 0; c < _cameras.Length; c++)
            observation.Camera(_cameras[c]).Rgb.AsSpan(0, _layout.ImageBytes).CopyTo(_images[c]); // the step overwrites the observation's buffers
        DatasetCollector.WriteEnvironmentState(_environment, _environmentState);
        observation.Proprioception.AsSpan(0, _proprioception.Length).CopyTo(_proprioception);
        action.CopyTo(_action);
        _pending = true;
    }

    /// <summary>Adds the frame kept by <see cref="Before"/> with the reward, done and success of the step that followed.</summary>
    /// <exception cref="InvalidOperationException">No frame is waiting.</exception>
    public void After(in StepResult result)
    {
        if (_episode is null || !_pending)
            throw new InvalidOperationException("After needs a frame kept by Before");
        _episode.Add(_images, _proprioception, _action, _environmentState, (float)result.Reward, result.Done, result.Info.IsSuccess);
        _pending = false;
    }
}
