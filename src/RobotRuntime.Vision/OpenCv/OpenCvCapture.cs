using System.Runtime.InteropServices;
using OpenCvSharp;
using OpenCvSharp.Internal;
using RobotRuntime.Imaging;
using RobotRuntime.Vision.Cameras;

namespace RobotRuntime.Vision.OpenCv;

/// <summary>
/// One OpenCV video stream through OpenCvSharp4: a V4L2 device or a file/network stream through
/// FFmpeg; read into a caller buffer as RGB at the requested size. One thread at a time.
/// </summary>
/// <remarks>Steady-state reads allocate nothing managed: the decoded and resized frames live in
/// matrices reused from read to read, and the RGB result is written through a matrix over the
/// caller's pinned buffer. OpenCvSharp's <c>Cv2.Resize</c>/<c>Cv2.CvtColor</c> make (and dispose) an
/// input and output proxy object per call; the capture instead keeps OpenCV's native
/// <c>_InputArray</c>/<c>_OutputArray</c> proxies for its matrices and calls OpenCvSharp's public
/// <c>NativeMethods</c> with them.</remarks>
internal sealed class OpenCvCapture : IDisposable
{
    private readonly VideoCapture _capture;
    private readonly Mat _frame = new();
    private readonly Mat _resized = new();
    // Native cv::_InputArray / cv::_OutputArray proxies over the matrices, made once.
    private readonly nint _frameIn;
    private readonly nint _resizedIn;
    private readonly nint _resizedOut;
    private byte[]? _target;
    private GCHandle _pin;
    private Mat? _wrapped;
    private nint _wrappedOut;

    private OpenCvCapture(VideoCapture capture)
    {
        _capture = capture;
        _frameIn = NewInput(_frame);
        _resizedIn = NewInput(_resized);
        _resizedOut = NewOutput(_resized);
        NativeWidth = (int)capture.Get(VideoCaptureProperties.FrameWidth);
        NativeHeight = (int)capture.Get(VideoCaptureProperties.FrameHeight);
        FramesPerSecond = capture.Get(VideoCaptureProperties.Fps);
        var count = capture.Get(VideoCaptureProperties.FrameCount);
        FrameCount = count > 0 ? (int)count : -1;
    }

    public int NativeWidth { get; }

    public int NativeHeight { get; }

    public double FramesPerSecond { get; }

    public int FrameCount { get; }

    public static OpenCvCapture OpenDevice(string camera, int index, int width, int height, double fps)
    {
        if (index < 0)
            throw new VisionException($"camera '{camera}': device index must be 0 or more, got {index}");
        return Open(camera, $"/dev/video{index} with the V4L2 backend", capture =>
        {
            if (!capture.Open(index, VideoCaptureAPIs.V4L2))
                return false;
            if (width > 0) capture.Set(VideoCaptureProperties.FrameWidth, width);
            if (height > 0) capture.Set(VideoCaptureProperties.FrameHeight, height);
            if (fps > 0) capture.Set(VideoCaptureProperties.Fps, fps);
            capture.Set(VideoCaptureProperties.BufferSize, 1); // the newest frame, not a queue of old ones
            return true;
        });
    }

    /// <summary>Opens a video file, or a network stream (rtsp://, http://, udp://…) through FFmpeg.</summary>
    public static OpenCvCapture OpenFile(string camera, string path)
    {
        var isUrl = path.Contains("://", StringComparison.Ordinal);
        var target = isUrl ? path : Path.GetFullPath(path);
        if (!isUrl && !File.Exists(target))
            throw new VisionException($"camera '{camera}': video file not found: {target}");
        return Open(camera, $"{(isUrl ? "stream" : "video file")} {target} with the FFMPEG backend", capture => capture.Open(target, VideoCaptureAPIs.FFMPEG));
    }

    private static OpenCvCapture Open(string camera, string what, Func<VideoCapture, bool> open)
    {
        _ = OpenCvSharpLibrary.Version;
        var capture = new VideoCapture();
        try
        {
            if (!open(capture) || !capture.IsOpened())
                throw new VisionException($"camera '{camera}': could not open {what}");
            return new OpenCvCapture(capture);
        }
        catch (OpenCVException e)
        {
            capture.Dispose();
            throw new VisionException($"camera '{camera}': opening {what}: {e.Message}");
        }
        catch
        {
            capture.Dispose();
            throw;
        }
    }

    /// <summary>Reads the next frame as RGB at width × height into <paramref name="rgb"/>.</summary>
    public CaptureOutcome Read(byte[] rgb, int width, int height, out string? failure)
    {
        failure = null;
        try
        {
            Check(NativeMethods.videoio_VideoCapture_read_Mat(_capture.CvPtr, _frame.CvPtr, out var got));
            GC.KeepAlive(_capture);
            if (got == 0 || _frame.Empty())
                return CaptureOutcome.EndOfStream;
            var grey = _frame.Channels() == 1;
            var source = _frameIn;
            if (_frame.Cols != width || _frame.Rows != height)
            {
                Check(NativeMethods.imgproc_resize(_frameIn, _resizedOut, new Size(width, height), 0, 0, (int)InterpolationFlags.Area));
                source = _resizedIn;
            }
            Check(NativeMethods.imgproc_cvtColor(source, Target(rgb, width, height), (int)(grey ? ColorConversionCodes.GRAY2RGB : ColorConversionCodes.BGR2RGB), 0));
            return CaptureOutcome.Frame;
        }
        catch (OpenCVException e)
        {
            failure = e.Message;
            return CaptureOutcome.Failed;
        }
    }

    // A matrix over the caller's buffer, made once per buffer (the capture source reuses its frames).
    private nint Target(byte[] rgb, int width, int height)
    {
        if (!ReferenceEquals(rgb, _target) || _wrapped!.Cols != width || _wrapped.Rows != height)
        {
            if (rgb.Length != width * height * 3)
                throw new ArgumentException($"rgb holds {rgb.Length} bytes; a {width}×{height} RGB image has {width * height * 3}.", nameof(rgb));
            ReleaseTarget();
            _pin = GCHandle.Alloc(rgb, GCHandleType.Pinned);
            _target = rgb;
            _wrapped = Mat.FromPixelData(height, width, MatType.CV_8UC3, _pin.AddrOfPinnedObject());
            _wrappedOut = NewOutput(_wrapped);
        }
        return _wrappedOut;
    }

    private void ReleaseTarget()
    {
        if (_wrappedOut != 0)
            NativeMethods.core_OutputArray_delete(_wrappedOut);
        _wrappedOut = 0;
        _wrapped?.Dispose();
        _wrapped = null;
        if (_pin.IsAllocated)
            _pin.Free();
        _target = null;
    }

    private static nint NewInput(Mat mat)
    {
        Check(NativeMethods.core_InputArray_new_byMat(mat.CvPtr, out var proxy));
        return proxy;
    }

    private static nint NewOutput(Mat mat)
    {
        Check(NativeMethods.core_OutputArray_new_byMat(mat.CvPtr, out var proxy));
        return proxy;
    }

    // Throws OpenCVException with OpenCV's message when the call failed (allocates only then).
    private static void Check(ExceptionStatus status) => NativeMethods.HandleException(status);

    public void Dispose()
    {
        ReleaseTarget();
        _capture.Release();
        _capture.Dispose();
        NativeMethods.core_InputArray_delete(_frameIn);
        NativeMethods.core_InputArray_delete(_resizedIn);
        NativeMethods.core_OutputArray_delete(_resizedOut);
        _frame.Dispose();
        _resized.Dispose();
    }
}
