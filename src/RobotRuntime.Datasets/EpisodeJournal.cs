using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RobotRuntime.Datasets;

/// <summary>
/// One frame of a dataset with its images already PNG-encoded: what a recording writes to its
/// journal and what becomes one Parquet row. Its buffers are allocated once for a layout and refilled.
/// </summary>
public sealed class DatasetFrame
{
    /// <summary>Buffers for one frame of <paramref name="layout"/>.</summary>
    public DatasetFrame(DatasetLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        Layout = layout;
        Png = new byte[layout.Cameras.Count][];
        for (var c = 0; c < Png.Length; c++)
            Png[c] = [];
        State = new float[layout.StateNames.Count];
        Action = new float[layout.ActionNames.Count];
        EnvironmentState = new float[layout.EnvironmentStateNames.Count];
        Numbers = new double[layout.ColumnNumberCount];
        Integers = new long[layout.ColumnIntegerCount];
    }

    /// <summary>The layout the buffers follow.</summary>
    public DatasetLayout Layout { get; }

    /// <summary>Each camera's image as a PNG of the layout's size (layout order).</summary>
    public byte[][] Png { get; }

    /// <summary>"observation.state".</summary>
    public float[] State { get; }

    /// <summary>"action".</summary>
    public float[] Action { get; }

    /// <summary>"observation.environment_state".</summary>
    public float[] EnvironmentState { get; }

    /// <summary>"next.reward".</summary>
    public float Reward { get; set; }

    /// <summary>"next.done".</summary>
    public bool Done { get; set; }

    /// <summary>"next.success".</summary>
    public bool Success { get; set; }

    /// <summary>The additional columns' doubles, packed in layout order (<see cref="DatasetLayout.ColumnAt"/>).</summary>
    public double[] Numbers { get; }

    /// <summary>The additional columns' whole numbers (bools as 0/1), packed in layout order.</summary>
    public long[] Integers { get; }
}

/// <summary>What a journal said about its episode when it was read.</summary>
/// <param name="Task">The episode's task.</param>
/// <param name="Extra">The episode's facts: those it was created with, updated by every later extras record.</param>
/// <param name="Frames">Whole frames in the journal.</param>
/// <param name="Closed">Whether it ended with its close record (false: the writer was killed or crashed).</param>
/// <param name="TornBytes">Bytes after the last whole record (a record cut short by a kill, or damaged): ignored.</param>
public sealed record EpisodeJournalSummary(string Task, IReadOnlyDictionary<string, string> Extra, int Frames, bool Closed, long TornBytes);

/// <summary>
/// The append-only journal an episode is recorded into while it lasts, so that a recording being
/// written survives a kill: <see cref="EpisodeDataset"/> turns a journal into a Parquet episode when
/// the episode ends, and a journal left behind by a kill the next time the dataset is opened.
/// <code>
/// offset 0   8 bytes  magic "RRJOURNL"
/// offset 8   u32      version (1)
/// offset 12  u32      length L of the header JSON
/// offset 16  L bytes  UTF-8 JSON {"layout": …, "task": …, "extra": {…}}
/// then records: u32 payload length P, u32 CRC32C of the payload, P bytes of payload whose first byte is its kind:
///   1 frame:  per camera u32 n + n PNG bytes; state, action, environment state (f32 each);
///             reward f32; done u8; success u8; the additional columns' doubles (f64) and whole numbers (i64)
///   2 extra:  UTF-8 JSON object merged into the episode's facts
///   3 close:  nothing (the episode ended cleanly)
/// </code>
/// All little-endian. A record cut short or whose CRC does not match ends the journal (what follows it is ignored).
/// </summary>
public static class EpisodeJournal
{
    /// <summary>File name extension of journals.</summary>
    public const string Extension = ".rrjournal";

    private const uint Version = 1;
    private const byte FrameRecord = 1, ExtraRecord = 2, CloseRecord = 3;
    private static ReadOnlySpan<byte> Magic => "RRJOURNL"u8;

    /// <summary>
    /// Creates a journal at <paramref name="path"/> (which must not exist) and holds it exclusively
    /// (an advisory lock other processes' <see cref="EpisodeDataset"/> respect: a journal being written
    /// is never recovered from under its writer).
    /// </summary>
    /// <remarks>Setup only (writer thread).</remarks>
    public static EpisodeJournalWriter Create(string path, DatasetLayout layout, string task, IReadOnlyDictionary<string, string> extra)
    {
        ArgumentNullException.ThrowIfNull(layout);
        layout.Validate();
        if (!layout.Tasks.Contains(task))
            throw new ArgumentException($"task '{task}' is not one of the dataset's tasks ({string.Join(", ", layout.Tasks)})", nameof(task));
        var header = new JsonObject
        {
            ["layout"] = JsonSerializer.SerializeToNode(layout, EpisodeDataset.JsonOptions),
            ["task"] = task,
            ["extra"] = ExtraJson(extra),
        };
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
        try
        {
            Span<byte> start = stackalloc byte[16];
            Magic.CopyTo(start);
            BinaryPrimitives.WriteUInt32LittleEndian(start[8..], Version);
            BinaryPrimitives.WriteUInt32LittleEndian(start[12..], (uint)json.Length);
            stream.Write(start);
            stream.Write(json);
            stream.Flush(flushToDisk: true);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        return new EpisodeJournalWriter(path, stream, layout);
    }

    /// <summary>Reads a journal's header: its layout, task and facts (before any extras record).</summary>
    /// <exception cref="InvalidDataException">Not a journal of this version; the message names the file.</exception>
    public static (DatasetLayout Layout, string Task, Dictionary<string, string> Extra) ReadHeader(Stream stream, string path)
    {
        Span<byte> start = stackalloc byte[16];
        if (stream.ReadAtLeast(start, 16, throwOnEndOfStream: false) < 16 || !start[..8].SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not an episode journal (expected a file starting with \"RRJOURNL\")");
        var version = BinaryPrimitives.ReadUInt32LittleEndian(start[8..]);
        if (version != Version)
            throw new InvalidDataException($"{path}: journal version {version}; this reader knows {Version}");
        var length = BinaryPrimitives.ReadUInt32LittleEndian(start[12..]);
        if (length > 16 << 20)
            throw new InvalidDataException($"{path}: a header of {length} bytes is not a journal header");
        var json = new byte[length];
        if (stream.ReadAtLeast(json, json.Length, throwOnEndOfStream: false) < json.Length)
            throw new InvalidDataException($"{path}: the journal's header is cut short");
        try
        {
            var header = JsonNode.Parse(json)!;
            var layout = header["layout"]!.Deserialize<DatasetLayout>(EpisodeDataset.JsonOptions)!;
            var extra = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in header["extra"]!.AsObject())
                extra[key] = value!.GetValue<string>();
            return (layout, header["task"]!.GetValue<string>(), extra);
        }
        catch (Exception error) when (error is JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            throw new InvalidDataException($"{path}: the journal's header is not valid ({error.Message})");
        }
    }

    /// <summary>
    /// Reads the frames of a journal after its header (<see cref="ReadHeader"/>), calling
    /// <paramref name="onFrame"/> with each (its buffers are reused: copy what you keep), and applies
    /// its extras records to <paramref name="extra"/>. Stops at the end or at the first record cut short or damaged.
    /// </summary>
    public static EpisodeJournalSummary ReadFrames(Stream stream, DatasetLayout layout, string task, Dictionary<string, string> extra, Action<DatasetFrame> onFrame)
    {
        var frame = new DatasetFrame(layout);
        var frames = 0;
        var closed = false;
        Span<byte> head = stackalloc byte[8];
        var payload = new byte[1 << 16];
        long torn = 0;
        while (true)
        {
            long at = stream.Position;
            var got = stream.ReadAtLeast(head, 8, throwOnEndOfStream: false);
            if (got == 0)
                break;
            var length = got == 8 ? BinaryPrimitives.ReadUInt32LittleEndian(head) : 0;
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(head[4..]);
            if (got < 8 || length == 0 || length > stream.Length - at - 8)
            {
                torn = stream.Length - at;
                break;
            }
            if (payload.Length < length)
                payload = new byte[Math.Max(length, payload.Length * 2)];
            stream.ReadExactly(payload, 0, (int)length);
            var body = payload.AsSpan(0, (int)length);
            if (Checksums.Crc32C.Compute(body) != crc || !TryApply(body, frame, extra, ref closed))
            {
                torn = stream.Length - at;
                break;
            }
            if (body[0] == FrameRecord)
            {
                frames++;
                onFrame(frame);
            }
        }
        return new EpisodeJournalSummary(task, extra, frames, closed, torn);
    }

    private static bool TryApply(ReadOnlySpan<byte> body, DatasetFrame frame, Dictionary<string, string> extra, ref bool closed)
    {
        switch (body[0])
        {
            case FrameRecord:
                return TryDecodeFrame(body[1..], frame);
            case ExtraRecord:
                try
                {
                    foreach (var (key, value) in JsonNode.Parse(body[1..])!.AsObject())
                        extra[key] = value!.GetValue<string>();
                    return true;
                }
                catch (Exception error) when (error is JsonException or InvalidOperationException or NullReferenceException)
                {
                    return false;
                }
            case CloseRecord:
                closed = true;
                return true;
            default:
                return false;
        }
    }

    private static bool TryDecodeFrame(ReadOnlySpan<byte> body, DatasetFrame frame)
    {
        for (var c = 0; c < frame.Png.Length; c++)
        {
            if (body.Length < 4)
                return false;
            var n = (int)BinaryPrimitives.ReadUInt32LittleEndian(body);
            body = body[4..];
            if (n < 0 || n > body.Length)
                return false;
            if (frame.Png[c].Length != n)
                frame.Png[c] = new byte[n];
            body[..n].CopyTo(frame.Png[c]);
            body = body[n..];
        }
        var need = 4 * (frame.State.Length + frame.Action.Length + frame.EnvironmentState.Length + 1) + 2 + 8 * (frame.Numbers.Length + frame.Integers.Length);
        if (body.Length != need)
            return false;
        body = Take(body, frame.State);
        body = Take(body, frame.Action);
        body = Take(body, frame.EnvironmentState);
        frame.Reward = BinaryPrimitives.ReadSingleLittleEndian(body);
        frame.Done = body[4] != 0;
        frame.Success = body[5] != 0;
        body = body[6..];
        body = Take(body, frame.Numbers);
        Take(body, frame.Integers);
        return true;
    }

    private static ReadOnlySpan<byte> Take<T>(ReadOnlySpan<byte> body, T[] values) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        body[..bytes.Length].CopyTo(bytes);
        return body[bytes.Length..];
    }

    internal static void EncodeFrame(DatasetFrame frame, MemoryStream into)
    {
        into.WriteByte(FrameRecord);
        Span<byte> word = stackalloc byte[4];
        foreach (var png in frame.Png)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(word, (uint)png.Length);
            into.Write(word);
            into.Write(png);
        }
        into.Write(MemoryMarshal.AsBytes(frame.State.AsSpan()));
        into.Write(MemoryMarshal.AsBytes(frame.Action.AsSpan()));
        into.Write(MemoryMarshal.AsBytes(frame.EnvironmentState.AsSpan()));
        BinaryPrimitives.WriteSingleLittleEndian(word, frame.Reward);
        into.Write(word);
        into.WriteByte(frame.Done ? (byte)1 : (byte)0);
        into.WriteByte(frame.Success ? (byte)1 : (byte)0);
        into.Write(MemoryMarshal.AsBytes(frame.Numbers.AsSpan()));
        into.Write(MemoryMarshal.AsBytes(frame.Integers.AsSpan()));
    }

    internal static void EncodeExtra(IReadOnlyDictionary<string, string> extra, MemoryStream into)
    {
        into.WriteByte(ExtraRecord);
        into.Write(Encoding.UTF8.GetBytes(ExtraJson(extra).ToJsonString()));
    }

    internal static void EncodeClose(MemoryStream into) => into.WriteByte(CloseRecord);

    private static JsonObject ExtraJson(IReadOnlyDictionary<string, string> extra)
    {
        var node = new JsonObject();
        foreach (var (key, value) in extra.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            node[key] = value;
        return node;
    }
}

/// <summary>
/// Appends an episode's frames to its journal (<see cref="EpisodeJournal"/>). Each record goes to a
/// user-space buffer; <see cref="Flush"/> hands what is buffered to the operating system (then a kill
/// of the process loses nothing of it) and, asked to, to the disk (then a power loss does not either).
/// </summary>
/// <remarks>One thread (a recording's writer thread). Not real-time: it writes to a file.</remarks>
public sealed class EpisodeJournalWriter : IDisposable
{
    private readonly FileStream _stream;
    private readonly MemoryStream _record = new();
    private readonly DatasetLayout _layout;

    internal EpisodeJournalWriter(string path, FileStream stream, DatasetLayout layout)
    {
        Path = path;
        _stream = stream;
        _layout = layout;
        _bytes = stream.Position;
    }

    private long _bytes;

    /// <summary>The journal's path.</summary>
    public string Path { get; }

    /// <summary>Frames appended.</summary>
    public int Frames { get; private set; }

    /// <summary>Bytes written (header included), buffered or not.</summary>
    public long Bytes => _bytes;

    /// <summary>Appends one frame (to the buffer).</summary>
    /// <exception cref="ArgumentException">The frame is of another layout.</exception>
    public void Append(DatasetFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (!ReferenceEquals(frame.Layout, _layout) && !frame.Layout.SameAs(_layout))
            throw new ArgumentException("the frame is of another dataset layout than the journal", nameof(frame));
        _record.SetLength(0);
        EpisodeJournal.EncodeFrame(frame, _record);
        WriteRecord();
        Frames++;
    }

    /// <summary>Records facts about the episode (merged into those it was created with; later ones win).</summary>
    public void AppendExtra(IReadOnlyDictionary<string, string> extra)
    {
        _record.SetLength(0);
        EpisodeJournal.EncodeExtra(extra, _record);
        WriteRecord();
    }

    /// <summary>Hands buffered records to the operating system; with <paramref name="toDisk"/>, waits until they are on the disk.</summary>
    public void Flush(bool toDisk) => _stream.Flush(flushToDisk: toDisk);

    /// <summary>Marks the episode ended cleanly, flushes to the disk and closes the file (the journal is then ready to commit).</summary>
    public void Close()
    {
        _record.SetLength(0);
        EpisodeJournal.EncodeClose(_record);
        WriteRecord();
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
    }

    private void WriteRecord()
    {
        var body = _record.GetBuffer().AsSpan(0, (int)_record.Length);
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(head, (uint)body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(head[4..], Checksums.Crc32C.Compute(body));
        _stream.Write(head);
        _stream.Write(body);
        _bytes += head.Length + body.Length;
    }

    /// <summary>Closes the file without the close record (what a kill leaves: the journal is recovered as an unclosed episode).</summary>
    public void Dispose() => _stream.Dispose();
}
