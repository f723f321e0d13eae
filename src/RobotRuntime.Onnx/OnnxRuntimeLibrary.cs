using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using RobotRuntime.Native;

namespace RobotRuntime.Onnx;

/// <summary>
/// Facts about the ONNX Runtime this build carries (the official NuGet binding and its native
/// library): package, version, execution providers, where the library was loaded from. The first
/// call loads the native library and throws <see cref="NativeDependencyMissingException"/>,
/// naming the package, if it cannot be loaded.
/// </summary>
/// <remarks>Setup only; thread-safe.</remarks>
public static class OnnxRuntimeLibrary
{
    /// <summary>The execution provider name for CPU inference.</summary>
    public const string CpuProvider = "CPUExecutionProvider";

    /// <summary>The execution provider name for NVIDIA CUDA inference.</summary>
    public const string CudaProvider = "CUDAExecutionProvider";

    /// <summary>The execution provider name for NVIDIA TensorRT inference.</summary>
    public const string TensorRtProvider = "TensorrtExecutionProvider";

    /// <summary>The MSBuild property that selects the GPU package at build time.</summary>
    public const string GpuBuildProperty = "RrOnnxRuntimeGpu";

    /// <summary>Whether this build references the GPU package (<c>-p:RrOnnxRuntimeGpu=true</c>).</summary>
    public static bool IsGpuBuild =>
#if RR_ONNXRUNTIME_GPU
        true;
#else
        false;
#endif

    /// <summary>The NuGet package that provides the native library in this build.</summary>
    public static string PackageName => IsGpuBuild ? "Microsoft.ML.OnnxRuntime.Gpu.Linux" : "Microsoft.ML.OnnxRuntime";

    /// <summary>The managed binding's version (Microsoft.ML.OnnxRuntime.Managed), e.g. "1.32.0".</summary>
    public static string BindingVersion
    {
        get
        {
            var assembly = typeof(InferenceSession).Assembly;
            var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
            var version = informational ?? assembly.GetName().Version?.ToString() ?? "?";
            var plus = version.IndexOf('+');
            return plus < 0 ? version : version[..plus];
        }
    }

    /// <summary>The native library as a dependency, for <c>rr doctor</c> and error messages.</summary>
    public static NativeDependency Dependency => new(
        "ONNX Runtime", "libonnxruntime.so", NativeDependencyOrigin.NuGet,
        $"the NuGet package {PackageName} {BindingVersion} (restored with the build, copied to runtimes/linux-x64/native next to the application)");

    /// <summary>The native library's version string, e.g. "1.32.0".</summary>
    public static string Version => Env().GetVersionString();

    /// <summary>
    /// The execution providers this build of the library was compiled with. A listed GPU provider
    /// may still fail at session creation if CUDA, cuDNN or TensorRT are not installed.
    /// </summary>
    public static IReadOnlyList<string> GetAvailableProviders() => Env().GetAvailableProviders();

    /// <summary>The file the native library was loaded from (after the first use), or null.</summary>
    public static string? LoadedFrom => NativeLibraryLocator.MappedPathOf("libonnxruntime.so");

    /// <summary>
    /// The ONNX Runtime environment, loading the native library on first use; a library that cannot
    /// be loaded is a <see cref="NativeDependencyMissingException"/> naming the package.
    /// </summary>
    public static OrtEnv Env()
    {
        try
        {
            return OrtEnv.Instance();
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or BadImageFormatException)
        {
            var inner = e is TypeInitializationException { InnerException: { } cause } ? cause : e;
            var folder = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");
            // The loader's text only when the file is there (a dependency of it is missing, or it is damaged).
            var present = File.Exists(Path.Combine(folder, "libonnxruntime.so"));
            throw new NativeDependencyMissingException(Dependency, [folder, AppContext.BaseDirectory, "system loader path"], present ? inner.Message : null);
        }
    }
}
