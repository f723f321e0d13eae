namespace RobotRuntime.Arm;

/// <summary>A snapshot of how the link to the arm is doing.</summary>
/// <param name="Status">Connecting, up or lost.</param>
/// <param name="LastStateAge">Time since the newest valid state was received; <see cref="TimeSpan.MaxValue"/> if none yet.</param>
/// <param name="ArmSession">The arm session of the newest valid state; 0 if none yet.</param>
/// <param name="ArmRestarts">Times a new arm session appeared after the first (the arm's firmware restarted).</param>
/// <param name="LinkLosses">Times the status went from up to lost.</param>
/// <param name="StatesAccepted">Valid states received.</param>
/// <param name="FramesRejected">Frames from the arm rejected (malformed, bad CRC, out of sequence, ...).</param>
/// <param name="CommandsSent">Commands handed to the transport.</param>
public readonly record struct ArmLinkHealth(
    ArmLinkStatus Status,
    TimeSpan LastStateAge,
    uint ArmSession,
    long ArmRestarts,
    long LinkLosses,
    long StatesAccepted,
    long FramesRejected,
    long CommandsSent);

/// <summary>Outcome of a control request: the status and, when the arm answered, its status flags.</summary>
/// <param name="Status">What happened.</param>
/// <param name="ArmStatus">The arm's status after the request (from its reply); <see cref="ArmStatusFlags.None"/> without a reply.</param>
/// <param name="Detail">What went wrong, naming the request and what was expected; empty when <see cref="ArmControlStatus.Ok"/>.</param>
public readonly record struct ArmControlResult(ArmControlStatus Status, ArmStatusFlags ArmStatus, string Detail)
{
    /// <summary>Whether the arm did what was asked.</summary>
    public bool Succeeded => Status == ArmControlStatus.Ok;
}
