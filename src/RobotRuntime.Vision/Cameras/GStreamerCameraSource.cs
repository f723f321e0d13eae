using System.Diagnostics;
using System.Text;
using RobotRuntime.Cameras;

namespace RobotRuntime.Vision.Cameras;

/// <summary>
/// A camera behind a GStreamer pipeline (Jetson CSI cameras, RTSP with hardware decoding, anything
/// only GStreamer opens), run as a <c>gst-launch-1.0</c> child process whose raw RGB frames are read
/// from its standard output. OpenCvSharp4's OpenCV has no GStreamer backend, and this way a
/// pipeline that never starts (an element that is not installed) cannot hang the runtime: it is
/// killed after the open timeout, with its own error message.
/// </summary>
/// <remarks>
/// The pipeline is written as for OpenCV, ending in <c>appsink</c>; that last element is replaced by
/// <c>videoconvert ! videoscale ! video/x-raw,format=RGB,width=W,height=H ! fdsink</c>, so the
/// frames arrive at the configured size whatever the source gives. Needs Debian's
/// <c>gstreamer1.0-tools</c> plus the plugins the pipeline names. The capture thread blocks on the
/// pipe; nothing is allocated per frame.
/// </remarks>
public sealed class GStreamerCameraSource : CapturingCameraSource
{
    /// <summary>The program that runs pipelines.</summary>
    public const string Launcher = "gst-launch-1.0";

    private readonly string _pipeline;
    private readonly TimeSpan _openTimeout;
    private readonly int _stride;
    private readonly byte[] _buffer;
    private Process? _process;
    private Stream? _frames;
    private readonly StringBuilder _errors = new();
    private bool _haveFirst;

    /// <summary>Creates the source; nothing runs until <see cref="CapturingCameraSource.Start"/>.</summary>
    /// <param name="name">Camera name, used in messages.</param>
    /// <param name="pipeline">The pipeline, ending in <c>appsink</c> (or in a raw-video element).</param>
    /// <param name="width">Delivered frame width.</param>
    /// <param name="height">Delivered frame height.</param>
    /// <param name="openTimeout">How long the first frame may take (default 5 s).</param>
    /// <param name="options">Capture-thread behaviour.</param>
    public GStreamerCameraSource(string name, string pipeline, int width, int height, TimeSpan? openTimeout = null, CaptureOptions? options = null)
        : base(name, width, height, options)
    {
        if (string.IsNullOrWhiteSpace(pipeline))
            throw new ArgumentException($"camera '{name}': a GStreamer pipeline is needed (e.g. 'v4l2src device=/dev/video0 ! appsink').", nameof(pipeline));
        Pipeline = pipeline.Trim();
        _pipeline = LaunchLine(Pipeline, width, height);
        _openTimeout = openTimeout ?? TimeSpan.FromSeconds(5);
        _stride = (width * 3 + 3) & ~3; // GStreamer pads each RGB row to 4 bytes
        _buffer = new byte[_stride * height];
    }

    /// <summary>The pipeline as configured.</summary>
    public string Pipeline { get; }

    /// <summary>
    /// What is given to gst-launch-1.0: the pipeline with a trailing <c>appsink</c> (and its properties)
    /// replaced by conversion to RGB at <paramref name="width"/> × <paramref name="height"/> into fdsink.
    /// </summary>
    public static string LaunchLine(string pipeline, int width, int height)
    {
        var elements = pipeline.Split('!').Select(e => e.Trim()).ToList();
        if (elements.Count > 0 && (elements[^1] == "appsink" || elements[^1].StartsWith("appsink ", StringComparison.Ordinal)))
            elements.RemoveAt(elements.Count - 1);
        elements.Add("videoconvert");
        elements.Add("videoscale");
        elements.Add($"video/x-raw,format=RGB,width={width},height={height}");
        elements.Add("fdsink fd=1 sync=false");
        return string.Join(" ! ", elements);
    }

    /// <inheritdoc />
    protected override void Open()
    {
        var info = new ProcessStartInfo(Launcher)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-q");
        // gst-launch-1.0 takes the pipeline as words and re-joins them; quoting is its own.
        foreach (var word in SplitWords(_pipeline))
            info.ArgumentList.Add(word);
        lock (_errors)
            _errors.Clear();
        try
        {
            _process = Process.Start(info) ?? throw new VisionException($"camera '{Name}': {Launcher} did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new VisionException($"camera '{Name}': cannot run {Launcher} ({e.Message}); GStreamer cameras need Debian's gstreamer1.0-tools " +
                "and the plugins the pipeline names (scripts/bootstrap installs gstreamer1.0-tools, -plugins-base and -plugins-good).");
        }
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
                lock (_errors)
                    if (_errors.Length < 4000)
                        _errors.AppendLine(line);
        };
        _process.BeginErrorReadLine();
        _frames = _process.StandardOutput.BaseStream;

        // The first frame proves the pipeline runs; a pipeline that never starts is killed.
        var first = Task.Run(() => ReadFrame());
        var ended = first.Wait(_openTimeout);
        if (!ended || !first.Result)
        {
            Close();
            var said = Errors();
            throw new VisionException(ended
                ? $"camera '{Name}': GStreamer pipeline '{Pipeline}' could not be opened: {(said.Length > 0 ? said : "it ended without a frame")}"
                : $"camera '{Name}': GStreamer pipeline '{Pipeline}' delivered no frame within {_openTimeout.TotalSeconds:0.#} s and was stopped" +
                  (said.Length > 0 ? $" ({said})" : "") + ". Check each element with `gst-inspect-1.0 <element>`.");
        }
        _haveFirst = true;
    }

    private string Errors()
    {
        lock (_errors)
            return _errors.ToString().Trim().Replace(Environment.NewLine, " ", StringComparison.Ordinal);
    }

    private bool ReadFrame()
    {
        var stream = _frames;
        if (stream is null)
            return false;
        var read = 0;
        while (read < _buffer.Length)
        {
            var n = stream.Read(_buffer, read, _buffer.Length - read);
            if (n == 0)
                return false;
            read += n;
        }
        return true;
    }

    /// <inheritdoc />
    protected override CaptureOutcome Capture(CameraFrame frame, out string? failure)
    {
        failure = null;
        bool got;
        try
        {
            got = _haveFirst || ReadFrame();
        }
        catch (IOException e)
        {
            failure = $"reading from {Launcher}: {e.Message}";
            return CaptureOutcome.Failed;
        }
        _haveFirst = false;
        if (!got)
        {
            var said = Errors();
            failure = $"the GStreamer pipeline ended{(said.Length > 0 ? ": " + said : "")}";
            return CaptureOutcome.EndOfStream;
        }
        var row = Width * 3;
        var pixels = frame.Pixels.AsSpan();
        if (row == _stride)
            _buffer.AsSpan(0, row * Height).CopyTo(pixels);
        else
            for (var y = 0; y < Height; y++)
                _buffer.AsSpan(y * _stride, row).CopyTo(pixels.Slice(y * row, row));
        return CaptureOutcome.Frame;
    }

    /// <inheritdoc />
    protected override void Close()
    {
        var process = _process;
        _process = null;
        _frames = null;
        if (process is null)
            return;
        try
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            // WaitForExit(timeout) returns before the asynchronous stderr reader has taken the last
            // lines; once the process is gone, the overload without a timeout waits for that reader,
            // so GStreamer's own error (why the pipeline ended) is in Errors() for the message.
            if (process.WaitForExit(2000))
                process.WaitForExit();
        }
        catch (InvalidOperationException)
        {
        }
        process.Dispose();
    }

    private static IEnumerable<string> SplitWords(string line)
    {
        var word = new StringBuilder();
        char quote = '\0';
        foreach (var c in line)
        {
            if (quote != '\0')
            {
                if (c == quote)
                    quote = '\0';
                else
                    word.Append(c);
            }
            else if (c is '"' or '\'')
                quote = c;
            else if (char.IsWhiteSpace(c))
            {
                if (word.Length > 0)
                {
                    yield return word.ToString();
                    word.Clear();
                }
            }
            else
                word.Append(c);
        }
        if (word.Length > 0)
            yield return word.ToString();
    }
}
