using RobotRuntime.Cameras;
using RobotRuntime.Timing;

namespace RobotRuntime.Vision.Cameras;

/// <summary>
/// A camera that draws a moving test pattern at a fixed rate: for tests, benchmarks and
/// `rr doctor`-style checks on machines without a camera. Frame <c>n</c>'s pixels are a pure
/// function of <c>n</c>, so a reader can tell which frame it got from its pixels
/// (<see cref="PatternValue"/>).
/// </summary>
public sealed class SyntheticCameraSource : CapturingCameraSource
{
    private readonly long _periodNs;
    private long _nextDueNs;
    private long _drawn;
    private readonly int _stopAfter;

    /// <summary>Creates the source.</summary>
    /// <param name="name">Camera name.</param>
    /// <param name="width">Frame width.</param>
    /// <param name="height">Frame height.</param>
    /// <param name="fps">Frames per second, &gt; 0.</param>
    /// <param name="stopAfterFrames">If &gt; 0, the stream ends after this many frames (to test a lost camera).</param>
    /// <param name="options">Capture-thread behaviour.</param>
    public SyntheticCameraSource(string name, int width, int height, double fps, int stopAfterFrames = 0, CaptureOptions? options = null)
        : base(name, width, height, options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(fps, 0);
        _periodNs = (long)(1e9 / fps);
        _stopAfter = stopAfterFrames;
    }

    /// <summary>The red value of every pixel of frame <paramref name="sequence"/> in column 0.</summary>
    public static byte PatternValue(long sequence) => (byte)(sequence * 7 % 251);

    /// <inheritdoc />
    protected override void Open()
    {
        _nextDueNs = MonotonicClock.NowNanoseconds;
        _drawn = 0; // a reopened synthetic camera starts its stream again
    }

    /// <inheritdoc />
    protected override CaptureOutcome Capture(CameraFrame frame, out string? failure)
    {
        failure = null;
        if (_stopAfter > 0 && _drawn >= _stopAfter)
        {
            failure = $"synthetic camera stopped after {_stopAfter} frames";
            return CaptureOutcome.EndOfStream;
        }
        // Absolute deadlines: no drift over a long run.
        var wait = _nextDueNs - MonotonicClock.NowNanoseconds;
        if (wait > 0)
            Thread.Sleep(TimeSpan.FromTicks(wait / 100));
        _nextDueNs += _periodNs;

        var n = ++_drawn;
        var pixels = frame.Pixels;
        var baseValue = PatternValue(n);
        for (var y = 0; y < frame.Height; y++)
        {
            var row = y * frame.Width * 3;
            for (var x = 0; x < frame.Width; x++)
            {
                var i = row + x * 3;
                pixels[i] = (byte)(baseValue + x);
                pixels[i + 1] = (byte)(y * 255 / Math.Max(1, frame.Height - 1));
                pixels[i + 2] = (byte)((x + y + n) & 0xFF);
            }
        }
        return CaptureOutcome.Frame;
    }

    /// <inheritdoc />
    protected override void Close() { }
}
