using RobotRuntime.Cameras;

namespace RobotRuntime.Vision.Cameras;

/// <summary>
/// One camera's configuration. Which fields matter depends on <see cref="Backend"/>:
/// <c>device</c> (Device), <c>file</c> (Path, Loop), <c>gstreamer</c> (Pipeline),
/// <c>replay</c> (Path = recording folder, RecordedCamera), <c>stream</c> (Endpoint), <c>synthetic</c> (Fps).
/// </summary>
public sealed record CameraSettings
{
    /// <summary>The camera's name ("wrist", "third-person").</summary>
    public required string Name { get; init; }

    /// <summary>Which backend creates it; see <see cref="CameraFactory.Backends"/>.</summary>
    public required string Backend { get; init; }

    /// <summary>Delivered frame width in pixels.</summary>
    public int Width { get; init; } = 224;

    /// <summary>Delivered frame height in pixels.</summary>
    public int Height { get; init; } = 224;

    /// <summary>Frame rate requested from a device, pace for files and synthetic cameras (0: the source's own).</summary>
    public double Fps { get; init; }

    /// <summary>V4L2 device index for <c>device</c>.</summary>
    public int Device { get; init; }

    /// <summary>A video file for <c>file</c>, a recording folder for <c>replay</c>.</summary>
    public string? Path { get; init; }

    /// <summary>The camera's name inside a recording, for <c>replay</c> (default: <see cref="Name"/>).</summary>
    public string? RecordedCamera { get; init; }

    /// <summary>The publisher's ZeroMQ endpoint for <c>stream</c>, e.g. <c>tcp://127.0.0.1:5610</c>.</summary>
    public string? Endpoint { get; init; }

    /// <summary>A GStreamer pipeline ending in appsink, for <c>gstreamer</c>.</summary>
    public string? Pipeline { get; init; }

    /// <summary>Start a file or recording again at its end.</summary>
    public bool Loop { get; init; }

    /// <summary>The publisher's CURVE public key for <c>stream</c> when its frames are encrypted (an arm's cameras behind <c>--curve-keys</c>).</summary>
    public string? CurvePublicKey { get; init; }

    /// <summary>A calibration file from <c>rr calibrate</c>: frames are undistorted with it before anyone reads them (null: as captured).</summary>
    public string? Calibration { get; init; }
}

/// <summary>
/// Creates camera sources from configuration. Every backend — real ones and test doubles —
/// registers here the same way, so configuration alone chooses between them.
/// </summary>
/// <remarks>Setup only; thread-safe.</remarks>
public static class CameraFactory
{
    private static readonly Dictionary<string, Func<CameraSettings, ICameraSource>> Registry = new(StringComparer.Ordinal)
    {
        ["device"] = s => new OpenCvCameraSource(s.Name, OpenCvInput.Device, s.Device.ToString(System.Globalization.CultureInfo.InvariantCulture), s.Width, s.Height, s.Fps),
        ["file"] = s => new OpenCvCameraSource(s.Name, OpenCvInput.File, Require(s, s.Path, "path"), s.Width, s.Height, s.Fps, loop: s.Loop),
        ["gstreamer"] = s => new GStreamerCameraSource(s.Name, Require(s, s.Pipeline, "pipeline"), s.Width, s.Height),
        ["replay"] = s => new ReplayCameraSource(s.Name, Require(s, s.Path, "path"), s.RecordedCamera ?? s.Name, s.Width, s.Height, loop: s.Loop),
        ["stream"] = s => new ZmqCameraSource(s.Name, Require(s, s.Endpoint, "endpoint"), s.Width, s.Height, curvePublicKey: s.CurvePublicKey),
        ["synthetic"] = s => new SyntheticCameraSource(s.Name, s.Width, s.Height, s.Fps > 0 ? s.Fps : 30),
    };
    private static readonly Lock Gate = new();

    /// <summary>The registered backend names.</summary>
    public static IReadOnlyList<string> Backends
    {
        get
        {
            lock (Gate)
                return Registry.Keys.Order(StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>Registers (or replaces) a backend, e.g. a test double or the simulator's camera stream.</summary>
    public static void Register(string backend, Func<CameraSettings, ICameraSource> create)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(backend);
        ArgumentNullException.ThrowIfNull(create);
        lock (Gate)
            Registry[backend] = create;
    }

    /// <summary>Creates the camera <paramref name="settings"/> describes (not started).</summary>
    /// <exception cref="ArgumentException">Unknown backend, or a setting the backend needs is missing.</exception>
    public static ICameraSource Create(CameraSettings settings)
    {
        Func<CameraSettings, ICameraSource>? create;
        lock (Gate)
            Registry.TryGetValue(settings.Backend, out create);
        if (create is null)
            throw new ArgumentException($"camera '{settings.Name}': unknown backend '{settings.Backend}'; known backends: {string.Join(", ", Backends)}.");
        Imaging.CameraCalibration? calibration = null;
        if (settings.Calibration is { } file)
        {
            if (!File.Exists(file))
                throw new ArgumentException($"camera '{settings.Name}': calibration file not found: {Path.GetFullPath(file)} (make one with rr calibrate)");
            try
            {
                calibration = Imaging.CameraCalibration.Load(file);
            }
            catch (InvalidDataException e)
            {
                throw new ArgumentException($"camera '{settings.Name}': {e.Message}", e);
            }
        }
        var source = create(settings);
        if (calibration is null)
            return source;
        try
        {
            return new UndistortedCameraSource(source, calibration, settings.Calibration!);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    private static string Require(CameraSettings settings, string? value, string key) =>
        string.IsNullOrWhiteSpace(value)
            ? throw new ArgumentException($"camera '{settings.Name}': backend '{settings.Backend}' needs '{key}'.")
            : value;
}
