using RobotRuntime.Cameras;

namespace RobotRuntime.Vision.Tests;

public sealed class LatestFrameExchangeTests
{
    private static void Publish(LatestFrameExchange exchange, long sequence)
    {
        var frame = exchange.BackBuffer;
        frame.Sequence = sequence;
        frame.Pixels.AsSpan().Fill((byte)sequence);
        exchange.Publish();
    }

    [Fact]
    public void TheReaderGetsTheNewestFrameAndNeverAnOlderOne()
    {
        var exchange = new LatestFrameExchange(4, 4);
        Assert.False(exchange.TryTake(out _));

        Publish(exchange, 1);
        Publish(exchange, 2);
        Publish(exchange, 3);

        Assert.True(exchange.TryTake(out var frame));
        Assert.Equal(3, frame.Sequence);
        Assert.False(exchange.TryTake(out frame));
        Assert.Equal(3, frame.Sequence); // the last frame taken stays readable
    }

    [Fact]
    public void UnderConcurrencyFramesArriveInOrderAndWhole()
    {
        // Frames big enough that filling one takes a while, so reads overlap writes.
        var exchange = new LatestFrameExchange(64, 64);
        const int count = 100_000;
        var writer = new Thread(() =>
        {
            for (var i = 1; i <= count; i++)
                Publish(exchange, i);
        });
        writer.Start();
        long last = 0, taken = 0;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (last < count && DateTime.UtcNow < deadline)
        {
            if (!exchange.TryTake(out var frame))
                continue;
            Assert.True(frame.Sequence > last, $"sequence went from {last} to {frame.Sequence}");
            // A frame is whole: every pixel carries its own sequence number.
            Assert.True(frame.Pixels.AsSpan().IndexOfAnyExcept((byte)frame.Sequence) < 0, $"frame {frame.Sequence} is torn");
            last = frame.Sequence;
            taken++;
        }
        writer.Join();
        // How many frames the reader saw depends on scheduling; that the last one arrives does not.
        Assert.Equal(count, last);
        Assert.InRange(taken, 1, count);
    }

    [Fact]
    public void WaitingForAFreshFrameEndsWhenOneIsPublished()
    {
        var exchange = new LatestFrameExchange(2, 2);
        Assert.False(exchange.WaitForFresh(TimeSpan.FromMilliseconds(20)));
        var publisher = new Thread(() => { Thread.Sleep(50); Publish(exchange, 9); });
        publisher.Start();
        Assert.True(exchange.WaitForFresh(TimeSpan.FromSeconds(10)));
        Assert.True(exchange.TryTake(out var frame));
        Assert.Equal(9, frame.Sequence);
        publisher.Join();
    }
}
