using System.Buffers.Binary;
using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.Transport.Tests;

/// <summary>Builds each kind of bad frame from a valid one.</summary>
internal static class BadFrames
{
    /// <summary>The kinds every channel must reject, with the reason each must be counted under.</summary>
    public static readonly (string Kind, FrameStatus Reason)[] FrameLevel =
    [
        ("malformed-bytes", FrameStatus.BadMagic),
        ("wrong-magic", FrameStatus.BadMagic),
        ("unknown-version", FrameStatus.UnsupportedVersion),
        ("bad-crc", FrameStatus.BadCrc),
        ("truncated", FrameStatus.Truncated),
        ("oversized", FrameStatus.Oversized),
        ("trailing-byte", FrameStatus.LengthMismatch),
        ("unknown-type", FrameStatus.UnknownType),
        ("nan-value", FrameStatus.BadPayload),
    ];

    /// <summary>Turns <paramref name="valid"/> into a frame of <paramref name="kind"/>; <paramref name="nanAt"/> is a
    /// payload offset of a double for "nan-value".</summary>
    public static byte[] Make(string kind, byte[] valid, int nanAt)
    {
        var f = (byte[])valid.Clone();
        switch (kind)
        {
            case "malformed-bytes":
                var random = new Random(7);
                f = new byte[60];
                random.NextBytes(f);
                f[0] = (byte)'x';
                return f;
            case "wrong-magic":
                f[0] = (byte)'X';
                return f;
            case "unknown-version":
                BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(4), 1); // an old runtime or arm
                return Reseal(f);
            case "bad-crc":
                f[FirmwareCodec.HeaderSize + 3] ^= 0x10;
                return f;
            case "truncated":
                return f[..^10];
            case "oversized":
                var big = new byte[FirmwareCodec.MaxFrame + 8];
                valid.AsSpan(0, FirmwareCodec.HeaderSize).CopyTo(big);
                return big;
            case "trailing-byte":
                return [.. f, 0];
            case "unknown-type":
                BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(6), 0x7F);
                return Reseal(f);
            case "nan-value":
                BinaryPrimitives.WriteDoubleLittleEndian(f.AsSpan(FirmwareCodec.HeaderSize + nanAt), double.NaN);
                return Reseal(f);
            default:
                throw new ArgumentException($"unknown bad-frame kind {kind}", nameof(kind));
        }
    }

    public static byte[] Reseal(byte[] frame)
    {
        var covered = frame.Length - FirmwareCodec.TrailerSize;
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(covered), FirmwareCodec.Crc32C(frame.AsSpan(0, covered)));
        return frame;
    }

    public static byte[] State(in ArmState state)
    {
        var buffer = new byte[FirmwareCodec.MaxFrame];
        return buffer[..FirmwareCodec.EncodeState(buffer, state)];
    }

    public static byte[] Command(uint sequence, uint session, ulong expiresAt, in ArmCommand command, ReadOnlySpan<byte> controllerKey)
    {
        var buffer = new byte[FirmwareCodec.MaxFrame];
        return buffer[..FirmwareCodec.EncodeCommand(buffer, sequence, 1, session, expiresAt, command, controllerKey)];
    }

    /// <summary>The key a link seals with on the arm session <paramref name="session"/>.</summary>
    public static byte[] KeyOf(byte[] secret, uint session, uint clientId)
    {
        var key = new byte[FirmwareCodec.KeySize];
        FirmwareCodec.ControllerKey(secret, session, clientId, key);
        return key;
    }
}
