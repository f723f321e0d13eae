using System.Diagnostics;
using RobotRuntime.Arm;

namespace RobotRuntime.Transport.Firmware;

/// <summary>
/// The runtime's side of the firmware protocol (firmware-interfaces/PROTOCOL.md) over some carrier of
/// frames: the newest state taken in and checked, link health, commands validated, clipped to the arm's
/// limits, given an expiry on the arm's clock, sealed and numbered, the handshake and claim, control
/// requests and their replies, the event log. A subclass carries the frames: <see cref="ZmqArmLink"/>
/// over ZeroMQ sockets, the simulator's in-process link over in-memory hand-offs. Every link that
/// derives from this class behaves alike on the wire's terms, whatever carries its frames.
/// </summary>
/// <remarks>
/// One thread at a time (the control loop's), except <see cref="TryReadEvent"/>, which any thread
/// may call, and <see cref="Health"/> and the control requests, which an operator's thread may call
/// beside the loop (short locks serialise them). Per-cycle members never block or throw and allocate
/// nothing in steady state: they take in whatever states have arrived, reject and count bad frames
/// (each recorded as an <see cref="ArmLinkEvent"/>), and report a loss once no valid state arrived
/// within the link timeout. A new arm session is noticed from its states, and the next control
/// request re-handshakes.
/// </remarks>
public abstract class FirmwareArmLink : IArmLink, IArmClaim
{
    private readonly byte[] _sendBuffer = new byte[FirmwareCodec.MaxFrame];
    private readonly long _linkTimeoutTicks;
    private readonly ulong _commandLifetimeNanoseconds;
    private readonly byte[]? _secret;
    private readonly bool _takeover;
    private readonly uint _clientId;

    private ArmState _latest;
    private long _latestArrival;
    private bool _haveState;
    private ArmLinkStatus _status = ArmLinkStatus.Connecting;
    private ArmDescription? _description;
    private uint _commandSequence;
    private uint _controlSequence;
    // The key this link seals with (version 2): derived from the shared secret, the arm's session and
    // this link's client id when the claim succeeds; all zero before.
    private readonly byte[] _controllerKey = new byte[FirmwareCodec.KeySize];
    private bool _claimed;

    private long _armRestarts, _linkLosses, _statesAccepted, _framesRejected, _commandsSent, _controlResets;
    private readonly long[] _stateRejections = new long[FirmwareCodec.StatusCount];

    private readonly Lock _eventGate = new();
    // The state channel and the newest state are shared by the control loop (Send, TryGetLatestState)
    // and the operator's thread (Health, Request): one at a time. Held only for the time a pump takes.
    private readonly Lock _stateGate = new();
    // One control request at a time (request/reply is lockstep): an e-stop relay and an operator's reset may ask together.
    private readonly Lock _controlGate = new();
    private readonly ArmLinkEvent[] _events;
    private int _eventStart, _eventCount;
    private long _eventsDropped;
    private bool _disposed;

    /// <summary>A link that has received nothing yet: connecting, no description, every counter 0.</summary>
    /// <param name="linkTimeout">The link is lost when no valid state arrives for this long (positive).</param>
    /// <param name="commandLifetime">A command expires this long after it is sent, estimated on the arm's clock (positive).</param>
    /// <param name="secret">The secret shared with the arm (<see cref="FirmwareCodec.KeySize"/> bytes); null: an observer that
    /// reads states but cannot claim, command or control the arm.</param>
    /// <param name="takeover">Claim the arm even while another controller's claim is live.</param>
    /// <param name="eventLogCapacity">How many events <see cref="TryReadEvent"/> keeps (at least 1).</param>
    /// <exception cref="ArgumentException">A value is out of range (the message names it).</exception>
    /// <remarks>Setup only.</remarks>
    protected FirmwareArmLink(TimeSpan linkTimeout, TimeSpan commandLifetime, byte[]? secret, bool takeover, int eventLogCapacity)
    {
        if (linkTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"the link timeout must be positive, got {linkTimeout}", nameof(linkTimeout));
        if (commandLifetime <= TimeSpan.Zero)
            throw new ArgumentException($"the command lifetime must be positive, got {commandLifetime}", nameof(commandLifetime));
        if (secret is { } s && s.Length != FirmwareCodec.KeySize)
            throw new ArgumentException($"the arm's secret must be {FirmwareCodec.KeySize} bytes, got {s.Length}", nameof(secret));
        if (eventLogCapacity < 1)
            throw new ArgumentException($"the event log capacity must be at least 1, got {eventLogCapacity}", nameof(eventLogCapacity));
        _linkTimeoutTicks = (long)(linkTimeout.TotalSeconds * Stopwatch.Frequency);
        _commandLifetimeNanoseconds = (ulong)(commandLifetime.Ticks * 100);
        _secret = secret is null ? null : (byte[])secret.Clone();
        _takeover = takeover;
        _events = new ArmLinkEvent[eventLogCapacity];
        _clientId = (uint)Random.Shared.Next(1, int.MaxValue);
    }

    // ---- what a carrier of frames provides -------------------------------------------------------

    /// <summary>Takes the next frame that arrived on the state channel, if any, without blocking.</summary>
    /// <param name="frame">The frame; valid until the next call.</param>
    /// <remarks>Called under the state lock, from the control loop's or the operator's thread. Real-time.</remarks>
    protected abstract bool TryReceiveState(out ReadOnlySpan<byte> frame);

    /// <summary>Waits up to <paramref name="milliseconds"/> for a frame to arrive on the state channel.</summary>
    /// <returns>True if one is there to be taken.</returns>
    /// <remarks>Called under the state lock by <see cref="WaitForState"/>. Blocks up to the timeout.</remarks>
    protected abstract bool WaitForStateFrame(int milliseconds);

    /// <summary>Called on every pump while the link is lost (no valid state within the link timeout).</summary>
    /// <param name="now">Now, <see cref="Stopwatch"/> ticks.</param>
    /// <param name="lastArrival">When the newest valid state arrived, <see cref="Stopwatch"/> ticks.</param>
    /// <remarks>Called under the state lock. A carrier may restart its state channel here (allocating only while lost).</remarks>
    protected virtual void OnLost(long now, long lastArrival)
    {
    }

    /// <summary>Hands a command frame to the carrier without blocking; false if it could not be queued.</summary>
    /// <remarks>Called under the state lock by <see cref="Send"/>. Real-time: no allocation, no blocking, no throw.</remarks>
    protected abstract bool TrySendCommand(ReadOnlySpan<byte> frame);

    /// <summary>Queues a control request without blocking; false if the request channel cannot take it now.</summary>
    /// <remarks>Called under the control lock.</remarks>
    protected abstract bool TrySendControl(ReadOnlySpan<byte> request);

    /// <summary>Waits until <paramref name="deadline"/> (<see cref="Stopwatch"/> ticks) for the reply to the request just sent.</summary>
    /// <returns>True if it arrived; it is then <see cref="ControlReply"/>.</returns>
    /// <remarks>Called under the control lock. Blocks up to the deadline.</remarks>
    protected abstract bool TryReceiveControl(long deadline);

    /// <summary>The reply <see cref="TryReceiveControl"/> received; valid until the next request.</summary>
    protected abstract ReadOnlySpan<byte> ControlReply { get; }

    /// <summary>
    /// Makes the request channel ready for the next request after a reply did not come (a request/reply
    /// conversation waits for its reply forever otherwise: a ZeroMQ REQ socket is closed and reopened).
    /// </summary>
    /// <remarks>Called under the control lock.</remarks>
    protected abstract void ResetControlChannel();

    /// <summary>Where control requests go, for messages ("tcp://127.0.0.1:5603", "the in-process sim-server").</summary>
    protected abstract string ControlPeer { get; }

    /// <summary>Releases the carrier (sockets, hand-offs); called once, by <see cref="Dispose()"/>.</summary>
    protected abstract void DisposeCarrier();

    // ---- the link ------------------------------------------------------------------------------

    /// <inheritdoc />
    public ArmDescription? Description => _description;

    /// <inheritdoc />
    public ArmLinkHealth Health
    {
        get
        {
            lock (_stateGate)
            {
                var now = Stopwatch.GetTimestamp();
                Pump(now);
                return new ArmLinkHealth(_status, AgeAt(now), _haveState ? _latest.Session : 0, _armRestarts, _linkLosses,
                    _statesAccepted, _framesRejected, _commandsSent);
            }
        }
    }

    /// <summary>State frames rejected for <paramref name="reason"/> since the link was made, as of the last
    /// call that took in arrived states (<see cref="Health"/>, <see cref="TryGetLatestState"/>, <see cref="Send"/>).</summary>
    /// <remarks>Real-time; any thread.</remarks>
    public long StateFramesRejected(FrameStatus reason) =>
        (uint)reason < FirmwareCodec.StatusCount ? Interlocked.Read(ref _stateRejections[(int)reason]) : 0;

    /// <summary>Times a control request got no reply in time (or could not be queued) and the request channel was reset.</summary>
    public long ControlResets => _controlResets;

    /// <summary>Events that did not fit in the event log (the oldest are dropped).</summary>
    public long EventsDropped => Interlocked.Read(ref _eventsDropped);

    /// <summary>This link's client id (random per link, non-zero): with the shared secret and the arm's session it makes the link's controller key.</summary>
    public uint ClientId => _clientId;

    /// <summary>Whether this link holds the arm's claim (its last handshake claimed it; a link without the arm's secret never does).</summary>
    public bool Claimed => _claimed;

    /// <summary>Takes the oldest unread event from the link's event log.</summary>
    /// <remarks>Any thread; no allocation; never blocks for long (a short lock).</remarks>
    public bool TryReadEvent(out ArmLinkEvent linkEvent)
    {
        lock (_eventGate)
        {
            if (_eventCount == 0)
            {
                linkEvent = default;
                return false;
            }
            linkEvent = _events[_eventStart];
            _eventStart = (_eventStart + 1) % _events.Length;
            _eventCount--;
            return true;
        }
    }

    /// <inheritdoc />
    public bool TryGetLatestState(TimeSpan maxAge, out ArmState state, out TimeSpan age)
    {
        lock (_stateGate)
        {
            var now = Stopwatch.GetTimestamp();
            Pump(now);
            state = _latest;
            age = AgeAt(now);
            return _haveState && age <= maxAge;
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for a state from the arm to arrive, then takes in
    /// everything that has. For tools and benchmarks; a control loop polls <see cref="TryGetLatestState"/>.
    /// </summary>
    /// <returns>True if at least one frame arrived on the state channel (valid or not).</returns>
    /// <remarks>Blocks up to the timeout; no allocation, no throw.</remarks>
    public bool WaitForState(TimeSpan timeout)
    {
        bool arrived;
        lock (_stateGate)
            arrived = WaitForStateFrame((int)Math.Ceiling(timeout.TotalMilliseconds));
        lock (_stateGate)
            Pump(Stopwatch.GetTimestamp());
        return arrived;
    }

    /// <inheritdoc />
    public ArmSendStatus Send(in ArmCommand command, out ArmCommand sent)
    {
        lock (_stateGate)
            return SendLocked(in command, out sent);
    }

    private ArmSendStatus SendLocked(in ArmCommand command, out ArmCommand sent)
    {
        var now = Stopwatch.GetTimestamp();
        Pump(now);
        sent = command;
        sent.Sequence = 0;
        if (_status != ArmLinkStatus.Up)
            return ArmSendStatus.LinkDown;
        var description = _description;
        if (description is null)
            return ArmSendStatus.NoDescription;
        if (!Validate(command, description))
            return ArmSendStatus.InvalidCommand;

        var clipped = Clip(ref sent, description);
        var sequence = _commandSequence + 1;
        // The arm's clock now ≈ its timestamp on the newest state + time since that state arrived.
        var sinceState = (ulong)TicksToNanoseconds(now - _latestArrival);
        var expiresAt = _latest.ArmTimeNanoseconds + sinceState + _commandLifetimeNanoseconds;
        sent.Sequence = sequence;
        var length = FirmwareCodec.EncodeCommand(_sendBuffer, sequence, MonotonicNanoseconds(now), _latest.Session, expiresAt, sent, _controllerKey);
        if (length == 0 || !TrySendCommand(_sendBuffer.AsSpan(0, length)))
        {
            sent = command;
            sent.Sequence = 0;
            return ArmSendStatus.TransportError;
        }
        _commandSequence = sequence;
        _commandsSent++;
        return clipped ? ArmSendStatus.SentClipped : ArmSendStatus.Sent;
    }

    /// <inheritdoc />
    public ArmControlResult Handshake(TimeSpan timeout)
    {
        lock (_controlGate)
            return HandshakeLocked(timeout);
    }

    private ArmControlResult HandshakeLocked(TimeSpan timeout)
    {
        var sequence = ++_controlSequence;
        var length = FirmwareCodec.EncodeHello(_sendBuffer, sequence, MonotonicNanoseconds(Stopwatch.GetTimestamp()),
            new HelloMessage(FirmwareCodec.Version, FirmwareCodec.Version, _clientId));
        var exchange = Exchange(length, timeout, "hello");
        if (!exchange.Succeeded)
            return exchange;
        var reply = ControlReply;
        var status = FirmwareCodec.DecodeDescription(reply, out var header, out var description, out var claimStatus);
        if (status == FrameStatus.Ok && description is not null)
        {
            _description = description;
            // Version 2: sequences rise over the whole arm session, whoever sends; start above the arm's.
            _commandSequence = Math.Max(_commandSequence, claimStatus.LastCommandSequence);
            _controlSequence = Math.Max(_controlSequence, claimStatus.LastControlSequence);
            return Claim(description.Session, claimStatus, timeout);
        }
        // An ACK answers this HELLO only if it names it: its sequence and its type (PROTOCOL.md §5.2).
        if (FirmwareCodec.DecodeAck(reply, out _, out var ack) == FrameStatus.Ok && ack.RequestSequence == sequence
            && ack.RequestType == FirmwareMessageType.Hello)
            return new ArmControlResult(ArmControlStatus.Refused, ack.Status,
                $"hello refused by the arm: {ack.Result} (this runtime speaks protocol version {FirmwareCodec.Version})");
        return new ArmControlResult(ArmControlStatus.BadReply, ArmStatusFlags.None,
            $"reply to hello is not a valid description ({header.Type}): {FirmwareCodec.StatusName(status)}: {FirmwareCodec.Describe(status)}");
    }

    /// <summary>Claims the arm for this link (version 2): a CLAIM sealed with this link's controller key.</summary>
    private ArmControlResult Claim(uint session, in ClaimStatus claimStatus, TimeSpan timeout)
    {
        _claimed = false;
        Array.Clear(_controllerKey);
        if (_secret is not { } secret)
            return new ArmControlResult(ArmControlStatus.Ok, ArmStatusFlags.None, ""); // an observer: it reads states, it cannot command
        Span<byte> key = stackalloc byte[FirmwareCodec.KeySize];
        FirmwareCodec.ControllerKey(secret, session, _clientId, key);
        AckMessage ack;
        for (var attempt = 1; ; attempt++)
        {
            var sequence = ++_controlSequence;
            var length = FirmwareCodec.EncodeClaim(_sendBuffer, sequence, MonotonicNanoseconds(Stopwatch.GetTimestamp()),
                new ClaimMessage(session, _clientId, _takeover), key);
            var exchange = Exchange(length, timeout, "claim");
            if (!exchange.Succeeded)
                return exchange;
            var status = FirmwareCodec.DecodeAck(ControlReply, out _, out ack);
            if (status != FrameStatus.Ok || ack.RequestSequence != sequence || ack.RequestType != FirmwareMessageType.Claim)
                return new ArmControlResult(ArmControlStatus.BadReply, ArmStatusFlags.None,
                    $"reply to claim is not its ack: {FirmwareCodec.StatusName(status)}");
            // Another controller's request took the number between our HELLO and this CLAIM: read where
            // the arm's control sequence stands now and claim above it (a few times at most).
            if (attempt < 4 && IsSequenceRace(in ack) && ResyncControlSequence(timeout))
                continue;
            break;
        }
        switch (ack.Result)
        {
            case AckResult.Ok:
                key.CopyTo(_controllerKey);
                _claimed = true;
                return new ArmControlResult(ArmControlStatus.Ok, ack.Status, "");
            case AckResult.Claimed:
                return new ArmControlResult(ArmControlStatus.Refused, ack.Status,
                    $"the arm is held by another controller (client {claimStatus.ClaimedBy:X8}: another rr run, or a tool with the arm's key); " +
                    $"stop it, or take the arm over deliberately (rr run --takeover)");
            case AckResult.BadRequest when ack.Reason == FrameStatus.BadAuth:
                return new ArmControlResult(ArmControlStatus.Refused, ack.Status,
                    "the arm does not accept this runtime's key: arm.key is not the secret the arm was given");
            default:
                return new ArmControlResult(ArmControlStatus.Refused, ack.Status,
                    $"the arm refused the claim: {ack.Result} ({FirmwareCodec.StatusName(ack.Reason)})");
        }
    }

    /// <summary>Gives the arm up (a CLAIM with the release flag), so that the next controller need not wait for the claim's lease; for a clean exit.</summary>
    /// <remarks>Not real-time: blocks up to <paramref name="timeout"/>.</remarks>
    public ArmControlResult Release(TimeSpan timeout)
    {
        lock (_controlGate)
        {
            if (!_claimed || _description is null)
                return new ArmControlResult(ArmControlStatus.Ok, ArmStatusFlags.None, "");
            var sequence = ++_controlSequence;
            var length = FirmwareCodec.EncodeClaim(_sendBuffer, sequence, MonotonicNanoseconds(Stopwatch.GetTimestamp()),
                new ClaimMessage(_description.Session, _clientId, Takeover: false, Release: true), _controllerKey);
            var exchange = Exchange(length, timeout, "release");
            _claimed = false;
            return exchange;
        }
    }

    /// <inheritdoc />
    public ArmControlResult Request(ArmControlRequest request, TimeSpan timeout)
    {
        lock (_controlGate)
            return RequestLocked(request, timeout);
    }

    private ArmControlResult RequestLocked(ArmControlRequest request, TimeSpan timeout)
    {
        var started = Stopwatch.GetTimestamp();
        bool haveState;
        uint latestSession;
        lock (_stateGate)
        {
            Pump(started);
            haveState = _haveState;
            latestSession = _latest.Session;
        }
        // After an arm restart (or before any handshake), agree on the protocol again first.
        if (_description is null || (haveState && _description.Session != latestSession))
        {
            var handshake = HandshakeLocked(timeout);
            if (!handshake.Succeeded && request != ArmControlRequest.EmergencyStop)
                return handshake;
            timeout -= Stopwatch.GetElapsedTime(started);
            if (timeout <= TimeSpan.Zero)
                timeout = TimeSpan.FromMilliseconds(1);
        }
        var type = request switch
        {
            ArmControlRequest.Heartbeat => FirmwareMessageType.Heartbeat,
            ArmControlRequest.Enable => FirmwareMessageType.Enable,
            ArmControlRequest.Disable => FirmwareMessageType.Disable,
            ArmControlRequest.EmergencyStop => FirmwareMessageType.EmergencyStop,
            ArmControlRequest.Reset => FirmwareMessageType.Reset,
            _ => throw new ArgumentOutOfRangeException(nameof(request), request, "not a control request"),
        };
        var session = haveState ? latestSession : _description?.Session ?? 0;
        var name = request.ToString();
        AckMessage ack;
        for (var attempt = 1; ; attempt++)
        {
            var sequence = ++_controlSequence;
            var length = FirmwareCodec.EncodeSessionRequest(_sendBuffer, type, sequence, MonotonicNanoseconds(Stopwatch.GetTimestamp()), session, _controllerKey);
            var exchange = Exchange(length, timeout, name);
            if (!exchange.Succeeded)
                return exchange;
            var status = FirmwareCodec.DecodeAck(ControlReply, out _, out ack);
            if (status != FrameStatus.Ok)
                return new ArmControlResult(ArmControlStatus.BadReply, ArmStatusFlags.None,
                    $"reply to {name} is not a valid ack: {FirmwareCodec.StatusName(status)}: {FirmwareCodec.Describe(status)}");
            if (ack.RequestSequence != sequence || ack.RequestType != type)
                return new ArmControlResult(ArmControlStatus.BadReply, ack.Status,
                    $"reply answers request {ack.RequestSequence} ({ack.RequestType}), expected {sequence} ({type})");
            // The arm's control sequence is shared by every controller that holds the key (PROTOCOL.md §4):
            // another one's request (a refused CLAIM, say) may have taken our next number. Read where it
            // stands and send once more above it; the request itself was not acted on.
            if (attempt < 2 && IsSequenceRace(in ack) && ResyncControlSequence(timeout))
                continue;
            break;
        }
        return ack.Result switch
        {
            AckResult.Ok => new ArmControlResult(ArmControlStatus.Ok, ack.Status, ""),
            AckResult.BadRequest when ack.Reason == FrameStatus.BadAuth => new ArmControlResult(ArmControlStatus.Refused, ack.Status,
                $"the arm refused {name}: this runtime no longer holds the arm (another controller took it over, or the claim was lost); reconnect to claim it again"),
            AckResult.BadRequest => new ArmControlResult(ArmControlStatus.BadRequest, ack.Status,
                $"the arm rejected the {name} request: {FirmwareCodec.StatusName(ack.Reason)}: {FirmwareCodec.Describe(ack.Reason)}"),
            _ => new ArmControlResult(ArmControlStatus.Refused, ack.Status, $"the arm refused {name}: {ack.Result}"),
        };
    }

    private static bool IsSequenceRace(in AckMessage ack) =>
        ack.Result == AckResult.BadRequest && ack.Reason is FrameStatus.SequenceRepeat or FrameStatus.SequenceBackwards;

    /// <summary>A HELLO (which changes nothing on the arm) to read the arm's recorded control sequence and move ours above it.</summary>
    private bool ResyncControlSequence(TimeSpan timeout)
    {
        var length = FirmwareCodec.EncodeHello(_sendBuffer, ++_controlSequence, MonotonicNanoseconds(Stopwatch.GetTimestamp()),
            new HelloMessage(FirmwareCodec.Version, FirmwareCodec.Version, _clientId));
        if (!Exchange(length, timeout, "hello").Succeeded
            || FirmwareCodec.DecodeDescription(ControlReply, out _, out var description, out var claimStatus) != FrameStatus.Ok || description is null)
            return false;
        _controlSequence = Math.Max(_controlSequence, claimStatus.LastControlSequence);
        return true;
    }

    /// <summary>Asks the arm for its fault report (what it applied, rejected and why, watchdog trips).</summary>
    /// <remarks>Not real-time: blocks up to <paramref name="timeout"/>; allocates the report.</remarks>
    public ArmControlResult QueryFaults(TimeSpan timeout, out FaultReport? report)
    {
        lock (_controlGate)
            return QueryFaultsLocked(timeout, out report);
    }

    private ArmControlResult QueryFaultsLocked(TimeSpan timeout, out FaultReport? report)
    {
        report = null;
        var sequence = ++_controlSequence;
        var length = FirmwareCodec.EncodeFaultQuery(_sendBuffer, sequence, MonotonicNanoseconds(Stopwatch.GetTimestamp()));
        var exchange = Exchange(length, timeout, "fault query");
        if (!exchange.Succeeded)
            return exchange;
        var status = FirmwareCodec.DecodeFaultReport(ControlReply, out _, out report);
        if (status == FrameStatus.Ok)
            return new ArmControlResult(ArmControlStatus.Ok, report!.Status, "");
        // An ACK naming this FAULT_QUERY is a valid answer too (§5.2): the arm rejected the query, and says why.
        if (FirmwareCodec.DecodeAck(ControlReply, out _, out var ack) == FrameStatus.Ok && ack.RequestSequence == sequence
            && ack.RequestType == FirmwareMessageType.FaultQuery)
            return new ArmControlResult(ArmControlStatus.Refused, ack.Status,
                $"the arm refused the fault query: {ack.Result}{(ack.Reason != FrameStatus.Ok ? $" ({FirmwareCodec.StatusName(ack.Reason)}: {FirmwareCodec.Describe(ack.Reason)})" : "")}");
        return new ArmControlResult(ArmControlStatus.BadReply, ArmStatusFlags.None,
            $"reply to fault query is not a valid fault report: {FirmwareCodec.StatusName(status)}: {FirmwareCodec.Describe(status)}");
    }

    /// <summary>Releases the carrier. Does not release the arm's claim (see <see cref="Release"/>): it lapses after its lease.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        DisposeCarrier();
        GC.SuppressFinalize(this);
    }

    // ---- state channel -------------------------------------------------------------------------

    private void Pump(long now)
    {
        while (TryReceiveState(out var frame))
            Accept(frame, now);
        UpdateStatus(now);
    }

    private void Accept(ReadOnlySpan<byte> frame, long now)
    {
        var status = FirmwareCodec.DecodeState(frame, out var header, out var state);
        if (status == FrameStatus.Ok && _haveState && state.Session == _latest.Session && state.Sequence <= _latest.Sequence)
            status = state.Sequence == _latest.Sequence ? FrameStatus.SequenceRepeat : FrameStatus.SequenceBackwards;
        if (status != FrameStatus.Ok)
        {
            _framesRejected++;
            Interlocked.Increment(ref _stateRejections[(int)status]);
            Record(new ArmLinkEvent(now, ArmLinkEventKind.FrameRejected, ArmLinkChannel.State, status, header.Sequence, frame.Length,
                _haveState ? _latest.Session : 0));
            return;
        }
        if (_haveState && state.Session != _latest.Session)
        {
            _armRestarts++;
            Record(new ArmLinkEvent(now, ArmLinkEventKind.ArmRestarted, ArmLinkChannel.State, FrameStatus.Ok, state.Sequence, frame.Length, state.Session));
        }
        _latest = state;
        _latestArrival = now;
        _haveState = true;
        _statesAccepted++;
    }

    private void UpdateStatus(long now)
    {
        if (_status == ArmLinkStatus.Lost)
            OnLost(now, _latestArrival);
        var next = !_haveState ? ArmLinkStatus.Connecting
            : now - _latestArrival > _linkTimeoutTicks ? ArmLinkStatus.Lost : ArmLinkStatus.Up;
        if (next == _status)
            return;
        if (next == ArmLinkStatus.Lost)
        {
            _linkLosses++;
            Record(new ArmLinkEvent(now, ArmLinkEventKind.LinkLost, ArmLinkChannel.State, FrameStatus.Ok, _latest.Sequence, 0, _latest.Session));
        }
        else if (next == ArmLinkStatus.Up && _status == ArmLinkStatus.Lost)
        {
            Record(new ArmLinkEvent(now, ArmLinkEventKind.LinkRestored, ArmLinkChannel.State, FrameStatus.Ok, _latest.Sequence, 0, _latest.Session));
        }
        _status = next;
    }

    private TimeSpan AgeAt(long now) =>
        _haveState ? TimeSpan.FromSeconds((double)(now - _latestArrival) / Stopwatch.Frequency) : TimeSpan.MaxValue;

    private void Record(in ArmLinkEvent linkEvent)
    {
        lock (_eventGate)
        {
            if (_eventCount == _events.Length)
            {
                _eventStart = (_eventStart + 1) % _events.Length;
                _eventCount--;
                _eventsDropped++;
            }
            _events[(_eventStart + _eventCount) % _events.Length] = linkEvent;
            _eventCount++;
        }
    }

    /// <summary>The link timeout in <see cref="Stopwatch"/> ticks.</summary>
    protected long LinkTimeoutTicks => _linkTimeoutTicks;

    // ---- command channel -----------------------------------------------------------------------

    private static bool Validate(in ArmCommand command, ArmDescription description)
    {
        if (!description.SupportedModes.Contains(command.Mode))
            return false;
        var expectedCount = command.Mode == ArmCommandMode.EndEffectorDelta ? 6 : description.JointCount;
        if (command.ValueCount != expectedCount || !double.IsFinite(command.GripperTarget))
            return false;
        for (var i = 0; i < command.ValueCount; i++)
            if (!double.IsFinite(command.Values[i]))
                return false;
        return true;
    }

    private static bool Clip(ref ArmCommand command, ArmDescription description)
    {
        var clipped = false;
        var gripper = Math.Clamp(command.GripperTarget, 0.0, 1.0);
        clipped |= gripper != command.GripperTarget;
        command.GripperTarget = gripper;
        switch (command.Mode)
        {
            case ArmCommandMode.JointPosition:
                for (var j = 0; j < command.ValueCount; j++)
                {
                    var limits = description.Joints[j];
                    var v = Math.Clamp(command.Values[j], limits.PositionMin, limits.PositionMax);
                    clipped |= v != command.Values[j];
                    command.Values[j] = v;
                }
                break;
            case ArmCommandMode.JointVelocity:
                for (var j = 0; j < command.ValueCount; j++)
                {
                    var limit = description.Joints[j].VelocityMax;
                    var v = Math.Clamp(command.Values[j], -limit, limit);
                    clipped |= v != command.Values[j];
                    command.Values[j] = v;
                }
                break;
            case ArmCommandMode.EndEffectorDelta:
                clipped |= ScaleToNorm(ref command.Values, 0, description.EndEffectorMaxTranslation);
                clipped |= ScaleToNorm(ref command.Values, 3, description.EndEffectorMaxRotation);
                break;
        }
        return clipped;
    }

    private static bool ScaleToNorm(ref JointVector values, int start, double maxNorm)
    {
        var norm = Math.Sqrt(values[start] * values[start] + values[start + 1] * values[start + 1] + values[start + 2] * values[start + 2]);
        if (norm <= maxNorm)
            return false;
        var scale = maxNorm / norm;
        for (var i = start; i < start + 3; i++)
            values[i] *= scale;
        return true;
    }

    // ---- control channel -----------------------------------------------------------------------

    /// <summary>
    /// Sends the first <paramref name="length"/> bytes of the send buffer and waits for one reply
    /// (<see cref="ControlReply"/>). On a timeout the request channel, now stuck waiting for a reply
    /// that may never come, is reset, so the next request can go out.
    /// </summary>
    private ArmControlResult Exchange(int length, TimeSpan timeout, string what)
    {
        if (length == 0)
            return new ArmControlResult(ArmControlStatus.BadReply, ArmStatusFlags.None, $"{what} could not be encoded");
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        if (!TrySendControl(_sendBuffer.AsSpan(0, length)))
        {
            ResetControl();
            if (!TrySendControl(_sendBuffer.AsSpan(0, length)))
                return new ArmControlResult(ArmControlStatus.TimedOut, ArmStatusFlags.None,
                    $"{what} could not be queued on {ControlPeer}");
        }
        if (TryReceiveControl(deadline))
            return new ArmControlResult(ArmControlStatus.Ok, ArmStatusFlags.None, "");
        ResetControl();
        return new ArmControlResult(ArmControlStatus.TimedOut, ArmStatusFlags.None,
            $"no reply to {what} from {ControlPeer} within {timeout.TotalMilliseconds:0} ms");
    }

    private void ResetControl()
    {
        _controlResets++;
        bool haveState;
        uint session;
        lock (_stateGate)
        {
            haveState = _haveState;
            session = _latest.Session;
        }
        Record(new ArmLinkEvent(Stopwatch.GetTimestamp(), ArmLinkEventKind.ControlTimedOut, ArmLinkChannel.Control, FrameStatus.Ok,
            _controlSequence, 0, haveState ? session : 0));
        ResetControlChannel();
    }

    // ---- clocks --------------------------------------------------------------------------------

    private static long TicksToNanoseconds(long ticks) =>
        Stopwatch.Frequency == 1_000_000_000 ? ticks : (long)(ticks * (1e9 / Stopwatch.Frequency));

    private static ulong MonotonicNanoseconds(long timestamp) => (ulong)TicksToNanoseconds(timestamp);
}
