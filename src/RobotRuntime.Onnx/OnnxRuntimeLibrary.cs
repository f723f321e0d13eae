using System.Runtime.InteropServices;

namespace RobotRuntime.Onnx;

/// <summary>
/// Facts about the loaded ONNX Runtime library: version and execution providers. The first call
/// loads the library through <see cref="RobotRuntime.Native.NativeLibraryLocator.Default"/> and
/// throws <see cref="RobotRuntime.Native.NativeDependencyMissingException"/> if it is absent.
/// </summary>
/// <remarks>Setup only; thread-safe.</remarks>
public static class OnnxRuntimeLibrary
{
    /// <summary>The execution provider name for CPU inference.</summary>
    public const string CpuProvider = "CPUExecutionProvider";

    /// <summary>The execution provider name for NVIDIA CUDA inference.</summary>
    public const string CudaProvider = "CUDAExecutionProvider";

    /// <summary>The library's version string (<c>OrtApiBase::GetVersionString</c>), e.g. "1.30.0".</summary>
    public static string Version => OrtApi.Default.Version;

    /// <summary>
    /// The execution providers this build of the library was compiled with
    /// (<c>GetAvailableProviders</c>). A listed GPU provider may still fail to load at session
    /// creation if its shared libraries are not next to the library.
    /// </summary>
    public static unsafe IReadOnlyList<string> GetAvailableProviders()
    {
        var api = OrtApi.Default;
        byte** names;
        int count;
        api.VerifySuccess(api.GetAvailableProviders(&names, &count));
        try
        {
            var result = new string[count];
            for (var i = 0; i < count; i++)
                result[i] = Marshal.PtrToStringUTF8((nint)names[i]) ?? "";
            return result;
        }
        finally
        {
            api.VerifySuccess(api.ReleaseAvailableProviders(names, count));
        }
    }
}
