using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.SimServer;

/// <summary>
/// A latest-only hand-off of one frame from one thread to another: what ZMQ_CONFLATE makes of a
/// PUB/SUB pair, in memory. The writer publishes whole frames; the reader takes the newest one
/// published since its last take. A frame published before the reader took the previous one
/// replaces it: the replaced frame is never seen (counted in <see cref="Replaced"/>).
/// </summary>
/// <remarks>
/// One writer thread and one reader thread (single producer, single consumer). Wait-free on both
/// sides and allocation-free after construction: a triple buffer, where the writer fills its own
/// back buffer and swaps it with the shared middle one in one atomic exchange, and the reader
/// swaps its front buffer with the middle one when the middle one holds a fresh frame.
/// </remarks>
internal sealed class LatestFrameSlot
{
    private const int Fresh = 4;
    private const int IndexMask = 3;

    private readonly byte[][] _buffers = [new byte[FirmwareCodec.MaxFrame], new byte[FirmwareCodec.MaxFrame], new byte[FirmwareCodec.MaxFrame]];
    private readonly int[] _lengths = new int[3];
    // Writer's buffer, reader's buffer, and the shared one (its index, with Fresh set while it holds
    // a frame the reader has not taken). Each index is in exactly one of the three places.
    private int _back, _front = 1, _middle = 2;
    private long _replaced;

    /// <summary>Frames published and then replaced by a newer one before the reader took them (writer's count).</summary>
    public long Replaced => Interlocked.Read(ref _replaced);

    /// <summary>Whether a frame the reader has not taken waits (any thread; a hint that may change at once).</summary>
    public bool HasFresh => (Volatile.Read(ref _middle) & Fresh) != 0;

    /// <summary>Publishes a copy of <paramref name="frame"/> (at most <see cref="FirmwareCodec.MaxFrame"/> bytes).</summary>
    /// <returns>False, publishing nothing, if the frame is larger than that.</returns>
    /// <remarks>The writer's thread. No allocation, no blocking, no throw. A full memory barrier (the exchange) follows the publication.</remarks>
    public bool Publish(ReadOnlySpan<byte> frame)
    {
        var buffer = _buffers[_back];
        if (frame.Length > buffer.Length)
            return false;
        frame.CopyTo(buffer);
        _lengths[_back] = frame.Length;
        var previous = Interlocked.Exchange(ref _middle, _back | Fresh);
        if ((previous & Fresh) != 0)
            Interlocked.Increment(ref _replaced);
        _back = previous & IndexMask;
        return true;
    }

    /// <summary>Takes the newest frame published since the last take, if there is one.</summary>
    /// <param name="frame">The frame; valid until the next call of <see cref="TryTake"/> on this thread.</param>
    /// <remarks>The reader's thread. No allocation, no blocking, no throw.</remarks>
    public bool TryTake(out ReadOnlySpan<byte> frame)
    {
        if ((Volatile.Read(ref _middle) & Fresh) == 0)
        {
            frame = default;
            return false;
        }
        _front = Interlocked.Exchange(ref _middle, _front) & IndexMask;
        frame = _buffers[_front].AsSpan(0, _lengths[_front]);
        return true;
    }
}
