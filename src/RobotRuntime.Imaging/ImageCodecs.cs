using OpenCvSharp;

namespace RobotRuntime.Imaging;

/// <summary>
/// PNG and JPEG encoding and decoding of RGB images (width × height × 3 bytes, top row first)
/// through OpenCV. Thread-safe; each call allocates its result. Not for the control loop's thread.
/// </summary>
public static class ImageCodecs
{
    /// <summary>Encodes <paramref name="rgb"/> as PNG at zlib level <paramref name="compression"/> (0–9; 1 is fast and near the best size for camera frames).</summary>
    /// <exception cref="ArgumentException">The buffer is not width × height × 3 bytes, or the level is out of range.</exception>
    public static byte[] EncodePng(ReadOnlySpan<byte> rgb, int width, int height, int compression = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(compression);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(compression, 9);
        return Encode(".png", rgb, width, height, new ImageEncodingParam(ImwriteFlags.PngCompression, compression));
    }

    /// <summary>Encodes <paramref name="rgb"/> as a baseline JPEG at <paramref name="quality"/> (1–100).</summary>
    public static byte[] EncodeJpeg(ReadOnlySpan<byte> rgb, int width, int height, int quality = 90)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        return Encode(".jpg", rgb, width, height, new ImageEncodingParam(ImwriteFlags.JpegQuality, quality));
    }

    private static byte[] Encode(string extension, ReadOnlySpan<byte> rgb, int width, int height, ImageEncodingParam parameter)
    {
        CheckSize(rgb.Length, width, height);
        _ = OpenCvSharpLibrary.Version;
        using var bgr = new Mat(height, width, MatType.CV_8UC3);
        RgbMat.CopyInAsBgr(rgb, bgr);
        Cv2.ImEncode(extension, bgr, out var encoded, parameter);
        return encoded;
    }

    /// <summary>Decodes a PNG or JPEG that must be <paramref name="width"/> × <paramref name="height"/> into <paramref name="rgb"/>.</summary>
    /// <exception cref="InvalidDataException">Not a decodable image, or not of the expected size; <paramref name="what"/> names it.</exception>
    public static void Decode(byte[] encoded, int width, int height, Span<byte> rgb, string what)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        CheckSize(rgb.Length, width, height);
        _ = OpenCvSharpLibrary.Version;
        using var decoded = Cv2.ImDecode(encoded, ImreadModes.Color);
        if (decoded.Empty())
            throw new InvalidDataException($"{what}: {encoded.Length} bytes are not a decodable image");
        if (decoded.Width != width || decoded.Height != height)
            throw new InvalidDataException($"{what}: image is {decoded.Width}x{decoded.Height}; {width}x{height} was expected");
        RgbMat.CopyOutAsRgb(decoded, rgb);
    }

    /// <summary>Decodes a PNG or JPEG of any size into a new RGB buffer.</summary>
    /// <exception cref="InvalidDataException">Not a decodable image; <paramref name="what"/> names it.</exception>
    public static (byte[] Rgb, int Width, int Height) Decode(byte[] encoded, string what)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        _ = OpenCvSharpLibrary.Version;
        using var decoded = Cv2.ImDecode(encoded, ImreadModes.Color);
        if (decoded.Empty())
            throw new InvalidDataException($"{what}: {encoded.Length} bytes are not a decodable image");
        var rgb = new byte[decoded.Width * decoded.Height * 3];
        RgbMat.CopyOutAsRgb(decoded, rgb);
        return (rgb, decoded.Width, decoded.Height);
    }

    private static void CheckSize(int length, int width, int height)
    {
        if (width < 1 || height < 1 || length != width * height * 3)
            throw new ArgumentException($"the image buffer holds {length} bytes; a {width}×{height} RGB image has {Math.Max(0, width) * Math.Max(0, height) * 3}.");
    }
}

/// <summary>Copies between RGB byte buffers and OpenCV's BGR matrices, swapping the channels on the way.</summary>
public static class RgbMat
{
    /// <summary>Writes <paramref name="rgb"/> into the 8-bit 3-channel <paramref name="bgr"/> of the same size, as BGR.</summary>
    public static unsafe void CopyInAsBgr(ReadOnlySpan<byte> rgb, Mat bgr)
    {
        fixed (byte* source = rgb)
        {
            using var wrapped = Mat.FromPixelData(bgr.Rows, bgr.Cols, MatType.CV_8UC3, (nint)source);
            Cv2.CvtColor(wrapped, bgr, ColorConversionCodes.RGB2BGR);
        }
    }

    /// <summary>Writes the 8-bit BGR (or grey) <paramref name="bgr"/> into <paramref name="rgb"/> as RGB; no allocation for colour input.</summary>
    public static unsafe void CopyOutAsRgb(Mat bgr, Span<byte> rgb)
    {
        fixed (byte* target = rgb)
        {
            using var wrapped = Mat.FromPixelData(bgr.Rows, bgr.Cols, MatType.CV_8UC3, (nint)target);
            Cv2.CvtColor(bgr, wrapped, bgr.Channels() == 1 ? ColorConversionCodes.GRAY2RGB : ColorConversionCodes.BGR2RGB);
        }
    }
}
