using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.SimServer;

/// <summary>How patient an <see cref="InProcessArmLink"/> is; the same meanings and defaults as <see cref="ZmqArmLinkSettings"/>.</summary>
public sealed record InProcessArmLinkSettings
{
    /// <summary>The link is lost when no valid state arrives for this long. Default 250 ms.</summary>
    public TimeSpan LinkTimeout { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>A command expires this long after it is sent (estimated on the arm's clock). Default 100 ms.</summary>
    public TimeSpan CommandLifetime { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Claim the arm even while another controller's claim is live. Default false.</summary>
    public bool Takeover { get; init; }

    /// <summary>
    /// The secret the link claims and seals with. Null (the default): the server's own
    /// (<see cref="SimServerEndpoints.Secret"/>). Another one is refused by the arm, exactly as on the wire.
    /// </summary>
    public byte[]? Secret { get; init; }

    /// <summary>How many link events are kept for <see cref="FirmwareArmLink.TryReadEvent"/>. Default 256.</summary>
    public int EventLogCapacity { get; init; } = 256;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first setting that is not usable and what was expected.</summary>
    public void Validate() => ZmqArmLinkSettings.CheckLinkSettings(LinkTimeout, CommandLifetime, Secret, EventLogCapacity);
}

/// <summary>
/// The simulated arm as an <see cref="IArmLink"/> in this process: the runtime's side of the firmware
/// protocol (<see cref="FirmwareArmLink"/>: checks, clipping to the arm's limits, command expiry, handshake,
/// claim and authentication with the server's secret, sequence numbers, health) exchanging the very
/// frames a <see cref="ZmqArmLink"/> would with a sim-server's <see cref="ArmFirmware"/> (watchdog,
/// e-stop, every check of a COMMAND) — through in-memory hand-offs instead of sockets. Get one from
/// <see cref="SimServerHost.ConnectInProcess"/> on a server started with <see cref="ArmTransport.InProcess"/>.
/// </summary>
/// <remarks>
/// <para>Latest-only, as CONFLATE makes the wire: the link takes the newest STATE published since it last
/// looked (older ones it never sees); a COMMAND sent before the server took the previous one replaces
/// it, so the firmware judges only the newest (the replaced one's sequence number is never recorded,
/// as on the wire; <see cref="CommandsReplaced"/> counts them). Control requests are request/reply: one
/// at a time, answered on the server's thread.</para>
/// <para>Threads as <see cref="FirmwareArmLink"/>'s. <see cref="FirmwareArmLink.Send"/>,
/// <see cref="FirmwareArmLink.TryGetLatestState"/> and <see cref="FirmwareArmLink.Health"/> are real-time:
/// no allocation in steady state, no throw, and no blocking beyond the link's own short locks and,
/// on Send, the wake-up of a waiting server (an event's short internal lock). <see cref="FirmwareArmLink.Handshake"/>
/// and <see cref="FirmwareArmLink.Request"/> block up to their timeout; once the server has stopped they
/// return <see cref="ArmControlStatus.TimedOut"/> at once, and the link goes lost after its link timeout.</para>
/// <para>Disposing detaches the link (another may then connect) but, as on the wire, does not give up the
/// arm's claim: call <see cref="FirmwareArmLink.Release"/> first for the next link to claim it at once.</para>
/// </remarks>
public sealed class InProcessArmLink : FirmwareArmLink
{
    private readonly InProcessArmChannel _channel;
    private readonly byte[] _reply = new byte[FirmwareCodec.MaxFrame];
    private readonly Func<bool> _serverStopped;
    private int _replyLength;
    private long _ticket;

    internal InProcessArmLink(InProcessArmChannel channel, InProcessArmLinkSettings settings, byte[] serverSecret)
        : base(settings.LinkTimeout, settings.CommandLifetime, settings.Secret ?? serverSecret, settings.Takeover, settings.EventLogCapacity)
    {
        _channel = channel;
        _serverStopped = () => channel.Port.Stopped;
    }

    /// <summary>COMMAND frames the link handed over that a newer one replaced before the server took them (latest-only).</summary>
    /// <remarks>Real-time; any thread.</remarks>
    public long CommandsReplaced => _channel.Commands.Replaced;

    /// <summary>STATE frames the server published that a newer one replaced before the link took them (latest-only).</summary>
    /// <remarks>Real-time; any thread.</remarks>
    public long StatesReplaced => _channel.States.Replaced;

    /// <inheritdoc />
    protected override bool TryReceiveState(out ReadOnlySpan<byte> frame) => _channel.States.TryTake(out frame);

    /// <inheritdoc />
    protected override bool WaitForStateFrame(int milliseconds) => _channel.WaitForState(milliseconds);

    /// <inheritdoc />
    protected override bool TrySendCommand(ReadOnlySpan<byte> frame)
    {
        if (!_channel.Commands.Publish(frame))
            return false;
        _channel.Port.Wake();
        return true;
    }

    /// <inheritdoc />
    protected override string ControlPeer => _channel.Port.Stopped ? "the in-process sim-server (it has stopped)" : "the in-process sim-server";

    /// <inheritdoc />
    protected override bool TrySendControl(ReadOnlySpan<byte> request)
    {
        _ticket = _channel.Control.Post(request);
        if (_ticket == 0)
            return false;
        _channel.Port.Wake();
        return true;
    }

    /// <inheritdoc />
    protected override bool TryReceiveControl(long deadline)
    {
        _replyLength = _channel.Control.WaitForReply(_ticket, deadline, _reply, _serverStopped);
        return _replyLength >= 0;
    }

    /// <inheritdoc />
    protected override ReadOnlySpan<byte> ControlReply => _reply.AsSpan(0, Math.Max(_replyLength, 0));

    /// <summary>Withdraws the unanswered request, if the server has not taken it; a late reply to it is ignored.</summary>
    protected override void ResetControlChannel() => _channel.Control.Withdraw(_ticket);

    /// <inheritdoc />
    protected override void DisposeCarrier() => _channel.Port.Disconnect(_channel);
}
