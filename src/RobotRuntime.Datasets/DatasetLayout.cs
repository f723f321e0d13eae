namespace RobotRuntime.Datasets;

/// <summary>
/// What every frame of a dataset holds: the cameras (same size, RGB), the robot's state vector,
/// the action, and an optional environment-state vector (privileged facts such as object positions
/// that a simulator knows and a real robot may not), plus the task names episodes are labelled with.
/// Fixed when the dataset is created.
/// </summary>
/// <param name="RobotType">Free text naming the robot, e.g. "robotruntime-tabletop-4dof".</param>
/// <param name="Fps">Frames per second of the recording (the control rate).</param>
/// <param name="Cameras">Camera names, e.g. "front", "wrist"; column "observation.images.&lt;name&gt;".</param>
/// <param name="ImageWidth">Width of every image in pixels.</param>
/// <param name="ImageHeight">Height of every image in pixels.</param>
/// <param name="StateNames">One name per value of "observation.state".</param>
/// <param name="ActionNames">One name per value of "action".</param>
/// <param name="EnvironmentStateNames">One name per value of "observation.environment_state"; empty for none.</param>
/// <param name="Tasks">The task names, in task_index order.</param>
public sealed record DatasetLayout(
    string RobotType,
    double Fps,
    IReadOnlyList<string> Cameras,
    int ImageWidth,
    int ImageHeight,
    IReadOnlyList<string> StateNames,
    IReadOnlyList<string> ActionNames,
    IReadOnlyList<string> EnvironmentStateNames,
    IReadOnlyList<string> Tasks)
{
    /// <summary>Bytes of one camera image (width × height × 3).</summary>
    public int ImageBytes => ImageWidth * ImageHeight * 3;

    /// <summary>Checks every field; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">A field is empty, duplicated or out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(RobotType))
            throw new ArgumentException("dataset layout: robot type is empty");
        if (!(Fps > 0) || double.IsInfinity(Fps))
            throw new ArgumentException($"dataset layout: fps must be a positive number, got {Fps}");
        if (Cameras.Count == 0)
            throw new ArgumentException("dataset layout: no cameras; a dataset needs at least one");
        if (ImageWidth is < 1 or > 4096 || ImageHeight is < 1 or > 4096)
            throw new ArgumentException($"dataset layout: image size must be 1..4096 on each side, got {ImageWidth}x{ImageHeight}");
        RequireNames(Cameras, "camera");
        RequireNames(StateNames, "state");
        RequireNames(ActionNames, "action");
        RequireNames(EnvironmentStateNames, "environment state");
        RequireNames(Tasks, "task");
        if (ActionNames.Count == 0)
            throw new ArgumentException("dataset layout: no action names");
        if (Tasks.Count == 0)
            throw new ArgumentException("dataset layout: no tasks");
        foreach (var camera in Cameras)
        {
            if (camera.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-')))
                throw new ArgumentException($"dataset layout: camera name '{camera}' may hold only letters, digits, '_' and '-'");
        }
    }

    private static void RequireNames(IReadOnlyList<string> names, string what)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (string.IsNullOrWhiteSpace(name))
                throw new ArgumentException($"dataset layout: a {what} name is empty");
            if (!seen.Add(name))
                throw new ArgumentException($"dataset layout: {what} name '{name}' appears twice");
        }
    }

    /// <summary>True when <paramref name="other"/> describes the same frames (names, sizes, tasks, fps).</summary>
    public bool SameAs(DatasetLayout other) =>
        RobotType == other.RobotType && Fps == other.Fps && ImageWidth == other.ImageWidth && ImageHeight == other.ImageHeight
        && Cameras.SequenceEqual(other.Cameras) && StateNames.SequenceEqual(other.StateNames)
        && ActionNames.SequenceEqual(other.ActionNames) && EnvironmentStateNames.SequenceEqual(other.EnvironmentStateNames)
        && Tasks.SequenceEqual(other.Tasks);
}

/// <summary>
/// One episode in memory: for each frame, every camera's RGB image, the state, the action taken
/// from that frame, the environment state, and the reward, done and success flags that followed the action.
/// </summary>
public sealed class Episode
{
    /// <summary>Makes an empty episode for <paramref name="layout"/>; frames are added with <see cref="Add"/>.</summary>
    public Episode(DatasetLayout layout, int index, string task)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (!layout.Tasks.Contains(task))
            throw new ArgumentException($"task '{task}' is not one of the dataset's tasks ({string.Join(", ", layout.Tasks)})", nameof(task));
        Layout = layout;
        Index = index;
        Task = task;
        Images = layout.Cameras.Select(_ => new List<byte[]>()).ToArray();
    }

    /// <summary>The dataset layout the frames follow.</summary>
    public DatasetLayout Layout { get; }

    /// <summary>The episode's index in the dataset.</summary>
    public int Index { get; }

    /// <summary>The task the episode was recorded on.</summary>
    public string Task { get; }

    /// <summary>Free-form facts about the episode (policy, visual randomisation, seed), kept in the episode's metadata.</summary>
    public Dictionary<string, string> Extra { get; } = new(StringComparer.Ordinal);

    /// <summary>Per camera (layout order), one RGB image per frame.</summary>
    public IReadOnlyList<List<byte[]>> Images { get; }

    /// <summary>State values, <see cref="DatasetLayout.StateNames"/> per frame.</summary>
    public List<float> States { get; } = [];

    /// <summary>Action values, <see cref="DatasetLayout.ActionNames"/> per frame.</summary>
    public List<float> Actions { get; } = [];

    /// <summary>Environment-state values, <see cref="DatasetLayout.EnvironmentStateNames"/> per frame (NaN where not defined).</summary>
    public List<float> EnvironmentStates { get; } = [];

    /// <summary>Reward after each frame's action.</summary>
    public List<float> Rewards { get; } = [];

    /// <summary>The episode ended after this frame's action.</summary>
    public List<bool> Done { get; } = [];

    /// <summary>The task's success condition held after this frame's action.</summary>
    public List<bool> Success { get; } = [];

    /// <summary>Frames so far.</summary>
    public int Length => Rewards.Count;

    /// <summary>Adds one frame (copies every buffer).</summary>
    /// <exception cref="ArgumentException">A buffer has the wrong size; the message names it.</exception>
    public void Add(IReadOnlyList<byte[]> images, ReadOnlySpan<float> state, ReadOnlySpan<float> action, ReadOnlySpan<float> environmentState,
        float reward, bool done, bool success)
    {
        if (images.Count != Layout.Cameras.Count)
            throw new ArgumentException($"frame has {images.Count} images; the dataset has {Layout.Cameras.Count} cameras ({string.Join(", ", Layout.Cameras)})", nameof(images));
        for (var c = 0; c < images.Count; c++)
        {
            if (images[c].Length != Layout.ImageBytes)
                throw new ArgumentException($"camera '{Layout.Cameras[c]}' image has {images[c].Length} bytes; expected {Layout.ImageWidth}x{Layout.ImageHeight}x3 = {Layout.ImageBytes}", nameof(images));
        }
        Require(state.Length, Layout.StateNames.Count, "state");
        Require(action.Length, Layout.ActionNames.Count, "action");
        Require(environmentState.Length, Layout.EnvironmentStateNames.Count, "environment state");
        for (var c = 0; c < images.Count; c++)
            Images[c].Add(images[c].ToArray());
        States.AddRange(state);
        Actions.AddRange(action);
        EnvironmentStates.AddRange(environmentState);
        Rewards.Add(reward);
        Done.Add(done);
        Success.Add(success);
    }

    private static void Require(int actual, int expected, string what)
    {
        if (actual != expected)
            throw new ArgumentException($"frame {what} has {actual} values; the dataset expects {expected}");
    }

    /// <summary>The RGB image of camera <paramref name="camera"/> (layout index) at frame <paramref name="frame"/>.</summary>
    public byte[] Image(int camera, int frame) => Images[camera][frame];

    /// <summary>The state of frame <paramref name="frame"/>.</summary>
    public ReadOnlySpan<float> State(int frame) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(States).Slice(frame * Layout.StateNames.Count, Layout.StateNames.Count);

    /// <summary>The action of frame <paramref name="frame"/>.</summary>
    public ReadOnlySpan<float> Action(int frame) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(Actions).Slice(frame * Layout.ActionNames.Count, Layout.ActionNames.Count);

    /// <summary>The environment state of frame <paramref name="frame"/>.</summary>
    public ReadOnlySpan<float> EnvironmentState(int frame) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(EnvironmentStates).Slice(frame * Layout.EnvironmentStateNames.Count, Layout.EnvironmentStateNames.Count);
}
