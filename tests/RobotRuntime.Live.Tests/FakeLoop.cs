using RobotRuntime.Cameras;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using RobotRuntime.Timing;

namespace RobotRuntime.Live.Tests;

/// <summary>Publishes to a board the way the control loop does, with values a test can recognise.</summary>
internal sealed class FakeLoop
{
    public FakeLoop(params string[] cameras)
    {
        Board = new LiveStatusBoard(cameras, 32, 24, rateHz: 50, policyName: "scripted-reach");
    }

    public LiveStatusBoard Board { get; }

    /// <summary>Publishes cycle <paramref name="index"/>: stage k takes (k+1) × 0.25 ms plus index µs; holding with a reason if given; at <paramref name="rateMillihertz"/> (0: the board's rate).</summary>
    public void Cycle(long index, HoldReason hold = HoldReason.None, string holdText = "", bool missed = false, int rateMillihertz = 0)
    {
        var start = MonotonicClock.NowNanoseconds;
        var record = new CycleRecord
        {
            CycleIndex = index,
            ScheduledStartNs = start,
            StartNs = start,
            FrameAgeNs = 250_000 + index * 1000,
            PreprocessNs = 500_000 + index * 1000,
            EncodeNs = 750_000 + index * 1000,
            PlanNs = 1_000_000 + index * 1000,
            SafetyNs = 1_250_000 + index * 1000,
            SendNs = 1_500_000 + index * 1000,
            EndNs = start + 6_000_000,
            Safety = hold == HoldReason.None ? SafetyStatus.Pass : SafetyStatus.Hold,
            HoldReason = hold,
            MissedDeadline = (byte)(missed ? 1 : 0),
            HoldStarted = (byte)(hold == HoldReason.None ? 0 : 1),
            SendStatus = CycleRecord.NotSent,
            RateMillihertz = rateMillihertz,
        };
        Board.PublishCycle(record, hold != HoldReason.None, hold, holdText, start);
    }

    /// <summary>A frame whose pixel (x, y) channel c is (x·7 + y·13 + c·29 + seed) mod 256.</summary>
    public CameraFrame Frame(int seed)
    {
        var frame = new CameraFrame(Board.FrameWidth, Board.FrameHeight) { Sequence = seed, CaptureTimestampNs = MonotonicClock.NowNanoseconds };
        for (var y = 0; y < frame.Height; y++)
            for (var x = 0; x < frame.Width; x++)
                for (var c = 0; c < 3; c++)
                    frame.Pixels[(y * frame.Width + x) * 3 + c] = (byte)(x * 7 + y * 13 + c * 29 + seed);
        return frame;
    }
}
