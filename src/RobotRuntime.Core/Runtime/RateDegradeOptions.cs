using System.Globalization;

namespace RobotRuntime.Runtime;

/// <summary>
/// How a loop that keeps missing its deadlines steps its rate down instead of only holding, and back
/// up after a quiet period: after <see cref="AfterMisses"/> missed deadlines within
/// <see cref="WithinCycles"/> cycles at one rate it runs at the next lower rate of
/// <see cref="RatesHz"/>; after <see cref="RecoverAfter"/> without a miss it steps back up one rate.
/// At the lowest rate misses are judged as without degrading: K in a row hold the arm.
/// </summary>
/// <remarks>Setup only. Checked when the scheduler is built; a bad value throws naming the option.</remarks>
public sealed class RateDegradeOptions
{
    /// <summary>The lowest rate a loop may step down to, Hz: below it one command would stand for more than a second.</summary>
    public const double MinRateHz = 1;

    /// <summary>The lower rates to step down through, Hz, highest first: strictly decreasing, each below the base rate and at least <see cref="MinRateHz"/>.</summary>
    public required IReadOnlyList<double> RatesHz { get; init; }

    /// <summary>Missed deadlines within <see cref="WithinCycles"/> cycles at one rate that step the rate down; ≥ 1.</summary>
    public int AfterMisses { get; init; } = 3;

    /// <summary>The window, in cycles run at the current rate, in which <see cref="AfterMisses"/> misses step the rate down; ≥ <see cref="AfterMisses"/>.</summary>
    public int WithinCycles { get; init; } = 10;

    /// <summary>How long the loop must run at a degraded rate without a missed deadline before it steps back up one rate; &gt; 0.</summary>
    public TimeSpan RecoverAfter { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Checks the options against the loop's base rate.</summary>
    /// <exception cref="ArgumentException">A value out of range, naming the option and what was expected.</exception>
    public void Validate(double baseRateHz)
    {
        var c = CultureInfo.InvariantCulture;
        if (RatesHz is null || RatesHz.Count == 0)
            throw new ArgumentException("RatesHz: expected at least one lower rate to step down to", nameof(RatesHz));
        double previous = baseRateHz;
        for (var i = 0; i < RatesHz.Count; i++)
        {
            double rate = RatesHz[i];
            if (!(double.IsFinite(rate) && rate >= MinRateHz))
                throw new ArgumentException(string.Create(c, $"RatesHz[{i}]: expected a rate of at least {MinRateHz} Hz, got {rate}"), nameof(RatesHz));
            if (!(rate < previous))
                throw new ArgumentException(i == 0
                    ? string.Create(c, $"RatesHz[0]: expected a rate below the base rate ({baseRateHz} Hz), got {rate}")
                    : string.Create(c, $"RatesHz[{i}]: expected rates strictly decreasing, got {rate} after {previous}"), nameof(RatesHz));
            previous = rate;
        }
        if (AfterMisses < 1)
            throw new ArgumentException(string.Create(c, $"AfterMisses: expected ≥ 1, got {AfterMisses}"), nameof(AfterMisses));
        if (WithinCycles < AfterMisses)
            throw new ArgumentException(string.Create(c, $"WithinCycles: expected at least AfterMisses ({AfterMisses}) cycles, got {WithinCycles}"), nameof(WithinCycles));
        if (!(RecoverAfter > TimeSpan.Zero))
            throw new ArgumentException(string.Create(c, $"RecoverAfter: expected a duration > 0, got {RecoverAfter}"), nameof(RecoverAfter));
    }

    /// <summary>
    /// Why the lowest rate does not fit an arm whose watchdog holds after <paramref name="watchdogMilliseconds"/>
    /// without a command (its period is not shorter: the arm would hold on its own between two commands);
    /// null when it fits or the watchdog is unknown (≤ 0).
    /// </summary>
    public string? CheckAgainstWatchdog(int watchdogMilliseconds)
    {
        if (watchdogMilliseconds <= 0 || RatesHz is not { Count: > 0 })
            return null;
        double lowest = RatesHz[^1];
        double periodMs = 1000 / lowest;
        if (periodMs < watchdogMilliseconds)
            return null;
        return string.Create(CultureInfo.InvariantCulture,
            $"{lowest} Hz is a {periodMs:0.#} ms period, not shorter than the arm's watchdog ({watchdogMilliseconds} ms): the arm would hold on its own between two commands; keep every rate above {1000.0 / watchdogMilliseconds:0.##} Hz");
    }
}

/// <summary>What happened to the loop's rate at the start of a cycle.</summary>
public enum RateChange : byte
{
    /// <summary>The rate stayed.</summary>
    None = 0,
    /// <summary>Stepped down one rate after too many missed deadlines.</summary>
    SteppedDown = 1,
    /// <summary>Stepped back up one rate after a quiet period without a miss.</summary>
    SteppedUp = 2,
}

/// <summary>One change of the loop's rate, for the operator and the run log.</summary>
/// <param name="CycleIndex">The first cycle at the new rate (its index on the scheduler's grid).</param>
/// <param name="AtNs">When the change was decided (the end of the last cycle at the old rate), ns on the loop's clock.</param>
/// <param name="FromHz">The rate before, Hz.</param>
/// <param name="ToHz">The rate after, Hz.</param>
/// <param name="Change">Down or up.</param>
/// <param name="Misses">Stepping down: the missed deadlines that caused it (<see cref="RateDegradeOptions.AfterMisses"/>).</param>
/// <param name="InCycles">Stepping down: the cycles those misses spanned, from the first to the last (≤ <see cref="RateDegradeOptions.WithinCycles"/>).</param>
/// <param name="QuietNs">Stepping up: how long the loop had run without a miss, ns (≥ <see cref="RateDegradeOptions.RecoverAfter"/>).</param>
/// <param name="ToLowest">Whether the new rate is the lowest configured one (misses there hold the arm).</param>
public readonly record struct RateChangeEvent(long CycleIndex, long AtNs, double FromHz, double ToHz, RateChange Change, int Misses, int InCycles, long QuietNs, bool ToLowest);
