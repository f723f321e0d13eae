namespace RobotRuntime.Cameras;

/// <summary>
/// One camera image in a buffer allocated once and reused: 8-bit RGB, rows top first, with the
/// capture time and the source's sequence number.
/// </summary>
/// <remarks>Not thread-safe: a frame has one owner at a time (the capture thread hands frames over
/// through <see cref="LatestFrameExchange"/>). Copying is real-time safe.</remarks>
public sealed class CameraFrame
{
    /// <summary>Allocates a frame of <paramref name="width"/> × <paramref name="height"/> RGB pixels.</summary>
    public CameraFrame(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        Width = width;
        Height = height;
        Pixels = new byte[checked(width * height * 3)];
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Width × Height × 3 bytes of RGB, rows top first.</summary>
    public byte[] Pixels { get; }

    /// <summary>The source's frame counter: 1 for the first frame captured, +1 per frame (gaps mean dropped frames).</summary>
    public long Sequence { get; set; }

    /// <summary>When the frame was captured, on <see cref="Timing.MonotonicClock"/> (ns).</summary>
    public long CaptureTimestampNs { get; set; }

    /// <summary>Age of the frame at <paramref name="nowNs"/> in nanoseconds.</summary>
    public long AgeNs(long nowNs) => nowNs - CaptureTimestampNs;

    /// <summary>Copies pixels and stamps into <paramref name="destination"/>, which must have the same size.</summary>
    /// <remarks>Real-time: no allocation.</remarks>
    public void CopyTo(CameraFrame destination)
    {
        if (destination.Width != Width || destination.Height != Height)
            throw new ArgumentException($"destination is {destination.Width}×{destination.Height}, the frame is {Width}×{Height}.", nameof(destination));
        Pixels.AsSpan().CopyTo(destination.Pixels);
        destination.Sequence = Sequence;
        destination.CaptureTimestampNs = CaptureTimestampNs;
    }
}
