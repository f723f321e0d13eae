namespace RobotRuntime.Telemetry;

/// <summary>
/// A fixed ring of values from one writer thread (the control loop's) to one reader thread (the
/// operator's console): how the loop reports rare events, such as a rate change, without allocating
/// or waiting. Writing copies the value into a preallocated slot; when the reader falls behind, new
/// values are dropped and counted rather than overwriting ones not yet read.
/// </summary>
/// <typeparam name="T">The event, a value type.</typeparam>
public sealed class EventRing<T> where T : struct
{
    private readonly T[] _slots;
    private readonly int _mask;
    private long _written; // next slot the writer fills (only the writer advances it)
    private long _read;    // next slot the reader takes (only the reader advances it)
    private long _dropped;

    /// <summary>Creates a ring of <paramref name="capacity"/> values (a power of two, at least 2).</summary>
    /// <remarks>Setup only.</remarks>
    public EventRing(int capacity)
    {
        if (capacity < 2 || (capacity & (capacity - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "expected a power of two, at least 2");
        _slots = new T[capacity];
        _mask = capacity - 1;
    }

    /// <summary>Values dropped because the reader was behind.</summary>
    public long Dropped => Volatile.Read(ref _dropped);

    /// <summary>Adds a value (the writer's thread only).</summary>
    /// <returns>False (and counted) when the ring is full.</returns>
    /// <remarks>Real-time: no allocation, no lock, no throw.</remarks>
    public bool TryWrite(in T value)
    {
        var written = _written;
        if (written - Volatile.Read(ref _read) >= _slots.Length)
        {
            Interlocked.Increment(ref _dropped);
            return false;
        }
        _slots[written & _mask] = value;
        Volatile.Write(ref _written, written + 1);
        return true;
    }

    /// <summary>Takes the oldest unread value (the reader's thread only).</summary>
    /// <remarks>No allocation, no lock.</remarks>
    public bool TryRead(out T value)
    {
        var read = _read;
        if (read >= Volatile.Read(ref _written))
        {
            value = default;
            return false;
        }
        value = _slots[read & _mask];
        Volatile.Write(ref _read, read + 1);
        return true;
    }
}
