using System.Buffers.Binary;
using RobotRuntime.Cameras;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.Vision.Cameras;

/// <summary>Why a camera stream message was rejected.</summary>
public enum FrameMessageStatus
{
    /// <summary>Valid.</summary>
    Ok,
    /// <summary>Shorter than a header and trailer.</summary>
    Truncated,
    /// <summary>Not starting with <c>RRCF</c>.</summary>
    BadMagic,
    /// <summary>A version this receiver does not speak.</summary>
    UnknownVersion,
    /// <summary>A pixel format other than RGB.</summary>
    UnknownFormat,
    /// <summary>Payload length disagrees with the size in the header or the message length.</summary>
    BadLength,
    /// <summary>The frame size differs from the camera's configured size.</summary>
    WrongSize,
    /// <summary>The CRC32C does not match.</summary>
    BadCrc,
}

/// <summary>
/// Encodes and decodes the camera frame stream's messages (firmware-interfaces/CAMERA-STREAM.md).
/// </summary>
/// <remarks>Real-time: no allocation, no throw.</remarks>
public static class CameraFrameStream
{
    /// <summary>Bytes before the pixels.</summary>
    public const int HeaderSize = 44;

    /// <summary>Bytes after the pixels (the CRC).</summary>
    public const int TrailerSize = 4;

    /// <summary>The stream version this code speaks.</summary>
    public const ushort Version = 1;

    private const byte FormatRgb = 1;
    private static ReadOnlySpan<byte> Magic => "RRCF"u8;

    /// <summary>Message size for a <paramref name="width"/> × <paramref name="height"/> frame.</summary>
    public static int MessageSize(int width, int height) => HeaderSize + width * height * 3 + TrailerSize;

    /// <summary>Writes <paramref name="frame"/> as a message into <paramref name="destination"/>; returns its length.</summary>
    public static int Encode(CameraFrame frame, long sendNs, Span<byte> destination)
    {
        var payload = frame.Pixels.Length;
        var d = destination[..MessageSize(frame.Width, frame.Height)];
        d[..HeaderSize].Clear();
        Magic.CopyTo(d);
        BinaryPrimitives.WriteUInt16LittleEndian(d[4..], Version);
        d[6] = FormatRgb;
        BinaryPrimitives.WriteUInt16LittleEndian(d[8..], (ushort)frame.Width);
        BinaryPrimitives.WriteUInt16LittleEndian(d[10..], (ushort)frame.Height);
        BinaryPrimitives.WriteInt64LittleEndian(d[16..], frame.Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(d[24..], frame.CaptureTimestampNs);
        BinaryPrimitives.WriteInt64LittleEndian(d[32..], sendNs);
        BinaryPrimitives.WriteUInt32LittleEndian(d[40..], (uint)payload);
        frame.Pixels.CopyTo(d[HeaderSize..]);
        BinaryPrimitives.WriteUInt32LittleEndian(d[(HeaderSize + payload)..], FirmwareCodec.Crc32C(d[..(HeaderSize + payload)]));
        return d.Length;
    }

    /// <summary>The width and height a message's header announces (0, 0 when it is shorter than a header); for messages <see cref="Decode"/> rejected as <see cref="FrameMessageStatus.WrongSize"/>.</summary>
    public static (int Width, int Height) PeekSize(ReadOnlySpan<byte> message) =>
        message.Length < HeaderSize ? (0, 0) : (BinaryPrimitives.ReadUInt16LittleEndian(message[8..]), BinaryPrimitives.ReadUInt16LittleEndian(message[10..]));

    /// <summary>
    /// Checks <paramref name="message"/> and, if valid and of <paramref name="frame"/>'s size,
    /// copies its pixels and stamps into <paramref name="frame"/>.
    /// </summary>
    /// <param name="message">The received bytes.</param>
    /// <param name="frame">Destination; its size is the size expected.</param>
    /// <param name="ageAtSendNs">The frame's age when it was sent (send − capture on the publisher's clock).</param>
    public static FrameMessageStatus Decode(ReadOnlySpan<byte> message, CameraFrame frame, out long ageAtSendNs)
    {
        ageAtSendNs = 0;
        if (message.Length < HeaderSize + TrailerSize)
            return FrameMessageStatus.Truncated;
        if (!message[..4].SequenceEqual(Magic))
            return FrameMessageStatus.BadMagic;
        if (BinaryPrimitives.ReadUInt16LittleEndian(message[4..]) != Version)
            return FrameMessageStatus.UnknownVersion;
        if (message[6] != FormatRgb)
            return FrameMessageStatus.UnknownFormat;
        int width = BinaryPrimitives.ReadUInt16LittleEndian(message[8..]);
        int height = BinaryPrimitives.ReadUInt16LittleEndian(message[10..]);
        var payload = BinaryPrimitives.ReadUInt32LittleEndian(message[40..]);
        if (payload != (uint)(width * height * 3) || message.Length != HeaderSize + (long)payload + TrailerSize)
            return FrameMessageStatus.BadLength;
        var covered = HeaderSize + (int)payload;
        if (FirmwareCodec.Crc32C(message[..covered]) != BinaryPrimitives.ReadUInt32LittleEndian(message[covered..]))
            return FrameMessageStatus.BadCrc;
        if (width != frame.Width || height != frame.Height)
            return FrameMessageStatus.WrongSize;
        message.Slice(HeaderSize, covered - HeaderSize).CopyTo(frame.Pixels);
        frame.Sequence = BinaryPrimitives.ReadInt64LittleEndian(message[16..]);
        var capture = BinaryPrimitives.ReadInt64LittleEndian(message[24..]);
        ageAtSendNs = Math.Max(0, BinaryPrimitives.ReadInt64LittleEndian(message[32..]) - capture);
        frame.CaptureTimestampNs = capture;
        return FrameMessageStatus.Ok;
    }
}
