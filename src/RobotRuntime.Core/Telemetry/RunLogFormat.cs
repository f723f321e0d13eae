using System.Buffers.Binary;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using RobotRuntime.Arm;

namespace RobotRuntime.Telemetry;

/// <summary>What a run log says about its run, stored in its header.</summary>
/// <param name="RateHz">The control rate, Hz.</param>
/// <param name="Description">Free text: the command line, the controller, the config (one line or several).</param>
public sealed record RunLogMetadata(double RateHz, string Description);

/// <summary>
/// The run log's file format. A header, then fixed-size <see cref="CycleRecord"/>s back to back:
/// <code>
/// offset 0   8 bytes  magic "RRRUNLOG"
/// offset 8   u32      format version (2; version 1 logs, written before records carried their rate, are read too)
/// offset 12  u32      header size H in bytes (records start at H; a multiple of 512)
/// offset 16  u32      record size R in bytes
/// offset 20  u32      0x01020304 written little-endian (byte order check)
/// offset 24  u32      length L of the description text
/// offset 28  L bytes  UTF-8 text: "rate_hz=…", "description=…" lines, then one line per record
///                     field: "field &lt;name&gt; &lt;type&gt; &lt;offset&gt; &lt;size&gt;" (types i64 i32 u8 f64 f64x16)
/// </code>
/// Record k starts at H + k·R. A record cut short at the end of the file (a crash mid-write) is ignored.
/// Version 2 added the fields <c>RateChange</c> (u8) and <c>RateMillihertz</c> (i32) in what was the
/// record's padding, so a record has the same size and every other field the same offset in both.
/// </summary>
public static class RunLogFormat
{
    /// <summary>The file's first eight bytes.</summary>
    public static ReadOnlySpan<byte> Magic => "RRRUNLOG"u8;

    /// <summary>The format version this code writes.</summary>
    public const uint Version = 2;

    /// <summary>The older version this code still reads (records without their rate).</summary>
    public const uint VersionWithoutRates = 1;

    /// <summary>The fields version 2 added (absent from a version 1 field table).</summary>
    internal static readonly string[] FieldsAddedInVersion2 = [nameof(CycleRecord.RateChange), nameof(CycleRecord.RateMillihertz)];

    /// <summary>Size of one record in bytes.</summary>
    public static int RecordSize => Unsafe.SizeOf<CycleRecord>();

    /// <summary>The field table lines, in field order, as written to the header.</summary>
    public static string FieldTable { get; } = BuildFieldTable(version: Version);

    /// <summary>The field table of a version 1 log: the same lines without the fields version 2 added.</summary>
    public static string FieldTableWithoutRates { get; } = BuildFieldTable(version: VersionWithoutRates);

    private static string BuildFieldTable(uint version)
    {
        var text = new StringBuilder();
        foreach (var field in typeof(CycleRecord).GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            if (version < Version && FieldsAddedInVersion2.Contains(field.Name))
                continue;
            long offset = Marshal.OffsetOf<CycleRecord>(field.Name).ToInt64();
            var type = field.FieldType.IsEnum ? Enum.GetUnderlyingType(field.FieldType) : field.FieldType;
            (string name, int size) = type == typeof(long) ? ("i64", 8)
                : type == typeof(int) ? ("i32", 4)
                : type == typeof(byte) ? ("u8", 1)
                : type == typeof(ushort) ? ("u16", 2)
                : type == typeof(double) ? ("f64", 8)
                : type == typeof(JointVector) ? ($"f64x{JointVector.Capacity}", 8 * JointVector.Capacity)
                : throw new InvalidOperationException($"CycleRecord.{field.Name}: type {type} has no log type name");
            text.Append("field ").Append(field.Name).Append(' ').Append(name).Append(' ').Append(offset).Append(' ').Append(size).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>Builds the header for <paramref name="metadata"/>.</summary>
    /// <remarks>Setup only.</remarks>
    public static byte[] BuildHeader(RunLogMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (!(metadata.RateHz > 0 && double.IsFinite(metadata.RateHz)))
            throw new ArgumentException($"RateHz: expected a finite rate > 0, got {metadata.RateHz}", nameof(metadata));
        string description = (metadata.Description ?? "").Replace("\r", " ").Replace("\n", " ");
        string text = $"rate_hz={metadata.RateHz.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}\ndescription={description}\n{FieldTable}";
        byte[] textBytes = Encoding.UTF8.GetBytes(text);
        int size = (28 + textBytes.Length + 511) / 512 * 512;
        var header = new byte[size];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), Version);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), (uint)RecordSize);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(20), 0x01020304);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(24), (uint)textBytes.Length);
        textBytes.CopyTo(header, 28);
        return header;
    }
}
