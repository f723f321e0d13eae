using RobotRuntime.Cameras;

namespace RobotRuntime.Vision.Cameras;

/// <summary>
/// An in-process camera that another component feeds: the simulator renders a camera on its own
/// thread and pushes each image here, and the runtime reads it like any other camera (same
/// staleness rules, same lost-camera reporting when pushes stop).
/// </summary>
/// <remarks><see cref="Push"/> is real-time safe (no allocation, never blocks) and is for one producer thread.</remarks>
public sealed class PushCameraSource : CapturingCameraSource
{
    private readonly LatestFrameExchange _incoming;
    private readonly TimeSpan _frameTimeout;
    private long _pushedCaptureNs;

    /// <summary>Creates the camera.</summary>
    /// <param name="name">Camera name.</param>
    /// <param name="width">Frame width the producer pushes.</param>
    /// <param name="height">Frame height the producer pushes.</param>
    /// <param name="frameTimeout">How long without a push counts as one failed capture (lost after <see cref="CaptureOptions.LostAfterFailures"/>).</param>
    /// <param name="options">Capture-thread behaviour; by default a lost camera comes back as soon as pushes resume.</param>
    public PushCameraSource(string name, int width, int height, TimeSpan? frameTimeout = null, CaptureOptions? options = null)
        : base(name, width, height, options ?? new CaptureOptions(ReconnectInterval: TimeSpan.FromMilliseconds(20)))
    {
        _incoming = new LatestFrameExchange(width, height);
        _frameTimeout = frameTimeout ?? TimeSpan.FromMilliseconds(500);
    }

    /// <summary>Hands over one image (producer thread); false if it has the wrong size.</summary>
    /// <param name="rgb">Width × Height × 3 bytes, rows top first; copied before this returns.</param>
    /// <param name="captureNs">When it was rendered or captured, on <see cref="Timing.MonotonicClock"/>.</param>
    public bool Push(ReadOnlySpan<byte> rgb, long captureNs)
    {
        var back = _incoming.BackBuffer;
        if (rgb.Length != back.Pixels.Length)
            return false;
        rgb.CopyTo(back.Pixels);
        back.CaptureTimestampNs = captureNs;
        _incoming.Publish();
        return true;
    }

    /// <inheritdoc />
    protected override void Open() { }

    /// <inheritdoc />
    protected override CaptureOutcome Capture(CameraFrame frame, out string? failure)
    {
        if (!_incoming.WaitForFresh(_frameTimeout) || !_incoming.TryTake(out var pushed))
        {
            failure = $"nothing pushed for {_frameTimeout.TotalMilliseconds:0} ms";
            return CaptureOutcome.Failed;
        }
        failure = null;
        pushed.Pixels.CopyTo(frame.Pixels, 0);
        _pushedCaptureNs = pushed.CaptureTimestampNs;
        return CaptureOutcome.Frame;
    }

    /// <inheritdoc />
    protected override long CaptureTimeOnOurClock(CameraFrame frame, long nowNs) => _pushedCaptureNs;

    /// <inheritdoc />
    protected override void Close() { }
}
