using System.Buffers.Binary;
using System.IO.Compression;

namespace RobotRuntime.Imaging.Tests;

/// <summary>
/// PNG and JPEG through OpenCvSharp4. PNG is checked with an independent reader written here
/// (chunk CRCs, zlib inflate, row filters) so that the channel order and losslessness are not
/// checked by OpenCV against itself. JPEG is lossy: on the smooth test pattern at quality 95 the mean
/// absolute error per channel stays under 2 of 255; the bound used is 4.
/// </summary>
public sealed class ImageCodecsTests
{
    private static byte[] Pattern(int width, int height, int seed)
    {
        var random = new Random(seed);
        var rgb = new byte[width * height * 3];
        for (var i = 0; i < rgb.Length; i++)
            rgb[i] = (byte)(i % 7 == 0 ? random.Next(256) : (i / 3 % width) * 6); // smooth runs and noise: every filter gets used
        return rgb;
    }

    private static byte[] Smooth(int width, int height)
    {
        var rgb = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var i = (y * width + x) * 3;
                rgb[i] = (byte)(x * 255 / width);
                rgb[i + 1] = (byte)(y * 255 / height);
                rgb[i + 2] = 96;
            }
        return rgb;
    }

    [Fact]
    public void PngIsLosslessAndInRgbOrderAsAnIndependentReaderSeesIt()
    {
        const int Width = 37, Height = 23;
        var rgb = Pattern(Width, Height, 1);

        var png = ImageCodecs.EncodePng(rgb, Width, Height);

        var (width, height, decoded) = IndependentPng.Decode(png);
        Assert.Equal((Width, Height), (width, height));
        Assert.Equal(rgb, decoded);
        var back = new byte[rgb.Length];
        ImageCodecs.Decode(png, Width, Height, back, "test image");
        Assert.Equal(rgb, back);
    }

    [Fact]
    public void JpegKeepsTheImageWithinItsLossAndTheColoursInPlace()
    {
        const int Width = 64, Height = 48;
        var rgb = Smooth(Width, Height);

        var jpeg = ImageCodecs.EncodeJpeg(rgb, Width, Height, quality: 95);
        var (back, width, height) = ImageCodecs.Decode(jpeg, "jpeg");

        Assert.Equal((0xFF, 0xD8), (jpeg[0], jpeg[1]));
        Assert.Equal((Width, Height), (width, height));
        Assert.InRange(rgb.Zip(back, (a, b) => Math.Abs(a - b)).Average(), 0, 4);
        // Right edge: red high; bottom edge: green high; blue flat at 96.
        var last = ((Height - 1) * Width + Width - 1) * 3;
        Assert.InRange(back[last], 240, 255);
        Assert.InRange(back[last + 1], 240, 255);
        Assert.InRange(back[last + 2], 88, 104);
    }

    [Fact]
    public void TheJpegEncoderReusedForEveryFrameAnswersLikeTheOneShotEncoder()
    {
        using var encoder = new JpegEncoder(32, 24, quality: 80);
        for (var seed = 0; seed < 3; seed++)
        {
            var rgb = Pattern(32, 24, seed);
            Assert.Equal(ImageCodecs.EncodeJpeg(rgb, 32, 24, 80), encoder.Encode(rgb, 32, 24).ToArray());
        }
        var error = Assert.Throws<ArgumentException>(() => encoder.Encode(new byte[16 * 16 * 3], 16, 16));
        Assert.Contains("this encoder takes 32×24 RGB images", error.Message);
    }

    [Fact]
    public void BytesThatAreNotAnImageAreNamed()
    {
        var error = Assert.Throws<InvalidDataException>(() => ImageCodecs.Decode("not an image"u8.ToArray(), 4, 4, new byte[48], "episode 7 frame 3"));
        Assert.Equal("episode 7 frame 3: 12 bytes are not a decodable image", error.Message);
    }

    [Fact]
    public void AnImageOfAnotherSizeIsNamedWithBothSizes()
    {
        var png = ImageCodecs.EncodePng(new byte[8 * 6 * 3], 8, 6);
        var error = Assert.Throws<InvalidDataException>(() => ImageCodecs.Decode(png, 4, 4, new byte[48], "frame"));
        Assert.Equal("frame: image is 8x6; 4x4 was expected", error.Message);
    }

    [Fact]
    public void AMisSizedPixelBufferIsRefusedWithTheSizeNeeded()
    {
        var error = Assert.Throws<ArgumentException>(() => ImageCodecs.EncodePng(new byte[10], 4, 4));
        Assert.Contains("a 4×4 RGB image has 48", error.Message);
    }

    [Fact]
    public void TheLibraryReportsOpenCv4WithV4l2AndFfmpegButNoGStreamer()
    {
        Assert.StartsWith("4.13", OpenCvSharpLibrary.Version);
        Assert.StartsWith("4.13.0.", OpenCvSharpLibrary.PackageVersion);
        var backends = OpenCvSharpLibrary.VideoIoBackends();
        Assert.Contains("V4L2", backends);
        Assert.Contains("FFMPEG", backends);
        Assert.DoesNotContain("GSTREAMER", backends);
        Assert.True(File.Exists(OpenCvSharpLibrary.NativeLibraryPath), OpenCvSharpLibrary.NativeLibraryPath);
    }
}

/// <summary>A PNG reader for 8-bit RGB written for the tests: checks chunk CRCs, inflates IDAT and undoes the row filters.</summary>
internal static class IndependentPng
{
    /// <summary>CRC-32 computed bit by bit, independently of the encoder's table.</summary>
    internal static uint BitwiseCrc(ReadOnlySpan<byte> data)
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
    internal static (int Width, int Height, byte[] Rgb) Decode(byte[] png)
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
