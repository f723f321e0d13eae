using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;
using RobotRuntime.Cameras;
using RobotRuntime.Timing;
using RobotRuntime.Imaging;

namespace RobotRuntime.Vision.Recording;

/// <summary>
/// Records one camera's frames into a folder: <c>&lt;camera&gt;.avi</c> (Motion-JPEG, see
/// <see cref="AviMjpegWriter"/>) and <c>&lt;camera&gt;.frames.csv</c>, one line per frame with the
/// frame's index in the video, the camera's sequence number, its capture time and the time it was
/// written (monotonic ns). Both files are written through as each frame arrives, so a recording
/// cut off by a crash or <c>kill -9</c> replays up to its last frame.
/// </summary>
/// <remarks>Not thread-safe; one writer thread. JPEG encoding costs ~0.1–1 ms a frame: keep it off the control loop's thread.</remarks>
public sealed class CameraRecorder : IDisposable
{
    /// <summary>The sidecar's header line.</summary>
    public const string SidecarHeader = "frame,sequence,capture_ns,written_ns";

    private readonly AviMjpegWriter _video;
    private readonly SafeFileHandle _sidecar;
    private readonly JpegEncoder _encoder;
    private readonly byte[] _line = new byte[96];
    private long _sidecarLength;

    /// <summary>Starts recording camera <paramref name="camera"/> into <paramref name="folder"/> (created if absent).</summary>
    public CameraRecorder(string folder, string camera, int width, int height, double framesPerSecond, int jpegQuality = 90)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(camera);
        if (camera.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || camera.Contains(' '))
            throw new ArgumentException($"camera name '{camera}' cannot name a file; use letters, digits, '-' or '_'.", nameof(camera));
        Directory.CreateDirectory(folder);
        Camera = camera;
        _encoder = new JpegEncoder(width, height, jpegQuality);
        _video = new AviMjpegWriter(Path.Combine(folder, camera + ".avi"), width, height, framesPerSecond);
        _sidecar = File.OpenHandle(Path.Combine(folder, camera + ".frames.csv"), FileMode.Create, FileAccess.Write, FileShare.Read);
        var header = Encoding.ASCII.GetBytes(SidecarHeader + "\n");
        RandomAccess.Write(_sidecar, header, 0);
        _sidecarLength = header.Length;
    }

    /// <summary>The camera being recorded.</summary>
    public string Camera { get; }

    /// <summary>Frames recorded so far.</summary>
    public int FrameCount => _video.FrameCount;

    /// <summary>Encodes and appends <paramref name="frame"/>, then its sidecar line.</summary>
    public void Write(CameraFrame frame)
    {
        if (frame.Width != _video.Width || frame.Height != _video.Height)
            throw new ArgumentException($"camera '{Camera}' is recorded at {_video.Width}×{_video.Height}, got a {frame.Width}×{frame.Height} frame.", nameof(frame));
        var jpeg = _encoder.Encode(frame.Pixels, frame.Width, frame.Height);
        var index = _video.FrameCount;
        _video.WriteFrame(jpeg);
        // The line goes after the frame: a line in the sidecar always has its frame in the video.
        var length = FormatLine(index, frame.Sequence, frame.CaptureTimestampNs, MonotonicClock.NowNanoseconds);
        RandomAccess.Write(_sidecar, _line.AsSpan(0, length), _sidecarLength);
        _sidecarLength += length;
    }

    private int FormatLine(int index, long sequence, long captureNs, long writtenNs)
    {
        var at = 0;
        Put(_line, ref at, index, ',');
        Put(_line, ref at, sequence, ',');
        Put(_line, ref at, captureNs, ',');
        Put(_line, ref at, writtenNs, '\n');
        return at;
    }

    private static void Put(byte[] line, ref int at, long value, char end)
    {
        value.TryFormat(line.AsSpan(at), out var written, default, CultureInfo.InvariantCulture);
        at += written;
        line[at++] = (byte)end;
    }

    /// <summary>Finishes the video's index and closes both files.</summary>
    public void Dispose()
    {
        _video.Dispose();
        _sidecar.Dispose();
        _encoder.Dispose();
    }

    /// <summary>Stops as a killed process would: no index, no further writes.</summary>
    internal void Abandon()
    {
        _video.Abandon();
        _sidecar.Dispose();
        _encoder.Dispose();
    }
}

/// <summary>One line of a recording's sidecar.</summary>
/// <param name="Frame">Index of the frame in the video.</param>
/// <param name="Sequence">The camera's sequence number when it was captured.</param>
/// <param name="CaptureNs">Capture time (monotonic ns of the recording process).</param>
/// <param name="WrittenNs">When it was written.</param>
public readonly record struct RecordedFrame(int Frame, long Sequence, long CaptureNs, long WrittenNs);

/// <summary>Reads what <see cref="CameraRecorder"/> wrote.</summary>
public static class Recordings
{
    /// <summary>The video file of camera <paramref name="camera"/> in <paramref name="folder"/>.</summary>
    public static string VideoPath(string folder, string camera) => Path.Combine(folder, camera + ".avi");

    /// <summary>The cameras recorded in <paramref name="folder"/> (those with both a video and a sidecar).</summary>
    public static IReadOnlyList<string> Cameras(string folder) =>
        Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, "*.frames.csv")
                .Select(f => Path.GetFileName(f)[..^".frames.csv".Length])
                .Where(c => File.Exists(VideoPath(folder, c)))
                .Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>
    /// The sidecar lines of camera <paramref name="camera"/>. A last line cut off by a crash is
    /// left out; any other malformed line is an error naming the file and line.
    /// </summary>
    public static IReadOnlyList<RecordedFrame> ReadSidecar(string folder, string camera)
    {
        var path = Path.Combine(folder, camera + ".frames.csv");
        if (!File.Exists(path))
            throw new VisionException($"recording {folder} has no camera '{camera}' ({path} not found); it has: {string.Join(", ", Cameras(folder))}.");
        var text = File.ReadAllText(path);
        var lines = text.Split('\n');
        if (lines[0] != CameraRecorder.SidecarHeader)
            throw new VisionException($"{path} does not start with '{CameraRecorder.SidecarHeader}'; it is not a RobotRuntime recording sidecar.");
        var frames = new List<RecordedFrame>(lines.Length);
        for (var i = 1; i < lines.Length; i++)
        {
            var isLast = i == lines.Length - 1;
            if (isLast && lines[i].Length == 0)
                break; // the file ends with a newline
            var parts = lines[i].Split(',');
            if (parts.Length == 4 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var frame)
                && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var sequence)
                && long.TryParse(parts[2], CultureInfo.InvariantCulture, out var capture)
                && long.TryParse(parts[3], CultureInfo.InvariantCulture, out var written)
                && frame == frames.Count)
            {
                frames.Add(new RecordedFrame(frame, sequence, capture, written));
                continue;
            }
            if (isLast)
                break; // cut off mid-line by a crash: the frame before it is the last whole one
            throw new VisionException($"{path} line {i + 1} is malformed: '{lines[i]}' (expected frame,sequence,capture_ns,written_ns with frame = {frames.Count}).");
        }
        return frames;
    }
}
