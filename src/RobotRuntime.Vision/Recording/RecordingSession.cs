using RobotRuntime.Cameras;
using RobotRuntime.Vision.Cameras;
using RobotRuntime.Imaging;

namespace RobotRuntime.Vision.Recording;

/// <summary>
/// Records several cameras into one folder: starts each camera, writes every frame it delivers
/// through a <see cref="CameraRecorder"/> on a thread of its own, and keeps
/// <see cref="RecordingManifest"/> beside the videos. Killed at any moment, the folder replays up
/// to each camera's last written frame; <see cref="Dispose"/> closes it cleanly (indexed videos,
/// final counts in the manifest).
/// </summary>
/// <remarks>Setup and teardown only; the capture and recording threads are the session's own.</remarks>
public sealed class RecordingSession : IDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromMilliseconds(200);
    private readonly string _folder;
    private readonly ICameraSource[] _sources;
    private readonly CameraRecorder[] _recorders;
    private readonly Thread[] _threads;
    private readonly string?[] _endReasons;
    private readonly int[] _counts;
    private readonly bool[] _writeFailed;
    private readonly RecordingManifest _manifest;
    private readonly Action<int, CameraFrame>? _onFrame;
    private volatile bool _stopping;
    private int _disposed;

    /// <summary>Opens every camera and starts recording into <paramref name="folder"/>.</summary>
    /// <param name="folder">Created if absent; must not already hold a recording.</param>
    /// <param name="cameras">The cameras with the text they were given as (for the manifest).</param>
    /// <param name="jpegQuality">JPEG quality of the video frames, 1..100.</param>
    /// <param name="onFrame">Called on a camera's recording thread with each frame after it is written (e.g. to show it live); must not keep the frame.</param>
    /// <exception cref="ArgumentException">No cameras, two with one name, or the folder already holds a recording.</exception>
    /// <exception cref="VisionException">A camera cannot be opened; the message names it.</exception>
    /// <exception cref="RobotRuntime.Native.NativeDependencyMissingException">OpenCV's shim (the JPEG encoder) is missing; the message says how to install it.</exception>
    public RecordingSession(string folder, IReadOnlyList<(CameraSettings Settings, string Spec)> cameras, int jpegQuality = 90, Action<int, CameraFrame>? onFrame = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentNullException.ThrowIfNull(cameras);
        if (cameras.Count == 0)
            throw new ArgumentException("a recording needs at least one camera.", nameof(cameras));
        var duplicate = cameras.GroupBy(c => c.Settings.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"two cameras are named '{duplicate.Key}'; each camera needs its own name (its files are named after it).", nameof(cameras));
        _folder = Path.GetFullPath(folder);
        if (File.Exists(Path.Combine(_folder, RecordingManifest.FileName)) || Recordings.Cameras(_folder).Count > 0)
            throw new ArgumentException($"{_folder} already holds a recording; choose a new folder (recordings are never overwritten).", nameof(folder));
        _onFrame = onFrame;

        // The videos need OpenCV's JPEG encoder: find out now, before any camera starts or file is made.
        using (var probe = new JpegEncoder(8, 8))
            probe.Encode(new byte[8 * 8 * 3], 8, 8);
        var started = new List<ICameraSource>();
        var recorders = new List<CameraRecorder>();
        try
        {
            foreach (var (settings, _) in cameras)
            {
                var source = CameraFactory.Create(settings);
                started.Add(source);
                source.Start();
            }
            Directory.CreateDirectory(_folder);
            foreach (var (settings, _) in cameras)
                recorders.Add(new CameraRecorder(_folder, settings.Name, settings.Width, settings.Height, settings.Fps > 0 ? settings.Fps : 30, jpegQuality));
            _manifest = new RecordingManifest
            {
                StartedUtc = DateTime.UtcNow,
                Cameras = cameras.Select(c => new RecordedCamera(c.Settings.Name, c.Spec, c.Settings.Width, c.Settings.Height)).ToArray(),
            };
            _manifest.Write(_folder);
        }
        catch
        {
            // Nothing keeps running when setup fails half-way: cameras stop, files close.
            foreach (var source in started)
                source.Dispose();
            foreach (var recorder in recorders)
                recorder.Dispose();
            throw;
        }
        _sources = started.ToArray();
        _recorders = recorders.ToArray();
        _endReasons = new string?[_sources.Length];
        _writeFailed = new bool[_sources.Length];
        _counts = new int[_sources.Length];
        _threads = Enumerable.Range(0, _sources.Length)
            .Select(i => new Thread(() => Record(i)) { IsBackground = true, Name = $"record {_sources[i].Name}" })
            .ToArray();
        foreach (var thread in _threads)
            thread.Start();
    }

    /// <summary>The recording folder (full path).</summary>
    public string Folder => _folder;

    /// <summary>The cameras' names, in order.</summary>
    public IReadOnlyList<string> CameraNames => _manifest.Cameras.Select(c => c.Name).ToArray();

    /// <summary>Frames written so far by camera <paramref name="camera"/>; any thread.</summary>
    public int FramesRecorded(int camera) => Volatile.Read(ref _counts[camera]);

    /// <summary>Why camera <paramref name="camera"/> stopped delivering, or null while it records.</summary>
    public string? EndReason(int camera) => Volatile.Read(ref _endReasons[camera]);

    /// <summary>Camera <paramref name="camera"/> stopped because writing its files failed (disk full, encoder missing), not because its stream ended.</summary>
    public bool WriteFailed(int camera) => Volatile.Read(ref _writeFailed[camera]);

    /// <summary>Every camera has stopped (its stream ended or it was lost): nothing more will be recorded.</summary>
    public bool AllCamerasEnded => _threads.All(t => !t.IsAlive);

    private void Record(int index)
    {
        var source = _sources[index];
        var recorder = _recorders[index];
        var frame = new CameraFrame(source.Width, source.Height);
        try
        {
            while (!_stopping)
            {
                switch (source.Read(frame, ReadTimeout))
                {
                    case CameraReadStatus.Ok:
                        recorder.Write(frame);
                        Interlocked.Increment(ref _counts[index]);
                        _onFrame?.Invoke(index, frame);
                        break;
                    case CameraReadStatus.Timeout:
                        break;
                    case CameraReadStatus.Lost:
                        Volatile.Write(ref _endReasons[index], source.Health.Reason is { Length: > 0 } reason ? reason : $"camera '{source.Name}' was lost");
                        return;
                    default:
                        Volatile.Write(ref _endReasons[index], $"camera '{source.Name}' is not running");
                        return;
                }
            }
        }
        catch (Exception failure)
        {
            Volatile.Write(ref _writeFailed[index], true);
            Volatile.Write(ref _endReasons[index], $"camera '{source.Name}': writing the recording failed: {failure.Message}");
        }
    }

    /// <summary>Stops every camera, closes the videos (with their index) and writes the final manifest.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _stopping = true;
        foreach (var thread in _threads)
            thread.Join();
        foreach (var source in _sources)
            source.Dispose();
        foreach (var recorder in _recorders)
            recorder.Dispose();
        var cameras = _manifest.Cameras.Select((c, i) => c with { Frames = _recorders[i].FrameCount, EndReason = _endReasons[i] }).ToArray();
        (_manifest with { EndedUtc = DateTime.UtcNow, Complete = true, Cameras = cameras }).Write(_folder);
    }
}
