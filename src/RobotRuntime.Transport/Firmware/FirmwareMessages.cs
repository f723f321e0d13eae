using RobotRuntime.Arm;

namespace RobotRuntime.Transport.Firmware;

/// <summary>Message types of the firmware protocol (header offset 6; see firmware-interfaces/PROTOCOL.md).</summary>
public enum FirmwareMessageType : ushort
{
    /// <summary>Control request: the protocol versions the runtime speaks.</summary>
    Hello = 0x01,

    /// <summary>Control reply to <see cref="Hello"/>: the arm's description.</summary>
    Description = 0x02,

    /// <summary>State channel: the arm's state.</summary>
    State = 0x03,

    /// <summary>Command channel: what the arm should do next.</summary>
    Command = 0x04,

    /// <summary>Control request: liveness check.</summary>
    Heartbeat = 0x05,

    /// <summary>Control request: allow motion.</summary>
    Enable = 0x06,

    /// <summary>Control request: stop and refuse motion.</summary>
    Disable = 0x07,

    /// <summary>Control request: emergency stop (latched).</summary>
    EmergencyStop = 0x08,

    /// <summary>Control request: clear the e-stop latch and faults.</summary>
    Reset = 0x09,

    /// <summary>Control reply to heartbeat, enable, disable, e-stop, reset, or to a bad request.</summary>
    Ack = 0x0A,

    /// <summary>Control request: ask for the fault report.</summary>
    FaultQuery = 0x0B,

    /// <summary>Control reply to <see cref="FaultQuery"/>.</summary>
    FaultReport = 0x0C,

    /// <summary>Control request (authenticated, version 2): make this controller the arm's only one.</summary>
    Claim = 0x0D,
}

/// <summary>
/// Why a frame was rejected (or <see cref="Ok"/>). The numbers are the protocol's: the arm's
/// fault report counts rejections by them.
/// </summary>
public enum FrameStatus
{
    /// <summary>Accepted.</summary>
    Ok = 0,

    /// <summary>Fewer bytes than a header and trailer, or than the header announces.</summary>
    Truncated = 1,

    /// <summary>The first four bytes are not "RRFW".</summary>
    BadMagic = 2,

    /// <summary>The header's protocol version is not one this side speaks.</summary>
    UnsupportedVersion = 3,

    /// <summary>The frame is longer than the protocol's maximum, or its payload length field is.</summary>
    Oversized = 4,

    /// <summary>Bytes after the trailer, or a payload length wrong for the type.</summary>
    LengthMismatch = 5,

    /// <summary>The CRC32C trailer does not match the header and payload.</summary>
    BadCrc = 6,

    /// <summary>The type is not defined by the protocol.</summary>
    UnknownType = 7,

    /// <summary>A field is outside its domain (count, mode, reserved bytes, an undefined flag bit or value, NaN or infinity).</summary>
    BadPayload = 8,

    /// <summary>The same sequence number as the last one recorded on this channel.</summary>
    SequenceRepeat = 9,

    /// <summary>A lower sequence number than the last one recorded on this channel.</summary>
    SequenceBackwards = 10,

    /// <summary>Addressed to another arm session.</summary>
    WrongSession = 11,

    /// <summary>A command that arrived at or after its expiry time.</summary>
    Expired = 12,

    /// <summary>A command while the arm is disabled, e-stopped or faulted.</summary>
    NotEnabled = 13,

    /// <summary>A valid frame of a type this channel does not carry.</summary>
    UnexpectedType = 14,

    /// <summary>A command value outside the limits of the arm's description.</summary>
    OutOfLimits = 15,

    /// <summary>An authenticated type whose tag is not the claimant's (no shared secret, another controller, or no claim).</summary>
    BadAuth = 16,
}

/// <summary>The 24-byte frame header.</summary>
/// <param name="Magic">Must be <see cref="FirmwareCodec.Magic"/>.</param>
/// <param name="Version">Protocol version.</param>
/// <param name="Type">Message type.</param>
/// <param name="Sequence">Sender's sequence number on this channel.</param>
/// <param name="PayloadLength">Bytes between header and trailer.</param>
/// <param name="TimestampNanoseconds">Sender's monotonic clock when sent, ns.</param>
public readonly record struct FrameHeader(
    uint Magic, ushort Version, FirmwareMessageType Type, uint Sequence, uint PayloadLength, ulong TimestampNanoseconds);

/// <summary>HELLO: the protocol versions the runtime speaks.</summary>
/// <param name="MinVersion">Lowest version, ≥ 1.</param>
/// <param name="MaxVersion">Highest version, ≥ <paramref name="MinVersion"/>.</param>
/// <param name="ClientId">The runtime's id for this start (logged by the arm).</param>
public readonly record struct HelloMessage(ushort MinVersion, ushort MaxVersion, uint ClientId);

/// <summary>Result codes of an ACK.</summary>
public enum AckResult : ushort
{
    /// <summary>Done.</summary>
    Ok = 0,

    /// <summary>The request named another arm session: handshake again.</summary>
    WrongSession = 1,

    /// <summary>Enable refused: the e-stop is latched.</summary>
    RefusedEmergencyStop = 2,

    /// <summary>Enable refused: a fault stops motion.</summary>
    RefusedFault = 3,

    /// <summary>The request frame was rejected; the reason says why.</summary>
    BadRequest = 4,

    /// <summary>HELLO named no version the arm speaks.</summary>
    UnsupportedVersion = 5,

    /// <summary>CLAIM refused: another controller holds the arm and its lease is live.</summary>
    Claimed = 6,
}

/// <summary>ACK: the arm's answer to a control request.</summary>
/// <param name="Session">The arm's session.</param>
/// <param name="RequestSequence">Header sequence of the request answered, as received; 0 exactly when the request was rejected as
/// truncated, bad_magic or oversized.</param>
/// <param name="RequestType">Header type of the request answered, as received (not checked: a request of an unknown type is named as sent);
/// 0 when <paramref name="RequestSequence"/> is.</param>
/// <param name="Result">What the arm did.</param>
/// <param name="Reason"><see cref="FrameStatus.WrongSession"/> for <see cref="AckResult.WrongSession"/>, why the request frame was rejected for
/// <see cref="AckResult.BadRequest"/>; <see cref="FrameStatus.Ok"/> otherwise.</param>
/// <param name="Status">The arm's status after the request.</param>
public readonly record struct AckMessage(
    uint Session, uint RequestSequence, FirmwareMessageType RequestType, AckResult Result, FrameStatus Reason, ArmStatusFlags Status);

/// <summary>COMMAND: a command with the session it is meant for and its expiry on the arm's clock.</summary>
public struct CommandFrame
{
    /// <summary>The arm session the command is meant for.</summary>
    public uint Session;

    /// <summary>The arm's monotonic clock, ns: the arm must not apply the command at or after this.</summary>
    public ulong ExpiresAtNanoseconds;

    /// <summary>The command.</summary>
    public ArmCommand Command;
}

/// <summary>FAULT_REPORT: what the arm counted this session.</summary>
/// <param name="Session">The arm's session.</param>
/// <param name="Status">The arm's status flags.</param>
/// <param name="Faults">Latched faults and warnings.</param>
/// <param name="HoldReason">Why it holds.</param>
/// <param name="WatchdogTrips">Times the watchdog put the arm in hold.</param>
/// <param name="CommandsApplied">Commands applied.</param>
/// <param name="LastCommandSequence">Sequence of the last command applied.</param>
/// <param name="Rejected">Frames rejected on both channels, indexed by <see cref="FrameStatus"/> (17 entries; [0] unused).</param>
public sealed record FaultReport(
    uint Session, ArmStatusFlags Status, ArmFaultFlags Faults, ArmHoldReason HoldReason,
    uint WatchdogTrips, uint CommandsApplied, uint LastCommandSequence, IReadOnlyList<uint> Rejected)
{
    /// <summary>Frames rejected for <paramref name="reason"/>.</summary>
    public uint RejectedFor(FrameStatus reason) => Rejected[(int)reason];
}

/// <summary>What a version-2 DESCRIPTION adds after the joints: where the arm's sequences and its claim stand.</summary>
/// <param name="LeaseMilliseconds">A claim lapses after this long without a valid authenticated frame from its holder (&gt; 0).</param>
/// <param name="LastCommandSequence">Highest COMMAND sequence the arm recorded this arm session, from any controller; 0 if none.</param>
/// <param name="LastControlSequence">Highest control request sequence the arm recorded this arm session; 0 if none.</param>
/// <param name="ClaimedBy">Client id of the live claim; 0 if none.</param>
public readonly record struct ClaimStatus(uint LeaseMilliseconds, uint LastCommandSequence, uint LastControlSequence, uint ClaimedBy);

/// <summary>A CLAIM request (version 2).</summary>
/// <param name="Session">The arm session.</param>
/// <param name="ClientId">This controller's id for this start (non-zero); part of its controller key.</param>
/// <param name="Takeover">Take the arm even from a live claim (an operator's deliberate takeover).</param>
/// <param name="Release">The holder gives the arm up (its clean exit); not together with <paramref name="Takeover"/>.</param>
public readonly record struct ClaimMessage(uint Session, uint ClientId, bool Takeover, bool Release = false);
