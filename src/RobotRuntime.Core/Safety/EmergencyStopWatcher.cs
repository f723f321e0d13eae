using System.Runtime.InteropServices;

namespace RobotRuntime.Safety;

/// <summary>
/// Feeds a safety filter's e-stop from outside the process: the presence of a file (a
/// level-sensitive input: the arm holds while the file exists, and a reset is refused until it is
/// removed) and, optionally, SIGUSR1 (a momentary press: <c>kill -USR1 &lt;pid&gt;</c>).
/// </summary>
/// <remarks>
/// The file is checked on a timer thread every poll interval and whenever <see cref="Poll"/> is
/// called. Disposing stops the timer and unregisters the signal; the e-stop input keeps its last value.
/// </remarks>
public sealed class EmergencyStopWatcher : IDisposable
{
    /// <summary>SIGUSR1's number on Linux (x86-64 and ARM).</summary>
    private const int SigUsr1 = 10;

    private readonly ISafetyFilter _filter;
    private readonly string? _stopFilePath;
    private readonly string _assertedText;
    private readonly string _releasedText;
    private readonly Timer? _timer;
    private readonly PosixSignalRegistration? _signal;
    private readonly Lock _pollLock = new();
    private bool _disposed;

    /// <summary>Starts watching.</summary>
    /// <param name="filter">The filter whose e-stop is fed.</param>
    /// <param name="stopFilePath">While a file exists at this path, the e-stop input <see cref="EmergencyStopSource.File"/> is asserted; null: no file.</param>
    /// <param name="pollInterval">How often the file is checked; &gt; 0.</param>
    /// <param name="watchSignal">Whether SIGUSR1 presses the e-stop (<see cref="EmergencyStopSource.Signal"/>). Linux only.</param>
    /// <exception cref="ArgumentException">No file and no signal, a bad path or a bad interval.</exception>
    /// <exception cref="PlatformNotSupportedException"><paramref name="watchSignal"/> off Linux.</exception>
    /// <remarks>Setup only.</remarks>
    public EmergencyStopWatcher(ISafetyFilter filter, string? stopFilePath, TimeSpan pollInterval, bool watchSignal)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (stopFilePath is null && !watchSignal)
            throw new ArgumentException("expected a stop file path, the signal, or both; got neither", nameof(stopFilePath));
        if (stopFilePath is not null && string.IsNullOrWhiteSpace(stopFilePath))
            throw new ArgumentException("stop file path: expected a file path, got an empty string", nameof(stopFilePath));
        if (!(pollInterval > TimeSpan.Zero))
            throw new ArgumentException($"poll interval: expected > 0, got {pollInterval}", nameof(pollInterval));
        if (watchSignal && !OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("the SIGUSR1 e-stop needs Linux; use the stop file instead");

        _filter = filter;
        _stopFilePath = stopFilePath is null ? null : Path.GetFullPath(stopFilePath);
        _assertedText = $"e-stop: the stop file {_stopFilePath} exists; delete it to allow a reset";
        _releasedText = $"the stop file {_stopFilePath} is gone";
        if (_stopFilePath is not null)
        {
            Poll();
            _timer = new Timer(_ => Poll(), null, pollInterval, pollInterval);
        }
        if (watchSignal)
        {
            _signal = PosixSignalRegistration.Create((PosixSignal)SigUsr1, context =>
            {
                context.Cancel = true;
                _filter.EmergencyStop(EmergencyStopSource.Signal, "e-stop: SIGUSR1 received");
            });
        }
    }

    /// <summary>The watched file's full path; null when no file is watched.</summary>
    public string? StopFilePath => _stopFilePath;

    /// <summary>Checks the stop file now and updates the e-stop input.</summary>
    /// <returns>Whether the file exists (the input is asserted).</returns>
    /// <remarks>Any thread; touches the file system, so not for the control loop.</remarks>
    public bool Poll()
    {
        if (_stopFilePath is null) return false;
        lock (_pollLock)
        {
            if (_disposed) return false;
            bool exists = File.Exists(_stopFilePath);
            _filter.SetEmergencyStopInput(EmergencyStopSource.File, exists, exists ? _assertedText : _releasedText);
            return exists;
        }
    }

    /// <summary>Stops the timer and unregisters the signal.</summary>
    public void Dispose()
    {
        lock (_pollLock)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _timer?.Dispose();
        _signal?.Dispose();
    }
}
