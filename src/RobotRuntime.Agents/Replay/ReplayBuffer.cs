using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using RobotRuntime.Agents.Model;

namespace RobotRuntime.Agents.Replay;

/// <summary>Flags of one replay record.</summary>
[Flags]
public enum ReplayFlags : byte
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>The record holds an action (and the reward that followed); the last observation of an episode has none.</summary>
    HasAction = 1,

    /// <summary>The action ended the episode by termination (success): no bootstrap after it.</summary>
    Terminated = 2,

    /// <summary>
    /// This observation was not recorded: it repeats the previous record's, to close an episode whose last
    /// action terminated it (a dataset holds no observation after an episode's last action). No consistency
    /// loss is computed against it; the terminated transition before it keeps its reward and value losses.
    /// </summary>
    Padding = 4,
}

/// <summary>
/// The replay buffer as a memory-mapped file: a header describing the record layout, then a ring of
/// fixed-size records, one per observation: the step's features (image bytes or float embeddings),
/// proprioception, the action taken from it, the reward that followed, flags, episode and step index.
/// The committed record count sits in the header and is advanced only after a record is fully
/// written, so a killed process loses at most the record it was writing; the pages live in the
/// operating system's page cache, and <see cref="Flush"/> (called at checkpoints) writes them to disk.
/// </summary>
/// <remarks>One writer thread; sampling from the same thread. Setup methods throw; <see cref="Append"/>
/// does not allocate.</remarks>
public sealed unsafe class ReplayBuffer : IDisposable
{
    private const int HeaderBytes = 4096;
    private const long TotalOffset = 256;
    private static readonly byte[] s_magic = "RRREPLAY"u8.ToArray();
    private const int FormatVersion = 1;

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly int _proprioOffset, _actionOffset, _rewardOffset, _flagsOffset, _episodeOffset, _stepOffset;

    private ReplayBuffer(string path, MemoryMappedFile file, MemoryMappedViewAccessor view, ObservationLayout layout, long capacity)
    {
        Path = path;
        _file = file;
        _view = view;
        Layout = layout;
        Capacity = capacity;
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + _view.PointerOffset;
        _proprioOffset = layout.FeatureBytes;
        _actionOffset = _proprioOffset + layout.ProprioceptionLength * sizeof(float);
        _rewardOffset = _actionOffset + layout.ActionDim * sizeof(float);
        _flagsOffset = _rewardOffset + sizeof(float);
        _episodeOffset = _flagsOffset + 4;
        _stepOffset = _episodeOffset + sizeof(int);
        RecordBytes = (_stepOffset + sizeof(int) + 7) / 8 * 8;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>The record layout.</summary>
    public ObservationLayout Layout { get; }

    /// <summary>Records the ring holds.</summary>
    public long Capacity { get; }

    /// <summary>Bytes one record (one transition) takes on disk.</summary>
    public int RecordBytes { get; }

    /// <summary>Records ever committed (the ring keeps the last <see cref="Capacity"/>).</summary>
    public long Total => Volatile.Read(ref *(long*)(_base + TotalOffset));

    /// <summary>Index of the oldest record still held.</summary>
    public long Oldest => Math.Max(0, Total - Capacity);

    /// <summary>Bytes per record for a layout (what <see cref="RecordBytes"/> will be), for reporting memory per transition per mode.</summary>
    public static int RecordBytesFor(ObservationLayout layout) =>
        (layout.FeatureBytes + (layout.ProprioceptionLength + layout.ActionDim + 1) * sizeof(float) + 4 + 2 * sizeof(int) + 7) / 8 * 8;

    /// <summary>Creates a new buffer file (replacing none: an existing file is an error).</summary>
    /// <exception cref="IOException">The file exists.</exception>
    public static ReplayBuffer Create(string path, ObservationLayout layout, long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 16);
        if (File.Exists(path))
        {
            throw new IOException($"replay buffer '{path}' already exists; open it to resume or choose another run folder");
        }
        long size = HeaderBytes + capacity * RecordBytesFor(layout);
        using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            stream.SetLength(size);
            var header = new byte[HeaderBytes];
            s_magic.CopyTo(header, 0);
            var text = Encoding.UTF8.GetBytes(Describe(layout, capacity));
            BitConverter.TryWriteBytes(header.AsSpan(8), FormatVersion);
            BitConverter.TryWriteBytes(header.AsSpan(12), text.Length);
            text.CopyTo(header, 16);
            stream.Write(header);
            stream.Flush(flushToDisk: true);
        }
        return Map(path, layout, capacity);
    }

    /// <summary>Opens an existing buffer, checking that it was made for <paramref name="layout"/>.</summary>
    /// <exception cref="InvalidDataException">Not a replay file, or a different layout; the message says what differs.</exception>
    public static ReplayBuffer Open(string path, ObservationLayout layout, long capacity)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"replay buffer '{path}' does not exist", path);
        }
        string found = ReadDescription(path, out long fileLength);
        string expected = Describe(layout, capacity);
        if (found != expected)
        {
            throw new InvalidDataException($"replay buffer '{path}' was made for {found}, but this run needs {expected}");
        }
        if (fileLength != HeaderBytes + capacity * RecordBytesFor(layout))
        {
            throw new InvalidDataException($"replay buffer '{path}' is {fileLength} bytes; {HeaderBytes + capacity * RecordBytesFor(layout)} were expected");
        }
        return Map(path, layout, capacity);
    }

    /// <summary>
    /// The capacity an existing buffer file was created with (read from its header), so a run that is
    /// extended with more steps keeps its ring instead of needing a new file.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a replay file, or its header names no capacity.</exception>
    public static long ReadCapacity(string path)
    {
        string text = ReadDescription(path, out _);
        const string key = "capacity=";
        int at = text.LastIndexOf(key, StringComparison.Ordinal);
        if (at < 0 || !long.TryParse(text.AsSpan(at + key.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long capacity))
        {
            throw new InvalidDataException($"replay buffer '{path}' names no capacity in its header ('{text}')");
        }
        return capacity;
    }

    /// <summary>The layout/capacity text in a buffer file's header (and the file's length).</summary>
    /// <exception cref="InvalidDataException">Not a replay file.</exception>
    private static string ReadDescription(string path, out long fileLength)
    {
        var header = new byte[HeaderBytes];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read);
        fileLength = stream.Length;
        if (stream.Length < HeaderBytes || stream.Read(header) != HeaderBytes || !header.AsSpan(0, 8).SequenceEqual(s_magic))
        {
            throw new InvalidDataException($"'{path}' is not a RobotRuntime replay buffer (bad header)");
        }
        int length = BitConverter.ToInt32(header, 12);
        return Encoding.UTF8.GetString(header, 16, Math.Clamp(length, 0, HeaderBytes - 16 - 16));
    }

    private static string Describe(ObservationLayout layout, long capacity) =>
        $"kind={layout.Kind} features={layout.FeatureLength} cameras={layout.Cameras} image={layout.ImageSize} proprio={layout.ProprioceptionLength} actions={layout.ActionDim} capacity={capacity}";

    private static ReplayBuffer Map(string path, ObservationLayout layout, long capacity)
    {
        var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
        var view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.ReadWrite);
        return new ReplayBuffer(path, file, view, layout, capacity);
    }

    /// <summary>
    /// Appends one record and commits it. <paramref name="features"/> is <see cref="ObservationLayout.FeatureBytes"/>
    /// bytes; <paramref name="action"/> is empty for an episode's last observation.
    /// </summary>
    /// <remarks>No allocation.</remarks>
    public void Append(ReadOnlySpan<byte> features, ReadOnlySpan<float> proprioception, ReadOnlySpan<float> action, float reward, ReplayFlags flags, int episode, int step)
    {
        if (features.Length != Layout.FeatureBytes || proprioception.Length != Layout.ProprioceptionLength
            || (action.Length != 0 && action.Length != Layout.ActionDim))
        {
            throw new ArgumentException($"a record needs {Layout.FeatureBytes} feature bytes, {Layout.ProprioceptionLength} proprioception floats and 0 or {Layout.ActionDim} action floats; got {features.Length}, {proprioception.Length}, {action.Length}");
        }
        long total = Total;
        byte* record = RecordPointer(total);
        features.CopyTo(new Span<byte>(record, features.Length));
        MemoryMarshal.AsBytes(proprioception).CopyTo(new Span<byte>(record + _proprioOffset, proprioception.Length * sizeof(float)));
        var actionSpan = new Span<float>(record + _actionOffset, Layout.ActionDim);
        if (action.Length == 0)
        {
            actionSpan.Clear();
        }
        else
        {
            action.CopyTo(actionSpan);
        }
        *(float*)(record + _rewardOffset) = reward;
        record[_flagsOffset] = (byte)flags;
        *(int*)(record + _episodeOffset) = episode;
        *(int*)(record + _stepOffset) = step;
        // The record is complete before the count that publishes it moves.
        Volatile.Write(ref *(long*)(_base + TotalOffset), total + 1);
    }

    /// <summary>Drops records after the first <paramref name="total"/> (resuming from a checkpoint taken then).</summary>
    /// <exception cref="ArgumentOutOfRangeException">More records than were committed.</exception>
    public void TruncateTo(long total)
    {
        if (total < 0 || total > Total)
        {
            throw new ArgumentOutOfRangeException(nameof(total), total, $"the buffer holds {Total} records");
        }
        Volatile.Write(ref *(long*)(_base + TotalOffset), total);
    }

    /// <summary>Writes the mapped pages to disk.</summary>
    public void Flush() => _view.Flush();

    /// <summary>The stored feature bytes of record <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Features(long index) => new(RecordPointer(Check(index)), Layout.FeatureBytes);

    /// <summary>The proprioception of record <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> Proprioception(long index) => new(RecordPointer(Check(index)) + _proprioOffset, Layout.ProprioceptionLength);

    /// <summary>The action of record <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> Action(long index) => new(RecordPointer(Check(index)) + _actionOffset, Layout.ActionDim);

    /// <summary>The reward after the action of record <paramref name="index"/>.</summary>
    public float Reward(long index) => *(float*)(RecordPointer(Check(index)) + _rewardOffset);

    /// <summary>Flags of record <paramref name="index"/>.</summary>
    public ReplayFlags Flags(long index) => (ReplayFlags)RecordPointer(Check(index))[_flagsOffset];

    /// <summary>Episode number of record <paramref name="index"/>.</summary>
    public int Episode(long index) => *(int*)(RecordPointer(Check(index)) + _episodeOffset);

    /// <summary>Step within its episode of record <paramref name="index"/>.</summary>
    public int Step(long index) => *(int*)(RecordPointer(Check(index)) + _stepOffset);

    /// <summary>Whether records start … start + horizon are one episode's consecutive steps, all but the last with an action.</summary>
    public bool IsValidSequence(long start, int horizon)
    {
        if (start < Oldest || start + horizon >= Total)
        {
            return false;
        }
        int episode = Episode(start);
        for (int t = 0; t <= horizon; t++)
        {
            long i = start + t;
            if (Episode(i) != episode || (t < horizon && (Flags(i) & ReplayFlags.HasAction) == 0))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Index of the record <paramref name="back"/> steps before <paramref name="index"/> in its episode, clamped to the episode's first held record (frame stacking).</summary>
    public long StackSource(long index, int back)
    {
        int episode = Episode(index);
        long source = index;
        for (int k = 0; k < back; k++)
        {
            long previous = source - 1;
            if (previous < Oldest || Episode(previous) != episode)
            {
                break;
            }
            source = previous;
        }
        return source;
    }

    /// <summary>Unmaps the file (committed records stay on disk).</summary>
    public void Dispose()
    {
        _view.Flush();
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    private long Check(long index)
    {
        if (index < Oldest || index >= Total)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"records [{Oldest}, {Total}) are held");
        }
        return index;
    }

    private byte* RecordPointer(long index) => _base + HeaderBytes + (index % Capacity) * RecordBytes;
}
