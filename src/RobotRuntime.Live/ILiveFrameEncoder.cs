namespace RobotRuntime.Live;

/// <summary>Turns a camera frame into an image a browser shows (PNG, JPEG).</summary>
/// <remarks>The server makes one per camera and calls it from one thread at a time, a few times a
/// second at most; never on the control loop's thread.</remarks>
public interface ILiveFrameEncoder
{
    /// <summary>The HTTP content type of what <see cref="Encode"/> returns, e.g. <c>image/jpeg</c>.</summary>
    string ContentType { get; }

    /// <summary>Encodes <paramref name="width"/> × <paramref name="height"/> RGB pixels (rows top first) into a new array the server may share between requests.</summary>
    byte[] Encode(ReadOnlySpan<byte> rgb, int width, int height);
}
