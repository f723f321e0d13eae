using System.Buffers.Binary;
using System.Numerics;

namespace RobotRuntime.Checksums;

/// <summary>
/// CRC32C (Castagnoli: reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF), on the
/// CPU's crc32 instructions where there are any. The firmware protocol's frame trailer, the camera frame
/// stream and the recording journal all use it. Check value: CRC32C("123456789") = 0xE3069283.
/// </summary>
public static class Crc32C
{
    /// <summary>The CRC32C of <paramref name="data"/>.</summary>
    /// <remarks>Real-time: no allocation.</remarks>
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (var b in data)
            crc = BitOperations.Crc32C(crc, b);
        return crc ^ 0xFFFFFFFFu;
    }
}
