using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.SimServer;

/// <summary>
/// The server's side of an in-process arm (<see cref="ArmTransport.InProcess"/>): instead of three
/// sockets, at most one attached <see cref="InProcessArmChannel"/>, and an event the server's loop
/// waits on that the link sets when it hands over a command or a request.
/// </summary>
/// <remarks>
/// The <see cref="IArmChannels"/> members run on the simulation's thread; <see cref="Connect"/>,
/// <see cref="Disconnect"/>, <see cref="Wake"/> and <see cref="Stopped"/> on any thread. Made with the
/// server (setup), so a link can be handed out before, while and after the server runs: before, its
/// requests wait for the server to start; after, they time out at once and its states stop.
/// </remarks>
internal sealed class InProcessArmPort : IArmChannels
{
    private readonly byte[] _secret;
    // No spinning: the loop waits for milliseconds at a time, and a spin would take a core from the control loop.
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private InProcessArmChannel? _channel;
    private int _serverWaiting;
    private volatile bool _stopped;
    // The request being answered: its channel and ticket (the simulation's thread only).
    private InProcessArmChannel? _serving;
    private long _servingTicket;
    private readonly byte[] _request = new byte[FirmwareCodec.MaxFrame];

    public InProcessArmPort(byte[] secret) => _secret = secret;

    /// <summary>The server stopped serving (for good).</summary>
    public bool Stopped => _stopped;

    /// <summary>Attaches a new link.</summary>
    /// <exception cref="InvalidOperationException">A link is attached already.</exception>
    public InProcessArmLink Connect(InProcessArmLinkSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        var channel = new InProcessArmChannel(this);
        if (Interlocked.CompareExchange(ref _channel, channel, null) is not null)
            throw new InvalidOperationException(
                "sim-server already has an in-process arm link: it serves one at a time (one controller per arm); dispose that link before connecting another");
        return new InProcessArmLink(channel, settings, _secret);
    }

    /// <summary>Detaches <paramref name="channel"/> if it is the attached one; the next <see cref="Connect"/> may attach another.</summary>
    public void Disconnect(InProcessArmChannel channel) => Interlocked.CompareExchange(ref _channel, null, channel);

    /// <summary>Wakes the server's loop if it waits: a command or request was just handed over.</summary>
    /// <remarks>Any thread. No allocation, no throw; blocks at most for the event's short internal lock when the server waits.</remarks>
    public void Wake()
    {
        // The hand-off (a store) must be visible before the flag is read: with the server's exchange
        // of the flag before it looks for input, one of the two sides sees the other.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _serverWaiting) != 0)
            _wake.Set();
    }

    /// <summary>The server has stopped: no reply and no state will come any more; a waiting requester gives up.</summary>
    public void Stop()
    {
        _stopped = true;
        Volatile.Read(ref _channel)?.Control.WakeRequester();
    }

    // ---- IArmChannels: the simulation's thread -----------------------------------------------------

    public string StateEndpoint => "";

    public string CommandEndpoint => "";

    public string ControlEndpoint => "";

    public bool TryReceiveCommand(out ReadOnlySpan<byte> frame)
    {
        if (Volatile.Read(ref _channel) is { } channel)
            return channel.Commands.TryTake(out frame);
        frame = default;
        return false;
    }

    public bool TryReceiveControl(out ReadOnlySpan<byte> request)
    {
        if (Volatile.Read(ref _channel) is { } channel)
        {
            var length = channel.Control.TryTake(_request, out var ticket);
            if (length > 0)
            {
                _serving = channel;
                _servingTicket = ticket;
                request = _request.AsSpan(0, length);
                return true;
            }
        }
        request = default;
        return false;
    }

    public void Reply(ReadOnlySpan<byte> reply)
    {
        _serving?.Control.Answer(_servingTicket, reply);
        _serving = null;
    }

    /// <summary>With no link attached a STATE goes to nobody, as a PUB's does with no subscriber: still published.</summary>
    public bool TryPublishState(ReadOnlySpan<byte> frame) => Volatile.Read(ref _channel)?.PublishState(frame) ?? true;

    public void WaitForInput(int milliseconds)
    {
        _wake.Reset();
        Interlocked.Exchange(ref _serverWaiting, 1);
        var channel = Volatile.Read(ref _channel);
        if (channel is null || !(channel.Commands.HasFresh || channel.Control.Pending))
            _wake.Wait(milliseconds);
        Volatile.Write(ref _serverWaiting, 0);
    }

    /// <summary>Marks the server stopped; the event is left to the collector (a link may still call <see cref="Wake"/>).</summary>
    public void Dispose() => Stop();
}

/// <summary>
/// The in-memory channels between one <see cref="InProcessArmLink"/> and the server: COMMAND frames
/// link → server and STATE frames server → link, each through a latest-only slot (CONFLATE), and the
/// control conversation through a request/reply mailbox.
/// </summary>
internal sealed class InProcessArmChannel(InProcessArmPort port)
{
    private readonly ManualResetEventSlim _stateArrived = new(false, spinCount: 0);
    private int _linkWaiting;

    public InProcessArmPort Port { get; } = port;

    /// <summary>COMMAND frames, link → server.</summary>
    public LatestFrameSlot Commands { get; } = new();

    /// <summary>STATE frames, server → link.</summary>
    public LatestFrameSlot States { get; } = new();

    /// <summary>Control requests and replies.</summary>
    public ControlMailbox Control { get; } = new();

    /// <summary>The server's thread: publishes a STATE and wakes the link if it waits for one.</summary>
    public bool PublishState(ReadOnlySpan<byte> frame)
    {
        if (!States.Publish(frame))
            return false;
        // Publish ends with a full barrier (an interlocked exchange), so the flag read is not hoisted above it.
        if (Volatile.Read(ref _linkWaiting) != 0)
            _stateArrived.Set();
        return true;
    }

    /// <summary>The link's thread: waits up to <paramref name="milliseconds"/> for a STATE to be there to take.</summary>
    public bool WaitForState(int milliseconds)
    {
        _stateArrived.Reset();
        Interlocked.Exchange(ref _linkWaiting, 1);
        if (!States.HasFresh && milliseconds > 0)
            _stateArrived.Wait(milliseconds);
        Volatile.Write(ref _linkWaiting, 0);
        return States.HasFresh;
    }
}
