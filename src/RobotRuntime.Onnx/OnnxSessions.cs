using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace RobotRuntime.Onnx;

/// <summary>Where an ONNX model runs.</summary>
public enum OnnxDevice
{
    /// <summary>ONNX Runtime's CPU provider (every build).</summary>
    Cpu,
    /// <summary>NVIDIA CUDA (the GPU build; CUDA 13 and cuDNN 9 installed).</summary>
    Cuda,
    /// <summary>NVIDIA TensorRT, falling back to CUDA then CPU for nodes it does not take (the GPU build; TensorRT 10 installed).</summary>
    TensorRt,
}

/// <summary>How a session is made: threads, spinning, device.</summary>
public sealed record OnnxSessionSettings
{
    /// <summary>ONNX Runtime intra-op threads (1 leaves the other core to the loop and capture on a 2-core machine).</summary>
    public int IntraOpThreads { get; init; } = 1;

    /// <summary>Whether ONNX Runtime's worker threads spin while idle (off: they would take the cores the loop needs).</summary>
    public bool AllowSpinning { get; init; }

    /// <summary>The execution provider.</summary>
    public OnnxDevice Device { get; init; } = OnnxDevice.Cpu;

    /// <summary>The CUDA device ordinal for <see cref="OnnxDevice.Cuda"/> and <see cref="OnnxDevice.TensorRt"/>.</summary>
    public int DeviceId { get; init; }

    /// <summary>Parses a device name as users type it: <c>cpu</c>, <c>cuda</c>, <c>tensorrt</c> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">Any other name; the message lists the accepted ones.</exception>
    public static OnnxDevice ParseDevice(string text, string where) => text.Trim().ToLowerInvariant() switch
    {
        "cpu" => OnnxDevice.Cpu,
        "cuda" or "gpu" => OnnxDevice.Cuda,
        "tensorrt" or "trt" => OnnxDevice.TensorRt,
        _ => throw new ArgumentException($"{where}: '{text}' is not a device; expected cpu, cuda or tensorrt."),
    };

    /// <summary>The device as users type it.</summary>
    public static string Name(OnnxDevice device) => device switch
    {
        OnnxDevice.Cuda => "cuda",
        OnnxDevice.TensorRt => "tensorrt",
        _ => "cpu",
    };
}

/// <summary>An ONNX model could not be loaded: the message names the model and gives ONNX Runtime's reason.</summary>
public sealed class OnnxModelException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Makes sessions of the official ONNX Runtime binding from <see cref="OnnxSessionSettings"/>,
/// with errors that name the model file and, for a GPU asked for and absent, the build and the
/// libraries that are missing.
/// </summary>
/// <remarks>Setup only. Per-cycle code runs sessions through an <see cref="OrtIoBinding"/> over preallocated
/// <see cref="OrtValue"/>s with <see cref="InferenceSession.RunWithBinding(RunOptions, OrtIoBinding)"/>, which allocates nothing.</remarks>
public static class OnnxSessions
{
    /// <summary>The session config key that turns intra-op thread spinning on ("1") or off ("0").</summary>
    public const string AllowSpinningKey = "session.intra_op.allow_spinning";

    /// <summary>Loads the model at <paramref name="modelPath"/>.</summary>
    /// <exception cref="FileNotFoundException">No file at the path.</exception>
    /// <exception cref="OnnxModelException">ONNX Runtime rejected the file (corrupt, unsupported opset, …).</exception>
    /// <exception cref="ExecutionProviderUnavailableException">A GPU device was asked for and cannot be used here.</exception>
    public static InferenceSession Open(string modelPath, OnnxSessionSettings? settings = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        var full = Path.GetFullPath(modelPath);
        if (!File.Exists(full))
            throw new FileNotFoundException($"ONNX model file not found: {full} (expected an .onnx file; check the path or the model manifest).", full);
        using var options = CreateOptions(settings ?? new OnnxSessionSettings());
        try
        {
            return new InferenceSession(full, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new OnnxModelException($"Could not load ONNX model {full}: {OrtMessage(e)}", e);
        }
    }

    /// <summary>Loads a model from its serialized bytes; <paramref name="sourceName"/> names it in messages.</summary>
    public static InferenceSession Open(byte[] model, string sourceName, OnnxSessionSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var options = CreateOptions(settings ?? new OnnxSessionSettings());
        try
        {
            return new InferenceSession(model, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new OnnxModelException($"Could not load ONNX model {sourceName}: {OrtMessage(e)}", e);
        }
    }

    /// <summary>Session options for <paramref name="settings"/>; the caller disposes them after creating its sessions.</summary>
    /// <exception cref="ExecutionProviderUnavailableException">A GPU device was asked for and cannot be used here.</exception>
    public static SessionOptions CreateOptions(OnnxSessionSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfNegative(settings.IntraOpThreads, nameof(settings.IntraOpThreads));
        ArgumentOutOfRangeException.ThrowIfNegative(settings.DeviceId, nameof(settings.DeviceId));
        OnnxRuntimeLibrary.Env();
        var options = new SessionOptions { IntraOpNumThreads = settings.IntraOpThreads };
        try
        {
            options.AddSessionConfigEntry(AllowSpinningKey, settings.AllowSpinning ? "1" : "0");
            if (settings.Device != OnnxDevice.Cpu)
                AppendGpu(options, settings.Device, settings.DeviceId);
            return options;
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    private static void AppendGpu(SessionOptions options, OnnxDevice device, int deviceId)
    {
        var provider = device == OnnxDevice.TensorRt ? OnnxRuntimeLibrary.TensorRtProvider : OnnxRuntimeLibrary.CudaProvider;
        if (!OnnxRuntimeLibrary.GetAvailableProviders().Contains(provider))
            throw ExecutionProviderUnavailableException.NotInBuild(device, provider);
        try
        {
            if (device == OnnxDevice.TensorRt)
                options.AppendExecutionProvider_Tensorrt(deviceId);
            options.AppendExecutionProvider_CUDA(deviceId);
        }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
        {
            throw ExecutionProviderUnavailableException.CannotLoad(device, provider, e is OnnxRuntimeException ort ? OrtMessage(ort) : e.Message, e);
        }
    }

    /// <summary>ONNX Runtime's own message without the binding's "[ErrorCode:…]" prefix.</summary>
    public static string OrtMessage(OnnxRuntimeException e)
    {
        var message = e.Message;
        if (message.StartsWith("[ErrorCode:", StringComparison.Ordinal))
        {
            var close = message.IndexOf(']');
            if (close > 0)
                message = message[(close + 1)..];
        }
        return message.Trim();
    }

    /// <summary>"float32[batch,3,64,64]": an input's or output's type and shape, free dimensions by name.</summary>
    public static string Describe(NodeMetadata node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (!node.IsTensor)
            return node.OnnxValueType.ToString();
        var dims = node.Dimensions.Select((d, i) => d >= 0
            ? d.ToString(CultureInfo.InvariantCulture)
            : i < node.SymbolicDimensions.Length && node.SymbolicDimensions[i].Length > 0 ? node.SymbolicDimensions[i] : "?");
        return $"{TypeName(node.ElementDataType)}[{string.Join(",", dims)}]";
    }

    /// <summary>"pixels: float32[batch,3,64,64], mask: bool[batch,4]" for every entry.</summary>
    public static string Describe(IReadOnlyDictionary<string, NodeMetadata> nodes) =>
        string.Join(", ", nodes.Select(n => $"{n.Key}: {Describe(n.Value)}"));

    /// <summary>ONNX's name for an element type, e.g. "float32".</summary>
    public static string TypeName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float32",
        TensorElementType.Double => "float64",
        TensorElementType.Float16 => "float16",
        TensorElementType.BFloat16 => "bfloat16",
        TensorElementType.Int8 => "int8",
        TensorElementType.UInt8 => "uint8",
        TensorElementType.Int16 => "int16",
        TensorElementType.UInt16 => "uint16",
        TensorElementType.Int32 => "int32",
        TensorElementType.UInt32 => "uint32",
        TensorElementType.Int64 => "int64",
        TensorElementType.UInt64 => "uint64",
        TensorElementType.Bool => "bool",
        TensorElementType.String => "string",
        _ => type.ToString().ToLowerInvariant(),
    };
}
