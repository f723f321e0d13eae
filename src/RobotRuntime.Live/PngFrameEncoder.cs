using System.Buffers.Binary;
using System.IO.Compression;

namespace RobotRuntime.Live;

/// <summary>
/// Encodes RGB camera frames as PNG for the page: every row with the "Sub" filter, deflated at
/// the fastest level — a few milliseconds for a 224×224 frame, no native library. Scratch
/// buffers are kept between calls; each result is a new array the caller may share freely.
/// </summary>
/// <remarks>The live page's default: it needs no native library. A 224×224 frame costs ~3 ms and, at
/// ~150 kB, lands on the large-object heap; a host with OpenCV passes a JPEG encoder instead
/// (benchmarks/RESULTS.md, "Live page"). Not thread-safe: one encoder per camera. Not for the control loop's thread.</remarks>
public sealed class PngFrameEncoder : ILiveFrameEncoder
{
    private readonly MemoryStream _compressed = new();
    private byte[] _filtered = [];

    /// <inheritdoc />
    public string ContentType => "image/png";

    /// <inheritdoc />
    public byte[] Encode(ReadOnlySpan<byte> rgb, int width, int height)
    {
        var stride = width * 3;
        if (width < 1 || height < 1 || rgb.Length != stride * height)
            throw new ArgumentException($"rgb holds {rgb.Length} bytes; a {width}×{height} RGB image has {stride * height}.", nameof(rgb));
        var rowLength = stride + 1;
        if (_filtered.Length != rowLength * height)
            _filtered = new byte[rowLength * height];
        for (var y = 0; y < height; y++)
        {
            var source = rgb.Slice(y * stride, stride);
            var row = _filtered.AsSpan(y * rowLength, rowLength);
            row[0] = 1; // Sub: each byte minus the same channel of the pixel to its left
            source[..3].CopyTo(row[1..]);
            for (var i = 3; i < stride; i++)
                row[1 + i] = (byte)(source[i] - source[i - 3]);
        }
        _compressed.SetLength(0);
        using (var zlib = new ZLibStream(_compressed, CompressionLevel.Fastest, leaveOpen: true))
            zlib.Write(_filtered);
        var data = _compressed.GetBuffer().AsSpan(0, (int)_compressed.Length);

        var png = new byte[8 + (12 + 13) + (12 + data.Length) + 12];
        ReadOnlySpan<byte> signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        signature.CopyTo(png);
        var at = 8;
        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        header[8] = 8; // bits per channel
        header[9] = 2; // truecolour
        header[10] = header[11] = header[12] = 0; // deflate, adaptive filters, no interlace
        at = WriteChunk(png, at, "IHDR"u8, header);
        at = WriteChunk(png, at, "IDAT"u8, data);
        WriteChunk(png, at, "IEND"u8, []);
        return png;
    }

    private static int WriteChunk(byte[] png, int at, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(at), data.Length);
        type.CopyTo(png.AsSpan(at + 4));
        data.CopyTo(png.AsSpan(at + 8));
        var crc = Imaging.PngCrc.Compute(png.AsSpan(at + 4, 4 + data.Length));
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(at + 8 + data.Length), crc);
        return at + 12 + data.Length;
    }
}
