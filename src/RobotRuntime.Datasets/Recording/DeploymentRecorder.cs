using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using RobotRuntime.Telemetry;

namespace RobotRuntime.Datasets.Recording;

/// <summary>What a deployment recording is told about the run.</summary>
public sealed record DeploymentRecordingOptions
{
    /// <summary>The dataset's layout (<see cref="DeploymentLayout.Create"/>).</summary>
    public required DatasetLayout Layout { get; init; }

    /// <summary>The task every episode is labelled with (one of the layout's tasks).</summary>
    public required string Task { get; init; }

    /// <summary>Facts every episode of this run carries (run, policy, encoder, config).</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Frames are handed to the operating system at least this often (and whenever the writer has
    /// caught up with the loop): what a kill of the process can lose beyond the cycles still in the ring.
    /// </summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Frames are forced to the disk at least this often: what a power loss can lose.</summary>
    public TimeSpan SyncInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Records a running control loop into an <see cref="EpisodeDataset"/>: a writer thread drains the
/// loop's <see cref="RecordingRing"/>, turns each cycle into a frame (<see cref="DeploymentLayout.Fill"/>,
/// PNG-encoding the images) and appends it to the episode's journal, handing it to the operating system
/// at least every <see cref="DeploymentRecordingOptions.FlushInterval"/> and to the disk every
/// <see cref="DeploymentRecordingOptions.SyncInterval"/>; a second thread turns each finished episode's
/// journal into its Parquet file. A new episode starts whenever the loop's episode number changes (the
/// policy was reset: the run was armed or reset). The reward of a frame is the one sampled at the next
/// recorded cycle (the reward after its action); without a reward source, rewards are NaN and the
/// episode says <c>"rewards": "unlabelled"</c>.
/// </summary>
/// <remarks>
/// Never slows the loop: the loop only copies into the ring, and when this writer falls behind the ring
/// drops cycles (counted in <see cref="Dropped"/>, in each frame's "recording.dropped_before" and in the
/// episode's <c>"dropped_cycles"</c>). Holds the dataset's journal lock while it records: a second
/// recorder into the same folder is refused. Setup and <see cref="Stop"/> on the operator's thread.
/// </remarks>
public sealed class DeploymentRecorder : IDisposable
{
    private readonly DeploymentRecordingOptions _options;
    private readonly RecordingRing _ring;
    private readonly EpisodeDataset _dataset;
    private readonly IDisposable _lock;
    private readonly Thread _writer;
    private readonly Thread _committer;
    private readonly BlockingCollection<string> _finished = new();
    private readonly bool _rewardsLabelled;
    private volatile bool _stopping;
    private Exception? _failure;
    private long _recorded, _episodes, _journalBytes;
    private int _journalNumber;

    private DeploymentRecorder(DeploymentRecordingOptions options, RecordingRing ring, EpisodeDataset dataset, IDisposable journalLock)
    {
        _options = options;
        _ring = ring;
        _dataset = dataset;
        _lock = journalLock;
        _rewardsLabelled = ring.HasRewardSource;
        _journalNumber = Directory.EnumerateFiles(dataset.JournalFolder, "*" + EpisodeJournal.Extension)
            .Select(f => int.TryParse(Path.GetFileNameWithoutExtension(f), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0)
            .DefaultIfEmpty(0).Max();
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "rr recording writer" };
        _committer = new Thread(CommitLoop) { IsBackground = true, Name = "rr recording committer" };
    }

    /// <summary>
    /// Opens (or creates) the dataset at <paramref name="folder"/> — turning journals a killed recording
    /// left there into episodes first — takes its journal lock and starts the writer.
    /// </summary>
    /// <exception cref="InvalidDataException">The folder holds a dataset of another layout (the message says what differs) or a damaged one.</exception>
    /// <exception cref="IOException">Another recorder records into the folder, or it cannot be written.</exception>
    /// <remarks>Setup only.</remarks>
    public static DeploymentRecorder Start(string folder, DeploymentRecordingOptions options, RecordingRing ring)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(ring);
        if (ring.CameraSizes.Count != options.Layout.Cameras.Count || ring.CameraSizes.Any(s => s != (options.Layout.ImageWidth, options.Layout.ImageHeight)))
            throw new ArgumentException($"the ring's frames ({string.Join(", ", ring.CameraSizes.Select(s => $"{s.Width}x{s.Height}"))}) are not the layout's ({options.Layout.Cameras.Count} of {options.Layout.ImageWidth}x{options.Layout.ImageHeight})", nameof(ring));
        var dataset = EpisodeDataset.OpenOrCreate(folder, options.Layout);
        var journalLock = dataset.TryLockJournals()
            ?? throw new IOException($"{dataset.Folder}: another process is recording into this dataset (it holds journal/writer.lock); record into another folder");
        var recorder = new DeploymentRecorder(options, ring, dataset, journalLock);
        recorder._writer.Start();
        recorder._committer.Start();
        return recorder;
    }

    /// <summary>The dataset recorded into.</summary>
    public EpisodeDataset Dataset => _dataset;

    /// <summary>Cycles written to journals so far.</summary>
    public long Recorded => Interlocked.Read(ref _recorded);

    /// <summary>Cycles the loop could not hand over because the writer was behind.</summary>
    public long Dropped => _ring.Dropped;

    /// <summary>Episodes this recorder has stored as Parquet files.</summary>
    public long EpisodesStored => Interlocked.Read(ref _episodes);

    /// <summary>Bytes written to journals so far (images as PNG).</summary>
    public long JournalBytes => Interlocked.Read(ref _journalBytes);

    /// <summary>Why the recording stopped early (a full disk), or null.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>
    /// Once the loop has stopped: writes what is left in the ring, closes the last episode and stores
    /// every episode as Parquet. Waits up to <paramref name="timeout"/>.
    /// </summary>
    /// <returns>True when everything was stored in time.</returns>
    public bool Stop(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        _stopping = true;
        var written = _writer.Join(timeout);
        var stored = _committer.Join(timeout - deadline.Elapsed < TimeSpan.Zero ? TimeSpan.Zero : timeout - deadline.Elapsed);
        return written && stored;
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "a recording failure must never end the run")]
    private void WriteLoop()
    {
        EpisodeJournalWriter? journal = null;
        var frames = new[] { new DatasetFrame(_options.Layout), new DatasetFrame(_options.Layout) };
        var pending = -1;                 // which of frames waits for the next cycle's reward; -1: none
        long episode = long.MinValue;
        long droppedInEpisode = 0, droppedWritten = 0;
        var clock = Stopwatch.StartNew();
        var lastFlush = TimeSpan.Zero;
        var lastSync = TimeSpan.Zero;
        var unflushed = false;
        try
        {
            while (true)
            {
                if (_ring.TryPeek(out var cycle))
                {
                    if (cycle.Episode != episode)
                    {
                        if (journal is not null)
                        {
                            WritePending(cycle);
                            Finish(journal, droppedInEpisode);
                        }
                        journal = Begin(firstOfRun: episode == long.MinValue);
                        episode = cycle.Episode;
                        droppedInEpisode = droppedWritten = 0;
                    }
                    else
                    {
                        WritePending(cycle);
                    }
                    var next = pending == 0 ? 1 : 0;
                    DeploymentLayout.Fill(frames[next], cycle);
                    droppedInEpisode += cycle.DroppedBefore;
                    pending = next;
                    _ring.Release();
                    unflushed = true;
                }
                else if (_stopping && _ring.Pending == 0)
                {
                    break;
                }
                var now = clock.Elapsed;
                var idle = _ring.Pending == 0;
                if (journal is not null && unflushed && (idle || now - lastFlush >= _options.FlushInterval))
                {
                    if (droppedInEpisode != droppedWritten)
                    {
                        journal.AppendExtra(new Dictionary<string, string> { ["dropped_cycles"] = droppedInEpisode.ToString(CultureInfo.InvariantCulture) });
                        droppedWritten = droppedInEpisode;
                    }
                    var sync = now - lastSync >= _options.SyncInterval;
                    journal.Flush(toDisk: sync);
                    lastFlush = now;
                    if (sync)
                        lastSync = now;
                    unflushed = false;
                    Interlocked.Exchange(ref _journalBytes, _journalBytesBefore + journal.Bytes);
                }
                if (idle && !_stopping)
                    Thread.Sleep(2);
            }
            if (journal is not null)
            {
                WritePending(null);
                Finish(journal, droppedInEpisode);
            }
        }
        catch (Exception error)
        {
            // Whatever it is (a full disk, a codec failure), the recording stops and the run goes on.
            Volatile.Write(ref _failure, error);
            journal?.Dispose();
            // Keep the ring empty so the loop is never affected; the cycles are lost (counted as dropped by nobody).
            while (!_stopping || _ring.Pending > 0)
            {
                while (_ring.TryPeek(out _))
                    _ring.Release();
                Thread.Sleep(10);
            }
        }
        finally
        {
            _finished.CompleteAdding();
        }

        // The frame waiting for its reward gets the one sampled after its action (at the next cycle), then goes to the journal.
        void WritePending(RecordedCycle? after)
        {
            if (pending < 0)
                return;
            var frame = frames[pending];
            frame.Reward = _rewardsLabelled && after is { HasReward: true } ? (float)after.Reward : float.NaN;
            frame.Success = _rewardsLabelled && after is { HasReward: true } && after.Success;
            frame.Done = after is null || after.Episode != episode;
            journal!.Append(frame);
            Interlocked.Increment(ref _recorded);
            pending = -1;
        }
    }

    private long _journalBytesBefore;

    private EpisodeJournalWriter Begin(bool firstOfRun)
    {
        var extra = new Dictionary<string, string>(_options.Extra, StringComparer.Ordinal)
        {
            ["source"] = "rr run --record",
            ["started_by"] = firstOfRun ? "run start (before arming)" : "reset",
            ["rewards"] = _rewardsLabelled ? "simulator" : "unlabelled",
            ["dropped_cycles"] = "0",
        };
        _journalNumber++;
        var path = Path.Combine(_dataset.JournalFolder, _journalNumber.ToString("D6", CultureInfo.InvariantCulture) + EpisodeJournal.Extension);
        return EpisodeJournal.Create(path, _options.Layout, _options.Task, extra);
    }

    private void Finish(EpisodeJournalWriter journal, long dropped)
    {
        journal.AppendExtra(new Dictionary<string, string> { ["dropped_cycles"] = dropped.ToString(CultureInfo.InvariantCulture) });
        journal.Close();
        _journalBytesBefore += journal.Bytes;
        Interlocked.Exchange(ref _journalBytes, _journalBytesBefore);
        if (journal.Frames > 0)
            _finished.Add(journal.Path);
        else
            File.Delete(journal.Path);
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "a recording failure must never end the run")]
    private void CommitLoop()
    {
        foreach (var path in _finished.GetConsumingEnumerable())
        {
            try
            {
                if (_dataset.AppendJournal(path) is not null)
                    Interlocked.Increment(ref _episodes);
            }
            catch (Exception error)
            {
                // The journal stays: the next open of the dataset stores it.
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
    }
}
