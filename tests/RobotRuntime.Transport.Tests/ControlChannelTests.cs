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
