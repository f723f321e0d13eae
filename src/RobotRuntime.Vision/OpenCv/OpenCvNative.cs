using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RobotRuntime.Native;

namespace RobotRuntime.Vision.OpenCv;

/// <summary>The functions of <c>librr_opencv.so</c> (see <c>native/rr_opencv.h</c>).</summary>
internal static unsafe partial class OpenCvNative
{
    private const string Library = "rr_opencv";

    internal const int BufferTooSmall = -2;
    internal const int EndOfStream = 1;

    // Every P/Invoke of this assembly is in this class, so its static constructor runs before the
    // first one and routes the library name to the project's locator (one resolver per assembly).
    static OpenCvNative() =>
        NativeLibrary.SetDllImportResolver(typeof(OpenCvNative).Assembly, Resolve);

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == Library ? NativeLibraryLocator.Default.Load(NativeDependency.OpenCvShim) : 0;

    [LibraryImport(Library, EntryPoint = "rrcv_version")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* Version();

    [LibraryImport(Library, EntryPoint = "rrcv_last_error")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* LastError();

    [LibraryImport(Library, EntryPoint = "rrcv_videoio_backends")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int VideoIoBackends(byte* buffer, int capacity, out int needed);

    [LibraryImport(Library, EntryPoint = "rrcv_capture_open_device")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int CaptureOpenDevice(int index, int width, int height, double fps, out nint capture);

    [LibraryImport(Library, EntryPoint = "rrcv_capture_open_file", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int CaptureOpenFile(string path, out nint capture);

    [LibraryImport(Library, EntryPoint = "rrcv_capture_open_pipeline", StringMarshalling = StringMarshalling.Utf8)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int CaptureOpenPipeline(string pipeline, out nint capture);

    [LibraryImport(Library, EntryPoint = "rrcv_capture_info")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int CaptureInfo(nint capture, int* width, int* height, double* fps, int* frameCount);

    [LibraryImport(Library, EntryPoint = "rrcv_capture_read")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int CaptureRead(nint capture, byte* rgb, int width, int height);

    [LibraryImport(Library, EntryPoint = "rrcv_capture_close")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void CaptureClose(nint capture);

    [LibraryImport(Library, EntryPoint = "rrcv_encode_jpeg")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int EncodeJpeg(byte* rgb, int width, int height, int quality, byte* output, int capacity, out int size);

    /// <summary>Turns a negative shim result into a <see cref="VisionException"/> carrying the shim's message.</summary>
    internal static void Check(int result, string operation)
    {
        if (result >= 0)
            return;
        var message = Marshal.PtrToStringUTF8((nint)LastError());
        throw new VisionException($"{operation} failed (code {result}): {(string.IsNullOrEmpty(message) ? "no message" : message)}");
    }
}
