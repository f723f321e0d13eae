using RobotRuntime.Arm;
using RobotRuntime.Safety;

namespace RobotRuntime.Core.Tests.Safety;

/// <summary>
/// The safety filter when a cycle says its period (<see cref="SafetyInput.CyclePeriodNs"/>), as a loop
/// stepped down to a lower rate does: limits in units per second hold at every period, limits per
/// command never grow. The shared options: joint 0 moves at most 2 rad/s × 0.5 = 1 rad/s, joint 1
/// 1 rad/s × 0.5 = 0.5 rad/s, within [−0.9, 0.9] and [−1.9, 1.9]; configured period 10 ms.
/// </summary>
public class SafetyFilterAcrossRatesTests
{
    private const long Ms = SafetyFilterTests.Ms;

    private static SafetyInput At(long periodNs, ArmCommand command)
    {
        var input = SafetyFilterTests.Healthy(command);
        input.CyclePeriodNs = periodNs;
        return input;
    }

    [Theory]
    [InlineData(10)]
    [InlineData(20)]
    [InlineData(40)]
    [InlineData(80)]
    public void AJointTargetMovesAtMostTheVelocityLimitTimesThePeriodItWillStand(int periodMs)
    {
        var filter = SafetyFilterTests.ArmedFilter();
        // Far targets on both joints, from the measured 0.2 and −0.3.
        filter.Filter(At(periodMs * Ms, SafetyFilterTests.Positions(0.85, -1.5)), out var result);
        double seconds = periodMs / 1000.0;
        Assert.Equal(ClipKinds.ChangePerCycle, result.Clipped);
        Assert.Equal(0.2 + 1.0 * seconds, result.Allowed.Values[0], 12);
        Assert.Equal(-0.3 - 0.5 * seconds, result.Allowed.Values[1], 12);
        // The speed the step asks for, over the time until the next command, is the limit and no more.
        Assert.True((result.Allowed.Values[0] - 0.2) / seconds <= 1.0 + 1e-12);
        Assert.True((-0.3 - result.Allowed.Values[1]) / seconds <= 0.5 + 1e-12);
    }

    [Fact]
    public void NoPeriodMeansTheConfiguredOneExactly()
    {
        var configured = SafetyFilterTests.ArmedFilter();
        var told = SafetyFilterTests.ArmedFilter();
        foreach (var command in new[] { SafetyFilterTests.Positions(0.85, -1.5), ArmCommand.JointVelocities([3.0, -0.1], 0.5) })
        {
            configured.Filter(At(0, command), out var withoutPeriod);
            told.Filter(At(10 * Ms, command), out var withPeriod);
            Assert.Equal(withoutPeriod.Clipped, withPeriod.Clipped);
            Assert.Equal(withoutPeriod.Allowed.Values[0], withPeriod.Allowed.Values[0]);
            Assert.Equal(withoutPeriod.Allowed.Values[1], withPeriod.Allowed.Values[1]);
        }
    }

    [Fact]
    public void AFixedStepPerCycleDoesNotGrowAtALongerPeriod()
    {
        // max_joint_position_change_per_cycle 0.015 rad: at 10 ms the velocity limit (0.01 rad) is the
        // smaller; at 40 ms the fixed 0.015 rad is, not 0.04 — a slower loop moves the joint slower.
        var filter = SafetyFilterTests.ArmedFilter(SafetyFilterTests.Options() is var o ? new SafetyFilterOptions
        {
            Arm = o.Arm, CyclePeriod = o.CyclePeriod, JointPositionMargin = o.JointPositionMargin, VelocityScale = o.VelocityScale,
            MaxJointPositionChangePerCycle = 0.015, MaxFrameAge = o.MaxFrameAge, Workspace = o.Workspace, WorkspaceMargin = o.WorkspaceMargin,
        } : null);
        filter.Filter(At(10 * Ms, SafetyFilterTests.Positions(0.85, -0.3)), out var fast);
        filter.Filter(At(40 * Ms, SafetyFilterTests.Positions(0.85, -0.3)), out var slow);
        Assert.Equal(0.21, fast.Allowed.Values[0], 12);
        Assert.Equal(0.215, slow.Allowed.Values[0], 12);
    }

    [Fact]
    public void AnEndEffectorStepPerCommandDoesNotGrowAtALongerPeriod()
    {
        // The arm's own 0.05 m per command, at 10 ms and at 80 ms alike.
        var filter = SafetyFilterTests.ArmedFilter();
        var far = ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0.3, 0.4, 0.0, 0.0, 0.0, 0.0], 0.5);
        filter.Filter(At(10 * Ms, far), out var fast);
        filter.Filter(At(80 * Ms, far), out var slow);
        Assert.Equal(ClipKinds.EndEffectorStep, slow.Clipped);
        Assert.Equal(0.03, fast.Allowed.Values[0], 12);
        Assert.Equal(0.04, fast.Allowed.Values[1], 12);
        Assert.Equal(fast.Allowed.Values[0], slow.Allowed.Values[0]);
        Assert.Equal(fast.Allowed.Values[1], slow.Allowed.Values[1]);
    }

    [Fact]
    public void AVelocityCommandIsCutSoThatTheLongerPeriodCannotCarryTheJointPastItsLimit()
    {
        // Joint 0 at 0.85, 0.05 rad below its limit (0.9) asking for 0.25 rad/s (within the change per
        // cycle): at 10 ms it may (0.0025 rad); at 400 ms it would pass the limit by 0.05 rad, so it
        // gets 0.05 / 0.4 = 0.125 rad/s, which stops at the limit.
        var fast = SafetyFilterTests.ArmedFilter();
        var slow = SafetyFilterTests.ArmedFilter();
        var ask = ArmCommand.JointVelocities([0.25, 0.0], 0.5);
        var at10 = At(10 * Ms, ask);
        at10.ArmState.Positions[0] = 0.85;
        var at400 = At(400 * Ms, ask);
        at400.ArmState.Positions[0] = 0.85;
        fast.Filter(at10, out var fastResult);
        slow.Filter(at400, out var slowResult);
        Assert.Equal(0.25, fastResult.Allowed.Values[0], 12);
        Assert.Equal(ClipKinds.None, fastResult.Clipped);
        Assert.Equal(0.125, slowResult.Allowed.Values[0], 12);
        Assert.Equal(ClipKinds.JointPosition, slowResult.Clipped);
        Assert.True(0.85 + slowResult.Allowed.Values[0] * 0.4 <= 0.9 + 1e-12);
    }

    [Fact]
    public void AJointVelocityIsLimitedInRadiansPerSecondAtEveryPeriod()
    {
        // The velocity limit is a speed: no period lets a velocity command exceed it.
        foreach (var periodMs in new[] { 10, 40, 80 })
        {
            var filter = SafetyFilterTests.ArmedFilter(SafetyFilterTests.Options() is var o ? new SafetyFilterOptions
            {
                Arm = o.Arm, CyclePeriod = o.CyclePeriod, JointPositionMargin = o.JointPositionMargin, VelocityScale = o.VelocityScale,
                MaxFrameAge = o.MaxFrameAge,
            } : null);
            filter.Filter(At(periodMs * Ms, ArmCommand.JointVelocities([3.0, -3.0], 0.5)), out var result);
            Assert.Equal(1.0, result.Allowed.Values[0], 12);
            Assert.Equal(-0.5, result.Allowed.Values[1], 12);
        }
    }
}
