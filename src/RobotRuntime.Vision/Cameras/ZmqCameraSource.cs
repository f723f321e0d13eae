using RobotRuntime.Cameras;
using RobotRuntime.Timing;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Vision.Cameras;

/// <summary>
/// A camera whose frames arrive over ZeroMQ in the camera stream format
/// (firmware-interfaces/CAMERA-STREAM.md): the simulator's cameras in <c>rr sim-server</c>, or a
/// remote camera bridge. Latest-only on both ends; malformed, corrupted, wrongly sized and
/// out-of-order messages are dropped and counted by reason; no frame within
/// <see cref="FrameTimeout"/> for a few tries makes the camera lost, and it reconnects by itself.
/// </summary>
public sealed class ZmqCameraSource : CapturingCameraSource
{
    private readonly string _endpoint;
    private readonly CurveKeyPair? _curve;
    private readonly string? _curvePublicKey;
    private readonly long[] _rejected = new long[Enum.GetValues<FrameMessageStatus>().Length + 1];
    private ZmqContext? _context;
    private ZmqSocket? _socket;
    private ZmqMessage? _message;
    private long _lastSequence;

    /// <summary>Creates the source; it connects on <see cref="CapturingCameraSource.Start"/>.</summary>
    /// <param name="name">Camera name.</param>
    /// <param name="endpoint">The publisher's endpoint, e.g. <c>tcp://127.0.0.1:5610</c>.</param>
    /// <param name="width">Expected frame width (frames of another size are rejected).</param>
    /// <param name="height">Expected frame height.</param>
    /// <param name="frameTimeout">How long one capture waits for a frame (lost after <see cref="CaptureOptions.LostAfterFailures"/> of these).</param>
    /// <param name="options">Capture-thread behaviour; by default reconnects every 200 ms once lost.</param>
    /// <param name="curvePublicKey">The publisher's CURVE public key when its stream is encrypted (null: plain ZeroMQ).</param>
    public ZmqCameraSource(string name, string endpoint, int width, int height, TimeSpan? frameTimeout = null, CaptureOptions? options = null, string? curvePublicKey = null)
        : base(name, width, height, options ?? new CaptureOptions(ReconnectInterval: TimeSpan.FromMilliseconds(200)))
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        if (curvePublicKey is not null)
        {
            CurveKeyPair.CheckKey(curvePublicKey, $"camera '{name}': curve_public_key");
            _curve = CurveKeyPair.Create();
        }
        _curvePublicKey = curvePublicKey;
        _endpoint = endpoint;
        FrameTimeout = frameTimeout ?? TimeSpan.FromMilliseconds(250);
    }

    /// <summary>How long one capture waits for a frame.</summary>
    public TimeSpan FrameTimeout { get; }

    /// <summary>Messages dropped for <paramref name="reason"/> (and, for <see cref="FrameMessageStatus.Ok"/>, for an old sequence number).</summary>
    public long Rejected(FrameMessageStatus reason) => Interlocked.Read(ref _rejected[(int)reason]);

    /// <inheritdoc />
    protected override void Open()
    {
        _context = ZmqContext.Create();
        _socket = ZmqSocket.Create(_context, ZmqSocketType.Subscriber);
        _socket.SetConflate(true);
        // Room for frames of another size than configured (up to 1024×1024), so that a mismatch is
        // seen and named instead of libzmq dropping the connection on an oversized message.
        _socket.SetMaxMessageSize(Math.Max(CameraFrameStream.MessageSize(Width, Height), CameraFrameStream.MessageSize(1024, 1024)));
        _socket.SetReconnectInterval(100, 1000);
        _socket.Subscribe(ReadOnlySpan<byte>.Empty);
        if (_curve is not null)
            _socket.SetCurveClient(_curvePublicKey!, _curve);
        try
        {
            _socket.Connect(_endpoint);
        }
        catch (ZmqException e)
        {
            Close();
            throw new VisionException($"camera '{Name}': cannot connect to frame stream {_endpoint}: {e.Message}");
        }
        _message = new ZmqMessage();
        _lastSequence = 0;
    }

    /// <inheritdoc />
    protected override CaptureOutcome Capture(CameraFrame frame, out string? failure)
    {
        failure = null;
        var socket = _socket!;
        var deadline = MonotonicClock.NowNanoseconds + (long)(FrameTimeout.TotalMilliseconds * 1e6);
        int wrongWidth = 0, wrongHeight = 0;
        while (true)
        {
            var remainingMs = (int)Math.Max(0, (deadline - MonotonicClock.NowNanoseconds) / 1_000_000);
            if (!socket.WaitReadable(remainingMs) || socket.TryReceive(_message!) != ZmqReceiveStatus.Received)
            {
                if (MonotonicClock.NowNanoseconds < deadline)
                    continue; // EINTR or a spurious wake: keep waiting until the deadline
                failure = wrongWidth > 0
                    ? $"frames from {_endpoint} are {wrongWidth}×{wrongHeight} pixels, camera '{Name}' is configured for {Width}×{Height}: set its width and height to the stream's"
                    : $"no frame from {_endpoint} within {FrameTimeout.TotalMilliseconds:0} ms";
                return CaptureOutcome.Failed;
            }
            var arrival = MonotonicClock.NowNanoseconds;
            var status = CameraFrameStream.Decode(_message!.Data, frame, out var ageAtSend);
            if (status != FrameMessageStatus.Ok)
            {
                Interlocked.Increment(ref _rejected[(int)status]);
                if (status == FrameMessageStatus.WrongSize)
                    (wrongWidth, wrongHeight) = CameraFrameStream.PeekSize(_message.Data);
                continue;
            }
            if (frame.Sequence <= _lastSequence)
            {
                Interlocked.Increment(ref _rejected[(int)FrameMessageStatus.Ok]);
                continue;
            }
            _lastSequence = frame.Sequence;
            // Age on our clock: arrival minus the age the frame already had when it was sent.
            FrameAgeAtArrivalNs = ageAtSend;
            return CaptureOutcome.Frame;
        }
    }

    /// <summary>Age of the last frame when the publisher sent it, ns.</summary>
    public long FrameAgeAtArrivalNs { get; private set; }

    /// <inheritdoc />
    protected override long CaptureTimeOnOurClock(CameraFrame frame, long nowNs) => nowNs - FrameAgeAtArrivalNs;

    /// <inheritdoc />
    protected override void Close()
    {
        _message?.Dispose();
        _message = null;
        _socket?.Dispose();
        _socket = null;
        _context?.Dispose();
        _context = null;
    }
}
