using OpenCvSharp;

namespace RobotRuntime.Imaging;

/// <summary>Encodes RGB frames of one size as JPEG through OpenCV, reusing its colour-conversion matrix between calls.</summary>
/// <remarks>One thread at a time (one encoder per camera). Each call allocates the encoded bytes (OpenCV's
/// ImEncode returns a new array); not for the control loop's thread.</remarks>
public sealed class JpegEncoder : IDisposable
{
    private readonly Mat _bgr;
    private readonly ImageEncodingParam _quality;
    private byte[] _encoded = [];

    /// <summary>Creates an encoder for <paramref name="width"/> × <paramref name="height"/> images.</summary>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="quality">JPEG quality, 1..100.</param>
    public JpegEncoder(int width, int height, int quality = 90)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        _ = OpenCvSharpLibrary.Version;
        Width = width;
        Height = height;
        Quality = quality;
        _bgr = new Mat(height, width, MatType.CV_8UC3);
        _quality = new ImageEncodingParam(ImwriteFlags.JpegQuality, quality);
    }

    /// <summary>Image width in pixels.</summary>
    public int Width { get; }

    /// <summary>Image height in pixels.</summary>
    public int Height { get; }

    /// <summary>JPEG quality, 1..100.</summary>
    public int Quality { get; }

    /// <summary>Encodes <paramref name="rgb"/> and returns the JPEG bytes, valid until the next call.</summary>
    /// <exception cref="ArgumentException">The image is not this encoder's size.</exception>
    public ReadOnlySpan<byte> Encode(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (width != Width || height != Height || rgb.Length != width * height * 3)
            throw new ArgumentException($"rgb holds {rgb.Length} bytes for {width}×{height}; this encoder takes {Width}×{Height} RGB images ({Width * Height * 3} bytes).", nameof(rgb));
        RgbMat.CopyInAsBgr(rgb, _bgr);
        Cv2.ImEncode(".jpg", _bgr, out _encoded, _quality);
        return _encoded;
    }

    /// <inheritdoc />
    public void Dispose() => _bgr.Dispose();
}
