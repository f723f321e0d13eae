using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace RobotRuntime.Telemetry;

/// <summary>A run log read back: its metadata and every complete record.</summary>
public sealed class RunLog
{
    private RunLog(string path, RunLogMetadata metadata, CycleRecord[] records, int trailingBytes)
    {
        Path = path;
        Metadata = metadata;
        Records = records;
        TrailingBytes = trailingBytes;
    }

    /// <summary>The file it was read from.</summary>
    public string Path { get; }

    /// <summary>Rate and description from the header.</summary>
    public RunLogMetadata Metadata { get; }

    /// <summary>Every complete record, in the order written.</summary>
    public IReadOnlyList<CycleRecord> Records { get; }

    /// <summary>Bytes of a record cut short at the end of the file (a write interrupted by a crash); they are ignored.</summary>
    public int TrailingBytes { get; }

    /// <summary>Reads the log at <paramref name="path"/> (it may still be being written).</summary>
    /// <exception cref="InvalidDataException">The file is not a run log of this format; the message names the file and what was expected.</exception>
    /// <remarks>Setup only.</remarks>
    public static RunLog Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string fullPath = System.IO.Path.GetFullPath(path);
        byte[] bytes;
        using (var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            if (stream.Length > Array.MaxLength)
                throw new InvalidDataException($"run log {fullPath}: {stream.Length} bytes; this reader holds at most {Array.MaxLength} bytes in memory (split the run)");
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }

        if (bytes.Length < 28 || !bytes.AsSpan(0, 8).SequenceEqual(RunLogFormat.Magic))
            throw new InvalidDataException($"run log {fullPath}: expected a file starting with \"RRRUNLOG\"; this is not a run log");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        if (version != RunLogFormat.Version && version != RunLogFormat.VersionWithoutRates)
            throw new InvalidDataException($"run log {fullPath}: format version {version}, expected {RunLogFormat.Version} (or {RunLogFormat.VersionWithoutRates})");
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(20)) != 0x01020304)
            throw new InvalidDataException($"run log {fullPath}: byte order mark mismatch; expected a little-endian log");
        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12));
        uint recordSize = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(16));
        uint textLength = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(24));
        if (headerSize > bytes.Length || 28L + textLength > headerSize)
            throw new InvalidDataException($"run log {fullPath}: header of {headerSize} bytes with {textLength} bytes of text does not fit in a {bytes.Length}-byte file");
        if (recordSize != RunLogFormat.RecordSize)
            throw new InvalidDataException($"run log {fullPath}: records of {recordSize} bytes, expected {RunLogFormat.RecordSize} (a different record layout)");
        string text = Encoding.UTF8.GetString(bytes, 28, (int)textLength);
        string fieldTable = version == RunLogFormat.Version ? RunLogFormat.FieldTable : RunLogFormat.FieldTableWithoutRates;
        if (!text.Contains(fieldTable, StringComparison.Ordinal))
            throw new InvalidDataException($"run log {fullPath}: its field table differs from this reader's for version {version}; expected:\n{fieldTable}");

        double rate = double.NaN;
        string description = "";
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith("rate_hz=", StringComparison.Ordinal))
                rate = double.Parse(line.AsSpan(8), NumberStyles.Float, CultureInfo.InvariantCulture);
            else if (line.StartsWith("description=", StringComparison.Ordinal))
                description = line[12..];
        }
        if (!(rate > 0))
            throw new InvalidDataException($"run log {fullPath}: expected a rate_hz line with a rate > 0 in the header");

        long body = bytes.Length - headerSize;
        int count = (int)(body / recordSize);
        var records = MemoryMarshal.Cast<byte, CycleRecord>(bytes.AsSpan((int)headerSize, count * (int)recordSize)).ToArray();
        if (version == RunLogFormat.VersionWithoutRates)
        {
            // Version 1 had padding where the rate fields are now: whatever bytes it held mean nothing.
            for (var i = 0; i < records.Length; i++)
            {
                records[i].RateChange = Runtime.RateChange.None;
                records[i].RateMillihertz = 0;
            }
        }
        return new RunLog(fullPath, new RunLogMetadata(rate, description), records, (int)(body % recordSize));
    }
}
