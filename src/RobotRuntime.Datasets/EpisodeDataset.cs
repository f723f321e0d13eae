using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace RobotRuntime.Datasets;

/// <summary>Summary of one stored episode, as listed in <c>meta/episodes.jsonl</c>.</summary>
/// <param name="Index">Episode index.</param>
/// <param name="Task">Task name.</param>
/// <param name="Length">Frames.</param>
/// <param name="Extra">The episode's free-form facts (policy, visuals, seed).</param>
public sealed record EpisodeEntry(int Index, string Task, int Length, IReadOnlyDictionary<string, string> Extra);

/// <summary>
/// An episode dataset folder in LeRobot's v2.1 layout, so that the Python ecosystem
/// (LeRobot, Hugging Face datasets, pandas/pyarrow) reads it as it is:
/// <code>
/// meta/info.json        codebase_version "v2.1", fps, features (dtype, shape, names), totals, data_path
/// meta/episodes.jsonl   {"episode_index", "tasks", "length", ...} one line per episode
/// meta/tasks.jsonl      {"task_index", "task"} one line per task
/// data/chunk-000/episode_000000.parquet   one row per frame
/// </code>
/// Each frame row holds "observation.images.&lt;camera&gt;" (an image: struct of PNG "bytes" and
/// "path"), "observation.state", "observation.environment_state", "action" (float lists; each only
/// when the layout has values for it: a recording of cameras alone has none of the three),
/// "next.reward", "next.done", "next.success", "timestamp", "frame_index", "episode_index",
/// "index" (the frame's global index) and "task_index", then the layout's additional columns
/// (<see cref="DatasetLayout.Columns"/>).
/// </summary>
/// <remarks>
/// Crash safety: an episode's Parquet file is written to a temporary name, flushed to disk and
/// renamed, so a file under <c>data/</c> is always whole; its episode entry is also kept in the
/// file's own key-value metadata. <c>meta/</c> is rewritten after each episode and rebuilt from
/// the data files on open, so a kill at any point loses at most the episode being written.
/// An episode recorded over minutes goes to an append-only journal under <c>journal/</c> while it
/// lasts (<see cref="EpisodeJournal"/>, <see cref="AppendJournal"/>); a journal a kill left behind
/// becomes an episode the next time the dataset is opened.
/// Episodes are appended in index order. One writer at a time; readers may run while it writes.
/// </remarks>
public sealed class EpisodeDataset
{
    /// <summary>LeRobot's dataset format version this layout follows.</summary>
    public const string CodebaseVersion = "v2.1";

    /// <summary>Episodes per data chunk folder.</summary>
    public const int ChunkSize = 1000;

    private const string EpisodeMetadataKey = "robotruntime.episode";
    private const string LayoutKey = "robotruntime.layout";
    private readonly List<EpisodeEntry> _episodes = [];
    private readonly List<long> _firstFrame = [];
    private readonly ParquetSchema _schema;

    private EpisodeDataset(string folder, DatasetLayout layout)
    {
        Folder = folder;
        Layout = layout;
        _schema = BuildSchema(layout);
    }

    /// <summary>The dataset folder.</summary>
    public string Folder { get; }

    /// <summary>What each frame holds.</summary>
    public DatasetLayout Layout { get; }

    /// <summary>Stored episodes in index order.</summary>
    public IReadOnlyList<EpisodeEntry> Episodes => _episodes;

    /// <summary>Frames over all episodes.</summary>
    public long TotalFrames => _episodes.Count == 0 ? 0 : _firstFrame[^1] + _episodes[^1].Length;

    /// <summary>
    /// Opens the dataset in <paramref name="folder"/>, or creates it with <paramref name="layout"/>
    /// when the folder has none. An existing dataset must have the same layout.
    /// </summary>
    /// <exception cref="InvalidDataException">The existing dataset has another layout (the message says which field differs) or a damaged file.</exception>
    public static EpisodeDataset OpenOrCreate(string folder, DatasetLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        layout.Validate();
        var full = Path.GetFullPath(folder);
        if (File.Exists(Path.Combine(full, "meta", "info.json")))
        {
            var existing = Open(full);
            if (!existing.Layout.SameAs(layout))
                throw new InvalidDataException($"{full} holds a dataset with another layout ({Describe(existing.Layout)}); asked for {Describe(layout)}. Use another folder or the same settings.");
            return existing;
        }
        Directory.CreateDirectory(Path.Combine(full, "meta"));
        Directory.CreateDirectory(Path.Combine(full, "data"));
        var dataset = new EpisodeDataset(full, layout);
        dataset.WriteMeta();
        return dataset;
    }

    /// <summary>Opens an existing dataset, rebuilding <c>meta/</c> from the data files if a kill left it behind them.</summary>
    /// <exception cref="FileNotFoundException">No <c>meta/info.json</c> in the folder.</exception>
    /// <exception cref="InvalidDataException">info.json is not a RobotRuntime dataset of a known version, or episodes are missing from the sequence.</exception>
    public static EpisodeDataset Open(string folder)
    {
        var full = Path.GetFullPath(folder);
        var infoPath = Path.Combine(full, "meta", "info.json");
        if (!File.Exists(infoPath))
            throw new FileNotFoundException($"{full} is not an episode dataset: no meta/info.json (make one with rr collect, rr record --dataset or rr run --record)", infoPath);
        JsonNode info;
        try
        {
            info = JsonNode.Parse(File.ReadAllText(infoPath)) ?? throw new InvalidDataException("empty");
        }
        catch (JsonException error)
        {
            throw new InvalidDataException($"{infoPath}: not valid JSON ({error.Message})");
        }
        var version = info["codebase_version"]?.GetValue<string>();
        if (version != CodebaseVersion)
            throw new InvalidDataException($"{infoPath}: codebase_version is '{version}'; this reader knows '{CodebaseVersion}'");
        var layoutNode = info[LayoutKey] ?? throw new InvalidDataException($"{infoPath}: no '{LayoutKey}' entry; was it written by RobotRuntime?");
        var layout = layoutNode.Deserialize<DatasetLayout>(JsonOptions) ?? throw new InvalidDataException($"{infoPath}: '{LayoutKey}' is empty");
        try
        {
            layout.Validate();
        }
        catch (ArgumentException error)
        {
            throw new InvalidDataException($"{infoPath}: {error.Message}");
        }
        var dataset = new EpisodeDataset(full, layout);
        dataset.Reconcile();
        dataset.RecoverJournals();
        return dataset;
    }

    /// <summary>Appends <paramref name="episode"/>, whose index must be <see cref="Episodes"/>.Count.</summary>
    /// <exception cref="ArgumentException">Wrong index, another layout, or no frames.</exception>
    public void Append(Episode episode)
    {
        ArgumentNullException.ThrowIfNull(episode);
        if (!episode.Layout.SameAs(Layout))
            throw new ArgumentException("episode was recorded with another dataset layout", nameof(episode));
        if (episode.Index != _episodes.Count)
            throw new ArgumentException($"episode index {episode.Index}; the next episode of this dataset is {_episodes.Count}", nameof(episode));
        if (episode.Length == 0)
            throw new ArgumentException($"episode {episode.Index} has no frames", nameof(episode));
        var entry = new EpisodeEntry(episode.Index, episode.Task, episode.Length, new Dictionary<string, string>(episode.Extra));
        var taskIndex = TaskIndex(episode.Task);
        var firstFrame = TotalFrames;
        var rows = new List<IDictionary<string, object?>>(episode.Length);
        var pngs = new byte[Layout.Cameras.Count][];
        for (var frame = 0; frame < episode.Length; frame++)
        {
            for (var c = 0; c < pngs.Length; c++)
                pngs[c] = Imaging.ImageCodecs.EncodePng(episode.Image(c, frame), Layout.ImageWidth, Layout.ImageHeight);
            rows.Add(BuildRow(pngs, episode.State(frame), episode.Action(frame), episode.EnvironmentState(frame),
                episode.Rewards[frame], episode.Done[frame], episode.Success[frame],
                System.Runtime.InteropServices.CollectionsMarshal.AsSpan(episode.ColumnNumbers).Slice(frame * Layout.ColumnNumberCount, Layout.ColumnNumberCount),
                System.Runtime.InteropServices.CollectionsMarshal.AsSpan(episode.ColumnIntegers).Slice(frame * Layout.ColumnIntegerCount, Layout.ColumnIntegerCount),
                frame, episode.Index, firstFrame, taskIndex));
        }
        var path = DataPath(episode.Index);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            ParquetSerializer.SerializeUntypedAsync(rows, _schema, stream, customMetadata: new Dictionary<string, string>
            {
                [EpisodeMetadataKey] = EntryJson(entry).ToJsonString(),
            }).GetAwaiter().GetResult();
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
        _episodes.Add(entry);
        _firstFrame.Add(firstFrame);
        WriteMeta();
    }

    /// <summary>The folder of journals of episodes being recorded (<see cref="EpisodeJournal"/>).</summary>
    public string JournalFolder => Path.Combine(Folder, "journal");

    /// <summary>Rows per Parquet row group when an episode is written from a journal (fewer when its images are large).</summary>
    public const int JournalRowGroupRows = 256;

    /// <summary>Image bytes per Parquet row group, at most, when an episode is written from a journal.</summary>
    public const long JournalRowGroupBytes = 64L << 20;

    /// <summary>
    /// Appends the episode recorded in the journal at <paramref name="journalPath"/> as the next episode
    /// (index <see cref="Episodes"/>.Count), in Parquet row groups so that its frames are never all in
    /// memory at once, then deletes the journal. A journal without frames is deleted and adds nothing.
    /// A journal that was not closed (its writer was killed) is kept as far as its last whole record;
    /// its entry says so (<c>"recovered": "true"</c>).
    /// </summary>
    /// <returns>The new episode's entry, or null when the journal held no frame.</returns>
    /// <exception cref="InvalidDataException">The journal is not one, or is of another layout; the message names it. It is left in place.</exception>
    /// <exception cref="IOException">The journal is still being written by another writer (it is locked).</exception>
    public EpisodeEntry? AppendJournal(string journalPath)
    {
        var full = Path.GetFullPath(journalPath);
        var index = _episodes.Count;
        var firstFrame = TotalFrames;
        var path = DataPath(index);
        var temporary = path + ".tmp";
        EpisodeJournalSummary summary;
        using (var journal = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.None))
        {
            var (layout, task, extra) = EpisodeJournal.ReadHeader(journal, full);
            if (!layout.SameAs(Layout))
                throw new InvalidDataException($"{full}: the journal's layout ({Describe(layout)}) is not the dataset's ({Describe(Layout)})");
            var taskIndex = TaskIndex(task);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using var stream = new FileStream(temporary, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
            var batch = new List<IDictionary<string, object?>>();
            long batchBytes = 0;
            var written = 0;
            summary = EpisodeJournal.ReadFrames(journal, layout, task, extra, frame =>
            {
                batch.Add(BuildRow(frame.Png, frame.State, frame.Action, frame.EnvironmentState, frame.Reward, frame.Done, frame.Success,
                    frame.Numbers, frame.Integers, written + batch.Count, index, firstFrame, taskIndex));
                batchBytes += frame.Png.Sum(p => (long)p.Length);
                if (batch.Count >= JournalRowGroupRows || batchBytes >= JournalRowGroupBytes)
                    WriteBatch();
            });
            if (summary.Frames > 0)
            {
                // The last row group carries the entry (the episode's length is known only now).
                var closedExtra = new Dictionary<string, string>(summary.Extra, StringComparer.Ordinal);
                if (!summary.Closed)
                {
                    closedExtra["recovered"] = "true";
                    closedExtra["recovered_torn_bytes"] = summary.TornBytes.ToString(CultureInfo.InvariantCulture);
                }
                summary = summary with { Extra = closedExtra };
                // Its last frame ends the episode: done.
                if (batch.Count > 0)
                    batch[^1]["next.done"] = true;
                WriteBatch(new EpisodeEntry(index, task, summary.Frames, closedExtra));
                stream.Flush(flushToDisk: true);
            }

            void WriteBatch(EpisodeEntry? entry = null)
            {
                if (batch.Count == 0 && entry is null)
                    return;
                // Each batch is written with the entry as far as it goes; the last one's is the file's.
                entry ??= new EpisodeEntry(index, task, written + batch.Count, extra);
                ParquetSerializer.SerializeUntypedAsync(batch, _schema, stream, new ParquetOptions { Append = written > 0 }, new Dictionary<string, string>
                {
                    [EpisodeMetadataKey] = EntryJson(entry).ToJsonString(),
                }).GetAwaiter().GetResult();
                written += batch.Count;
                batch.Clear();
                batchBytes = 0;
            }
        }
        if (summary.Frames == 0)
        {
            File.Delete(temporary);
            File.Delete(full);
            return null;
        }
        File.Move(temporary, path, overwrite: true);
        var added = new EpisodeEntry(index, summary.Task, summary.Frames, summary.Extra);
        _episodes.Add(added);
        _firstFrame.Add(firstFrame);
        WriteMeta();
        File.Delete(full);
        return added;
    }

    /// <summary>
    /// Turns the journals a killed recording left under <c>journal/</c> into episodes, oldest first.
    /// Skipped while another process records into the dataset (it holds the journal folder's lock
    /// and recovers them itself); a journal still being written is never touched.
    /// </summary>
    private void RecoverJournals()
    {
        var folder = JournalFolder;
        if (!Directory.Exists(folder))
            return;
        var journals = Directory.EnumerateFiles(folder, "*" + EpisodeJournal.Extension).Order(StringComparer.Ordinal).ToList();
        if (journals.Count == 0)
            return;
        using var writer = TryLockJournals();
        if (writer is null)
            return;
        foreach (var journal in journals)
        {
            try
            {
                AppendJournal(journal);
            }
            catch (IOException) when (File.Exists(journal))
            {
                // Locked: a writer of this process is still recording into it.
            }
        }
    }

    /// <summary>The lock a recorder holds on <c>journal/</c> for as long as it records into the dataset; null when another holds it.</summary>
    /// <remarks>An advisory lock (flock) on <c>journal/writer.lock</c>, released by the OS however the holder ends.</remarks>
    public IDisposable? TryLockJournals()
    {
        Directory.CreateDirectory(JournalFolder);
        try
        {
            return new FileStream(Path.Combine(JournalFolder, "writer.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private long TaskIndex(string task) => Layout.Tasks.ToList().IndexOf(task);

    /// <summary>Reads episode <paramref name="index"/> with its images decoded.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No such episode.</exception>
    /// <exception cref="InvalidDataException">The file is damaged or does not match the layout; the message names the file.</exception>
    public Episode Read(int index)
    {
        if (index < 0 || index >= _episodes.Count)
            throw new ArgumentOutOfRangeException(nameof(index), $"episode {index} does not exist; the dataset has {_episodes.Count}");
        var entry = _episodes[index];
        var path = DataPath(index);
        IList<Dictionary<string, object>> rows;
        try
        {
            using var stream = File.OpenRead(path);
            rows = ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult().Data;
        }
        catch (Exception error) when (error is not IOException and not UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: not a readable Parquet file ({error.Message})");
        }
        if (rows.Count != entry.Length)
            throw new InvalidDataException($"{path}: {rows.Count} rows; meta/episodes.jsonl says {entry.Length}");
        return ToEpisode(rows, index, path);
    }

    /// <summary>
    /// Reads episode <paramref name="index"/> one Parquet row group at a time, images decoded: each part
    /// holds the frames from <c>FirstFrame</c> on, so a long recorded episode is never all in memory.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No such episode.</exception>
    /// <exception cref="InvalidDataException">The file is damaged or does not match the layout; the message names the file.</exception>
    public IEnumerable<(int FirstFrame, Episode Part)> ReadParts(int index)
    {
        if (index < 0 || index >= _episodes.Count)
            throw new ArgumentOutOfRangeException(nameof(index), $"episode {index} does not exist; the dataset has {_episodes.Count}");
        return Parts();

        IEnumerable<(int, Episode)> Parts()
        {
            var path = DataPath(index);
            using var stream = File.OpenRead(path);
            int groups;
            try
            {
                var reader = ParquetReader.CreateAsync(stream).GetAwaiter().GetResult();
                groups = reader.RowGroupCount;
                reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            catch (Exception error) when (error is not IOException and not UnauthorizedAccessException)
            {
                throw new InvalidDataException($"{path}: not a readable Parquet file ({error.Message})");
            }
            var first = 0;
            for (var group = 0; group < groups; group++)
            {
                IList<Dictionary<string, object>> rows;
                try
                {
                    stream.Position = 0;
                    rows = ParquetSerializer.DeserializeUntypedAsync(stream, null, group).GetAwaiter().GetResult().Data;
                }
                catch (Exception error) when (error is not IOException and not UnauthorizedAccessException)
                {
                    throw new InvalidDataException($"{path}: row group {group} is not readable ({error.Message})");
                }
                yield return (first, ToEpisode(rows, index, path));
                first += rows.Count;
            }
            if (first != _episodes[index].Length)
                throw new InvalidDataException($"{path}: {first} rows; meta/episodes.jsonl says {_episodes[index].Length}");
        }
    }

    private Episode ToEpisode(IList<Dictionary<string, object>> rows, int index, string path)
    {
        var entry = _episodes[index];
        var episode = new Episode(Layout, index, entry.Task);
        foreach (var (key, value) in entry.Extra)
            episode.Extra[key] = value;
        var images = Layout.Cameras.Select(_ => new byte[Layout.ImageBytes]).ToArray();
        var numbers = new double[Layout.ColumnNumberCount];
        var integers = new long[Layout.ColumnIntegerCount];
        for (var frame = 0; frame < rows.Count; frame++)
        {
            var row = rows[frame];
            for (var c = 0; c < Layout.Cameras.Count; c++)
            {
                var column = "observation.images." + Layout.Cameras[c];
                var cell = Get<IDictionary<string, object>>(row, column, path, frame);
                var png = cell.TryGetValue("bytes", out var bytes) ? bytes as byte[] : null;
                if (png is null)
                    throw new InvalidDataException($"{path}: frame {frame} has no image bytes in '{column}'");
                Imaging.ImageCodecs.Decode(png, Layout.ImageWidth, Layout.ImageHeight, images[c], $"{path} frame {frame} {column}");
            }
            int n = 0, k = 0;
            foreach (var column in Layout.Columns)
            {
                switch (column.Type)
                {
                    case DatasetColumnType.Bool: integers[k++] = Get<bool>(row, column.Name, path, frame) ? 1 : 0; break;
                    case DatasetColumnType.Int64: integers[k++] = Get<long>(row, column.Name, path, frame); break;
                    case DatasetColumnType.Float64: numbers[n++] = Get<double>(row, column.Name, path, frame); break;
                    default:
                        var values = Get<IEnumerable<double>>(row, column.Name, path, frame).ToArray();
                        if (values.Length != column.Width)
                            throw new InvalidDataException($"{path}: frame {frame} column '{column.Name}' has {values.Length} values; the layout says {column.Width}");
                        values.CopyTo(numbers, n);
                        n += values.Length;
                        break;
                }
            }
            episode.Add(images,
                Layout.HasState ? Floats(row, "observation.state", Layout.StateNames.Count, path, frame) : [],
                Layout.HasAction ? Floats(row, "action", Layout.ActionNames.Count, path, frame) : [],
                Layout.EnvironmentStateNames.Count == 0 ? [] : Floats(row, "observation.environment_state", Layout.EnvironmentStateNames.Count, path, frame),
                Get<float>(row, "next.reward", path, frame),
                Get<bool>(row, "next.done", path, frame),
                Get<bool>(row, "next.success", path, frame),
                numbers, integers);
        }
        return episode;
    }

    /// <summary>The Parquet file of episode <paramref name="index"/>.</summary>
    public string DataPath(int index) => Path.Combine(Folder, "data",
        string.Create(CultureInfo.InvariantCulture, $"chunk-{index / ChunkSize:D3}"),
        string.Create(CultureInfo.InvariantCulture, $"episode_{index:D6}.parquet"));

    private static T Get<T>(Dictionary<string, object> row, string column, string path, int frame) =>
        row.TryGetValue(column, out var value) && value is T typed
            ? typed
            : throw new InvalidDataException($"{path}: frame {frame} has no {typeof(T).Name} in column '{column}'");

    private static float[] Floats(Dictionary<string, object> row, string column, int count, string path, int frame)
    {
        var values = Get<IEnumerable<float>>(row, column, path, frame).ToArray();
        if (values.Length != count)
            throw new InvalidDataException($"{path}: frame {frame} column '{column}' has {values.Length} values; the layout says {count}");
        return values;
    }

    private Dictionary<string, object?> BuildRow(IReadOnlyList<byte[]> pngs, ReadOnlySpan<float> state, ReadOnlySpan<float> action, ReadOnlySpan<float> environmentState,
        float reward, bool done, bool success, ReadOnlySpan<double> numbers, ReadOnlySpan<long> integers, long frame, long episodeIndex, long firstFrame, long taskIndex)
    {
        var row = new Dictionary<string, object?>(StringComparer.Ordinal);
        for (var c = 0; c < Layout.Cameras.Count; c++)
        {
            row["observation.images." + Layout.Cameras[c]] = new Dictionary<string, object?>
            {
                ["bytes"] = (ReadOnlyMemory<byte>?)pngs[c].ToArray(),
                ["path"] = null,
            };
        }
        if (Layout.HasState)
            row["observation.state"] = state.ToArray();
        if (Layout.EnvironmentStateNames.Count > 0)
            row["observation.environment_state"] = environmentState.ToArray();
        if (Layout.HasAction)
            row["action"] = action.ToArray();
        row["next.reward"] = reward;
        row["next.done"] = done;
        row["next.success"] = success;
        row["timestamp"] = (float)(frame / Layout.Fps);
        row["frame_index"] = frame;
        row["episode_index"] = episodeIndex;
        row["index"] = firstFrame + frame;
        row["task_index"] = taskIndex;
        int n = 0, k = 0;
        foreach (var column in Layout.Columns)
        {
            row[column.Name] = column.Type switch
            {
                DatasetColumnType.Bool => integers[k++] != 0,
                DatasetColumnType.Int64 => integers[k++],
                DatasetColumnType.Float64 => numbers[n++],
                _ => numbers.Slice(n, column.Width).ToArray(),
            };
            if (column.Type == DatasetColumnType.Float64Vector)
                n += column.Width;
        }
        return row;
    }

    private static ParquetSchema BuildSchema(DatasetLayout layout)
    {
        var fields = new List<Field>();
        foreach (var camera in layout.Cameras)
            fields.Add(new StructField("observation.images." + camera, new DataField<byte[]>("bytes"), new DataField<string>("path", true)));
        if (layout.HasState)
            fields.Add(new ListField("observation.state", new DataField<float>("element")));
        if (layout.EnvironmentStateNames.Count > 0)
            fields.Add(new ListField("observation.environment_state", new DataField<float>("element")));
        if (layout.HasAction)
            fields.Add(new ListField("action", new DataField<float>("element")));
        fields.Add(new DataField<float>("next.reward"));
        fields.Add(new DataField<bool>("next.done"));
        fields.Add(new DataField<bool>("next.success"));
        fields.Add(new DataField<float>("timestamp"));
        fields.Add(new DataField<long>("frame_index"));
        fields.Add(new DataField<long>("episode_index"));
        fields.Add(new DataField<long>("index"));
        fields.Add(new DataField<long>("task_index"));
        foreach (var column in layout.Columns)
        {
            fields.Add(column.Type switch
            {
                DatasetColumnType.Bool => new DataField<bool>(column.Name),
                DatasetColumnType.Int64 => new DataField<long>(column.Name),
                DatasetColumnType.Float64 => new DataField<double>(column.Name),
                _ => new ListField(column.Name, new DataField<double>("element")),
            });
        }
        return new ParquetSchema(fields);
    }

    /// <summary>
    /// Makes <c>meta/episodes.jsonl</c> agree with the data files: entries come from the files'
    /// own metadata, a torn last line is dropped, leftover temporary files are removed. The
    /// episodes must run 0, 1, 2 … without a gap.
    /// </summary>
    private void Reconcile()
    {
        var dataRoot = Path.Combine(Folder, "data");
        Directory.CreateDirectory(dataRoot);
        foreach (var leftover in Directory.EnumerateFiles(dataRoot, "*.parquet.tmp", SearchOption.AllDirectories))
            File.Delete(leftover);
        var listed = new Dictionary<int, EpisodeEntry>();
        var episodesPath = Path.Combine(Folder, "meta", "episodes.jsonl");
        if (File.Exists(episodesPath))
        {
            foreach (var line in File.ReadLines(episodesPath))
            {
                if (string.IsNullOrWhiteSpace(line))
                    continue;
                try
                {
                    var entry = ParseEntry(JsonNode.Parse(line)!);
                    listed[entry.Index] = entry;
                }
                catch (Exception error) when (error is JsonException or InvalidOperationException or NullReferenceException or FormatException)
                {
                    // A line torn by a kill; the file's own metadata will supply the entry.
                }
            }
        }
        var files = Directory.EnumerateFiles(dataRoot, "episode_*.parquet", SearchOption.AllDirectories)
            .Select(f => (Path: f, Index: int.Parse(Path.GetFileNameWithoutExtension(f)["episode_".Length..], CultureInfo.InvariantCulture)))
            .OrderBy(f => f.Index).ToList();
        var changed = false;
        for (var i = 0; i < files.Count; i++)
        {
            if (files[i].Index != i)
                throw new InvalidDataException($"{Folder}: episode {i} is missing from data/ (next file is episode {files[i].Index}); the dataset is damaged");
            if (!listed.TryGetValue(i, out var entry))
            {
                entry = ReadEntryFromFile(files[i].Path);
                changed = true;
            }
            _episodes.Add(entry);
            _firstFrame.Add(i == 0 ? 0 : _firstFrame[i - 1] + _episodes[i - 1].Length);
        }
        if (changed || listed.Count != files.Count)
            WriteMeta();
    }

    private static EpisodeEntry ReadEntryFromFile(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            var reader = ParquetReader.CreateAsync(stream).GetAwaiter().GetResult();
            try
            {
                if (!reader.CustomMetadata.TryGetValue(EpisodeMetadataKey, out var json))
                    throw new InvalidDataException($"{path}: no '{EpisodeMetadataKey}' metadata");
                return ParseEntry(JsonNode.Parse(json)!);
            }
            finally
            {
                reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        catch (Exception error) when (error is not InvalidDataException and not IOException)
        {
            throw new InvalidDataException($"{path}: not a readable episode file ({error.Message})");
        }
    }

    private static EpisodeEntry ParseEntry(JsonNode node)
    {
        var extra = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in node.AsObject())
        {
            if (key is "episode_index" or "tasks" or "length" || value is null)
                continue;
            extra[key] = value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString();
        }
        return new EpisodeEntry(node["episode_index"]!.GetValue<int>(), node["tasks"]![0]!.GetValue<string>(), node["length"]!.GetValue<int>(), extra);
    }

    private static JsonObject EntryJson(EpisodeEntry entry)
    {
        var node = new JsonObject
        {
            ["episode_index"] = entry.Index,
            ["tasks"] = new JsonArray(entry.Task),
            ["length"] = entry.Length,
        };
        foreach (var (key, value) in entry.Extra.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            node[key] = value;
        return node;
    }

    private void WriteMeta()
    {
        var meta = Path.Combine(Folder, "meta");
        Directory.CreateDirectory(meta);
        WriteAtomically(Path.Combine(meta, "episodes.jsonl"), string.Concat(_episodes.Select(e => EntryJson(e).ToJsonString() + "\n")));
        WriteAtomically(Path.Combine(meta, "tasks.jsonl"), string.Concat(Layout.Tasks.Select((t, i) => new JsonObject { ["task_index"] = i, ["task"] = t }.ToJsonString() + "\n")));
        WriteAtomically(Path.Combine(meta, "info.json"), InfoJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private JsonObject InfoJson()
    {
        var features = new JsonObject();
        foreach (var camera in Layout.Cameras)
        {
            features["observation.images." + camera] = new JsonObject
            {
                ["dtype"] = "image",
                ["shape"] = new JsonArray(Layout.ImageHeight, Layout.ImageWidth, 3),
                ["names"] = new JsonArray("height", "width", "channel"),
            };
        }
        if (Layout.HasState)
            features["observation.state"] = Vector(Layout.StateNames);
        if (Layout.EnvironmentStateNames.Count > 0)
            features["observation.environment_state"] = Vector(Layout.EnvironmentStateNames);
        if (Layout.HasAction)
            features["action"] = Vector(Layout.ActionNames);
        features["next.reward"] = Scalar("float32");
        features["next.done"] = Scalar("bool");
        features["next.success"] = Scalar("bool");
        features["timestamp"] = Scalar("float32");
        features["frame_index"] = Scalar("int64");
        features["episode_index"] = Scalar("int64");
        features["index"] = Scalar("int64");
        features["task_index"] = Scalar("int64");
        foreach (var column in Layout.Columns)
        {
            features[column.Name] = column.Type switch
            {
                DatasetColumnType.Bool => Scalar("bool"),
                DatasetColumnType.Int64 => Scalar("int64"),
                DatasetColumnType.Float64 => Scalar("float64"),
                _ => new JsonObject
                {
                    ["dtype"] = "float64",
                    ["shape"] = new JsonArray(column.Width),
                    ["names"] = new JsonArray(column.Names!.Select(n => (JsonNode?)n).ToArray()),
                },
            };
        }
        return new JsonObject
        {
            ["codebase_version"] = CodebaseVersion,
            ["robot_type"] = Layout.RobotType,
            ["total_episodes"] = _episodes.Count,
            ["total_frames"] = TotalFrames,
            ["total_tasks"] = Layout.Tasks.Count,
            ["total_videos"] = 0,
            ["total_chunks"] = _episodes.Count == 0 ? 0 : (_episodes.Count - 1) / ChunkSize + 1,
            ["chunks_size"] = ChunkSize,
            ["fps"] = Layout.Fps,
            ["splits"] = new JsonObject { ["train"] = $"0:{_episodes.Count}" },
            ["data_path"] = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
            ["video_path"] = null,
            ["features"] = features,
            [LayoutKey] = JsonSerializer.SerializeToNode(Layout, JsonOptions),
        };

        static JsonObject Vector(IReadOnlyList<string> names) => new()
        {
            ["dtype"] = "float32",
            ["shape"] = new JsonArray(names.Count),
            ["names"] = new JsonArray(names.Select(n => (JsonNode?)n).ToArray()),
        };

        static JsonObject Scalar(string dtype) => new() { ["dtype"] = dtype, ["shape"] = new JsonArray(1), ["names"] = null };
    }

    internal static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private static string Describe(DatasetLayout layout) =>
        $"robot {layout.RobotType}, {layout.ImageWidth}x{layout.ImageHeight}, cameras {string.Join("+", layout.Cameras)}, tasks {string.Join("+", layout.Tasks)}, {layout.Fps} fps";

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> whole or not at all: a temporary file flushed to disk, then renamed over it.</summary>
    public static void WriteAtomically(string path, string text)
    {
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(text);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
