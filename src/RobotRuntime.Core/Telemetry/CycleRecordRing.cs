namespace RobotRuntime.Telemetry;

/// <summary>
/// A fixed ring of cycle records from the control loop (one writer) to a reader off the real-time
/// thread (one reader), e.g. the metrics exporter. Writing copies the record into a preallocated
/// slot and never blocks or allocates; when the reader falls behind, new records are dropped and
/// counted rather than overwriting ones being read.
/// </summary>
public sealed class CycleRecordRing
{
    private readonly CycleRecord[] _slots;
    private readonly int _mask;
    private long _written; // next slot the writer fills (only the writer advances it)
    private long _read;    // next slot the reader takes (only the reader advances it)
    private long _dropped;

    /// <summary>Creates a ring of <paramref name="capacity"/> records (a power of two).</summary>
    public CycleRecordRing(int capacity = 1024)
    {
        if (capacity < 2 || (capacity & (capacity - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "expected a power of two, at least 2");
        _slots = new CycleRecord[capacity];
        _mask = capacity - 1;
    }

    /// <summary>Records dropped because the reader was behind.</summary>
    public long Dropped => Volatile.Read(ref _dropped);

    /// <summary>Adds a record (the writer's thread only). Real-time: no allocation, no lock.</summary>
    /// <returns>False (and counted) when the ring is full.</returns>
    public bool TryWrite(in CycleRecord record)
    {
        var written = _written;
        if (written - Volatile.Read(ref _read) >= _slots.Length)
        {
            Interlocked.Increment(ref _dropped);
            return false;
        }
        _slots[written & _mask] = record;
        Volatile.Write(ref _written, written + 1);
        return true;
    }

    /// <summary>Takes the oldest unread record (the reader's thread only).</summary>
    public bool TryRead(out CycleRecord record)
    {
        var read = _read;
        if (read >= Volatile.Read(ref _written))
        {
            record = default;
            return false;
        }
        record = _slots[read & _mask];
        Volatile.Write(ref _read, read + 1);
        return true;
    }
}
