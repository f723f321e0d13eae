using OpenCvSharp;
using RobotRuntime.Native;

namespace RobotRuntime.Datasets;

/// <summary>
/// PNG encoding and decoding of RGB images through OpenCV (OpenCvSharp4). A missing native library
/// is a <see cref="NativeDependencyMissingException"/> naming it and what installs it, not a bare
/// DllNotFoundException.
/// </summary>
public static class PngImages
{
    private static readonly ImageEncodingParam[] FastCompression = [new(ImwriteFlags.PngCompression, 1)];
    private static readonly Lazy<string> Loaded = new(LoadLibrary);

    /// <summary>The OpenCV version OpenCvSharp4's native library was built with (loads it on first use).</summary>
    /// <exception cref="NativeDependencyMissingException">The native library or a library it links against is missing; the message says what installs it.</exception>
    public static string LibraryVersion => Loaded.Value;

    private static string LoadLibrary()
    {
        try
        {
            return Cv2.GetVersionString() ?? "unknown";
        }
        catch (Exception error) when (error is DllNotFoundException or TypeInitializationException or BadImageFormatException or EntryPointNotFoundException)
        {
            var reason = error is TypeInitializationException { InnerException: { } inner } ? inner.Message : error.Message;
            throw new NativeDependencyMissingException(NativeDependency.OpenCvSharp, [Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native"), "system loader path"], reason);
        }
    }

    /// <summary>Encodes <paramref name="rgb"/> (width × height × 3, top row first) as PNG.</summary>
    /// <exception cref="ArgumentException">The buffer is not width × height × 3 bytes.</exception>
    public static byte[] Encode(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (rgb.Length != width * height * 3)
            throw new ArgumentException($"image has {rgb.Length} bytes; {width}x{height} RGB needs {width * height * 3}", nameof(rgb));
        _ = LibraryVersion;
        using var image = new Mat(height, width, MatType.CV_8UC3);
        using var bgr = new Mat();
        CopyIn(rgb, image);
        Cv2.CvtColor(image, bgr, ColorConversionCodes.RGB2BGR);
        Cv2.ImEncode(".png", bgr, out var png, FastCompression);
        return png;
    }

    /// <summary>Decodes a PNG into <paramref name="rgb"/>, which must be width × height × 3 bytes.</summary>
    /// <exception cref="InvalidDataException">Not a decodable image, or not of the expected size; <paramref name="what"/> names it.</exception>
    public static void Decode(byte[] png, int width, int height, Span<byte> rgb, string what)
    {
        _ = LibraryVersion;
        using var decoded = Cv2.ImDecode(png, ImreadModes.Color);
        if (decoded.Empty())
            throw new InvalidDataException($"{what}: {png.Length} bytes are not a decodable image");
        if (decoded.Width != width || decoded.Height != height)
            throw new InvalidDataException($"{what}: image is {decoded.Width}x{decoded.Height}; the dataset says {width}x{height}");
        using var image = new Mat();
        Cv2.CvtColor(decoded, image, ColorConversionCodes.BGR2RGB);
        CopyOut(image, rgb);
    }

    private static unsafe void CopyIn(ReadOnlySpan<byte> rgb, Mat image)
    {
        int rowBytes = image.Width * 3, height = image.Height;
        for (var y = 0; y < height; y++)
            rgb.Slice(y * rowBytes, rowBytes).CopyTo(new Span<byte>((void*)image.Ptr(y), rowBytes));
    }

    private static unsafe void CopyOut(Mat image, Span<byte> rgb)
    {
        int rowBytes = image.Width * 3, height = image.Height;
        for (var y = 0; y < height; y++)
            new ReadOnlySpan<byte>((void*)image.Ptr(y), rowBytes).CopyTo(rgb.Slice(y * rowBytes, rowBytes));
    }
}
