using System.Diagnostics;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Transport.Firmware;

/// <summary>
/// The arm link over ZeroMQ and the firmware protocol (firmware-interfaces/PROTOCOL.md): a SUB
/// for the arm's state, a PUB for commands (both latest-only: CONFLATE), a REQ for control. The
/// protocol itself (checks, clipping, expiry, claim, health) is <see cref="FirmwareArmLink"/>'s.
/// </summary>
/// <remarks>
/// One thread at a time (the control loop's), except <see cref="FirmwareArmLink.TryReadEvent"/>, which any thread
/// may call. Per-cycle members never block or throw and allocate nothing in steady state: they take
/// in whatever states have arrived, reject and count bad frames (each recorded as an
/// <see cref="ArmLinkEvent"/>), and report a loss once no valid state arrived within
/// <see cref="ZmqArmLinkSettings.LinkTimeout"/>. libzmq reconnects by itself when the arm comes back;
/// a new arm session is noticed from its states, and the next control request re-handshakes.
/// </remarks>
public sealed class ZmqArmLink : FirmwareArmLink
{
    private readonly ZmqArmLinkSettings _settings;
    private readonly ZmqContext _context;
    private readonly CurveKeyPair? _curve;
    private ZmqSocket _stateSocket;
    private readonly ZmqSocket _commandSocket;
    private ZmqSocket _controlSocket;
    private readonly ZmqMessage _stateMessage = new();
    private readonly ZmqMessage _controlMessage = new();
    private long _stateSocketOpened;
    private long _stateReopens;

    /// <summary>Creates the sockets and connects them; returns at once (libzmq connects in the background).</summary>
    /// <exception cref="ArgumentException">A setting is not usable (the message names it).</exception>
    /// <exception cref="ZmqException">libzmq refused an address.</exception>
    /// <remarks>Setup only.</remarks>
    public ZmqArmLink(ZmqArmLinkSettings settings)
        : base(Checked(settings).LinkTimeout, settings.CommandLifetime, settings.Secret, settings.Takeover, settings.EventLogCapacity)
    {
        _settings = settings;
        _context = ZmqContext.Create();
        if (settings.CurveServerPublicKey is { } serverKey)
        {
            CurveKeyPair.CheckKey(serverKey, "the arm's CURVE public key");
            _curve = CurveKeyPair.Create(); // this run's own pair: the arm authenticates commands by the shared secret
        }
        try
        {
            _stateSocket = OpenStateSocket();

            _commandSocket = ZmqSocket.Create(_context, ZmqSocketType.Publisher);
            _commandSocket.SetConflate(true);
            _commandSocket.SetMaxMessageSize(FirmwareCodec.SocketMaxMessage);
            _commandSocket.SetReconnectInterval(20, 200);
            Secure(_commandSocket);
            _commandSocket.Connect(settings.CommandAddress);

            _controlSocket = OpenControlSocket();
        }
        catch
        {
            _stateSocket?.Dispose();
            _commandSocket?.Dispose();
            _stateMessage.Dispose();
            _controlMessage.Dispose();
            _context.Dispose();
            throw;
        }
    }

    private static ZmqArmLinkSettings Checked(ZmqArmLinkSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        return settings;
    }

    /// <summary>The settings the link was made with.</summary>
    public ZmqArmLinkSettings Settings => _settings;

    /// <summary>Times the state socket was closed and reopened because no valid state arrived for a link timeout.</summary>
    public long StateReopens => _stateReopens;

    // ---- state channel -------------------------------------------------------------------------

    /// <inheritdoc />
    protected override bool TryReceiveState(out ReadOnlySpan<byte> frame)
    {
        if (_stateSocket.TryReceive(_stateMessage) == ZmqReceiveStatus.Received)
        {
            frame = _stateMessage.Data;
            return true;
        }
        frame = default;
        return false;
    }

    /// <inheritdoc />
    protected override bool WaitForStateFrame(int milliseconds) => _stateSocket.WaitReadable(milliseconds);

    /// <summary>
    /// A lost link is usually a dead arm that libzmq reconnects to by itself. But a connection
    /// libzmq dropped on a protocol error (e.g. a message over MAXMSGSIZE) may never be retried:
    /// so while lost, start the state socket afresh once per link timeout. Allocates, but only
    /// while the link is down.
    /// </summary>
    protected override void OnLost(long now, long lastArrival)
    {
        if (now - Math.Max(lastArrival, _stateSocketOpened) <= LinkTimeoutTicks)
            return;
        _stateReopens++;
        _stateSocket.Dispose();
        _stateSocket = OpenStateSocket();
    }

    private void Secure(ZmqSocket socket)
    {
        if (_curve is not null)
            socket.SetCurveClient(_settings.CurveServerPublicKey!, _curve);
    }

    private ZmqSocket OpenStateSocket()
    {
        var socket = ZmqSocket.Create(_context, ZmqSocketType.Subscriber);
        try
        {
            socket.SetConflate(true);
            socket.SetMaxMessageSize(FirmwareCodec.SocketMaxMessage);
            socket.SetReconnectInterval(20, 200);
            socket.Subscribe([]);
            Secure(socket);
            socket.Connect(_settings.StateAddress);
            _stateSocketOpened = Stopwatch.GetTimestamp();
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    // ---- command channel -----------------------------------------------------------------------

    /// <inheritdoc />
    protected override bool TrySendCommand(ReadOnlySpan<byte> frame) => _commandSocket.TrySend(frame) == ZmqSendStatus.Sent;

    // ---- control channel -----------------------------------------------------------------------

    private ZmqSocket OpenControlSocket()
    {
        var socket = ZmqSocket.Create(_context, ZmqSocketType.Request);
        try
        {
            socket.SetMaxMessageSize(FirmwareCodec.SocketMaxMessage);
            socket.SetReconnectInterval(20, 200);
            socket.SetReceiveTimeout(1000);
            socket.SetSendTimeout(0);
            Secure(socket);
            socket.Connect(_settings.ControlAddress);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    protected override string ControlPeer => _settings.ControlAddress;

    /// <inheritdoc />
    protected override bool TrySendControl(ReadOnlySpan<byte> request) => _controlSocket.TrySend(request) == ZmqSendStatus.Sent;

    /// <inheritdoc />
    protected override bool TryReceiveControl(long deadline)
    {
        while (true)
        {
            if (_controlSocket.TryReceive(_controlMessage) == ZmqReceiveStatus.Received)
                return true;
            var remaining = deadline - Stopwatch.GetTimestamp();
            if (remaining <= 0)
                return false;
            _controlSocket.WaitReadable((int)Math.Ceiling(remaining * 1000.0 / Stopwatch.Frequency));
        }
    }

    /// <inheritdoc />
    protected override ReadOnlySpan<byte> ControlReply => _controlMessage.Data;

    /// <summary>The REQ socket, stuck waiting for a reply that may never come, is closed and reopened.</summary>
    protected override void ResetControlChannel()
    {
        _controlSocket.Dispose();
        _controlSocket = OpenControlSocket();
    }

    /// <inheritdoc />
    protected override void DisposeCarrier()
    {
        _stateSocket.Dispose();
        _commandSocket.Dispose();
        _controlSocket.Dispose();
        _stateMessage.Dispose();
        _controlMessage.Dispose();
        _context.Dispose();
    }
}
