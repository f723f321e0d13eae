using System.Runtime.InteropServices;

namespace RobotRuntime.Transport.Zmq;

/// <summary>
/// A libzmq message (<c>zmq_msg_t</c>) in native memory, reused for every receive so receiving
/// neither copies nor allocates: <see cref="Data"/> points into libzmq's own buffer.
/// </summary>
/// <remarks>One thread at a time. <see cref="Data"/> stays valid until the next receive into this
/// message or its disposal.</remarks>
public sealed unsafe class ZmqMessage : SafeHandle
{
    private int _size;

    /// <summary>Allocates and initialises an empty message.</summary>
    public ZmqMessage() : base(0, ownsHandle: true)
    {
        var memory = (nint)NativeMemory.AlignedAlloc(ZmqNative.MessageSize, 16);
        NativeMemory.Clear((void*)memory, ZmqNative.MessageSize);
        SetHandle(memory);
        ZmqNative.Check(ZmqNative.MessageInit(memory), "zmq_msg_init");
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <summary>Size of the last message received, bytes.</summary>
    public int Size => _size;

    /// <summary>The last message received. Valid until the next receive into this message or disposal.</summary>
    public ReadOnlySpan<byte> Data => _size == 0 ? default : new ReadOnlySpan<byte>(ZmqNative.MessageData(handle), _size);

    internal nint Pointer => handle;

    internal void SetReceived(int size) => _size = size;

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        ZmqNative.MessageClose(handle);
        NativeMemory.AlignedFree((void*)handle);
        return true;
    }
}
