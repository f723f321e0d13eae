using System.Diagnostics;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.SimServer;

/// <summary>
/// The control channel's request/reply conversation in memory: what a REQ/REP pair does, for one
/// requester (the link's thread) and one replier (the server's thread). One request at a time; each
/// carries a ticket, and a reply counts only for the ticket it answers, so a reply that comes after
/// its requester gave up is never taken for the answer to the next request.
/// </summary>
/// <remarks>
/// Not real-time on the requester's side (it waits for the reply). On the replier's side,
/// <see cref="TryTake"/> costs one volatile read when nothing is pending; taking and answering hold a
/// short lock (a copy of at most <see cref="FirmwareCodec.MaxFrame"/> bytes). Allocates nothing after
/// construction. Never disposed: the event is only ever waited on through its slim path, so it
/// holds no kernel handle, and a replier that still answers after its requester left must not throw.
/// </remarks>
internal sealed class ControlMailbox
{
    private readonly Lock _gate = new();
    private readonly byte[] _request = new byte[FirmwareCodec.MaxFrame];
    private readonly byte[] _reply = new byte[FirmwareCodec.MaxFrame];
    private readonly ManualResetEventSlim _replied = new(false);
    private int _requestLength, _replyLength;
    private long _requestTicket, _replyTicket;
    private volatile bool _pending;

    /// <summary>Whether a request waits to be taken (any thread; a hint that may change at once).</summary>
    public bool Pending => _pending;

    // ---- the requester's side (the link) ---------------------------------------------------------

    /// <summary>Posts a request (at most <see cref="FirmwareCodec.MaxFrame"/> bytes), replacing one not yet taken.</summary>
    /// <returns>The ticket its reply will carry; 0 if the request is too large.</returns>
    public long Post(ReadOnlySpan<byte> request)
    {
        if (request.Length > _request.Length)
            return 0;
        lock (_gate)
        {
            request.CopyTo(_request);
            _requestLength = request.Length;
            _pending = true;
            return ++_requestTicket;
        }
    }

    /// <summary>
    /// Waits until <paramref name="deadline"/> (<see cref="Stopwatch"/> ticks) for the reply to
    /// <paramref name="ticket"/> and copies it into <paramref name="into"/>, or gives up early when
    /// <paramref name="abandoned"/> says no reply can come any more (the replier stopped).
    /// </summary>
    /// <returns>The reply's length; -1 if none came.</returns>
    public int WaitForReply(long ticket, long deadline, Span<byte> into, Func<bool> abandoned)
    {
        while (true)
        {
            // Reset before looking, so an answer given after the look sets the event again.
            _replied.Reset();
            lock (_gate)
            {
                if (_replyTicket == ticket)
                {
                    _reply.AsSpan(0, _replyLength).CopyTo(into);
                    return _replyLength;
                }
            }
            var remaining = deadline - Stopwatch.GetTimestamp();
            if (remaining <= 0 || abandoned())
                return -1;
            _replied.Wait((int)Math.Ceiling(remaining * 1000.0 / Stopwatch.Frequency));
        }
    }

    /// <summary>Withdraws the request <paramref name="ticket"/> if the replier has not taken it (its requester gave up).</summary>
    public void Withdraw(long ticket)
    {
        lock (_gate)
        {
            if (_pending && _requestTicket == ticket)
                _pending = false;
        }
    }

    // ---- the replier's side (the server) ---------------------------------------------------------

    /// <summary>Takes the pending request, if any, copying it into <paramref name="into"/>.</summary>
    /// <returns>The request's length and its <paramref name="ticket"/>; 0 if none is pending.</returns>
    public int TryTake(Span<byte> into, out long ticket)
    {
        ticket = 0;
        if (!_pending)
            return 0;
        lock (_gate)
        {
            if (!_pending)
                return 0;
            _pending = false;
            ticket = _requestTicket;
            _request.AsSpan(0, _requestLength).CopyTo(into);
            return _requestLength;
        }
    }

    /// <summary>Answers the request <paramref name="ticket"/> and wakes its requester.</summary>
    public void Answer(long ticket, ReadOnlySpan<byte> reply)
    {
        if (reply.Length > _reply.Length)
            return;
        lock (_gate)
        {
            reply.CopyTo(_reply);
            _replyLength = reply.Length;
            _replyTicket = ticket;
        }
        _replied.Set();
    }

    /// <summary>Wakes a requester waiting for a reply, so it notices that none can come.</summary>
    public void WakeRequester() => _replied.Set();
}
