namespace RobotRuntime.Arm;

/// <summary>
/// An <see cref="IArmLink"/> that claims the arm for its controller (protocol version 2): only the
/// holder of the claim may move, enable, disable or reset it.
/// </summary>
public interface IArmClaim
{
    /// <summary>The last handshake claimed the arm for this link.</summary>
    bool Claimed { get; }

    /// <summary>Gives the claim up (a clean exit), so the next controller need not wait for the lease to lapse.</summary>
    /// <remarks>Not real-time: blocks up to <paramref name="timeout"/>.</remarks>
    ArmControlResult Release(TimeSpan timeout);
}
