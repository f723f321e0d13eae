using RobotRuntime.Runtime;
using RobotRuntime.Testing;

namespace RobotRuntime.Core.Tests.Runtime;

/// <summary>
/// The scheduler with <see cref="CycleSchedulerOptions.Degrade"/>: when it steps the rate down, when
/// it does not, when it steps back up, and what it counts at the lowest rate. On a fake clock whose
/// sleep-and-spin lands exactly on each tick, so every start, deadline and decision time is exact.
/// </summary>
public class CycleSchedulerRateStepTests
{
    private const long Ms = 1_000_000;
    private const long T0 = 5_000_000_000; // FakeCycleTimeSource's default start

    private static CycleScheduler Scheduler(FakeCycleTimeSource time, double[] ratesHz, int afterMisses = 3, int withinCycles = 10, double recoverSeconds = 1) =>
        new(new CycleSchedulerOptions
        {
            RateHz = 100,
            Degrade = new RateDegradeOptions
            {
                RatesHz = ratesHz, AfterMisses = afterMisses, WithinCycles = withinCycles, RecoverAfter = TimeSpan.FromSeconds(recoverSeconds),
            },
        }, time);

    /// <summary>Runs one cycle per entry of <paramref name="workMs"/> (after the first wait) and returns every timing, the first's included.</summary>
    private static List<CycleTiming> Run(CycleScheduler scheduler, FakeCycleTimeSource time, IEnumerable<double> workMs)
    {
        var timings = new List<CycleTiming> { scheduler.WaitForNextCycle() };
        foreach (var work in workMs)
        {
            time.Work((long)(work * Ms));
            timings.Add(scheduler.WaitForNextCycle());
        }
        return timings;
    }

    [Fact]
    public void AfterMissesWithinTheWindowTheRateStepsDownFromTheFirstTickStillAhead()
    {
        // 100 Hz, a 15 ms cycle: each overruns by 5 ms and the next starts 20 ms later. After the
        // third miss the next cycle starts on the old grid's next tick at 50 Hz: deadline 20 ms later,
        // where 15 ms fits.
        var time = new FakeCycleTimeSource();
        var scheduler = Scheduler(time, [50, 25]);
        var t = Run(scheduler, time, [15, 15, 15, 15, 15]);
        Assert.Equal([0L, 2, 4, 6, 7, 8], t.Select(c => c.Index));
        Assert.Equal([0, 0, 0, 1, 1, 1], t.Select(c => c.RateLevel));
        Assert.Equal([RateChange.None, RateChange.None, RateChange.None, RateChange.SteppedDown, RateChange.None, RateChange.None], t.Select(c => c.RateChange));
        Assert.Equal([0, 1, 2, 0, 0, 0], t.Select(c => c.ConsecutiveMisses)); // the step answers the misses: the count starts afresh
        Assert.Equal([T0, T0 + 20 * Ms, T0 + 40 * Ms, T0 + 60 * Ms, T0 + 80 * Ms, T0 + 100 * Ms], t.Select(c => c.ScheduledStartNs));
        Assert.Equal([10 * Ms, 10 * Ms, 10 * Ms, 20 * Ms, 20 * Ms, 20 * Ms], t.Select(c => c.PeriodNs));
        Assert.All(t, c => Assert.Equal(c.ScheduledStartNs + c.PeriodNs, c.DeadlineNs));
        Assert.Equal(50, scheduler.RateHz);
        Assert.Equal(20 * Ms, scheduler.PeriodNs);
        Assert.Equal(1, scheduler.RateChanges);
        Assert.Equal(new RateChangeEvent(6, T0 + 55 * Ms, 100, 50, RateChange.SteppedDown, Misses: 3, InCycles: 3, QuietNs: 0, ToLowest: false),
            scheduler.LastRateChange);
    }

    [Fact]
    public void MissesSpreadWiderThanTheWindowDoNotStepDown()
    {
        // Three misses in ten cycles step down; one miss every fifth cycle never puts three in ten.
        var time = new FakeCycleTimeSource();
        var scheduler = Scheduler(time, [50]);
        var spread = Run(scheduler, time, Enumerable.Range(0, 60).Select(k => k % 5 == 4 ? 15.0 : 1.0));
        Assert.All(spread, c => Assert.Equal(0, c.RateLevel));
        Assert.Equal(0, scheduler.RateChanges);
        Assert.Equal(12, scheduler.MissedDeadlines);
    }

    [Theory]
    [InlineData(9, true)]   // misses on cycles 0, 1 and 9: three within ten cycles
    [InlineData(10, false)] // 0, 1 and 10: eleven cycles from the first to the last
    public void TheWindowCountsTheCyclesFromTheFirstMissToTheLast(int thirdMiss, bool stepsDown)
    {
        var time = new FakeCycleTimeSource();
        var scheduler = Scheduler(time, [50]);
        var t = Run(scheduler, time, Enumerable.Range(0, thirdMiss + 1).Select(k => k is 0 or 1 || k == thirdMiss ? 15.0 : 1.0));
        Assert.Equal(stepsDown ? RateChange.SteppedDown : RateChange.None, t[^1].RateChange);
        Assert.Equal(stepsDown ? 1 : 0, scheduler.RateChanges);
        Assert.All(t.SkipLast(1), c => Assert.Equal(0, c.RateLevel));
        if (stepsDown)
            Assert.Equal((3, 10), (scheduler.LastRateChange.Misses, scheduler.LastRateChange.InCycles));
    }

    [Fact]
    public void AfterTheQuietPeriodTheRateStepsBackUpAndNotBefore()
    {
        // One miss steps 100 Hz down to 50 Hz at 15 ms (the first cycle's end); from then every cycle
        // takes 1 ms. The wait after the cycle starting at 1,020 ms ends it at 1,021 ms, 1,006 ms after
        // the miss: the first at least 1 s after it (the one before came at 986 ms). The next cycle,
        // on the 50 Hz grid's tick at 1,040 ms, runs at 100 Hz.
        var time = new FakeCycleTimeSource();
        var scheduler = Scheduler(time, [50], afterMisses: 1, withinCycles: 1, recoverSeconds: 1);
        var t = Run(scheduler, time, [15, .. Enumerable.Repeat(1.0, 60)]);
        int up = t.FindIndex(c => c.RateChange == RateChange.SteppedUp);
        Assert.Equal(RateChange.SteppedDown, t[1].RateChange);
        Assert.Equal(T0 + 20 * Ms, t[1].ScheduledStartNs);
        Assert.Equal(52, up); // cycles 1..51 at 50 Hz: 20 ms each from 20 ms to 1,020 ms
        Assert.All(t.Skip(1).Take(51), c => Assert.Equal(1, c.RateLevel));
        Assert.Equal(T0 + 1020 * Ms, t[51].ScheduledStartNs);
        Assert.Equal(T0 + 1040 * Ms, t[up].ScheduledStartNs);
        Assert.Equal(T0 + 1050 * Ms, t[up].DeadlineNs);
        Assert.Equal(0, t[up].RateLevel);
        Assert.Equal(new RateChangeEvent(t[up].Index, T0 + 1021 * Ms, 50, 100, RateChange.SteppedUp, 0, 0, QuietNs: 1006 * Ms, ToLowest: false),
            scheduler.LastRateChange);
        Assert.All(t.Skip(up + 1), c => Assert.Equal((0, RateChange.None), (c.RateLevel, c.RateChange)));
    }

    [Fact]
    public void TheRateStepsBackUpOneRateAtATimeEachAfterItsOwnQuietPeriod()
    {
        // 100 → 50 (a 15 ms cycle) → 25 Hz (a 25 ms cycle at 50 Hz), then quiet: 25 → 50 after a
        // second, and 50 → 100 after another, never 25 → 100 at once.
        var time = new FakeCycleTimeSource();
        var scheduler = Scheduler(time, [50, 25], afterMisses: 1, withinCycles: 1, recoverSeconds: 1);
        var changes = new List<RateChangeEvent>();
        var levels = new List<int>();
        scheduler.WaitForNextCycle();
        foreach (var work in (double[])[15, 25, .. Enumerable.Repeat(1.0, 200)])
        {
            time.Work((long)(work * Ms));
            var c = scheduler.WaitForNextCycle();
            if (c.RateChange != RateChange.None)
            {
                changes.Add(scheduler.LastRateChange);
                levels.Add(c.RateLevel);
            }
        }
        Assert.Equal([1, 2, 1, 0], levels);
        Assert.Equal([(100.0, 50.0), (50, 25), (25, 50), (50, 100)], changes.Select(c => (c.FromHz, c.ToHz)));
        Assert.True(changes[1].ToLowest);
        Assert.True(changes[2].AtNs - changes[1].AtNs >= 1_000 * Ms);
        Assert.True(changes[3].AtNs - changes[2].AtNs >= 1_000 * Ms);
        Assert.Equal(changes[3].AtNs - changes[2].AtNs, changes[3].QuietNs);
    }

    [Fact]
    public void AtTheLowestRateMissesAreCountedInARowAsAtAFixedRate()
    {
        // A 25 ms cycle misses at 100 Hz and at 50 Hz alike: after the step to 50 Hz (the lowest)
        // nothing steps further and the consecutive count grows, for the safety layer's K.
        var time = new FakeCycleTimeSource();
        var scheduler = Scheduler(time, [50]);
        var t = Run(scheduler, time, Enumerable.Repeat(25.0, 8));
        Assert.Equal([0, 1, 2, 0, 1, 2, 3, 4, 5], t.Select(c => c.ConsecutiveMisses));
        Assert.Equal([0, 0, 0, 1, 1, 1, 1, 1, 1], t.Select(c => c.RateLevel));
        Assert.Equal(1, scheduler.RateChanges);
        Assert.True(scheduler.LastRateChange.ToLowest);
    }

    [Fact]
    public void WithoutDegradeTheRateNeverChanges()
    {
        var time = new FakeCycleTimeSource();
        var scheduler = new CycleScheduler(new CycleSchedulerOptions { RateHz = 100 }, time);
        var t = Run(scheduler, time, Enumerable.Repeat(25.0, 10));
        Assert.All(t, c => Assert.Equal((10 * Ms, 0, RateChange.None), (c.PeriodNs, c.RateLevel, c.RateChange)));
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], t.Select(c => c.ConsecutiveMisses));
        Assert.Equal([100.0], scheduler.RatesHz);
    }

    [Fact]
    public void WaitingAcrossRateChangesAllocatesNothing()
    {
        var time = new FakeCycleTimeSource();
        var scheduler = Scheduler(time, [50, 25], recoverSeconds: 0.2);
        scheduler.WaitForNextCycle();
        time.Work(1 * Ms);
        scheduler.WaitForNextCycle();
        var changes = new RateChange[1000];
        long allocated = ThreadAllocations.During(() =>
        {
            for (int k = 0; k < changes.Length; k++)
            {
                // Bursts of slow cycles step down, quiet stretches step back up.
                time.Work(k % 100 < 6 ? 45 * Ms : 3 * Ms);
                changes[k] = scheduler.WaitForNextCycle().RateChange;
            }
        });
        Assert.Equal(0, allocated);
        Assert.Contains(RateChange.SteppedDown, changes);
        Assert.Contains(RateChange.SteppedUp, changes);
    }

    [Theory]
    [InlineData("above base", "RatesHz[0]: expected a rate below the base rate (100 Hz), got 100")]
    [InlineData("not decreasing", "RatesHz[1]: expected rates strictly decreasing, got 60 after 50")]
    [InlineData("below 1 Hz", "RatesHz[1]: expected a rate of at least 1 Hz, got 0.5")]
    [InlineData("none", "RatesHz: expected at least one lower rate")]
    [InlineData("no misses", "AfterMisses: expected ≥ 1, got 0")]
    [InlineData("short window", "WithinCycles: expected at least AfterMisses (3) cycles, got 2")]
    [InlineData("no quiet", "RecoverAfter: expected a duration > 0")]
    public void BadDegradeOptionsThrowNamingTheOption(string what, string message)
    {
        var degrade = what switch
        {
            "above base" => new RateDegradeOptions { RatesHz = [100] },
            "not decreasing" => new RateDegradeOptions { RatesHz = [50, 60] },
            "below 1 Hz" => new RateDegradeOptions { RatesHz = [50, 0.5] },
            "none" => new RateDegradeOptions { RatesHz = [] },
            "no misses" => new RateDegradeOptions { RatesHz = [50], AfterMisses = 0 },
            "short window" => new RateDegradeOptions { RatesHz = [50], WithinCycles = 2 },
            _ => new RateDegradeOptions { RatesHz = [50], RecoverAfter = TimeSpan.Zero },
        };
        var error = Assert.Throws<ArgumentException>(() => new CycleScheduler(new CycleSchedulerOptions { RateHz = 100, Degrade = degrade }));
        Assert.Contains("Degrade." + message, error.Message);
    }
}
