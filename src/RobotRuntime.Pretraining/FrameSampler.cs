using System.Globalization;
using RobotRuntime.Agents.Model;
using RobotRuntime.Datasets;
using Deployment = RobotRuntime.Datasets.Recording.DeploymentLayout.Columns;

namespace RobotRuntime.Pretraining;

/// <summary>One batch an objective learns from: <see cref="FramePairBatch"/> or <see cref="FrameSequenceBatch"/>.</summary>
/// <param name="Size">Samples.</param>
public abstract record FrameBatch(int Size);

/// <summary>One batch of frame pairs: frame t and frame t + offset of the same episode and camera, augmented independently.</summary>
/// <param name="Size">Samples.</param>
/// <param name="First">Frame t: [Size, 3, S, S] floats in [−0.5, 0.5].</param>
/// <param name="Second">Frame t + offset (clamped to the episode's last frame), same layout; empty when not asked for.</param>
/// <param name="Actions">The action taken at frame t: [Size, action dimension].</param>
public sealed record FramePairBatch(int Size, float[] First, float[] Second, float[] Actions) : FrameBatch(Size);

/// <summary>
/// One batch of windows of consecutive frames: frames t, t + 1, …, t + Steps of one episode and
/// camera, each image augmented on its own, and the actions a_t … a_t+Steps−1 taken between them.
/// </summary>
/// <param name="Size">Samples (windows).</param>
/// <param name="Steps">Actions per window; a window holds Steps + 1 frames.</param>
/// <param name="Frames">Step-major: frame t + k of every sample is the block [k, Size, 3, S, S] (floats in [−0.5, 0.5]).</param>
/// <param name="Actions">Step-major: the action taken at frame t + k of every sample is the block [k, Size, action dimension].</param>
public sealed record FrameSequenceBatch(int Size, int Steps, float[] Frames, float[] Actions) : FrameBatch(Size);

/// <summary>
/// Streams frame pairs from an episode dataset without loading it whole: a pool of decoded
/// episodes, one of which is replaced by a random episode of the dataset before every batch.
/// Every choice (pool, episode, frame, camera, shift) comes from one <see cref="AgentRandom"/>,
/// so the batches of a seed are the same on every run, and <see cref="SaveState"/> /
/// <see cref="RestoreState"/> continue them exactly.
/// </summary>
public sealed class FrameSampler
{
    private readonly EpisodeDataset _dataset;
    private readonly AgentRandom _random;
    private readonly int _shiftPad;
    private readonly int[] _poolIndices;
    private readonly Episode[] _pool;

    private readonly int[] _eligible;
    private readonly float _colourJitter;

    // Actions from an additional column instead of "action" (a recorded deployment's
    // policy.normalised_action, NaN where the policy did not act): only windows of _actionWindow steps
    // whose actions were all taken and whose frames were all usable are drawn. Null: "action", every frame.
    private readonly string? _actionColumn;
    private readonly int _actionWindow;
    private readonly int[][] _usableRuns;
    private readonly HashSet<int> _windowless = [];

    /// <summary>Fills the pool with <paramref name="poolEpisodes"/> random episodes (at most the number eligible).</summary>
    /// <param name="dataset">The dataset.</param>
    /// <param name="random">Every choice's source.</param>
    /// <param name="poolEpisodes">Episodes held decoded.</param>
    /// <param name="shiftPad">Random-shift padding in pixels.</param>
    /// <param name="include">Which episodes may be drawn (all when null), e.g. only scripted ones for behaviour cloning.</param>
    /// <exception cref="ArgumentException">No eligible episodes, or images that are not square.</exception>
    /// <param name="colourJitter">
    /// Colour augmentation strength j: each image's channels get their own gain in [1 − j, 1 + j] and
    /// offset in [−j/2, j/2] (of the 0..1 range), so two views of a scene do not share its exact
    /// colours; 0 turns it off (and draws nothing from <paramref name="random"/>).
    /// </param>
    /// <param name="rule">What <paramref name="include"/> asks of an episode, for the error when none qualifies (e.g. "at least 6 frames").</param>
    /// <param name="actionColumn">
    /// Read each frame's action from this additional Float64 column (a recorded deployment's
    /// <c>policy.normalised_action</c>) instead of "action"; null: "action". Only the windows
    /// <see cref="WindowStartsOf"/> finds are drawn (steps whose action was carried out as the agent chose
    /// it, usable frames one cycle apart), uniformly among a pool episode's windows.
    /// </param>
    /// <param name="actionWindow">With <paramref name="actionColumn"/>: the steps of every window drawn
    /// (1 for <see cref="Next"/>'s pairs, the window's steps for <see cref="NextSequence"/>).</param>
    public FrameSampler(EpisodeDataset dataset, AgentRandom random, int poolEpisodes, int shiftPad, Func<EpisodeEntry, bool>? include = null, float colourJitter = 0f, string? rule = null,
        string? actionColumn = null, int actionWindow = 0)
    {
        if (actionColumn is not null)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(actionWindow);
            var (column, _) = dataset.Layout.ColumnAt(actionColumn);
            if (column.IsInteger)
                throw new ArgumentException($"{dataset.Folder}: column '{actionColumn}' holds {column.Type} values, not actions", nameof(actionColumn));
        }
        _actionColumn = actionColumn;
        _actionWindow = actionWindow;
        _colourJitter = colourJitter;
        _eligible = Enumerable.Range(0, dataset.Episodes.Count).Where(i => include is null || include(dataset.Episodes[i])).ToArray();
        if (_eligible.Length == 0)
            throw new ArgumentException($"{dataset.Folder} holds no episodes{(include is null ? "" : " this objective can use")}{(rule is null ? "" : $" ({rule})")}; collect some first (rr collect), or record some (rr record --dataset, rr run --record)");
        if (dataset.Layout.ImageWidth != dataset.Layout.ImageHeight)
            throw new ArgumentException($"{dataset.Folder}: images are {dataset.Layout.ImageWidth}x{dataset.Layout.ImageHeight}; pre-training takes square images");
        _dataset = dataset;
        _random = random;
        _shiftPad = shiftPad;
        var size = Math.Min(poolEpisodes, _eligible.Length);
        _poolIndices = new int[size];
        _pool = new Episode[size];
        _usableRuns = new int[size][];
        for (var i = 0; i < size; i++)
            Load(i, _eligible[_random.NextInt(_eligible.Length)]);
    }

    /// <summary>Side of the (square) images.</summary>
    public int ImageSize => _dataset.Layout.ImageWidth;

    /// <summary>Values per action.</summary>
    public int ActionSize => _actionColumn is null ? _dataset.Layout.ActionNames.Count : _dataset.Layout.ColumnAt(_actionColumn).Column.Width;

    /// <summary>
    /// The starts t of every window of <paramref name="window"/> steps in an episode of runs.Length frames:
    /// runs[t] is how many steps in a row from t on can be learnt from (a step t → t + 1: the action at t
    /// taken, frame t usable, frame t + 1 the next one), and usableImages[t] whether frame t's images are
    /// usable. A window needs the steps t … t + window − 1 and frame t + window's images.
    /// </summary>
    public static int[] WindowStarts(ReadOnlySpan<int> runs, ReadOnlySpan<bool> usableImages, int window)
    {
        var starts = new List<int>();
        for (var t = 0; t + window < runs.Length; t++)
        {
            if (runs[t] >= window && usableImages[t + window])
                starts.Add(t);
        }
        return starts.ToArray();
    }

    // The first frame of a window drawn in pool episode `slot` (of `span` steps when every frame is
    // eligible): uniform over the episode's windows.
    private int DrawStart(int slot, int span)
    {
        if (_actionColumn is null)
            return _random.NextInt(span);
        var starts = _usableRuns[slot];
        return starts[_random.NextInt(starts.Length)];
    }

    // A pool episode for the next sample: `slot` if it has a window to draw, else the next one that has.
    private int UsableSlot(int slot)
    {
        if (_actionColumn is null)
            return slot;
        for (var k = 0; k < _pool.Length; k++)
        {
            var candidate = (slot + k) % _pool.Length;
            if (_usableRuns[candidate].Length > 0)
                return candidate;
        }
        throw new InvalidOperationException("no pool episode has a window to draw (Load keeps only episodes that have one)");
    }

    private void CopyAction(Episode episode, int t, Span<float> destination)
    {
        if (_actionColumn is null)
        {
            episode.Action(t).CopyTo(destination);
            return;
        }
        var values = episode.Numbers(t, _actionColumn);
        for (var i = 0; i < values.Length; i++)
            destination[i] = (float)values[i];
    }

    /// <summary>
    /// Replaces one pool episode, then draws <paramref name="size"/> pairs (t, t + <paramref name="offset"/>).
    /// With <paramref name="sameShift"/> both frames of a pair get the same random shift (inverse
    /// dynamics: independent shifts of a few pixels would blur the motion it has to read); otherwise
    /// each frame gets its own (contrastive objectives: invariance to the shift is part of what they learn).
    /// </summary>
    /// <param name="size">Pairs.</param>
    /// <param name="offset">Frames from the first frame of a pair to the second.</param>
    /// <param name="sameShift">Both frames of a pair get the same shift.</param>
    /// <param name="group">
    /// Consecutive pairs drawn from one episode and camera. With 1 every pair comes from its own
    /// random episode; with more, a contrastive objective's negatives include other moments of the
    /// same scene, so it cannot tell pairs apart by the scene's colours alone and has to look at
    /// where things are.
    /// </param>
    /// <param name="second">Whether the second frame of each pair is wanted (behaviour cloning reads only the first).</param>
    public FramePairBatch Next(int size, int offset, bool sameShift = false, int group = 1, bool second = true)
    {
        if (_actionColumn is not null && offset != _actionWindow)
            throw new ArgumentException($"pairs {offset} frames apart asked of a sampler that keeps windows of {_actionWindow} step(s)", nameof(offset));
        Load(_random.NextInt(_pool.Length), _eligible[_random.NextInt(_eligible.Length)]);
        var pixels = 3 * ImageSize * ImageSize;
        var first = new float[size * pixels];
        var wantSecond = second;
        var secondFrames = new float[wantSecond ? size * pixels : 0];
        var actions = new float[size * ActionSize];
        Episode episode = _pool[0];
        var slot = 0;
        var camera = 0;
        for (var i = 0; i < size; i++)
        {
            if (i % Math.Max(1, group) == 0)
            {
                slot = UsableSlot(_random.NextInt(_pool.Length));
                episode = _pool[slot];
                camera = _random.NextInt(episode.Layout.Cameras.Count);
            }
            var t = DrawStart(slot, episode.Length);
            var later = Math.Min(t + offset, episode.Length - 1);
            var (dx, dy) = DrawShift();
            Augment(episode.Image(camera, t), first.AsSpan(i * pixels, pixels), dx, dy);
            if (wantSecond)
            {
                if (!sameShift)
                    (dx, dy) = DrawShift();
                Augment(episode.Image(camera, later), secondFrames.AsSpan(i * pixels, pixels), dx, dy);
            }
            CopyAction(episode, t, actions.AsSpan(i * ActionSize, ActionSize));
        }
        return new FramePairBatch(size, first, secondFrames, actions);
    }

    /// <summary>
    /// Replaces one pool episode, then draws <paramref name="size"/> pairs of frames exactly
    /// <paramref name="gap"/> apart, both inside one episode and camera: t uniform over
    /// 0 … length − gap − 1 of its episode, the second frame t + gap (never clamped, unlike
    /// <see cref="Next"/>; episodes shorter than gap + 1 frames must be excluded by the sampler's
    /// filter). Reads no actions: the batch's <see cref="FramePairBatch.Actions"/> is empty.
    /// </summary>
    /// <param name="size">Pairs.</param>
    /// <param name="gap">Frames from the first frame of a pair to the second.</param>
    /// <param name="sameShift">Both frames of a pair get the same random shift (and each its own colour jitter).</param>
    /// <exception cref="ArgumentOutOfRangeException">gap is not positive.</exception>
    /// <exception cref="InvalidOperationException">A pool episode is too short for the gap (the filter let it in).</exception>
    public FramePairBatch NextSpaced(int size, int gap, bool sameShift)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(gap);
        Load(_random.NextInt(_pool.Length), _eligible[_random.NextInt(_eligible.Length)]);
        var pixels = 3 * ImageSize * ImageSize;
        var first = new float[size * pixels];
        var second = new float[size * pixels];
        for (var i = 0; i < size; i++)
        {
            var episode = _pool[_random.NextInt(_pool.Length)];
            var camera = _random.NextInt(episode.Layout.Cameras.Count);
            if (episode.Length < gap + 1)
                throw new InvalidOperationException($"episode {episode.Index} has {episode.Length} frames; a pair {gap} frames apart needs {gap + 1} (the sampler's filter must exclude shorter episodes)");
            var t = _random.NextInt(episode.Length - gap);
            var (dx, dy) = DrawShift();
            Augment(episode.Image(camera, t), first.AsSpan(i * pixels, pixels), dx, dy);
            if (!sameShift)
                (dx, dy) = DrawShift();
            Augment(episode.Image(camera, t + gap), second.AsSpan(i * pixels, pixels), dx, dy);
        }
        return new FramePairBatch(size, first, second, []);
    }

    /// <summary>
    /// Replaces one pool episode, then draws <paramref name="size"/> windows of
    /// <paramref name="steps"/> + 1 consecutive frames, every one inside one episode: the start t is
    /// uniform over 0 … length − steps − 1 of its episode (episodes shorter than steps + 1 frames must
    /// be excluded by the sampler's filter). Each image gets its own random shift (and colour jitter).
    /// </summary>
    /// <param name="size">Windows.</param>
    /// <param name="steps">Actions per window (frames per window − 1).</param>
    /// <param name="group">Consecutive windows drawn from one episode and camera (see <see cref="Next"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">steps is not positive.</exception>
    /// <exception cref="InvalidOperationException">A pool episode is too short for a window (the filter let it in).</exception>
    public FrameSequenceBatch NextSequence(int size, int steps, int group = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(steps);
        if (_actionColumn is not null && steps != _actionWindow)
            throw new ArgumentException($"windows of {steps} steps asked of a sampler that keeps windows of {_actionWindow}", nameof(steps));
        Load(_random.NextInt(_pool.Length), _eligible[_random.NextInt(_eligible.Length)]);
        var pixels = 3 * ImageSize * ImageSize;
        var frames = new float[(steps + 1) * size * pixels];
        var actions = new float[steps * size * ActionSize];
        Episode episode = _pool[0];
        var slot = 0;
        var camera = 0;
        for (var i = 0; i < size; i++)
        {
            if (i % Math.Max(1, group) == 0)
            {
                slot = UsableSlot(_random.NextInt(_pool.Length));
                episode = _pool[slot];
                camera = _random.NextInt(episode.Layout.Cameras.Count);
            }
            if (episode.Length < steps + 1)
                throw new InvalidOperationException($"episode {episode.Index} has {episode.Length} frames; a window of {steps} steps needs {steps + 1} (the sampler's filter must exclude shorter episodes)");
            var t = DrawStart(slot, episode.Length - steps);
            for (var k = 0; k <= steps; k++)
            {
                var (dx, dy) = DrawShift();
                Augment(episode.Image(camera, t + k), frames.AsSpan((k * size + i) * pixels, pixels), dx, dy);
                if (k < steps)
                    CopyAction(episode, t + k, actions.AsSpan((k * size + i) * ActionSize, ActionSize));
            }
        }
        return new FrameSequenceBatch(size, steps, frames, actions);
    }

    /// <summary>The sampler's state (pool episodes and random state) as text for a checkpoint.</summary>
    public string SaveState() => _random.Save() + ";" + string.Join(',', _poolIndices.Select(i => i.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Restores a state from <see cref="SaveState"/>, reloading the pool's episodes.</summary>
    /// <exception cref="InvalidDataException">The state does not fit this dataset.</exception>
    public void RestoreState(string state)
    {
        var parts = state.Split(';');
        var indices = parts.Length == 2 ? parts[1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() : [];
        if (indices.Length != _pool.Length || indices.Any(i => Array.BinarySearch(_eligible, i) < 0))
            throw new InvalidDataException($"the checkpoint's sampler state names {indices.Length} pool episodes up to {(indices.Length == 0 ? 0 : indices.Max())}; this dataset and pool size do not fit it (was the dataset changed?)");
        _random.Restore(parts[0]);
        for (var i = 0; i < indices.Length; i++)
            Load(i, indices[i]);
    }

    private void Load(int slot, int episode)
    {
        if (_actionColumn is not null)
        {
            LoadWithWindows(slot, episode);
            return;
        }
        if (_pool[slot] is not null && _poolIndices[slot] == episode)
            return;
        _pool[slot] = _dataset.Read(episode);
        _poolIndices[slot] = episode;
    }

    // With actions from a column: an episode with no window (a recording held from start to end) is
    // replaced by another drawn at random from the eligible ones, so every episode that has windows
    // is as likely as before; episodes found to have none are remembered and not decoded again. The
    // replacement draws come from the sampler's own random source and Load is called in the same order
    // on a resume (which loads only episodes that had windows), so a resumed run draws the same.
    private void LoadWithWindows(int slot, int episode)
    {
        var candidate = episode;
        while (true)
        {
            if (!_windowless.Contains(candidate))
            {
                if (_pool[slot] is not null && _poolIndices[slot] == candidate)
                    return;
                var read = _dataset.Read(candidate);
                var starts = WindowStartsOf(read, _actionColumn!, _actionWindow);
                if (starts.Length > 0)
                {
                    _pool[slot] = read;
                    _poolIndices[slot] = candidate;
                    _usableRuns[slot] = starts;
                    return;
                }
                _windowless.Add(candidate);
            }
            if (_windowless.Count == _eligible.Length)
                throw new ArgumentException($"{_dataset.Folder}: no episode has a window of {_actionWindow} step(s) to learn from: {_actionWindow + 1} usable frames one cycle "
                    + $"apart, the first {_actionWindow} with the agent's action carried out as it chose it ({_actionColumn} finite, the safety filter passed it unclipped, "
                    + "and it was sent). The agent did not act, or the arm was held, clipped or not reached, throughout the recording");
            candidate = _eligible[_random.NextInt(_eligible.Length)];
        }
    }

    /// <summary>
    /// The starts of every window of <paramref name="window"/> steps in a recorded deployment's
    /// <paramref name="episode"/> whose actions are read from <paramref name="actionColumn"/>. A step t → t + 1
    /// counts when the agent's action at t was carried out as it chose it (the column finite, and, where the
    /// recording keeps them, safety.status passed — not clipped, not held —, action.mode a command and
    /// action.send_status sent), frame t's images were usable, and frame t + 1 is the next cycle
    /// (recording.dropped_before 0); a window also needs frame t + window's images usable.
    /// </summary>
    public static int[] WindowStartsOf(Episode episode, string actionColumn, int window)
    {
        ArgumentNullException.ThrowIfNull(episode);
        var length = episode.Length;
        var usable = new bool[length];
        var runs = new int[length];
        bool Has(string name) => episode.Layout.Columns.Any(c => c.Name == name);
        long IntegerOr(int t, string name, bool present, long absent) => present ? episode.Integer(t, name) : absent;
        bool hasUsable = Has(Deployment.FramesUsable), hasSafety = Has(Deployment.SafetyStatus), hasMode = Has(Deployment.ActionMode),
            hasSend = Has(Deployment.SendStatus), hasDropped = Has(Deployment.DroppedBefore);
        for (var t = length - 1; t >= 0; t--)
        {
            usable[t] = IntegerOr(t, Deployment.FramesUsable, hasUsable, 1) != 0;
            var step = usable[t] && t + 1 < length && IntegerOr(t + 1, Deployment.DroppedBefore, hasDropped, 0) == 0
                && IntegerOr(t, Deployment.SafetyStatus, hasSafety, 0) == 0
                && IntegerOr(t, Deployment.ActionMode, hasMode, 1) != 0
                && IntegerOr(t, Deployment.SendStatus, hasSend, 0) == 0;
            foreach (var v in episode.Numbers(t, actionColumn))
                step &= double.IsFinite(v);
            runs[t] = step ? 1 + runs[t + 1] : 0;
        }
        return WindowStarts(runs, usable, window);
    }

    /// <summary>Random shift: pads by edge replication, crops a random S×S window, writes planar floats in [−0.5, 0.5].</summary>
    private (int Dx, int Dy) DrawShift() =>
        _shiftPad == 0 ? (0, 0) : (_random.NextInt(2 * _shiftPad + 1), _random.NextInt(2 * _shiftPad + 1));

    private void Augment(byte[] rgb, Span<float> planes, int dx, int dy)
    {
        int size = ImageSize, pad = _shiftPad;
        var area = size * size;
        Span<float> gain = stackalloc float[3];
        Span<float> offset = stackalloc float[3];
        for (var c = 0; c < 3; c++)
        {
            gain[c] = _colourJitter == 0 ? 1f : 1f + _colourJitter * (2 * _random.NextFloat() - 1);
            offset[c] = _colourJitter == 0 ? 0f : _colourJitter * (_random.NextFloat() - 0.5f);
        }
        for (var y = 0; y < size; y++)
        {
            var sourceY = Math.Clamp(y + dy - pad, 0, size - 1);
            for (var x = 0; x < size; x++)
            {
                var sourceX = Math.Clamp(x + dx - pad, 0, size - 1);
                var source = (sourceY * size + sourceX) * 3;
                var target = y * size + x;
                for (var c = 0; c < 3; c++)
                    planes[c * area + target] = _colourJitter == 0
                        ? rgb[source + c] / 255f - 0.5f
                        : Math.Clamp(rgb[source + c] / 255f * gain[c] + offset[c], 0f, 1f) - 0.5f;
            }
        }
    }
}
