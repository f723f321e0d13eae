using RobotRuntime.Arm;

namespace RobotRuntime.Transport.Tests;

/// <summary>
/// What every <see cref="IArmLink"/> must do, whatever is behind it (the firmware over ZeroMQ, a
/// simulator in process). Subclass it with a factory for a connected link to an arm of
/// <see cref="ExpectedJointCount"/> joints (6 unless overridden) that supports joint-position
/// commands, whose joint ranges hold 0 (and 0.5 for the first joint), and whose watchdog is
/// longer than a test step.
/// </summary>
public abstract class ArmLinkContractTests
{
    /// <summary>A link that also disposes what serves it (an endpoint process, a sim-server) when disposed.</summary>
    protected sealed class OwningLink(IArmLink inner, IDisposable server) : IArmLink
    {
        public ArmDescription? Description => inner.Description;
        public ArmLinkHealth Health => inner.Health;
        public ArmControlResult Handshake(TimeSpan timeout) => inner.Handshake(timeout);
        public bool TryGetLatestState(TimeSpan maxAge, out ArmState state, out TimeSpan age) => inner.TryGetLatestState(maxAge, out state, out age);
        public ArmSendStatus Send(in ArmCommand command, out ArmCommand sent) => inner.Send(command, out sent);
        public ArmControlResult Request(ArmControlRequest request, TimeSpan timeout) => inner.Request(request, timeout);

        public void Dispose()
        {
            inner.Dispose();
            server.Dispose();
        }
    }

    protected static readonly TimeSpan ControlTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A link whose arm is reachable and which has completed its handshake; disposing it also stops the arm.</summary>
    protected abstract IArmLink CreateConnectedLink();

    /// <summary>Joints the arm behind <see cref="CreateConnectedLink"/> has.</summary>
    protected virtual int ExpectedJointCount => 6;

    /// <summary>A joint-position vector for the arm: <paramref name="first"/> for joint 0, zero for the rest.</summary>
    private double[] Positions(double first)
    {
        var positions = new double[ExpectedJointCount];
        positions[0] = first;
        return positions;
    }

    private static ArmState WaitForState(IArmLink link, Func<ArmState, bool> condition, string what)
    {
        ArmState state = default;
        Assert.True(Eventually.True(() => link.TryGetLatestState(TimeSpan.MaxValue, out state, out _) && condition(state)), what);
        return state;
    }

    [Fact]
    public void DescriptionIsKnownAfterConnecting()
    {
        using var link = CreateConnectedLink();
        Assert.NotNull(link.Description);
        Assert.Equal(ExpectedJointCount, link.Description.JointCount);
        Assert.Equal(ArmLinkStatus.Up, link.Health.Status);
    }

    [Fact]
    public void SentCommandIsReportedAsAppliedInALaterState()
    {
        using var link = CreateConnectedLink();
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        Assert.Equal(ArmSendStatus.Sent, link.Send(ArmCommand.JointPositions(Positions(0.5), 0), out var sent));
        Assert.NotEqual(0u, sent.Sequence);
        var state = WaitForState(link, s => s.LastCommandSequence == sent.Sequence, "the command was never reported as applied");
        Assert.Equal(ArmCommandMode.JointPosition, state.ActiveMode);
    }

    [Fact]
    public void SendClipsToTheDescribedLimitsAndReturnsWhatWasSent()
    {
        using var link = CreateConnectedLink();
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        var limits = link.Description!.Joints[0];
        var status = link.Send(ArmCommand.JointPositions(Positions(limits.PositionMax + 10), 2.0), out var sent);
        Assert.Equal(ArmSendStatus.SentClipped, status);
        Assert.Equal(limits.PositionMax, sent.Values[0]);
        Assert.Equal(1.0, sent.GripperTarget);
        WaitForState(link, s => s.LastCommandSequence == sent.Sequence, "the clipped command was never applied");
    }

    [Fact]
    public void NonFiniteCommandIsNotSent()
    {
        using var link = CreateConnectedLink();
        var positions = Positions(0);
        positions[1] = double.PositiveInfinity;
        var status = link.Send(ArmCommand.JointPositions(positions, 0), out var sent);
        Assert.Equal(ArmSendStatus.InvalidCommand, status);
        Assert.Equal(0u, sent.Sequence);
    }

    [Fact]
    public void LatestStateOlderThanTheAllowedAgeIsRefusedButStillReturned()
    {
        using var link = CreateConnectedLink();
        WaitForState(link, _ => true, "no state");
        Assert.False(link.TryGetLatestState(TimeSpan.FromTicks(-1), out var state, out var age));
        Assert.NotEqual(0u, state.Session);
        Assert.True(age >= TimeSpan.Zero);
    }

    [Fact]
    public void EmergencyStopLatchesUntilReset()
    {
        using var link = CreateConnectedLink();
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        var stop = link.Request(ArmControlRequest.EmergencyStop, ControlTimeout);
        Assert.True(stop.Succeeded, stop.Detail);
        Assert.True(stop.ArmStatus.HasFlag(ArmStatusFlags.EmergencyStop));
        Assert.Equal(ArmControlStatus.Refused, link.Request(ArmControlRequest.Enable, ControlTimeout).Status);
        WaitForState(link, s => s.HoldReason == ArmHoldReason.EmergencyStop, "state does not say e-stop");
        Assert.True(link.Request(ArmControlRequest.Reset, ControlTimeout).Succeeded);
        var enabled = link.Request(ArmControlRequest.Enable, ControlTimeout);
        Assert.True(enabled.Succeeded, enabled.Detail);
        Assert.True(enabled.ArmStatus.HasFlag(ArmStatusFlags.Enabled));
    }
}

/// <summary>The contract for <see cref="Firmware.ZmqArmLink"/> against the reference arm endpoint.</summary>
public sealed class ZmqArmLinkContractTests : ArmLinkContractTests
{
    protected override IArmLink CreateConnectedLink()
    {
        var endpoint = new ArmEndpointProcess(IpcPrefix.Create(), watchdogMilliseconds: 5000);
        try
        {
            return new OwningLink(ZmqArmLinkTests.ConnectedLink(endpoint.LinkSettings), endpoint);
        }
        catch
        {
            endpoint.Dispose();
            throw;
        }
    }
}
