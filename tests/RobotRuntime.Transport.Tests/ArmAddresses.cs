using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.Transport.Tests;

/// <summary>Where an arm's three channels are bound and the secret it shares with its operator: what a controller needs to reach and claim it.</summary>
/// <param name="State">The arm's STATE publisher (a ZeroMQ address: ipc://…, tcp://127.0.0.1:…).</param>
/// <param name="Command">The arm's COMMAND subscriber.</param>
/// <param name="Control">The arm's control replier.</param>
/// <param name="Secret">The 32-byte secret shared between the arm and its operator (PROTOCOL.md §2.1).</param>
public sealed record ArmAddresses(string State, string Command, string Control, byte[] Secret)
{
    /// <summary>The addresses and secret of a link's settings.</summary>
    /// <exception cref="ArgumentException">The settings carry no secret.</exception>
    public static ArmAddresses Of(ZmqArmLinkSettings settings) =>
        new(settings.StateAddress, settings.CommandAddress, settings.ControlAddress,
            settings.Secret ?? throw new ArgumentException("the link settings carry no secret: a test controller needs the arm's", nameof(settings)));
}
