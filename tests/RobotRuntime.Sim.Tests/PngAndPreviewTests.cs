using System.Buffers.Binary;
using System.IO.Compression;
using RobotRuntime.Sim.Preview;
using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Tests;

public sealed class PngAndPreviewTests
{
    [Fact]
    public void CrcMatchesTheStandardCheckValue()
    {
        // The CRC-32 check value of "123456789" is 0xCBF43926.
        Assert.Equal(0xCBF43926u, PngEncoder.Crc(0xFFFFFFFFu, "123456789"u8) ^ 0xFFFFFFFFu);
    }

    [Fact]
    public void EncodedPngDecodesBackToTheSamePixelsWithValidChunkCrcs()
    {
        var random = new Random(1);
        const int Width = 37, Height = 23;
        var rgb = new byte[Width * Height * 3];
        for (var i = 0; i < rgb.Length; i++)
            rgb[i] = (byte)(i % 7 == 0 ? random.Next(256) : (i / 3 % Width) * 6); // smooth runs and noise: every filter gets used
        var png = PngEncoder.Encode(Width, Height, rgb);

        var (width, height, decoded) = Decode(png);
        Assert.Equal((Width, Height), (width, height));
        Assert.Equal(rgb, decoded);
    }

    [Fact]
    public void AMisSizedPixelBufferIsRefusedWithTheSizeNeeded()
    {
        var error = Assert.Throws<ArgumentException>(() => PngEncoder.Encode(4, 4, new byte[10]));
        Assert.Contains("a 4x4 RGB image needs 48", error.Message);
    }

    [Fact]
    public void PreviewGridHasARowPerPresetAndAGroupPerTaskFilledWithRenderedFrames()
    {
        var options = new PreviewOptions(CellSize: 16, Seed: 2, FrameSteps: [0, 1]);
        var (width, height, rgb) = ShiftPreview.Render(options);
        Assert.Equal(width * height * 3, rgb.Length);
        // Rows: a header plus one per preset; columns: labels plus (2 front + 1 wrist) per task.
        Assert.True(height > VisualShifts.Names.Count * 16 && height < VisualShifts.Names.Count * 16 + 60, $"height {height}");
        Assert.True(width > TabletopTask.Names.Count * 3 * 16, $"width {width}");
        // The bottom-right cell (the wrist camera of the last task under the last preset) holds a rendered image, not the background.
        var x = width - 10;
        var y = height - 10;
        var i = (y * width + x) * 3;
        Assert.NotEqual((24, 24, 28), (rgb[i], rgb[i + 1], rgb[i + 2]));
    }

    /// <summary>CRC-32 computed bit by bit, independently of the encoder's table.</summary>
    private static uint BitwiseCrc(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
                crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }

    /// <summary>An independent PNG reader for 8-bit RGB: checks chunk CRCs, inflates IDAT and undoes the row filters.</summary>
    private static (int Width, int Height, byte[] Rgb) Decode(byte[] png)
    {
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        int width = 0, height = 0;
        using var idat = new MemoryStream();
        var offset = 8;
        while (offset < png.Length)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(offset));
            var type = System.Text.Encoding.ASCII.GetString(png, offset + 4, 4);
            var data = png.AsSpan(offset + 8, length);
            var crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset + 8 + length));
            Assert.Equal(BitwiseCrc(png.AsSpan(offset + 4, length + 4)), crc);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(new byte[] { 8, 2, 0, 0, 0 }, data[8..].ToArray());
            }
            else if (type == "IDAT")
            {
                idat.Write(data);
            }
            offset += 12 + length;
        }
        idat.Position = 0;
        using var inflated = new MemoryStream();
        using (var zlib = new ZLibStream(idat, CompressionMode.Decompress))
            zlib.CopyTo(inflated);
        var raw = inflated.ToArray();
        var stride = width * 3;
        var rgb = new byte[stride * height];
        for (var row = 0; row < height; row++)
        {
            var filter = raw[row * (stride + 1)];
            for (var i = 0; i < stride; i++)
            {
                int a = i >= 3 ? rgb[row * stride + i - 3] : 0;
                int b = row > 0 ? rgb[(row - 1) * stride + i] : 0;
                int c = i >= 3 && row > 0 ? rgb[(row - 1) * stride + i - 3] : 0;
                int p = a + b - c;
                var paeth = Math.Abs(p - a) <= Math.Abs(p - b) && Math.Abs(p - a) <= Math.Abs(p - c) ? a : Math.Abs(p - b) <= Math.Abs(p - c) ? b : c;
                var prediction = filter switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) >> 1, 4 => paeth, _ => throw new InvalidDataException($"filter {filter}") };
                rgb[row * stride + i] = (byte)(raw[row * (stride + 1) + 1 + i] + prediction);
            }
        }
        return (width, height, rgb);
    }
}
