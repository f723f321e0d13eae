using System.Diagnostics;
using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Transport.Tests;

/// <summary>
/// A controller made of raw frames, for tests of an arm (the reference arm, sim-server) against PROTOCOL.md: its
/// own REQ, PUB and SUB sockets, client id and sequence numbers, so a test sends exactly the frame a rule is about
/// and reads the arm's reply and states as the arm sent them. Not thread-safe; one per test.
/// </summary>
internal sealed class RawArmController : IDisposable
{
    private readonly byte[] _secret;
    private readonly ZmqContext _context;
    private readonly ZmqSocket _control;
    private readonly ZmqSocket _command;
    private readonly ZmqSocket _state;
    private readonly ZmqMessage _reply = new();
    private readonly ZmqMessage _stateMessage = new();

    /// <summary>Connects to the arm at <paramref name="arm"/>'s addresses; nothing is sent until a test sends it.</summary>
    /// <param name="arm">The arm's three addresses and the secret it shares with its operator.</param>
    /// <param name="clientId">This controller's client id (non-zero): what its CLAIM names and its key is bound to.</param>
    public RawArmController(ArmAddresses arm, uint clientId = 0xC0DE0001)
    {
        _secret = arm.Secret;
        ClientId = clientId;
        _context = ZmqContext.Create();
        _control = ZmqSocket.Create(_context, ZmqSocketType.Request);
        _control.SetReceiveTimeout(5000);
        _control.Connect(arm.Control);
        _command = ZmqSocket.Create(_context, ZmqSocketType.Publisher);
        _command.Connect(arm.Command);
        // Every state, in order (no CONFLATE here): tests look at each state after an event.
        _state = ZmqSocket.Create(_context, ZmqSocketType.Subscriber);
        _state.Subscribe([]);
        _state.SetReceiveTimeout(1000);
        _state.Connect(arm.State);
    }

    public uint ClientId { get; }

    /// <summary>The arm session, from the last DESCRIPTION.</summary>
    public uint Session { get; private set; }

    /// <summary>The arm's last DESCRIPTION (set by <see cref="Hello"/>); null before the first.</summary>
    public ArmDescription? Description { get; private set; }

    /// <summary>This controller's key on <see cref="Session"/> (set by <see cref="Hello"/>).</summary>
    public byte[] Key { get; private set; } = [];

    /// <summary>The last control sequence this controller used; the next request uses one more.</summary>
    public uint ControlSequence { get; set; }

    /// <summary>The last command sequence this controller used; the next command uses one more.</summary>
    public uint CommandSequence { get; set; }

    /// <summary>The newest state read so far (its <see cref="ArmState.ArmTimeNanoseconds"/> dates fresh commands).</summary>
    public ArmState Latest { get; private set; }

    /// <summary>The arm's clock when it sent its last reply (the reply header's timestamp_ns).</summary>
    public ulong LastReplyTimestamp { get; private set; }

    /// <summary>Sends one request frame and returns the reply's bytes.</summary>
    public byte[] Exchange(ReadOnlySpan<byte> frame)
    {
        Assert.Equal(ZmqSendStatus.Sent, _control.TrySend(frame, wait: true));
        Assert.Equal(ZmqReceiveStatus.Received, _control.TryReceive(_reply, wait: true));
        Assert.Equal(FrameStatus.Ok, FirmwareCodec.CheckFrame(_reply.Data, out var header));
        LastReplyTimestamp = header.TimestampNanoseconds;
        return _reply.Data.ToArray();
    }

    /// <summary>Sends a request and decodes its reply as an ACK (which it must be).</summary>
    public AckMessage ExchangeForAck(ReadOnlySpan<byte> frame) => ExchangeForAck(frame, out _);

    public AckMessage ExchangeForAck(ReadOnlySpan<byte> frame, out FrameHeader replyHeader)
    {
        var reply = Exchange(frame);
        Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeAck(reply, out replyHeader, out var ack));
        return ack;
    }

    /// <summary>HELLO for version 2: reads the description, and where the arm's sequences and claim stand; this
    /// controller's sequences move above the arm's.</summary>
    public ClaimStatus Hello()
    {
        var buffer = new byte[FirmwareCodec.MaxFrame];
        var length = FirmwareCodec.EncodeHello(buffer, ++ControlSequence, Now(), new HelloMessage(2, 2, ClientId));
        var reply = Exchange(buffer.AsSpan(0, length));
        Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeDescription(reply, out _, out var description, out var claim));
        Description = description;
        Session = description!.Session;
        Key = BadFrames.KeyOf(_secret, Session, ClientId);
        ControlSequence = Math.Max(ControlSequence, claim.LastControlSequence);
        CommandSequence = Math.Max(CommandSequence, claim.LastCommandSequence);
        return claim;
    }

    public byte[] ClaimFrame(uint sequence, bool takeover = false, bool release = false, uint? session = null)
    {
        var buffer = new byte[FirmwareCodec.MaxFrame];
        var length = FirmwareCodec.EncodeClaim(buffer, sequence, Now(), new ClaimMessage(session ?? Session, ClientId, takeover, release), Key);
        return buffer[..length];
    }

    /// <summary>HELLO, then CLAIM: this controller holds the arm (asserted).</summary>
    public void HelloAndClaim()
    {
        Hello();
        var ack = ExchangeForAck(ClaimFrame(++ControlSequence));
        Assert.Equal(AckResult.Ok, ack.Result);
    }

    /// <summary>A HEARTBEAT, ENABLE, DISABLE, ESTOP or RESET sealed with this controller's key (ESTOP is not sealed).</summary>
    public byte[] RequestFrame(FirmwareMessageType type, uint sequence, uint? session = null)
    {
        var buffer = new byte[FirmwareCodec.MaxFrame];
        var key = type == FirmwareMessageType.EmergencyStop ? [] : Key;
        var length = FirmwareCodec.EncodeSessionRequest(buffer, type, sequence, Now(), session ?? Session, key);
        return buffer[..length];
    }

    /// <summary>Sends a request of <paramref name="type"/> with the next control sequence; returns its ACK.</summary>
    public AckMessage Request(FirmwareMessageType type, uint? session = null) =>
        ExchangeForAck(RequestFrame(type, ++ControlSequence, session));

    public FaultReport Faults()
    {
        var buffer = new byte[FirmwareCodec.MaxFrame];
        var length = FirmwareCodec.EncodeFaultQuery(buffer, ++ControlSequence, Now());
        var reply = Exchange(buffer.AsSpan(0, length));
        Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeFaultReport(reply, out _, out var report));
        return report!;
    }

    /// <summary>A COMMAND for this arm session sealed with this controller's key, expiring a minute after the newest state.</summary>
    public byte[] CommandFrame(uint sequence, in ArmCommand command, uint? session = null, ulong? expiresAt = null)
    {
        if (Latest.Session == 0)
            NextState(_ => true, "no state arrived from the arm");
        return BadFrames.Command(sequence, session ?? Session, expiresAt ?? Latest.ArmTimeNanoseconds + 60_000_000_000UL, command, Key);
    }

    /// <summary>Publishes a command frame once (the arm's command socket keeps only the newest: send one, then confirm).</summary>
    public void Publish(byte[] frame) => Assert.Equal(ZmqSendStatus.Sent, _command.TrySend(frame, wait: true));

    /// <summary>
    /// Makes sure the command channel is connected (a PUB drops what it sends before the connection is up): publishes a
    /// frame without a tag until the arm counts it as bad_auth. Such a frame never moves the arm's sequence numbers; it
    /// does count as a command-channel rejection (one or more bad_auth, and fault flag 0x8).
    /// </summary>
    public void ConnectCommandChannel()
    {
        var before = Faults().RejectedFor(FrameStatus.BadAuth);
        var probe = BadFrames.Command(uint.MaxValue, Session == 0 ? 1 : Session, 1, ArmCommand.JointPositions([0, 0, 0, 0, 0, 0], 0), []);
        Assert.True(Eventually.True(() =>
        {
            _command.TrySend(probe);
            Thread.Sleep(10);
            return Faults().RejectedFor(FrameStatus.BadAuth) > before;
        }), "the arm never received a frame on its command channel");
        // Until the count stands still: no probe is left in flight to be counted later.
        var counted = Faults().RejectedFor(FrameStatus.BadAuth);
        Assert.True(Eventually.True(() =>
        {
            Thread.Sleep(20);
            var now = Faults().RejectedFor(FrameStatus.BadAuth);
            var still = now == counted;
            counted = now;
            return still;
        }), "the arm's bad_auth count never stood still");
    }

    /// <summary>Publishes <paramref name="frame"/> and waits until the fault report says the arm took it in.</summary>
    public FaultReport PublishAndConfirm(byte[] frame, Func<FaultReport, bool> taken, string what)
    {
        Publish(frame);
        FaultReport? report = null;
        Assert.True(Eventually.True(() => taken(report = Faults())), what);
        return report!;
    }

    /// <summary>Reads states in the order the arm sent them until one meets <paramref name="condition"/>.</summary>
    public ArmState NextState(Func<ArmState, bool> condition, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(Eventually.HangGuard.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_state.TryReceive(_stateMessage, wait: true) != ZmqReceiveStatus.Received)
                continue;
            Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeState(_stateMessage.Data, out _, out var state));
            Latest = state;
            if (condition(state))
                return state;
        }
        Assert.Fail(what);
        return default;
    }

    /// <summary>The first state the arm sampled after its last reply (on its own clock): what a request did, as a state shows it.</summary>
    public ArmState StateAfterLastReply(string what)
    {
        var reply = LastReplyTimestamp;
        DrainStates();
        return Latest.ArmTimeNanoseconds > reply ? Latest : NextState(s => s.ArmTimeNanoseconds > reply, what);
    }

    /// <summary>Drops every state already queued, so the next <see cref="NextState"/> sees states sent from now on.</summary>
    public void DrainStates()
    {
        while (_state.TryReceive(_stateMessage) == ZmqReceiveStatus.Received)
        {
            if (FirmwareCodec.DecodeState(_stateMessage.Data, out _, out var state) == FrameStatus.Ok)
                Latest = state;
        }
    }

    private static ulong Now() => (ulong)Stopwatch.GetTimestamp();

    public void Dispose()
    {
        _control.Dispose();
        _command.Dispose();
        _state.Dispose();
        _reply.Dispose();
        _stateMessage.Dispose();
        _context.Dispose();
    }
}
