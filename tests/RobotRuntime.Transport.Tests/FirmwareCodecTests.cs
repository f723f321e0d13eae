using System.Buffers.Binary;
using System.Text;
using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.Transport.Tests;

public sealed class FirmwareCodecTests
{
    public static TheoryData<string> ValidVectors() => new(Repository.Manifest().Where(e => e.Status == "ok").Select(e => e.File));

    public static TheoryData<string> AllVectors() => new(Repository.Manifest().Select(e => e.File));

    [Fact]
    public void Crc32CMatchesTheCastagnoliCheckValue()
    {
        Assert.Equal(0xE3069283u, FirmwareCodec.Crc32C(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0u, FirmwareCodec.Crc32C([]));
    }

    [Fact]
    public void ManifestListsValidAndInvalidVectors()
    {
        var manifest = Repository.Manifest();
        Assert.True(manifest.Count(e => e.Status == "ok") >= 10, "at least ten valid golden vectors");
        Assert.True(manifest.Count(e => e.Status != "ok") >= 10, "at least ten invalid golden vectors");
    }

    [Theory]
    [MemberData(nameof(AllVectors))]
    public void EveryGoldenVectorDecodesToItsManifestStatus(string file)
    {
        var (_, expected, type) = Repository.Manifest().Single(e => e.File == file);
        var frame = Repository.Vector(file);
        var status = FirmwareCodec.DecodeAny(frame, out var header);
        Assert.Equal(expected, FirmwareCodec.StatusName(status));
        if (status == FrameStatus.Ok)
            Assert.Equal(type, TypeName(header.Type));
    }

    [Theory]
    [MemberData(nameof(ValidVectors))]
    public void GoldenMessagesEncodeToTheCommittedBytes(string file)
    {
        Assert.Equal(Repository.Vector(file), GoldenMessages.Encode(file));
    }

    [Fact]
    public void DecodedGoldenStateHasTheDocumentedValues()
    {
        var frame = Repository.Vector("state_6dof.bin");
        Assert.Equal(24 + 96 + 24 * 6 + 4, frame.Length);
        Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeState(frame, out var header, out var state));
        Assert.Equal(42u, header.Sequence);
        Assert.Equal(GoldenMessages.StateTime, state.ArmTimeNanoseconds);
        Assert.Equal(GoldenMessages.Session, state.Session);
        Assert.Equal(41u, state.LastCommandSequence);
        Assert.Equal(ArmStatusFlags.Enabled | ArmStatusFlags.Moving, state.Status);
        Assert.Equal(6, state.JointCount);
        Assert.Equal(0.375, state.Positions[5]);
        Assert.Equal(0.1875, state.Velocities[3]);
        Assert.Equal(-1.5, state.Efforts[0]);
        Assert.Equal(0.75, state.EndEffectorZ);
        Assert.Equal(0.25, state.GripperPosition);
    }

    [Fact]
    public void DecodedGoldenDescriptionHasTheDocumentedLimits()
    {
        Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeDescription(Repository.Vector("description_6dof.bin"), out _, out var description));
        Assert.NotNull(description);
        Assert.Equal(6, description.JointCount);
        Assert.Equal(new JointLimits(-2.875, 2.875, 2.25, 25.0), description.Joints[3]);
        Assert.Equal(100, description.WatchdogMilliseconds);
        Assert.Contains(ArmCommandMode.JointVelocity, description.SupportedModes);
        Assert.DoesNotContain(ArmCommandMode.EndEffectorDelta, description.SupportedModes);
        Assert.True(description.HasGripper);
    }

    [Fact]
    public void DescriptionWithoutTheGripperBitDecodesAsAnArmWithoutAGripper()
    {
        // Capabilities 0x3: the same bytes an arm built before the gripper bit was defined sends (PROTOCOL.md §3.2).
        var frame = Repository.Vector("description_6dof_no_gripper.bin");
        Assert.Equal(0x3, frame[FirmwareCodec.HeaderSize + 7]);
        Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeDescription(frame, out _, out var description));
        Assert.NotNull(description);
        Assert.False(description.HasGripper);
        Assert.Equal([ArmCommandMode.JointPosition, ArmCommandMode.JointVelocity], description.SupportedModes.Order());
        Assert.Equal(0x0B, Repository.Vector("description_6dof.bin")[FirmwareCodec.HeaderSize + 7]);
    }

    [Theory]
    [InlineData(0x10)] // the lowest undefined bit
    [InlineData(0x80)]
    public void DescriptionWithACapabilityBitOutside0xFIsBadPayload(int bit)
    {
        var frame = Repository.Vector("description_6dof.bin");
        frame[FirmwareCodec.HeaderSize + 7] |= (byte)bit;
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(frame.Length - 4), FirmwareCodec.Crc32C(frame.AsSpan(0, frame.Length - 4)));
        Assert.Equal(FrameStatus.BadPayload, FirmwareCodec.DecodeDescription(frame, out _, out _));
    }

    [Fact]
    public void FirstBytesOfTheGoldenStateAreTheDocumentedHeader()
    {
        var frame = Repository.Vector("state_6dof.bin");
        Assert.Equal("RRFW"u8.ToArray(), frame[..4]);
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(frame.AsSpan(4)));
        Assert.Equal(3, BinaryPrimitives.ReadUInt16LittleEndian(frame.AsSpan(6)));
        Assert.Equal(240u, BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(12)));
    }

    [Fact]
    public void EverySingleBitFlipOfACommandIsRejected()
    {
        var frame = Repository.Vector("command_joint_position.bin");
        for (var bit = 0; bit < frame.Length * 8; bit++)
        {
            var copy = (byte[])frame.Clone();
            copy[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.NotEqual(FrameStatus.Ok, FirmwareCodec.DecodeCommand(copy, out _, out _));
        }
    }

    [Fact]
    public void DecodingAStateAsACommandReportsUnexpectedType()
    {
        Assert.Equal(FrameStatus.UnexpectedType, FirmwareCodec.DecodeCommand(Repository.Vector("state_6dof.bin"), out _, out _));
        Assert.Equal(FrameStatus.UnexpectedType, FirmwareCodec.DecodeSessionRequest(Repository.Vector("ack.bin"), out _, out _));
    }

    [Fact]
    public void EncoderRefusesABufferThatIsTooSmallOrAnUnframeableCommand()
    {
        var state = GoldenMessages.State();
        Assert.Equal(0, FirmwareCodec.EncodeState(new byte[100], state));
        state.JointCount = 17;
        Assert.Equal(0, FirmwareCodec.EncodeState(new byte[FirmwareCodec.MaxFrame], state));
        var delta = ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0.1, 0.2, 0.3, 0.4], 0);
        Assert.Equal(0, FirmwareCodec.EncodeCommand(new byte[FirmwareCodec.MaxFrame], 1, 1, 1, 1, delta, []));
    }

    [Fact]
    public void EveryStatusHasAProtocolNameAndADescription()
    {
        foreach (var status in Enum.GetValues<FrameStatus>())
        {
            Assert.NotEqual("unknown", FirmwareCodec.StatusName(status));
            Assert.NotEqual("not a protocol status", FirmwareCodec.Describe(status));
        }
        Assert.Equal(FirmwareCodec.StatusCount, Enum.GetValues<FrameStatus>().Length);
    }

    internal static string TypeName(FirmwareMessageType type) => type switch
    {
        FirmwareMessageType.EmergencyStop => "estop",
        FirmwareMessageType.FaultQuery => "fault_query",
        FirmwareMessageType.FaultReport => "fault_report",
        _ => type.ToString().ToLowerInvariant(),
    };
}
