using System.Buffers.Binary;
using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.Transport.Tests;

/// <summary>Properties of the C# decoder over seeded random inputs (see <see cref="PropertyRunner"/>).</summary>
public sealed class FirmwareCodecPropertyTests
{
    private const int Cases = 20_000;

    [Fact]
    public void RandomBytesNeverThrowAndAreOnlyAcceptedWithAMatchingCrc()
    {
        PropertyRunner.ForAll(seed: 1, Cases, RandomBytes, frame =>
        {
            var status = FirmwareCodec.DecodeAny(frame, out _);
            Assert.InRange((int)status, 0, FirmwareCodec.StatusCount - 1);
            if (status == FrameStatus.Ok)
                Assert.True(CrcMatches(frame), "accepted a frame whose CRC does not match");
        });
    }

    [Fact]
    public void RandomFramesWithAValidHeaderAndCrcNeverThrow()
    {
        // Random payloads sealed with a correct header and CRC reach the per-type field checks.
        PropertyRunner.ForAll(seed: 2, Cases, SealedRandomPayload, frame =>
        {
            var status = FirmwareCodec.DecodeAny(frame, out _);
            Assert.InRange((int)status, 0, FirmwareCodec.StatusCount - 1);
            if (status == FrameStatus.Ok)
                Assert.Equal(frame, ReEncode(frame));
        });
    }

    [Fact]
    public void RandomStatesRoundTripBitForBit()
    {
        PropertyRunner.ForAll(seed: 3, Cases, RandomState, state =>
        {
            var buffer = new byte[FirmwareCodec.MaxFrame];
            var length = FirmwareCodec.EncodeState(buffer, state);
            Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeState(buffer.AsSpan(0, length), out _, out var decoded));
            var again = new byte[FirmwareCodec.MaxFrame];
            Assert.Equal(length, FirmwareCodec.EncodeState(again, decoded));
            Assert.Equal(buffer[..length], again[..length]);
            Assert.Equal(state.Positions[state.JointCount - 1], decoded.Positions[state.JointCount - 1]);
        });
    }

    [Fact]
    public void CorruptedCommandsAreNeverAccepted()
    {
        PropertyRunner.ForAll(seed: 4, Cases, random => (Command: RandomCommandFrame(random), Seed: random.Next()), input =>
        {
            var frame = input.Command;
            var random = new Random(input.Seed);
            var corrupted = (byte[])frame.Clone();
            var changes = random.Next(1, 4);
            for (var i = 0; i < changes; i++)
                corrupted[random.Next(corrupted.Length)] ^= (byte)random.Next(1, 256);
            if (corrupted.AsSpan().SequenceEqual(frame))
                return; // two changes cancelled out: not a corruption
            var status = FirmwareCodec.DecodeCommand(corrupted, out _, out _);
            Assert.NotEqual(FrameStatus.Ok, status);
        });
    }

    [Fact]
    public void EveryTruncationOfAValidFrameIsRejectedAsTruncated()
    {
        var frame = Repository.Vector("state_6dof.bin");
        for (var length = 0; length < frame.Length; length++)
            Assert.Equal(FrameStatus.Truncated, FirmwareCodec.DecodeState(frame.AsSpan(0, length), out _, out _));
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, FirmwareCodec.MaxFrame + 40)];
        random.NextBytes(bytes);
        if (bytes.Length >= 4 && random.Next(2) == 0)
            BinaryPrimitives.WriteUInt32LittleEndian(bytes, FirmwareCodec.Magic); // get past the magic check half the time
        return bytes;
    }

    private static byte[] SealedRandomPayload(Random random)
    {
        var payload = random.Next(0, 400);
        var frame = new byte[FirmwareCodec.HeaderSize + payload + FirmwareCodec.TrailerSize];
        random.NextBytes(frame);
        BinaryPrimitives.WriteUInt32LittleEndian(frame, FirmwareCodec.Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(4), FirmwareCodec.Version);
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(6), (ushort)random.Next(0, 14));
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(12), (uint)payload);
        if (payload >= 20 && random.Next(2) == 0)
        {
            // Plausible counts and modes so the field checks beyond them run too.
            frame[FirmwareCodec.HeaderSize + 4] = (byte)random.Next(0, 4);
            frame[FirmwareCodec.HeaderSize + 5] = (byte)random.Next(0, 18);
            frame[FirmwareCodec.HeaderSize + 18] = (byte)random.Next(0, 18);
        }
        var covered = FirmwareCodec.HeaderSize + payload;
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(covered), FirmwareCodec.Crc32C(frame.AsSpan(0, covered)));
        return frame;
    }

    private static ArmState RandomState(Random random)
    {
        var state = new ArmState
        {
            Session = (uint)random.Next(1, int.MaxValue),
            Sequence = (uint)random.Next(),
            ArmTimeNanoseconds = (ulong)random.NextInt64(),
            LastCommandSequence = (uint)random.Next(),
            Status = (ArmStatusFlags)random.Next(0, 32),
            Faults = (ArmFaultFlags)random.Next(0, 16),
            HoldReason = (ArmHoldReason)random.Next(0, 5),
            JointCount = random.Next(1, JointVector.Capacity + 1),
            ActiveMode = (ArmCommandMode)random.Next(0, 4),
            CommandsRejected = (uint)random.Next(),
            GripperPosition = random.NextDouble(),
            GripperEffort = random.NextDouble() * 100,
            EndEffectorX = random.NextDouble() - 0.5,
            EndEffectorQw = 1,
        };
        for (var j = 0; j < state.JointCount; j++)
        {
            state.Positions[j] = (random.NextDouble() - 0.5) * 6;
            state.Velocities[j] = (random.NextDouble() - 0.5) * 4;
            state.Efforts[j] = (random.NextDouble() - 0.5) * 100;
        }
        return state;
    }

    private static byte[] RandomCommandFrame(Random random)
    {
        var mode = (ArmCommandMode)random.Next(1, 4);
        var count = mode == ArmCommandMode.EndEffectorDelta ? 6 : random.Next(1, JointVector.Capacity + 1);
        var values = new double[count];
        for (var i = 0; i < count; i++)
            values[i] = (random.NextDouble() - 0.5) * 4;
        var command = ArmCommand.Create(mode, values, random.NextDouble());
        var buffer = new byte[FirmwareCodec.MaxFrame];
        var length = FirmwareCodec.EncodeCommand(buffer, (uint)random.Next(), (ulong)random.NextInt64(), (uint)random.Next(1, int.MaxValue),
            (ulong)random.NextInt64(), command, RandomKey(random));
        return buffer[..length];
    }

    private static byte[] RandomKey(Random random)
    {
        var key = new byte[FirmwareCodec.KeySize];
        random.NextBytes(key);
        return key;
    }

    private static bool CrcMatches(byte[] frame)
    {
        var covered = frame.Length - FirmwareCodec.TrailerSize;
        return FirmwareCodec.Crc32C(frame.AsSpan(0, covered)) == BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(covered));
    }

    /// <summary>Decodes an accepted frame with its type's decoder and encodes it again.</summary>
    private static byte[] ReEncode(byte[] frame)
    {
        var buffer = new byte[FirmwareCodec.MaxFrame];
        FirmwareCodec.CheckFrame(frame, out var header);
        var length = header.Type switch
        {
            FirmwareMessageType.Hello when FirmwareCodec.DecodeHello(frame, out var h, out var m) == FrameStatus.Ok =>
                FirmwareCodec.EncodeHello(buffer, h.Sequence, h.TimestampNanoseconds, m),
            FirmwareMessageType.Description when FirmwareCodec.DecodeDescription(frame, out var h, out var d, out var claim) == FrameStatus.Ok =>
                FirmwareCodec.EncodeDescription(buffer, h.Sequence, h.TimestampNanoseconds, d!, claim),
            FirmwareMessageType.State when FirmwareCodec.DecodeState(frame, out _, out var s) == FrameStatus.Ok =>
                FirmwareCodec.EncodeState(buffer, s),
            FirmwareMessageType.Command when FirmwareCodec.DecodeCommand(frame, out var h, out var c) == FrameStatus.Ok =>
                FirmwareCodec.EncodeCommand(buffer, h.Sequence, h.TimestampNanoseconds, c.Session, c.ExpiresAtNanoseconds, c.Command, []),
            FirmwareMessageType.Claim when FirmwareCodec.DecodeClaim(frame, out var h, out var claim) == FrameStatus.Ok =>
                FirmwareCodec.EncodeClaim(buffer, h.Sequence, h.TimestampNanoseconds, claim, []),
            FirmwareMessageType.Ack when FirmwareCodec.DecodeAck(frame, out var h, out var a) == FrameStatus.Ok =>
                FirmwareCodec.EncodeAck(buffer, h.Sequence, h.TimestampNanoseconds, a),
            FirmwareMessageType.FaultQuery when FirmwareCodec.DecodeFaultQuery(frame, out var h) == FrameStatus.Ok =>
                FirmwareCodec.EncodeFaultQuery(buffer, h.Sequence, h.TimestampNanoseconds),
            FirmwareMessageType.FaultReport when FirmwareCodec.DecodeFaultReport(frame, out var h, out var r) == FrameStatus.Ok =>
                FirmwareCodec.EncodeFaultReport(buffer, h.Sequence, h.TimestampNanoseconds, r!),
            _ when FirmwareCodec.DecodeSessionRequest(frame, out var h, out var session) == FrameStatus.Ok =>
                FirmwareCodec.EncodeSessionRequest(buffer, h.Type, h.Sequence, h.TimestampNanoseconds, session, []),
            _ => 0,
        };
        // The decoders do not keep an authenticated frame's tag (checking it needs the key): carry it over.
        if (length > 0 && FirmwareCodec.IsAuthenticated(header.Type))
        {
            var tag = length - FirmwareCodec.TrailerSize - FirmwareCodec.TagSize;
            frame.AsSpan(tag, FirmwareCodec.TagSize).CopyTo(buffer.AsSpan(tag));
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(length - FirmwareCodec.TrailerSize), FirmwareCodec.Crc32C(buffer.AsSpan(0, length - FirmwareCodec.TrailerSize)));
        }
        return buffer[..length];
    }
}
