using System.Reflection;
using System.Runtime.CompilerServices;

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

    /// <summary>
    /// Lower rates to step down to after repeated missed deadlines, and back up from after a quiet
    /// period; null (the default): the rate never changes.
    /// </summary>
    public RateDegradeOptions? Degrade { get; init; }
}

/// <summary>When one cycle runs, as handed out by <see cref="CycleScheduler.WaitForNextCycle"/>.</summary>
/// <param name="Index">The cycle's number on the grid: 0 for the first; skipped ticks leave gaps (ticks of every rate the loop ran at count alike).</param>
/// <param name="ScheduledStartNs">When the cycle was due: the previous tick + the period (origin + Index × period while the rate never changed) (ns, on the time source's clock).</param>
/// <param name="StartNs">When the wait ended (ns).</param>
/// <param name="DeadlineNs">When this cycle's work must end: the next tick (ns).</param>
/// <param name="PreviousMissed">Whether the previous cycle's work ended after its deadline.</param>
/// <param name="SkippedTicks">Ticks skipped before this cycle because the previous one overran.</param>
/// <param name="ConsecutiveMisses">Consecutive cycles, up to the previous one, that missed their deadline (counted afresh from a rate change).</param>
/// <param name="PeriodNs">This cycle's period (ns): <see cref="DeadlineNs"/> − <see cref="ScheduledStartNs"/>; 0 when not given (a hand-made timing).</param>
/// <param name="RateLevel">Which rate the cycle runs at: 0 the base rate, k the k-th rate of <see cref="RateDegradeOptions.RatesHz"/>.</param>
/// <param name="RateChange">Whether the rate changed with this cycle (it is the first at the new rate).</param>
public readonly record struct CycleTiming(
    long Index, long ScheduledStartNs, long StartNs, long DeadlineNs, bool PreviousMissed, int SkippedTicks, int ConsecutiveMisses,
    long PeriodNs = 0, int RateLevel = 0, RateChange RateChange = RateChange.None)
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
/// <remarks>
/// <para>With <see cref="CycleSchedulerOptions.Degrade"/> the rate is not fixed: after
/// <see cref="RateDegradeOptions.AfterMisses"/> missed deadlines within
/// <see cref="RateDegradeOptions.WithinCycles"/> cycles at one rate, the cycle after the last of them
/// starts (on the first tick of the old grid still ahead) at the next lower rate, with a deadline one
/// new period later; after <see cref="RateDegradeOptions.RecoverAfter"/> without a miss (counted from
/// the last miss or the last change) the next cycle runs one rate higher. A change starts the
/// miss window and the consecutive-miss count afresh: the misses that stepped the rate down are
/// answered by the lower rate, not also by a hold. At the lowest rate no further step exists, so
/// misses there are counted and held on as at a fixed rate.</para>
/// <para>Threading: one thread (the control loop's). Every member is real-time: no allocation,
/// no throw (after construction); <see cref="WaitForNextCycle"/> blocks by design until the next tick.</para>
/// </remarks>
public sealed class CycleScheduler
{
    private readonly ICycleTimeSource _time;
    private readonly long _spinWindowNs;
    private bool _started;
    private long _originNs;
    private long _index;
    private long _scheduledNs;

    // Rate steps (null/empty without Degrade): the rates and periods by level (0: the base rate).
    private readonly RateDegradeOptions? _degrade;
    private readonly double[] _ratesHz;
    private readonly long[] _periodsNs;
    private readonly long _recoverAfterNs;
    // The cycles (counted at the current rate, from 1) of the last AfterMisses misses, as a ring.
    private readonly long[] _missCycles;
    private int _missCount, _missNext;
    private long _cyclesAtRate;
    private long _quietSinceNs;

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
        RateHz = BaseRateHz = options.RateHz;
        _time = timeSource ?? SystemCycleTimeSource.Instance;
        if (options.Degrade is { } degrade)
        {
            try
            {
                degrade.Validate(options.RateHz);
            }
            catch (ArgumentException error)
            {
                throw new ArgumentException("Degrade." + error.Message.Split(" (Parameter", 2)[0], nameof(options), error);
            }
            _degrade = degrade;
            _ratesHz = [options.RateHz, .. degrade.RatesHz];
            _periodsNs = [.. _ratesHz.Select(r => (long)Math.Round(1e9 / r))];
            _missCycles = new long[degrade.AfterMisses];
            _recoverAfterNs = degrade.RecoverAfter.Ticks * 100;
            // A rate change is rare: compile its path now, so the first one does not JIT inside a cycle.
            RuntimeHelpers.PrepareMethod(typeof(CycleScheduler).GetMethod(nameof(SetLevel), BindingFlags.NonPublic | BindingFlags.Instance)!.MethodHandle);
        }
        else
        {
            _ratesHz = [options.RateHz];
            _periodsNs = [PeriodNs];
            _missCycles = [];
        }
        RatesHz = _ratesHz.AsReadOnly();
    }

    /// <summary>Cycles per second now: the base rate, or the degraded rate the loop stepped down to.</summary>
    public double RateHz { get; private set; }

    /// <summary>The configured (base) rate, Hz.</summary>
    public double BaseRateHz { get; }

    /// <summary>Every rate the scheduler may run at, Hz, by level: the base rate first, then the degraded rates.</summary>
    public IReadOnlyList<double> RatesHz { get; }

    /// <summary>The current rate's level: 0 the base rate, k the k-th degraded rate.</summary>
    public int RateLevel { get; private set; }

    /// <summary>The current period, ns.</summary>
    public long PeriodNs { get; private set; }

    /// <summary>Rate changes so far (steps down and up).</summary>
    public long RateChanges { get; private set; }

    /// <summary>The latest rate change (default before the first).</summary>
    public RateChangeEvent LastRateChange { get; private set; }

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
            _quietSinceNs = now;
            Cycles = 1;
            return new CycleTiming(0, now, now, now + PeriodNs, false, 0, 0, PeriodNs, RateLevel);
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
        // A new rate takes effect from the first tick of the old grid still ahead.
        var change = _degrade is null ? RateChange.None : StepRate(missed, now);

        long remaining = _scheduledNs - _time.NowNanoseconds;
        if (remaining > _spinWindowNs)
            _time.Sleep(remaining - _spinWindowNs);
        long woke;
        while ((woke = _time.NowNanoseconds) < _scheduledNs)
            _time.SpinOnce();

        long lateness = woke - _scheduledNs;
        if (lateness > MaxWakeLatenessNs) MaxWakeLatenessNs = lateness;
        Cycles++;
        return new CycleTiming(_index, _scheduledNs, woke, _scheduledNs + PeriodNs, missed, skipped, ConsecutiveMisses, PeriodNs, RateLevel, change);
    }

    /// <summary>Judges the cycle that just ended at the current rate and steps the rate when the options say so.</summary>
    /// <remarks>Real-time: no allocation (the miss ring is preallocated).</remarks>
    private RateChange StepRate(bool missed, long nowNs)
    {
        var degrade = _degrade!;
        _cyclesAtRate++;
        if (missed)
        {
            _quietSinceNs = nowNs;
            if (RateLevel == _ratesHz.Length - 1)
                return RateChange.None; // the lowest rate: misses are the hold's to judge
            _missCycles[_missNext] = _cyclesAtRate;
            _missNext = (_missNext + 1) % _missCycles.Length;
            if (_missCount < _missCycles.Length)
                _missCount++;
            if (_missCount < degrade.AfterMisses)
                return RateChange.None;
            // The oldest of the last AfterMisses misses is the slot written next.
            long span = _cyclesAtRate - _missCycles[_missNext] + 1;
            if (span > degrade.WithinCycles)
                return RateChange.None;
            SetLevel(RateLevel + 1, RateChange.SteppedDown, nowNs, degrade.AfterMisses, (int)span, 0);
            return RateChange.SteppedDown;
        }
        if (RateLevel > 0 && nowNs - _quietSinceNs >= _recoverAfterNs)
        {
            SetLevel(RateLevel - 1, RateChange.SteppedUp, nowNs, 0, 0, nowNs - _quietSinceNs);
            return RateChange.SteppedUp;
        }
        return RateChange.None;
    }

    private void SetLevel(int level, RateChange change, long nowNs, int misses, int inCycles, long quietNs)
    {
        double from = RateHz;
        RateLevel = level;
        RateHz = _ratesHz[level];
        PeriodNs = _periodsNs[level];
        ConsecutiveMisses = 0;
        _missCount = _missNext = 0;
        _cyclesAtRate = 0;
        _quietSinceNs = nowNs;
        RateChanges++;
        LastRateChange = new RateChangeEvent(_index, nowNs, from, RateHz, change, misses, inCycles, quietNs, level == _ratesHz.Length - 1);
    }

    /// <summary>The counters as one line for the operator.</summary>
    /// <remarks>Not real-time (builds a string).</remarks>
    public string Report() =>
        $"{Cycles} cycles at {BaseRateHz} Hz{(_degrade is null ? "" : $" ({RateChanges} rate changes; now {RateHz} Hz)")}; {MissedDeadlines} missed deadlines ({SkippedTicks} ticks skipped, longest run {MaxConsecutiveMisses}); latest wake {MaxWakeLatenessNs / 1e3:F1} µs after its tick";
}
