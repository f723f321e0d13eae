using System.Diagnostics;

namespace RobotRuntime.Transport.Firmware;

/// <summary>Which of the link's channels an event concerns.</summary>
public enum ArmLinkChannel
{
    /// <summary>The arm's state publisher.</summary>
    State,

    /// <summary>The runtime's command publisher.</summary>
    Command,

    /// <summary>The request/reply control channel.</summary>
    Control,
}

/// <summary>What happened.</summary>
public enum ArmLinkEventKind
{
    /// <summary>A frame was rejected; <see cref="ArmLinkEvent.Reason"/> says why. It was not used.</summary>
    FrameRejected,

    /// <summary>States from a new arm session arrived: the arm's firmware restarted.</summary>
    ArmRestarted,

    /// <summary>No valid state within the link timeout.</summary>
    LinkLost,

    /// <summary>Valid states arrive again after a loss.</summary>
    LinkRestored,

    /// <summary>A control request got no reply in time (or could not be queued); the request channel was reset (a ZeroMQ REQ socket is closed and reopened).</summary>
    ControlTimedOut,
}

/// <summary>One entry of the link's event log. A value type: recording it does not allocate.</summary>
/// <param name="Timestamp">When, in <see cref="Stopwatch.GetTimestamp"/> ticks.</param>
/// <param name="Kind">What happened.</param>
/// <param name="Channel">On which channel.</param>
/// <param name="Reason">Why a frame was rejected; <see cref="FrameStatus.Ok"/> for other kinds.</param>
/// <param name="Sequence">Sequence number of the frame concerned (0 if unreadable or not applicable).</param>
/// <param name="Size">Size of the frame concerned, bytes (0 if not applicable).</param>
/// <param name="Session">Arm session concerned (the new one for <see cref="ArmLinkEventKind.ArmRestarted"/>).</param>
public readonly record struct ArmLinkEvent(
    long Timestamp, ArmLinkEventKind Kind, ArmLinkChannel Channel, FrameStatus Reason, uint Sequence, int Size, uint Session)
{
    /// <summary>A log line naming what happened and, for a rejection, what was expected.</summary>
    public override string ToString() => Kind switch
    {
        ArmLinkEventKind.FrameRejected =>
            $"{Channel.ToString().ToLowerInvariant()} frame rejected ({Size} bytes, sequence {Sequence}): " +
            $"{FirmwareCodec.StatusName(Reason)}: {FirmwareCodec.Describe(Reason)}",
        ArmLinkEventKind.ArmRestarted => $"arm restarted: new session {Session:X8}",
        ArmLinkEventKind.LinkLost => $"link lost: no valid state from session {Session:X8} within the link timeout",
        ArmLinkEventKind.LinkRestored => $"link restored: states from session {Session:X8} arrive again",
        ArmLinkEventKind.ControlTimedOut => "control request timed out; request channel reset",
        _ => Kind.ToString(),
    };
}
