namespace RobotRuntime.SimServer;

/// <summary>
/// A first-in first-out queue whose items fall due a configured delay (± uniform jitter) after
/// they go in: the sensor and actuation delays sim-server injects. Jitter never reorders items
/// (an item is never due before the one ahead of it), as in a real sensor pipeline or servo bus.
/// </summary>
/// <remarks>One thread. Allocates only in the constructor. Times are <see cref="Timing.MonotonicClock"/> ns.</remarks>
internal sealed class DelayLine<T> where T : struct
{
    private readonly T[] _items;
    private readonly long[] _due;
    private readonly long _delayNs, _jitterNs;
    private readonly Random _random;
    private int _start, _count;
    private long _lastDue = long.MinValue;

    public DelayLine(int capacity, TimeSpan delay, TimeSpan jitter, Random random)
    {
        _items = new T[Math.Max(1, capacity)];
        _due = new long[_items.Length];
        _delayNs = delay.Ticks * 100;
        _jitterNs = jitter.Ticks * 100;
        _random = random;
    }

    /// <summary>Whether items wait at all (a delay or jitter was configured).</summary>
    public bool Delays => _delayNs > 0 || _jitterNs > 0;

    /// <summary>Items waiting.</summary>
    public int Count => _count;

    /// <summary>Items dropped because the line was full (the oldest goes).</summary>
    public long Overflows { get; private set; }

    /// <summary>When the oldest item falls due; <see cref="long.MaxValue"/> when empty.</summary>
    public long NextDue => _count > 0 ? _due[_start] : long.MaxValue;

    /// <summary>Puts <paramref name="item"/> in at <paramref name="nowNs"/>; drops the oldest item if full.</summary>
    public void Enqueue(in T item, long nowNs)
    {
        var delay = _delayNs;
        if (_jitterNs > 0)
            delay += (long)((2 * _random.NextDouble() - 1) * _jitterNs);
        var due = Math.Max(nowNs + Math.Max(delay, 0), _lastDue);
        _lastDue = due;
        if (_count == _items.Length)
        {
            _start = (_start + 1) % _items.Length;
            _count--;
            Overflows++;
        }
        var slot = (_start + _count) % _items.Length;
        _items[slot] = item;
        _due[slot] = due;
        _count++;
    }

    /// <summary>Takes the oldest item if it is due at <paramref name="nowNs"/>.</summary>
    public bool TryDequeueDue(long nowNs, out T item)
    {
        if (_count == 0 || _due[_start] > nowNs)
        {
            item = default;
            return false;
        }
        item = _items[_start];
        _items[_start] = default;
        _start = (_start + 1) % _items.Length;
        _count--;
        return true;
    }

    /// <summary>Takes the oldest item whether due or not (to recycle its resources after a clear).</summary>
    public bool TryDequeue(out T item) => TryDequeueDue(long.MaxValue, out item);

    /// <summary>Drops everything waiting.</summary>
    public void Clear()
    {
        while (TryDequeue(out _)) { }
    }
}
