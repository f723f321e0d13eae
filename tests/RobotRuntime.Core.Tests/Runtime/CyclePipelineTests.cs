using RobotRuntime.Arm;
using RobotRuntime.Core.Tests.Safety;
using RobotRuntime.Runtime;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using RobotRuntime.Testing;

namespace RobotRuntime.Core.Tests.Runtime;

/// <summary>The three pieces together on a fake clock: scheduler → safety → run log, as the control loop will use them.</summary>
public class CyclePipelineTests
{
    private const long Ms = 1_000_000;

    private sealed class Pipeline(FakeCycleTimeSource time, CycleScheduler scheduler, SafetyFilter filter, RunLogWriter log)
    {
        private SafetyInput _input = SafetyFilterTests.Healthy(SafetyFilterTests.Positions(0.2, -0.3));

        /// <summary>One cycle: wait, "plan" for <paramref name="planNs"/> returning <paramref name="action0"/>, filter, log.</summary>
        public SafetyResult Cycle(long planNs, double action0)
        {
            var timing = scheduler.WaitForNextCycle();
            var record = new CycleRecord
            {
                CycleIndex = timing.Index,
                ScheduledStartNs = timing.ScheduledStartNs,
                StartNs = timing.StartNs,
                SkippedTicks = timing.SkippedTicks,
                ConsecutiveMisses = timing.ConsecutiveMisses,
                FrameAgeNs = 20 * Ms,
            };
            time.Work(planNs);
            record.PlanNs = planNs;
            _input.Requested = SafetyFilterTests.Positions(action0, -0.3);
            _input.NowNs = SafetyFilterTests.Now;
            _input.ConsecutiveDeadlineMisses = timing.ConsecutiveMisses;
            long safetyStart = time.NowNanoseconds;
            filter.Filter(_input, out var result);
            time.Work(50_000);
            record.SafetyNs = time.NowNanoseconds - safetyStart;
            record.SetRequested(result.Requested);
            record.SetSent(result.Allowed);
            record.Safety = result.Status;
            record.HoldReason = result.Reason;
            record.HoldStarted = (byte)(result.HoldStarted ? 1 : 0);
            record.Clipped = result.Clipped;
            record.SendStatus = result.Allowed.Mode == ArmCommandMode.None ? CycleRecord.NotSent : (byte)ArmSendStatus.Sent;
            record.EndNs = time.NowNanoseconds;
            // This cycle's own miss is known at its end; the scheduler counts the same at the next wait.
            record.MissedDeadline = (byte)(record.EndNs > timing.DeadlineNs ? 1 : 0);
            log.TryAppend(record);
            return result;
        }
    }

    [Fact]
    public void DeadlineStormFromASlowPolicyHoldsAfterKMissesAndIsLoggedWithItsReason()
    {
        using var folder = new TemporaryDirectory();
        string path = Path.Combine(folder.Path, "storm.rrlog");
        var time = new FakeCycleTimeSource();
        var scheduler = new CycleScheduler(new CycleSchedulerOptions { RateHz = 100 }, time);
        var filter = SafetyFilterTests.ArmedFilter();
        using var log = RunLogWriter.Create(path, new RunLogMetadata(100, "deadline storm"));
        var pipeline = new Pipeline(time, scheduler, filter, log);

        var statuses = new List<SafetyStatus>();
        for (int k = 0; k < 40; k++)
            statuses.Add(pipeline.Cycle(k is >= 10 and < 15 ? 15 * Ms : 2 * Ms, 0.2).Status);
        // Cycles 10–14 overrun; the cycles after the 1st and 2nd overrun still pass, the 3rd latches the hold.
        Assert.Equal(SafetyStatus.Pass, statuses[12]);
        Assert.Equal(SafetyStatus.Hold, statuses[13]);
        Assert.Equal(HoldReason.DeadlineMisses, filter.HoldReason);
        Assert.Equal(SafetyStatus.Hold, statuses[^1]);
        Assert.True(filter.Reset().Succeeded);
        Assert.Equal(SafetyStatus.Pass, pipeline.Cycle(2 * Ms, 0.2).Status);

        var summary = RunLogSummary.Compute(RunLog.Read(path));
        Assert.Equal(41, summary.Cycles);
        Assert.Equal(5, summary.MissedDeadlines);
        Assert.Equal(scheduler.MissedDeadlines, summary.MissedDeadlines);
        var log2 = RunLog.Read(path);
        Assert.Equal([10, 11, 12, 13, 14], log2.Records.Select((r, i) => (r, i)).Where(p => p.r.MissedDeadline == 1).Select(p => p.i).ToArray());
        Assert.Equal(1, summary.HoldsByReason[HoldReason.DeadlineMisses]);
        Assert.Equal(15, summary[CycleStage.Plan].Max, 9);
    }

    [Fact]
    public void SteadyStateCycleOfSchedulerSafetyAndLogAllocatesNothing()
    {
        using var folder = new TemporaryDirectory();
        var time = new FakeCycleTimeSource();
        var scheduler = new CycleScheduler(new CycleSchedulerOptions { RateHz = 100 }, time);
        var filter = SafetyFilterTests.ArmedFilter();
        using var log = RunLogWriter.Create(Path.Combine(folder.Path, "steady.rrlog"), new RunLogMetadata(100, "steady"));
        var pipeline = new Pipeline(time, scheduler, filter, log);
        pipeline.Cycle(2 * Ms, 0.2);
        pipeline.Cycle(2 * Ms, 5.0);
        Assert.Equal(0, ThreadAllocations.During(() =>
        {
            for (int k = 0; k < 500; k++) pipeline.Cycle(2 * Ms, k % 2 == 0 ? 0.2 : 5.0);
        }));
        Assert.Equal(502, log.RecordsWritten);
    }

    [Fact]
    public void NanActionIsHeldAndLoggedWithTheRequestedAndTheHoldCommand()
    {
        using var folder = new TemporaryDirectory();
        string path = Path.Combine(folder.Path, "nan.rrlog");
        var time = new FakeCycleTimeSource();
        var scheduler = new CycleScheduler(new CycleSchedulerOptions { RateHz = 50 }, time);
        var filter = SafetyFilterTests.ArmedFilter();
        using (var log = RunLogWriter.Create(path, new RunLogMetadata(50, "nan")))
        {
            var pipeline = new Pipeline(time, scheduler, filter, log);
            pipeline.Cycle(2 * Ms, 0.2);
            pipeline.Cycle(2 * Ms, double.NaN);
        }
        var records = RunLog.Read(path).Records;
        Assert.Equal(HoldReason.NonFiniteCommand, records[1].HoldReason);
        Assert.Equal(1, records[1].HoldStarted);
        Assert.True(double.IsNaN(records[1].Requested[0]));
        Assert.Equal(ArmCommandMode.JointPosition, records[1].SentMode);
        Assert.Equal(0.2, records[1].Sent[0]);
    }
}
