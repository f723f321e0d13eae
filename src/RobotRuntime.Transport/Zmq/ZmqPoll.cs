namespace RobotRuntime.Transport.Zmq;

/// <summary>Waits on several sockets at once (<c>zmq_poll</c>), for loops that serve more than one socket.</summary>
public static unsafe class ZmqPoll
{
    /// <summary>Most sockets one call waits on.</summary>
    public const int MaxSockets = 8;

    /// <summary>
    /// Waits up to <paramref name="timeoutMilliseconds"/> (0: just look) until at least one of
    /// <paramref name="sockets"/> has a message to read.
    /// </summary>
    /// <returns>A bit mask: bit i is set when <c>sockets[i]</c> is readable; 0 after the timeout, or
    /// when a signal (EINTR) ended the wait early.</returns>
    /// <exception cref="ArgumentException">More than <see cref="MaxSockets"/> sockets.</exception>
    /// <remarks>Blocks up to the timeout; no allocation. Every socket must belong to the calling thread.</remarks>
    public static int WaitReadable(ReadOnlySpan<ZmqSocket> sockets, int timeoutMilliseconds)
    {
        if (sockets.Length > MaxSockets)
            throw new ArgumentException($"at most {MaxSockets} sockets per poll, got {sockets.Length}", nameof(sockets));
        var items = stackalloc ZmqNative.PollItem[MaxSockets];
        var referenced = 0;
        try
        {
            for (; referenced < sockets.Length; referenced++)
            {
                var added = false;
                sockets[referenced].DangerousAddRef(ref added);
                items[referenced] = new ZmqNative.PollItem { Socket = sockets[referenced].DangerousGetHandle(), Events = ZmqNative.PollIn };
            }
            if (ZmqNative.Poll(items, sockets.Length, timeoutMilliseconds) <= 0)
                return 0;
            var mask = 0;
            for (var i = 0; i < sockets.Length; i++)
            {
                if ((items[i].ReturnedEvents & ZmqNative.PollIn) != 0)
                    mask |= 1 << i;
            }
            return mask;
        }
        finally
        {
            for (var i = 0; i < referenced; i++)
                sockets[i].DangerousRelease();
        }
    }
}
