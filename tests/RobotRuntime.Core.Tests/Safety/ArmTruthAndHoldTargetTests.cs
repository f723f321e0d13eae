using RobotRuntime.Arm;
using RobotRuntime.Safety;
using static RobotRuntime.Core.Tests.Safety.SafetyFilterTests;

namespace RobotRuntime.Core.Tests.Safety;

/// <summary>
/// What a hold tells the arm (a target latched once, never re-read from a sagging measurement), and
/// holds that come from the arm's own account of itself (disabled, holding, rejecting, restarted).
/// </summary>
public class ArmTruthAndHoldTargetTests
{
    private static ArmCommand EndEffector(double dx) => ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [dx, 0, 0, 0, 0, 0], 0.5);

    private static SafetyInput StaleFrame(ArmCommand command, double joint0, double joint1)
    {
        var input = Healthy(command);
        input.FrameAgeNs = long.MaxValue;
        input.ArmState.Positions[0] = joint0;
        input.ArmState.Positions[1] = joint1;
        return input;
    }

    [Fact]
    public void AHoldKeepsTheLastJointTargetWhileTheMeasuredJointsSag()
    {
        var filter = ArmedFilter();
        Assert.Equal(SafetyStatus.Pass, filter.Filter(Healthy(Positions(0.205, -0.302, 0.6)), out _));

        // The arm sags under load through a long hold: every cycle sends the same target.
        for (var cycle = 0; cycle < 50; cycle++)
        {
            double sag = 0.002 * cycle;
            Assert.Equal(SafetyStatus.Hold, filter.Filter(StaleFrame(Positions(0, 0), 0.2 - sag, -0.3 - sag), out var result));
            Assert.Equal(HoldReason.StaleCameraFrame, result.Reason);
            Assert.Equal(ArmCommandMode.JointPosition, result.Allowed.Mode);
            Assert.Equal(0.205, result.Allowed.Values[0]);
            Assert.Equal(-0.302, result.Allowed.Values[1]);
            Assert.Equal(0.6, result.Allowed.GripperTarget);
        }
    }

    [Fact]
    public void AfterEndEffectorCommandsAHoldLatchesTheMeasuredJointsOnceAndKeepsThem()
    {
        var filter = ArmedFilter();
        Assert.Equal(SafetyStatus.Pass, filter.Filter(Healthy(EndEffector(0.01)), out _));

        filter.Filter(StaleFrame(EndEffector(0.01), 0.15, -0.25), out var first);
        filter.Filter(StaleFrame(EndEffector(0.01), 0.10, -0.20), out var later);

        Assert.Equal(0.15, first.Allowed.Values[0]);
        Assert.Equal(-0.25, first.Allowed.Values[1]);
        Assert.Equal(0.15, later.Allowed.Values[0]);
        Assert.Equal(-0.25, later.Allowed.Values[1]);
        Assert.True(filter.TryGetHoldTarget(out var target, out _));
        Assert.Equal(0.15, target[0]);
    }

    [Fact]
    public void EachHoldLatchesItsOwnTarget()
    {
        var filter = ArmedFilter();
        filter.Filter(Healthy(Positions(0.205, -0.302)), out _);
        filter.Filter(StaleFrame(Positions(0, 0), 0.2, -0.3), out var firstHold);
        Assert.Equal(0.205, firstHold.Allowed.Values[0]);

        filter.Filter(Healthy(Positions(0, 0)), out _); // the frames are back
        Assert.True(filter.Reset().Succeeded);
        Assert.False(filter.TryGetHoldTarget(out _, out _));
        filter.Filter(Healthy(Positions(0.21, -0.305)), out _);
        filter.Filter(StaleFrame(Positions(0, 0), 0.2, -0.3), out var secondHold);
        Assert.Equal(0.21, secondHold.Allowed.Values[0]);
        Assert.Equal(-0.305, secondHold.Allowed.Values[1]);
    }

    [Fact]
    public void WithoutAFreshStateAtTheHoldsStartTheFirstFreshStateIsLatched()
    {
        var filter = ArmedFilter();
        filter.Filter(Healthy(EndEffector(0.01)), out _);
        var lost = Healthy(EndEffector(0.01));
        lost.LinkStatus = ArmLinkStatus.Lost;
        Assert.Equal(SafetyStatus.Hold, filter.Filter(lost, out var whileLost));
        Assert.Equal(ArmCommandMode.None, whileLost.Allowed.Mode);

        filter.Filter(StaleFrame(EndEffector(0.01), 0.12, -0.22), out var back);
        filter.Filter(StaleFrame(EndEffector(0.01), 0.05, -0.10), out var after);
        Assert.Equal(0.12, back.Allowed.Values[0]);
        Assert.Equal(0.12, after.Allowed.Values[0]);
    }

    [Fact]
    public void NothingIsSentWhileTheArmReportsItsOwnEStopLatched()
    {
        var filter = ArmedFilter();
        filter.Filter(Healthy(Positions(0.205, -0.302)), out _);
        filter.EmergencyStop(EmergencyStopSource.Operator, "typed");
        var beforeTheArmLatches = Healthy(Positions(0.205, -0.302));
        filter.Filter(beforeTheArmLatches, out var first);
        Assert.Equal(HoldReason.EmergencyStop, first.Reason);
        Assert.Equal(ArmCommandMode.JointPosition, first.Allowed.Mode); // the arm still obeys: keep it at its target

        var latched = Healthy(Positions(0.205, -0.302));
        latched.ArmState.Status = ArmStatusFlags.EmergencyStop | ArmStatusFlags.Holding;
        filter.Filter(latched, out var then);
        Assert.Equal(ArmCommandMode.None, then.Allowed.Mode); // it holds by itself and would reject commands
    }

    [Fact]
    public void AnArmDisabledBehindTheRuntimesBackIsANamedHoldWithinThreeCycles()
    {
        var filter = ArmedFilter();
        filter.Filter(Healthy(Positions(0.2, -0.3)), out _);
        var disabled = Healthy(Positions(0.2, -0.3));
        disabled.ArmState.Status = ArmStatusFlags.Holding;
        disabled.ArmState.HoldReason = ArmHoldReason.Disabled;

        var cycles = CyclesUntilHold(filter, disabled, out var result);

        Assert.InRange(cycles, 1, 3);
        Assert.Equal(HoldReason.ArmDisabled, result.Reason);
        Assert.Contains("disabled", result.ReasonText);
        Assert.Equal(ArmCommandMode.None, result.Allowed.Mode);
        // A reset is refused until the arm is enabled again.
        var refused = filter.Reset();
        Assert.False(refused.Succeeded);
        Assert.Equal(HoldReason.ArmDisabled, refused.PersistingCause);
        filter.Filter(Healthy(Positions(0.2, -0.3)), out _);
        Assert.True(filter.Reset().Succeeded);
    }

    [Fact]
    public void AnArmHoldingOnItsOwnIsANamedHoldButOneWatchdogBlipIsNot()
    {
        var filter = ArmedFilter();
        var watchdog = Healthy(Positions(0.2, -0.3));
        watchdog.ArmState.Status = ArmStatusFlags.Enabled | ArmStatusFlags.Holding;
        watchdog.ArmState.HoldReason = ArmHoldReason.Watchdog;

        Assert.NotEqual(SafetyStatus.Hold, filter.Filter(watchdog, out _));
        Assert.NotEqual(SafetyStatus.Hold, filter.Filter(Healthy(Positions(0.2, -0.3)), out _)); // the next command ended it

        var cycles = CyclesUntilHold(filter, watchdog, out var result);
        Assert.Equal(SafetyFilter.ArmHoldingCycles, cycles);
        Assert.Equal(HoldReason.ArmHolding, result.Reason);
        Assert.Contains("watchdog", result.ReasonText);
    }

    [Fact]
    public void AnArmRejectingEveryCommandIsANamedHoldWhileOccasionalRejectionsAreNot()
    {
        var filter = ArmedFilter();
        var input = Healthy(Positions(0.2, -0.3));
        input.ArmState.LastCommandSequence = 10;
        input.ArmState.CommandsRejected = 4;
        filter.Filter(input, out _);
        // Rejections while the arm keeps applying new commands: not a hold.
        for (uint i = 1; i <= 10; i++)
        {
            input.ArmState.LastCommandSequence = 10 + i;
            input.ArmState.CommandsRejected = 4 + i;
            Assert.NotEqual(SafetyStatus.Hold, filter.Filter(input, out _));
        }
        // Every command rejected, none applied (say, someone else took the sequence numbers far ahead).
        int cycles = 0;
        SafetyResult result;
        do
        {
            input.ArmState.CommandsRejected++;
            cycles++;
        }
        while (filter.Filter(input, out result) != SafetyStatus.Hold && cycles < 10);
        Assert.Equal(SafetyFilter.ArmRejectedCommands, cycles);
        Assert.Equal(HoldReason.ArmRejecting, result.Reason);
    }

    [Fact]
    public void ANewArmSessionIsANamedHoldAndAResetActsOnTheNewSession()
    {
        var filter = ArmedFilter();
        filter.Filter(Healthy(Positions(0.2, -0.3)), out _);
        var restarted = Healthy(Positions(0.2, -0.3));
        restarted.ArmState.Session = 99;

        Assert.Equal(SafetyStatus.Hold, filter.Filter(restarted, out var result));
        Assert.Equal(HoldReason.ArmRestarted, result.Reason);
        Assert.Contains("restarted", result.ReasonText);

        Assert.True(filter.Reset().Succeeded);
        Assert.NotEqual(SafetyStatus.Hold, filter.Filter(restarted, out _));
        Assert.NotEqual(SafetyStatus.Hold, filter.Filter(restarted, out _));
    }

    [Fact]
    public void AStaleStateHoldIsRenamedArmLinkLostWhenTheLinkIsDeclaredLost()
    {
        var filter = ArmedFilter();
        var stale = Healthy(Positions(0.2, -0.3));
        stale.ArmStateAgeNs = 120 * Ms;
        Assert.Equal(HoldReason.StaleArmState, (filter.Filter(stale, out var first), first.Reason).Reason);
        stale.LinkStatus = ArmLinkStatus.Lost;
        filter.Filter(stale, out var then);
        Assert.Equal(HoldReason.ArmLinkLost, then.Reason);
        Assert.False(then.HoldStarted);
        Assert.Equal(HoldReason.ArmLinkLost, filter.HoldReason);
    }

    [Fact]
    public void EveryEStopIsHandedToTheHostOnceAnInputOnlyWhenItBecomesAsserted()
    {
        var filter = ArmedFilter();
        var raised = new List<EmergencyStopSource>();
        filter.EmergencyStopRaised = raised.Add;

        filter.EmergencyStop(EmergencyStopSource.Operator, "typed");
        filter.SetEmergencyStopInput(EmergencyStopSource.File, true, "stop file");
        filter.SetEmergencyStopInput(EmergencyStopSource.File, true, "stop file");
        filter.SetEmergencyStopInput(EmergencyStopSource.File, false, "");
        filter.SetEmergencyStopInput(EmergencyStopSource.File, true, "stop file");

        Assert.Equal([EmergencyStopSource.Operator, EmergencyStopSource.File, EmergencyStopSource.File], raised);
    }

    private static int CyclesUntilHold(SafetyFilter filter, SafetyInput input, out SafetyResult result)
    {
        for (var cycle = 1; cycle <= 10; cycle++)
        {
            if (filter.Filter(input, out result) == SafetyStatus.Hold)
                return cycle;
        }
        result = default;
        return int.MaxValue;
    }
}
