using RobotRuntime.Cameras;
using RobotRuntime.Encoders;
using RobotRuntime.Runtime;
using static RobotRuntime.Core.Tests.Runtime.ControlLoopTests;

namespace RobotRuntime.Core.Tests.Runtime;

/// <summary>The encode stage driven on the test thread with <see cref="EncodeStage.PumpOnce"/> (its thread is not started).</summary>
public sealed class EncodeStageTests
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Pairing = TimeSpan.FromMilliseconds(50);

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
        var front = new FakeCamera("front") { Shade = 51 };
        var wrist = new FakeCamera("wrist") { Shade = 102 };
        using var stage = new EncodeStage([front, wrist], new MeanEncoder(2), MaxAge, Pairing);
        Assert.Null(stage.TakeLatest());

        Assert.True(stage.PumpOnce());
        var first = stage.TakeLatest()!;
        Assert.Equal(1, first.Version);
        Assert.True(first.Ok);
        Assert.Equal([0.2f, 0.4f], first.Embedding);

        // Two more sets while the reader holds the first: neither may be written into it.
        front.Shade = 255;
        Assert.True(stage.PumpOnce());
        Assert.True(stage.PumpOnce());
        Assert.Equal(1, first.Version);
        Assert.Equal(0.2f, first.Embedding[0]);
        Assert.Equal(51, first.Frames[0].Pixels[0]);

        var newest = stage.TakeLatest()!;
        Assert.Equal(3, newest.Version);
        Assert.Equal(1f, newest.Embedding[0]);
        Assert.True(newest.OldestCaptureNs <= newest.EncodedAtNs);
        // Nothing new since: the reader keeps the same set.
        Assert.Same(newest, stage.TakeLatest());
        Assert.Equal(3, stage.Published);
    }

    [Fact]
    public void FramesCapturedTooFarApartOrTooOldAreNotEncodedTogether()
    {
        var front = new FakeCamera("front");
        var wrist = new FakeCamera("wrist") { AgeNs = 80_000_000 }; // fresh enough (< 100 ms), 75 ms from the front's: beyond 50 ms pairing
        using var stage = new EncodeStage([front, wrist], new MeanEncoder(2), MaxAge, Pairing);
        Assert.False(stage.PumpOnce());
        wrist.AgeNs = 300_000_000; // stale
        Assert.False(stage.PumpOnce());
        Assert.Equal(2, stage.Unpaired);
        Assert.Null(stage.TakeLatest());
        wrist.AgeNs = 20_000_000;
        Assert.True(stage.PumpOnce());
        Assert.NotNull(stage.TakeLatest());
    }

    /// <summary>A second camera whose newest frame is a period old until its blocking read, which gives the fresh companion.</summary>
    private sealed class LateCompanionCamera : ICameraSource
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
            destination.CaptureTimestampNs = RobotRuntime.Timing.MonotonicClock.NowNanoseconds - 2_000_000;
            return CameraReadStatus.Ok;
        }
        public CameraReadStatus ReadLatest(CameraFrame destination, TimeSpan timeout) => Read(destination, timeout);
        public CameraReadStatus TryReadLatest(TimeSpan maxAge, CameraFrame destination)
        {
            destination.Pixels.AsSpan().Fill(10);
            destination.CaptureTimestampNs = RobotRuntime.Timing.MonotonicClock.NowNanoseconds - 33_000_000;
            return CameraReadStatus.Ok;
        }
        public void Dispose() { }
    }

    [Fact]
    public void ASecondCamerasFrameFromBeforeTheFirstsIsReplacedByItsCompanionWhenItArrives()
    {
        var front = new FakeCamera("front") { AgeNs = 1_000_000 };
        var wrist = new LateCompanionCamera();
        using var stage = new EncodeStage([front, wrist], new MeanEncoder(2), MaxAge, Pairing);
        Assert.True(stage.PumpOnce());
        var set = stage.TakeLatest()!;
        Assert.Equal(1, wrist.BlockingReads);
        Assert.Equal(200, set.Frames[1].Pixels[0]);             // the companion, not the frame a period older
        Assert.Equal(200 / 255f, set.Embedding[1], 1e-6f);
        Assert.True(RobotRuntime.Timing.MonotonicClock.NowNanoseconds - set.OldestCaptureNs < 20_000_000);
    }

    [Fact]
    public void AThrowingEncoderIsPublishedAsAFailedSetNamingTheEncoder()
    {
        using var stage = new EncodeStage([new FakeCamera("front")], new ThrowingEncoder(1), MaxAge, Pairing);
        Assert.True(stage.PumpOnce());
        var set = stage.TakeLatest()!;
        Assert.False(set.Ok);
        Assert.Equal(1, stage.Failures);
        Assert.Equal("encoder 'thrower' failed: weights gone", stage.LastError);
    }

    [Fact]
    public void EncodingAndTakingAllocateNothingInSteadyState()
    {
        using var stage = new EncodeStage([new FakeCamera("front"), new FakeCamera("wrist")], new MeanEncoder(2), MaxAge, Pairing);
        for (var i = 0; i < 10; i++)
        {
            stage.PumpOnce();
            stage.TakeLatest();
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            stage.PumpOnce();
            stage.TakeLatest();
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void AStageThatDoesNotFitItsEncoderIsRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => new EncodeStage([new FakeCamera("front")], new MeanEncoder(2), MaxAge, Pairing));
        Assert.Contains("takes 2 camera(s), the stage has 1", error.Message);
    }
}
