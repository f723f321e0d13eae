using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Transport.Tests;

public sealed class ZmqSocketTests
{
    [Fact]
    public void ReceiveWithoutWaitingReturnsWouldBlockWhenNothingIsQueued()
    {
        using var context = ZmqContext.Create();
        using var sub = ZmqSocket.Create(context, ZmqSocketType.Subscriber);
        sub.Bind($"inproc://empty-{Guid.NewGuid():N}");
        using var message = new ZmqMessage();
        Assert.Equal(ZmqReceiveStatus.WouldBlock, sub.TryReceive(message));
        Assert.Equal(0, message.Size);
    }

    [Fact]
    public void BlockingReceiveEndsWithWouldBlockAfterTheReceiveTimeout()
    {
        using var context = ZmqContext.Create();
        using var sub = ZmqSocket.Create(context, ZmqSocketType.Subscriber);
        sub.SetReceiveTimeout(20);
        sub.Subscribe([]);
        sub.Bind($"inproc://quiet-{Guid.NewGuid():N}");
        using var message = new ZmqMessage();
        Assert.Equal(ZmqReceiveStatus.WouldBlock, sub.TryReceive(message, wait: true));
    }

    [Fact]
    public void RequestAndReplyCarryTheBytesWithoutCopyingOnReceive()
    {
        using var context = ZmqContext.Create();
        var address = $"inproc://echo-{Guid.NewGuid():N}";
        using var rep = ZmqSocket.Create(context, ZmqSocketType.Reply);
        rep.Bind(address);
        using var req = ZmqSocket.Create(context, ZmqSocketType.Request);
        req.SetReceiveTimeout(5000);
        rep.SetReceiveTimeout(5000);
        req.Connect(address);
        using var message = new ZmqMessage();

        Assert.Equal(ZmqSendStatus.Sent, req.TrySend([1, 2, 3, 4], wait: true));
        Assert.Equal(ZmqReceiveStatus.Received, rep.TryReceive(message, wait: true));
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, message.Data.ToArray());
        Assert.Equal(ZmqSendStatus.Sent, rep.TrySend([9, 8], wait: true));
        Assert.Equal(ZmqReceiveStatus.Received, req.TryReceive(message, wait: true));
        Assert.Equal(new byte[] { 9, 8 }, message.Data.ToArray());
    }

    [Fact]
    public void SendingTwiceOnARequestSocketFailsInsteadOfThrowing()
    {
        using var context = ZmqContext.Create();
        using var req = ZmqSocket.Create(context, ZmqSocketType.Request);
        req.Connect($"inproc://nobody-{Guid.NewGuid():N}");
        Assert.Equal(ZmqSendStatus.Sent, req.TrySend([1]));
        Assert.Equal(ZmqSendStatus.Failed, req.TrySend([2]));
        Assert.NotEqual(0, req.LastError);
    }

    [Fact]
    public void MessageLargerThanMaxMessageSizeIsNeverDelivered()
    {
        var prefix = IpcPrefix.Create();
        var address = $"ipc://{prefix}-max";
        try
        {
            using var context = ZmqContext.Create();
            using var sub = ZmqSocket.Create(context, ZmqSocketType.Subscriber);
            sub.SetMaxMessageSize(100);
            sub.SetReconnectInterval(10, 50);
            sub.Subscribe([]);
            sub.Bind(address);
            using var pub = ZmqSocket.Create(context, ZmqSocketType.Publisher);
            pub.SetReconnectInterval(10, 50);
            pub.Connect(address);
            using var message = new ZmqMessage();
            var small = new byte[50];
            var large = new byte[200];
            bool SmallArrives()
            {
                pub.TrySend(small);
                while (sub.TryReceive(message) == ZmqReceiveStatus.Received)
                {
                    Assert.True(message.Size <= 100, $"a {message.Size}-byte message got through a 100-byte limit");
                    if (message.Size == 50)
                        return true;
                }
                return false;
            }
            Assert.True(Eventually.True(SmallArrives), "the publisher never connected");
            pub.TrySend(large);
            var sawSmall = Eventually.True(SmallArrives);
            Assert.True(sawSmall, "small messages must still arrive after oversized ones dropped the connection");
        }
        finally
        {
            File.Delete(prefix + "-max");
        }
    }

    [Fact]
    public void BindingAnAddressInUseNamesTheAddress()
    {
        using var context = ZmqContext.Create();
        var address = $"inproc://taken-{Guid.NewGuid():N}";
        using var first = ZmqSocket.Create(context, ZmqSocketType.Publisher);
        first.Bind(address);
        using var second = ZmqSocket.Create(context, ZmqSocketType.Publisher);
        var error = Assert.Throws<ZmqException>(() => second.Bind(address));
        Assert.Contains(address, error.Message);
    }

    [Fact]
    public void WildcardPortBindReportsTheResolvedLoopbackEndpoint()
    {
        using var context = ZmqContext.Create();
        using var rep = ZmqSocket.Create(context, ZmqSocketType.Reply);
        rep.Bind("tcp://127.0.0.1:*");
        Assert.Matches(@"^tcp://127\.0\.0\.1:\d+$", rep.LastEndpoint);
    }
}
