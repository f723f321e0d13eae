namespace RobotRuntime.Arm;

/// <summary>
/// The runtime's link to an arm: the firmware over ZeroMQ, or an in-process simulator.
/// </summary>
/// <remarks>
/// Threading: one thread at a time (the control loop's); implementations are not thread-safe.
/// Members marked "Real-time" neither allocate in steady state, nor block, nor throw; members
/// marked "Not real-time" may block up to the timeout they are given and belong outside the
/// control loop's deadline (start-up, operator actions, recovery).
/// </remarks>
public interface IArmLink : IDisposable
{
    /// <summary>The arm's description from the last successful <see cref="Handshake"/>; null before one.</summary>
    /// <remarks>Real-time.</remarks>
    ArmDescription? Description { get; }

    /// <summary>How the link is doing now (status, age of the newest state, counters).</summary>
    /// <remarks>Real-time: takes in whatever has arrived first, so the answer is current.</remarks>
    ArmLinkHealth Health { get; }

    /// <summary>
    /// Connects the request/reply channel's conversation: agrees on the protocol version, reads the
    /// arm's <see cref="Description"/> and, for a link that holds the arm's secret, claims the arm
    /// (protocol version 2: only the claiming controller may command, enable, disable or reset it; the
    /// result is refused, saying so, while another controller holds it).
    /// </summary>
    /// <param name="timeout">How long to wait for the reply.</param>
    /// <remarks>Not real-time: blocks up to <paramref name="timeout"/>.</remarks>
    ArmControlResult Handshake(TimeSpan timeout);

    /// <summary>
    /// The newest valid state from the arm, if it is no older than <paramref name="maxAge"/>.
    /// </summary>
    /// <param name="maxAge">Oldest acceptable state, measured on the runtime's clock from its arrival.</param>
    /// <param name="state">The newest valid state (even when too old, so callers can log it); default if none yet.</param>
    /// <param name="age">Time since <paramref name="state"/> arrived; <see cref="TimeSpan.MaxValue"/> if none yet.</param>
    /// <returns>True if a state exists and is no older than <paramref name="maxAge"/>.</returns>
    /// <remarks>Real-time: no allocation, no blocking, no throw.</remarks>
    bool TryGetLatestState(TimeSpan maxAge, out ArmState state, out TimeSpan age);

    /// <summary>
    /// Sends <paramref name="command"/> to the arm, after clipping its values to the arm's limits.
    /// </summary>
    /// <param name="command">What to do; <see cref="ArmCommand.Sequence"/> is ignored.</param>
    /// <param name="sent">The command actually sent (clipped, with its sequence number); when nothing
    /// was sent, the input unchanged with sequence 0.</param>
    /// <returns>Whether it was sent, and if not, why.</returns>
    /// <remarks>Real-time: no allocation, no blocking, no throw. A command is never sent while the
    /// link is not <see cref="ArmLinkStatus.Up"/>.</remarks>
    ArmSendStatus Send(in ArmCommand command, out ArmCommand sent);

    /// <summary>Sends a control request and waits for the arm's answer.</summary>
    /// <param name="request">What to ask.</param>
    /// <param name="timeout">How long to wait for the reply. After a timeout the link resets its
    /// request channel, so a lost reply never blocks the next request.</param>
    /// <remarks>Not real-time: blocks up to <paramref name="timeout"/>.</remarks>
    ArmControlResult Request(ArmControlRequest request, TimeSpan timeout);
}
