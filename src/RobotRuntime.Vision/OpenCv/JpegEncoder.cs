namespace RobotRuntime.Vision.OpenCv;

/// <summary>Encodes RGB images as JPEG through OpenCV (the shim's <c>rrcv_encode_jpeg</c>).</summary>
/// <remarks>Any thread (the shim keeps per-thread scratch). No managed allocation unless the output buffer must grow.</remarks>
public sealed class JpegEncoder
{
    private byte[] _buffer;

    /// <summary>Creates an encoder for images up to <paramref name="width"/> × <paramref name="height"/>.</summary>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="quality">JPEG quality, 1..100.</param>
    public JpegEncoder(int width, int height, int quality = 90)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        Quality = quality;
        _buffer = new byte[width * height * 3 / 2 + 4096];
    }

    /// <summary>JPEG quality, 1..100.</summary>
    public int Quality { get; }

    /// <summary>Encodes <paramref name="rgb"/> and returns the JPEG bytes, valid until the next call.</summary>
    public unsafe ReadOnlySpan<byte> Encode(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (rgb.Length != width * height * 3)
            throw new ArgumentException($"rgb holds {rgb.Length} bytes; a {width}×{height} RGB image has {width * height * 3}.", nameof(rgb));
        while (true)
        {
            int result, size;
            fixed (byte* input = rgb)
            fixed (byte* output = _buffer)
                result = OpenCvNative.EncodeJpeg(input, width, height, Quality, output, _buffer.Length, out size);
            if (result == OpenCvNative.BufferTooSmall)
            {
                _buffer = new byte[size];
                continue;
            }
            OpenCvNative.Check(result, "JPEG encoding");
            return _buffer.AsSpan(0, size);
        }
    }
}
