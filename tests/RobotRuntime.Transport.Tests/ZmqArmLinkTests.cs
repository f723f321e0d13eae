using RobotRuntime.Arm;
using RobotRuntime.Testing;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.Transport.Tests;

/// <summary>The C# link against the reference arm endpoint (a separate C process) over ipc.</summary>
public sealed class ZmqArmLinkTests
{
    private static readonly TimeSpan ControlTimeout = TimeSpan.FromSeconds(5);

    internal static ZmqArmLink ConnectedLink(ZmqArmLinkSettings settings)
    {
        var link = new ZmqArmLink(settings);
        Assert.True(Eventually.True(() => link.Health.Status == ArmLinkStatus.Up), "no state arrived from the endpoint");
        var handshake = link.Handshake(ControlTimeout);
        Assert.True(handshake.Succeeded, handshake.Detail);
        return link;
    }

    internal static ArmState WaitForState(ZmqArmLink link, Func<ArmState, bool> condition, string what)
    {
        ArmState state = default;
        Assert.True(Eventually.True(() => link.TryGetLatestState(TimeSpan.MaxValue, out state, out _) && condition(state)), what);
        return state;
    }

    [Fact]
    public void HandshakeReadsTheEndpointsDescription()
    {
        using var endpoint = new ArmEndpointProcess(IpcPrefix.Create(), watchdogMilliseconds: 150, joints: 4);
        using var link = ConnectedLink(endpoint.LinkSettings);
        var description = link.Description!;
        Assert.Equal(4, description.JointCount);
        Assert.Equal(150, description.WatchdogMilliseconds);
        Assert.Equal(2, description.ProtocolVersion);
        Assert.Contains(ArmCommandMode.JointPosition, description.SupportedModes);
        Assert.Equal(link.Health.ArmSession, description.Session);
        Assert.Contains($"session={description.Session:X8}", endpoint.ReadyLine);
    }

    [Fact]
    public void CommandIsAppliedAndReportedBackInTheState()
    {
        using var endpoint = new ArmEndpointProcess(IpcPrefix.Create(), watchdogMilliseconds: 2000);
        using var link = ConnectedLink(endpoint.LinkSettings);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);

        var target = ArmCommand.JointPositions([0.5, -0.25, 0.125, 0, 0, 0.25], 0.5);
        Assert.Equal(ArmSendStatus.Sent, link.Send(target, out var sent));
        Assert.NotEqual(0u, sent.Sequence);
        var state = WaitForState(link, s => s.LastCommandSequence == sent.Sequence, "the arm never reported the command as applied");
        Assert.Equal(ArmCommandMode.JointPosition, state.ActiveMode);
        Assert.True(state.Status.HasFlag(ArmStatusFlags.Enabled));

        // Keep sending (inside the watchdog) until the joint model reaches the target.
        Assert.True(Eventually.True(() =>
        {
            link.Send(target, out _);
            return link.TryGetLatestState(TimeSpan.MaxValue, out var s, out _) && Math.Abs(s.Positions[0] - 0.5) < 1e-9
                && Math.Abs(s.Positions[1] + 0.25) < 1e-9;
        }), "the joints did not reach the commanded positions");
    }

    [Fact]
    public void NonFiniteOrWronglySizedCommandsAreNotSent()
    {
        using var endpoint = new ArmEndpointProcess(IpcPrefix.Create(), watchdogMilliseconds: 2000);
        using var link = ConnectedLink(endpoint.LinkSettings);
        var before = link.Health.CommandsSent;
        Assert.Equal(ArmSendStatus.InvalidCommand, link.Send(ArmCommand.JointPositions([double.NaN, 0, 0, 0, 0, 0], 0), out var sent));
        Assert.Equal(0u, sent.Sequence);
        Assert.Equal(ArmSendStatus.InvalidCommand, link.Send(ArmCommand.JointPositions([0, 0, 0], 0), out _));
        Assert.Equal(ArmSendStatus.InvalidCommand,
            link.Send(ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0, 0, 0.01, 0, 0, 0], 0), out _));
        Assert.Equal(before, link.Health.CommandsSent);
    }

    [Fact]
    public void LinkWithNoArmReportsConnectingAndSendsNothing()
    {
        using var link = new ZmqArmLink(ZmqArmLinkSettings.Ipc(IpcPrefix.Create()));
        Assert.Equal(ArmLinkStatus.Connecting, link.Health.Status);
        Assert.False(link.TryGetLatestState(TimeSpan.MaxValue, out _, out var age));
        Assert.Equal(TimeSpan.MaxValue, age);
        Assert.Equal(ArmSendStatus.LinkDown, link.Send(ArmCommand.JointPositions([0, 0, 0, 0, 0, 0], 0), out _));
        Assert.Equal(0, link.Health.CommandsSent);
    }

    [Fact]
    public void LostControlReplyTimesOutAndTheNextRequestSucceedsOnAFreshSocket()
    {
        var prefix = IpcPrefix.Create();
        var secret = System.Security.Cryptography.RandomNumberGenerator.GetBytes(FirmwareCodec.KeySize);
        using var link = new ZmqArmLink(ZmqArmLinkSettings.Ipc(prefix) with { Secret = secret });
        // Nobody answers: the request must come back timed out, not hang.
        var first = link.Handshake(TimeSpan.FromMilliseconds(100));
        Assert.Equal(ArmControlStatus.TimedOut, first.Status);
        Assert.Contains("-control", first.Detail);
        Assert.Equal(1, link.ControlResets);

        using var endpoint = new ArmEndpointProcess(prefix, secret: secret);
        var second = link.Handshake(ControlTimeout);
        Assert.True(second.Succeeded, second.Detail);
        Assert.NotNull(link.Description);
    }

    [Fact]
    public void CommandsWhileDisabledAreRejectedByTheArmAndNeverApplied()
    {
        using var endpoint = new ArmEndpointProcess(IpcPrefix.Create(), watchdogMilliseconds: 2000);
        using var link = ConnectedLink(endpoint.LinkSettings);
        FaultReport? report = null;
        Assert.True(Eventually.True(() =>
        {
            link.Send(ArmCommand.JointPositions([0.5, 0, 0, 0, 0, 0], 0), out _);
            return link.QueryFaults(ControlTimeout, out report).Succeeded && report!.RejectedFor(FrameStatus.NotEnabled) > 0;
        }), "the arm never counted a command sent while disabled");
        Assert.Equal(0u, report!.CommandsApplied);
        Assert.True(Eventually.True(() => endpoint.Logged("not_enabled")), "the endpoint did not log the rejection");
    }

    [Fact]
    public void WatchdogHoldsTheArmWhenTheRuntimeStopsSending()
    {
        using var endpoint = new ArmEndpointProcess(IpcPrefix.Create(), watchdogMilliseconds: 100);
        using var link = ConnectedLink(endpoint.LinkSettings);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        var velocity = ArmCommand.JointVelocities([0.2, 0, 0, 0, 0, 0], 0);
        Assert.Equal(ArmSendStatus.Sent, link.Send(velocity, out var sent));
        WaitForState(link, s => s.LastCommandSequence == sent.Sequence, "the velocity command was not applied");

        // The runtime goes quiet: the arm must hold on its own and say why.
        var held = WaitForState(link, s => s.HoldReason == ArmHoldReason.Watchdog, "the arm did not hold after commands stopped");
        Assert.True(held.Status.HasFlag(ArmStatusFlags.Holding));
        Assert.True(held.Faults.HasFlag(ArmFaultFlags.Watchdog));
        var stopped = WaitForState(link, s => s.Sequence > held.Sequence, "no state after the hold");
        Assert.Equal(0.0, stopped.Velocities[0]);
        Assert.True(link.QueryFaults(ControlTimeout, out var report).Succeeded);
        Assert.True(report!.WatchdogTrips >= 1);
        Assert.True(Eventually.True(() => endpoint.Logged("watchdog: no valid command")), "the endpoint did not log the watchdog hold");

        // A fresh valid command takes the arm out of the hold. It is sent again at every poll: a state without a hold
        // lasts only until the watchdog trips again 100 ms after the last command, so a poller that sent once and then
        // paused for that long would see only the next hold.
        ArmState resumed = default;
        var free = Eventually.True(() =>
        {
            Assert.Equal(ArmSendStatus.Sent, link.Send(velocity, out _));
            return link.TryGetLatestState(TimeSpan.MaxValue, out resumed, out _) && resumed.LastCommandSequence > held.LastCommandSequence
                && resumed.HoldReason == ArmHoldReason.None;
        });
        Assert.True(free, $"the arm stayed in hold (last state: command {resumed.LastCommandSequence}, hold reason {resumed.HoldReason})");
    }

    [Fact]
    public void EndpointKilledAndRestartedIsReportedLostAndTheLinkRecoversByItself()
    {
        var prefix = IpcPrefix.Create();
        var endpoint = new ArmEndpointProcess(prefix, watchdogMilliseconds: 2000);
        var settings = endpoint.LinkSettings with { LinkTimeout = TimeSpan.FromMilliseconds(200) };
        try
        {
            using var link = ConnectedLink(settings);
            Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
            var firstSession = link.Health.ArmSession;

            endpoint.Kill();
            // Every snapshot is consistent with the configured timeout: up only while the newest state
            // is younger than it, lost as soon as it is older. Send never blocks: it reports the loss.
            Assert.True(Eventually.True(() =>
            {
                var health = link.Health;
                if (health.Status == ArmLinkStatus.Up)
                    Assert.True(health.LastStateAge <= settings.LinkTimeout, $"up with a {health.LastStateAge} old state");
                if (health.LastStateAge > settings.LinkTimeout)
                    Assert.Equal(ArmLinkStatus.Lost, health.Status);
                return health.Status == ArmLinkStatus.Lost;
            }), "the link never reported the loss");
            Assert.Equal(ArmSendStatus.LinkDown, link.Send(ArmCommand.JointPositions([0.1, 0, 0, 0, 0, 0], 0), out _));
            Assert.Equal(1, link.Health.LinkLosses);

            endpoint.Dispose();
            endpoint = new ArmEndpointProcess(prefix, watchdogMilliseconds: 2000, secret: settings.Secret);
            Assert.True(Eventually.True(() => link.Health.Status == ArmLinkStatus.Up), "the link did not come back by itself");
            var health = link.Health;
            Assert.NotEqual(firstSession, health.ArmSession);
            Assert.Equal(1, health.ArmRestarts);

            var events = new List<ArmLinkEvent>();
            while (link.TryReadEvent(out var e))
                events.Add(e);
            Assert.Contains(events, e => e.Kind == ArmLinkEventKind.LinkLost && e.Session == firstSession);
            Assert.Contains(events, e => e.Kind == ArmLinkEventKind.ArmRestarted && e.Session == health.ArmSession);
            Assert.Contains(events, e => e.Kind == ArmLinkEventKind.LinkRestored);

            // The restarted arm is disabled; enabling re-handshakes with the new session, then commands apply.
            var enable = link.Request(ArmControlRequest.Enable, ControlTimeout);
            Assert.True(enable.Succeeded, enable.Detail);
            Assert.Equal(health.ArmSession, link.Description!.Session);
            Assert.Equal(ArmSendStatus.Sent, link.Send(ArmCommand.JointPositions([0.1, 0, 0, 0, 0, 0], 0), out var sent));
            WaitForState(link, s => s.LastCommandSequence == sent.Sequence, "commands are not applied after recovery");
        }
        finally
        {
            endpoint.Dispose();
        }
    }

    [Fact]
    public void SteadyStateSendAndReadAllocateNothing()
    {
        using var endpoint = new ArmEndpointProcess(IpcPrefix.Create(), watchdogMilliseconds: 2000, rateHz: 1000);
        using var link = ConnectedLink(endpoint.LinkSettings);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        var command = ArmCommand.JointPositions([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 0.5);
        var accepted = 0L;
        void Cycle()
        {
            link.Send(command, out _);
            link.TryGetLatestState(TimeSpan.FromSeconds(1), out _, out _);
            _ = link.Health;
        }
        for (var i = 0; i < 2000; i++)
            Cycle(); // warm up: JIT, first receives
        var statesBefore = link.Health.StatesAccepted;
        // Counted from an empty allocation buffer (ThreadAllocations.During): the link's receive
        // thread and the other classes allocate meanwhile, and a GC they start would otherwise count
        // the unused rest of this thread's buffer as allocated.
        var allocated = ThreadAllocations.During(() =>
        {
            for (var i = 0; i < 5000; i++)
            {
                Cycle();
                if (i % 100 == 0)
                    Thread.Sleep(1); // let states arrive so receives and decodes happen inside the measured loop
            }
        });
        accepted = link.Health.StatesAccepted - statesBefore;
        Assert.True(accepted > 0, "no states were received during the measured cycles");
        Assert.Equal(0, allocated);
    }
}
