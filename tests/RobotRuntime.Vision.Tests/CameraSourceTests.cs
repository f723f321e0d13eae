using RobotRuntime.Cameras;
using RobotRuntime.Vision.Cameras;

namespace RobotRuntime.Vision.Tests;

/// <summary>
/// The synthetic camera's own behaviour (its pixels, its end, reconnecting) and the factory. What every
/// camera must do is in <see cref="CameraSourceContractTests"/>, run for each backend.
/// </summary>
public sealed class CameraSourceTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public void BlockingReadsDeliverNewFramesInOrderWithTheirPixels()
    {
        using var camera = new SyntheticCameraSource("wrist", 8, 6, fps: 200);
        camera.Start();
        var frame = new CameraFrame(8, 6);
        long previous = 0;
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(CameraReadStatus.Ok, camera.Read(frame, Patience));
            Assert.True(frame.Sequence > previous);
            Assert.Equal(SyntheticCameraSource.PatternValue(frame.Sequence), frame.Pixels[0]);
            Assert.True(frame.CaptureTimestampNs > 0);
            previous = frame.Sequence;
        }
    }

    [Fact]
    public void ALostCameraIsReportedByTheSourceAndReadsSayLost()
    {
        using var camera = new SyntheticCameraSource("unplugged", 8, 6, fps: 200, stopAfterFrames: 3);
        camera.Start();
        var frame = new CameraFrame(8, 6);
        var deadline = DateTime.UtcNow + Patience;
        while (camera.Health.IsConnected && DateTime.UtcNow < deadline)
            Thread.Sleep(5);

        var health = camera.Health;
        Assert.False(health.IsConnected);
        Assert.Equal(3, health.FramesCaptured);
        Assert.Contains("camera 'unplugged': stream ended", health.Reason);
        Assert.Equal(CameraReadStatus.Lost, camera.TryReadLatest(TimeSpan.FromMilliseconds(1), frame));
        Assert.Equal(CameraReadStatus.Lost, camera.Read(frame, TimeSpan.FromMilliseconds(50)));
    }

    [Fact]
    public void ALostCameraComesBackWhenReconnectIsConfigured()
    {
        var options = new CaptureOptions(ReconnectInterval: TimeSpan.FromMilliseconds(20));
        using var camera = new SyntheticCameraSource("flaky", 8, 6, fps: 500, stopAfterFrames: 3, options: options);
        camera.Start();
        var deadline = DateTime.UtcNow + Patience;
        while (camera.Health.FramesCaptured < 7 && DateTime.UtcNow < deadline)
            Thread.Sleep(5);
        Assert.True(camera.Health.FramesCaptured >= 7, $"captured {camera.Health.FramesCaptured} frames; reconnects should have delivered more than 3");
    }

    [Fact]
    public void TheFactoryNamesKnownBackendsWhenGivenAnUnknownOne()
    {
        var error = Assert.Throws<ArgumentException>(() => CameraFactory.Create(new CameraSettings { Name = "top", Backend = "webcam" }));
        Assert.Contains("camera 'top': unknown backend 'webcam'", error.Message);
        Assert.Contains("device", error.Message);
        Assert.Contains("synthetic", error.Message);
        var missing = Assert.Throws<ArgumentException>(() => CameraFactory.Create(new CameraSettings { Name = "top", Backend = "file" }));
        Assert.Contains("backend 'file' needs 'path'", missing.Message);
    }

    [Fact]
    public void TestDoublesRegisterLikeRealBackends()
    {
        CameraFactory.Register("test-double", s => new SyntheticCameraSource(s.Name, s.Width, s.Height, 50));
        using var camera = CameraFactory.Create(new CameraSettings { Name = "double", Backend = "test-double", Width = 4, Height = 4 });
        Assert.IsType<SyntheticCameraSource>(camera);
        Assert.Contains("test-double", CameraFactory.Backends);
    }
}

public sealed class PushCameraSourceTests
{
    [Fact]
    public void PushedImagesAreReadWithTheProducersCaptureTime()
    {
        using var camera = new PushCameraSource("sim-wrist", 2, 2);
        camera.Start();
        var captured = RobotRuntime.Timing.MonotonicClock.NowNanoseconds - 5_000_000;
        Assert.True(camera.Push(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, captured));
        Assert.False(camera.Push(new byte[3], captured));

        var frame = new CameraFrame(2, 2);
        Assert.Equal(CameraReadStatus.Ok, camera.Read(frame, TimeSpan.FromSeconds(10)));

        Assert.Equal(captured, frame.CaptureTimestampNs);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, frame.Pixels);
        Assert.Equal(CameraReadStatus.Stale, camera.TryReadLatest(TimeSpan.FromMilliseconds(1), frame));
    }

    [Fact]
    public void WhenPushesStopTheCameraIsLostAndComesBackWhenTheyResume()
    {
        var options = new CaptureOptions(LostAfterFailures: 2, ReconnectInterval: TimeSpan.FromMilliseconds(10));
        using var camera = new PushCameraSource("sim-top", 1, 1, TimeSpan.FromMilliseconds(30), options);
        camera.Start();
        // Asserted on the snapshot that ended the wait: the camera reopens 10 ms after each loss, so a second
        // read of Health after a pause of this thread may already say connected with no reason.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var health = camera.Health;
        while (health.IsConnected && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(5);
            health = camera.Health;
        }
        Assert.False(health.IsConnected);
        Assert.Contains("nothing pushed for 30 ms", health.Reason);

        var frame = new CameraFrame(1, 1);
        deadline = DateTime.UtcNow.AddSeconds(10);
        var status = CameraReadStatus.Lost;
        while (status != CameraReadStatus.Ok && DateTime.UtcNow < deadline)
        {
            camera.Push(new byte[] { 9, 9, 9 }, RobotRuntime.Timing.MonotonicClock.NowNanoseconds);
            status = camera.Read(frame, TimeSpan.FromMilliseconds(20));
        }
        Assert.Equal(CameraReadStatus.Ok, status);
        Assert.True(camera.Health.IsConnected);
    }
}
