using RobotRuntime.Imaging;

namespace RobotRuntime.Live;

/// <summary>
/// The live page's camera images as JPEG through OpenCV (OpenCvSharp4): a fraction of a PNG's time
/// and size for camera frames (benchmarks/RESULTS.md, "Live page"). One encoder per camera.
/// </summary>
/// <remarks>Not thread-safe; not for the control loop's thread (each image is a new array the page shares).</remarks>
public sealed class JpegFrameEncoder : ILiveFrameEncoder, IDisposable
{
    /// <summary>The quality the page uses: small images that still show what the camera sees.</summary>
    public const int DefaultQuality = 80;

    private readonly int _quality;
    private JpegEncoder? _encoder;

    /// <summary>Creates an encoder at <paramref name="quality"/> (1–100).</summary>
    public JpegFrameEncoder(int quality = DefaultQuality)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        _quality = quality;
    }

    /// <inheritdoc />
    public string ContentType => "image/jpeg";

    /// <inheritdoc />
    public byte[] Encode(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (_encoder is null || _encoder.Width != width || _encoder.Height != height)
        {
            _encoder?.Dispose();
            _encoder = new JpegEncoder(width, height, _quality);
        }
        return _encoder.Encode(rgb, width, height).ToArray();
    }

    /// <inheritdoc />
    public void Dispose() => _encoder?.Dispose();
}
