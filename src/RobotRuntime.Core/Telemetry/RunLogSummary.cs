using System.Globalization;
using System.Text;
using RobotRuntime.Runtime;
using RobotRuntime.Safety;

namespace RobotRuntime.Telemetry;

/// <summary>The stages of a cycle that the run log times.</summary>
public enum CycleStage
{
    /// <summary>Age of the oldest camera frame used.</summary>
    FrameAge,
    /// <summary>Preprocessing.</summary>
    Preprocess,
    /// <summary>Encoding (PVR).</summary>
    Encode,
    /// <summary>Planning (policy).</summary>
    Plan,
    /// <summary>Safety filter.</summary>
    Safety,
    /// <summary>Send to the arm.</summary>
    Send,
    /// <summary>Whole cycle: start to end of the work.</summary>
    Compute,
}

/// <summary>Distribution of one stage's duration over a run, ms (nearest-rank percentiles).</summary>
/// <param name="Stage">Which stage.</param>
/// <param name="P50">Median.</param>
/// <param name="P95">95th percentile.</param>
/// <param name="P99">99th percentile.</param>
/// <param name="Max">Largest.</param>
public readonly record struct StageStatistics(CycleStage Stage, double P50, double P95, double P99, double Max);

/// <summary>One change of the loop's rate, as the run log recorded it.</summary>
/// <param name="CycleIndex">The first cycle at the new rate.</param>
/// <param name="StartNs">When that cycle started (ns, the loop's clock).</param>
/// <param name="FromHz">The rate before, Hz.</param>
/// <param name="ToHz">The rate after, Hz.</param>
/// <param name="Change">Down (after missed deadlines) or up (after a quiet period).</param>
public readonly record struct LoggedRateChange(long CycleIndex, long StartNs, double FromHz, double ToHz, RateChange Change);

/// <summary>How long a run ran at one rate.</summary>
/// <param name="RateHz">The rate, Hz.</param>
/// <param name="Cycles">Cycles run at it.</param>
/// <param name="Seconds">Time at it: from each of its cycles' start to the next cycle's start (the last cycle counts one period).</param>
public readonly record struct TimeAtRate(double RateHz, int Cycles, double Seconds);

/// <summary>What a run did, computed from its log: per-stage timing, missed deadlines, holds by reason, clips, rate changes.</summary>
public sealed class RunLogSummary
{
    private RunLogSummary(int cycles, double rateHz, IReadOnlyList<StageStatistics> stages, int missed, long skipped,
        int clipped, IReadOnlyDictionary<HoldReason, int> holds, IReadOnlyDictionary<HoldReason, int> heldCycles,
        IReadOnlyList<LoggedRateChange> rateChanges, IReadOnlyList<TimeAtRate> timeAtRate)
    {
        RateChanges = rateChanges;
        TimeAtRates = timeAtRate;
        Cycles = cycles;
        RateHz = rateHz;
        Stages = stages;
        MissedDeadlines = missed;
        SkippedTicks = skipped;
        ClippedCycles = clipped;
        HoldsByReason = holds;
        HeldCyclesByReason = heldCycles;
    }

    /// <summary>Cycles in the log.</summary>
    public int Cycles { get; }

    /// <summary>The run's control rate, Hz.</summary>
    public double RateHz { get; }

    /// <summary>One entry per <see cref="CycleStage"/>, in enum order.</summary>
    public IReadOnlyList<StageStatistics> Stages { get; }

    /// <summary>Cycles whose work ended after their deadline.</summary>
    public int MissedDeadlines { get; }

    /// <summary>Scheduler ticks skipped after overruns.</summary>
    public long SkippedTicks { get; }

    /// <summary>Cycles whose command was clipped.</summary>
    public int ClippedCycles { get; }

    /// <summary>Holds latched (hold events), by reason.</summary>
    public IReadOnlyDictionary<HoldReason, int> HoldsByReason { get; }

    /// <summary>Cycles spent holding, by reason.</summary>
    public IReadOnlyDictionary<HoldReason, int> HeldCyclesByReason { get; }

    /// <summary>Every change of the loop's rate (a loop with <c>degrade</c> configured), in order; empty for a fixed rate.</summary>
    public IReadOnlyList<LoggedRateChange> RateChanges { get; }

    /// <summary>Cycles and time at each rate the run ran at, highest rate first (one entry for a fixed-rate run).</summary>
    public IReadOnlyList<TimeAtRate> TimeAtRates { get; }

    /// <summary>The rate <paramref name="record"/> ran at, Hz: its own, or the header's for a log written before records carried it.</summary>
    public static double RateOf(in CycleRecord record, double headerRateHz) =>
        record.RateMillihertz > 0 ? record.RateMillihertz / 1000.0 : headerRateHz;

    /// <summary>Statistics of one stage.</summary>
    public StageStatistics this[CycleStage stage] => Stages[(int)stage];

    /// <summary>Duration of <paramref name="stage"/> in <paramref name="record"/>, ns.</summary>
    public static long StageNanoseconds(in CycleRecord record, CycleStage stage) => stage switch
    {
        CycleStage.FrameAge => record.FrameAgeNs,
        CycleStage.Preprocess => record.PreprocessNs,
        CycleStage.Encode => record.EncodeNs,
        CycleStage.Plan => record.PlanNs,
        CycleStage.Safety => record.SafetyNs,
        CycleStage.Send => record.SendNs,
        _ => record.ComputeNs,
    };

    /// <summary>Summarises <paramref name="log"/>.</summary>
    /// <remarks>Setup only.</remarks>
    public static RunLogSummary Compute(RunLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        var records = log.Records;
        var stages = new List<StageStatistics>();
        var values = new double[records.Count];
        foreach (CycleStage stage in Enum.GetValues<CycleStage>())
        {
            // A negative stage time means "not measured" (a cycle without a usable frame has no frame age).
            int count = 0;
            for (int i = 0; i < records.Count; i++)
            {
                long ns = StageNanoseconds(records[i], stage);
                if (ns >= 0) values[count++] = ns / 1e6;
            }
            var measured = values.AsSpan(0, count).ToArray();
            Array.Sort(measured);
            stages.Add(new StageStatistics(stage, Percentile(measured, 50), Percentile(measured, 95), Percentile(measured, 99),
                measured.Length == 0 ? 0 : measured[^1]));
        }
        int missed = 0, clipped = 0;
        long skipped = 0;
        var holds = new SortedDictionary<HoldReason, int>();
        var held = new SortedDictionary<HoldReason, int>();
        foreach (var r in records)
        {
            missed += r.MissedDeadline != 0 ? 1 : 0;
            skipped += r.SkippedTicks;
            clipped += r.Safety == SafetyStatus.Clipped ? 1 : 0;
            if (r.Safety == SafetyStatus.Hold)
            {
                held[r.HoldReason] = held.GetValueOrDefault(r.HoldReason) + 1;
                if (r.HoldStarted != 0) holds[r.HoldReason] = holds.GetValueOrDefault(r.HoldReason) + 1;
            }
        }
        var changes = new List<LoggedRateChange>();
        var atRate = new SortedDictionary<double, (int Cycles, double Seconds)>(Comparer<double>.Create((a, b) => b.CompareTo(a)));
        for (int i = 0; i < records.Count; i++)
        {
            var r = records[i];
            double rate = RateOf(r, log.Metadata.RateHz);
            if (r.RateChange != RateChange.None)
                changes.Add(new LoggedRateChange(r.CycleIndex, r.StartNs, i > 0 ? RateOf(records[i - 1], log.Metadata.RateHz) : log.Metadata.RateHz, rate, r.RateChange));
            double seconds = i + 1 < records.Count ? Math.Max(0, records[i + 1].StartNs - r.StartNs) / 1e9 : 1 / rate;
            var (cycles, total) = atRate.GetValueOrDefault(rate);
            atRate[rate] = (cycles + 1, total + seconds);
        }
        var timeAtRate = atRate.Select(p => new TimeAtRate(p.Key, p.Value.Cycles, p.Value.Seconds)).ToList();
        return new RunLogSummary(records.Count, log.Metadata.RateHz, stages, missed, skipped, clipped, holds, held, changes, timeAtRate);
    }

    /// <summary>Nearest-rank percentile of sorted values; 0 for none.</summary>
    internal static double Percentile(double[] sorted, double percent)
    {
        if (sorted.Length == 0) return 0;
        int rank = (int)Math.Ceiling(percent / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank, 1, sorted.Length) - 1];
    }

    /// <summary>The summary as text for the operator's terminal.</summary>
    public string ToText()
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.Append(CyclesAndRate()).Append('\n');
        text.Append(c, $"{"stage",-12}{"p50 ms",10}{"p95 ms",10}{"p99 ms",10}{"max ms",10}\n");
        foreach (var s in Stages)
            text.Append(c, $"{s.Stage,-12}{s.P50,10:F3}{s.P95,10:F3}{s.P99,10:F3}{s.Max,10:F3}\n");
        text.Append(c, $"missed deadlines: {MissedDeadlines} ({SkippedTicks} ticks skipped)\n");
        text.Append(c, $"clipped cycles: {ClippedCycles}\n");
        if (HoldsByReason.Count == 0 && HeldCyclesByReason.Count == 0) text.Append("holds: none\n");
        foreach (var (reason, cycles) in HeldCyclesByReason)
            text.Append(c, $"hold {reason}: {HoldsByReason.GetValueOrDefault(reason)} time(s), {cycles} cycle(s)\n");
        foreach (var line in RateLines())
            text.Append(line).Append('\n');
        return text.ToString();
    }

    /// <summary>
    /// The rate changes and the time at each rate as lines for the operator; none for a run that only
    /// ran at its configured rate (so a fixed-rate run's summary reads as it always did).
    /// </summary>
    public IEnumerable<string> RateLines()
    {
        if (RateChanges.Count == 0 && TimeAtRates.All(t => t.RateHz == RateHz))
            yield break;
        var c = CultureInfo.InvariantCulture;
        int down = RateChanges.Count(r => r.Change == RateChange.SteppedDown);
        yield return string.Create(c, $"rate changes: {RateChanges.Count} ({down} down after missed deadlines, {RateChanges.Count - down} up after a quiet period)");
        foreach (var change in RateChanges)
            yield return string.Create(c, $"  cycle {change.CycleIndex}: {Hz(change.FromHz)} Hz → {Hz(change.ToHz)} Hz ({(change.Change == RateChange.SteppedDown ? "missed deadlines" : "quiet period")})");
        foreach (var at in TimeAtRates)
            yield return string.Create(c, $"time at {Hz(at.RateHz)} Hz: {at.Seconds:0.0##} s ({at.Cycles} cycle(s))");
    }

    /// <summary>"600 cycles at 25 Hz", or for a run whose rate changed "600 cycles at 25 Hz and lower" (the rate lines say when and how long).</summary>
    public string CyclesAndRate() =>
        string.Create(CultureInfo.InvariantCulture, $"{Cycles} cycles at {RateHz} Hz{(RateLines().Any() ? " and lower" : "")}");

    /// <summary>A rate as the operator reads it: 25, 12.5, 33.333.</summary>
    public static string Hz(double rateHz) => rateHz.ToString("0.###", CultureInfo.InvariantCulture);
}
