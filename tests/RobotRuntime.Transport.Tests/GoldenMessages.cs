using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.Transport.Tests;

/// <summary>
/// The messages behind the golden vectors, written out again from firmware-interfaces/vectors/README.md
/// (independently of the C builders in firmware-interfaces/tests/golden.h).
/// </summary>
internal static class GoldenMessages
{
    public const uint Session = 0x5E551001;
    public const ulong StateTime = 123456789012;
    public const uint Client = 0xC0FFEE01;

    /// <summary>The shared secret behind the vectors: bytes 0x00 … 0x1F.</summary>
    public static byte[] Secret() => [.. Enumerable.Range(0, 32).Select(i => (byte)i)];

    /// <summary>The controller key of <see cref="Client"/> on <see cref="Session"/>: what seals the authenticated vectors.</summary>
    public static byte[] ControllerKey()
    {
        var key = new byte[FirmwareCodec.KeySize];
        FirmwareCodec.ControllerKey(Secret(), Session, Client, key);
        return key;
    }

    public static byte[] Encode(string file) => file switch
    {
        "hello.bin" => Frame(b => FirmwareCodec.EncodeHello(b, 1, 1000, new HelloMessage(2, 2, Client))),
        "claim.bin" => Frame(b => FirmwareCodec.EncodeClaim(b, 2, 66, new ClaimMessage(Session, Client, false), ControllerKey())),
        "description_6dof.bin" => Frame(b => FirmwareCodec.EncodeDescription(b, 1, 2000000, Description(), new ClaimStatus(2000, 41, 9, Client))),
        "description_6dof_no_gripper.bin" => Frame(b =>
            FirmwareCodec.EncodeDescription(b, 1, 2000000, Description() with { HasGripper = false }, new ClaimStatus(2000, 41, 9, Client))),
        "state_6dof.bin" => Frame(b => FirmwareCodec.EncodeState(b, State())),
        "command_joint_position.bin" => Frame(b =>
        {
            var command = ArmCommand.JointPositions([0.125, 0.25, 0.375, 0.5, 0.625, 0.75], 0.5);
            return FirmwareCodec.EncodeCommand(b, 7, 5000, Session, StateTime + 50000000, command, ControllerKey());
        }),
        "command_ee_delta.bin" => Frame(b =>
        {
            var command = ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0.015625, -0.03125, 0.0078125, 0, 0, 0.0625], 1.0);
            return FirmwareCodec.EncodeCommand(b, 8, 6000, Session, 200, command, ControllerKey());
        }),
        "enable.bin" => Frame(b => FirmwareCodec.EncodeSessionRequest(b, FirmwareMessageType.Enable, 3, 77, Session, ControllerKey())),
        "estop.bin" => Frame(b => FirmwareCodec.EncodeSessionRequest(b, FirmwareMessageType.EmergencyStop, 4, 77, Session, [])),
        // Session 0 is well formed in an ESTOP (the arm obeys it like any other, PROTOCOL.md §3.5).
        "estop_session_zero.bin" => Frame(b => FirmwareCodec.EncodeSessionRequest(b, FirmwareMessageType.EmergencyStop, 4, 77, 0, [])),
        "ack.bin" => Frame(b => FirmwareCodec.EncodeAck(b, 3, 3000000,
            new AckMessage(Session, 3, FirmwareMessageType.Enable, AckResult.Ok, FrameStatus.Ok, ArmStatusFlags.Enabled))),
        "fault_query.bin" => Frame(b => FirmwareCodec.EncodeFaultQuery(b, 5, 88)),
        // Well formed, sealed with a key that is not the controller's (0xA5 × 32): decodes, fails the tag.
        "command_wrong_key.bin" => Frame(b =>
        {
            var command = ArmCommand.JointPositions([0.125, 0.25, 0.375, 0.5, 0.625, 0.75], 0.5);
            return FirmwareCodec.EncodeCommand(b, 7, 5000, Session, StateTime + 50000000, command, Enumerable.Repeat((byte)0xA5, 32).ToArray());
        }),
        "fault_report.bin" => Frame(b => FirmwareCodec.EncodeFaultReport(b, 5, 4000000, FaultReport())),
        _ => throw new ArgumentException($"no golden message for {file}", nameof(file)),
    };

    /// <summary>description_6dof.bin's arm: joint position and joint velocity, and a gripper (capabilities 0xB).</summary>
    public static ArmDescription Description()
    {
        var joints = new JointLimits[6];
        for (var j = 0; j < 6; j++)
            joints[j] = new JointLimits(-(2.5 + 0.125 * j), 2.5 + 0.125 * j, 1.5 + 0.25 * j, 40.0 - 5.0 * j);
        return new ArmDescription(Session, 2, joints, new HashSet<ArmCommandMode> { ArmCommandMode.JointPosition, ArmCommandMode.JointVelocity },
            250, 100, 0.0625, 0.25) { HasGripper = true };
    }

    public static ArmState State()
    {
        var state = new ArmState
        {
            Session = Session,
            Sequence = 42,
            ArmTimeNanoseconds = StateTime,
            LastCommandSequence = 41,
            Status = ArmStatusFlags.Enabled | ArmStatusFlags.Moving,
            Faults = ArmFaultFlags.None,
            HoldReason = ArmHoldReason.None,
            JointCount = 6,
            ActiveMode = ArmCommandMode.JointPosition,
            CommandsRejected = 3,
            GripperPosition = 0.25,
            GripperEffort = 2.5,
            EndEffectorX = 0.5,
            EndEffectorY = -0.25,
            EndEffectorZ = 0.75,
            EndEffectorQw = 1.0,
        };
        for (var j = 0; j < 6; j++)
        {
            state.Positions[j] = 0.125 * j - 0.25;
            state.Velocities[j] = 0.0625 * j;
            state.Efforts[j] = -1.5 + j;
        }
        return state;
    }

    public static FaultReport FaultReport()
    {
        var rejected = new uint[FirmwareCodec.StatusCount];
        rejected[(int)FrameStatus.BadCrc] = 2;
        rejected[(int)FrameStatus.BadMagic] = 1;
        return new FaultReport(Session, ArmStatusFlags.Enabled | ArmStatusFlags.Holding, ArmFaultFlags.Watchdog | ArmFaultFlags.BadFrames,
            ArmHoldReason.Watchdog, 1, 40, 41, rejected);
    }

    private delegate int Encoder(Span<byte> buffer);

    private static byte[] Frame(Encoder encode)
    {
        var buffer = new byte[FirmwareCodec.MaxFrame];
        var length = encode(buffer);
        if (length == 0)
            throw new InvalidOperationException("golden message did not encode");
        return buffer[..length];
    }
}
