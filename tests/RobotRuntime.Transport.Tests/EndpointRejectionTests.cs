using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Transport.Tests;

/// <summary>
/// The arm side: bad command frames sent to the reference endpoint. Each must be rejected, counted
/// under its reason in the fault report, logged on stderr, and never applied.
/// </summary>
public sealed class EndpointRejectionTests
{
    private static readonly TimeSpan ControlTimeout = TimeSpan.FromSeconds(5);

    public static TheoryData<string, FrameStatus> Cases()
    {
        var data = new TheoryData<string, FrameStatus>();
        foreach (var (kind, reason) in BadFrames.FrameLevel)
            data.Add(kind, reason);
        data.Add("state-on-command-channel", FrameStatus.UnexpectedType);
        data.Add("wrong-session", FrameStatus.WrongSession);
        data.Add("expired", FrameStatus.Expired);
        data.Add("out-of-limits", FrameStatus.OutOfLimits);
        data.Add("sequence-backwards", FrameStatus.SequenceBackwards);
        data.Add("sequence-repeat", FrameStatus.SequenceRepeat);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BadCommandFrameIsRejectedCountedLoggedAndNeverApplied(string kind, FrameStatus reason)
    {
        using var endpoint = new ArmEndpointProcess(IpcPrefix.Create(), watchdogMilliseconds: 5000);
        using var link = ZmqArmLinkTests.ConnectedLink(endpoint.LinkSettings);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        using var context = ZmqContext.Create();
        using var injector = ZmqSocket.Create(context, ZmqSocketType.Publisher);
        injector.Connect(endpoint.LinkSettings.CommandAddress);

        Assert.True(link.TryGetLatestState(TimeSpan.MaxValue, out var state, out _));
        var session = state.Session;
        var fresh = state.ArmTimeNanoseconds + 60_000_000_000UL; // a minute after the state: not expired
        var command = ArmCommand.JointPositions([0.25, 0, 0, 0, 0, 0], 0);

        // A valid command first, so sequence checks have something to compare with.
        var valid = BadFrames.Command(100, session, fresh, command);
        FaultReport? report = null;
        Assert.True(Eventually.True(() =>
        {
            injector.TrySend(valid);
            return link.QueryFaults(ControlTimeout, out report).Succeeded && report!.LastCommandSequence == 100;
        }), "the valid command was never applied");
        var applied = report!.CommandsApplied;

        var moved = ArmCommand.JointPositions([1.5, 0, 0, 0, 0, 0], 0);
        var bad = kind switch
        {
            "state-on-command-channel" => Repository.Vector("state_6dof.bin"),
            "wrong-session" => BadFrames.Command(200, session ^ 0xFFFF, fresh, moved),
            "expired" => BadFrames.Command(200, session, 1, moved),
            "out-of-limits" => BadFrames.Command(200, session, fresh, ArmCommand.JointPositions([5.0, 0, 0, 0, 0, 0], 0)),
            "sequence-backwards" => BadFrames.Command(50, session, fresh, moved),
            "sequence-repeat" => BadFrames.Command(100, session, fresh, moved),
            _ => BadFrames.Make(kind, BadFrames.Command(200, session, fresh, moved), nanAt: 24),
        };
        Assert.True(Eventually.True(() =>
        {
            injector.TrySend(bad);
            return link.QueryFaults(ControlTimeout, out report).Succeeded && report!.RejectedFor(reason) > 0;
        }), $"the endpoint never counted a {kind} frame as {reason}");

        Assert.Equal(applied, report!.CommandsApplied);
        Assert.Equal(100u, report.LastCommandSequence);
        Assert.True(report.Faults.HasFlag(ArmFaultFlags.BadFrames));
        var name = FirmwareCodec.StatusName(reason);
        Assert.True(Eventually.True(() => endpoint.Logged($"rejected command frame") && endpoint.Logged(name)),
            $"the endpoint did not log '{name}': {string.Join(" | ", endpoint.ErrorLines)}");
        Assert.True(link.TryGetLatestState(TimeSpan.MaxValue, out var after, out _));
        Assert.NotEqual(1.5, after.Positions[0]);
    }
}
