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
        data.Add("without-the-secret", FrameStatus.BadAuth);
        data.Add("another-controllers-key", FrameStatus.BadAuth);
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
        var key = BadFrames.KeyOf(endpoint.Secret, session, link.ClientId);

        // A valid command first, so sequence checks have something to compare with.
        var valid = BadFrames.Command(100, session, fresh, command, key);
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
            "wrong-session" => BadFrames.Command(200, session ^ 0xFFFF, fresh, moved, key),
            "expired" => BadFrames.Command(200, session, 1, moved, key),
            "out-of-limits" => BadFrames.Command(200, session, fresh, ArmCommand.JointPositions([5.0, 0, 0, 0, 0, 0], 0), key),
            "sequence-backwards" => BadFrames.Command(50, session, fresh, moved, key),
            "sequence-repeat" => BadFrames.Command(100, session, fresh, moved, key),
            // A local process that read the session from STATE but has no secret: a zero tag, or its own guess.
            "without-the-secret" => BadFrames.Command(1_000_200, session, fresh, moved, []),
            // Another holder of the secret that has not claimed the arm (a second runtime).
            "another-controllers-key" => BadFrames.Command(1_000_200, session, fresh, moved, BadFrames.KeyOf(endpoint.Secret, session, link.ClientId + 1)),
            _ => BadFrames.Make(kind, BadFrames.Command(200, session, fresh, moved, key), nanAt: 24),
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
