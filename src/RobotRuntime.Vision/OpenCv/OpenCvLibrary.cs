using System.Runtime.InteropServices;
using System.Text;

namespace RobotRuntime.Vision.OpenCv;

/// <summary>Facts about the OpenCV the capture shim was built against.</summary>
/// <remarks>Setup only. The first call loads the shim and throws
/// <see cref="RobotRuntime.Native.NativeDependencyMissingException"/> if it (or OpenCV) is absent.</remarks>
public static class OpenCvLibrary
{
    /// <summary>OpenCV's version, e.g. "4.6.0".</summary>
    public static unsafe string Version => Marshal.PtrToStringUTF8((nint)OpenCvNative.Version()) ?? "";

    /// <summary>The video I/O backends compiled into OpenCV, e.g. FFMPEG, GSTREAMER, V4L2.</summary>
    public static unsafe IReadOnlyList<string> VideoIoBackends()
    {
        var buffer = new byte[256];
        while (true)
        {
            int result, needed;
            fixed (byte* p = buffer)
                result = OpenCvNative.VideoIoBackends(p, buffer.Length, out needed);
            if (result == OpenCvNative.BufferTooSmall)
            {
                buffer = new byte[needed];
                continue;
            }
            OpenCvNative.Check(result, "listing OpenCV's video I/O backends");
            var text = Encoding.UTF8.GetString(buffer, 0, needed - 1);
            return text.Length == 0 ? [] : text.Split(',');
        }
    }
}
