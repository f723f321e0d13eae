using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Transport.Tests;

/// <summary>
/// The runtime side: a fake arm publishes bad state frames to the link. Each must be rejected,
/// counted under its reason, logged as an event, and never become the latest state.
/// </summary>
public sealed class LinkRejectionTests
{
    public static TheoryData<string, FrameStatus> Cases()
    {
        var data = new TheoryData<string, FrameStatus>();
        foreach (var (kind, reason) in BadFrames.FrameLevel)
            data.Add(kind, reason);
        data.Add("command-on-state-channel", FrameStatus.UnexpectedType);
        data.Add("sequence-backwards", FrameStatus.SequenceBackwards);
        data.Add("sequence-repeat", FrameStatus.SequenceRepeat);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BadStateFrameIsRejectedCountedLoggedAndNeverApplied(string kind, FrameStatus reason)
    {
        var prefix = IpcPrefix.Create();
        try
        {
            using var context = ZmqContext.Create();
            using var fakeArm = ZmqSocket.Create(context, ZmqSocketType.Publisher);
            fakeArm.Bind($"ipc://{prefix}-state");
            using var link = new ZmqArmLink(ZmqArmLinkSettings.Ipc(prefix) with { LinkTimeout = TimeSpan.FromSeconds(30) });

            var good = GoldenMessages.State();
            good.Sequence = 10;
            var goodFrame = BadFrames.State(good);
            ArmState latest = default;
            Assert.True(Eventually.True(() =>
            {
                fakeArm.TrySend(goodFrame);
                return link.TryGetLatestState(TimeSpan.MaxValue, out latest, out _) && latest.Sequence == 10;
            }), $"the link never received the valid state: {link.Health}, {link.StateFramesRejected(FrameStatus.SequenceRepeat)} repeats");

            var next = good;
            next.Sequence = 11;
            next.Positions[0] = 2.0; // would show if the bad frame were applied
            var bad = kind switch
            {
                "command-on-state-channel" => Repository.Vector("command_joint_position.bin"),
                "sequence-backwards" => BadFrames.State(next with { Sequence = 5 }),
                "sequence-repeat" => BadFrames.State(next with { Sequence = 10 }),
                _ => BadFrames.Make(kind, BadFrames.State(next), nanAt: 96),
            };
            Assert.True(Eventually.True(() =>
            {
                fakeArm.TrySend(bad);
                _ = link.Health; // takes in what has arrived
                return link.StateFramesRejected(reason) > 0;
            }), $"the link never counted a {kind} frame as {reason}");

            Assert.True(link.TryGetLatestState(TimeSpan.MaxValue, out latest, out _));
            Assert.Equal(10u, latest.Sequence);
            Assert.Equal(good.Positions[0], latest.Positions[0]);
            var health = link.Health;
            Assert.Equal(1, health.StatesAccepted);
            Assert.True(health.FramesRejected >= 1);

            var logged = new List<ArmLinkEvent>();
            while (link.TryReadEvent(out var e))
                logged.Add(e);
            // Besides the bad frame, only repeats of the valid state (sent until it arrived) may be rejected.
            var rejections = logged.Where(e => e.Kind == ArmLinkEventKind.FrameRejected).ToList();
            Assert.All(rejections, e => Assert.True(e.Reason == reason || (e.Reason == FrameStatus.SequenceRepeat && e.Sequence == 10),
                $"unexpected rejection: {e}"));
            var rejection = rejections.First(e => e.Reason == reason);
            Assert.Contains(FirmwareCodec.StatusName(reason), rejection.ToString());
            Assert.Contains("state frame rejected", rejection.ToString());
        }
        finally
        {
            File.Delete(prefix + "-state");
        }
    }

    [Fact]
    public void FrameFarBeyondTheSocketLimitIsDroppedAndLaterStatesStillArrive()
    {
        var prefix = IpcPrefix.Create();
        try
        {
            using var context = ZmqContext.Create();
            using var fakeArm = ZmqSocket.Create(context, ZmqSocketType.Publisher);
            fakeArm.Bind($"ipc://{prefix}-state");
            using var link = new ZmqArmLink(ZmqArmLinkSettings.Ipc(prefix) with { LinkTimeout = TimeSpan.FromMilliseconds(200) });
            var state = GoldenMessages.State();
            state.Sequence = 1;
            Assert.True(Eventually.True(() =>
            {
                fakeArm.TrySend(BadFrames.State(state));
                return link.TryGetLatestState(TimeSpan.MaxValue, out var s, out _) && s.Sequence == 1;
            }));

            // 4 MiB announced and sent: libzmq drops the connection instead of buffering it (MAXMSGSIZE).
            var huge = new byte[4 << 20];
            Repository.Vector("state_6dof.bin").AsSpan(0, FirmwareCodec.HeaderSize).CopyTo(huge);
            fakeArm.TrySend(huge);
            var sequence = 2u;
            Assert.True(Eventually.True(() =>
            {
                state.Sequence = sequence++;
                fakeArm.TrySend(BadFrames.State(state));
                return link.TryGetLatestState(TimeSpan.MaxValue, out var s, out _) && s.Sequence > 1;
            }), "states did not arrive again after the oversized message");
            Assert.Equal(0, link.StateFramesRejected(FrameStatus.Oversized));
            // libzmq 4.3.4 does not reconnect a connecting SUB after dropping an over-limit message:
            // the link notices the silence and starts its state socket afresh.
            Assert.True(link.StateReopens >= 1, "the link did not reopen its state socket");
        }
        finally
        {
            File.Delete(prefix + "-state");
        }
    }
}
