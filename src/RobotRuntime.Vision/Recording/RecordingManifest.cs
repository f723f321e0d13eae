using System.Text.Json;
using System.Text.Json.Serialization;

namespace RobotRuntime.Vision.Recording;

/// <summary>One camera as a recording's manifest describes it.</summary>
/// <param name="Name">The camera's name; its files are <c>&lt;name&gt;.avi</c> and <c>&lt;name&gt;.frames.csv</c>.</param>
/// <param name="Spec">Where the frames came from, as given to <c>rr record --camera</c>.</param>
/// <param name="Width">Frame width, pixels.</param>
/// <param name="Height">Frame height, pixels.</param>
/// <param name="Frames">Frames written, once the recording was closed (null while recording or after a crash: count the sidecar's lines).</param>
/// <param name="EndReason">Why this camera stopped before the recording did (stream ended, camera lost), or null.</param>
public sealed record RecordedCamera(string Name, string Spec, int Width, int Height, int? Frames = null, string? EndReason = null);

/// <summary>
/// <c>manifest.json</c> of a recording folder: which cameras, their sizes and sources, when it
/// started and whether it was closed cleanly. It is replaced atomically (written beside, then
/// renamed), so after a crash it is the one written at the start — and the frames are still all
/// in the videos and sidecars (see <see cref="CameraRecorder"/>).
/// </summary>
public sealed record RecordingManifest
{
    /// <summary>The manifest's file name inside a recording folder.</summary>
    public const string FileName = "manifest.json";

    /// <summary>The value of <see cref="Format"/>.</summary>
    public const string FormatName = "robotruntime-recording";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Always <see cref="FormatName"/>.</summary>
    public string Format { get; init; } = FormatName;

    /// <summary>Format version (1).</summary>
    public int Version { get; init; } = 1;

    /// <summary>When recording started (UTC).</summary>
    public DateTime StartedUtc { get; init; }

    /// <summary>When it was closed (UTC), or null if it was not closed cleanly.</summary>
    public DateTime? EndedUtc { get; init; }

    /// <summary>The recording was closed cleanly (videos indexed, counts final).</summary>
    public bool Complete { get; init; }

    /// <summary>The cameras, in the order given.</summary>
    public IReadOnlyList<RecordedCamera> Cameras { get; init; } = [];

    /// <summary>Writes the manifest into <paramref name="folder"/>, replacing any previous one atomically.</summary>
    public void Write(string folder)
    {
        var path = Path.Combine(folder, FileName);
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, this, Json);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads the manifest of <paramref name="folder"/>, or null if it has none (a folder written by <see cref="CameraRecorder"/> alone).</summary>
    /// <exception cref="VisionException">The file is not a manifest of this format; the message names it and what was expected.</exception>
    public static RecordingManifest? TryRead(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
            return null;
        RecordingManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<RecordingManifest>(File.ReadAllText(path), Json);
        }
        catch (JsonException failure)
        {
            throw new VisionException($"{path} is not a recording manifest: {failure.Message}");
        }
        if (manifest is null || manifest.Format != FormatName || manifest.Version != 1)
            throw new VisionException($"{path} is not a recording manifest (expected \"format\": \"{FormatName}\", \"version\": 1).");
        return manifest;
    }
}
