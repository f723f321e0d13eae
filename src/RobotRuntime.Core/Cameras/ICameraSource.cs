namespace RobotRuntime.Cameras;

/// <summary>What a camera read returned.</summary>
public enum CameraReadStatus
{
    /// <summary>A frame was copied out.</summary>
    Ok,
    /// <summary>No frame newer than the given age exists (the newest one is too old or none arrived yet); nothing was copied.</summary>
    Stale,
    /// <summary>No new frame arrived within the timeout.</summary>
    Timeout,
    /// <summary>The camera is lost (unplugged, stream ended, pipeline failed); <see cref="ICameraSource.Health"/> says why.</summary>
    Lost,
    /// <summary>The source was not started or is disposed.</summary>
    NotRunning,
    /// <summary>The destination frame's size differs from the source's <see cref="ICameraSource.Width"/> × <see cref="ICameraSource.Height"/>.</summary>
    WrongFrameSize,
}

/// <summary>A camera's state as its capture thread sees it.</summary>
/// <param name="IsConnected">Frames are arriving.</param>
/// <param name="FramesCaptured">Frames captured since start.</param>
/// <param name="FramesDropped">Frames the source knows it lost (sequence gaps, failed reads).</param>
/// <param name="Reason">Why the camera is lost, or "" while connected.</param>
public readonly record struct CameraHealth(bool IsConnected, long FramesCaptured, long FramesDropped, string Reason);

/// <summary>
/// A camera that captures on its own thread and hands over its newest frame. Three ways to read
/// (LeRobot's pattern): <see cref="Read"/> blocks for the next new frame; <see cref="ReadLatest"/>
/// returns the newest frame, waiting up to a timeout if none is new; <see cref="TryReadLatest"/>
/// never blocks and refuses frames older than a given age.
/// </summary>
/// <remarks>
/// <see cref="Start"/> and <see cref="IDisposable.Dispose"/> are setup only. The reads are for one
/// reader thread; <see cref="TryReadLatest"/> is real-time safe (no allocation, no blocking, no
/// throw). Losing the camera never throws into the reader: reads return
/// <see cref="CameraReadStatus.Lost"/> and <see cref="Health"/> carries the reason.
/// </remarks>
public interface ICameraSource : IDisposable
{
    /// <summary>The name from configuration, e.g. "wrist".</summary>
    string Name { get; }

    /// <summary>Width of delivered frames in pixels (frames are resized to it).</summary>
    int Width { get; }

    /// <summary>Height of delivered frames in pixels.</summary>
    int Height { get; }

    /// <summary>Connection state and counters; any thread.</summary>
    CameraHealth Health { get; }

    /// <summary>Opens the camera and starts its capture thread. Throws if it cannot be opened, naming the camera and why.</summary>
    void Start();

    /// <summary>Blocks until a frame newer than the last one read arrives (or <paramref name="timeout"/> passes), then copies it into <paramref name="destination"/>.</summary>
    CameraReadStatus Read(CameraFrame destination, TimeSpan timeout);

    /// <summary>Copies the newest frame; if none arrived since the last read, waits up to <paramref name="timeout"/> for one, then gives the newest anyway.</summary>
    CameraReadStatus ReadLatest(CameraFrame destination, TimeSpan timeout);

    /// <summary>Copies the newest frame if it is at most <paramref name="maxAge"/> old; never blocks.</summary>
    CameraReadStatus TryReadLatest(TimeSpan maxAge, CameraFrame destination);
}
