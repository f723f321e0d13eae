using System.Collections.Concurrent;
using System.Globalization;
using RobotRuntime.Cameras;
using RobotRuntime.Timing;

namespace RobotRuntime.Datasets.Recording;

/// <summary>
/// The dataset layout of a recording of cameras alone (<c>rr record --dataset</c>): a user's own
/// robot, seen by its cameras, without a control loop. One frame per tick of the recording's clock:
/// <list type="bullet">
/// <item>"observation.images.&lt;camera&gt;": each camera's newest frame at the tick (LeRobot's and
/// <c>rr collect</c>'s column names, so cameras named front and wrist land where <c>rr collect</c> puts them);</item>
/// <item>no "observation.state" and no "action" column: nothing was measured or commanded; rewards are
/// NaN and the episodes say <c>"rewards": "unlabelled"</c>;</item>
/// <item>additional columns: per camera its sequence number and capture time
/// ("observation.images.&lt;camera&gt;.sequence", ".capture_ns", the names a recorded deployment uses),
/// and <see cref="SkippedBefore"/>.</item>
/// </list>
/// "timestamp" is frame_index / fps, as LeRobot expects; the capture times say when each image was taken.
/// </summary>
public static class CameraDatasetLayout
{
    /// <summary>The layout's robot type: the frames come from cameras alone.</summary>
    public const string RobotType = "cameras-only";

    /// <summary>Int64: ticks of the recording's clock skipped just before this frame (a camera had no fresh frame, or the writer was late).</summary>
    public const string SkippedBefore = "recording.skipped_before";

    /// <summary>Int64 column: the camera's sequence number of the frame (1 for its first; a repeated number is a repeated image).</summary>
    public static string SequenceColumn(string camera) => $"observation.images.{camera}.sequence";

    /// <summary>Int64 column: when the camera captured the frame (ns, the recording process's monotonic clock).</summary>
    public static string CaptureColumn(string camera) => $"observation.images.{camera}.capture_ns";

    /// <summary>The layout for <paramref name="cameras"/> of <paramref name="width"/> × <paramref name="height"/> recorded at <paramref name="fps"/>.</summary>
    /// <exception cref="ArgumentException">A camera name a dataset cannot take, a bad size, fps or task; the message names it.</exception>
    public static DatasetLayout Create(IReadOnlyList<string> cameras, int width, int height, double fps, string task)
    {
        ArgumentNullException.ThrowIfNull(cameras);
        var columns = new List<DatasetColumn>();
        foreach (var camera in cameras)
        {
            columns.Add(new(SequenceColumn(camera), DatasetColumnType.Int64));
            columns.Add(new(CaptureColumn(camera), DatasetColumnType.Int64));
        }
        columns.Add(new(SkippedBefore, DatasetColumnType.Int64));
        var layout = new DatasetLayout(RobotType, fps, cameras, width, height, [], [], [], [task]) { Columns = columns };
        layout.Validate();
        return layout;
    }

    /// <summary>Whether <paramref name="layout"/> is a recording of cameras alone (this layout).</summary>
    public static bool IsCameraRecording(DatasetLayout layout) =>
        layout.RobotType == RobotType && !layout.HasAction && !layout.HasState && layout.Columns.Any(c => c.Name == SkippedBefore);
}

/// <summary>What a camera dataset recording is told (<see cref="CameraDatasetRecorder"/>).</summary>
public sealed record CameraDatasetOptions
{
    /// <summary>Frames (dataset rows) per second: the recording's clock ticks at this rate and takes each camera's newest frame.</summary>
    public required double Fps { get; init; }

    /// <summary>The task every episode is labelled with (LeRobot's free-text task); fixed for the dataset.</summary>
    public string Task { get; init; } = "unlabelled";

    /// <summary>An episode ends after this many frames and the next starts; null: only <see cref="CameraDatasetRecorder.EndEpisode"/> or the end of the recording ends one.</summary>
    public int? EpisodeFrames { get; init; }

    /// <summary>The recording stops after this many episodes (of this recording, not of the dataset); null: no limit.</summary>
    public int? Episodes { get; init; }

    /// <summary>
    /// A camera's frame older than this at a tick is not used (the tick is skipped and counted);
    /// null: three periods, at least 250 ms.
    /// </summary>
    public TimeSpan? MaxFrameAge { get; init; }

    /// <summary>A camera lost (its stream ended, unplugged) for this long ends the recording; a shorter loss (a stream reconnecting) only skips ticks.</summary>
    public TimeSpan LostAfter { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Frames are forced to the disk at least this often (every frame is handed to the operating system as written, so a kill of the process loses none).</summary>
    public TimeSpan SyncInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Facts every episode of this recording carries (e.g. the camera specs).</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();

    /// <summary>The frame age limit in effect (<see cref="MaxFrameAge"/> or its default).</summary>
    public TimeSpan EffectiveMaxFrameAge => MaxFrameAge ?? TimeSpan.FromSeconds(Math.Max(3 / Fps, 0.25));

    /// <summary>Checks every field; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">A field is out of range.</exception>
    public void Validate()
    {
        if (!(Fps is > 0 and <= 1000))
            throw new ArgumentException($"fps must be in (0, 1000], got {Fps.ToString(CultureInfo.InvariantCulture)}");
        if (string.IsNullOrWhiteSpace(Task))
            throw new ArgumentException("the task is empty; give the episodes a task name");
        if (EpisodeFrames is < 1)
            throw new ArgumentException($"an episode must be at least 1 frame long, got {EpisodeFrames}");
        if (Episodes is < 1)
            throw new ArgumentException($"the number of episodes must be at least 1, got {Episodes}");
        if (MaxFrameAge is { } age && age <= TimeSpan.Zero)
            throw new ArgumentException($"the maximum frame age must be positive, got {age}");
        if (LostAfter < TimeSpan.Zero)
            throw new ArgumentException($"the lost-camera grace must not be negative, got {LostAfter}");
    }
}

/// <summary>
/// Records cameras into an <see cref="EpisodeDataset"/> in <see cref="CameraDatasetLayout"/>: a writer
/// thread ticks at <see cref="CameraDatasetOptions.Fps"/> on absolute deadlines, takes every camera's
/// newest frame (waiting briefly for one newer than the last it took), PNG-encodes them into one frame
/// and appends it to the episode's journal (<see cref="EpisodeJournal"/>), handing it to the operating
/// system at once and to the disk every <see cref="CameraDatasetOptions.SyncInterval"/>; a second thread
/// turns each finished episode's journal into its Parquet file. Killed at any moment, the dataset keeps
/// every episode stored and, the next time it is opened, the episode being recorded up to its last
/// whole frame (<c>"recovered": "true"</c>).
/// </summary>
/// <remarks>
/// A tick at which some camera has no frame younger than <see cref="CameraDatasetOptions.EffectiveMaxFrameAge"/>
/// writes nothing and is counted (<see cref="SkippedTicks"/>, the next frame's
/// <see cref="CameraDatasetLayout.SkippedBefore"/>, the episode's <c>"skipped_ticks"</c>); so is a tick the
/// writer reached a whole period late. Episodes end after <see cref="CameraDatasetOptions.EpisodeFrames"/>
/// frames, at <see cref="EndEpisode"/>, or when the recording stops. Holds the dataset's journal lock while
/// it records: a second recorder into the same folder is refused. The cameras are the caller's: started
/// before <see cref="Start"/>, disposed after <see cref="Stop"/>. Setup, <see cref="EndEpisode"/> and
/// <see cref="Stop"/> on any thread; not real-time (it writes files).
/// </remarks>
public sealed class CameraDatasetRecorder : IDisposable
{
    private readonly ICameraSource[] _cameras;
    private readonly CameraDatasetOptions _options;
    private readonly EpisodeDataset _dataset;
    private readonly IDisposable _lock;
    private readonly Action<int, CameraFrame>? _onFrame;
    private readonly Action<EpisodeEntry>? _onEpisodeStored;
    private readonly Thread _writer;
    private readonly Thread _committer;
    private readonly BlockingCollection<string> _finished = new();
    private readonly ManualResetEventSlim _wake = new(false);
    private volatile bool _stopping;
    private volatile bool _endRequested;
    private volatile string? _endReason;
    private Exception? _failure;
    private long _recorded, _skipped, _currentFrames;
    private int _episodesFinished, _episodesStored, _journalNumber;

    private CameraDatasetRecorder(ICameraSource[] cameras, CameraDatasetOptions options, EpisodeDataset dataset, IDisposable journalLock,
        Action<int, CameraFrame>? onFrame, Action<EpisodeEntry>? onEpisodeStored)
    {
        _cameras = cameras;
        _options = options;
        _dataset = dataset;
        _lock = journalLock;
        _onFrame = onFrame;
        _onEpisodeStored = onEpisodeStored;
        _journalNumber = Directory.EnumerateFiles(dataset.JournalFolder, "*" + EpisodeJournal.Extension)
            .Select(f => int.TryParse(Path.GetFileNameWithoutExtension(f), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0)
            .DefaultIfEmpty(0).Max();
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "rr record dataset writer" };
        _committer = new Thread(CommitLoop) { IsBackground = true, Name = "rr record dataset committer" };
    }

    /// <summary>
    /// Opens (or creates) the dataset at <paramref name="folder"/> for <paramref name="cameras"/> — turning
    /// journals a killed recording left there into episodes first —, takes its journal lock and starts recording.
    /// </summary>
    /// <param name="folder">The dataset folder; a dataset already there must have the same layout (cameras, size, fps, task), and gets more episodes.</param>
    /// <param name="cameras">Started cameras, all delivering one size; their names become the image columns.</param>
    /// <param name="options">Rate, task, episode length and count.</param>
    /// <param name="onFrame">Called on the writer thread with each camera's frame after it is written (e.g. to show it live); must not keep it.</param>
    /// <param name="onEpisodeStored">Called on the committer thread with each episode's entry once its Parquet file is stored.</param>
    /// <exception cref="ArgumentException">No cameras, cameras of different sizes, a camera name a dataset cannot take, or bad options; the message names it.</exception>
    /// <exception cref="InvalidDataException">The folder holds a dataset of another layout (the message says what differs) or a damaged one.</exception>
    /// <exception cref="IOException">Another recorder records into the folder, or it cannot be written.</exception>
    /// <remarks>Setup only.</remarks>
    public static CameraDatasetRecorder Start(string folder, IReadOnlyList<ICameraSource> cameras, CameraDatasetOptions options,
        Action<int, CameraFrame>? onFrame = null, Action<EpisodeEntry>? onEpisodeStored = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentNullException.ThrowIfNull(cameras);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (cameras.Count == 0)
            throw new ArgumentException("a dataset recording needs at least one camera", nameof(cameras));
        var first = cameras[0];
        if (cameras.Any(c => c.Width != first.Width || c.Height != first.Height))
            throw new ArgumentException("every camera of a dataset must deliver one image size (a frame holds one image per camera, all of one size); got "
                + string.Join(", ", cameras.Select(c => $"{c.Name} {c.Width}x{c.Height}")) + ": give them the same size", nameof(cameras));
        var layout = CameraDatasetLayout.Create(cameras.Select(c => c.Name).ToArray(), first.Width, first.Height, options.Fps, options.Task);
        var dataset = EpisodeDataset.OpenOrCreate(folder, layout);
        var journalLock = dataset.TryLockJournals()
            ?? throw new IOException($"{dataset.Folder}: another process is recording into this dataset (it holds journal/writer.lock); record into another folder");
        var recorder = new CameraDatasetRecorder([.. cameras], options, dataset, journalLock, onFrame, onEpisodeStored);
        recorder._writer.Start();
        recorder._committer.Start();
        return recorder;
    }

    /// <summary>The dataset recorded into.</summary>
    public EpisodeDataset Dataset => _dataset;

    /// <summary>Frames written to journals by this recording so far; any thread.</summary>
    public long FramesRecorded => Interlocked.Read(ref _recorded);

    /// <summary>Frames of the episode being recorded (0 between episodes); any thread.</summary>
    public long CurrentEpisodeFrames => Interlocked.Read(ref _currentFrames);

    /// <summary>
    /// Ticks inside episodes (after an episode's first frame) that wrote no frame — a camera had no fresh frame, or the writer was a
    /// period late —, counted as they happen; any thread. Those before a frame are in its <see cref="CameraDatasetLayout.SkippedBefore"/>.
    /// </summary>
    public long SkippedTicks => Interlocked.Read(ref _skipped);

    /// <summary>Episodes this recording has ended (stored or being stored); any thread.</summary>
    public int EpisodesFinished => Volatile.Read(ref _episodesFinished);

    /// <summary>Episodes this recording has stored as Parquet files; any thread.</summary>
    public int EpisodesStored => Volatile.Read(ref _episodesStored);

    /// <summary>The recording stopped by itself (its episodes are done, a camera was lost, or writing failed): see <see cref="EndReason"/>.</summary>
    public bool Finished => !_writer.IsAlive;

    /// <summary>Why the recording stopped by itself, or null while it records (or when it was stopped).</summary>
    public string? EndReason => _endReason;

    /// <summary>Why writing failed (a full disk), or null.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>Ends the episode being recorded at the next tick (the next frame starts a new one); nothing happens between episodes. Any thread.</summary>
    public void EndEpisode()
    {
        _endRequested = true;
        _wake.Set();
    }

    /// <summary>
    /// Stops ticking, closes the episode being recorded (if it has frames) and stores every episode as
    /// Parquet. Waits up to <paramref name="timeout"/>.
    /// </summary>
    /// <returns>True when everything was stored in time.</returns>
    public bool Stop(TimeSpan timeout)
    {
        var started = MonotonicClock.NowNanoseconds;
        _stopping = true;
        _wake.Set();
        var written = _writer.Join(timeout);
        var left = timeout - TimeSpan.FromTicks((MonotonicClock.NowNanoseconds - started) / 100);
        var stored = _committer.Join(left < TimeSpan.Zero ? TimeSpan.Zero : left);
        return written && stored;
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "a failure ends the recording with its reason; the caller reports it")]
    private void WriteLoop()
    {
        var layout = _dataset.Layout;
        var periodNs = (long)Math.Round(1e9 / _options.Fps);
        var maxAgeNs = (long)(_options.EffectiveMaxFrameAge.TotalMilliseconds * 1e6);
        var lostAfterNs = (long)(_options.LostAfter.TotalMilliseconds * 1e6);
        var syncNs = (long)(_options.SyncInterval.TotalMilliseconds * 1e6);
        // Waiting for a camera's next frame takes at most half a period in all.
        var readWait = TimeSpan.FromTicks(periodNs / 100 / (2 * _cameras.Length));
        var frames = _cameras.Select(c => new CameraFrame(c.Width, c.Height)).ToArray();
        var row = new DatasetFrame(layout) { Reward = float.NaN };
        var lostSince = new long[_cameras.Length];
        EpisodeJournalWriter? journal = null;
        long skipped = 0, skippedInEpisode = 0;
        var lastSync = MonotonicClock.NowNanoseconds;
        var next = lastSync;
        try
        {
            while (!_stopping)
            {
                if (_endRequested)
                {
                    _endRequested = false;
                    if (journal is not null)
                    {
                        Finish(journal, "operator", skippedInEpisode);
                        journal = null;
                        if (_options.Episodes is { } wanted && _episodesFinished >= wanted)
                        {
                            _endReason = $"{wanted} episode(s) recorded";
                            break;
                        }
                    }
                }
                var now = MonotonicClock.NowNanoseconds;
                if (now < next)
                {
                    // Woken early by EndEpisode or Stop; the flags are read again at the top.
                    _wake.Wait(TimeSpan.FromTicks(Math.Max(1, (next - now) / 100)));
                    _wake.Reset();
                    continue;
                }
                // A whole period late (the machine was busy): those ticks are gone, and counted.
                var late = (now - next) / periodNs;
                if (late > 0 && journal is not null)
                {
                    skipped += late;
                    Interlocked.Add(ref _skipped, late);
                }
                next += (late + 1) * periodNs;

                var usable = true;
                for (var c = 0; c < _cameras.Length; c++)
                {
                    var status = _cameras[c].ReadLatest(frames[c], readWait);
                    if (status is CameraReadStatus.Lost or CameraReadStatus.NotRunning)
                    {
                        var at = MonotonicClock.NowNanoseconds;
                        if (lostSince[c] == 0)
                            lostSince[c] = at;
                        else if (at - lostSince[c] >= lostAfterNs)
                            _endReason = _cameras[c].Health.Reason is { Length: > 0 } reason ? reason : $"camera '{_cameras[c].Name}' was lost";
                        usable = false;
                        continue;
                    }
                    lostSince[c] = 0;
                    if (status != CameraReadStatus.Ok || frames[c].AgeNs(MonotonicClock.NowNanoseconds) > maxAgeNs)
                        usable = false;
                }
                if (_endReason is not null)
                    break;
                if (!usable)
                {
                    if (journal is not null)
                    {
                        skipped++;
                        Interlocked.Increment(ref _skipped);
                    }
                    continue;
                }

                for (var c = 0; c < _cameras.Length; c++)
                {
                    row.Png[c] = Imaging.ImageCodecs.EncodePng(frames[c].Pixels, layout.ImageWidth, layout.ImageHeight);
                    row.Integers[2 * c] = frames[c].Sequence;
                    row.Integers[2 * c + 1] = frames[c].CaptureTimestampNs;
                }
                if (journal is null)
                {
                    journal = Begin();
                    skipped = skippedInEpisode = 0;
                }
                row.Integers[^1] = skipped;
                journal.Append(row);
                skippedInEpisode += skipped;
                skipped = 0;
                var written = MonotonicClock.NowNanoseconds;
                var sync = written - lastSync >= syncNs;
                journal.Flush(toDisk: sync);
                if (sync)
                    lastSync = written;
                Interlocked.Increment(ref _recorded);
                Interlocked.Exchange(ref _currentFrames, journal.Frames);
                if (_onFrame is not null)
                {
                    for (var c = 0; c < _cameras.Length; c++)
                        _onFrame(c, frames[c]);
                }
                if (_options.EpisodeFrames is { } length && journal.Frames >= length)
                {
                    Finish(journal, "episode length", skippedInEpisode);
                    journal = null;
                    if (_options.Episodes is { } wanted && _episodesFinished >= wanted)
                    {
                        _endReason = $"{wanted} episode(s) recorded";
                        break;
                    }
                }
            }
            if (journal is not null)
                Finish(journal, _endReason is null ? "recording stopped" : "recording ended: " + _endReason, skippedInEpisode);
        }
        catch (Exception error)
        {
            // The journal keeps what was written; the next open of the dataset stores it.
            Volatile.Write(ref _failure, error);
            _endReason = $"writing the dataset failed: {error.Message}";
            journal?.Dispose();
        }
        finally
        {
            Interlocked.Exchange(ref _currentFrames, 0);
            _finished.CompleteAdding();
        }
    }

    private EpisodeJournalWriter Begin()
    {
        var extra = new Dictionary<string, string>(_options.Extra, StringComparer.Ordinal)
        {
            ["source"] = "rr record --dataset",
            ["rewards"] = "unlabelled",
            ["started_utc"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        };
        _journalNumber++;
        var path = Path.Combine(_dataset.JournalFolder, _journalNumber.ToString("D6", CultureInfo.InvariantCulture) + EpisodeJournal.Extension);
        return EpisodeJournal.Create(path, _dataset.Layout, _options.Task, extra);
    }

    private void Finish(EpisodeJournalWriter journal, string endedBy, long skippedTicks)
    {
        journal.AppendExtra(new Dictionary<string, string>
        {
            ["ended_by"] = endedBy,
            ["skipped_ticks"] = skippedTicks.ToString(CultureInfo.InvariantCulture),
        });
        journal.Close();
        Interlocked.Exchange(ref _currentFrames, 0);
        Interlocked.Increment(ref _episodesFinished);
        _finished.Add(journal.Path);
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "a journal that cannot be stored now stays for the next open of the dataset")]
    private void CommitLoop()
    {
        foreach (var path in _finished.GetConsumingEnumerable())
        {
            try
            {
                if (_dataset.AppendJournal(path) is { } entry)
                {
                    Interlocked.Increment(ref _episodesStored);
                    _onEpisodeStored?.Invoke(entry);
                }
            }
            catch (Exception error)
            {
                Volatile.Write(ref _failure, error);
            }
        }
    }

    /// <summary>Stops (waiting up to 30 s) if still running, then releases the dataset's journal lock.</summary>
    public void Dispose()
    {
        if (_writer.IsAlive || _committer.IsAlive)
            Stop(TimeSpan.FromSeconds(30));
        _lock.Dispose();
        _finished.Dispose();
        _wake.Dispose();
    }
}
