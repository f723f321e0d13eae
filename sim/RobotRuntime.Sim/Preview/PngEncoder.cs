using System.Buffers.Binary;
using System.IO.Compression;

namespace RobotRuntime.Sim.Preview;

/// <summary>Writes 8-bit RGB images as PNG (truecolour, no interlace), choosing a filter per row.</summary>
public static class PngEncoder
{

    /// <summary>Encodes width × height × 3 bytes of RGB (top row first) as a PNG file.</summary>
    /// <exception cref="ArgumentException">The pixel buffer does not hold width × height × 3 bytes.</exception>
    public static byte[] Encode(int width, int height, ReadOnlySpan<byte> rgb)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        var stride = width * 3;
        if (rgb.Length != stride * height)
            throw new ArgumentException($"rgb holds {rgb.Length} bytes; a {width}x{height} RGB image needs {stride * height}", nameof(rgb));

        using var output = new MemoryStream();
        output.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        header[8] = 8; // bits per channel
        header[9] = 2; // truecolour RGB
        header[10] = header[11] = header[12] = 0; // deflate, adaptive filtering, no interlace
        WriteChunk(output, "IHDR", header);

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var previous = new byte[stride];
            var best = new byte[stride + 1];
            var candidate = new byte[stride + 1];
            for (var row = 0; row < height; row++)
            {
                var current = rgb.Slice(row * stride, stride);
                var bestScore = long.MaxValue;
                for (byte filter = 0; filter <= 4; filter++)
                {
                    var score = Filter(filter, current, previous, candidate);
                    if (score < bestScore)
                    {
                        bestScore = score;
                        candidate.CopyTo(best, 0);
                    }
                }
                zlib.Write(best);
                current.CopyTo(previous);
            }
        }
        WriteChunk(output, "IDAT", compressed.ToArray());
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    /// <summary>Filters one row with PNG filter <paramref name="filter"/> into <paramref name="destination"/> (filter byte first) and returns the sum of absolute signed bytes, the usual heuristic for picking a filter.</summary>
    private static long Filter(byte filter, ReadOnlySpan<byte> row, ReadOnlySpan<byte> above, Span<byte> destination)
    {
        destination[0] = filter;
        long score = 0;
        for (var i = 0; i < row.Length; i++)
        {
            int left = i >= 3 ? row[i - 3] : 0;
            int up = above[i];
            int upLeft = i >= 3 ? above[i - 3] : 0;
            var predicted = filter switch
            {
                0 => 0,
                1 => left,
                2 => up,
                3 => (left + up) / 2,
                _ => Paeth(left, up, upLeft),
            };
            var value = (byte)(row[i] - predicted);
            destination[i + 1] = value;
            score += Math.Abs((int)(sbyte)value);
        }
        return score;
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static void WriteChunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        Span<byte> typeBytes = stackalloc byte[4];
        for (var i = 0; i < 4; i++)
            typeBytes[i] = (byte)type[i];
        output.Write(typeBytes);
        output.Write(data);
        var crc = Crc(Crc(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        output.Write(word);
    }

    /// <summary>Continues a CRC-32 (ISO-HDLC, as PNG uses) over <paramref name="data"/>.</summary>
    internal static uint Crc(uint crc, ReadOnlySpan<byte> data) => Imaging.PngCrc.Update(crc, data);
}
