using RobotRuntime.Cameras;
using RobotRuntime.Timing;
using RobotRuntime.Vision.OpenCv;

namespace RobotRuntime.Vision.Cameras;

/// <summary>Where an OpenCV camera's frames come from.</summary>
public enum OpenCvInput
{
    /// <summary>A V4L2 device, <c>/dev/video&lt;index&gt;</c>.</summary>
    Device,
    /// <summary>A video file (FFMPEG backend).</summary>
    File,
    /// <summary>A GStreamer pipeline ending in <c>appsink</c>.</summary>
    Pipeline,
}

/// <summary>
/// A camera read through OpenCV's video I/O (the project's C++ shim): a USB camera by index
/// (V4L2 only, so an absent device fails in under a millisecond), a video file, or a GStreamer
/// pipeline opened under a watchdog (a pipeline naming a missing element blocks OpenCV forever).
/// Frames are converted to RGB and resized to the requested size inside the shim.
/// </summary>
public sealed class OpenCvCameraSource : CapturingCameraSource
{
    private readonly OpenCvInput _input;
    private readonly string _target;
    private readonly int _deviceIndex;
    private readonly double _fps;
    private readonly bool _paceFile;
    private readonly bool _loop;
    private readonly TimeSpan _openTimeout;
    private OpenCvCapture? _capture;
    private long _periodNs;
    private long _nextDueNs;

    /// <summary>Creates the source; nothing is opened until <see cref="CapturingCameraSource.Start"/>.</summary>
    /// <param name="name">Camera name, used in messages.</param>
    /// <param name="input">Device, file or pipeline.</param>
    /// <param name="target">The device index as text, the file path, or the pipeline.</param>
    /// <param name="width">Delivered frame width.</param>
    /// <param name="height">Delivered frame height.</param>
    /// <param name="fps">Requested device rate, or the pace for files (0: the file's own rate).</param>
    /// <param name="paceFile">Deliver file frames at their rate (true) or as fast as the reader takes them, none skipped (false).</param>
    /// <param name="loop">Start a file again at its end instead of reporting the stream ended.</param>
    /// <param name="openTimeout">How long opening may take before it is abandoned (pipelines; default 5 s).</param>
    /// <param name="options">Capture-thread behaviour.</param>
    public OpenCvCameraSource(string name, OpenCvInput input, string target, int width, int height, double fps = 0,
        bool paceFile = true, bool loop = false, TimeSpan? openTimeout = null, CaptureOptions? options = null)
        : base(name, width, height, input == OpenCvInput.File && !paceFile ? (options ?? new CaptureOptions()) with { DeliverEveryFrame = true } : options)
    {
        _input = input;
        _target = target;
        if (input == OpenCvInput.Device && (!int.TryParse(target, out _deviceIndex) || _deviceIndex < 0))
            throw new ArgumentException($"camera '{name}': device must be a /dev/video index such as 0, got '{target}'.", nameof(target));
        _fps = fps;
        _paceFile = paceFile;
        _loop = loop;
        _openTimeout = openTimeout ?? TimeSpan.FromSeconds(5);
    }

    /// <inheritdoc />
    protected override void Open()
    {
        _capture = _input switch
        {
            OpenCvInput.Device => OpenCvCapture.OpenDevice(Name, _deviceIndex, Width, Height, _fps),
            OpenCvInput.File => OpenCvCapture.OpenFile(Name, _target),
            _ => OpenCvCapture.OpenPipeline(Name, _target, _openTimeout),
        };
        var fps = _fps > 0 ? _fps : _capture.FramesPerSecond;
        _periodNs = _input == OpenCvInput.File && _paceFile && fps > 0 ? (long)(1e9 / fps) : 0;
        _nextDueNs = MonotonicClock.NowNanoseconds;
    }

    /// <inheritdoc />
    protected override CaptureOutcome Capture(CameraFrame frame, out string? failure)
    {
        failure = null;
        var capture = _capture!;
        if (_periodNs > 0)
        {
            var wait = _nextDueNs - MonotonicClock.NowNanoseconds;
            if (wait > 0)
                Thread.Sleep(TimeSpan.FromTicks(wait / 100));
            _nextDueNs += _periodNs;
        }
        var outcome = capture.Read(frame.Pixels, frame.Width, frame.Height, out failure);
        if (outcome == CaptureOutcome.EndOfStream && _input == OpenCvInput.File && _loop)
        {
            capture.Dispose();
            _capture = capture = OpenCvCapture.OpenFile(Name, _target);
            outcome = capture.Read(frame.Pixels, frame.Width, frame.Height, out failure);
        }
        if (outcome == CaptureOutcome.EndOfStream)
            failure ??= _input == OpenCvInput.File ? $"end of {_target}" : "the device stopped delivering frames (unplugged?)";
        return outcome;
    }

    /// <inheritdoc />
    protected override void Close()
    {
        _capture?.Dispose();
        _capture = null;
    }
}
