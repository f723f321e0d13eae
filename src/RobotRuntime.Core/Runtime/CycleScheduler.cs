namespace RobotRuntime.Runtime;

/// <summary>How a fixed-rate cycle scheduler runs.</summary>
/// <remarks>Setup only. Checked when the scheduler is built.</remarks>
public sealed class CycleSchedulerOptions
{
    /// <summary>The lowest rate accepted, Hz.</summary>
    public const double MinRateHz = 10;

    /// <summary>The highest rate accepted, Hz.</summary>
    public const double MaxRateHz = 100;

    /// <summary>Cycles per second, 10 to 100.</summary>
    public required double RateHz { get; init; }

    /// <summary>
    /// The last stretch before each deadline that is busy-waited instead of slept, because a sleep
    /// can overshoot by the OS's timer slack; 0 to less than one period. Larger is more precise and
    /// burns more CPU.
    /// </summary>
    public TimeSpan SpinWindow { get; init; } = TimeSpan.FromMilliseconds(2);
}

/// <summary>When one cycle runs, as handed out by <see cref="CycleScheduler.WaitForNextCycle"/>.</summary>
/// <param name="Index">The cycle's number on the grid: 0 for the first; skipped ticks leave gaps.</param>
/// <param name="ScheduledStartNs">When the cycle was due: origin + Index × period (ns, on the time source's clock).</param>
/// <param name="StartNs">When the wait ended (ns).</param>
/// <param name="DeadlineNs">When this cycle's work must end: the next tick (ns).</param>
/// <param name="PreviousMissed">Whether the previous cycle's work ended after its deadline.</param>
/// <param name="SkippedTicks">Ticks skipped before this cycle because the previous one overran.</param>
/// <param name="ConsecutiveMisses">Consecutive cycles, up to the previous one, that missed their deadline.</param>
public readonly record struct CycleTiming(
    long Index, long ScheduledStartNs, long StartNs, long DeadlineNs, bool PreviousMissed, int SkippedTicks, int ConsecutiveMisses)
{
    /// <summary>How late the cycle started: <see cref="StartNs"/> − <see cref="ScheduledStartNs"/> (ns).</summary>
    public long WakeLatenessNs => StartNs - ScheduledStartNs;
}

/// <summary>
/// A fixed-rate cycle scheduler on absolute deadlines: tick k is due at origin + k × period
/// (computed as <c>next += period</c>, so neither work time nor oversleep makes it drift). Each wait
/// sleeps until the spin window before the tick, then spins to it. When a cycle's work ends after
/// the next tick (an overrun), the missed ticks are skipped — the next cycle starts on the first
/// tick still ahead — and counted, and the consecutive-miss count grows until a cycle ends on time.
/// </summary>
/// <remarks>Threading: one thread (the control loop's). Every member is real-time: no allocation,
/// no throw (after construction); <see cref="WaitForNextCycle"/> blocks by design until the next tick.</remarks>
public sealed class CycleScheduler
{
    private readonly ICycleTimeSource _time;
    private readonly long _spinWindowNs;
    private bool _started;
    private long _originNs;
    private long _index;
    private long _scheduledNs;

    /// <summary>Builds a scheduler.</summary>
    /// <exception cref="ArgumentException">A rate outside 10–100 Hz or a spin window outside [0, period), naming the option.</exception>
    /// <remarks>Setup only.</remarks>
    public CycleScheduler(CycleSchedulerOptions options, ICycleTimeSource? timeSource = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!(options.RateHz >= CycleSchedulerOptions.MinRateHz && options.RateHz <= CycleSchedulerOptions.MaxRateHz))
            throw new ArgumentException($"RateHz: expected {CycleSchedulerOptions.MinRateHz} to {CycleSchedulerOptions.MaxRateHz} Hz, got {options.RateHz}", nameof(options));
        PeriodNs = (long)Math.Round(1e9 / options.RateHz);
        _spinWindowNs = options.SpinWindow.Ticks * 100;
        if (_spinWindowNs < 0 || _spinWindowNs >= PeriodNs)
            throw new ArgumentException($"SpinWindow: expected 0 to less than the period ({PeriodNs / 1e6} ms), got {options.SpinWindow.TotalMilliseconds} ms", nameof(options));
        RateHz = options.RateHz;
        _time = timeSource ?? SystemCycleTimeSource.Instance;
    }

    /// <summary>Cycles per second.</summary>
    public double RateHz { get; }

    /// <summary>The period, ns.</summary>
    public long PeriodNs { get; }

    /// <summary>Tick 0's time (ns); 0 before the first <see cref="WaitForNextCycle"/>.</summary>
    public long OriginNs => _originNs;

    /// <summary>Cycles handed out.</summary>
    public long Cycles { get; private set; }

    /// <summary>Cycles whose work ended after their deadline (overruns).</summary>
    public long MissedDeadlines { get; private set; }

    /// <summary>Ticks skipped after overruns.</summary>
    public long SkippedTicks { get; private set; }

    /// <summary>Consecutive cycles, up to the last one that ended, that missed their deadline; 0 after one on time.</summary>
    public int ConsecutiveMisses { get; private set; }

    /// <summary>The longest run of consecutive misses so far.</summary>
    public int MaxConsecutiveMisses { get; private set; }

    /// <summary>The latest a cycle started after its tick so far (ns): the sleep-and-spin's precision.</summary>
    public long MaxWakeLatenessNs { get; private set; }

    /// <summary>
    /// Ends the current cycle and waits for the next tick. The first call starts the schedule: tick
    /// 0 is now and it returns at once.
    /// </summary>
    /// <returns>When the new cycle runs and whether the previous one missed its deadline.</returns>
    /// <remarks>Real-time: no allocation, no throw; blocks until the tick.</remarks>
    public CycleTiming WaitForNextCycle()
    {
        long now = _time.NowNanoseconds;
        if (!_started)
        {
            _started = true;
            _originNs = now;
            _scheduledNs = now;
            _index = 0;
            Cycles = 1;
            return new CycleTiming(0, now, now, now + PeriodNs, false, 0, 0);
        }

        long deadline = _scheduledNs + PeriodNs;
        bool missed = now > deadline;
        int skipped = 0;
        if (missed)
        {
            long late = now - deadline;
            skipped = (int)Math.Min(int.MaxValue, late / PeriodNs + 1);
            MissedDeadlines++;
            SkippedTicks += skipped;
            ConsecutiveMisses++;
            if (ConsecutiveMisses > MaxConsecutiveMisses) MaxConsecutiveMisses = ConsecutiveMisses;
        }
        else
        {
            ConsecutiveMisses = 0;
        }
        _index += 1 + skipped;
        _scheduledNs = deadline + skipped * PeriodNs;

        long remaining = _scheduledNs - _time.NowNanoseconds;
        if (remaining > _spinWindowNs)
            _time.Sleep(remaining - _spinWindowNs);
        long woke;
        while ((woke = _time.NowNanoseconds) < _scheduledNs)
            _time.SpinOnce();

        long lateness = woke - _scheduledNs;
        if (lateness > MaxWakeLatenessNs) MaxWakeLatenessNs = lateness;
        Cycles++;
        return new CycleTiming(_index, _scheduledNs, woke, _scheduledNs + PeriodNs, missed, skipped, ConsecutiveMisses);
    }

    /// <summary>The counters as one line for the operator.</summary>
    /// <remarks>Not real-time (builds a string).</remarks>
    public string Report() =>
        $"{Cycles} cycles at {RateHz} Hz; {MissedDeadlines} missed deadlines ({SkippedTicks} ticks skipped, longest run {MaxConsecutiveMisses}); latest wake {MaxWakeLatenessNs / 1e3:F1} µs after its tick";
}
