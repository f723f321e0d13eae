using System.Buffers.Binary;
using System.Numerics;
using RobotRuntime.Arm;

namespace RobotRuntime.Transport.Firmware;

/// <summary>
/// Encode and decode the firmware protocol's frames (firmware-interfaces/PROTOCOL.md): a 24-byte
/// little-endian header, a fixed-layout payload and a CRC32C trailer. Byte-for-byte the same as the
/// C codec in firmware-interfaces/src/rrfw.c; both are checked against the same golden vectors.
/// </summary>
/// <remarks>Real-time: every member except the DecodeDescription overloads, <see cref="EncodeDescription"/>
/// and <see cref="DecodeFaultReport"/> is allocation-free, never throws on any input (but
/// <see cref="ControllerKey"/> on a secret of the wrong size), and never reads outside the span it is
/// given. Thread-safe (no state). Version 2 adds authentication: <see cref="IsAuthenticated"/> types end
/// their payload with a tag sealed by the controller's key.</remarks>
public static class FirmwareCodec
{
    /// <summary>The bytes "RRFW" read as a little-endian u32.</summary>
    public const uint Magic = 0x57465252;

    /// <summary>The protocol version this codec speaks.</summary>
    public const ushort Version = 2;

    /// <summary>Header size, bytes.</summary>
    public const int HeaderSize = 24;

    /// <summary>Trailer (CRC32C) size, bytes.</summary>
    public const int TrailerSize = 4;

    /// <summary>Largest payload, bytes.</summary>
    public const int MaxPayload = 1024;

    /// <summary>Largest frame, bytes.</summary>
    public const int MaxFrame = HeaderSize + MaxPayload + TrailerSize;

    /// <summary>ZMQ_MAXMSGSIZE for sockets facing the peer: a little over <see cref="MaxFrame"/>, so
    /// slightly oversized frames still arrive and are counted; far larger ones drop the connection.</summary>
    public const int SocketMaxMessage = 2 * MaxFrame;

    /// <summary>Largest number of joints.</summary>
    public const int MaxJoints = JointVector.Capacity;

    /// <summary>Number of <see cref="FrameStatus"/> values (the size of the fault report's table).</summary>
    public const int StatusCount = 17;

    /// <summary>Bytes of the shared secret and of a controller key.</summary>
    public const int KeySize = 32;

    /// <summary>Bytes of the tag at the end of an authenticated payload.</summary>
    public const int TagSize = 16;

    private const int DescriptionFixed = 28, DescriptionPerJoint = 32, DescriptionTail = 16, StateFixed = 96, StatePerJoint = 24,
        CommandFixed = 24, HelloSize = 8, SessionRequestSize = 4, AckSize = 20, FaultReportSize = 28 + 4 * StatusCount,
        ClaimSize = 12 + TagSize;

    // The bits PROTOCOL.md defines; a receiver rejects any other bit as bad_payload (§3).
    // DESCRIPTION capabilities (§3.2): a bit per command mode (at least one set), and the gripper.
    private const int CapabilityModes = 0x7, CapabilityGripper = 0x8;
    private const uint DefinedStatusFlags = (uint)(ArmStatusFlags.Enabled | ArmStatusFlags.Holding | ArmStatusFlags.EmergencyStop
        | ArmStatusFlags.Fault | ArmStatusFlags.Moving);
    private const uint DefinedFaultFlags = (uint)(ArmFaultFlags.JointLimit | ArmFaultFlags.OverEffort | ArmFaultFlags.Watchdog
        | ArmFaultFlags.BadFrames);

    /// <summary>CRC32C (Castagnoli; reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF): <see cref="Checksums.Crc32C.Compute"/>.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data) => Checksums.Crc32C.Compute(data);

    /// <summary>Lower-case protocol name of a status, as the C side and the logs spell it ("bad_crc").</summary>
    public static string StatusName(FrameStatus status) => status switch
    {
        FrameStatus.Ok => "ok",
        FrameStatus.Truncated => "truncated",
        FrameStatus.BadMagic => "bad_magic",
        FrameStatus.UnsupportedVersion => "unsupported_version",
        FrameStatus.Oversized => "oversized",
        FrameStatus.LengthMismatch => "length_mismatch",
        FrameStatus.BadCrc => "bad_crc",
        FrameStatus.UnknownType => "unknown_type",
        FrameStatus.BadPayload => "bad_payload",
        FrameStatus.SequenceRepeat => "sequence_repeat",
        FrameStatus.SequenceBackwards => "sequence_backwards",
        FrameStatus.WrongSession => "wrong_session",
        FrameStatus.Expired => "expired",
        FrameStatus.NotEnabled => "not_enabled",
        FrameStatus.UnexpectedType => "unexpected_type",
        FrameStatus.OutOfLimits => "out_of_limits",
        FrameStatus.BadAuth => "bad_auth",
        _ => "unknown",
    };

    /// <summary>What a status means, in words that name what was expected.</summary>
    public static string Describe(FrameStatus status) => status switch
    {
        FrameStatus.Ok => "accepted",
        FrameStatus.Truncated => $"fewer bytes than a header + trailer ({HeaderSize + TrailerSize}) or than payload_length announces",
        FrameStatus.BadMagic => "the first four bytes are not 'RRFW'",
        FrameStatus.UnsupportedVersion => $"the protocol version is not {Version}",
        FrameStatus.Oversized => $"the frame or its payload_length is larger than the protocol maximum ({MaxFrame} / {MaxPayload} bytes)",
        FrameStatus.LengthMismatch => "payload_length does not match the frame size or the message type",
        FrameStatus.BadCrc => "the CRC32C trailer does not match header + payload",
        FrameStatus.UnknownType => "the message type is not defined by the protocol",
        FrameStatus.BadPayload => "a field is outside its domain (count, mode, reserved bytes, an undefined flag bit or value, NaN or infinity)",
        FrameStatus.SequenceRepeat => "the sequence number equals the last one recorded on this channel",
        FrameStatus.SequenceBackwards => "the sequence number is lower than the last one recorded on this channel",
        FrameStatus.WrongSession => "addressed to another arm session",
        FrameStatus.Expired => "arrived at or after its expiry time",
        FrameStatus.NotEnabled => "the arm is disabled, e-stopped or faulted",
        FrameStatus.UnexpectedType => "a valid frame of a type this channel does not carry",
        FrameStatus.OutOfLimits => "a value is outside the limits of the arm's description",
        FrameStatus.BadAuth => "not authenticated by the controller holding the arm (no shared secret, another controller, or no claim)",
        _ => "not a protocol status",
    };

    // ---- frame ---------------------------------------------------------------------------------

    /// <summary>
    /// Checks what does not depend on the payload: size, magic, version, length, CRC, known type.
    /// <paramref name="header"/> is filled whenever the size allows reading it.
    /// </summary>
    public static FrameStatus CheckFrame(ReadOnlySpan<byte> frame, out FrameHeader header)
    {
        header = default;
        if (frame.Length < HeaderSize + TrailerSize)
            return FrameStatus.Truncated;
        if (frame.Length > MaxFrame)
            return FrameStatus.Oversized;
        header = new FrameHeader(
            BinaryPrimitives.ReadUInt32LittleEndian(frame),
            BinaryPrimitives.ReadUInt16LittleEndian(frame[4..]),
            (FirmwareMessageType)BinaryPrimitives.ReadUInt16LittleEndian(frame[6..]),
            BinaryPrimitives.ReadUInt32LittleEndian(frame[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(frame[12..]),
            BinaryPrimitives.ReadUInt64LittleEndian(frame[16..]));
        if (header.Magic != Magic)
            return FrameStatus.BadMagic;
        if (header.Version != Version)
            return FrameStatus.UnsupportedVersion;
        if (header.PayloadLength > MaxPayload)
            return FrameStatus.Oversized;
        var expected = HeaderSize + (int)header.PayloadLength + TrailerSize;
        if (frame.Length < expected)
            return FrameStatus.Truncated;
        if (frame.Length > expected)
            return FrameStatus.LengthMismatch;
        var covered = HeaderSize + (int)header.PayloadLength;
        if (Crc32C(frame[..covered]) != BinaryPrimitives.ReadUInt32LittleEndian(frame[covered..]))
            return FrameStatus.BadCrc;
        if ((ushort)header.Type is < (ushort)FirmwareMessageType.Hello or > (ushort)FirmwareMessageType.Claim)
            return FrameStatus.UnknownType;
        return FrameStatus.Ok;
    }

    private static FrameStatus CheckFrameOfType(ReadOnlySpan<byte> frame, FirmwareMessageType type, out FrameHeader header, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        var status = CheckFrame(frame, out header);
        if (status != FrameStatus.Ok)
            return status;
        if (header.Type != type)
            return FrameStatus.UnexpectedType;
        payload = frame.Slice(HeaderSize, (int)header.PayloadLength);
        return FrameStatus.Ok;
    }

    private static bool IsSessionRequest(FirmwareMessageType type) =>
        type is FirmwareMessageType.Heartbeat or FirmwareMessageType.Enable or FirmwareMessageType.Disable
            or FirmwareMessageType.EmergencyStop or FirmwareMessageType.Reset;

    // ---- decode --------------------------------------------------------------------------------

    /// <summary>
    /// The full decode of a frame of any type: the status the decoder of the type in its header gives
    /// (the frame checks first). For a receiver that must judge a frame of a type it did not expect
    /// (its own payload checks come before <see cref="FrameStatus.UnexpectedType"/>, as in the C codec).
    /// </summary>
    /// <remarks>Allocates for DESCRIPTION and FAULT_REPORT frames (their decoders do); otherwise real-time.</remarks>
    public static FrameStatus DecodeAny(ReadOnlySpan<byte> frame, out FrameHeader header)
    {
        var status = CheckFrame(frame, out header);
        if (status != FrameStatus.Ok)
            return status;
        return header.Type switch
        {
            FirmwareMessageType.Hello => DecodeHello(frame, out _, out _),
            FirmwareMessageType.Description => DecodeDescription(frame, out _, out _),
            FirmwareMessageType.State => DecodeState(frame, out _, out _),
            FirmwareMessageType.Command => DecodeCommand(frame, out _, out _),
            FirmwareMessageType.Ack => DecodeAck(frame, out _, out _),
            FirmwareMessageType.FaultQuery => DecodeFaultQuery(frame, out _),
            FirmwareMessageType.FaultReport => DecodeFaultReport(frame, out _, out _),
            FirmwareMessageType.Claim => DecodeClaim(frame, out _, out _),
            _ => DecodeSessionRequest(frame, out _, out _),
        };
    }

    /// <summary>
    /// How the arm judges a frame arriving on its COMMAND channel: a COMMAND's own checks, and a frame
    /// of another type first by that type's checks (so a malformed one is named for what is wrong with
    /// it), then <see cref="FrameStatus.UnexpectedType"/>.
    /// </summary>
    /// <remarks>Allocates only for a DESCRIPTION or FAULT_REPORT sent to the wrong channel.</remarks>
    public static FrameStatus DecodeOnCommandChannel(ReadOnlySpan<byte> frame, out FrameHeader header, out CommandFrame command)
    {
        var status = DecodeCommand(frame, out header, out command);
        if (status != FrameStatus.UnexpectedType)
            return status;
        var own = DecodeAny(frame, out _);
        return own == FrameStatus.Ok ? FrameStatus.UnexpectedType : own;
    }

    /// <summary>
    /// How the arm judges a request on its control channel: the full decode of its type, and
    /// <see cref="FrameStatus.UnexpectedType"/> for a well-formed frame the arm sends rather than
    /// receives (STATE, COMMAND, DESCRIPTION, ACK, FAULT_REPORT). <paramref name="header"/> is filled
    /// whenever the frame is long enough to hold one.
    /// </summary>
    public static FrameStatus DecodeOnControlChannel(ReadOnlySpan<byte> frame, out FrameHeader header)
    {
        var status = DecodeAny(frame, out header);
        if (status == FrameStatus.Ok && header.Type is FirmwareMessageType.State or FirmwareMessageType.Command or FirmwareMessageType.Ack
                or FirmwareMessageType.Description or FirmwareMessageType.FaultReport)
            return FrameStatus.UnexpectedType;
        return status;
    }

    /// <summary>Decodes a HELLO frame.</summary>
    public static FrameStatus DecodeHello(ReadOnlySpan<byte> frame, out FrameHeader header, out HelloMessage hello)
    {
        hello = default;
        var status = CheckFrameOfType(frame, FirmwareMessageType.Hello, out header, out var p);
        if (status != FrameStatus.Ok)
            return status;
        if (p.Length != HelloSize)
            return FrameStatus.LengthMismatch;
        hello = new HelloMessage(U16(p, 0), U16(p, 2), U32(p, 4));
        return hello.MinVersion == 0 || hello.MinVersion > hello.MaxVersion ? FrameStatus.BadPayload : FrameStatus.Ok;
    }

    /// <summary>Decodes a DESCRIPTION frame. Allocates the description: control path only.</summary>
    public static FrameStatus DecodeDescription(ReadOnlySpan<byte> frame, out FrameHeader header, out ArmDescription? description) =>
        DecodeDescription(frame, out header, out description, out _);

    /// <summary>Decodes a DESCRIPTION frame with what version 2 adds (<paramref name="claim"/>). Allocates the description: control path only.</summary>
    public static FrameStatus DecodeDescription(ReadOnlySpan<byte> frame, out FrameHeader header, out ArmDescription? description, out ClaimStatus claim)
    {
        description = null;
        claim = default;
        var status = CheckFrameOfType(frame, FirmwareMessageType.Description, out header, out var p);
        if (status != FrameStatus.Ok)
            return status;
        if (p.Length < DescriptionFixed)
            return FrameStatus.LengthMismatch;
        var session = U32(p, 0);
        var version = U16(p, 4);
        int jointCount = p[6];
        int capabilities = p[7];
        var rate = U16(p, 8);
        var watchdog = U16(p, 10);
        var eeTranslation = F64(p, 12);
        var eeRotation = F64(p, 20);
        if (jointCount is < 1 or > MaxJoints)
            return FrameStatus.BadPayload;
        if (p.Length != DescriptionFixed + DescriptionPerJoint * jointCount + DescriptionTail)
            return FrameStatus.LengthMismatch;
        var tail = DescriptionFixed + DescriptionPerJoint * jointCount;
        claim = new ClaimStatus(U32(p, tail), U32(p, tail + 4), U32(p, tail + 8), U32(p, tail + 12));
        if (session == 0 || version == 0 || (capabilities & CapabilityModes) == 0 || (capabilities & ~(CapabilityModes | CapabilityGripper)) != 0
            || rate == 0 || watchdog == 0 || claim.LeaseMilliseconds == 0
            || !double.IsFinite(eeTranslation) || !double.IsFinite(eeRotation) || eeTranslation < 0 || eeRotation < 0)
            return FrameStatus.BadPayload;
        var joints = new JointLimits[jointCount];
        for (var j = 0; j < jointCount; j++)
        {
            var o = DescriptionFixed + DescriptionPerJoint * j;
            var limits = new JointLimits(F64(p, o), F64(p, o + 8), F64(p, o + 16), F64(p, o + 24));
            if (!double.IsFinite(limits.PositionMin) || !double.IsFinite(limits.PositionMax) || !double.IsFinite(limits.VelocityMax)
                || !double.IsFinite(limits.EffortMax) || limits.PositionMin > limits.PositionMax || !(limits.VelocityMax > 0) || !(limits.EffortMax > 0))
                return FrameStatus.BadPayload;
            joints[j] = limits;
        }
        var supported = new HashSet<ArmCommandMode>();
        for (var mode = ArmCommandMode.JointPosition; mode <= ArmCommandMode.EndEffectorDelta; mode++)
            if ((capabilities & (1 << ((int)mode - 1))) != 0)
                supported.Add(mode);
        description = new ArmDescription(session, version, joints, supported, rate, watchdog, eeTranslation, eeRotation)
        {
            // Clear on an arm built before the bit was defined: it means no gripper (PROTOCOL.md §3.2).
            HasGripper = (capabilities & CapabilityGripper) != 0,
        };
        return FrameStatus.Ok;
    }

    /// <summary>Decodes a STATE frame into <paramref name="state"/> (which also gets the header's sequence and time).</summary>
    /// <remarks>On a status other than <see cref="FrameStatus.Ok"/>, <paramref name="state"/> may be partly written: do not use it.</remarks>
    public static FrameStatus DecodeState(ReadOnlySpan<byte> frame, out FrameHeader header, out ArmState state)
    {
        state = default;
        var status = CheckFrameOfType(frame, FirmwareMessageType.State, out header, out var p);
        if (status != FrameStatus.Ok)
            return status;
        if (p.Length < StateFixed)
            return FrameStatus.LengthMismatch;
        state.Sequence = header.Sequence;
        state.ArmTimeNanoseconds = header.TimestampNanoseconds;
        state.Session = U32(p, 0);
        state.LastCommandSequence = U32(p, 4);
        state.Status = (ArmStatusFlags)U32(p, 8);
        state.Faults = (ArmFaultFlags)U32(p, 12);
        state.HoldReason = (ArmHoldReason)U16(p, 16);
        state.JointCount = p[18];
        state.ActiveMode = (ArmCommandMode)p[19];
        state.CommandsRejected = U32(p, 20);
        var n = state.JointCount;
        if (n is < 1 or > MaxJoints)
            return FrameStatus.BadPayload;
        if (p.Length != StateFixed + StatePerJoint * n)
            return FrameStatus.LengthMismatch;
        if (state.Session == 0 || state.ActiveMode > ArmCommandMode.EndEffectorDelta || state.HoldReason > ArmHoldReason.Fault
            || ((uint)state.Status & ~DefinedStatusFlags) != 0 || ((uint)state.Faults & ~DefinedFaultFlags) != 0)
            return FrameStatus.BadPayload;
        state.GripperPosition = F64(p, 24);
        state.GripperEffort = F64(p, 32);
        state.EndEffectorX = F64(p, 40);
        state.EndEffectorY = F64(p, 48);
        state.EndEffectorZ = F64(p, 56);
        state.EndEffectorQw = F64(p, 64);
        state.EndEffectorQx = F64(p, 72);
        state.EndEffectorQy = F64(p, 80);
        state.EndEffectorQz = F64(p, 88);
        var finite = double.IsFinite(state.GripperPosition) && double.IsFinite(state.GripperEffort)
            && double.IsFinite(state.EndEffectorX) && double.IsFinite(state.EndEffectorY) && double.IsFinite(state.EndEffectorZ)
            && double.IsFinite(state.EndEffectorQw) && double.IsFinite(state.EndEffectorQx)
            && double.IsFinite(state.EndEffectorQy) && double.IsFinite(state.EndEffectorQz);
        for (var j = 0; j < n; j++)
        {
            state.Positions[j] = F64(p, StateFixed + 8 * j);
            state.Velocities[j] = F64(p, StateFixed + 8 * (n + j));
            state.Efforts[j] = F64(p, StateFixed + 8 * (2 * n + j));
            finite &= double.IsFinite(state.Positions[j]) && double.IsFinite(state.Velocities[j]) && double.IsFinite(state.Efforts[j]);
        }
        return finite ? FrameStatus.Ok : FrameStatus.BadPayload;
    }

    /// <summary>Decodes a COMMAND frame (its sequence goes into <see cref="ArmCommand.Sequence"/>).</summary>
    public static FrameStatus DecodeCommand(ReadOnlySpan<byte> frame, out FrameHeader header, out CommandFrame command)
    {
        command = default;
        var status = CheckFrameOfType(frame, FirmwareMessageType.Command, out header, out var p);
        if (status != FrameStatus.Ok)
            return status;
        if (p.Length < CommandFixed)
            return FrameStatus.LengthMismatch;
        command.Session = U32(p, 0);
        var mode = (ArmCommandMode)p[4];
        int count = p[5];
        var reserved = U16(p, 6);
        command.ExpiresAtNanoseconds = U64(p, 8);
        command.Command.Mode = mode;
        command.Command.ValueCount = count;
        command.Command.GripperTarget = F64(p, 16);
        command.Command.Sequence = header.Sequence;
        if (!CommandCountValid(mode, count))
            return FrameStatus.BadPayload;
        if (p.Length != CommandFixed + 8 * count + TagSize)
            return FrameStatus.LengthMismatch;
        if (reserved != 0 || command.Session == 0 || !double.IsFinite(command.Command.GripperTarget))
            return FrameStatus.BadPayload;
        for (var i = 0; i < count; i++)
        {
            var v = F64(p, CommandFixed + 8 * i);
            if (!double.IsFinite(v))
                return FrameStatus.BadPayload;
            command.Command.Values[i] = v;
        }
        return FrameStatus.Ok;
    }

    /// <summary>Decodes a HEARTBEAT, ENABLE, DISABLE, ESTOP or RESET frame: its payload is the session it names.</summary>
    public static FrameStatus DecodeSessionRequest(ReadOnlySpan<byte> frame, out FrameHeader header, out uint session)
    {
        session = 0;
        var status = CheckFrame(frame, out header);
        if (status != FrameStatus.Ok)
            return status;
        if (!IsSessionRequest(header.Type))
            return FrameStatus.UnexpectedType;
        if (header.PayloadLength != SessionRequestSize + (header.Type == FirmwareMessageType.EmergencyStop ? 0 : TagSize))
            return FrameStatus.LengthMismatch;
        session = U32(frame, HeaderSize);
        return FrameStatus.Ok;
    }

    /// <summary>Decodes a CLAIM frame (its tag is checked with <see cref="TagValid"/>, which needs the key).</summary>
    public static FrameStatus DecodeClaim(ReadOnlySpan<byte> frame, out FrameHeader header, out ClaimMessage claim)
    {
        claim = default;
        var status = CheckFrameOfType(frame, FirmwareMessageType.Claim, out header, out var p);
        if (status != FrameStatus.Ok)
            return status;
        if (p.Length != ClaimSize)
            return FrameStatus.LengthMismatch;
        var flags = U32(p, 8);
        claim = new ClaimMessage(U32(p, 0), U32(p, 4), (flags & 1) != 0, (flags & 2) != 0);
        return claim.Session == 0 || claim.ClientId == 0 || (flags & ~3u) != 0 || flags == 3 ? FrameStatus.BadPayload : FrameStatus.Ok;
    }

    /// <summary>Decodes a FAULT_QUERY frame (no payload).</summary>
    public static FrameStatus DecodeFaultQuery(ReadOnlySpan<byte> frame, out FrameHeader header)
    {
        var status = CheckFrameOfType(frame, FirmwareMessageType.FaultQuery, out header, out var p);
        return status != FrameStatus.Ok ? status : p.Length == 0 ? FrameStatus.Ok : FrameStatus.LengthMismatch;
    }

    /// <summary>Decodes an ACK frame.</summary>
    public static FrameStatus DecodeAck(ReadOnlySpan<byte> frame, out FrameHeader header, out AckMessage ack)
    {
        ack = default;
        var status = CheckFrameOfType(frame, FirmwareMessageType.Ack, out header, out var p);
        if (status != FrameStatus.Ok)
            return status;
        if (p.Length != AckSize)
            return FrameStatus.LengthMismatch;
        ack = new AckMessage(U32(p, 0), U32(p, 4), (FirmwareMessageType)U16(p, 8), (AckResult)U16(p, 10),
            (FrameStatus)U16(p, 12), (ArmStatusFlags)U32(p, 16));
        var reserved = U16(p, 14);
        return reserved != 0 || ack.Result > AckResult.Claimed || (int)ack.Reason >= StatusCount || ((uint)ack.Status & ~DefinedStatusFlags) != 0
            ? FrameStatus.BadPayload : FrameStatus.Ok;
    }

    /// <summary>Decodes a FAULT_REPORT frame. Allocates the report: control path only.</summary>
    public static FrameStatus DecodeFaultReport(ReadOnlySpan<byte> frame, out FrameHeader header, out FaultReport? report)
    {
        report = null;
        var status = CheckFrameOfType(frame, FirmwareMessageType.FaultReport, out header, out var p);
        if (status != FrameStatus.Ok)
            return status;
        if (p.Length != FaultReportSize)
            return FrameStatus.LengthMismatch;
        var hold = (ArmHoldReason)U16(p, 12);
        if (U16(p, 14) != 0 || hold > ArmHoldReason.Fault || (U32(p, 4) & ~DefinedStatusFlags) != 0 || (U32(p, 8) & ~DefinedFaultFlags) != 0)
            return FrameStatus.BadPayload;
        var rejected = new uint[StatusCount];
        for (var i = 0; i < StatusCount; i++)
            rejected[i] = U32(p, 28 + 4 * i);
        report = new FaultReport(U32(p, 0), (ArmStatusFlags)U32(p, 4), (ArmFaultFlags)U32(p, 8), hold,
            U32(p, 16), U32(p, 20), U32(p, 24), rejected);
        return FrameStatus.Ok;
    }

    // ---- encode --------------------------------------------------------------------------------

    /// <summary>Encodes a HELLO. Returns the frame size, or 0 if <paramref name="destination"/> is too small.</summary>
    public static int EncodeHello(Span<byte> destination, uint sequence, ulong timestampNanoseconds, in HelloMessage hello)
    {
        if (!Fits(destination, HelloSize))
            return 0;
        var p = Payload(destination, FirmwareMessageType.Hello, sequence, timestampNanoseconds, HelloSize);
        BinaryPrimitives.WriteUInt16LittleEndian(p, hello.MinVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(p[2..], hello.MaxVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], hello.ClientId);
        return Seal(destination, HelloSize);
    }

    /// <summary>Encodes a DESCRIPTION with what version 2 adds (<paramref name="claim"/>). Returns the frame size, or 0 if it does not fit or has 0 or more than 16 joints.</summary>
    public static int EncodeDescription(Span<byte> destination, uint sequence, ulong timestampNanoseconds, ArmDescription description, in ClaimStatus claim)
    {
        ArgumentNullException.ThrowIfNull(description);
        var n = description.JointCount;
        var size = DescriptionFixed + DescriptionPerJoint * n + DescriptionTail;
        if (n is < 1 or > MaxJoints || !Fits(destination, size))
            return 0;
        var p = Payload(destination, FirmwareMessageType.Description, sequence, timestampNanoseconds, size);
        BinaryPrimitives.WriteUInt32LittleEndian(p, description.Session);
        BinaryPrimitives.WriteUInt16LittleEndian(p[4..], (ushort)description.ProtocolVersion);
        p[6] = (byte)n;
        var capabilities = description.HasGripper ? CapabilityGripper : 0;
        foreach (var mode in description.SupportedModes)
            capabilities |= 1 << ((int)mode - 1);
        p[7] = (byte)capabilities;
        BinaryPrimitives.WriteUInt16LittleEndian(p[8..], (ushort)description.StateRateHz);
        BinaryPrimitives.WriteUInt16LittleEndian(p[10..], (ushort)description.WatchdogMilliseconds);
        BinaryPrimitives.WriteDoubleLittleEndian(p[12..], description.EndEffectorMaxTranslation);
        BinaryPrimitives.WriteDoubleLittleEndian(p[20..], description.EndEffectorMaxRotation);
        for (var j = 0; j < n; j++)
        {
            var q = p[(DescriptionFixed + DescriptionPerJoint * j)..];
            var limits = description.Joints[j];
            BinaryPrimitives.WriteDoubleLittleEndian(q, limits.PositionMin);
            BinaryPrimitives.WriteDoubleLittleEndian(q[8..], limits.PositionMax);
            BinaryPrimitives.WriteDoubleLittleEndian(q[16..], limits.VelocityMax);
            BinaryPrimitives.WriteDoubleLittleEndian(q[24..], limits.EffortMax);
        }
        var tail = p[(DescriptionFixed + DescriptionPerJoint * n)..];
        BinaryPrimitives.WriteUInt32LittleEndian(tail, claim.LeaseMilliseconds);
        BinaryPrimitives.WriteUInt32LittleEndian(tail[4..], claim.LastCommandSequence);
        BinaryPrimitives.WriteUInt32LittleEndian(tail[8..], claim.LastControlSequence);
        BinaryPrimitives.WriteUInt32LittleEndian(tail[12..], claim.ClaimedBy);
        return Seal(destination, size);
    }

    /// <summary>Encodes a STATE; the header takes <see cref="ArmState.Sequence"/> and <see cref="ArmState.ArmTimeNanoseconds"/>.
    /// Returns the frame size, or 0 if it does not fit or the joint count is out of range.</summary>
    public static int EncodeState(Span<byte> destination, in ArmState state)
    {
        var n = state.JointCount;
        var size = StateFixed + StatePerJoint * n;
        if (n is < 1 or > MaxJoints || !Fits(destination, size))
            return 0;
        var p = Payload(destination, FirmwareMessageType.State, state.Sequence, state.ArmTimeNanoseconds, size);
        BinaryPrimitives.WriteUInt32LittleEndian(p, state.Session);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], state.LastCommandSequence);
        BinaryPrimitives.WriteUInt32LittleEndian(p[8..], (uint)state.Status);
        BinaryPrimitives.WriteUInt32LittleEndian(p[12..], (uint)state.Faults);
        BinaryPrimitives.WriteUInt16LittleEndian(p[16..], (ushort)state.HoldReason);
        p[18] = (byte)n;
        p[19] = (byte)state.ActiveMode;
        BinaryPrimitives.WriteUInt32LittleEndian(p[20..], state.CommandsRejected);
        BinaryPrimitives.WriteDoubleLittleEndian(p[24..], state.GripperPosition);
        BinaryPrimitives.WriteDoubleLittleEndian(p[32..], state.GripperEffort);
        BinaryPrimitives.WriteDoubleLittleEndian(p[40..], state.EndEffectorX);
        BinaryPrimitives.WriteDoubleLittleEndian(p[48..], state.EndEffectorY);
        BinaryPrimitives.WriteDoubleLittleEndian(p[56..], state.EndEffectorZ);
        BinaryPrimitives.WriteDoubleLittleEndian(p[64..], state.EndEffectorQw);
        BinaryPrimitives.WriteDoubleLittleEndian(p[72..], state.EndEffectorQx);
        BinaryPrimitives.WriteDoubleLittleEndian(p[80..], state.EndEffectorQy);
        BinaryPrimitives.WriteDoubleLittleEndian(p[88..], state.EndEffectorQz);
        for (var j = 0; j < n; j++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(p[(StateFixed + 8 * j)..], state.Positions[j]);
            BinaryPrimitives.WriteDoubleLittleEndian(p[(StateFixed + 8 * (n + j))..], state.Velocities[j]);
            BinaryPrimitives.WriteDoubleLittleEndian(p[(StateFixed + 8 * (2 * n + j))..], state.Efforts[j]);
        }
        return Seal(destination, size);
    }

    /// <summary>Encodes a COMMAND for arm <paramref name="session"/> that expires at <paramref name="expiresAtNanoseconds"/>
    /// (arm's clock). Returns the frame size, or 0 if it does not fit or the mode and value count do not go together.</summary>
    /// <remarks>Sealed with <paramref name="controllerKey"/> (<see cref="KeySize"/> bytes); an empty key leaves the tag zero.</remarks>
    public static int EncodeCommand(Span<byte> destination, uint sequence, ulong timestampNanoseconds, uint session,
        ulong expiresAtNanoseconds, in ArmCommand command, ReadOnlySpan<byte> controllerKey)
    {
        if (!CommandCountValid(command.Mode, command.ValueCount))
            return 0;
        var size = CommandFixed + 8 * command.ValueCount + TagSize;
        if (!Fits(destination, size))
            return 0;
        var p = Payload(destination, FirmwareMessageType.Command, sequence, timestampNanoseconds, size);
        BinaryPrimitives.WriteUInt32LittleEndian(p, session);
        p[4] = (byte)command.Mode;
        p[5] = (byte)command.ValueCount;
        BinaryPrimitives.WriteUInt16LittleEndian(p[6..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], expiresAtNanoseconds);
        BinaryPrimitives.WriteDoubleLittleEndian(p[16..], command.GripperTarget);
        for (var i = 0; i < command.ValueCount; i++)
            BinaryPrimitives.WriteDoubleLittleEndian(p[(CommandFixed + 8 * i)..], command.Values[i]);
        return SealAuthenticated(destination, size, controllerKey);
    }

    /// <summary>Encodes a HEARTBEAT, ENABLE, DISABLE, ESTOP or RESET naming arm <paramref name="session"/>.
    /// Returns the frame size, or 0 if it does not fit or <paramref name="type"/> is not one of those.</summary>
    /// <remarks>All but ESTOP are authenticated: sealed with <paramref name="controllerKey"/>; an empty key leaves the tag zero.</remarks>
    public static int EncodeSessionRequest(Span<byte> destination, FirmwareMessageType type, uint sequence, ulong timestampNanoseconds, uint session,
        ReadOnlySpan<byte> controllerKey)
    {
        var size = SessionRequestSize + (type == FirmwareMessageType.EmergencyStop ? 0 : TagSize);
        if (!IsSessionRequest(type) || !Fits(destination, size))
            return 0;
        var p = Payload(destination, type, sequence, timestampNanoseconds, size);
        BinaryPrimitives.WriteUInt32LittleEndian(p, session);
        return type == FirmwareMessageType.EmergencyStop ? Seal(destination, size) : SealAuthenticated(destination, size, controllerKey);
    }

    /// <summary>Encodes a CLAIM sealed with the claiming controller's key. Returns the frame size, or 0 if it does not fit.</summary>
    public static int EncodeClaim(Span<byte> destination, uint sequence, ulong timestampNanoseconds, in ClaimMessage claim, ReadOnlySpan<byte> controllerKey)
    {
        if (!Fits(destination, ClaimSize))
            return 0;
        var p = Payload(destination, FirmwareMessageType.Claim, sequence, timestampNanoseconds, ClaimSize);
        BinaryPrimitives.WriteUInt32LittleEndian(p, claim.Session);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], claim.ClientId);
        BinaryPrimitives.WriteUInt32LittleEndian(p[8..], (claim.Takeover ? 1u : 0u) | (claim.Release ? 2u : 0u));
        return SealAuthenticated(destination, ClaimSize, controllerKey);
    }

    /// <summary>Encodes a FAULT_QUERY. Returns the frame size, or 0 if it does not fit.</summary>
    public static int EncodeFaultQuery(Span<byte> destination, uint sequence, ulong timestampNanoseconds)
    {
        if (!Fits(destination, 0))
            return 0;
        Payload(destination, FirmwareMessageType.FaultQuery, sequence, timestampNanoseconds, 0);
        return Seal(destination, 0);
    }

    /// <summary>Encodes an ACK. Returns the frame size, or 0 if it does not fit.</summary>
    public static int EncodeAck(Span<byte> destination, uint sequence, ulong timestampNanoseconds, in AckMessage ack)
    {
        if (!Fits(destination, AckSize))
            return 0;
        var p = Payload(destination, FirmwareMessageType.Ack, sequence, timestampNanoseconds, AckSize);
        BinaryPrimitives.WriteUInt32LittleEndian(p, ack.Session);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], ack.RequestSequence);
        BinaryPrimitives.WriteUInt16LittleEndian(p[8..], (ushort)ack.RequestType);
        BinaryPrimitives.WriteUInt16LittleEndian(p[10..], (ushort)ack.Result);
        BinaryPrimitives.WriteUInt16LittleEndian(p[12..], (ushort)ack.Reason);
        BinaryPrimitives.WriteUInt16LittleEndian(p[14..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(p[16..], (uint)ack.Status);
        return Seal(destination, AckSize);
    }

    /// <summary>Encodes a FAULT_REPORT. Returns the frame size, or 0 if it does not fit or the table does not have <see cref="StatusCount"/> entries.</summary>
    public static int EncodeFaultReport(Span<byte> destination, uint sequence, ulong timestampNanoseconds, FaultReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.Rejected.Count != StatusCount || !Fits(destination, FaultReportSize))
            return 0;
        var p = Payload(destination, FirmwareMessageType.FaultReport, sequence, timestampNanoseconds, FaultReportSize);
        BinaryPrimitives.WriteUInt32LittleEndian(p, report.Session);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], (uint)report.Status);
        BinaryPrimitives.WriteUInt32LittleEndian(p[8..], (uint)report.Faults);
        BinaryPrimitives.WriteUInt16LittleEndian(p[12..], (ushort)report.HoldReason);
        BinaryPrimitives.WriteUInt16LittleEndian(p[14..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(p[16..], report.WatchdogTrips);
        BinaryPrimitives.WriteUInt32LittleEndian(p[20..], report.CommandsApplied);
        BinaryPrimitives.WriteUInt32LittleEndian(p[24..], report.LastCommandSequence);
        for (var i = 0; i < StatusCount; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(p[(28 + 4 * i)..], report.Rejected[i]);
        return Seal(destination, FaultReportSize);
    }

    // ---- helpers -------------------------------------------------------------------------------

    private static bool CommandCountValid(ArmCommandMode mode, int count) => mode switch
    {
        ArmCommandMode.EndEffectorDelta => count == 6,
        ArmCommandMode.JointPosition or ArmCommandMode.JointVelocity => count is >= 1 and <= MaxJoints,
        _ => false,
    };

    private static bool Fits(Span<byte> destination, int payload) => destination.Length >= HeaderSize + payload + TrailerSize;

    private static Span<byte> Payload(Span<byte> d, FirmwareMessageType type, uint sequence, ulong timestamp, int payload)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(d[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(d[6..], (ushort)type);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], (uint)payload);
        BinaryPrimitives.WriteUInt64LittleEndian(d[16..], timestamp);
        return d.Slice(HeaderSize, payload);
    }

    // ---- authentication (version 2) ------------------------------------------------------------

    /// <summary>Whether frames of <paramref name="type"/> carry a tag: CLAIM, COMMAND, HEARTBEAT, ENABLE, DISABLE, RESET (ESTOP is obeyed from anyone).</summary>
    public static bool IsAuthenticated(FirmwareMessageType type) =>
        type is FirmwareMessageType.Command or FirmwareMessageType.Claim or FirmwareMessageType.Heartbeat or FirmwareMessageType.Enable
            or FirmwareMessageType.Disable or FirmwareMessageType.Reset;

    /// <summary>
    /// The key a controller seals with: HMAC-SHA256(secret, "rrfw2 controller key" ‖ arm session ‖ client id, both u32 little-endian),
    /// bound to one arm start and one controller start.
    /// </summary>
    /// <remarks>No allocation.</remarks>
    public static void ControllerKey(ReadOnlySpan<byte> secret, uint armSession, uint clientId, Span<byte> key)
    {
        if (secret.Length != KeySize || key.Length < KeySize)
            throw new ArgumentException($"the shared secret must be {KeySize} bytes and the key buffer at least {KeySize}");
        Span<byte> input = stackalloc byte[ControllerKeyLabel.Length + 8];
        ControllerKeyLabel.CopyTo(input);
        BinaryPrimitives.WriteUInt32LittleEndian(input[ControllerKeyLabel.Length..], armSession);
        BinaryPrimitives.WriteUInt32LittleEndian(input[(ControllerKeyLabel.Length + 4)..], clientId);
        System.Security.Cryptography.HMACSHA256.HashData(secret, input, key);
    }

    private static ReadOnlySpan<byte> ControllerKeyLabel => "rrfw2 controller key"u8;

    /// <summary>Whether a well-formed authenticated frame carries the tag of <paramref name="controllerKey"/> (compared in constant time).</summary>
    public static bool TagValid(ReadOnlySpan<byte> frame, ReadOnlySpan<byte> controllerKey)
    {
        if (frame.Length < HeaderSize + TagSize + TrailerSize || controllerKey.Length != KeySize)
            return false;
        var covered = frame.Length - TrailerSize - TagSize;
        Span<byte> mac = stackalloc byte[32];
        System.Security.Cryptography.HMACSHA256.HashData(controllerKey, frame[..covered], mac);
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(mac[..TagSize], frame.Slice(covered, TagSize));
    }

    private static int SealAuthenticated(Span<byte> d, int payload, ReadOnlySpan<byte> controllerKey)
    {
        var covered = HeaderSize + payload - TagSize;
        var tag = d.Slice(covered, TagSize);
        if (controllerKey.IsEmpty)
        {
            tag.Clear();
        }
        else
        {
            Span<byte> mac = stackalloc byte[32];
            System.Security.Cryptography.HMACSHA256.HashData(controllerKey, d[..covered], mac);
            mac[..TagSize].CopyTo(tag);
        }
        return Seal(d, payload);
    }

    private static int Seal(Span<byte> d, int payload)
    {
        var covered = HeaderSize + payload;
        BinaryPrimitives.WriteUInt32LittleEndian(d[covered..], Crc32C(d[..covered]));
        return covered + TrailerSize;
    }

    private static ushort U16(ReadOnlySpan<byte> p, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(p[offset..]);
    private static uint U32(ReadOnlySpan<byte> p, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(p[offset..]);
    private static ulong U64(ReadOnlySpan<byte> p, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(p[offset..]);
    private static double F64(ReadOnlySpan<byte> p, int offset) => BinaryPrimitives.ReadDoubleLittleEndian(p[offset..]);
}
