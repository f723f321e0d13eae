using System.Security.Cryptography;
using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Tests;
using RobotRuntime.Testing;
using static RobotRuntime.SimServer.Tests.SimServerTestSupport;

namespace RobotRuntime.SimServer.Tests;

/// <summary>The <see cref="IArmLink"/> contract for the in-process link to sim-server.</summary>
public sealed class InProcessArmLinkContractTests : ArmLinkContractTests
{
    protected override int ExpectedJointCount => 4;

    protected override IArmLink CreateConnectedLink()
    {
        var host = SimServerHost.Start(InProcess(watchdogMilliseconds: 5000));
        try
        {
            return new OwningLink(ConnectInProcess(host), host);
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }
}

/// <summary>The in-process link: one at a time, the firmware's behaviour (watchdog, e-stop, authentication), a stopped server, allocation.</summary>
public sealed class InProcessArmLinkTests
{
    private static ArmState WaitForState(IArmLink link, Func<ArmState, bool> condition, string what)
    {
        ArmState state = default;
        Assert.True(Eventually(() => link.TryGetLatestState(TimeSpan.MaxValue, out state, out _) && condition(state)), what);
        return state;
    }

    [Fact]
    public void InProcessServerBindsNoArmSockets()
    {
        using var host = SimServerHost.Start(InProcess());
        Assert.Equal(ArmTransport.InProcess, host.Endpoints.ArmTransport);
        Assert.Equal("", host.Endpoints.State);
        Assert.Equal("", host.Endpoints.Command);
        Assert.Equal("", host.Endpoints.Control);
    }

    [Fact]
    public void SecondLinkIsRefusedWhileTheFirstIsConnected()
    {
        using var host = SimServerHost.Start(InProcess(watchdogMilliseconds: 5000));
        var first = ConnectInProcess(host);
        var refused = Assert.Throws<InvalidOperationException>(() => host.ConnectInProcess());
        Assert.Contains("one at a time", refused.Message);
        Assert.Contains("dispose", refused.Message);

        // A clean exit gives the claim up, so the next link claims at once.
        Assert.True(first.Release(ControlTimeout).Succeeded);
        first.Dispose();
        using var second = ConnectInProcess(host);
        Assert.True(second.Claimed);
        var enable = second.Request(ArmControlRequest.Enable, ControlTimeout);
        Assert.True(enable.Succeeded, enable.Detail);
    }

    [Fact]
    public void DisposedLinkThatKeptItsClaimLeavesTheNextOneRefusedUntilTakeover()
    {
        using var host = SimServerHost.Start(InProcess(watchdogMilliseconds: 5000));
        ConnectInProcess(host).Dispose();
        // As on the wire: the first claim is live for its lease, so a second controller is refused...
        using (var second = host.ConnectInProcess())
        {
            var refused = second.Handshake(ControlTimeout);
            Assert.Equal(ArmControlStatus.Refused, refused.Status);
            Assert.Contains("held by another controller", refused.Detail);
        }
        // ...unless it takes the arm over deliberately.
        using var third = host.ConnectInProcess(new InProcessArmLinkSettings { Takeover = true });
        var taken = third.Handshake(ControlTimeout);
        Assert.True(taken.Succeeded, taken.Detail);
    }

    [Fact]
    public void ServerWithArmSocketsRefusesAnInProcessLink()
    {
        using var host = SimServerHost.Start(Loopback());
        var refused = Assert.Throws<InvalidOperationException>(() => host.ConnectInProcess());
        Assert.Contains("ArmTransport = InProcess", refused.Message);
    }

    [Fact]
    public void LinkWithAnotherSecretIsRefusedByTheArm()
    {
        using var host = SimServerHost.Start(InProcess());
        using var link = host.ConnectInProcess(new InProcessArmLinkSettings { Secret = RandomNumberGenerator.GetBytes(FirmwareCodec.KeySize) });
        var handshake = link.Handshake(ControlTimeout);
        Assert.Equal(ArmControlStatus.Refused, handshake.Status);
        Assert.Contains("does not accept this runtime's key", handshake.Detail);
        Assert.False(link.Claimed);
        // Not holding the arm, it cannot enable it either: the firmware authenticates every request.
        Assert.Equal(ArmControlStatus.Refused, link.Request(ArmControlRequest.Enable, ControlTimeout).Status);
    }

    [Fact]
    public void WatchdogHoldsTheArmWhenTheLinkStopsSending()
    {
        using var host = SimServerHost.Start(InProcess(watchdogMilliseconds: 100));
        using var link = ConnectInProcess(host);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        var move = ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0.005, 0, 0, 0, 0, 0], 0);
        var moving = SendUntilFree(link, move, afterSequence: 0, "the command was not applied with the arm free");

        // The link goes quiet: the arm must hold by itself and say why.
        var held = WaitForState(link, s => s.HoldReason == ArmHoldReason.Watchdog, "the arm did not hold after commands stopped");
        Assert.True(held.Status.HasFlag(ArmStatusFlags.Holding));
        Assert.True(held.Faults.HasFlag(ArmFaultFlags.Watchdog));
        Assert.True(held.LastCommandSequence >= moving.LastCommandSequence);
        Assert.True(link.QueryFaults(ControlTimeout, out var report).Succeeded);
        // At least once: a pause of this thread of more than 100 ms while it was still sending (or between the ENABLE
        // and the first command) trips the watchdog too, and the next command ends that hold. The server's own count
        // is of the same trips; nothing is sent after the hold, so none can come between the two reads.
        Assert.True(report!.WatchdogTrips >= 1, $"{report.WatchdogTrips} watchdog trips reported");
        Assert.Equal((int)report.WatchdogTrips, host.Server.Statistics.WatchdogTrips);

        // A fresh valid command takes the arm out of the hold.
        SendUntilFree(link, move, afterSequence: held.LastCommandSequence, "the arm stayed in hold");
    }

    /// <summary>
    /// Sends <paramref name="command"/> at every poll until a state says the arm applied one sent after
    /// <paramref name="afterSequence"/> and is not holding; returns that state. A state without a hold lasts only until the
    /// 100 ms watchdog trips again, so a poller that sent once and then paused for 100 ms could only ever see the next
    /// hold; sent again at every poll, the arm is fed for as long as this waits.
    /// </summary>
    private static ArmState SendUntilFree(IArmLink link, in ArmCommand command, uint afterSequence, string what)
    {
        var toSend = command;
        ArmState state = default;
        var free = Eventually(() =>
        {
            Assert.Equal(ArmSendStatus.Sent, link.Send(toSend, out _));
            return link.TryGetLatestState(TimeSpan.MaxValue, out state, out _)
                && state.LastCommandSequence > afterSequence && state.HoldReason == ArmHoldReason.None;
        });
        Assert.True(free, $"{what} (last state: command {state.LastCommandSequence}, hold reason {state.HoldReason})");
        return state;
    }

    [Fact]
    public void EmergencyStopBrakesTheArmAndLaterCommandsAreNotApplied()
    {
        using var host = SimServerHost.Start(InProcess(watchdogMilliseconds: 5000) with { StateRateHz = 500 });
        using var link = ConnectInProcess(host);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        var start = WaitForState(link, _ => true, "no state");
        double[] far = [start.Positions[0] > 0 ? -1.5 : 1.5, start.Positions[1], start.Positions[2], start.Positions[3]];
        Assert.Equal(ArmSendStatus.Sent, link.Send(ArmCommand.JointPositions(far, 0), out var moving));
        WaitForState(link, s => s.LastCommandSequence == moving.Sequence && Math.Abs(s.Velocities[0]) > 1.0, "the yaw never sped up");

        var stop = link.Request(ArmControlRequest.EmergencyStop, ControlTimeout);
        Assert.True(stop.Succeeded, stop.Detail);
        Assert.True(stop.ArmStatus.HasFlag(ArmStatusFlags.EmergencyStop));
        var stopped = WaitForState(link, s => s.HoldReason == ArmHoldReason.EmergencyStop && Math.Abs(s.Velocities[0]) <= 0.03,
            "the arm did not come to rest after the e-stop");

        // The link still sends (it is up); the arm rejects: e-stopped means not enabled.
        Assert.Equal(ArmSendStatus.Sent, link.Send(ArmCommand.JointPositions(far, 0), out var refused));
        FaultReport? report = null;
        Assert.True(Eventually(() => link.QueryFaults(ControlTimeout, out report).Succeeded && report!.RejectedFor(FrameStatus.NotEnabled) >= 1),
            "the arm never counted the command sent after the e-stop");
        Assert.Equal(moving.Sequence, report!.LastCommandSequence);
        var after = WaitForState(link, s => s.Sequence > stopped.Sequence + 10, "no states after the e-stop");
        Assert.NotEqual(refused.Sequence, after.LastCommandSequence);
        Assert.True(after.Status.HasFlag(ArmStatusFlags.EmergencyStop));
    }

    [Fact]
    public void StoppedServerMakesTheLinkLostAndItsRequestsTimeOut()
    {
        var host = SimServerHost.Start(InProcess(watchdogMilliseconds: 5000));
        var settings = new InProcessArmLinkSettings { LinkTimeout = TimeSpan.FromMilliseconds(200) };
        using var link = ConnectInProcess(host, settings);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);

        host.Dispose();
        Assert.True(Eventually(() => link.Health.Status == ArmLinkStatus.Lost), "the link never reported the loss");
        Assert.Equal(1, link.Health.LinkLosses);
        Assert.Equal(ArmSendStatus.LinkDown, link.Send(ArmCommand.JointPositions([0.1, 0, 0, 0], 0), out _));

        // A request gets a timeout, not a hang (and does not wait out its timeout: nothing can answer).
        var request = link.Request(ArmControlRequest.Heartbeat, TimeSpan.FromSeconds(30));
        Assert.Equal(ArmControlStatus.TimedOut, request.Status);
        Assert.Contains("stopped", request.Detail);
        Assert.Equal(ArmControlStatus.TimedOut, link.Handshake(TimeSpan.FromSeconds(30)).Status);
        Assert.Equal(2, link.ControlResets);
        var events = new List<ArmLinkEvent>();
        while (link.TryReadEvent(out var e))
            events.Add(e);
        Assert.Contains(events, e => e.Kind == ArmLinkEventKind.LinkLost);
        Assert.Contains(events, e => e.Kind == ArmLinkEventKind.ControlTimedOut);
    }

    [Fact]
    public void SteadyStateSendReadAndHealthAllocateNothing()
    {
        using var host = SimServerHost.Start(InProcess(watchdogMilliseconds: 5000) with { StateRateHz = 1000 });
        using var link = ConnectInProcess(host);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        var command = ArmCommand.JointPositions([0.1, 0.2, 0.3, 0.4], 0.5);
        void Cycle()
        {
            link.Send(command, out _);
            link.TryGetLatestState(TimeSpan.FromSeconds(1), out _, out _);
            _ = link.Health;
        }
        for (var i = 0; i < 2000; i++)
            Cycle(); // warm up: JIT, first hand-offs
        var statesBefore = link.Health.StatesAccepted;
        var sentBefore = link.Health.CommandsSent;
        // Counted from an empty allocation buffer (ThreadAllocations.During): the in-process server's
        // thread and the other classes allocate meanwhile, and a GC they start would otherwise count
        // the unused rest of this thread's buffer as allocated.
        var allocated = ThreadAllocations.During(() =>
        {
            for (var i = 0; i < 5000; i++)
            {
                Cycle();
                if (i % 100 == 0)
                    Thread.Sleep(1); // let states arrive so takes and decodes happen inside the measured loop
            }
        });
        Assert.True(link.Health.StatesAccepted > statesBefore, "no states were taken during the measured cycles");
        Assert.Equal(sentBefore + 5000, link.Health.CommandsSent);
        Assert.Equal(0, allocated);
    }
}

/// <summary>The in-memory hand-offs under the in-process link.</summary>
public sealed class InProcessHandOffTests
{
    private static byte[] Frame(byte fill, int length = 64) => Enumerable.Repeat(fill, length).ToArray();

    [Fact]
    public void SlotGivesTheNewestFrameAndCountsTheOnesItReplaced()
    {
        var slot = new LatestFrameSlot();
        Assert.False(slot.TryTake(out _));
        Assert.True(slot.Publish(Frame(1)));
        Assert.True(slot.Publish(Frame(2, 10)));
        Assert.True(slot.Publish(Frame(3, 20)));
        Assert.True(slot.HasFresh);
        Assert.True(slot.TryTake(out var frame));
        Assert.Equal(Frame(3, 20), frame.ToArray());
        Assert.Equal(2, slot.Replaced);
        Assert.False(slot.HasFresh);
        Assert.False(slot.TryTake(out _));
        Assert.False(slot.Publish(new byte[FirmwareCodec.MaxFrame + 1]));
    }

    [Fact]
    public void SlotNeverHandsOverATornOrOlderFrameUnderConcurrentUse()
    {
        var slot = new LatestFrameSlot();
        const int Frames = 200_000;
        var writer = new Thread(() =>
        {
            var frame = new byte[256];
            for (var i = 1; i <= Frames; i++)
            {
                // Every byte of frame i says i: a torn frame would mix two numbers.
                BitConverter.TryWriteBytes(frame, i);
                for (var b = 4; b < frame.Length; b += 4)
                    frame.AsSpan(0, 4).CopyTo(frame.AsSpan(b));
                slot.Publish(frame.AsSpan(0, 4 + 4 * (i % 60)));
            }
        });
        writer.Start();
        var last = 0;
        var taken = 0L;
        while (last < Frames)
        {
            if (!slot.TryTake(out var frame))
                continue;
            var number = BitConverter.ToInt32(frame);
            Assert.True(number > last, $"frame {number} after {last}");
            Assert.Equal(4 + 4 * (number % 60), frame.Length);
            for (var b = 4; b < frame.Length; b += 4)
                Assert.Equal(number, BitConverter.ToInt32(frame[b..]));
            last = number;
            taken++;
        }
        writer.Join();
        Assert.Equal(Frames, taken + slot.Replaced);
    }

    [Fact]
    public void LateReplyToAWithdrawnRequestIsNotTakenForTheNextOne()
    {
        var mailbox = new ControlMailbox();
        var serverBuffer = new byte[FirmwareCodec.MaxFrame];
        var replyBuffer = new byte[FirmwareCodec.MaxFrame];
        var first = mailbox.Post(Frame(1));
        Assert.Equal(64, mailbox.TryTake(serverBuffer, out var taken));
        Assert.Equal(first, taken);
        // The requester gives up before the answer comes, and asks again.
        mailbox.Withdraw(first);
        var second = mailbox.Post(Frame(2));
        mailbox.Answer(first, Frame(10));
        Assert.Equal(-1, mailbox.WaitForReply(second, System.Diagnostics.Stopwatch.GetTimestamp(), replyBuffer, () => false));
        Assert.Equal(64, mailbox.TryTake(serverBuffer, out taken));
        Assert.Equal(second, taken);
        Assert.Equal(2, serverBuffer[0]);
        mailbox.Answer(second, Frame(20, 8));
        Assert.Equal(8, mailbox.WaitForReply(second, System.Diagnostics.Stopwatch.GetTimestamp(), replyBuffer, () => false));
        Assert.Equal(20, replyBuffer[0]);
    }

    [Fact]
    public void WithdrawnRequestIsNeverTaken()
    {
        var mailbox = new ControlMailbox();
        var ticket = mailbox.Post(Frame(1));
        mailbox.Withdraw(ticket);
        Assert.False(mailbox.Pending);
        Assert.Equal(0, mailbox.TryTake(new byte[FirmwareCodec.MaxFrame], out _));
    }
}
