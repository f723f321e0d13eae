namespace RobotRuntime.Cameras;

/// <summary>
/// Hands the newest frame from one capture thread to one reader without locks, copies of old
/// frames or allocation: a triple buffer. The writer fills its back buffer and publishes it;
/// the reader takes the most recently published one; a frame the reader never took is simply
/// replaced (latest-only, never a queue).
/// </summary>
/// <remarks>Real-time: <see cref="Publish"/> and <see cref="TryTake"/> never block or allocate.
/// Exactly one writer thread and one reader thread.</remarks>
public sealed class LatestFrameExchange
{
    private const int FreshBit = 4;
    private readonly CameraFrame[] _frames;
    private int _back = 0;
    private int _middle = 1; // index | FreshBit when it holds a frame the reader has not taken
    private int _front = 2;
    private readonly ManualResetEventSlim _published = new(false);
    private readonly ManualResetEventSlim _taken = new(true);

    /// <summary>Allocates three frames of <paramref name="width"/> × <paramref name="height"/>.</summary>
    public LatestFrameExchange(int width, int height) =>
        _frames = [new CameraFrame(width, height), new CameraFrame(width, height), new CameraFrame(width, height)];

    /// <summary>The frame the writer fills next. Writer thread only; valid until <see cref="Publish"/>.</summary>
    public CameraFrame BackBuffer => _frames[_back];

    /// <summary>Makes the back buffer the newest frame and gives the writer a free one. Writer thread only.</summary>
    public void Publish()
    {
        var previous = Interlocked.Exchange(ref _middle, _back | FreshBit);
        _back = previous & ~FreshBit;
        _published.Set();
    }

    /// <summary>
    /// Takes the newest published frame if one arrived since the last take. The returned frame
    /// stays valid (and unchanged) until the next successful take. Reader thread only.
    /// </summary>
    public bool TryTake(out CameraFrame frame)
    {
        if ((Volatile.Read(ref _middle) & FreshBit) == 0)
        {
            frame = _frames[_front];
            return false;
        }
        var taken = Interlocked.Exchange(ref _middle, _front);
        _front = taken & ~FreshBit;
        frame = _frames[_front];
        _taken.Set();
        return true;
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> until the reader has taken the last published frame,
    /// for sources that must not drop frames (a file replayed as fast as it decodes). Writer thread only.
    /// </summary>
    public bool WaitUntilTaken(TimeSpan timeout)
    {
        if ((Volatile.Read(ref _middle) & FreshBit) == 0)
            return true;
        _taken.Reset();
        if ((Volatile.Read(ref _middle) & FreshBit) == 0)
            return true;
        return _taken.Wait(timeout) || (Volatile.Read(ref _middle) & FreshBit) == 0;
    }

    /// <summary>The frame the reader took last (sequence 0 if none yet). Reader thread only.</summary>
    public CameraFrame LastTaken => _frames[_front];

    /// <summary>Waits up to <paramref name="timeout"/> for a frame the reader has not taken. Reader thread only.</summary>
    public bool WaitForFresh(TimeSpan timeout, CancellationToken cancellation = default)
    {
        if ((Volatile.Read(ref _middle) & FreshBit) != 0)
            return true;
        _published.Reset();
        if ((Volatile.Read(ref _middle) & FreshBit) != 0)
            return true;
        return _published.Wait(timeout, cancellation) && (Volatile.Read(ref _middle) & FreshBit) != 0;
    }
}
