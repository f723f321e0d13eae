using System.Buffers.Binary;
using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Transport.Tests;

/// <summary>The control channel of the reference endpoint with raw requests, and the link's settings checks.</summary>
public sealed class ControlChannelTests
{
    private static (ZmqContext Context, ZmqSocket Request) RawRequester(ArmEndpointProcess endpoint)
    {
        var context = ZmqContext.Create();
        var request = ZmqSocket.Create(context, ZmqSocketType.Request);
        request.SetReceiveTimeout(5000);
        request.Connect(endpoint.LinkSettings.ControlAddress);
        return (context, request);
    }

    private static AckMessage Exchange(ZmqSocket request, byte[] frame)
    {
        using var reply = new ZmqMessage();
        Assert.Equal(ZmqSendStatus.Sent, request.TrySend(frame, wait: true));
        Assert.Equal(ZmqReceiveStatus.Received, request.TryReceive(reply, wait: true));
        Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeAck(reply.Data, out _, out var ack));
        return ack;
    }

    [Fact]
    public void RequestWithAnUnknownVersionIsAnsweredWithABadRequestNamingTheReason()
    {
        using var endpoint = new ArmEndpointProcess(IpcPrefix.Create());
        var (context, request) = RawRequester(endpoint);
        using (context)
        using (request)
        {
            var frame = (byte[])Repository.Vector("enable.bin").Clone();
            BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(4), 9);
            var ack = Exchange(request, BadFrames.Reseal(frame));
            Assert.Equal(AckResult.BadRequest, ack.Result);
            Assert.Equal(FrameStatus.UnsupportedVersion, ack.Reason);
            Assert.Equal(FirmwareMessageType.Enable, ack.RequestType);
            Assert.False(ack.Status.HasFlag(ArmStatusFlags.Enabled));

            // The REQ/REP conversation is still in step: the next request is answered.
            var garbage = Exchange(request, [1, 2, 3]);
            Assert.Equal(AckResult.BadRequest, garbage.Result);
            Assert.Equal(FrameStatus.Truncated, garbage.Reason);
        }
    }

    [Fact]
    public void HelloOfferingOnlyOtherVersionsIsRefusedWithUnsupportedVersion()
    {
        using var endpoint = new ArmEndpointProcess(IpcPrefix.Create());
        var (context, request) = RawRequester(endpoint);
        using (context)
        using (request)
        {
            var buffer = new byte[FirmwareCodec.MaxFrame];
            var length = FirmwareCodec.EncodeHello(buffer, 1, 1, new HelloMessage(3, 4, 42));
            var ack = Exchange(request, buffer[..length]);
            Assert.Equal(AckResult.UnsupportedVersion, ack.Result);
            Assert.True(Eventually.True(() => endpoint.Logged("speaks versions 3..4")), "the endpoint did not log the refusal");
        }
    }

    [Fact]
    public void RequestNamingAnotherSessionIsRefusedAndNotActedOn()
    {
        using var endpoint = new ArmEndpointProcess(IpcPrefix.Create());
        var (context, request) = RawRequester(endpoint);
        using (context)
        using (request)
        {
            var buffer = new byte[FirmwareCodec.MaxFrame];
            var length = FirmwareCodec.EncodeSessionRequest(buffer, FirmwareMessageType.Enable, 1, 1, session: 12345, []);
            var ack = Exchange(request, buffer[..length]);
            Assert.Equal(AckResult.WrongSession, ack.Result);
            Assert.False(ack.Status.HasFlag(ArmStatusFlags.Enabled));
        }
    }

    [Fact]
    public void AckToHelloCountsOnlyWhenItNamesTheHellosSequenceAndType()
    {
        var prefix = IpcPrefix.Create();
        using var context = ZmqContext.Create();
        using var fakeArm = ZmqSocket.Create(context, ZmqSocketType.Reply);
        fakeArm.SetReceiveTimeout(5000);
        fakeArm.Bind($"ipc://{prefix}-control");
        using var link = new ZmqArmLink(ZmqArmLinkSettings.Ipc(prefix));
        try
        {
            // An ACK 5 with the HELLO's sequence but naming a HEARTBEAT is not the HELLO's answer: a bad reply.
            var answers = new Thread(() =>
            {
                foreach (var namedType in new[] { FirmwareMessageType.Heartbeat, FirmwareMessageType.Hello })
                {
                    using var request = new ZmqMessage();
                    if (fakeArm.TryReceive(request, wait: true) != ZmqReceiveStatus.Received)
                        return;
                    FirmwareCodec.CheckFrame(request.Data, out var header);
                    var buffer = new byte[FirmwareCodec.MaxFrame];
                    var length = FirmwareCodec.EncodeAck(buffer, 1, 1,
                        new AckMessage(1, header.Sequence, namedType, AckResult.UnsupportedVersion, FrameStatus.Ok, ArmStatusFlags.None));
                    fakeArm.TrySend(buffer.AsSpan(0, length), wait: true);
                }
            });
            answers.Start();
            var misnamed = link.Handshake(TimeSpan.FromSeconds(5));
            Assert.Equal(ArmControlStatus.BadReply, misnamed.Status);
            var named = link.Handshake(TimeSpan.FromSeconds(5));
            Assert.Equal(ArmControlStatus.Refused, named.Status);
            Assert.Contains("hello refused", named.Detail);
            Assert.True(answers.Join(TimeSpan.FromSeconds(10)), "the fake arm did not finish");
        }
        finally
        {
            File.Delete($"{prefix}-control");
        }
    }

    [Theory]
    [InlineData("http://127.0.0.1:5601")]
    [InlineData("")]
    [InlineData("127.0.0.1:5601")]
    public void AddressWithoutAZeroMqTransportIsRejectedNamingTheSettingAndTheExpectedForm(string address)
    {
        var settings = new ZmqArmLinkSettings { CommandAddress = address };
        var error = Assert.Throws<ArgumentException>(() => new ZmqArmLink(settings));
        Assert.Contains(nameof(ZmqArmLinkSettings.CommandAddress), error.Message);
        Assert.Contains("tcp://, ipc:// or inproc://", error.Message);
        Assert.Contains($"'{address}'", error.Message);
    }

    [Fact]
    public void NonPositiveLinkTimeoutIsRejectedNamingTheSetting()
    {
        var error = Assert.Throws<ArgumentException>(() => new ZmqArmLink(new ZmqArmLinkSettings { LinkTimeout = TimeSpan.Zero }));
        Assert.Contains("LinkTimeout must be positive", error.Message);
    }
}
