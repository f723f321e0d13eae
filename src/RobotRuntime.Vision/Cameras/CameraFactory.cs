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

    /// <summary>Keys of the backend's own (those it declared when registered), as written; the backend reads them.</summary>
    public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();
}

/// <summary>How one camera backend is made, and what it checks before anything is opened.</summary>
/// <param name="Create">Makes the camera (not started).</param>
/// <param name="Keys">Config keys of its own beyond <see cref="CameraFactory.CommonKeys"/> (they arrive in <see cref="CameraSettings.Options"/>).</param>
/// <param name="Check">What can be checked before opening (a device that is not there, a missing file): the problem, or null.</param>
public sealed record CameraBackend(Func<CameraSettings, ICameraSource> Create, IReadOnlyList<string>? Keys = null, Func<CameraSettings, string?>? Check = null);

/// <summary>
/// Creates camera sources from configuration. Every backend — real ones and test doubles —
/// registers here the same way, so configuration alone chooses between them.
/// </summary>
/// <remarks>Setup only; thread-safe.</remarks>
public static class CameraFactory
{
    private static readonly Dictionary<string, CameraBackend> Registry = new(StringComparer.Ordinal)
    {
        ["device"] = new(s => new OpenCvCameraSource(s.Name, OpenCvInput.Device, s.Device.ToString(System.Globalization.CultureInfo.InvariantCulture), s.Width, s.Height, s.Fps),
            Check: s => OperatingSystem.IsLinux() && !File.Exists($"/dev/video{s.Device}")
                ? $"device {s.Device} (/dev/video{s.Device}) is not there; `rr doctor` lists the cameras this machine has" : null),
        ["file"] = new(s => new OpenCvCameraSource(s.Name, OpenCvInput.File, Require(s, s.Path, "path"), s.Width, s.Height, s.Fps, loop: s.Loop),
            Check: s => PathMissing(s)),
        ["gstreamer"] = new(s => new GStreamerCameraSource(s.Name, Require(s, s.Pipeline, "pipeline"), s.Width, s.Height)),
        ["replay"] = new(s => new ReplayCameraSource(s.Name, Require(s, s.Path, "path"), s.RecordedCamera ?? s.Name, s.Width, s.Height, loop: s.Loop),
            Check: s => PathMissing(s)),
        ["stream"] = new(s => new ZmqCameraSource(s.Name, Require(s, s.Endpoint, "endpoint"), s.Width, s.Height, curvePublicKey: s.CurvePublicKey)),
        ["synthetic"] = new(s => new SyntheticCameraSource(s.Name, s.Width, s.Height, s.Fps > 0 ? s.Fps : 30)),
    };

    /// <summary>Keys every camera's config may hold, whatever its backend.</summary>
    public static IReadOnlyList<string> CommonKeys { get; } =
        ["name", "backend", "endpoint", "path", "device", "pipeline", "width", "height", "fps", "calibration", "curve_public_key"];

    private static string? PathMissing(CameraSettings s) =>
        s.Path is { } path && !File.Exists(path) && !Directory.Exists(path) ? $"{path} is not there" : null;
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
    public static void Register(string backend, Func<CameraSettings, ICameraSource> create) => Register(backend, new CameraBackend(create));

    /// <summary>Registers (or replaces) a backend with its own config keys and its pre-open check.</summary>
    /// <exception cref="ArgumentException">One of its keys is a common key.</exception>
    public static void Register(string backend, CameraBackend registration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(backend);
        ArgumentNullException.ThrowIfNull(registration);
        if (registration.Keys?.FirstOrDefault(CommonKeys.Contains) is { } clash)
            throw new ArgumentException($"camera backend '{backend}': '{clash}' is a key every camera has");
        lock (Gate)
            Registry[backend] = registration;
    }

    /// <summary>The keys <paramref name="backend"/> declared beyond the common ones; null for an unknown backend.</summary>
    public static IReadOnlyList<string>? KeysOf(string backend)
    {
        lock (Gate)
            return Registry.TryGetValue(backend, out var registration) ? registration.Keys ?? [] : null;
    }

    /// <summary>What is wrong with <paramref name="settings"/> before anything is opened (unknown backend, a device or file not there); null if nothing.</summary>
    public static string? Check(CameraSettings settings)
    {
        CameraBackend? registration;
        lock (Gate)
            Registry.TryGetValue(settings.Backend, out registration);
        if (registration is null)
            return $"unknown backend '{settings.Backend}'; known backends: {string.Join(", ", Backends)}";
        if (settings.Options.Keys.FirstOrDefault(k => registration.Keys?.Contains(k) != true) is { } unknown)
            return $"backend '{settings.Backend}' has no key '{unknown}'";
        if (settings.Calibration is { } file && !File.Exists(file))
            return $"calibration file not found: {Path.GetFullPath(file)} (make one with rr calibrate)";
        return registration.Check?.Invoke(settings);
    }

    /// <summary>Creates the camera <paramref name="settings"/> describes (not started).</summary>
    /// <exception cref="ArgumentException">Unknown backend, or a setting the backend needs is missing.</exception>
    public static ICameraSource Create(CameraSettings settings)
    {
        CameraBackend? registration;
        lock (Gate)
            Registry.TryGetValue(settings.Backend, out registration);
        if (registration is null)
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
        var source = registration.Create(settings);
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
