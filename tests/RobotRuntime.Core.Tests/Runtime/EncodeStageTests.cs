using RobotRuntime.Cameras;
using RobotRuntime.Encoders;
using RobotRuntime.Runtime;
using RobotRuntime.Testing;
using static RobotRuntime.Core.Tests.Runtime.ControlLoopTests;

namespace RobotRuntime.Core.Tests.Runtime;

/// <summary>
/// The encode stage driven on the test thread with <see cref="EncodeStage.PumpOnce"/> (its thread is
/// not started), on a fake clock that the cameras stamp their frames on: each pump first moves the
/// clock one camera frame on, so the first camera has a new frame.
/// </summary>
public sealed class EncodeStageTests
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Pairing = TimeSpan.FromMilliseconds(50);
    private const long Ms = 1_000_000;
    private readonly FakeCycleTimeSource _clock = new();

    private EncodeStage Stage(IReadOnlyList<ICameraSource> cameras, IEncoder encoder) => new(cameras, encoder, MaxAge, Pairing, _clock);

    private FakeCamera Camera(string name) => new(name, _clock);

    /// <summary>The next camera frame falls due; the stage encodes it.</summary>
    private bool NextFrame(EncodeStage stage)
    {
        _clock.Work(FakeCamera.DefaultFramePeriodNs);
        return stage.PumpOnce();
    }

    private sealed class ThrowingEncoder(int cameras) : IEncoder
    {
        public string Name => "thrower";
        public int CameraCount => cameras;
        public int FrameWidth => 8;
        public int FrameHeight => 8;
        public int EmbeddingSizePerCamera => 1;
        public int EmbeddingSize => cameras;
        public string LastError => "";
        public EncodeStatus Encode(IReadOnlyList<CameraFrame> frames, Span<float> embedding) => throw new InvalidOperationException("weights gone");
        public void Dispose() { }
    }

    [Fact]
    public void ATakenSetStaysPutWhileTheStageWritesNewerOnes()
    {
        var front = Camera("front");
        front.Shade = 51;
        var wrist = Camera("wrist");
        wrist.Shade = 102;
        using var stage = Stage([front, wrist], new MeanEncoder(2));
        Assert.Null(stage.TakeLatest());

        Assert.True(NextFrame(stage));
        var first = stage.TakeLatest()!;
        Assert.Equal(1, first.Version);
        Assert.True(first.Ok);
        Assert.Equal([0.2f, 0.4f], first.Embedding);

        // Two more sets while the reader holds the first: neither may be written into it.
        front.Shade = 255;
        Assert.True(NextFrame(stage));
        Assert.True(NextFrame(stage));
        Assert.Equal(1, first.Version);
        Assert.Equal(0.2f, first.Embedding[0]);
        Assert.Equal(51, first.Frames[0].Pixels[0]);

        var newest = stage.TakeLatest()!;
        Assert.Equal(3, newest.Version);
        Assert.Equal(1f, newest.Embedding[0]);
        // Both frames fell due now and were 5 ms old then; the encode took no time on the fake clock.
        Assert.Equal(_clock.NowNanoseconds - 5 * Ms, newest.OldestCaptureNs);
        Assert.Equal(_clock.NowNanoseconds, newest.EncodedAtNs);
        Assert.Equal(MeanEncoder.InferenceNs, newest.EncodeNs);
        // Nothing new since: the reader keeps the same set.
        Assert.Same(newest, stage.TakeLatest());
        Assert.Equal(3, stage.Published);
    }

    [Fact]
    public void FramesCapturedTooFarApartOrTooOldAreNotEncodedTogether()
    {
        var front = Camera("front");
        var wrist = Camera("wrist");
        wrist.AgeNs = 80 * Ms; // fresh enough (< 100 ms), 75 ms from the front's: beyond 50 ms pairing
        using var stage = Stage([front, wrist], new MeanEncoder(2));
        Assert.False(NextFrame(stage));
        wrist.AgeNs = 300 * Ms; // stale
        Assert.False(NextFrame(stage));
        Assert.Equal(2, stage.Unpaired);
        Assert.Null(stage.TakeLatest());
        wrist.AgeNs = 20 * Ms; // 15 ms from the front's
        Assert.True(NextFrame(stage));
        Assert.Equal(_clock.NowNanoseconds - 20 * Ms, stage.TakeLatest()!.OldestCaptureNs);
    }

    /// <summary>A second camera whose newest frame is a period old until its blocking read, which gives the fresh companion.</summary>
    private sealed class LateCompanionCamera(ICycleTimeSource clock) : ICameraSource
    {
        public int BlockingReads;
        public string Name => "wrist";
        public int Width => 8;
        public int Height => 8;
        public CameraHealth Health => new(true, 1, 0, "");
        public void Start() { }
        public CameraReadStatus Read(CameraFrame destination, TimeSpan timeout)
        {
            BlockingReads++;
            destination.Pixels.AsSpan().Fill(200);
            destination.CaptureTimestampNs = clock.NowNanoseconds - 2 * Ms;
            return CameraReadStatus.Ok;
        }
        public CameraReadStatus ReadLatest(CameraFrame destination, TimeSpan timeout) => Read(destination, timeout);
        public CameraReadStatus TryReadLatest(TimeSpan maxAge, CameraFrame destination)
        {
            destination.Pixels.AsSpan().Fill(10);
            destination.CaptureTimestampNs = clock.NowNanoseconds - 33 * Ms;
            return CameraReadStatus.Ok;
        }
        public void Dispose() { }
    }

    [Fact]
    public void ASecondCamerasFrameFromBeforeTheFirstsIsReplacedByItsCompanionWhenItArrives()
    {
        var front = Camera("front");
        front.AgeNs = 1 * Ms;
        var wrist = new LateCompanionCamera(_clock);
        using var stage = Stage([front, wrist], new MeanEncoder(2));
        Assert.True(NextFrame(stage));
        var set = stage.TakeLatest()!;
        Assert.Equal(1, wrist.BlockingReads);
        Assert.Equal(200, set.Frames[1].Pixels[0]);             // the companion, not the frame a period older
        Assert.Equal(200 / 255f, set.Embedding[1], 1e-6f);
        // The set's oldest frame is the companion (2 ms old), not the front's (1 ms) nor the replaced one (33 ms).
        Assert.Equal(_clock.NowNanoseconds - 2 * Ms, set.OldestCaptureNs);
    }

    [Fact]
    public void AThrowingEncoderIsPublishedAsAFailedSetNamingTheEncoder()
    {
        using var stage = Stage([Camera("front")], new ThrowingEncoder(1));
        Assert.True(NextFrame(stage));
        var set = stage.TakeLatest()!;
        Assert.False(set.Ok);
        Assert.Equal(1, stage.Failures);
        Assert.Equal("encoder 'thrower' failed: weights gone", stage.LastError);
    }

    [Fact]
    public void EncodingAndTakingAllocateNothingInSteadyState()
    {
        using var stage = Stage([Camera("front"), Camera("wrist")], new MeanEncoder(2));
        for (var i = 0; i < 10; i++)
        {
            NextFrame(stage);
            stage.TakeLatest();
        }
        var published = 0;
        long allocated = ThreadAllocations.During(() =>
        {
            for (var i = 0; i < 100; i++)
            {
                if (NextFrame(stage))
                    published++;
                stage.TakeLatest();
            }
        });
        Assert.Equal(0, allocated);
        Assert.Equal(100, published); // the acting path was measured, not timeouts
    }

    [Fact]
    public void AStageThatDoesNotFitItsEncoderIsRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => Stage([Camera("front")], new MeanEncoder(2)));
        Assert.Contains("takes 2 camera(s), the stage has 1", error.Message);
    }
}
