namespace RobotRuntime.Transport.Firmware;

/// <summary>
/// Where the arm's three sockets are and how patient the link is. The arm binds; the link
/// connects. The defaults are the reference endpoint's loopback addresses.
/// </summary>
public sealed record ZmqArmLinkSettings
{
    /// <summary>The arm's state publisher (the link subscribes). Default <c>tcp://127.0.0.1:5601</c>.</summary>
    public string StateAddress { get; init; } = "tcp://127.0.0.1:5601";

    /// <summary>The arm's command subscriber (the link publishes). Default <c>tcp://127.0.0.1:5602</c>.</summary>
    public string CommandAddress { get; init; } = "tcp://127.0.0.1:5602";

    /// <summary>The arm's control reply socket (the link requests). Default <c>tcp://127.0.0.1:5603</c>.</summary>
    public string ControlAddress { get; init; } = "tcp://127.0.0.1:5603";

    /// <summary>The link is lost when no valid state arrives for this long. Default 250 ms.</summary>
    public TimeSpan LinkTimeout { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>A command expires this long after it is sent (estimated on the arm's clock). Default 100 ms.</summary>
    public TimeSpan CommandLifetime { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The secret shared with the arm (<see cref="FirmwareCodec.KeySize"/> bytes; <see cref="ArmKeyFile"/>): without it the
    /// link can read states but not claim, command or control the arm (protocol version 2).
    /// </summary>
    public byte[]? Secret { get; init; }

    /// <summary>Claim the arm even while another controller's claim is live (an operator's deliberate takeover). Default false.</summary>
    public bool Takeover { get; init; }

    /// <summary>
    /// The arm's CURVE public key (Z85) when the arm's sockets are CURVE servers (an arm reached over a
    /// network): every socket of the link then encrypts, with a key pair of this run's own; an arm with
    /// another key never answers. Null: plain ZeroMQ (loopback, or a network the user trusts).
    /// </summary>
    public string? CurveServerPublicKey { get; init; }

    /// <summary>How many link events (rejections, losses, restarts) are kept for <see cref="FirmwareArmLink.TryReadEvent"/>. Default 256.</summary>
    public int EventLogCapacity { get; init; } = 256;

    /// <summary>Settings for an arm whose sockets are <c>ipc://{prefix}-state</c>, <c>-command</c> and <c>-control</c>.</summary>
    public static ZmqArmLinkSettings Ipc(string prefix) => new()
    {
        StateAddress = $"ipc://{prefix}-state",
        CommandAddress = $"ipc://{prefix}-command",
        ControlAddress = $"ipc://{prefix}-control",
    };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first setting that is not usable and what was expected.</summary>
    public void Validate()
    {
        CheckAddress(nameof(StateAddress), StateAddress);
        CheckAddress(nameof(CommandAddress), CommandAddress);
        CheckAddress(nameof(ControlAddress), ControlAddress);
        CheckLinkSettings(LinkTimeout, CommandLifetime, Secret, EventLogCapacity);
    }

    /// <summary>
    /// The checks every firmware link's settings share (this one's and the in-process simulator link's):
    /// an <see cref="ArgumentException"/> naming the first setting that is not usable and what was expected.
    /// </summary>
    public static void CheckLinkSettings(TimeSpan linkTimeout, TimeSpan commandLifetime, byte[]? secret, int eventLogCapacity)
    {
        if (linkTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"{nameof(LinkTimeout)} must be positive, got {linkTimeout}", nameof(LinkTimeout));
        if (commandLifetime <= TimeSpan.Zero)
            throw new ArgumentException($"{nameof(CommandLifetime)} must be positive, got {commandLifetime}", nameof(CommandLifetime));
        if (secret is not null && secret.Length != FirmwareCodec.KeySize)
            throw new ArgumentException($"{nameof(Secret)} must be {FirmwareCodec.KeySize} bytes, got {secret.Length}", nameof(Secret));
        if (eventLogCapacity < 1)
            throw new ArgumentException($"{nameof(EventLogCapacity)} must be at least 1, got {eventLogCapacity}", nameof(EventLogCapacity));
    }

    private static void CheckAddress(string name, string value)
    {
        if (string.IsNullOrWhiteSpace(value) || !(value.StartsWith("tcp://", StringComparison.Ordinal)
            || value.StartsWith("ipc://", StringComparison.Ordinal) || value.StartsWith("inproc://", StringComparison.Ordinal)))
            throw new ArgumentException(
                $"{name} must be a ZeroMQ endpoint starting with tcp://, ipc:// or inproc:// (e.g. tcp://127.0.0.1:5601), got '{value}'", name);
    }
}
