using System.Text.Json.Serialization;

namespace RobotRuntime.Datasets;

/// <summary>The type of an additional per-frame column (<see cref="DatasetColumn"/>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DatasetColumnType>))]
public enum DatasetColumnType
{
    /// <summary>true/false (Parquet boolean).</summary>
    Bool,

    /// <summary>A whole number (Parquet int64): counters, codes, nanosecond times.</summary>
    Int64,

    /// <summary>A number (Parquet double).</summary>
    Float64,

    /// <summary>A fixed-length list of numbers (Parquet list of double), one name per value.</summary>
    Float64Vector,
}

/// <summary>
/// An additional per-frame column beyond LeRobot's standard ones (images, state, action, rewards, indices):
/// a deployment's timings, safety verdicts, exact commands. Readers that do not know it (LeRobot,
/// pandas) see one more column.
/// </summary>
/// <param name="Name">Column name, e.g. "timing.encode_ns"; dotted like LeRobot's.</param>
/// <param name="Type">Its type.</param>
/// <param name="Names">One name per value for <see cref="DatasetColumnType.Float64Vector"/>; null for the others.</param>
public sealed record DatasetColumn(string Name, DatasetColumnType Type, IReadOnlyList<string>? Names = null)
{
    /// <summary>Values per frame: the vector's length, else 1.</summary>
    [JsonIgnore]
    public int Width => Type == DatasetColumnType.Float64Vector ? Names?.Count ?? 0 : 1;

    /// <summary>Whether the values are stored as whole numbers (<see cref="DatasetColumnType.Bool"/> as 0/1, <see cref="DatasetColumnType.Int64"/>); else as doubles.</summary>
    [JsonIgnore]
    public bool IsInteger => Type is DatasetColumnType.Bool or DatasetColumnType.Int64;

    /// <summary>True when <paramref name="other"/> has the same name, type and value names.</summary>
    public bool SameAs(DatasetColumn other) =>
        Name == other.Name && Type == other.Type && (Names ?? []).SequenceEqual(other.Names ?? []);
}

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
/// <param name="StateNames">One name per value of "observation.state"; empty for none (a recording of cameras alone: no such column).</param>
/// <param name="ActionNames">One name per value of "action"; empty for none (a recording of cameras alone, <c>rr record --dataset</c>: no such column).</param>
/// <param name="EnvironmentStateNames">One name per value of "observation.environment_state"; empty for none.</param>
/// <param name="Tasks">The task names, in task_index order.</param>
/// <remarks>
/// <see cref="Columns"/> adds per-frame columns of its own; a dataset written before they existed
/// (<c>rr collect</c>'s) has none and reads as before.
/// </remarks>
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

    /// <summary>Whether frames hold an "action" column (false for a recording of cameras alone).</summary>
    [JsonIgnore]
    public bool HasAction => ActionNames.Count > 0;

    /// <summary>Whether frames hold an "observation.state" column (false for a recording of cameras alone).</summary>
    [JsonIgnore]
    public bool HasState => StateNames.Count > 0;

    /// <summary>Additional per-frame columns, in the order their values are packed (<see cref="Episode.ColumnNumbers"/>, <see cref="Episode.ColumnIntegers"/>); empty for none.</summary>
    public IReadOnlyList<DatasetColumn> Columns { get; init; } = [];

    /// <summary>Doubles of the additional columns per frame: the <see cref="DatasetColumnType.Float64"/> and vector columns, in order.</summary>
    [JsonIgnore]
    public int ColumnNumberCount => Columns.Where(c => !c.IsInteger).Sum(c => c.Width);

    /// <summary>Whole numbers of the additional columns per frame: the <see cref="DatasetColumnType.Bool"/> and <see cref="DatasetColumnType.Int64"/> columns, in order.</summary>
    [JsonIgnore]
    public int ColumnIntegerCount => Columns.Count(c => c.IsInteger);

    /// <summary>Where column <paramref name="name"/>'s values sit in a frame's packed numbers (or integers) and how many there are.</summary>
    /// <exception cref="KeyNotFoundException">No such column; the message lists them.</exception>
    public (DatasetColumn Column, int Offset) ColumnAt(string name)
    {
        int numbers = 0, integers = 0;
        foreach (var column in Columns)
        {
            if (column.Name == name)
                return (column, column.IsInteger ? integers : numbers);
            if (column.IsInteger)
                integers++;
            else
                numbers += column.Width;
        }
        throw new KeyNotFoundException($"the dataset has no column '{name}'; its own columns are {(Columns.Count == 0 ? "none" : string.Join(", ", Columns.Select(c => c.Name)))}");
    }

    /// <summary>Names of the columns every frame has (LeRobot's); an additional column may not take one.</summary>
    public static readonly IReadOnlySet<string> StandardColumns = new HashSet<string>(StringComparer.Ordinal)
    {
        "observation.state", "observation.environment_state", "action", "next.reward", "next.done", "next.success",
        "timestamp", "frame_index", "episode_index", "index", "task_index",
    };

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
        if (Tasks.Count == 0)
            throw new ArgumentException("dataset layout: no tasks");
        foreach (var camera in Cameras)
        {
            if (camera.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-')))
                throw new ArgumentException($"dataset layout: camera name '{camera}' may hold only letters, digits, '_' and '-'");
        }
        RequireNames(Columns.Select(c => c.Name).ToList(), "column");
        foreach (var column in Columns)
        {
            if (StandardColumns.Contains(column.Name) || column.Name.StartsWith("observation.images.", StringComparison.Ordinal) && Cameras.Contains(column.Name["observation.images.".Length..]))
                throw new ArgumentException($"dataset layout: column '{column.Name}' is one of the standard columns every frame has");
            if (!Enum.IsDefined(column.Type))
                throw new ArgumentException($"dataset layout: column '{column.Name}' has no known type ({(int)column.Type})");
            if (column.Type == DatasetColumnType.Float64Vector)
            {
                if (column.Names is null || column.Names.Count == 0)
                    throw new ArgumentException($"dataset layout: vector column '{column.Name}' needs one name per value");
                RequireNames(column.Names, $"'{column.Name}' value");
            }
            else if (column.Names is { Count: > 0 })
            {
                throw new ArgumentException($"dataset layout: column '{column.Name}' is a single {column.Type} and takes no value names");
            }
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
        && Tasks.SequenceEqual(other.Tasks)
        && Columns.Count == other.Columns.Count && Columns.Zip(other.Columns).All(pair => pair.First.SameAs(pair.Second));
}

/// <summary>
/// One episode in memory: for each frame, every camera's RGB image, the state, the action taken
/// from that frame, the environment state, and the reward, done and success flags that followed the action.
/// </summary>
public sealed class Episode
{
    /// <summary>Makes an empty episode for <paramref name="layout"/>; frames are added with <c>Add</c>.</summary>
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

    /// <summary>The additional columns' doubles, <see cref="DatasetLayout.ColumnNumberCount"/> per frame.</summary>
    public List<double> ColumnNumbers { get; } = [];

    /// <summary>The additional columns' whole numbers (bools as 0/1), <see cref="DatasetLayout.ColumnIntegerCount"/> per frame.</summary>
    public List<long> ColumnIntegers { get; } = [];

    /// <summary>Frames so far.</summary>
    public int Length => Rewards.Count;

    /// <summary>Adds one frame (copies every buffer) to a dataset without additional columns.</summary>
    /// <exception cref="ArgumentException">A buffer has the wrong size, or the layout has additional columns; the message names it.</exception>
    public void Add(IReadOnlyList<byte[]> images, ReadOnlySpan<float> state, ReadOnlySpan<float> action, ReadOnlySpan<float> environmentState,
        float reward, bool done, bool success) =>
        Add(images, state, action, environmentState, reward, done, success, [], []);

    /// <summary>Adds one frame (copies every buffer), with the additional columns' values packed in layout order.</summary>
    /// <exception cref="ArgumentException">A buffer has the wrong size; the message names it.</exception>
    public void Add(IReadOnlyList<byte[]> images, ReadOnlySpan<float> state, ReadOnlySpan<float> action, ReadOnlySpan<float> environmentState,
        float reward, bool done, bool success, ReadOnlySpan<double> columnNumbers, ReadOnlySpan<long> columnIntegers)
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
        Require(columnNumbers.Length, Layout.ColumnNumberCount, "additional column number");
        Require(columnIntegers.Length, Layout.ColumnIntegerCount, "additional column integer");
        for (var c = 0; c < images.Count; c++)
            Images[c].Add(images[c].ToArray());
        States.AddRange(state);
        Actions.AddRange(action);
        EnvironmentStates.AddRange(environmentState);
        Rewards.Add(reward);
        Done.Add(done);
        Success.Add(success);
        ColumnNumbers.AddRange(columnNumbers);
        ColumnIntegers.AddRange(columnIntegers);
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

    /// <summary>The values of additional column <paramref name="name"/> at frame <paramref name="frame"/> (a Float64 column or vector).</summary>
    /// <exception cref="KeyNotFoundException">No such column.</exception>
    /// <exception cref="ArgumentException">The column holds whole numbers (use <see cref="Integer"/>).</exception>
    public ReadOnlySpan<double> Numbers(int frame, string name)
    {
        var (column, offset) = Layout.ColumnAt(name);
        if (column.IsInteger)
            throw new ArgumentException($"column '{name}' holds {column.Type} values, not numbers", nameof(name));
        return System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ColumnNumbers).Slice(frame * Layout.ColumnNumberCount + offset, column.Width);
    }

    /// <summary>The value of additional column <paramref name="name"/> at frame <paramref name="frame"/> (an Int64 column, or a Bool as 0/1).</summary>
    /// <exception cref="KeyNotFoundException">No such column.</exception>
    /// <exception cref="ArgumentException">The column holds numbers (use <see cref="Numbers"/>).</exception>
    public long Integer(int frame, string name)
    {
        var (column, offset) = Layout.ColumnAt(name);
        if (!column.IsInteger)
            throw new ArgumentException($"column '{name}' holds {column.Type} values, not whole numbers", nameof(name));
        return ColumnIntegers[frame * Layout.ColumnIntegerCount + offset];
    }

    /// <summary>The environment state of frame <paramref name="frame"/>.</summary>
    public ReadOnlySpan<float> EnvironmentState(int frame) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(EnvironmentStates).Slice(frame * Layout.EnvironmentStateNames.Count, Layout.EnvironmentStateNames.Count);
}
