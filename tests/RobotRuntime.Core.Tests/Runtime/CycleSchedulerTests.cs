using RobotRuntime.Runtime;
using RobotRuntime.Testing;

namespace RobotRuntime.Core.Tests.Runtime;

public class CycleSchedulerTests
{
    private const long Ms = 1_000_000;

    private static CycleScheduler Scheduler(FakeCycleTimeSource time, double rateHz = 100, double spinMs = 2) =>
        new(new CycleSchedulerOptions { RateHz = rateHz, SpinWindow = TimeSpan.FromMilliseconds(spinMs) }, time);

    [Fact]
    public void FirstCycleStartsAtOnceAndTicksFollowTheGridWithoutDrift()
    {
        var time = new FakeCycleTimeSource(oversleepNs: 300_000, spinStepNs: 700);
        var scheduler = Scheduler(time);
        var first = scheduler.WaitForNextCycle();
        Assert.Equal(0, first.Index);
        Assert.Equal(time.NowNanoseconds, first.StartNs);
        long origin = first.ScheduledStartNs;

        for (int k = 1; k <= 1000; k++)
        {
            time.Work(3 * Ms + k % 7 * 100_000);
            var cycle = scheduler.WaitForNextCycle();
            Assert.Equal(k, cycle.Index);
            Assert.Equal(origin + k * 10 * Ms, cycle.ScheduledStartNs);
            Assert.False(cycle.PreviousMissed);
            Assert.InRange(cycle.WakeLatenessNs, 0, 700);
        }
        Assert.Equal(0, scheduler.MissedDeadlines);
        Assert.Equal(1001, scheduler.Cycles);
    }

    [Fact]
    public void WaitSleepsUntilTheSpinWindowThenSpinsToTheTick()
    {
        var time = new FakeCycleTimeSource(spinStepNs: 10_000);
        var scheduler = Scheduler(time, rateHz: 50, spinMs: 2);
        scheduler.WaitForNextCycle();
        time.Work(5 * Ms);
        var cycle = scheduler.WaitForNextCycle();
        Assert.Equal(1, time.Sleeps);
        Assert.Equal(13 * Ms, time.LastSleepNs);
        Assert.Equal(200, time.Spins);
        Assert.Equal(cycle.ScheduledStartNs, cycle.StartNs);
    }

    [Fact]
    public void WithNoSpinWindowTheWaitOnlySleeps()
    {
        var time = new FakeCycleTimeSource();
        var scheduler = Scheduler(time, rateHz: 10, spinMs: 0);
        scheduler.WaitForNextCycle();
        time.Work(40 * Ms);
        scheduler.WaitForNextCycle();
        Assert.Equal(60 * Ms, time.LastSleepNs);
        Assert.Equal(0, time.Spins);
    }

    [Fact]
    public void OversleepPastTheSpinWindowIsReportedAsLatenessButDoesNotShiftLaterTicks()
    {
        var time = new FakeCycleTimeSource(oversleepNs: 3 * Ms);
        var scheduler = Scheduler(time, spinMs: 1);
        long origin = scheduler.WaitForNextCycle().ScheduledStartNs;
        for (int k = 1; k <= 10; k++)
        {
            time.Work(1 * Ms);
            var cycle = scheduler.WaitForNextCycle();
            Assert.Equal(origin + k * 10 * Ms, cycle.ScheduledStartNs);
            Assert.Equal(2 * Ms, cycle.WakeLatenessNs);
        }
        Assert.Equal(2 * Ms, scheduler.MaxWakeLatenessNs);
    }

    [Fact]
    public void OverrunIsCountedAndTheMissedTicksAreSkipped()
    {
        var time = new FakeCycleTimeSource();
        var scheduler = Scheduler(time);
        long origin = scheduler.WaitForNextCycle().ScheduledStartNs;
        time.Work(25 * Ms); // due by 10 ms; ticks at 10 and 20 ms have passed
        var late = scheduler.WaitForNextCycle();
        Assert.True(late.PreviousMissed);
        Assert.Equal(2, late.SkippedTicks);
        Assert.Equal(3, late.Index);
        Assert.Equal(origin + 30 * Ms, late.ScheduledStartNs);
        Assert.Equal(1, late.ConsecutiveMisses);
        Assert.Equal(1, scheduler.MissedDeadlines);
        Assert.Equal(2, scheduler.SkippedTicks);

        time.Work(2 * Ms);
        var onTime = scheduler.WaitForNextCycle();
        Assert.False(onTime.PreviousMissed);
        Assert.Equal(4, onTime.Index);
        Assert.Equal(0, onTime.ConsecutiveMisses);
    }

    [Fact]
    public void WorkEndingExactlyOnTheDeadlineIsNotAMiss()
    {
        var time = new FakeCycleTimeSource();
        var scheduler = Scheduler(time);
        scheduler.WaitForNextCycle();
        time.Work(10 * Ms);
        var next = scheduler.WaitForNextCycle();
        Assert.False(next.PreviousMissed);
        Assert.Equal(1, next.Index);
    }

    [Fact]
    public void DeadlineStormCountsConsecutiveMissesUntilACycleEndsOnTime()
    {
        var time = new FakeCycleTimeSource();
        var scheduler = Scheduler(time);
        scheduler.WaitForNextCycle();
        var misses = new List<int>();
        for (int k = 0; k < 5; k++)
        {
            time.Work(12 * Ms);
            misses.Add(scheduler.WaitForNextCycle().ConsecutiveMisses);
        }
        Assert.Equal([1, 2, 3, 4, 5], misses);
        Assert.Equal(5, scheduler.MaxConsecutiveMisses);
        time.Work(1 * Ms);
        Assert.Equal(0, scheduler.WaitForNextCycle().ConsecutiveMisses);
        Assert.Equal(0, scheduler.ConsecutiveMisses);
        Assert.Equal(5, scheduler.MaxConsecutiveMisses);
        Assert.Contains("5 missed deadlines", scheduler.Report());
    }

    [Fact]
    public void WaitingAllocatesNothing()
    {
        var time = new FakeCycleTimeSource();
        var scheduler = Scheduler(time);
        scheduler.WaitForNextCycle();
        time.Work(1 * Ms);
        scheduler.WaitForNextCycle();
        Assert.Equal(0, ThreadAllocations.During(() =>
        {
            for (int k = 0; k < 1000; k++)
            {
                time.Work(k % 50 == 0 ? 25 * Ms : 3 * Ms);
                scheduler.WaitForNextCycle();
            }
        }));
    }

    [Fact]
    public void RealClockHandsOutCyclesInGridOrder()
    {
        var scheduler = new CycleScheduler(new CycleSchedulerOptions { RateHz = 100, SpinWindow = TimeSpan.FromMilliseconds(1) });
        var previous = scheduler.WaitForNextCycle();
        for (int k = 0; k < 5; k++)
        {
            var cycle = scheduler.WaitForNextCycle();
            Assert.Equal(previous.Index + 1 + cycle.SkippedTicks, cycle.Index);
            Assert.Equal(scheduler.OriginNs + cycle.Index * scheduler.PeriodNs, cycle.ScheduledStartNs);
            Assert.True(cycle.StartNs >= cycle.ScheduledStartNs);
            previous = cycle;
        }
    }

    [Theory]
    [InlineData(9.9, 1.0, "RateHz")]
    [InlineData(100.5, 1.0, "RateHz")]
    [InlineData(double.NaN, 1.0, "RateHz")]
    [InlineData(100, 10.0, "SpinWindow")]
    [InlineData(100, -1.0, "SpinWindow")]
    public void BadOptionsThrowNamingTheOption(double rateHz, double spinMs, string option)
    {
        var error = Assert.Throws<ArgumentException>(() =>
            new CycleScheduler(new CycleSchedulerOptions { RateHz = rateHz, SpinWindow = TimeSpan.FromMilliseconds(spinMs) }));
        Assert.Contains(option, error.Message);
    }
}
