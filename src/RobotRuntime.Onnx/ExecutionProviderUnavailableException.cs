using System.Runtime.InteropServices;

namespace RobotRuntime.Onnx;

/// <summary>
/// A GPU execution provider (CUDA or TensorRT) was asked for but cannot be used here; the message
/// says whether this build carries the GPU package at all, which CUDA, cuDNN or TensorRT libraries
/// the loader cannot find, and what to do.
/// </summary>
public sealed class ExecutionProviderUnavailableException : Exception
{
    private ExecutionProviderUnavailableException(string provider, IReadOnlyList<string> missing, string message, Exception? inner)
        : base(message, inner)
    {
        Provider = provider;
        MissingLibraries = missing;
    }

    /// <summary>The provider that was asked for, e.g. "CUDAExecutionProvider".</summary>
    public string Provider { get; }

    /// <summary>The GPU runtime libraries the loader could not open (e.g. libcudnn.so.9).</summary>
    public IReadOnlyList<string> MissingLibraries { get; }

    /// <summary>
    /// What the CUDA provider of Microsoft.ML.OnnxRuntime.Gpu.Linux 1.32.0 needs: the NEEDED entries of its
    /// libonnxruntime_providers_cuda.so (read with readelf: CUDA 13's runtime, cuBLAS, cuBLASLt, cuRAND and the
    /// driver's libcuda) plus cuDNN 9, which it opens for convolutions.
    /// </summary>
    public static IReadOnlyList<string> CudaLibraries { get; } =
        ["libcuda.so.1", "libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcurand.so.10", "libcudnn.so.9"];

    /// <summary>What its TensorRT provider needs besides those (NEEDED of libonnxruntime_providers_tensorrt.so: TensorRT 10).</summary>
    public static IReadOnlyList<string> TensorRtLibraries { get; } = ["libnvinfer.so.10", "libnvonnxparser.so.10"];

    /// <summary>The libraries among <paramref name="names"/> that the dynamic loader cannot open here.</summary>
    public static IReadOnlyList<string> Unloadable(IEnumerable<string> names)
    {
        var missing = new List<string>();
        foreach (var name in names)
        {
            if (NativeLibrary.TryLoad(name, out var handle))
                NativeLibrary.Free(handle);
            else
                missing.Add(name);
        }
        return missing;
    }

    private static IReadOnlyList<string> Needed(OnnxDevice device) =>
        device == OnnxDevice.TensorRt ? [.. CudaLibraries, .. TensorRtLibraries] : CudaLibraries;

    private static string Missing(IReadOnlyList<string> missing) => missing.Count == 0
        ? "The loader finds every CUDA/cuDNN library it needs, so the driver or the device is the likely cause (nvidia-smi shows whether a GPU is visible)."
        : $"The loader cannot open {string.Join(", ", missing)} (install the NVIDIA driver, CUDA 13 and cuDNN 9{(missing.Any(m => m.StartsWith("libnv", StringComparison.Ordinal)) ? " and TensorRT 10" : "")} and put them on the loader path, e.g. LD_LIBRARY_PATH).";

    internal static ExecutionProviderUnavailableException NotInBuild(OnnxDevice device, string provider)
    {
        var missing = Unloadable(Needed(device));
        var message =
            $"Device '{OnnxSessionSettings.Name(device)}' needs ONNX Runtime's {provider}, and this build carries {OnnxRuntimeLibrary.PackageName} " +
            $"{OnnxRuntimeLibrary.BindingVersion}, whose library has only {string.Join(", ", OnnxRuntimeLibrary.GetAvailableProviders())}. " +
            $"Build with -p:{OnnxRuntimeLibrary.GpuBuildProperty}=true (the Microsoft.ML.OnnxRuntime.Gpu.Linux package; docs/runtime.md, \"Execution providers\"). " +
            Missing(missing) + " Or use device cpu.";
        return new ExecutionProviderUnavailableException(provider, missing, message, null);
    }

    internal static ExecutionProviderUnavailableException CannotLoad(OnnxDevice device, string provider, string reason, Exception inner)
    {
        var missing = Unloadable(Needed(device));
        var message =
            $"Device '{OnnxSessionSettings.Name(device)}': ONNX Runtime could not start its {provider}: {reason.Trim().TrimEnd('.')}. " +
            Missing(missing) + " Or use device cpu; `rr doctor` shows what is installed.";
        return new ExecutionProviderUnavailableException(provider, missing, message, inner);
    }
}
