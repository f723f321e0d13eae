using System.Runtime.InteropServices;

namespace RobotRuntime.Transport.Zmq;

/// <summary>
/// A libzmq context (<c>zmq_ctx_new</c>). Sockets keep it alive; it is terminated when it and
/// every socket made from it are disposed. Sockets are created with LINGER 0, so terminating never
/// waits for unsent messages.
/// </summary>
/// <remarks>Setup only; thread-safe (libzmq contexts are).</remarks>
public sealed class ZmqContext : SafeHandle
{
    private ZmqContext() : base(0, ownsHandle: true) { }

    /// <summary>Creates a context. Throws <see cref="ZmqException"/> if libzmq cannot.</summary>
    public static ZmqContext Create()
    {
        var context = new ZmqContext();
        var handle = ZmqNative.ContextNew();
        if (handle == 0)
        {
            var errnum = ZmqNative.Errno();
            throw new ZmqException(errnum, $"zmq_ctx_new failed: {ZmqNative.Describe(errnum)}");
        }
        context.SetHandle(handle);
        return context;
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        // Every socket has been closed (each holds a reference), so this does not block.
        while (ZmqNative.ContextTerm(handle) != 0 && ZmqNative.Errno() == ZmqNative.EINTR) { }
        return true;
    }
}
