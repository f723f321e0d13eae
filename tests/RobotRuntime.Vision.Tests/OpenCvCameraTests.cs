using RobotRuntime.Cameras;
using RobotRuntime.Testing;
using RobotRuntime.Vision.Cameras;
using RobotRuntime.Vision.Recording;

namespace RobotRuntime.Vision.Tests;

/// <summary>
/// Recording with our Motion-JPEG AVI writer and reading back with OpenCV's FFMPEG decoder (an
/// independent implementation). JPEG is lossy: at quality 95 on the smooth synthetic pattern the
/// mean absolute error per channel stays under 3 (of 255); the bound used is 6.
/// </summary>
public sealed class OpenCvCameraTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "rr-rec-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder))
            Directory.Delete(_folder, recursive: true);
    }

    private List<CameraFrame> RecordSynthetic(int frames, int width, int height, bool finish)
    {
        using var camera = new SyntheticCameraSource("wrist", width, height, fps: 500);
        camera.Start();
        var recorder = new CameraRecorder(_folder, "wrist", width, height, framesPerSecond: 30, jpegQuality: 95);
        var written = new List<CameraFrame>();
        for (var i = 0; i < frames; i++)
        {
            var frame = new CameraFrame(width, height);
            Assert.Equal(CameraReadStatus.Ok, camera.Read(frame, Patience));
            recorder.Write(frame);
            written.Add(frame);
        }
        if (finish)
            recorder.Dispose();
        else
            recorder.Abandon();
        return written;
    }

    private static double MeanAbsoluteError(byte[] a, byte[] b) =>
        a.Zip(b, (x, y) => Math.Abs(x - y)).Average();

    private List<CameraFrame> Replay(int width, int height, int maxFrames)
    {
        using var replay = new ReplayCameraSource("wrist", _folder, "wrist", width, height, realTime: false);
        replay.Start();
        var frames = new List<CameraFrame>();
        while (frames.Count < maxFrames)
        {
            var frame = new CameraFrame(width, height);
            if (replay.Read(frame, Patience) != CameraReadStatus.Ok)
                break;
            frames.Add(frame);
        }
        return frames;
    }

    [Fact]
    public void AFinishedRecordingReplaysEveryFrameWithItsPixelsAndTimes()
    {
        var written = RecordSynthetic(12, 64, 48, finish: true);

        var sidecar = Recordings.ReadSidecar(_folder, "wrist");
        Assert.Equal(written.Select(f => f.Sequence), sidecar.Select(r => r.Sequence));
        Assert.Equal(written.Select(f => f.CaptureTimestampNs), sidecar.Select(r => r.CaptureNs));
        var replayed = Replay(64, 48, 100);
        Assert.Equal(12, replayed.Count);
        for (var i = 0; i < 12; i++)
            Assert.True(MeanAbsoluteError(written[i].Pixels, replayed[i].Pixels) < 6, $"frame {i} differs too much");
        Assert.Equal(["wrist"], Recordings.Cameras(_folder));
    }

    [Fact]
    public void ARecordingCutOffLikeAKilledProcessStillReplaysEveryFrameWritten()
    {
        var written = RecordSynthetic(9, 64, 48, finish: false);
        // A crash can also cut the sidecar mid-line: that line is ignored, the frames before it count.
        File.AppendAllText(Path.Combine(_folder, "wrist.frames.csv"), "9,123,45");

        var sidecar = Recordings.ReadSidecar(_folder, "wrist");
        Assert.Equal(9, sidecar.Count);
        var replayed = Replay(64, 48, 100);
        Assert.Equal(9, replayed.Count);
        Assert.True(MeanAbsoluteError(written[8].Pixels, replayed[8].Pixels) < 6);
    }

    [Fact]
    public void AFileCameraResizesToTheRequestedSize()
    {
        RecordSynthetic(3, 64, 48, finish: true);
        using var camera = new OpenCvCameraSource("file", OpenCvInput.File, Recordings.VideoPath(_folder, "wrist"), 32, 24, paceFile: false);
        camera.Start();
        var frame = new CameraFrame(32, 24);
        Assert.Equal(CameraReadStatus.Ok, camera.Read(frame, Patience));
        // The synthetic pattern's green channel is a vertical ramp: top dark, bottom bright.
        Assert.True(frame.Pixels[1] < 40 && frame.Pixels[(23 * 32) * 3 + 1] > 200);
    }

    [Fact]
    public void ReadingAStreamAllocatesNothingOncePastTheFirstFrame()
    {
        // OpenCvCapture reuses its decoded and resized matrices and writes RGB through a matrix over
        // the caller's pinned buffer: the capture thread makes no garbage per frame.
        RecordSynthetic(40, 64, 48, finish: true);
        using var capture = RobotRuntime.Vision.OpenCv.OpenCvCapture.OpenFile("file", Recordings.VideoPath(_folder, "wrist"));
        var rgb = new byte[32 * 24 * 3];
        for (var i = 0; i < 5; i++)
            Assert.Equal(CaptureOutcome.Frame, capture.Read(rgb, 32, 24, out _));

        var outcomes = new CaptureOutcome[30];
        var allocated = ThreadAllocations.During(() =>
        {
            for (var i = 0; i < outcomes.Length; i++)
                outcomes[i] = capture.Read(rgb, 32, 24, out _);
        });

        Assert.All(outcomes, o => Assert.Equal(CaptureOutcome.Frame, o));
        Assert.Equal(0, allocated);
        Assert.Equal(CaptureOutcome.EndOfStream, capture.Read(rgb, 32, 24, out _) == CaptureOutcome.Frame
            ? ReadToEnd(capture, rgb) : CaptureOutcome.EndOfStream);
    }

    private static CaptureOutcome ReadToEnd(RobotRuntime.Vision.OpenCv.OpenCvCapture capture, byte[] rgb)
    {
        CaptureOutcome outcome;
        var guard = 0;
        do
            outcome = capture.Read(rgb, 32, 24, out _);
        while (outcome == CaptureOutcome.Frame && ++guard < 100);
        return outcome;
    }

    [Fact]
    public void AMalformedSidecarLineIsNamed()
    {
        RecordSynthetic(3, 16, 16, finish: true);
        var path = Path.Combine(_folder, "wrist.frames.csv");
        var lines = File.ReadAllLines(path);
        lines[2] = "x,y,z,w";
        File.WriteAllLines(path, lines);
        var error = Assert.Throws<VisionException>(() => Recordings.ReadSidecar(_folder, "wrist"));
        Assert.Contains("line 3 is malformed: 'x,y,z,w'", error.Message);
    }

    [Fact]
    public void AnUnknownRecordedCameraListsTheOnesThere()
    {
        RecordSynthetic(2, 16, 16, finish: true);
        var error = Assert.Throws<VisionException>(() => new ReplayCameraSource("top", _folder, "top", 16, 16));
        Assert.Contains("has no camera 'top'", error.Message);
        Assert.Contains("wrist", error.Message);
    }

    [Fact]
    public void AMissingVideoFileIsNamed()
    {
        using var camera = new OpenCvCameraSource("file", OpenCvInput.File, "/nonexistent/clip.avi", 32, 24);
        var error = Assert.Throws<VisionException>(camera.Start);
        Assert.Equal("camera 'file': video file not found: /nonexistent/clip.avi", error.Message);
    }

    [Fact]
    public void AnAbsentDeviceFailsFastNamingTheDevice()
    {
        using var camera = new OpenCvCameraSource("usb", OpenCvInput.Device, "57", 32, 24);
        var error = Assert.Throws<VisionException>(camera.Start);
        Assert.Contains("camera 'usb': could not open /dev/video57 with the V4L2 backend", error.Message);
    }

    [Fact]
    public void AWorkingGStreamerPipelineDeliversFramesInRgbAtTheConfiguredSize()
    {
        // A solid red source (ARGB 0xFFFF0000) at 64×48, delivered at 30×24 (rows padded by GStreamer to 92 bytes).
        // Live, so it paces itself and never ends: a finite source that is not live can be drained to its
        // end (and the camera lost) before the first read.
        using var camera = new GStreamerCameraSource("gst",
            "videotestsrc is-live=true pattern=solid-color foreground-color=0xFFFF0000 ! video/x-raw,width=64,height=48,framerate=30/1 ! appsink", 30, 24,
            openTimeout: TimeSpan.FromSeconds(20));
        camera.Start();
        var frame = new CameraFrame(30, 24);
        Assert.Equal(CameraReadStatus.Ok, camera.Read(frame, Patience));
        Assert.True(frame.Sequence >= 1);
        for (var i = 0; i < frame.Pixels.Length; i += 3)
        {
            // Colour conversion rounds: within 2 of pure red.
            Assert.InRange(frame.Pixels[i], 253, 255);
            Assert.InRange(frame.Pixels[i + 1], 0, 2);
            Assert.InRange(frame.Pixels[i + 2], 0, 2);
        }
    }

    [Fact]
    public void TheLaunchLineReplacesAppsinkWithRgbAtTheConfiguredSize()
    {
        Assert.Equal("v4l2src device=/dev/video0 ! videoconvert ! videoscale ! video/x-raw,format=RGB,width=64,height=48 ! fdsink fd=1 sync=false",
            GStreamerCameraSource.LaunchLine("v4l2src device=/dev/video0 ! appsink drop=true", 64, 48));
        Assert.EndsWith("rtph264depay ! avdec_h264 ! videoconvert ! videoscale ! video/x-raw,format=RGB,width=8,height=8 ! fdsink fd=1 sync=false",
            GStreamerCameraSource.LaunchLine("rtspsrc location=rtsp://cam/1 ! rtph264depay ! avdec_h264", 8, 8));
    }

    [Fact]
    public void APipelineThatCannotOpenFailsWithGStreamersOwnReason()
    {
        using var camera = new GStreamerCameraSource("gst", "rrnosuchelement ! appsink", 32, 24, openTimeout: TimeSpan.FromSeconds(20));
        var error = Assert.Throws<VisionException>(camera.Start);
        Assert.StartsWith("camera 'gst': GStreamer pipeline 'rrnosuchelement ! appsink' could not be opened:", error.Message);
        Assert.Contains("rrnosuchelement", error.Message[60..]); // gst-launch names the element it has no plugin for
    }

    [Fact]
    public void APipelineThatNeverDeliversIsStoppedAtItsTimeoutInsteadOfHanging()
    {
        // A live source whose every buffer a closed valve drops: the pipeline runs and stays silent.
        using var camera = new GStreamerCameraSource("gst", "videotestsrc is-live=true ! valve drop=true ! appsink", 8, 8,
            openTimeout: TimeSpan.FromSeconds(2));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = Assert.Throws<VisionException>(camera.Start);
        Assert.Contains("delivered no frame within 2 s and was stopped", error.Message);
        Assert.InRange(clock.Elapsed.TotalSeconds, 1.5, 15);
    }
}
