using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.SimServer;

/// <summary>How the simulated arm's three channels (state, command, control) reach the runtime.</summary>
public enum ArmTransport
{
    /// <summary>ZeroMQ sockets bound at the options' endpoints, as a real arm's firmware binds them (the default).</summary>
    Zmq,

    /// <summary>
    /// No arm sockets: the one <see cref="InProcessArmLink"/> that <see cref="SimServerHost.ConnectInProcess"/> hands out
    /// exchanges the same frames with the server through in-memory hand-offs.
    /// </summary>
    InProcess,
}

/// <summary>
/// The server's side of the arm's channels, whatever carries them: frames in from the COMMAND and
/// control channels, replies and STATEs out, and a wait for the next frame in.
/// </summary>
/// <remarks>The simulation's thread only.</remarks>
internal interface IArmChannels : IDisposable
{
    /// <summary>Where the STATE channel is bound; empty for an in-process arm.</summary>
    string StateEndpoint { get; }

    /// <summary>Where the COMMAND channel is bound; empty for an in-process arm.</summary>
    string CommandEndpoint { get; }

    /// <summary>Where the control channel is bound; empty for an in-process arm.</summary>
    string ControlEndpoint { get; }

    /// <summary>Takes the next COMMAND frame that arrived, if any; valid until the next receive.</summary>
    bool TryReceiveCommand(out ReadOnlySpan<byte> frame);

    /// <summary>Takes the next control request that arrived, if any; valid until the next receive. Answer it with <see cref="Reply"/> before the next.</summary>
    bool TryReceiveControl(out ReadOnlySpan<byte> request);

    /// <summary>Answers the control request taken last.</summary>
    void Reply(ReadOnlySpan<byte> reply);

    /// <summary>Publishes a STATE frame (latest-only: it may replace one not yet read). True if it went out.</summary>
    bool TryPublishState(ReadOnlySpan<byte> frame);

    /// <summary>Waits up to <paramref name="milliseconds"/> (positive) for a COMMAND or control request to arrive.</summary>
    void WaitForInput(int milliseconds);
}

/// <summary>The arm's channels as the firmware binds them: PUB for STATE, SUB for COMMAND (both CONFLATE), REP for control.</summary>
internal sealed class ZmqArmChannels : IArmChannels
{
    private readonly ZmqContext _context;
    private readonly ZmqSocket _state, _command, _control;
    private readonly ZmqSocket[] _pollSet;
    private readonly ZmqMessage _message = new();

    /// <exception cref="ArgumentException">An endpoint cannot be bound (the message names the option).</exception>
    public ZmqArmChannels(SimServerOptions options)
    {
        _context = ZmqContext.Create();
        try
        {
            _state = Bind(_context, ZmqSocketType.Publisher, options.StateEndpoint, "--state", options.CurveKeys);
            _command = Bind(_context, ZmqSocketType.Subscriber, options.CommandEndpoint, "--command", options.CurveKeys);
            _control = Bind(_context, ZmqSocketType.Reply, options.ControlEndpoint, "--control", options.CurveKeys);
        }
        catch
        {
            _state?.Dispose();
            _command?.Dispose();
            _message.Dispose();
            _context.Dispose();
            throw;
        }
        _pollSet = [_command, _control];
        StateEndpoint = _state.LastEndpoint;
        CommandEndpoint = _command.LastEndpoint;
        ControlEndpoint = _control.LastEndpoint;
    }

    public string StateEndpoint { get; }

    public string CommandEndpoint { get; }

    public string ControlEndpoint { get; }

    public bool TryReceiveCommand(out ReadOnlySpan<byte> frame) => TryReceive(_command, out frame);

    public bool TryReceiveControl(out ReadOnlySpan<byte> request) => TryReceive(_control, out request);

    private bool TryReceive(ZmqSocket socket, out ReadOnlySpan<byte> frame)
    {
        if (socket.TryReceive(_message) == ZmqReceiveStatus.Received)
        {
            frame = _message.Data;
            return true;
        }
        frame = default;
        return false;
    }

    public void Reply(ReadOnlySpan<byte> reply) => _control.TrySend(reply);

    // WouldBlock is fine: state is latest-only.
    public bool TryPublishState(ReadOnlySpan<byte> frame) => _state.TrySend(frame) == ZmqSendStatus.Sent;

    public void WaitForInput(int milliseconds) => ZmqPoll.WaitReadable(_pollSet, milliseconds);

    public void Dispose()
    {
        _state.Dispose();
        _command.Dispose();
        _control.Dispose();
        _message.Dispose();
        _context.Dispose();
    }

    private static ZmqSocket Bind(ZmqContext context, ZmqSocketType type, string endpoint, string option, CurveKeyPair? curve)
    {
        var socket = ZmqSocket.Create(context, type);
        try
        {
            if (curve is not null)
                socket.SetCurveServer(curve);
            if (type != ZmqSocketType.Reply)
                socket.SetConflate(true);
            if (type != ZmqSocketType.Publisher)
                socket.SetMaxMessageSize(FirmwareCodec.SocketMaxMessage);
            if (type == ZmqSocketType.Subscriber)
                socket.Subscribe([]);
            if (type == ZmqSocketType.Reply)
                socket.SetSendTimeout(0);
            socket.Bind(endpoint);
            return socket;
        }
        catch (ZmqException error)
        {
            socket.Dispose();
            throw new ArgumentException($"{option}: cannot bind {endpoint}: {error.Message}", option, error);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
