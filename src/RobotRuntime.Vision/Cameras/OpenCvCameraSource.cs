using RobotRuntime.Cameras;
using RobotRuntime.Timing;
using RobotRuntime.Vision.OpenCv;

namespace RobotRuntime.Vision.Cameras;

/// <summary>Where an OpenCV camera's frames come from.</summary>
public enum OpenCvInput
{
    /// <summary>A V4L2 device, <c>/dev/video&lt;index&gt;</c>.</summary>
    Device,
    /// <summary>A video file or a network stream such as rtsp:// (FFMPEG backend).</summary>
    File,
}

/// <summary>
/// A camera read through OpenCV's video I/O (OpenCvSharp4): a USB camera by index (V4L2 only, so an
/// absent device fails in under a millisecond), or a video file or network stream through FFmpeg.
/// Frames are resized to the requested size (INTER_AREA) and converted to RGB straight into the
/// frame's buffer. GStreamer pipelines are <see cref="GStreamerCameraSource"/>'s.
/// </summary>
public sealed class OpenCvCameraSource : CapturingCameraSource
{
    private readonly OpenCvInput _input;
    private readonly string _target;
    private readonly int _deviceIndex;
    private readonly double _fps;
    private readonly bool _paceFile;
    private readonly bool _loop;
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
    /// <param name="options">Capture-thread behaviour.</param>
    public OpenCvCameraSource(string name, OpenCvInput input, string target, int width, int height, double fps = 0,
        bool paceFile = true, bool loop = false, CaptureOptions? options = null)
        : base(name, width, height, input == OpenCvInput.File && !paceFile ? (options ?? new CaptureOptions()) with { DeliverEveryFrame = true } : options)
    {
        _input = input;
        _target = target;
        if (input == OpenCvInput.Device && (!int.TryParse(target, out _deviceIndex) || _deviceIndex < 0))
            throw new ArgumentException($"camera '{name}': device must be a /dev/video index such as 0, got '{target}'.", nameof(target));
        _fps = fps;
        _paceFile = paceFile;
        _loop = loop;
    }

    /// <inheritdoc />
    protected override void Open()
    {
        _capture = _input == OpenCvInput.Device
            ? OpenCvCapture.OpenDevice(Name, _deviceIndex, Width, Height, _fps)
            : OpenCvCapture.OpenFile(Name, _target);
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
