using Xunit.Abstractions;
using RobotRuntime.Arm;
using RobotRuntime.Sim.Tabletop;
using static RobotRuntime.SimServer.Tests.SimServerTestSupport;

namespace RobotRuntime.SimServer.Tests;

/// <summary>sim-server as an arm on the wire: description, commands, watchdog, faults.</summary>
public sealed class SimServerProtocolTests(ITestOutputHelper output)
{
    [Fact]
    public void DescriptionIsBuiltFromTheSimulatedArm()
    {
        using var host = SimServerHost.Start(Loopback() with { StateRateHz = 321, WatchdogMilliseconds = 77 });
        using var link = Connect(host.Endpoints);
        var description = link.Description!;
        Assert.Equal(host.Endpoints.Session, description.Session);
        Assert.Equal(4, description.JointCount);
        for (var j = 0; j < 4; j++)
        {
            Assert.Equal(ArmKinematics.JointLow[j], description.Joints[j].PositionMin);
            Assert.Equal(ArmKinematics.JointHigh[j], description.Joints[j].PositionMax);
        }
        Assert.Equal(new HashSet<ArmCommandMode> { ArmCommandMode.JointPosition, ArmCommandMode.EndEffectorDelta }, description.SupportedModes);
        Assert.Equal(321, description.StateRateHz);
        Assert.Equal(77, description.WatchdogMilliseconds);
        Assert.Equal(TabletopEnvironment.MaxEndEffectorStep, description.EndEffectorMaxTranslation);
        Assert.True(description.HasGripper); // the toy arm's two fingers: DESCRIPTION's gripper bit, decoded by the link
    }

    [Fact]
    public void JointPositionCommandMovesTheSimulatedJoint()
    {
        using var host = SimServerHost.Start(Loopback(watchdogMilliseconds: 5000));
        using var link = Connect(host.Endpoints);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        ArmState state = default;
        Assert.True(Eventually(() => link.TryGetLatestState(TimeSpan.MaxValue, out state, out _)));
        double[] target = [0.8, state.Positions[1], state.Positions[2], state.Positions[3]];
        Assert.Equal(ArmSendStatus.Sent, link.Send(ArmCommand.JointPositions(target, 0), out var sent));
        Assert.True(Eventually(() => link.TryGetLatestState(TimeSpan.MaxValue, out state, out _)
            && state.LastCommandSequence == sent.Sequence && Math.Abs(state.Positions[0] - 0.8) < 0.02), $"yaw stayed at {state.Positions[0]}");
        Assert.Equal(ArmCommandMode.JointPosition, state.ActiveMode);
        Assert.Equal(ArmHoldReason.None, state.HoldReason);
        // The end-effector pose follows the yaw: the tip lies in the arm's vertical plane at the measured yaw.
        Assert.Equal(state.Positions[0], Math.Atan2(state.EndEffectorY, state.EndEffectorX), 3);
    }

    [Fact]
    public void RuntimeThatStopsSendingLeavesTheArmHoldingWithTheWatchdogReported()
    {
        using var host = SimServerHost.Start(Loopback(watchdogMilliseconds: 100));
        using var link = Connect(host.Endpoints);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        uint last = 0;
        for (var i = 0; i < 10; i++)
        {
            link.Send(ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0.005, 0, 0, 0, 0, 0], 0), out var sent);
            last = sent.Sequence;
            Thread.Sleep(20);
        }
        ArmState state = default;
        Assert.True(Eventually(() => link.TryGetLatestState(TimeSpan.MaxValue, out state, out _) && state.LastCommandSequence == last));
        // The runtime goes quiet: the arm must hold by itself and say why.
        Assert.True(Eventually(() => link.TryGetLatestState(TimeSpan.MaxValue, out state, out _) && state.HoldReason == ArmHoldReason.Watchdog),
            $"hold reason stayed {state.HoldReason}");
        Assert.True(state.Status.HasFlag(ArmStatusFlags.Holding));
        Assert.True(state.Faults.HasFlag(ArmFaultFlags.Watchdog));
        // A hold is reported by hold_reason; active_mode stays the mode of the last applied command (PROTOCOL.md §3.3).
        Assert.Equal(ArmCommandMode.EndEffectorDelta, state.ActiveMode);
        var query = link.QueryFaults(ControlTimeout, out var report);
        Assert.True(query.Succeeded, query.Detail);
        // At least once: a pause of this thread of more than 100 ms between the ENABLE and the first command, or between
        // two of the commands above, trips the watchdog too, and the next command ends that hold.
        Assert.True(report!.WatchdogTrips >= 1, $"{report.WatchdogTrips} watchdog trips reported");
        Assert.Equal(ArmHoldReason.Watchdog, report.HoldReason);
        Assert.Equal(last, report.LastCommandSequence);

        // The next valid command ends the hold. It is sent again at every poll: a state without a hold lasts only until
        // the watchdog trips again 100 ms after the last command, so a poller that sent once and then paused for that
        // long would see only the next hold.
        var resume = ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0, 0, 0, 0, 0, 0], 0);
        var resumed = Eventually(() =>
        {
            link.Send(resume, out _);
            return link.TryGetLatestState(TimeSpan.MaxValue, out state, out _) && state.LastCommandSequence > last
                && state.HoldReason == ArmHoldReason.None;
        });
        Assert.True(resumed, $"the arm stayed in hold (last state: command {state.LastCommandSequence}, hold reason {state.HoldReason})");
    }

    [Fact]
    public void ARefusedClaimByAnotherControllerDoesNotLockTheHolderOut()
    {
        // The arm records the number of a refused CLAIM too (PROTOCOL.md §4), and control sequences are
        // shared by every controller with the key: the holder's next number may be taken. Its link reads
        // where the arm's sequence stands (HELLO) and sends again above it.
        using var host = SimServerHost.Start(Loopback(watchdogMilliseconds: 5000));
        using var holder = Connect(host.Endpoints);
        Assert.True(holder.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        for (var i = 0; i < 3; i++)
        {
            using var other = new RobotRuntime.Transport.Firmware.ZmqArmLink(host.Endpoints.LinkSettings);
            var refused = other.Handshake(ControlTimeout);
            Assert.Equal(ArmControlStatus.Refused, refused.Status);
            Assert.Contains("held by another controller", refused.Detail);
            var heartbeat = holder.Request(ArmControlRequest.Heartbeat, ControlTimeout);
            Assert.True(heartbeat.Succeeded, heartbeat.Detail);
        }
        Assert.True(holder.Request(ArmControlRequest.Disable, ControlTimeout).Succeeded);
    }

    [Fact]
    public void EstopBrakesAFullSpeedMoveAtOnceAndTheArmStaysPut()
    {
        using var host = SimServerHost.Start(Loopback(watchdogMilliseconds: 5000) with { StateRateHz = 500 });
        using var link = Connect(host.Endpoints);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        ArmState state = default;
        Assert.True(Eventually(() => link.TryGetLatestState(TimeSpan.MaxValue, out state, out _)));
        double[] far = [state.Positions[0] > 0 ? -1.5 : 1.5, state.Positions[1], state.Positions[2], state.Positions[3]];
        link.Send(ArmCommand.JointPositions(far, 0), out _);
        Assert.True(Eventually(() => link.TryGetLatestState(TimeSpan.MaxValue, out state, out _) && Math.Abs(state.Velocities[0]) > 1.0),
            $"yaw never sped up: {state.Velocities[0]} rad/s");

        Assert.True(link.Request(ArmControlRequest.EmergencyStop, ControlTimeout).Succeeded);
        // The first STATE that reports the e-stop was sampled after the arm acted on it.
        Assert.True(Eventually(() => link.TryGetLatestState(TimeSpan.MaxValue, out state, out _) && state.Status.HasFlag(ArmStatusFlags.EmergencyStop)));
        var first = state;
        var speeds = new List<double>();
        var stopAt = first.ArmTimeNanoseconds + 100_000_000;
        Assert.True(Eventually(() =>
        {
            if (link.TryGetLatestState(TimeSpan.MaxValue, out state, out _))
                speeds.Add(Math.Abs(state.Velocities[0]));
            return state.ArmTimeNanoseconds >= stopAt;
        }));
        // Bounds of PROTOCOL.md §5 (stopping): at rest (every speed ≤ 1 % of velocity_max = 0.03 rad/s)
        // within 50 ms of the reply, and no joint moves more than 0.01 rad after it. Before braking the
        // simulated arm was measured at 2.38 rad/s in its first e-stopped STATE and drifted 0.011 rad.
        for (var j = 0; j < 4; j++)
            Assert.True(Math.Abs(state.Positions[j] - first.Positions[j]) <= 0.01, $"joint {j} moved {state.Positions[j] - first.Positions[j]:0.0000} rad after the e-stop");
        Assert.True(Math.Abs(state.Velocities[0]) <= 0.03, $"yaw still at {state.Velocities[0]:0.000} rad/s 100 ms after the e-stop");
        Assert.True(Math.Abs(first.Velocities[0]) <= 0.3, $"first e-stopped state: yaw at {first.Velocities[0]:0.000} rad/s");
        Assert.Equal(ArmHoldReason.EmergencyStop, state.HoldReason);
        output.WriteLine($"yaw before the e-stop > 1 rad/s; first e-stopped STATE {first.Velocities[0]:0.0000} rad/s; " +
            $"after 100 ms {state.Velocities[0]:0.0000} rad/s, moved {state.Positions[0] - first.Positions[0]:0.00000} rad");
    }

    [Fact]
    public void WatchdogHoldBeginsWithinAMillisecondOfItsLimitOnTheArmsClock()
    {
        using var host = SimServerHost.Start(Loopback(watchdogMilliseconds: 60) with { StateRateHz = 1000 });
        using var link = Connect(host.Endpoints);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        link.Send(ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0, 0, 0, 0, 0, 0], 0), out var sent);
        ArmState state = default;
        // The arm's clock when it applied the command: its extra STATE right after applying.
        Assert.True(Eventually(() => link.TryGetLatestState(TimeSpan.MaxValue, out state, out _) && state.LastCommandSequence == sent.Sequence));
        var appliedAt = state.ArmTimeNanoseconds;
        ulong lastFree = appliedAt, firstHeld = 0;
        Assert.True(Eventually(() =>
        {
            if (link.TryGetLatestState(TimeSpan.MaxValue, out state, out _))
            {
                if (state.HoldReason == ArmHoldReason.None)
                    lastFree = Math.Max(lastFree, state.ArmTimeNanoseconds);
                else if (firstHeld == 0)
                    firstHeld = state.ArmTimeNanoseconds;
            }
            return firstHeld != 0;
        }));
        Assert.Equal(ArmHoldReason.Watchdog, state.HoldReason);
        // No STATE sampled more than 60 ms + 1 ms after the command (arm's clock; the command arrived
        // just before its STATE) may still say "free": the hold begins by then (PROTOCOL.md §5, bounds).
        Assert.True(lastFree <= appliedAt + 61_000_000, $"still free {(lastFree - appliedAt) * 1e-6:0.000} ms after the command");
        // (The STATE first seen with the command's sequence may be a later one than the arm's extra STATE
        // on applying it — latest-only delivery — so appliedAt bounds the arrival from above only; the
        // exact "not before the limit" is pinned on a fake clock in ArmFirmwareTests.)
    }

    [Fact]
    public void FullSpeedMoveAcrossTheYawRangeDoesNotFaultTheArm()
    {
        using var host = SimServerHost.Start(Loopback(watchdogMilliseconds: 5000));
        using var link = Connect(host.Endpoints);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        var peak = 0.0;
        ArmState state = default;
        foreach (var yaw in new[] { 1.55, -1.55 })
        {
            link.Send(ArmCommand.JointPositions([yaw, 0.9, 1.2, 1.0], 0), out _);
            Assert.True(Eventually(() =>
            {
                link.WaitForState(TimeSpan.FromMilliseconds(50));
                if (!link.TryGetLatestState(TimeSpan.MaxValue, out state, out _))
                    return false;
                for (var j = 0; j < 4; j++)
                    peak = Math.Max(peak, Math.Abs(state.Efforts[j]));
                return Math.Abs(state.Positions[0] - yaw) < 0.02 || state.HoldReason == ArmHoldReason.Fault;
            }), $"yaw stayed at {state.Positions[0]}");
        }
        Assert.False(state.Faults.HasFlag(ArmFaultFlags.OverEffort), $"peak effort {peak:0.0} N·m faulted the arm");
        Assert.True(peak < link.Description!.Joints[0].EffortMax, $"peak effort {peak:0.0} N·m");
    }

    [Fact]
    public void DrivingTheHandIntoTheTableFaultsTheArmUntilReset()
    {
        using var host = SimServerHost.Start(Loopback(watchdogMilliseconds: 5000));
        using var link = Connect(host.Endpoints);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        // Shoulder fully forward, elbow straight: the hand goes through the table top, which stops it.
        link.Send(ArmCommand.JointPositions([0, 2.2, 0, 0], 0), out _);
        ArmState state = default;
        Assert.True(Eventually(() => link.TryGetLatestState(TimeSpan.MaxValue, out state, out _) && state.HoldReason == ArmHoldReason.Fault),
            $"no fault; hold reason {state.HoldReason}, efforts {state.Efforts[0]:0.0}, {state.Efforts[1]:0.0}, {state.Efforts[2]:0.0}, {state.Efforts[3]:0.0}");
        Assert.True(state.Faults.HasFlag(ArmFaultFlags.OverEffort));
        Assert.True(state.Status.HasFlag(ArmStatusFlags.Fault));
        Assert.Equal(ArmControlStatus.Refused, link.Request(ArmControlRequest.Enable, ControlTimeout).Status);
        Assert.True(link.Request(ArmControlRequest.Reset, ControlTimeout).Succeeded);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
    }

    [Fact]
    public void ResetStartsTheNextSeededEpisodeWithANewGoal()
    {
        var log = new StringWriter();
        using var host = SimServerHost.Start(Loopback(watchdogMilliseconds: 5000) with { Seed = 7 }, TextWriter.Synchronized(log));
        using var link = Connect(host.Endpoints);
        var first = host.Server.Snapshot.Goal;
        Assert.True(link.Request(ArmControlRequest.Reset, ControlTimeout).Succeeded);
        var second = host.Server.Snapshot.Goal;
        Assert.NotEqual(first, second);
        Assert.True(Eventually(() => log.ToString().Contains("episode: 1, task reach, seed 8,")), log.ToString());
        // Episode k uses seed + k: a server started with seed 8 has episode 1's goal as its first.
        using var other = SimServerHost.Start(Loopback() with { Seed = 8 });
        Assert.Equal(second, other.Server.Snapshot.Goal);
        // The arm is disabled after RESET and comes back with ENABLE.
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
    }

    [Fact]
    public void CommandsWhileDisabledAreRejectedAndCounted()
    {
        using var host = SimServerHost.Start(Loopback(watchdogMilliseconds: 5000));
        using var link = Connect(host.Endpoints);
        link.Send(ArmCommand.JointPositions([0.3, 0.5, 0.5, 0.5], 0), out _);
        Assert.True(Eventually(() => link.QueryFaults(ControlTimeout, out var r).Succeeded && r!.RejectedFor(Transport.Firmware.FrameStatus.NotEnabled) == 1));
        Assert.True(link.TryGetLatestState(TimeSpan.MaxValue, out var state, out _));
        Assert.Equal(0u, state.LastCommandSequence);
        Assert.Equal(ArmHoldReason.Disabled, state.HoldReason);
    }

    [Fact]
    public void UnknownTaskShiftOrNegativeDelayIsRefusedNamingWhatIsValid()
    {
        var task = Assert.Throws<ArgumentException>(() => (Loopback() with { Task = "stack" }).Validate());
        Assert.Contains("'stack'", task.Message);
        Assert.Contains("reach, push, peek", task.Message);
        var shift = Assert.Throws<ArgumentException>(() => (Loopback() with { Shift = "fog" }).Validate());
        Assert.Contains("in-distribution", shift.Message);
        var delay = Assert.Throws<ArgumentException>(() => RobotRuntime.Timing.SettingText.ParseDuration("--delay", "-5ms"));
        Assert.Contains("--delay", delay.Message);
        Assert.Equal(TimeSpan.FromMilliseconds(15), RobotRuntime.Timing.SettingText.ParseDuration("--delay", "15ms"));
        Assert.Equal(TimeSpan.FromMilliseconds(2.5), RobotRuntime.Timing.SettingText.ParseDuration("--jitter", "2500us"));
        var endpoint = Assert.Throws<ArgumentException>(() => (Loopback() with { CommandEndpoint = "localhost:5602" }).Validate());
        Assert.Contains("--command", endpoint.Message);
        var drop = Assert.Throws<ArgumentException>(() => (Loopback() with { FrameDropProbability = 1.5 }).Validate());
        Assert.Contains("--frame-drop", drop.Message);
    }

    [Fact]
    public void EndpointAlreadyInUseIsReportedWithTheOptionName()
    {
        using var first = SimServerHost.Start(Loopback());
        var error = Assert.Throws<ArgumentException>(() => SimServerHost.Start(Loopback() with { ControlEndpoint = first.Endpoints.Control }));
        Assert.Contains("--control", error.Message);
        Assert.Contains(first.Endpoints.Control, error.Message);
    }
}
