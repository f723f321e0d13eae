using System.Globalization;
using RobotRuntime.Cameras;
using RobotRuntime.Vision.Cameras;
using RobotRuntime.Vision.Encoders;
using RobotRuntime.Vision.Recording;

namespace RobotRuntime.Vision.Tests;

public sealed class CameraSpecTests
{
    [Fact]
    public void ASpecSetsTheBackendAndEveryKey()
    {
        var stream = CameraSpec.Parse("wrist=stream,endpoint=tcp://127.0.0.1:5611,size=112x84", 224, 224);
        Assert.Equal(("wrist", "stream", "tcp://127.0.0.1:5611", 112, 84), (stream.Name, stream.Backend, stream.Endpoint, stream.Width, stream.Height));

        var device = CameraSpec.Parse("usb=device,device=2,width=640,height=480,fps=15");
        Assert.Equal((2, 640, 480, 15.0), (device.Device, device.Width, device.Height, device.Fps));

        var replay = CameraSpec.Parse("old=replay,path=recordings/a,camera=front,loop=true", 64, 48);
        Assert.Equal(("recordings/a", "front", true, 64, 48), (replay.Path, replay.RecordedCamera, replay.Loop, replay.Width, replay.Height));
    }

    [Fact]
    public void APipelineKeepsItsCommasAndComesLast()
    {
        var spec = CameraSpec.Parse("g=gstreamer,size=32,pipeline=videotestsrc ! video/x-raw,format=RGB,width=32 ! appsink");
        Assert.Equal("videotestsrc ! video/x-raw,format=RGB,width=32 ! appsink", spec.Pipeline);
        Assert.Equal(32, spec.Width);
    }

    [Theory]
    [InlineData("front", "expected NAME=BACKEND[,KEY=VALUE]")]
    [InlineData("front=webcam", "unknown backend 'webcam'; known backends: device, file,")]
    [InlineData("front=synthetic,fpx=3", "unknown key 'fpx'; keys: size, width,")]
    [InlineData("front=synthetic,fps", "'fps' is not KEY=VALUE")]
    [InlineData("front=synthetic,fps=-1", "fps '-1' is not a rate in (0, 1000]")]
    [InlineData("front=synthetic,size=0x4", "size '0x4' is not N or WxH")]
    [InlineData("front=synthetic,loop=maybe", "loop 'maybe' is not true or false")]
    [InlineData("my cam=synthetic", "camera name 'my cam' cannot name a file")]
    public void AMalformedSpecIsRejectedQuotingItAndSayingWhatWasExpected(string spec, string expected)
    {
        var failure = Assert.Throws<ArgumentException>(() => CameraSpec.Parse(spec));
        Assert.StartsWith($"camera '{spec}': ", failure.Message);
        Assert.Contains(expected, failure.Message);
    }
}

/// <summary>
/// Several cameras recorded into one folder and played back. Embeddings written by a replay are
/// checked against the same encoder run in the test on the frames the replay decodes (same
/// decoder, same ONNX Runtime, so they agree to float rounding; tolerance 1e-6 absolute).
/// </summary>
public sealed class RecordingSessionTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "rr-session-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    private string Folder(string name) => Path.Combine(_root, name);

    private static (CameraSettings, string)[] Cameras(params string[] specs) => specs.Select(s => (CameraSpec.Parse(s), s)).ToArray();

    private static void WaitFor(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            Thread.Sleep(20);
        }
    }

    private string RecordTwoCameras(string name, int frames)
    {
        var folder = Folder(name);
        using var session = new RecordingSession(folder, Cameras("front=synthetic,fps=200,size=32x24", "wrist=synthetic,fps=100,size=16"));
        var atStart = RecordingManifest.TryRead(folder)!;
        Assert.False(atStart.Complete);
        Assert.Null(atStart.Cameras[0].Frames);
        WaitFor(() => session.FramesRecorded(0) >= frames && session.FramesRecorded(1) >= frames, $"{frames} frames per camera");
        return folder;
    }

    [Fact]
    public void ClosingARecordingWritesTheFinalManifestAndEveryFrameReplays()
    {
        var folder = RecordTwoCameras("two", frames: 12);

        var manifest = RecordingManifest.TryRead(folder)!;
        Assert.True(manifest.Complete);
        Assert.NotNull(manifest.EndedUtc);
        Assert.Equal(["front", "wrist"], manifest.Cameras.Select(c => c.Name));
        Assert.Equal(("front=synthetic,fps=200,size=32x24", 32, 24), (manifest.Cameras[0].Spec, manifest.Cameras[0].Width, manifest.Cameras[0].Height));
        Assert.Equal((16, 16), (manifest.Cameras[1].Width, manifest.Cameras[1].Height));
        foreach (var camera in manifest.Cameras)
            Assert.Equal(Recordings.ReadSidecar(folder, camera.Name).Count, camera.Frames);

        using var replay = new RecordingReplay(folder, new ReplayOptions { RealTime = false });
        using var cancel = new CancellationTokenSource(Patience);
        replay.Run(cancel.Token);
        Assert.False(cancel.IsCancellationRequested, "the replay did not end by itself");
        for (var i = 0; i < 2; i++)
        {
            Assert.True(replay.FramesRecorded(i) >= 12);
            Assert.Equal(replay.FramesRecorded(i), replay.FramesReplayed(i));
        }
        Assert.Equal((32, 24), replay.FrameSize(0));
    }

    [Fact]
    public void ACameraWhoseStreamEndsStopsWithItsReason()
    {
        // 100 frames (about a second at the recorded 100 Hz): on a loaded machine the recorder's thread
        // can start a few hundred milliseconds late, and a shorter stream may have ended by then.
        var source = RecordTwoCameras("source", frames: 100);
        var frames = Recordings.ReadSidecar(source, "wrist").Count;

        using var session = new RecordingSession(Folder("copy"), Cameras($"again=replay,path={source},camera=wrist,size=16"));
        WaitFor(() => session.AllCamerasEnded, "the replayed camera to end");
        Assert.Contains("end of recording", session.EndReason(0));
        session.Dispose();
        var manifest = RecordingManifest.TryRead(Folder("copy"))!;
        Assert.Contains("end of recording", manifest.Cameras[0].EndReason);
        Assert.InRange(manifest.Cameras[0].Frames!.Value, 1, frames);
    }

    [Fact]
    public void FramesFromAZeroMqStreamAreRecordedWithTheirPixels()
    {
        // The sim-server's cameras reach a runtime this way: CameraFramePublisher on one side, the "stream" backend on the other.
        var endpoint = $"ipc://{Path.Combine(Path.GetTempPath(), "rr-rec-stream-" + Guid.NewGuid().ToString("N"))}";
        using var publisher = new CameraFramePublisher(endpoint, 16, 12);
        var sent = new CameraFrame(16, 12);
        for (var i = 0; i < sent.Pixels.Length; i++)
            sent.Pixels[i] = (byte)(i % 3 == 0 ? 200 : 40); // a flat colour survives JPEG within a few levels
        var folder = Folder("stream");
        using (var session = new RecordingSession(folder, Cameras($"front=stream,endpoint={endpoint},size=16x12")))
        {
            WaitFor(() =>
            {
                sent.Sequence++;
                sent.CaptureTimestampNs = RobotRuntime.Timing.MonotonicClock.NowNanoseconds;
                publisher.Publish(sent);
                Thread.Sleep(10);
                return session.FramesRecorded(0) >= 5;
            }, "5 streamed frames recorded");
        }

        using var replay = new ReplayCameraSource("front", folder, "front", 16, 12, realTime: false);
        replay.Start();
        var frame = new CameraFrame(16, 12);
        Assert.Equal(CameraReadStatus.Ok, replay.Read(frame, Patience));
        var worst = frame.Pixels.Zip(sent.Pixels, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 8, $"largest pixel difference after JPEG: {worst}");
    }

    [Fact]
    public void ARecordingIsNeverOverwrittenAndCameraNamesMustDiffer()
    {
        var folder = RecordTwoCameras("once", frames: 1);
        var again = Assert.Throws<ArgumentException>(() => new RecordingSession(folder, Cameras("front=synthetic")));
        Assert.Contains("already holds a recording", again.Message);

        var twice = Assert.Throws<ArgumentException>(() => new RecordingSession(Folder("dup"), Cameras("a=synthetic", "a=synthetic,fps=10")));
        Assert.Contains("two cameras are named 'a'", twice.Message);
        Assert.False(Directory.Exists(Folder("dup")));
    }

    [Fact]
    public void ReplayWritesOneEmbeddingPerFrameEqualToEncodingTheDecodedFrame()
    {
        var folder = RecordTwoCameras("encode", frames: 6);
        var zoo = PvrZoo.Load(Path.Combine(Repo.TestModels, "test-zoo.json"));
        var model = zoo.Get("test-conv");
        var csv = Path.Combine(folder, "out", "test-conv.csv");
        using (var replay = new RecordingReplay(folder, new ReplayOptions
               {
                   RealTime = false,
                   CreateEncoder = (w, h) => new OnnxPvrEncoder(model, zoo.ResolveFile(model), 1, w, h),
                   EmbeddingsPath = csv,
               }))
        {
            replay.Run(new CancellationTokenSource(Patience).Token);
            Assert.Equal(replay.FramesRecorded(0), replay.FramesEncoded(0));
            Assert.Equal(replay.FramesRecorded(1), replay.FramesEncoded(1));
        }

        var lines = File.ReadAllLines(csv);
        Assert.Equal("camera,frame,sequence,capture_ns,e0,e1,e2,e3", lines[0]);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        foreach (var camera in new[] { "front", "wrist" })
        {
            var sidecar = Recordings.ReadSidecar(folder, camera);
            var mine = rows.Where(r => r[0] == camera).ToList();
            Assert.Equal(sidecar.Count, mine.Count);
            var (width, height) = camera == "front" ? (32, 24) : (16, 16);
            using var encoder = new OnnxPvrEncoder(model, zoo.ResolveFile(model), 1, width, height);
            using var decode = new ReplayCameraSource(camera, folder, camera, width, height, realTime: false);
            decode.Start();
            var frame = new CameraFrame(width, height);
            var expected = new float[4];
            for (var i = 0; i < sidecar.Count; i++)
            {
                Assert.Equal(CameraReadStatus.Ok, decode.Read(frame, Patience));
                Assert.Equal(RobotRuntime.Encoders.EncodeStatus.Ok, encoder.Encode([frame], expected));
                var row = mine[i];
                Assert.Equal((sidecar[i].Frame, sidecar[i].Sequence, sidecar[i].CaptureNs),
                    (int.Parse(row[1], CultureInfo.InvariantCulture), long.Parse(row[2], CultureInfo.InvariantCulture), long.Parse(row[3], CultureInfo.InvariantCulture)));
                for (var k = 0; k < 4; k++)
                    Assert.True(Math.Abs(expected[k] - float.Parse(row[4 + k], CultureInfo.InvariantCulture)) <= 1e-6f, $"{camera} frame {i} e{k}");
            }
        }
    }

    [Fact]
    public void AFolderWithoutARecordingOrWithAForeignManifestIsNamed()
    {
        Directory.CreateDirectory(Folder("empty"));
        var empty = Assert.Throws<VisionException>(() => new RecordingReplay(Folder("empty"), new ReplayOptions()));
        Assert.Contains("holds no recording", empty.Message);

        Directory.CreateDirectory(Folder("foreign"));
        File.WriteAllText(Path.Combine(Folder("foreign"), RecordingManifest.FileName), """{"format": "something-else", "version": 1}""");
        var foreign = Assert.Throws<VisionException>(() => new RecordingReplay(Folder("foreign"), new ReplayOptions()));
        Assert.Contains("manifest.json is not a recording manifest (expected \"format\": \"robotruntime-recording\"", foreign.Message);

        File.WriteAllText(Path.Combine(Folder("foreign"), RecordingManifest.FileName), """{"format": "robotruntime-recording", "version": 1, "camras": []}""");
        var typo = Assert.Throws<VisionException>(() => new RecordingReplay(Folder("foreign"), new ReplayOptions()));
        Assert.Contains("camras", typo.Message);
    }
}
