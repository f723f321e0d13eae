using System.Runtime.InteropServices;
using System.Text;

namespace RobotRuntime.Transport.Zmq;

/// <summary>The libzmq socket patterns the project uses.</summary>
public enum ZmqSocketType
{
    /// <summary>Publisher (ZMQ_PUB).</summary>
    Publisher = ZmqNative.Pub,

    /// <summary>Subscriber (ZMQ_SUB).</summary>
    Subscriber = ZmqNative.Sub,

    /// <summary>Request (ZMQ_REQ): strict send, receive, send, ...</summary>
    Request = ZmqNative.Req,

    /// <summary>Reply (ZMQ_REP): strict receive, send, receive, ...</summary>
    Reply = ZmqNative.Rep,
}

/// <summary>Result of a non-throwing send.</summary>
public enum ZmqSendStatus
{
    /// <summary>Queued for sending.</summary>
    Sent,

    /// <summary>Not queued: no room now (EAGAIN), or the send timeout passed.</summary>
    WouldBlock,

    /// <summary>Not queued: another error (e.g. EFSM on a REQ socket out of step, ETERM).</summary>
    Failed,
}

/// <summary>Result of a non-throwing receive.</summary>
public enum ZmqReceiveStatus
{
    /// <summary>A message arrived; read it from the <see cref="ZmqMessage"/>.</summary>
    Received,

    /// <summary>Nothing arrived before the receive timeout (or at once, when not waiting).</summary>
    WouldBlock,

    /// <summary>Another error (e.g. EFSM, ETERM).</summary>
    Failed,
}

/// <summary>
/// A libzmq socket. Every socket is created with LINGER 0 (closing never waits for unsent
/// messages, so neither does terminating the context); set MAXMSGSIZE on every socket that
/// receives from outside the process (<see cref="SetMaxMessageSize"/>).
/// </summary>
/// <remarks>
/// Threading: libzmq sockets are not thread-safe; use each from one thread at a time. Setup
/// members (create, options, bind, connect) throw <see cref="ZmqException"/>. Per-message members
/// (<see cref="TrySend"/>, <see cref="TryReceive"/>, <see cref="WaitReadable"/>) return a status,
/// never throw, never allocate, and retry on EINTR.
/// </remarks>
public sealed unsafe class ZmqSocket : SafeHandle
{
    private readonly ZmqContext _context;
    private bool _contextReferenced;

    private ZmqSocket(ZmqContext context) : base(0, ownsHandle: true) => _context = context;

    /// <summary>The socket's pattern.</summary>
    public ZmqSocketType Type { get; private init; }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <summary>errno of the last failed per-message call on this socket (0 if none).</summary>
    public int LastError { get; private set; }

    /// <summary>Creates a socket of <paramref name="type"/> in <paramref name="context"/>, with LINGER 0.</summary>
    public static ZmqSocket Create(ZmqContext context, ZmqSocketType type)
    {
        ArgumentNullException.ThrowIfNull(context);
        var socket = new ZmqSocket(context) { Type = type };
        var added = false;
        context.DangerousAddRef(ref added);
        socket._contextReferenced = added;
        var raw = ZmqNative.Socket(context.DangerousGetHandle(), (int)type);
        if (raw == 0)
        {
            var errnum = ZmqNative.Errno();
            // No native socket, so ReleaseHandle will not run: give the context reference back here.
            if (socket._contextReferenced)
                context.DangerousRelease();
            socket._contextReferenced = false;
            socket.SetHandleAsInvalid();
            throw new ZmqException(errnum, $"zmq_socket({type}) failed: {ZmqNative.Describe(errnum)}");
        }
        socket.SetHandle(raw);
        socket.SetOption(ZmqNative.OptionLinger, 0, "ZMQ_LINGER");
        return socket;
    }

    /// <summary>Receive timeout for blocking receives, ms (-1 waits forever: avoid it).</summary>
    public void SetReceiveTimeout(int milliseconds) => SetOption(ZmqNative.OptionReceiveTimeout, milliseconds, "ZMQ_RCVTIMEO");

    /// <summary>Send timeout for blocking sends, ms.</summary>
    public void SetSendTimeout(int milliseconds) => SetOption(ZmqNative.OptionSendTimeout, milliseconds, "ZMQ_SNDTIMEO");

    /// <summary>Largest message accepted from a peer, bytes; a larger one drops that peer's connection.</summary>
    public void SetMaxMessageSize(long bytes) => SetOption(ZmqNative.OptionMaxMessageSize, bytes, "ZMQ_MAXMSGSIZE");

    /// <summary>Keep only the newest message in each queue (ZMQ_CONFLATE); single-part messages only.</summary>
    public void SetConflate(bool conflate) => SetOption(ZmqNative.OptionConflate, conflate ? 1 : 0, "ZMQ_CONFLATE");

    /// <summary>Reconnect interval after a lost connection, ms, and its back-off ceiling.</summary>
    public void SetReconnectInterval(int milliseconds, int maxMilliseconds)
    {
        SetOption(ZmqNative.OptionReconnectInterval, milliseconds, "ZMQ_RECONNECT_IVL");
        SetOption(ZmqNative.OptionReconnectIntervalMax, maxMilliseconds, "ZMQ_RECONNECT_IVL_MAX");
    }

    /// <summary>Queue messages only to completed connections (ZMQ_IMMEDIATE).</summary>
    public void SetImmediate(bool immediate) => SetOption(ZmqNative.OptionImmediate, immediate ? 1 : 0, "ZMQ_IMMEDIATE");

    /// <summary>Subscribes a SUB socket to messages starting with <paramref name="prefix"/> (empty: all).</summary>
    public void Subscribe(ReadOnlySpan<byte> prefix)
    {
        fixed (byte* p = prefix)
            SetRaw(ZmqNative.OptionSubscribe, p, (nuint)prefix.Length, "ZMQ_SUBSCRIBE");
    }

    /// <summary>Binds to <paramref name="endpoint"/>, e.g. <c>tcp://127.0.0.1:5601</c> or <c>ipc:///tmp/arm-state</c>.</summary>
    public void Bind(string endpoint) => Invoke(s => ZmqNative.Bind(s, endpoint), $"zmq_bind({endpoint})");

    /// <summary>Connects to <paramref name="endpoint"/>; libzmq completes and re-establishes the connection in the background.</summary>
    public void Connect(string endpoint) => Invoke(s => ZmqNative.Connect(s, endpoint), $"zmq_connect({endpoint})");

    /// <summary>The endpoint last bound (resolves a wildcard port such as <c>tcp://127.0.0.1:*</c>).</summary>
    public string LastEndpoint
    {
        get
        {
            var buffer = stackalloc byte[512];
            nuint length = 512;
            var added = false;
            DangerousAddRef(ref added);
            try
            {
                ZmqNative.Check(ZmqNative.GetSocketOption(handle, ZmqNative.OptionLastEndpoint, buffer, &length), "zmq_getsockopt(ZMQ_LAST_ENDPOINT)");
            }
            finally
            {
                if (added)
                    DangerousRelease();
            }
            var text = new ReadOnlySpan<byte>(buffer, (int)length);
            return Encoding.UTF8.GetString(text.TrimEnd((byte)0));
        }
    }

    /// <summary>Sends <paramref name="data"/> as one message.</summary>
    /// <param name="data">The bytes; copied by libzmq before this returns.</param>
    /// <param name="wait">Whether to wait (up to the send timeout) for room.</param>
    /// <remarks>Real-time when <paramref name="wait"/> is false: no allocation, no blocking, no throw.</remarks>
    public ZmqSendStatus TrySend(ReadOnlySpan<byte> data, bool wait = false)
    {
        var added = false;
        DangerousAddRef(ref added);
        try
        {
            fixed (byte* p = data)
            {
                while (true)
                {
                    if (ZmqNative.Send(handle, p, (nuint)data.Length, wait ? 0 : ZmqNative.DontWait) >= 0)
                        return ZmqSendStatus.Sent;
                    var errnum = ZmqNative.Errno();
                    if (errnum == ZmqNative.EINTR)
                        continue;
                    LastError = errnum;
                    return errnum == ZmqNative.EAGAIN ? ZmqSendStatus.WouldBlock : ZmqSendStatus.Failed;
                }
            }
        }
        finally
        {
            if (added)
                DangerousRelease();
        }
    }

    /// <summary>Receives one message into <paramref name="message"/> without copying it.</summary>
    /// <param name="message">Where the message goes; its previous content is released.</param>
    /// <param name="wait">Whether to wait (up to the receive timeout) for a message.</param>
    /// <remarks>Real-time when <paramref name="wait"/> is false: no allocation, no blocking, no throw.</remarks>
    public ZmqReceiveStatus TryReceive(ZmqMessage message, bool wait = false)
    {
        var added = false;
        DangerousAddRef(ref added);
        try
        {
            while (true)
            {
                var size = ZmqNative.MessageReceive(message.Pointer, handle, wait ? 0 : ZmqNative.DontWait);
                if (size >= 0)
                {
                    message.SetReceived(size);
                    return ZmqReceiveStatus.Received;
                }
                var errnum = ZmqNative.Errno();
                if (errnum == ZmqNative.EINTR)
                    continue;
                message.SetReceived(0);
                LastError = errnum;
                return errnum == ZmqNative.EAGAIN ? ZmqReceiveStatus.WouldBlock : ZmqReceiveStatus.Failed;
            }
        }
        finally
        {
            if (added)
                DangerousRelease();
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMilliseconds"/> (0: just look) for a message to be readable.</summary>
    /// <remarks>Blocks up to the timeout; no allocation, no throw. EINTR ends the wait early with false.</remarks>
    public bool WaitReadable(int timeoutMilliseconds)
    {
        var added = false;
        DangerousAddRef(ref added);
        try
        {
            var item = new ZmqNative.PollItem { Socket = handle, Events = ZmqNative.PollIn };
            var result = ZmqNative.Poll(&item, 1, timeoutMilliseconds);
            if (result < 0)
                LastError = ZmqNative.Errno();
            return result > 0 && (item.ReturnedEvents & ZmqNative.PollIn) != 0;
        }
        finally
        {
            if (added)
                DangerousRelease();
        }
    }

    /// <summary>Sets an integer option.</summary>
    internal void SetOption(int option, int value, string name) => SetRaw(option, &value, sizeof(int), name);

    /// <summary>Makes this (binding) socket a CURVE server with <paramref name="keys"/>: peers must know its public key, and all traffic is encrypted.</summary>
    /// <remarks>Setup only, before Bind.</remarks>
    public void SetCurveServer(CurveKeyPair keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        SetOption(ZmqNative.OptionCurveServer, 1, "ZMQ_CURVE_SERVER");
        SetKey(ZmqNative.OptionCurveSecretKey, keys.SecretKey, "ZMQ_CURVE_SECRETKEY");
    }

    /// <summary>Makes this (connecting) socket a CURVE client of a server whose public key is <paramref name="serverPublicKey"/>, with its own <paramref name="keys"/>.</summary>
    /// <remarks>Setup only, before Connect. A server with another key never completes the handshake: nothing is exchanged.</remarks>
    public void SetCurveClient(string serverPublicKey, CurveKeyPair keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        SetKey(ZmqNative.OptionCurveServerKey, serverPublicKey, "ZMQ_CURVE_SERVERKEY");
        SetKey(ZmqNative.OptionCurvePublicKey, keys.PublicKey, "ZMQ_CURVE_PUBLICKEY");
        SetKey(ZmqNative.OptionCurveSecretKey, keys.SecretKey, "ZMQ_CURVE_SECRETKEY");
    }

    private void SetKey(int option, string z85, string name)
    {
        CurveKeyPair.CheckKey(z85, name);
        var bytes = System.Text.Encoding.ASCII.GetBytes(z85);
        fixed (byte* p = bytes)
            SetRaw(option, p, (nuint)bytes.Length, name);
    }

    /// <summary>Sets a 64-bit integer option.</summary>
    internal void SetOption(int option, long value, string name) => SetRaw(option, &value, sizeof(long), name);

    private void SetRaw(int option, void* value, nuint length, string name)
    {
        var added = false;
        DangerousAddRef(ref added);
        try
        {
            while (true)
            {
                var result = ZmqNative.SetSocketOption(handle, option, value, length);
                if (result >= 0)
                    return;
                if (ZmqNative.Errno() == ZmqNative.EINTR)
                    continue;
                ZmqNative.Check(result, $"zmq_setsockopt({name})");
            }
        }
        finally
        {
            if (added)
                DangerousRelease();
        }
    }

    private void Invoke(Func<nint, int> call, string operation)
    {
        var added = false;
        DangerousAddRef(ref added);
        try
        {
            while (true)
            {
                var result = call(handle);
                if (result >= 0)
                    return;
                if (ZmqNative.Errno() == ZmqNative.EINTR)
                    continue;
                ZmqNative.Check(result, operation);
            }
        }
        finally
        {
            if (added)
                DangerousRelease();
        }
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        ZmqNative.Close(handle);
        if (_contextReferenced)
            _context.DangerousRelease();
        return true;
    }
}
