using System.Buffers.Binary;
using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;
using static RobotRuntime.SimServer.Tests.SimServerTestSupport;

namespace RobotRuntime.SimServer.Tests;

/// <summary>
/// Bad COMMAND frames injected at sim-server, as the reference arm's tests do: each is rejected,
/// counted under its reason in the fault report, logged, and never applied.
/// </summary>
public sealed class SimServerRejectionTests
{
    public static TheoryData<string, FrameStatus> Cases() => new()
    {
        { "bad-crc", FrameStatus.BadCrc },
        { "state-on-command-channel", FrameStatus.UnexpectedType },
        { "wrong-session", FrameStatus.WrongSession },
        { "expired", FrameStatus.Expired },
        { "joint-out-of-limits", FrameStatus.OutOfLimits },
        { "rotation-requested", FrameStatus.OutOfLimits },
        { "joint-velocity-mode", FrameStatus.BadPayload },
        { "wrong-joint-count", FrameStatus.BadPayload },
        { "sequence-backwards", FrameStatus.SequenceBackwards },
        { "sequence-repeat", FrameStatus.SequenceRepeat },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void BadCommandFrameIsRejectedCountedLoggedAndNeverApplied(string kind, FrameStatus reason)
    {
        var text = new StringWriter();
        var log = TextWriter.Synchronized(text);
        string Logged()
        {
            lock (log) // the synchronised writer locks itself while the server writes
                return text.ToString();
        }
        using var host = SimServerHost.Start(Loopback(watchdogMilliseconds: 5000), log);
        using var link = Connect(host.Endpoints);
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        using var context = ZmqContext.Create();
        using var injector = ZmqSocket.Create(context, ZmqSocketType.Publisher);
        injector.Connect(host.Endpoints.Command);

        Assert.True(link.TryGetLatestState(TimeSpan.MaxValue, out var state, out _));
        var session = state.Session;
        var key = new byte[FirmwareCodec.KeySize];
        FirmwareCodec.ControllerKey(host.Endpoints.Secret, session, link.ClientId, key);
        var fresh = state.ArmTimeNanoseconds + 60_000_000_000UL; // a minute after the state: not expired
        var valid = Command(100, session, fresh, key, ArmCommand.JointPositions([0.25, 0.3, 0.8, 1.0], 0));
        FaultReport? report = null;
        Assert.True(Eventually(() =>
        {
            injector.TrySend(valid);
            return link.QueryFaults(ControlTimeout, out report).Succeeded && report!.LastCommandSequence == 100;
        }), $"the valid command was never applied; log:\n{Logged()}");
        var applied = report!.CommandsApplied;

        var moved = ArmCommand.JointPositions([1.5, 0.3, 0.8, 1.0], 0);
        var bad = kind switch
        {
            "bad-crc" => Corrupt(Command(200, session, fresh, key, moved)),
            "state-on-command-channel" => StateFrame(state),
            "wrong-session" => Command(200, session ^ 0xFFFF, fresh, key, moved),
            "expired" => Command(200, session, 1, key, moved),
            "joint-out-of-limits" => Command(200, session, fresh, key, ArmCommand.JointPositions([2.5, 0.3, 0.8, 1.0], 0)),
            "rotation-requested" => Command(200, session, fresh, key, ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0.01, 0, 0, 0, 0, 0.2], 0)),
            "joint-velocity-mode" => Command(200, session, fresh, key, ArmCommand.JointVelocities([0.5, 0, 0, 0], 0)),
            "wrong-joint-count" => Command(200, session, fresh, key, ArmCommand.JointPositions([1.5, 0.3, 0.8, 1.0, 0, 0], 0)),
            "sequence-backwards" => Command(50, session, fresh, key, moved),
            "sequence-repeat" => Command(100, session, fresh, key, moved),
            _ => throw new ArgumentException(kind),
        };
        Assert.True(Eventually(() =>
        {
            injector.TrySend(bad);
            return link.QueryFaults(ControlTimeout, out report).Succeeded && report!.RejectedFor(reason) > 0;
        }), $"sim-server never counted a {kind} frame as {reason}");
        // Its statistics count the expired ones apart (a late sender), and only those.
        long expired = reason == FrameStatus.Expired ? report!.RejectedFor(FrameStatus.Expired) : 0;
        Assert.True(Eventually(() => host.Server.Statistics is { CommandsRejected: > 0 } s && s.CommandsExpired == expired),
            $"statistics: {host.Server.Statistics}, expected {expired} expired");

        Assert.Equal(applied, report!.CommandsApplied);
        Assert.Equal(100u, report.LastCommandSequence);
        Assert.True(report.Faults.HasFlag(ArmFaultFlags.BadFrames));
        Assert.Contains("rejected command frame", Logged());
        Assert.Contains(FirmwareCodec.StatusName(reason), Logged());
        Assert.True(link.TryGetLatestState(TimeSpan.MaxValue, out var after, out _));
        Assert.True(Math.Abs(after.Positions[0] - 1.5) > 0.5, "the rejected command moved the arm");
    }

    private static byte[] Command(uint sequence, uint session, ulong expiresAt, byte[] key, in ArmCommand command)
    {
        var buffer = new byte[FirmwareCodec.MaxFrame];
        var length = FirmwareCodec.EncodeCommand(buffer, sequence, 1, session, expiresAt, command, key);
        Assert.True(length > 0);
        return buffer[..length];
    }

    private static byte[] StateFrame(in ArmState state)
    {
        var buffer = new byte[FirmwareCodec.MaxFrame];
        var length = FirmwareCodec.EncodeState(buffer, state);
        Assert.True(length > 0);
        return buffer[..length];
    }

    private static byte[] Corrupt(byte[] frame)
    {
        var copy = (byte[])frame.Clone();
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(copy.AsSpan(copy.Length - 4));
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(copy.Length - 4), crc ^ 1);
        return copy;
    }
}
