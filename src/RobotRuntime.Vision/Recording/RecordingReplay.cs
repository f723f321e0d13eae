using System.Globalization;
using System.Text;
using RobotRuntime.Cameras;
using RobotRuntime.Encoders;
using RobotRuntime.Vision.Cameras;
using RobotRuntime.Vision.OpenCv;

namespace RobotRuntime.Vision.Recording;

/// <summary>How a recording is played back.</summary>
public sealed record ReplayOptions
{
    /// <summary>Keep the recorded spacing between frames (false: every frame, as fast as it decodes and encodes).</summary>
    public bool RealTime { get; init; } = true;

    /// <summary>Start again at the end (until cancelled).</summary>
    public bool Loop { get; init; }

    /// <summary>Deliver every camera at this size (frames are resized); null: each camera's recorded size.</summary>
    public (int Width, int Height)? Size { get; init; }

    /// <summary>Creates an encoder for one camera of the given frame size; null: no embeddings.</summary>
    public Func<int, int, IEncoder>? CreateEncoder { get; init; }

    /// <summary>Where per-frame embeddings are written as CSV (needed with <see cref="CreateEncoder"/>).</summary>
    public string? EmbeddingsPath { get; init; }

    /// <summary>Called on a camera's replay thread with each frame delivered (e.g. to show it live); must not keep the frame.</summary>
    public Action<int, CameraFrame>? OnFrame { get; init; }
}

/// <summary>
/// Plays a recording folder back: one <see cref="ReplayCameraSource"/> per recorded camera on a
/// thread of its own, optionally encoding each frame and writing its embedding to a CSV file
/// (<c>camera,frame,sequence,capture_ns,e0..</c>; <c>frame</c>, <c>sequence</c> and <c>capture_ns</c>
/// are the recorded values from the sidecar). Each line is handed to the operating system as it
/// is written, so an interrupted replay leaves every line up to the last.
/// </summary>
/// <remarks>Setup and teardown only; <see cref="Run"/> blocks the calling thread.</remarks>
public sealed class RecordingReplay : IDisposable
{
    /// <summary>The embeddings file's first columns.</summary>
    public const string EmbeddingsHeaderStart = "camera,frame,sequence,capture_ns";

    private readonly ReplayOptions _options;
    private readonly ReplayCameraSource[] _sources;
    private readonly IEncoder?[] _encoders;
    private readonly StreamWriter? _embeddings;
    private readonly Lock _embeddingsGate = new();
    private readonly int[] _replayed;
    private readonly int[] _encoded;
    private readonly string?[] _failures;

    /// <summary>Opens every camera of the recording in <paramref name="folder"/> (not started until <see cref="Run"/>).</summary>
    /// <exception cref="VisionException">The folder holds no recording, its manifest is malformed, or a camera's files are missing; the message says which.</exception>
    /// <exception cref="ArgumentException">An encoder is given without an embeddings file.</exception>
    public RecordingReplay(string folder, ReplayOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentNullException.ThrowIfNull(options);
        Folder = Path.GetFullPath(folder);
        _options = options;
        if (!Directory.Exists(Folder))
            throw new VisionException($"recording folder {Folder} does not exist.");
        if (options.CreateEncoder is not null && string.IsNullOrWhiteSpace(options.EmbeddingsPath))
            throw new ArgumentException("an encoder needs a file to write the embeddings to.", nameof(options));
        Manifest = RecordingManifest.TryRead(Folder);
        var cameras = Manifest?.Cameras.Select(c => c.Name).ToArray() ?? Recordings.Cameras(Folder).ToArray();
        if (cameras.Length == 0)
            throw new VisionException($"{Folder} holds no recording: no {RecordingManifest.FileName} and no <camera>.avi with <camera>.frames.csv.");
        CameraNames = cameras;
        var sizes = cameras.Select((name, i) => options.Size ?? RecordedSize(name, i)).ToArray();
        var sources = new List<ReplayCameraSource>();
        var encoders = new List<IEncoder?>();
        try
        {
            for (var i = 0; i < cameras.Length; i++)
            {
                sources.Add(new ReplayCameraSource(cameras[i], Folder, cameras[i], sizes[i].Width, sizes[i].Height, options.RealTime, options.Loop));
                encoders.Add(options.CreateEncoder?.Invoke(sizes[i].Width, sizes[i].Height));
            }
        }
        catch
        {
            foreach (var encoder in encoders)
                encoder?.Dispose();
            throw;
        }
        _sources = sources.ToArray();
        _encoders = encoders.ToArray();
        _replayed = new int[cameras.Length];
        _encoded = new int[cameras.Length];
        _failures = new string?[cameras.Length];
        if (options.CreateEncoder is not null)
        {
            var path = Path.GetFullPath(options.EmbeddingsPath!);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            _embeddings = new StreamWriter(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read), new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
            var size = _encoders[0]!.EmbeddingSizePerCamera;
            _embeddings.WriteLine(EmbeddingsHeaderStart + string.Concat(Enumerable.Range(0, size).Select(k => $",e{k}")));
        }
    }

    /// <summary>The recording folder (full path).</summary>
    public string Folder { get; }

    /// <summary>The recording's manifest, or null for a folder written by <see cref="CameraRecorder"/> alone.</summary>
    public RecordingManifest? Manifest { get; }

    /// <summary>The recorded cameras, in order.</summary>
    public IReadOnlyList<string> CameraNames { get; }

    /// <summary>Width and height camera <paramref name="camera"/> is delivered at.</summary>
    public (int Width, int Height) FrameSize(int camera) => (_sources[camera].Width, _sources[camera].Height);

    /// <summary>Frames in camera <paramref name="camera"/>'s sidecar.</summary>
    public int FramesRecorded(int camera) => _sources[camera].RecordedFrames.Count;

    /// <summary>Frames of camera <paramref name="camera"/> delivered so far.</summary>
    public int FramesReplayed(int camera) => Volatile.Read(ref _replayed[camera]);

    /// <summary>Embeddings of camera <paramref name="camera"/> written so far.</summary>
    public int FramesEncoded(int camera) => Volatile.Read(ref _encoded[camera]);

    /// <summary>The last encoder failure of camera <paramref name="camera"/>, or null.</summary>
    public string? EncoderFailure(int camera) => Volatile.Read(ref _failures[camera]);

    /// <summary>Plays every camera until each recording ends (never, with <see cref="ReplayOptions.Loop"/>) or <paramref name="cancel"/> fires.</summary>
    public void Run(CancellationToken cancel)
    {
        foreach (var source in _sources)
            source.Start();
        var threads = Enumerable.Range(0, _sources.Length)
            .Select(i => new Thread(() => Play(i, cancel)) { IsBackground = true, Name = $"replay {_sources[i].Name}" })
            .ToArray();
        foreach (var thread in threads)
            thread.Start();
        foreach (var thread in threads)
            thread.Join();
    }

    private void Play(int index, CancellationToken cancel)
    {
        var source = _sources[index];
        var encoder = _encoders[index];
        var frame = new CameraFrame(source.Width, source.Height);
        IReadOnlyList<CameraFrame> batch = [frame];
        var embedding = new float[encoder?.EmbeddingSize ?? 0];
        var line = new StringBuilder();
        var recorded = source.RecordedFrames;
        while (!cancel.IsCancellationRequested)
        {
            var status = source.Read(frame, TimeSpan.FromMilliseconds(200));
            if (status == CameraReadStatus.Timeout)
                continue;
            if (status != CameraReadStatus.Ok)
                return; // the recording ended (or the video is shorter than its sidecar)
            Interlocked.Increment(ref _replayed[index]);
            _options.OnFrame?.Invoke(index, frame);
            if (encoder is null)
                continue;
            var result = encoder.Encode(batch, embedding);
            if (result != EncodeStatus.Ok)
            {
                Volatile.Write(ref _failures[index], $"frame {frame.Sequence - 1}: {result} {encoder.LastError}".TrimEnd());
                continue;
            }
            // The source numbers frames from 1 in delivery order, looping included: the recorded frame is (sequence − 1) mod count.
            var at = recorded[(int)((frame.Sequence - 1) % recorded.Count)];
            line.Clear();
            line.Append(source.Name).Append(',').Append(at.Frame.ToString(CultureInfo.InvariantCulture))
                .Append(',').Append(at.Sequence.ToString(CultureInfo.InvariantCulture))
                .Append(',').Append(at.CaptureNs.ToString(CultureInfo.InvariantCulture));
            foreach (var value in embedding)
                line.Append(',').Append(value.ToString("R", CultureInfo.InvariantCulture));
            lock (_embeddingsGate)
                _embeddings!.WriteLine(line);
            Interlocked.Increment(ref _encoded[index]);
        }
    }

    private (int Width, int Height) RecordedSize(string camera, int index)
    {
        if (Manifest is not null)
            return (Manifest.Cameras[index].Width, Manifest.Cameras[index].Height);
        using var capture = OpenCvCapture.OpenFile(camera, Recordings.VideoPath(Folder, camera));
        return (capture.NativeWidth, capture.NativeHeight);
    }

    /// <summary>Stops the cameras, closes the encoders and the embeddings file.</summary>
    public void Dispose()
    {
        foreach (var source in _sources)
            source.Dispose();
        foreach (var encoder in _encoders)
            encoder?.Dispose();
        _embeddings?.Dispose();
    }
}
