using RobotRuntime.Cameras;
using RobotRuntime.Imaging;
using RobotRuntime.Timing;
using RobotRuntime.Vision.Cameras;
using RobotRuntime.Vision.Recording;

namespace RobotRuntime.Vision.Tests;

/// <summary>Video files and recordings the file-backed cameras play, written with the project's Motion-JPEG recorder.</summary>
internal static class ContractMedia
{
    /// <summary>The recorded camera's name inside a recording.</summary>
    public const string RecordedCamera = "wrist";

    /// <summary>Writes a recording of <paramref name="frames"/> 64×48 frames captured 10 ms apart into <paramref name="folder"/>; returns the folder.</summary>
    public static string Record(string folder, int frames)
    {
        Directory.CreateDirectory(folder);
        using var recorder = new CameraRecorder(folder, RecordedCamera, 64, 48, framesPerSecond: 30, jpegQuality: 90);
        var frame = new CameraFrame(64, 48);
        for (var n = 1; n <= frames; n++)
        {
            for (var i = 0; i < frame.Pixels.Length; i++)
                frame.Pixels[i] = (byte)(i / 3 % 64 * 4 + n * 9);
            frame.Sequence = n;
            frame.CaptureTimestampNs = 1_000_000_000 + n * 10_000_000L;
            recorder.Write(frame);
        }
        return folder;
    }

    /// <summary>Writes a video file of <paramref name="frames"/> frames; returns its path.</summary>
    public static string Video(string folder, int frames) => Recordings.VideoPath(Record(folder, frames), RecordedCamera);
}

/// <summary>The contract for <see cref="SyntheticCameraSource"/> at 100 fps (nothing to open).</summary>
public sealed class SyntheticCameraContractTests : CameraSourceContractTests
{
    protected override Subject CreateLive(string name) => new(new SyntheticCameraSource(name, Width, Height, fps: 100));

    protected override Subject CreateEnding(string name, int frames) => new(new SyntheticCameraSource(name, Width, Height, fps: 100, stopAfterFrames: frames));

    /// <summary>A synthetic camera draws its frames itself: there is nothing to open.</summary>
    protected override ICameraSource? CreateUnopenable(string name) => null;
}

/// <summary>
/// The contract for <see cref="PushCameraSource"/>, fed by a producer thread as the simulator feeds it
/// (nothing to open: frames are handed to it in process).
/// </summary>
public sealed class PushCameraContractTests : CameraSourceContractTests
{
    private static FrameFeed Feed(PushCameraSource camera, Func<bool>? stopWhen = null)
    {
        var pixels = new byte[Width * Height * 3];
        return new FrameFeed(n =>
        {
            pixels.AsSpan().Fill((byte)n);
            camera.Push(pixels, MonotonicClock.NowNanoseconds);
        }, stopWhen);
    }

    protected override Subject CreateLive(string name)
    {
        // Not lost while a test holds the feed back: 1000 silent 2 s waits in a row would be needed.
        var camera = new PushCameraSource(name, Width, Height, TimeSpan.FromSeconds(2), new CaptureOptions(LostAfterFailures: 1000));
        var feed = Feed(camera);
        return new Subject(camera, feed.Begin, feed.End);
    }

    protected override Subject CreateEnding(string name, int frames)
    {
        // Lost for good after two 1 s captures without a push: the feed thread starts after the camera, and a start
        // later than two 100 ms timeouts on a busy machine lost the camera before its first frame. Lost 2 s after the
        // feed stops, well inside the contract's 30 s Patience.
        var camera = new PushCameraSource(name, Width, Height, TimeSpan.FromSeconds(1), new CaptureOptions(LostAfterFailures: 2, ReconnectInterval: null));
        var feed = Feed(camera, () => camera.Health.FramesCaptured >= frames);
        return new Subject(camera, feed.Begin, feed.End);
    }

    /// <summary>Frames are pushed to it in process: there is nothing to open.</summary>
    protected override ICameraSource? CreateUnopenable(string name) => null;
}

/// <summary>
/// The contract for <see cref="ZmqCameraSource"/> reading the project's camera stream publisher
/// (<see cref="CameraFramePublisher"/>, as rr sim-server's cameras publish) on a random loopback port.
/// </summary>
public sealed class ZmqCameraContractTests : CameraSourceContractTests
{
    /// <summary>A frame's stamp is its arrival here minus the age the publisher says it had when sent: transport time is not in it, and varies.</summary>
    protected override bool CaptureTimesIncreaseWithSequence => false;

    private static (CameraFramePublisher Publisher, FrameFeed Feed) Publish(Func<bool>? stopWhen = null)
    {
        var publisher = new CameraFramePublisher("tcp://127.0.0.1:*", Width, Height);
        var frame = new CameraFrame(Width, Height);
        var feed = new FrameFeed(n =>
        {
            frame.Pixels.AsSpan().Fill((byte)n);
            frame.Sequence = n;
            frame.CaptureTimestampNs = MonotonicClock.NowNanoseconds;
            publisher.Publish(frame);
        }, stopWhen);
        return (publisher, feed);
    }

    protected override Subject CreateLive(string name)
    {
        var (publisher, feed) = Publish();
        var camera = new ZmqCameraSource(name, publisher.Endpoint, Width, Height, TimeSpan.FromSeconds(2), new CaptureOptions(LostAfterFailures: 1000));
        return new Subject(camera, feed.Begin, feed.End, publisher);
    }

    protected override Subject CreateEnding(string name, int frames)
    {
        ZmqCameraSource? camera = null;
        var (publisher, feed) = Publish(() => camera!.Health.FramesCaptured >= frames);
        // Lost for good after two 1 s captures without a frame: the subscription and the feed thread's start can take
        // longer than two 100 ms timeouts on a busy machine, which lost the camera before its first frame. Lost 2 s
        // after the feed stops, well inside the contract's 30 s Patience.
        camera = new ZmqCameraSource(name, publisher.Endpoint, Width, Height, TimeSpan.FromSeconds(1), new CaptureOptions(LostAfterFailures: 2, ReconnectInterval: null));
        return new Subject(camera, feed.Begin, feed.End, publisher);
    }

    protected override ICameraSource? CreateUnopenable(string name) => new ZmqCameraSource(name, "nosuchtransport://contract", Width, Height);
}

/// <summary>The contract for <see cref="OpenCvCameraSource"/> playing a video file at its own rate (as the <c>file</c> backend does), written by the project's recorder at 64×48.</summary>
public sealed class OpenCvFileCameraContractTests : CameraSourceContractTests
{
    protected override Subject CreateLive(string name) =>
        new(new OpenCvCameraSource(name, OpenCvInput.File, ContractMedia.Video(Path.Combine(Folder, "live"), 12), Width, Height, loop: true));

    protected override Subject CreateEnding(string name, int frames) =>
        new(new OpenCvCameraSource(name, OpenCvInput.File, ContractMedia.Video(Path.Combine(Folder, "ending"), frames), Width, Height));

    protected override ICameraSource? CreateUnopenable(string name) =>
        new OpenCvCameraSource(name, OpenCvInput.File, Path.Combine(Folder, "no-such-clip.avi"), Width, Height);
}

/// <summary>The contract for <see cref="ReplayCameraSource"/> keeping the recorded spacing between frames (the <c>replay</c> backend's default).</summary>
public sealed class ReplayCameraContractTests : CameraSourceContractTests
{
    protected override Subject CreateLive(string name) =>
        new(new ReplayCameraSource(name, ContractMedia.Record(Path.Combine(Folder, "live"), 12), ContractMedia.RecordedCamera, Width, Height, realTime: true, loop: true));

    protected override Subject CreateEnding(string name, int frames) =>
        new(new ReplayCameraSource(name, ContractMedia.Record(Path.Combine(Folder, "ending"), frames), ContractMedia.RecordedCamera, Width, Height, realTime: true));

    /// <summary>A recording whose video went missing: its frame list is read when the camera is made, the video when it starts.</summary>
    protected override ICameraSource? CreateUnopenable(string name)
    {
        var folder = ContractMedia.Record(Path.Combine(Folder, "videoless"), 3);
        File.Delete(Recordings.VideoPath(folder, ContractMedia.RecordedCamera));
        return new ReplayCameraSource(name, folder, ContractMedia.RecordedCamera, Width, Height);
    }
}

/// <summary>The contract for <see cref="ReplayCameraSource"/> replaying as fast as it decodes, every frame handed over.</summary>
public sealed class ReplayAsFastAsDecodedCameraContractTests : CameraSourceContractTests
{
    /// <summary>Replayed faster than real time, the next frame is decoded only once the reader took the last: none is skipped.</summary>
    protected override bool DeliversEveryFrame => true;

    protected override Subject CreateLive(string name) =>
        new(new ReplayCameraSource(name, ContractMedia.Record(Path.Combine(Folder, "live"), 12), ContractMedia.RecordedCamera, Width, Height, realTime: false, loop: true));

    protected override Subject CreateEnding(string name, int frames) =>
        new(new ReplayCameraSource(name, ContractMedia.Record(Path.Combine(Folder, "ending"), frames), ContractMedia.RecordedCamera, Width, Height, realTime: false));

    protected override ICameraSource? CreateUnopenable(string name)
    {
        var folder = ContractMedia.Record(Path.Combine(Folder, "videoless"), 3);
        File.Delete(Recordings.VideoPath(folder, ContractMedia.RecordedCamera));
        return new ReplayCameraSource(name, folder, ContractMedia.RecordedCamera, Width, Height, realTime: false);
    }
}

/// <summary>The contract for <see cref="GStreamerCameraSource"/> running <c>videotestsrc</c> in gst-launch-1.0 (installed by scripts/bootstrap).</summary>
public sealed class GStreamerCameraContractTests : CameraSourceContractTests
{
    // The pipeline's first frame is read inside Start; a loaded machine may take a while to start gst-launch-1.0.
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(20);

    protected override Subject CreateLive(string name) =>
        new(new GStreamerCameraSource(name, "videotestsrc is-live=true pattern=ball ! video/x-raw,width=64,height=48,framerate=30/1 ! appsink", Width, Height, OpenTimeout));

    protected override Subject CreateEnding(string name, int frames) =>
        new(new GStreamerCameraSource(name, $"videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,width=64,height=48,framerate=30/1 ! appsink", Width, Height, OpenTimeout));

    protected override ICameraSource? CreateUnopenable(string name) => new GStreamerCameraSource(name, "rrnosuchelement ! appsink", Width, Height, OpenTimeout);
}

/// <summary>
/// The contract for <see cref="UndistortedCameraSource"/> (a camera's <c>calibration=</c> setting)
/// around a synthetic camera, with a calibration for the delivered size; unopenable around a missing video file.
/// </summary>
public sealed class UndistortedCameraContractTests : CameraSourceContractTests
{
    private static readonly CameraCalibration Calibration = new()
    {
        Width = Width, Height = Height, Fx = 30, Fy = 30, Cx = Width / 2.0, Cy = Height / 2.0, Distortion = [-0.2, 0.05, 0, 0, 0],
    };

    private static UndistortedCameraSource Undistorted(ICameraSource inner) => new(inner, Calibration, "contract-calibration.json");

    protected override Subject CreateLive(string name) => new(Undistorted(new SyntheticCameraSource(name, Width, Height, fps: 100)));

    protected override Subject CreateEnding(string name, int frames) => new(Undistorted(new SyntheticCameraSource(name, Width, Height, fps: 100, stopAfterFrames: frames)));

    protected override ICameraSource? CreateUnopenable(string name) =>
        Undistorted(new OpenCvCameraSource(name, OpenCvInput.File, Path.Combine(Folder, "no-such-clip.avi"), Width, Height));
}
