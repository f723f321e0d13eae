using System.Runtime.InteropServices;
using System.Text;
using RobotRuntime.Vision.Cameras;

namespace RobotRuntime.Vision.OpenCv;

/// <summary>Owns one <c>rrcv_capture</c> from the shim.</summary>
internal sealed class OpenCvCaptureHandle : SafeHandle
{
    public OpenCvCaptureHandle() : base(0, ownsHandle: true) { }

    public override bool IsInvalid => handle == 0;

    internal nint Pointer => handle;

    internal void Attach(nint pointer) => SetHandle(pointer);

    protected override bool ReleaseHandle()
    {
        OpenCvNative.CaptureClose(handle);
        return true;
    }
}

/// <summary>One OpenCV video stream: open, read into a caller buffer, close. One thread at a time.</summary>
internal sealed unsafe class OpenCvCapture : IDisposable
{
    private readonly OpenCvCaptureHandle _handle;

    private OpenCvCapture(OpenCvCaptureHandle handle)
    {
        _handle = handle;
        int width, height, count;
        double fps;
        OpenCvNative.Check(OpenCvNative.CaptureInfo(handle.Pointer, &width, &height, &fps, &count), "reading stream properties");
        NativeWidth = width;
        NativeHeight = height;
        FramesPerSecond = fps;
        FrameCount = count;
    }

    public int NativeWidth { get; }

    public int NativeHeight { get; }

    public double FramesPerSecond { get; }

    public int FrameCount { get; }

    public static OpenCvCapture OpenDevice(string camera, int index, int width, int height, double fps) =>
        Open(camera, $"/dev/video{index}", (out nint capture) => OpenCvNative.CaptureOpenDevice(index, width, height, fps, out capture));

    public static OpenCvCapture OpenFile(string camera, string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new VisionException($"camera '{camera}': video file not found: {full}");
        return Open(camera, full, (out nint capture) => OpenCvNative.CaptureOpenFile(full, out capture));
    }

    /// <summary>Opens a GStreamer pipeline on a separate thread and gives up after <paramref name="timeout"/>.</summary>
    public static OpenCvCapture OpenPipeline(string camera, string pipeline, TimeSpan timeout)
    {
        OpenCvCapture? opened = null;
        Exception? failure = null;
        var abandoned = 0;
        var thread = new Thread(() =>
        {
            try
            {
                var capture = Open(camera, $"GStreamer pipeline '{pipeline}'", (out nint c) => OpenCvNative.CaptureOpenPipeline(pipeline, out c));
                if (Interlocked.Exchange(ref abandoned, 1) == 1)
                    capture.Dispose(); // the caller gave up: close what opened late
                else
                    opened = capture;
            }
            catch (Exception e)
            {
                failure = e;
                Interlocked.Exchange(ref abandoned, 1);
            }
        }) { IsBackground = true, Name = $"open pipeline for {camera}" };
        thread.Start();
        if (!thread.Join(timeout) && Interlocked.Exchange(ref abandoned, 1) == 0)
            throw new VisionException(
                $"camera '{camera}': GStreamer pipeline '{pipeline}' did not open within {timeout.TotalSeconds:0.#} s. " +
                "OpenCV blocks forever when a pipeline names an element that is not installed: check each element with " +
                "`gst-inspect-1.0 <element>` (v4l2src is in gstreamer1.0-plugins-good, appsink in gstreamer1.0-plugins-base). " +
                "The stuck open is left behind on a background thread.");
        thread.Join();
        return opened ?? throw (failure ?? new VisionException($"camera '{camera}': GStreamer pipeline '{pipeline}' could not be opened."));
    }

    private delegate int OpenCall(out nint capture);

    private static OpenCvCapture Open(string camera, string what, OpenCall open)
    {
        var result = open(out var pointer);
        if (result < 0)
        {
            var message = Marshal.PtrToStringUTF8((nint)OpenCvNative.LastError());
            throw new VisionException($"camera '{camera}': {(string.IsNullOrEmpty(message) ? $"could not open {what}" : message)}");
        }
        var handle = new OpenCvCaptureHandle();
        handle.Attach(pointer);
        return new OpenCvCapture(handle);
    }

    /// <summary>Reads the next frame as RGB at width × height into <paramref name="rgb"/>.</summary>
    public CaptureOutcome Read(byte[] rgb, int width, int height, out string? failure)
    {
        int result;
        fixed (byte* p = rgb)
            result = OpenCvNative.CaptureRead(_handle.Pointer, p, width, height);
        failure = null;
        if (result == OpenCvNative.EndOfStream)
            return CaptureOutcome.EndOfStream;
        if (result < 0)
        {
            failure = Marshal.PtrToStringUTF8((nint)OpenCvNative.LastError());
            return CaptureOutcome.Failed;
        }
        return CaptureOutcome.Frame;
    }

    public void Dispose() => _handle.Dispose();
}
