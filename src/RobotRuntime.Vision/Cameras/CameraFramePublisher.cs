using RobotRuntime.Cameras;
using RobotRuntime.Timing;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Vision.Cameras;

/// <summary>
/// Publishes one camera's frames on a ZeroMQ PUB socket, latest-only (CONFLATE), in the camera
/// stream format (firmware-interfaces/CAMERA-STREAM.md). The simulator server uses it; so can a
/// bridge to a camera on another board.
/// </summary>
/// <remarks><see cref="Publish"/> is real-time: no allocation, no blocking, no throw. One thread at a time.</remarks>
public sealed class CameraFramePublisher : IDisposable
{
    private readonly ZmqContext _context;
    private readonly ZmqSocket _socket;
    private readonly byte[] _message;

    /// <summary>Binds <paramref name="endpoint"/> (e.g. <c>tcp://127.0.0.1:5610</c>, <c>tcp://127.0.0.1:*</c>) for frames of the given size.</summary>
    /// <param name="endpoint">Where to bind.</param>
    /// <param name="width">Frame width.</param>
    /// <param name="height">Frame height.</param>
    /// <param name="curve">A CURVE key pair: the stream is encrypted and readers need its public key (null: plain ZeroMQ).</param>
    public CameraFramePublisher(string endpoint, int width, int height, CurveKeyPair? curve = null)
    {
        Width = width;
        Height = height;
        _message = new byte[CameraFrameStream.MessageSize(width, height)];
        _context = ZmqContext.Create();
        try
        {
            _socket = ZmqSocket.Create(_context, ZmqSocketType.Publisher);
            _socket.SetConflate(true);
            if (curve is not null)
                _socket.SetCurveServer(curve);
            _socket.Bind(endpoint);
            Endpoint = _socket.LastEndpoint;
        }
        catch
        {
            _context.Dispose();
            throw;
        }
    }

    /// <summary>The bound endpoint (a wildcard port resolved).</summary>
    public string Endpoint { get; }

    /// <summary>Frame width published.</summary>
    public int Width { get; }

    /// <summary>Frame height published.</summary>
    public int Height { get; }

    /// <summary>Publishes <paramref name="frame"/>; false if it has another size or could not be queued.</summary>
    public bool Publish(CameraFrame frame)
    {
        if (frame.Width != Width || frame.Height != Height)
            return false;
        var length = CameraFrameStream.Encode(frame, MonotonicClock.NowNanoseconds, _message);
        return _socket.TrySend(_message.AsSpan(0, length)) == ZmqSendStatus.Sent;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _socket.Dispose();
        _context.Dispose();
    }
}
