using RobotRuntime.Arm;
using RobotRuntime.Safety;
using RobotRuntime.Testing;

namespace RobotRuntime.Core.Tests.Safety;

public class SafetyFilterTests
{
    internal const long Ms = 1_000_000;
    internal const long Now = 1_000 * Ms;

    internal static ArmDescription TwoJointArm() => new(
        Session: 7, ProtocolVersion: 1,
        Joints: [new JointLimits(-1.0, 1.0, 2.0, 10), new JointLimits(-2.0, 2.0, 1.0, 10)],
        SupportedModes: new HashSet<ArmCommandMode> { ArmCommandMode.JointPosition, ArmCommandMode.JointVelocity, ArmCommandMode.EndEffectorDelta },
        StateRateHz: 100, WatchdogMilliseconds: 200,
        EndEffectorMaxTranslation: 0.05, EndEffectorMaxRotation: 0.2);

    internal static SafetyFilterOptions Options(Func<SafetyFilterOptions, SafetyFilterOptions>? change = null) => new()
    {
        Arm = TwoJointArm(),
        CyclePeriod = TimeSpan.FromMilliseconds(10),
        JointPositionMargin = 0.1,
        VelocityScale = 0.5,
        MaxJointPositionChangePerCycle = 0.5,
        MaxJointVelocityChangePerCycle = 0.25,
        Workspace = new WorkspaceBox(-0.5, -0.5, 0.0, 0.5, 0.5, 1.0),
        WorkspaceMargin = 0.05,
        CommandExpiry = TimeSpan.FromMilliseconds(50),
        MaxArmStateAge = TimeSpan.FromMilliseconds(50),
        MaxFrameAge = TimeSpan.FromMilliseconds(80),
        MaxConsecutiveDeadlineMisses = 3,
    };

    /// <summary>A healthy cycle: link up, fresh state at the origin, fresh frame, fresh command.</summary>
    internal static SafetyInput Healthy(ArmCommand command)
    {
        var input = new SafetyInput
        {
            Requested = command,
            CommandTimestampNs = Now - 2 * Ms,
            NowNs = Now,
            LinkStatus = ArmLinkStatus.Up,
            HasArmState = true,
            ArmStateAgeNs = 3 * Ms,
            FrameAgeNs = 20 * Ms,
            ConsecutiveDeadlineMisses = 0,
        };
        input.ArmState.Session = 7;
        input.ArmState.Status = ArmStatusFlags.Enabled;
        input.ArmState.JointCount = 2;
        input.ArmState.Positions[0] = 0.2;
        input.ArmState.Positions[1] = -0.3;
        input.ArmState.EndEffectorX = 0.1;
        input.ArmState.EndEffectorY = 0.0;
        input.ArmState.EndEffectorZ = 0.5;
        input.ArmState.GripperPosition = 0.25;
        return input;
    }

    internal static ArmCommand Positions(double a, double b, double gripper = 0.5) => ArmCommand.JointPositions([a, b], gripper);

    internal static SafetyFilter ArmedFilter(SafetyFilterOptions? options = null)
    {
        var filter = new SafetyFilter(options ?? Options());
        Assert.True(filter.Reset().Succeeded);
        return filter;
    }

    [Fact]
    public void FilterStartsHeldUntilTheFirstReset()
    {
        var filter = new SafetyFilter(Options());
        Assert.Equal(SafetyStatus.Hold, filter.Filter(Healthy(Positions(0.2, -0.3)), out var result));
        Assert.Equal(HoldReason.NotArmed, result.Reason);
        Assert.True(filter.Reset().Succeeded);
        Assert.Equal(SafetyStatus.Pass, filter.Filter(Healthy(Positions(0.2, -0.3)), out _));
    }

    [Fact]
    public void CommandWithinEveryLimitPassesUnchanged()
    {
        var filter = ArmedFilter();
        Assert.Equal(SafetyStatus.Pass, filter.Filter(Healthy(Positions(0.205, -0.302, 0.7)), out var result));
        Assert.Equal(ClipKinds.None, result.Clipped);
        Assert.Equal(0.205, result.Allowed.Values[0]);
        Assert.Equal(-0.302, result.Allowed.Values[1]);
        Assert.Equal(0.7, result.Allowed.GripperTarget);
        Assert.Equal(string.Empty, result.ReasonText);
    }

    [Fact]
    public void JointPositionBeyondTheLimitIsClippedToTheLimitLessTheMarginAndReported()
    {
        var filter = ArmedFilter();
        var input = Healthy(Positions(5.0, -0.3));
        input.ArmState.Positions[0] = 0.895;
        Assert.Equal(SafetyStatus.Clipped, filter.Filter(input, out var result));
        Assert.True(result.Clipped.HasFlag(ClipKinds.JointPosition));
        Assert.Equal(5.0, result.Requested.Values[0]);
        Assert.Equal(0.9, result.Allowed.Values[0], 12);
    }

    [Fact]
    public void JointPositionStepIsLimitedByTheScaledVelocityTimesThePeriod()
    {
        var filter = ArmedFilter();
        // Joint 0: 2 rad/s × 0.5 × 10 ms = 0.01 rad per cycle from the measured 0.2.
        Assert.Equal(SafetyStatus.Clipped, filter.Filter(Healthy(Positions(0.6, -0.3)), out var result));
        Assert.Equal(ClipKinds.ChangePerCycle, result.Clipped);
        Assert.Equal(0.21, result.Allowed.Values[0], 12);
        Assert.Equal(-0.3, result.Allowed.Values[1], 12);
    }

    [Fact]
    public void JointVelocityIsClippedToTheScaledLimitAndItsChangePerCycle()
    {
        var filter = ArmedFilter(Options() is var o ? new SafetyFilterOptions
        {
            Arm = o.Arm, CyclePeriod = o.CyclePeriod, JointPositionMargin = o.JointPositionMargin, VelocityScale = 0.5,
            MaxJointVelocityChangePerCycle = 0.25, MaxFrameAge = o.MaxFrameAge,
        } : null);
        var command = ArmCommand.JointVelocities([3.0, -0.1], 0.5);
        Assert.Equal(SafetyStatus.Clipped, filter.Filter(Healthy(command), out var first));
        Assert.Equal(ClipKinds.JointVelocity | ClipKinds.ChangePerCycle, first.Clipped);
        Assert.Equal(0.25, first.Allowed.Values[0], 12);
        Assert.Equal(-0.1, first.Allowed.Values[1], 12);
        filter.Filter(Healthy(command), out var second);
        Assert.Equal(0.5, second.Allowed.Values[0], 12);
        filter.Filter(Healthy(command), out var third);
        filter.Filter(Healthy(command), out var fourth);
        Assert.Equal(0.75, third.Allowed.Values[0], 12);
        Assert.Equal(1.0, fourth.Allowed.Values[0], 12);
        filter.Filter(Healthy(command), out var fifth);
        Assert.Equal(1.0, fifth.Allowed.Values[0], 12);
        Assert.Equal(ClipKinds.JointVelocity, fifth.Clipped);
    }

    [Fact]
    public void JointVelocityThatWouldCarryAJointPastItsLimitIsSlowedToStopAtIt()
    {
        var filter = ArmedFilter();
        var input = Healthy(ArmCommand.JointVelocities([0.2, 0.0], 0.5));
        input.ArmState.Positions[0] = 0.899;
        Assert.Equal(SafetyStatus.Clipped, filter.Filter(input, out var result));
        Assert.True(result.Clipped.HasFlag(ClipKinds.JointPosition));
        Assert.Equal(0.1, result.Allowed.Values[0], 9);

        input.ArmState.Positions[0] = 0.95;
        filter.Filter(input, out var beyond);
        Assert.Equal(0.0, beyond.Allowed.Values[0]);
    }

    [Fact]
    public void EndEffectorDeltaIsClippedToTheWorkspaceBoxAndTheStepLimit()
    {
        var filter = ArmedFilter();
        var input = Healthy(ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0.0, 0.0, 0.04, 0.0, 0.0, 1.0], 0.5));
        input.ArmState.EndEffectorZ = 0.93;
        Assert.Equal(SafetyStatus.Clipped, filter.Filter(input, out var result));
        Assert.Equal(ClipKinds.Workspace | ClipKinds.EndEffectorStep, result.Clipped);
        Assert.Equal(0.02, result.Allowed.Values[2], 12);
        Assert.Equal(0.2, result.Allowed.Values[5], 12);
        Assert.Equal(0.04, result.Requested.Values[2]);

        var far = Healthy(ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0.3, 0.4, 0.0, 0.0, 0.0, 0.0], 0.5));
        filter.Filter(far, out var shortened);
        Assert.Equal(ClipKinds.EndEffectorStep, shortened.Clipped);
        Assert.Equal(0.03, shortened.Allowed.Values[0], 12);
        Assert.Equal(0.04, shortened.Allowed.Values[1], 12);
    }

    [Fact]
    public void GripperTargetOutsideZeroToOneIsClipped()
    {
        var filter = ArmedFilter();
        Assert.Equal(SafetyStatus.Clipped, filter.Filter(Healthy(Positions(0.2, -0.3, 1.5)), out var result));
        Assert.Equal(ClipKinds.Gripper, result.Clipped);
        Assert.Equal(1.0, result.Allowed.GripperTarget);
    }

    [Fact]
    public void NanActionHoldsWithItsReasonAndStaysLatchedUntilReset()
    {
        var filter = ArmedFilter();
        Assert.Equal(SafetyStatus.Hold, filter.Filter(Healthy(Positions(double.NaN, 0)), out var result));
        Assert.Equal(HoldReason.NonFiniteCommand, result.Reason);
        Assert.True(result.HoldStarted);
        Assert.Contains("NaN", result.ReasonText);

        Assert.Equal(SafetyStatus.Hold, filter.Filter(Healthy(Positions(0.2, -0.3)), out var next));
        Assert.Equal(HoldReason.NonFiniteCommand, next.Reason);
        Assert.False(next.HoldStarted);

        var reset = filter.Reset();
        Assert.True(reset.Succeeded, reset.Message);
        Assert.Equal(SafetyStatus.Pass, filter.Filter(Healthy(Positions(0.2, -0.3)), out _));
    }

    [Fact]
    public void InfiniteGripperTargetHolds()
    {
        var filter = ArmedFilter();
        filter.Filter(Healthy(Positions(0.2, -0.3, double.PositiveInfinity)), out var result);
        Assert.Equal(HoldReason.NonFiniteCommand, result.Reason);
    }

    [Fact]
    public void HoldCommandKeepsTheMeasuredPositions()
    {
        var filter = ArmedFilter();
        filter.Filter(Healthy(Positions(double.NaN, 0)), out var result);
        Assert.Equal(ArmCommandMode.JointPosition, result.Allowed.Mode);
        Assert.Equal(2, result.Allowed.ValueCount);
        Assert.Equal(0.2, result.Allowed.Values[0]);
        Assert.Equal(-0.3, result.Allowed.Values[1]);
        Assert.Equal(0.25, result.Allowed.GripperTarget);
    }

    [Fact]
    public void ExpiredCommandHolds()
    {
        var filter = ArmedFilter();
        var input = Healthy(Positions(0.2, -0.3));
        input.CommandTimestampNs = Now - 51 * Ms;
        filter.Filter(input, out var result);
        Assert.Equal(HoldReason.CommandExpired, result.Reason);
    }

    [Fact]
    public void ArmLinkLossHoldsSendsNothingAndResetIsRefusedUntilTheLinkIsBack()
    {
        var filter = ArmedFilter();
        var input = Healthy(Positions(0.2, -0.3));
        input.LinkStatus = ArmLinkStatus.Lost;
        filter.Filter(input, out var result);
        Assert.Equal(HoldReason.ArmLinkLost, result.Reason);
        Assert.Equal(ArmCommandMode.None, result.Allowed.Mode);

        var refused = filter.Reset();
        Assert.False(refused.Succeeded);
        Assert.Equal(HoldReason.ArmLinkLost, refused.PersistingCause);
        Assert.Contains("link", refused.Message);

        filter.Filter(Healthy(Positions(0.2, -0.3)), out _);
        Assert.True(filter.Reset().Succeeded);
    }

    [Fact]
    public void StaleArmStateHolds()
    {
        var filter = ArmedFilter();
        var input = Healthy(Positions(0.2, -0.3));
        input.ArmStateAgeNs = 51 * Ms;
        filter.Filter(input, out var result);
        Assert.Equal(HoldReason.StaleArmState, result.Reason);
    }

    [Fact]
    public void StaleCameraFrameHoldsAndResetIsRefusedWhileFramesStayStale()
    {
        var filter = ArmedFilter();
        var input = Healthy(Positions(0.2, -0.3));
        input.FrameAgeNs = 81 * Ms;
        filter.Filter(input, out var result);
        Assert.Equal(HoldReason.StaleCameraFrame, result.Reason);
        Assert.Equal(HoldReason.StaleCameraFrame, filter.Reset().PersistingCause);

        input.FrameAgeNs = long.MaxValue;
        filter.Filter(input, out _);
        Assert.False(filter.Reset().Succeeded);

        filter.Filter(Healthy(Positions(0.2, -0.3)), out _);
        Assert.True(filter.Reset().Succeeded);
    }

    [Fact]
    public void FrameAgeIsNotCheckedWhenThePolicyUsesNoCameras()
    {
        var o = Options();
        var filter = ArmedFilter(new SafetyFilterOptions { Arm = o.Arm, CyclePeriod = o.CyclePeriod, MaxFrameAge = null });
        var input = Healthy(Positions(0.2, -0.3));
        input.FrameAgeNs = long.MaxValue;
        Assert.Equal(SafetyStatus.Pass, filter.Filter(input, out _));
    }

    [Fact]
    public void KConsecutiveDeadlineMissesHoldButFewerDoNot()
    {
        var filter = ArmedFilter();
        var input = Healthy(Positions(0.2, -0.3));
        input.ConsecutiveDeadlineMisses = 2;
        Assert.Equal(SafetyStatus.Pass, filter.Filter(input, out _));
        input.ConsecutiveDeadlineMisses = 3;
        filter.Filter(input, out var result);
        Assert.Equal(HoldReason.DeadlineMisses, result.Reason);
        Assert.Equal(HoldReason.DeadlineMisses, filter.Reset().PersistingCause);
        input.ConsecutiveDeadlineMisses = 0;
        filter.Filter(input, out _);
        Assert.True(filter.Reset().Succeeded);
    }

    [Fact]
    public void UnsupportedModeOrWrongValueCountHolds()
    {
        var o = Options();
        var positionOnly = o.Arm with { SupportedModes = new HashSet<ArmCommandMode> { ArmCommandMode.JointPosition } };
        var filter = ArmedFilter(new SafetyFilterOptions { Arm = positionOnly, CyclePeriod = o.CyclePeriod });
        filter.Filter(Healthy(ArmCommand.JointVelocities([0.1, 0.1], 0)), out var mode);
        Assert.Equal(HoldReason.InvalidCommand, mode.Reason);
        Assert.Contains("mode", mode.ReasonText);

        filter.Filter(Healthy(Positions(0.2, -0.3)), out _);
        Assert.True(filter.Reset().Succeeded);
        filter.Filter(Healthy(ArmCommand.JointPositions([0.1, 0.1, 0.1], 0)), out var count);
        Assert.Equal(HoldReason.InvalidCommand, count.Reason);
        Assert.Contains("count", count.ReasonText);
    }

    [Fact]
    public void EndEffectorOutsideTheWorkspaceHoldsAndResetIsRefusedUntilItIsBack()
    {
        var filter = ArmedFilter();
        var input = Healthy(Positions(0.2, -0.3));
        input.ArmState.EndEffectorX = 0.7;
        filter.Filter(input, out var result);
        Assert.Equal(HoldReason.OutsideWorkspace, result.Reason);
        Assert.Equal(HoldReason.OutsideWorkspace, filter.Reset().PersistingCause);
    }

    [Fact]
    public void EmergencyStopFromAnotherThreadHoldsWithItsTextUntilReset()
    {
        var filter = ArmedFilter();
        var thread = new Thread(() => filter.EmergencyStop(EmergencyStopSource.Operator, "operator pressed space"));
        thread.Start();
        thread.Join();
        filter.Filter(Healthy(Positions(0.2, -0.3)), out var result);
        Assert.Equal(HoldReason.EmergencyStop, result.Reason);
        Assert.Equal("operator pressed space", result.ReasonText);
        filter.Filter(Healthy(Positions(0.2, -0.3)), out var still);
        Assert.Equal(SafetyStatus.Hold, still.Status);
        Assert.True(filter.Reset().Succeeded);
        Assert.Equal(SafetyStatus.Pass, filter.Filter(Healthy(Positions(0.2, -0.3)), out _));
    }

    [Fact]
    public void AssertedEmergencyStopInputRefusesResetUntilReleased()
    {
        var filter = ArmedFilter();
        filter.SetEmergencyStopInput(EmergencyStopSource.ControlChannel, true, "remote stop");
        filter.Filter(Healthy(Positions(0.2, -0.3)), out var result);
        Assert.Equal(HoldReason.EmergencyStop, result.Reason);
        var refused = filter.Reset();
        Assert.False(refused.Succeeded);
        Assert.Contains("ControlChannel", refused.Message);
        filter.SetEmergencyStopInput(EmergencyStopSource.ControlChannel, false, "remote release");
        Assert.True(filter.Reset().Succeeded);
        Assert.Equal(SafetyStatus.Pass, filter.Filter(Healthy(Positions(0.2, -0.3)), out _));
    }

    [Fact]
    public void FirstCauseIsKeptWhileLaterCausesArrive()
    {
        var filter = ArmedFilter();
        filter.Filter(Healthy(Positions(double.NaN, 0)), out _);
        filter.EmergencyStop(EmergencyStopSource.Operator, "stop");
        filter.Filter(Healthy(Positions(0.2, -0.3)), out var result);
        Assert.Equal(HoldReason.NonFiniteCommand, result.Reason);
    }

    [Fact]
    public void FilterAllocatesNothingOnAnyPath()
    {
        var filter = ArmedFilter();
        var pass = Healthy(Positions(0.2, -0.3));
        var clip = Healthy(Positions(5.0, -0.3));
        var velocity = Healthy(ArmCommand.JointVelocities([3.0, -3.0], 2.0));
        var endEffector = Healthy(ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0.3, 0.4, 0.5, 1, 1, 1], 0.5));
        var nan = Healthy(Positions(double.NaN, 0));
        var stale = Healthy(Positions(0.2, -0.3));
        stale.FrameAgeNs = long.MaxValue;

        void RunAll()
        {
            filter.Filter(pass, out _);
            filter.Filter(clip, out _);
            filter.Filter(velocity, out _);
            filter.Filter(endEffector, out _);
            filter.Filter(nan, out _);
            filter.EmergencyStop(EmergencyStopSource.Operator, "stop");
            filter.SetEmergencyStopInput(EmergencyStopSource.Hardware, true, "line low");
            filter.Filter(stale, out _);
            filter.SetEmergencyStopInput(EmergencyStopSource.Hardware, false, "line high");
        }

        RunAll();
        filter.Filter(pass, out _);
        filter.Reset();
        long allocated = ThreadAllocations.During(() =>
        {
            for (int i = 0; i < 200; i++)
            {
                filter.Filter(pass, out _);
                filter.Filter(clip, out _);
                filter.Filter(velocity, out _);
                filter.Filter(endEffector, out _);
                filter.Filter(nan, out _);
                filter.Filter(stale, out _);
                filter.EmergencyStop(EmergencyStopSource.Operator, "stop");
                filter.Filter(pass, out _);
            }
        });
        Assert.Equal(0, allocated);
        Assert.True(filter.IsHolding);
    }

    [Theory]
    [InlineData("CyclePeriod")]
    [InlineData("VelocityScale")]
    [InlineData("JointPositionMargin")]
    [InlineData("MaxConsecutiveDeadlineMisses")]
    [InlineData("Workspace")]
    public void BadOptionThrowsNamingTheOption(string option)
    {
        var o = Options();
        var bad = option switch
        {
            "CyclePeriod" => new SafetyFilterOptions { Arm = o.Arm, CyclePeriod = TimeSpan.Zero },
            "VelocityScale" => new SafetyFilterOptions { Arm = o.Arm, CyclePeriod = o.CyclePeriod, VelocityScale = 1.5 },
            "JointPositionMargin" => new SafetyFilterOptions { Arm = o.Arm, CyclePeriod = o.CyclePeriod, JointPositionMargin = 1.0 },
            "MaxConsecutiveDeadlineMisses" => new SafetyFilterOptions { Arm = o.Arm, CyclePeriod = o.CyclePeriod, MaxConsecutiveDeadlineMisses = 0 },
            _ => new SafetyFilterOptions { Arm = o.Arm, CyclePeriod = o.CyclePeriod, Workspace = new WorkspaceBox(1, 0, 0, 0, 1, 1) },
        };
        var error = Assert.Throws<ArgumentException>(() => new SafetyFilter(bad));
        Assert.Contains(option, error.Message);
    }
}

public class SafetyFilterRaceTests
{
    [Fact]
    public void EmergencyStopPressedBeforeTheFirstCycleRefusesTheArmingReset()
    {
        var filter = new SafetyFilter(SafetyFilterTests.Options());
        filter.EmergencyStop(EmergencyStopSource.Operator, "pressed before start");
        var refused = filter.Reset();
        Assert.False(refused.Succeeded);
        Assert.Equal(HoldReason.EmergencyStop, refused.PersistingCause);
    }

    [Fact]
    public void EmergencyStopArrivingBetweenACycleAndAResetIsNotLost()
    {
        var filter = SafetyFilterTests.ArmedFilter();
        filter.Filter(SafetyFilterTests.Healthy(SafetyFilterTests.Positions(double.NaN, 0)), out _);
        filter.EmergencyStop(EmergencyStopSource.ControlChannel, "remote stop");
        Assert.False(filter.Reset().Succeeded);
        filter.Filter(SafetyFilterTests.Healthy(SafetyFilterTests.Positions(0.2, -0.3)), out _);
        Assert.True(filter.Reset().Succeeded);
        filter.Filter(SafetyFilterTests.Healthy(SafetyFilterTests.Positions(0.2, -0.3)), out var result);
        Assert.Equal(SafetyStatus.Pass, result.Status);
    }

    [Fact]
    public void JointFoundBeyondItsLimitIsBroughtBackAtMostOneStepPerCycle()
    {
        var filter = SafetyFilterTests.ArmedFilter();
        var input = SafetyFilterTests.Healthy(SafetyFilterTests.Positions(0.0, -0.3));
        input.ArmState.Positions[0] = 0.95; // beyond 1.0 − 0.1 margin
        filter.Filter(input, out var result);
        Assert.Equal(0.94, result.Allowed.Values[0], 12);
        Assert.True(result.Clipped.HasFlag(ClipKinds.ChangePerCycle));
    }
}
