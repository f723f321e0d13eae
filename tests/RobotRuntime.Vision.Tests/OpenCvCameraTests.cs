using RobotRuntime.Cameras;
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
    public void AWorkingGStreamerPipelineDeliversFrames()
    {
        using var camera = new OpenCvCameraSource("gst", OpenCvInput.Pipeline,
            "videotestsrc num-buffers=30 ! video/x-raw,width=64,height=48,framerate=30/1 ! videoconvert ! video/x-raw,format=BGR ! appsink", 32, 24,
            openTimeout: TimeSpan.FromSeconds(20));
        camera.Start();
        var frame = new CameraFrame(32, 24);
        Assert.Equal(CameraReadStatus.Ok, camera.Read(frame, Patience));
        Assert.True(frame.Sequence >= 1);
    }

    [Fact]
    public void APipelineThatCannotOpenFailsWithinItsTimeoutInsteadOfHanging()
    {
        using var camera = new OpenCvCameraSource("gst", OpenCvInput.Pipeline, "rrnosuchelement ! appsink", 32, 24,
            openTimeout: TimeSpan.FromSeconds(2));
        var error = Assert.Throws<VisionException>(camera.Start);
        // Either OpenCV reports the failure, or the watchdog gives up on a stuck open; both name the pipeline.
        Assert.Contains("GStreamer pipeline 'rrnosuchelement ! appsink'", error.Message);
    }
}
