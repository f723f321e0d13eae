using RobotRuntime.Cameras;
using RobotRuntime.Imaging;

namespace RobotRuntime.Vision.Cameras;

/// <summary>
/// A camera whose frames are undistorted with a calibration (<c>calibration=</c> in a camera's
/// settings) before anyone sees them: the reader's thread remaps each frame it reads (about 0.1 ms
/// at 224 px, nothing allocated). The calibration must be for the size the camera delivers.
/// </summary>
public sealed class UndistortedCameraSource : ICameraSource
{
    private readonly ICameraSource _inner;
    private readonly Undistorter _undistorter;
    private readonly Lock _gate = new();
    private volatile bool _disposed;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <exception cref="ArgumentException">The calibration is for another image size; the message gives both.</exception>
    public UndistortedCameraSource(ICameraSource inner, CameraCalibration calibration, string calibrationPath)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(calibration);
        if (calibration.Width != inner.Width || calibration.Height != inner.Height)
            throw new ArgumentException($"camera '{inner.Name}': the calibration {calibrationPath} is for {calibration.Width}×{calibration.Height} images, the camera delivers {inner.Width}×{inner.Height}; calibrate at the delivered size (rr calibrate with the same size=)");
        _inner = inner;
        _undistorter = new Undistorter(calibration);
        Calibration = calibration;
    }

    /// <summary>The calibration applied.</summary>
    public CameraCalibration Calibration { get; }

    /// <inheritdoc />
    public string Name => _inner.Name;

    /// <inheritdoc />
    public int Width => _inner.Width;

    /// <inheritdoc />
    public int Height => _inner.Height;

    /// <inheritdoc />
    public CameraHealth Health => _inner.Health;

    /// <inheritdoc />
    public void Start() => _inner.Start();

    /// <inheritdoc />
    public CameraReadStatus Read(CameraFrame destination, TimeSpan timeout) =>
        _disposed ? CameraReadStatus.NotRunning : Undistort(_inner.Read(destination, timeout), destination);

    /// <inheritdoc />
    public CameraReadStatus ReadLatest(CameraFrame destination, TimeSpan timeout) =>
        _disposed ? CameraReadStatus.NotRunning : Undistort(_inner.ReadLatest(destination, timeout), destination);

    /// <inheritdoc />
    public CameraReadStatus TryReadLatest(TimeSpan maxAge, CameraFrame destination) =>
        _disposed ? CameraReadStatus.NotRunning : Undistort(_inner.TryReadLatest(maxAge, destination), destination);

    private CameraReadStatus Undistort(CameraReadStatus status, CameraFrame frame)
    {
        if (status == CameraReadStatus.Ok)
        {
            lock (_gate)
            {
                // Disposed while this read was in the inner camera: the maps are gone.
                if (_disposed)
                    return CameraReadStatus.NotRunning;
                _undistorter.Apply(frame.Pixels);
            }
        }
        return status;
    }

    /// <summary>Disposes the wrapped camera and the undistortion maps; a second call does nothing.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
        }
        _inner.Dispose();
        _undistorter.Dispose();
    }
}
