using RobotRuntime.Cameras;
using RobotRuntime.Timing;
using RobotRuntime.Vision.OpenCv;
using RobotRuntime.Vision.Recording;

namespace RobotRuntime.Vision.Cameras;

/// <summary>
/// Plays back one camera of a recording (see <see cref="CameraRecorder"/>), decoding the video
/// with OpenCV and keeping the recorded spacing between frames (or as fast as decoding goes).
/// Replayed faster than real time, no frame is skipped (the next is decoded once the reader took
/// the last). Frames are stamped when delivered, like a live camera; the recorded times are in
/// <see cref="RecordedFrames"/> for offline analysis.
/// </summary>
public sealed class ReplayCameraSource : CapturingCameraSource
{
    private readonly string _folder;
    private readonly string _camera;
    private readonly bool _realTime;
    private readonly bool _loop;
    private OpenCvCapture? _capture;
    private int _next;
    private long _startNs;

    /// <summary>Creates the source; <paramref name="width"/>/<paramref name="height"/> may differ from the recording (frames are resized).</summary>
    public ReplayCameraSource(string name, string folder, string camera, int width, int height, bool realTime = true, bool loop = false, CaptureOptions? options = null)
        : base(name, width, height, realTime ? options : (options ?? new CaptureOptions()) with { DeliverEveryFrame = true })
    {
        _folder = Path.GetFullPath(folder);
        _camera = camera;
        _realTime = realTime;
        _loop = loop;
        RecordedFrames = Recordings.ReadSidecar(_folder, camera);
    }

    /// <summary>The recording's sidecar lines, in order.</summary>
    public IReadOnlyList<RecordedFrame> RecordedFrames { get; }

    /// <inheritdoc />
    protected override void Open()
    {
        _capture = OpenCvCapture.OpenFile(Name, Recordings.VideoPath(_folder, _camera));
        _next = 0;
        _startNs = MonotonicClock.NowNanoseconds;
    }

    /// <inheritdoc />
    protected override CaptureOutcome Capture(CameraFrame frame, out string? failure)
    {
        failure = null;
        if (_next >= RecordedFrames.Count)
        {
            if (!_loop)
            {
                failure = $"end of recording {_folder} ({RecordedFrames.Count} frames of '{_camera}')";
                return CaptureOutcome.EndOfStream;
            }
            Close();
            Open();
        }
        if (_realTime && _next > 0)
        {
            var due = _startNs + (RecordedFrames[_next].CaptureNs - RecordedFrames[0].CaptureNs);
            var wait = due - MonotonicClock.NowNanoseconds;
            if (wait > 0)
                Thread.Sleep(TimeSpan.FromTicks(wait / 100));
        }
        var outcome = _capture!.Read(frame.Pixels, frame.Width, frame.Height, out failure);
        if (outcome == CaptureOutcome.Frame)
            _next++;
        else if (outcome == CaptureOutcome.EndOfStream)
            failure = $"the video of '{_camera}' in {_folder} ended after {_next} of {RecordedFrames.Count} frames";
        return outcome;
    }

    /// <inheritdoc />
    protected override void Close()
    {
        _capture?.Dispose();
        _capture = null;
    }
}
