using RobotRuntime.Arm;
using RobotRuntime.Core.Tests.Safety;
using RobotRuntime.Policies;
using RobotRuntime.Runtime;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using RobotRuntime.Testing;

namespace RobotRuntime.Core.Tests.Runtime;

/// <summary>
/// The loop with <see cref="ControlLoopOptions.Degrade"/> (100 Hz, stepping down to 50 and 25 Hz after
/// three misses within ten cycles): a policy that "works" on the fake clock makes the misses, so every
/// start, rate and decision is exact. The safety layer holds after K = 3 misses in a row.
/// </summary>
public sealed partial class ControlLoopTests
{
    private static RateDegradeOptions Degrade(double recoverMs = 10_000) =>
        new() { RatesHz = [50, 25], AfterMisses = 3, WithinCycles = 10, RecoverAfter = TimeSpan.FromMilliseconds(recoverMs) };

    /// <summary>
    /// Returns a fixed command after "working" <see cref="WorkNs"/> on the fake clock, and writes what it
    /// was told each real cycle (period, budget) into preallocated arrays (no allocation per call).
    /// </summary>
    private sealed class PacedPolicy(FakeCycleTimeSource clock, ArmCommand command) : IPolicy
    {
        public long WorkNs { get; set; }
        public long[] PeriodsNs { get; } = new long[1024];
        public long[] BudgetsNs { get; } = new long[1024];
        public int Calls { get; private set; }
        public string Name => "paced";
        public ArmCommandMode Mode => command.Mode;
        public int EmbeddingSize => 0;
        public string LastError => "";
        public void Reset() { }

        public PolicyStatus Act(PolicyObservation observation, ref ArmCommand next)
        {
            if (observation.CycleIndex >= 0 && Calls < PeriodsNs.Length)
            {
                PeriodsNs[Calls] = observation.PeriodNs;
                BudgetsNs[Calls] = observation.DeadlineNs - observation.CycleStartNs;
                Calls++;
            }
            if (WorkNs > 0)
                clock.Work(WorkNs);
            next = command;
            return PolicyStatus.Ok;
        }

        public void Dispose() { }
    }

    private (Rig Rig, PacedPolicy Policy) PacedRig(string name, ArmCommand command, RateDegradeOptions? degrade, TimeSpan? policyBudget = null)
    {
        var clock = new FakeCycleTimeSource(OriginNs);
        var policy = new PacedPolicy(clock, command);
        return (new Rig(LogPath(name), policy, clock: clock, degrade: degrade, policyBudget: policyBudget), policy);
    }

    /// <summary>
    /// Two cycles on time; a 15 ms policy: cycles 2, 4 and 6 overrun 100 Hz; cycle 8 runs at 50 Hz,
    /// where 15 ms fits. Then the policy is quick: 100 ms after the last miss (which ended at 75 ms)
    /// the wait after cycle 13 (180 ms) steps back up, and cycle 14 (200 ms) runs at 100 Hz.
    /// </summary>
    private static void StepDownAndBackUp(Rig rig, PacedPolicy policy)
    {
        rig.Arm_();
        rig.Loop.RunCycles(2);
        policy.WorkNs = 15 * Ms;
        rig.Loop.RunCycles(4);
        policy.WorkNs = 0;
        rig.Loop.RunCycles(9);
    }

    [Fact]
    public void RepeatedMissesStepTheRateDownInsteadOfHoldingAndAQuietPeriodStepsItBackUp()
    {
        var (rig, policy) = PacedRig("degrade", SafetyFilterTests.Positions(0.2, -0.3), Degrade(recoverMs: 100));
        using var owned = rig;
        StepDownAndBackUp(rig, policy);
        var records = RunLog.Read(rig.Log.Path).Records;
        Assert.Equal([0L, 1, 2, 4, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17], records.Select(r => r.CycleIndex));
        Assert.Equal([0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], records.Select(r => (int)r.MissedDeadline));
        Assert.Equal([0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], records.Select(r => r.ConsecutiveMisses));
        Assert.Equal([100, 100, 100, 100, 100, 50, 50, 50, 50, 50, 50, 100, 100, 100, 100], records.Select(r => r.RateMillihertz / 1000));
        Assert.Equal([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0], records.Select(r => (int)r.RateChange));
        Assert.Equal([0L, 10, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 210, 220, 230], records.Select(r => (r.StartNs - OriginNs) / Ms));
        Assert.All(records, r => Assert.NotEqual(SafetyStatus.Hold, r.Safety)); // three misses in a row, yet no hold: the rate answered them
        Assert.Equal(100, rig.Loop.Status.RateHz);

        // The operator's console gets each change once, in order, with what caused it.
        Assert.True(rig.Loop.TryReadRateChange(out var down));
        Assert.Equal(new RateChangeEvent(8, OriginNs + 75 * Ms, 100, 50, RateChange.SteppedDown, Misses: 3, InCycles: 3, QuietNs: 0, ToLowest: false), down);
        Assert.True(rig.Loop.TryReadRateChange(out var up));
        Assert.Equal(new RateChangeEvent(14, OriginNs + 180 * Ms, 50, 100, RateChange.SteppedUp, 0, 0, QuietNs: 105 * Ms, ToLowest: false), up);
        Assert.False(rig.Loop.TryReadRateChange(out _));
        Assert.Equal(0, rig.Loop.RateChangesDropped);

        // The live board has the newest cycle's rate; the run log's summary each change and the time at each rate.
        Assert.True(rig.Board.TryReadCycle(out var live));
        Assert.Equal(100_000, live.Record.RateMillihertz);
        var summary = RunLogSummary.Compute(RunLog.Read(rig.Log.Path));
        Assert.Equal([new LoggedRateChange(8, OriginNs + 80 * Ms, 100, 50, RateChange.SteppedDown), new LoggedRateChange(14, OriginNs + 200 * Ms, 50, 100, RateChange.SteppedUp)],
            summary.RateChanges);
        Assert.Equal([(100.0, 9), (50.0, 6)], summary.TimeAtRates.Select(t => (t.RateHz, t.Cycles)));
        Assert.All(summary.TimeAtRates, t => Assert.Equal(0.12, t.Seconds, 9)); // tolerance: sums of 10 and 20 ms in doubles
        var text = summary.ToText();
        Assert.StartsWith("15 cycles at 100 Hz and lower\n", text);
        Assert.Contains("rate changes: 2 (1 down after missed deadlines, 1 up after a quiet period)\n", text);
        Assert.Contains("  cycle 8: 100 Hz → 50 Hz (missed deadlines)\n", text);
        Assert.Contains("  cycle 14: 50 Hz → 100 Hz (quiet period)\n", text);
        Assert.Contains("time at 50 Hz: 0.12 s (6 cycle(s))\n", text);
    }

    [Fact]
    public void MissesThatGoOnAtTheLowestRateHoldAsWithoutDegrading()
    {
        // A 50 ms policy misses at every rate: three misses at 100 Hz, three at 50 Hz, then at 25 Hz
        // (the lowest) the misses count in a row and the fourth cycle there holds for them (K = 3).
        var (rig, policy) = PacedRig("degrade-lowest", SafetyFilterTests.Positions(0.2, -0.3), Degrade());
        using var owned = rig;
        rig.Arm_();
        rig.Loop.RunCycles(2);
        policy.WorkNs = 50 * Ms;
        rig.Loop.RunCycles(12);
        var storm = RunLog.Read(rig.Log.Path).Records.Skip(2).ToList();
        Assert.All(storm, r => Assert.Equal(1, r.MissedDeadline));
        Assert.Equal([100, 100, 100, 50, 50, 50, 25, 25, 25, 25, 25, 25], storm.Select(r => r.RateMillihertz / 1000));
        Assert.Equal([0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 4, 5], storm.Select(r => r.ConsecutiveMisses));
        Assert.Equal(9, storm.TakeWhile(r => r.Safety != SafetyStatus.Hold).Count());
        Assert.Equal(HoldReason.DeadlineMisses, storm[9].HoldReason);
        Assert.Equal(1, storm[9].HoldStarted);
        Assert.All(storm.Skip(9), r => Assert.Equal(HoldReason.DeadlineMisses, r.HoldReason));
        Assert.Equal(25, rig.Loop.Status.RateHz);
        Assert.True(rig.Loop.TryReadRateChange(out _));
        Assert.True(rig.Loop.TryReadRateChange(out var lowest));
        Assert.True(lowest.ToLowest);
        Assert.Contains("consecutive missed deadlines", rig.Loop.RequestReset(TimeSpan.FromSeconds(1)).Message);
    }

    [Fact]
    public void AnUnsafeCauseHoldsAtADegradedRateAsAtTheConfiguredOne()
    {
        var (rig, policy) = PacedRig("degrade-unsafe", SafetyFilterTests.Positions(0.2, -0.3), Degrade());
        using var owned = rig;
        rig.Arm_();
        policy.WorkNs = 15 * Ms;
        rig.Loop.RunCycles(4); // down to 50 Hz
        Assert.Equal(50, rig.Loop.Status.RateHz);

        var stopper = new Thread(() => rig.Safety.EmergencyStop(EmergencyStopSource.Operator, "operator pressed e-stop"));
        stopper.Start();
        stopper.Join();
        rig.Loop.RunCycles(2);
        var records = RunLog.Read(rig.Log.Path).Records;
        Assert.Equal((HoldReason.EmergencyStop, (byte)1, 50_000), (records[4].HoldReason, records[4].HoldStarted, records[4].RateMillihertz));
        Assert.All(records.Skip(4), r => Assert.Equal(ArmCommandMode.JointPosition, r.SentMode)); // told to hold where it is

        rig.Arm_();
        rig.Arm.StateAge = TimeSpan.FromMilliseconds(300); // beyond the 50 ms bound
        rig.Loop.RunCycles(2);
        records = RunLog.Read(rig.Log.Path).Records;
        Assert.Equal((HoldReason.StaleArmState, (byte)1, 50_000), (records[6].HoldReason, records[6].HoldStarted, records[6].RateMillihertz));
        Assert.Equal(HoldReason.StaleArmState, records[7].HoldReason);
    }

    [Theory]
    [InlineData(0)]  // the default budget: 70% of the period
    [InlineData(5)]  // 5 ms of 10: half of any period
    public void ThePolicysPeriodAndBudgetFollowTheRate(int budgetMs)
    {
        var (rig, policy) = PacedRig($"degrade-budget-{budgetMs}", SafetyFilterTests.Positions(0.2, -0.3), Degrade(),
            budgetMs == 0 ? null : TimeSpan.FromMilliseconds(budgetMs));
        using var owned = rig;
        rig.Arm_();
        policy.WorkNs = 15 * Ms;
        rig.Loop.RunCycles(5); // three at 100 Hz, two at 50 Hz
        long budgetAt100 = budgetMs == 0 ? 7 * Ms : budgetMs * Ms;
        Assert.Equal(5, policy.Calls);
        Assert.Equal([10 * Ms, 10 * Ms, 10 * Ms, 20 * Ms, 20 * Ms], policy.PeriodsNs.Take(5));
        Assert.Equal([budgetAt100, budgetAt100, budgetAt100, 2 * budgetAt100, 2 * budgetAt100], policy.BudgetsNs.Take(5));
    }

    [Fact]
    public void AtTheLowerRateAJointMovesAtItsVelocityLimitAndNoFaster()
    {
        // Joint 0 asked to go far (0.8 rad, within its 0.9 limit): the safety layer lets it move
        // 1 rad/s × the period — 10 ms steps of 0.01 rad at 100 Hz, 20 ms steps of 0.02 rad at 50 Hz —
        // so the speed from one command to the next never passes 1 rad/s.
        var (rig, policy) = PacedRig("degrade-velocity", SafetyFilterTests.Positions(0.8, -0.3), Degrade());
        using var owned = rig;
        rig.Arm_();
        policy.WorkNs = 15 * Ms;
        rig.Loop.RunCycles(8);
        var records = RunLog.Read(rig.Log.Path).Records;
        Assert.Equal([100, 100, 100, 50, 50, 50, 50, 50], records.Select(r => r.RateMillihertz / 1000));
        double previous = 0.2;
        for (var i = 0; i < records.Count; i++)
        {
            double step = records[i].Sent[0] - previous;
            double periodSeconds = 1000.0 / records[i].RateMillihertz;
            Assert.Equal(1.0 * periodSeconds, step, 12);
            Assert.True(records[i].Clipped.HasFlag(ClipKinds.ChangePerCycle));
            if (i + 1 < records.Count)
                Assert.True(step / ((records[i + 1].StartNs - records[i].StartNs) / 1e9) <= 1.0 + 1e-9, $"cycle {i}: {step} rad");
            previous = records[i].Sent[0];
        }
    }

    [Fact]
    public void CyclesThatChangeTheRateAllocateNothing()
    {
        var (rig, policy) = PacedRig("degrade-alloc", SafetyFilterTests.Positions(0.2, -0.3), Degrade(recoverMs: 100));
        using var owned = rig;
        rig.Arm_();
        rig.Loop.RunCycles(50); // past warm-up and the first live frames
        long allocated = ThreadAllocations.During(() =>
        {
            // Down to 50 Hz and back up to 100 Hz, twice.
            for (var round = 0; round < 2; round++)
            {
                policy.WorkNs = 15 * Ms;
                rig.Loop.RunCycles(4);
                policy.WorkNs = 0;
                rig.Loop.RunCycles(9);
            }
        });
        Assert.Equal(0, allocated);
        var changes = RunLog.Read(rig.Log.Path).Records.Skip(50).Select(r => r.RateChange).Where(c => c != RateChange.None);
        Assert.Equal([RateChange.SteppedDown, RateChange.SteppedUp, RateChange.SteppedDown, RateChange.SteppedUp], changes);
        var queued = 0;
        while (rig.Loop.TryReadRateChange(out _))
            queued++;
        Assert.Equal(4, queued);
    }

    [Fact]
    public void ADegradedRateAboveTheBaseOrWhoseCommandsWouldTripTheArmsWatchdogIsRefused()
    {
        // The test arm holds after 200 ms without a command: 5 Hz (a 200 ms period) would trip it.
        var error = Assert.Throws<ArgumentException>(() => new ControlLoop(
            new ControlLoopOptions { RateHz = 100, Degrade = new RateDegradeOptions { RatesHz = [50, 5] } },
            [], null, new FixedPolicy(SafetyFilterTests.Positions(0.2, -0.3)), new SafetyFilter(SafetyFilterTests.Options()), new FakeArm()));
        Assert.Contains("Degrade.RatesHz: 5 Hz is a 200 ms period, not shorter than the arm's watchdog (200 ms)", error.Message);
        error = Assert.Throws<ArgumentException>(() => new ControlLoop(
            new ControlLoopOptions { RateHz = 100, Degrade = new RateDegradeOptions { RatesHz = [120] } },
            [], null, new FixedPolicy(SafetyFilterTests.Positions(0.2, -0.3)), new SafetyFilter(SafetyFilterTests.Options()), new FakeArm()));
        Assert.Contains("Degrade.RatesHz[0]: expected a rate below the base rate (100 Hz), got 120", error.Message);
    }
}
