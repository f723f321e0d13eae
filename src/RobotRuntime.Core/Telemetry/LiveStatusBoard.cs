using RobotRuntime.Cameras;
using RobotRuntime.Safety;

namespace RobotRuntime.Telemetry;

/// <summary>One cycle as the live page sees it: the cycle's record plus the safety state after it.</summary>
public readonly record struct LiveCycleSnapshot(CycleRecord Record, bool Holding, HoldReason HoldReason, string HoldText, long PublishedNs);

/// <summary>
/// The hand-over point between the real-time loop and whoever watches it (the live page, a terminal
/// status line). The loop publishes each cycle's record, the safety state and, at a lower rate, camera
/// frames, without allocating and without ever waiting for a reader; readers on other threads get the
/// newest consistent copy. A reader that is slow simply sees fewer cycles.
/// </summary>
public sealed class LiveStatusBoard
{
    private readonly Lock _cycleGate = new();
    private readonly LatestFrameExchange[] _frames;
    private readonly Lock[] _frameGates;
    private LiveCycleSnapshot _latest;
    private long _published;
    private long _offered;
    private long _missed;
    private long _holds;

    /// <summary>Creates a board for cameras of the given names and frame size, for a loop at <paramref name="rateHz"/>.</summary>
    public LiveStatusBoard(IReadOnlyList<string> cameraNames, int frameWidth, int frameHeight, double rateHz, string policyName)
    {
        ArgumentNullException.ThrowIfNull(cameraNames);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(rateHz, 0);
        CameraNames = cameraNames.ToArray();
        FrameWidth = frameWidth;
        FrameHeight = frameHeight;
        RateHz = rateHz;
        PolicyName = policyName;
        _frames = CameraNames.Select(_ => new LatestFrameExchange(frameWidth, frameHeight)).ToArray();
        _frameGates = CameraNames.Select(_ => new Lock()).ToArray();
    }

    /// <summary>Camera names in the loop's camera order.</summary>
    public IReadOnlyList<string> CameraNames { get; }

    /// <summary>Width of the published frames, pixels.</summary>
    public int FrameWidth { get; }

    /// <summary>Height of the published frames, pixels.</summary>
    public int FrameHeight { get; }

    /// <summary>The loop's configured rate.</summary>
    public double RateHz { get; }

    /// <summary>The policy's name.</summary>
    public string PolicyName { get; }

    /// <summary>Number of cycles published so far.</summary>
    public long CyclesPublished => Interlocked.Read(ref _published);

    /// <summary>Cycles offered to <see cref="PublishCycle"/> so far, including those skipped because a reader held the gate.</summary>
    public long CyclesOffered => Interlocked.Read(ref _offered);

    /// <summary>Offered cycles whose record says they missed their deadline.</summary>
    public long MissedDeadlines => Interlocked.Read(ref _missed);

    /// <summary>Offered cycles in which a hold was latched (the record's <see cref="CycleRecord.HoldStarted"/>).</summary>
    public long HoldsStarted => Interlocked.Read(ref _holds);

    /// <summary>Publishes one cycle. Never blocks for long: if a reader holds the gate, the cycle is skipped
    /// (its counts still go into <see cref="CyclesOffered"/>, <see cref="MissedDeadlines"/> and <see cref="HoldsStarted"/>).</summary>
    /// <remarks>Real-time: no allocation, no blocking.</remarks>
    public void PublishCycle(in CycleRecord record, bool holding, HoldReason reason, string holdText, long nowNs)
    {
        Interlocked.Increment(ref _offered);
        if (record.MissedDeadline != 0)
            Interlocked.Increment(ref _missed);
        if (record.HoldStarted != 0)
            Interlocked.Increment(ref _holds);
        if (!_cycleGate.TryEnter())
            return;
        try
        {
            _latest = new LiveCycleSnapshot(record, holding, reason, holdText, nowNs);
        }
        finally
        {
            _cycleGate.Exit();
        }
        Interlocked.Increment(ref _published);
    }

    /// <summary>The newest published cycle; false before the first.</summary>
    public bool TryReadCycle(out LiveCycleSnapshot snapshot)
    {
        lock (_cycleGate)
            snapshot = _latest;
        return CyclesPublished > 0;
    }

    /// <summary>Publishes camera <paramref name="cameraIndex"/>'s frame (copied). Skipped if a reader is copying it.</summary>
    public void PublishFrame(int cameraIndex, CameraFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (!_frameGates[cameraIndex].TryEnter())
            return;
        try
        {
            frame.CopyTo(_frames[cameraIndex].BackBuffer);
            _frames[cameraIndex].Publish();
        }
        finally
        {
            _frameGates[cameraIndex].Exit();
        }
    }

    /// <summary>Copies camera <paramref name="cameraIndex"/>'s newest frame into <paramref name="destination"/> if one newer than the last taken exists.</summary>
    public bool TryReadFrame(int cameraIndex, CameraFrame destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        lock (_frameGates[cameraIndex])
        {
            if (!_frames[cameraIndex].TryTake(out var frame))
                return false;
            frame.CopyTo(destination);
            return true;
        }
    }
}
