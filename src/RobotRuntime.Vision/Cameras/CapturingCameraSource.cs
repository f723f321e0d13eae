using RobotRuntime.Cameras;
using RobotRuntime.Timing;

namespace RobotRuntime.Vision.Cameras;

/// <summary>How a capture attempt went.</summary>
public enum CaptureOutcome
{
    /// <summary>The frame's pixels were filled.</summary>
    Frame,
    /// <summary>The stream has no more frames (end of a file, a device that stopped).</summary>
    EndOfStream,
    /// <summary>This attempt failed; the next may work.</summary>
    Failed,
}

/// <summary>Capture-thread behaviour shared by every source.</summary>
/// <param name="LostAfterFailures">Consecutive failed captures after which the camera is reported lost.</param>
/// <param name="ReconnectInterval">How often a lost camera is reopened; null never retries.</param>
/// <param name="DeliverEveryFrame">Capture the next frame only after the reader took the last one
/// (replaying a file faster than real time without dropping frames); live cameras leave it off.</param>
public sealed record CaptureOptions(int LostAfterFailures = 3, TimeSpan? ReconnectInterval = null, bool DeliverEveryFrame = false);

/// <summary>
/// The capture thread, newest-frame hand-over and the three reads of <see cref="ICameraSource"/>;
/// a backend supplies only open, capture-one-frame and close.
/// </summary>
public abstract class CapturingCameraSource : ICameraSource
{
    private readonly LatestFrameExchange _exchange;
    private readonly CaptureOptions _options;
    private Thread? _thread;
    private volatile bool _running;
    private volatile bool _disposed;
    private volatile bool _connected;
    private volatile string _reason = "";
    private long _captured;
    private long _dropped;
    private long _sequence;
    private long _lastDelivered;

    /// <summary>Creates a source delivering <paramref name="width"/> × <paramref name="height"/> RGB frames.</summary>
    protected CapturingCameraSource(string name, int width, int height, CaptureOptions? options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        Width = width;
        Height = height;
        _options = options ?? new CaptureOptions();
        _exchange = new LatestFrameExchange(width, height);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public int Width { get; }

    /// <inheritdoc />
    public int Height { get; }

    /// <inheritdoc />
    public CameraHealth Health => new(_connected, Interlocked.Read(ref _captured), Interlocked.Read(ref _dropped), _reason);

    /// <summary>Opens the device or stream; throws <see cref="VisionException"/> naming the camera and why. Called by <see cref="Start"/> and on reconnect.</summary>
    protected abstract void Open();

    /// <summary>Captures one frame into <paramref name="frame"/>'s pixels (capture thread). May block for up to one frame period.</summary>
    protected abstract CaptureOutcome Capture(CameraFrame frame, out string? failure);

    /// <summary>
    /// When the frame just captured was taken, on this process's monotonic clock. By default the
    /// moment capture returned; a source that knows the frame was older (a frame stream carries
    /// its age) says so.
    /// </summary>
    protected virtual long CaptureTimeOnOurClock(CameraFrame frame, long nowNs) => nowNs;

    /// <summary>Releases the device or stream (capture thread or <see cref="Dispose"/>); must be safe to call twice.</summary>
    protected abstract void Close();

    /// <inheritdoc />
    public void Start()
    {
        if (_thread is not null)
            throw new InvalidOperationException($"camera '{Name}' is already started.");
        Open();
        _connected = true;
        _running = true;
        _thread = new Thread(CaptureLoop) { IsBackground = true, Name = $"camera {Name}" };
        _thread.Start();
    }

    private void CaptureLoop()
    {
        var failures = 0;
        while (_running)
        {
            if (!_connected)
            {
                if (_options.ReconnectInterval is not { } interval || !SleepWhileRunning(interval))
                    return;
                try
                {
                    Open();
                    _connected = true;
                    _reason = "";
                    failures = 0;
                }
                catch (Exception e)
                {
                    _reason = $"reconnecting failed: {e.Message}";
                }
                continue;
            }

            if (_options.DeliverEveryFrame && !_exchange.WaitUntilTaken(TimeSpan.FromMilliseconds(50)))
                continue;
            var frame = _exchange.BackBuffer;
            CaptureOutcome outcome;
            string? failure;
            try
            {
                outcome = Capture(frame, out failure);
            }
            catch (Exception e)
            {
                outcome = CaptureOutcome.Failed;
                failure = e.Message;
            }

            if (outcome == CaptureOutcome.Frame)
            {
                failures = 0;
                frame.Sequence = ++_sequence;
                frame.CaptureTimestampNs = CaptureTimeOnOurClock(frame, MonotonicClock.NowNanoseconds);
                Interlocked.Increment(ref _captured);
                _exchange.Publish();
                continue;
            }

            Interlocked.Increment(ref _dropped);
            if (outcome == CaptureOutcome.EndOfStream || ++failures >= _options.LostAfterFailures)
            {
                _reason = outcome == CaptureOutcome.EndOfStream
                    ? $"camera '{Name}': stream ended{(failure is null ? "" : ": " + failure)}"
                    : $"camera '{Name}': {failures} captures failed in a row (last: {failure ?? "no reason given"})";
                _connected = false;
                SafeClose();
            }
        }
    }

    private bool SleepWhileRunning(TimeSpan interval)
    {
        var until = MonotonicClock.NowNanoseconds + (long)(interval.TotalMilliseconds * 1e6);
        while (_running && MonotonicClock.NowNanoseconds < until)
            Thread.Sleep(10);
        return _running;
    }

    private void SafeClose()
    {
        try { Close(); }
        catch (Exception) { /* already lost; the reason is recorded */ }
    }

    /// <inheritdoc />
    public CameraReadStatus TryReadLatest(TimeSpan maxAge, CameraFrame destination)
    {
        if (_thread is null || _disposed)
            return CameraReadStatus.NotRunning;
        // A camera known to be gone delivers nothing more, not even a recent last frame.
        if (!_connected)
            return CameraReadStatus.Lost;
        _exchange.TryTake(out var frame);
        if (frame.Sequence == 0)
            return _connected ? CameraReadStatus.Stale : CameraReadStatus.Lost;
        if (frame.AgeNs(MonotonicClock.NowNanoseconds) > (long)(maxAge.TotalMilliseconds * 1e6))
            return _connected ? CameraReadStatus.Stale : CameraReadStatus.Lost;
        return Deliver(frame, destination);
    }

    /// <inheritdoc />
    public CameraReadStatus Read(CameraFrame destination, TimeSpan timeout)
    {
        if (_thread is null || _disposed)
            return CameraReadStatus.NotRunning;
        if (!_connected)
            return CameraReadStatus.Lost;
        if (!_exchange.WaitForFresh(timeout))
            return _connected ? CameraReadStatus.Timeout : CameraReadStatus.Lost;
        _exchange.TryTake(out var frame);
        return Deliver(frame, destination);
    }

    /// <inheritdoc />
    public CameraReadStatus ReadLatest(CameraFrame destination, TimeSpan timeout)
    {
        if (_thread is null || _disposed)
            return CameraReadStatus.NotRunning;
        if (!_connected)
            return CameraReadStatus.Lost;
        if (!_exchange.TryTake(out var frame) && _exchange.WaitForFresh(timeout))
            _exchange.TryTake(out frame);
        if (frame.Sequence == 0)
            return _connected ? CameraReadStatus.Timeout : CameraReadStatus.Lost;
        return Deliver(frame, destination);
    }

    private CameraReadStatus Deliver(CameraFrame frame, CameraFrame destination)
    {
        if (destination.Width != Width || destination.Height != Height)
            return CameraReadStatus.WrongFrameSize;
        frame.CopyTo(destination);
        _lastDelivered = frame.Sequence;
        return CameraReadStatus.Ok;
    }

    /// <summary>Sequence number of the last frame handed to the reader (0 before the first).</summary>
    public long LastDeliveredSequence => _lastDelivered;

    /// <summary>Stops the capture thread and closes the device or stream; reads then return <see cref="CameraReadStatus.NotRunning"/>. A second call does nothing.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _running = false;
        // A capture blocked inside a native read cannot be interrupted; closing under it would
        // free what it is using, so a thread that does not stop in time keeps its stream.
        if (_thread is null || _thread.Join(TimeSpan.FromSeconds(5)))
            SafeClose();
        _connected = false;
        GC.SuppressFinalize(this);
    }
}
