using System.Text;
using RobotRuntime.Native;

namespace RobotRuntime.Onnx;

/// <summary>ONNX Runtime's graph optimisation levels (<c>GraphOptimizationLevel</c>).</summary>
public enum GraphOptimizationLevel
{
    /// <summary>No graph optimisation.</summary>
    DisableAll = 0,
    /// <summary>Constant folding and redundant node removal.</summary>
    EnableBasic = 1,
    /// <summary>Basic plus node fusions.</summary>
    EnableExtended = 2,
    /// <summary>Everything, including layout optimisations (the default).</summary>
    EnableAll = 99,
}

/// <summary>How a session runs independent nodes (<c>ExecutionMode</c>).</summary>
public enum ExecutionMode
{
    /// <summary>One node at a time (the default; best for small models and latency).</summary>
    Sequential = 0,
    /// <summary>Independent branches in parallel on the inter-op pool.</summary>
    Parallel = 1,
}

/// <summary>
/// Options for creating an <see cref="InferenceSession"/>: threads, spinning, optimisation and
/// execution providers. Mirrors Microsoft.ML.OnnxRuntime's <c>SessionOptions</c>.
/// </summary>
/// <remarks>Setup only; not thread-safe; dispose after the sessions made from it are created.</remarks>
public sealed unsafe class SessionOptions : IDisposable
{
    /// <summary>The session config key that turns intra-op thread spinning on ("1") or off ("0").</summary>
    public const string AllowSpinningKey = "session.intra_op.allow_spinning";

    private int _intraOpThreads;
    private int _interOpThreads;
    private GraphOptimizationLevel _optimizationLevel = GraphOptimizationLevel.EnableAll;
    private ExecutionMode _executionMode = ExecutionMode.Sequential;
    private readonly List<string> _providers = [];

    /// <summary>Creates default options: all optimisations, sequential execution, ONNX Runtime's default thread counts.</summary>
    public SessionOptions()
    {
        _ = OrtEnv.Instance();
        var api = OrtApi.Default;
        nint options;
        api.VerifySuccess(api.CreateSessionOptions(&options));
        Handle = new OrtSessionOptionsHandle();
        Handle.Attach(options);
    }

    internal OrtSessionOptionsHandle Handle { get; }

    /// <summary>Threads for parallelism inside one operator; 0 lets ONNX Runtime choose (one per core).</summary>
    public int IntraOpNumThreads
    {
        get => _intraOpThreads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(IntraOpNumThreads));
            OrtApi.Default.VerifySuccess(OrtApi.Default.SetIntraOpNumThreads(Handle.Pointer, value));
            _intraOpThreads = value;
        }
    }

    /// <summary>Threads for running independent operators in parallel (with <see cref="ExecutionMode.Parallel"/>); 0 lets ONNX Runtime choose.</summary>
    public int InterOpNumThreads
    {
        get => _interOpThreads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(InterOpNumThreads));
            OrtApi.Default.VerifySuccess(OrtApi.Default.SetInterOpNumThreads(Handle.Pointer, value));
            _interOpThreads = value;
        }
    }

    /// <summary>How much ONNX Runtime rewrites the graph at load.</summary>
    public GraphOptimizationLevel GraphOptimizationLevel
    {
        get => _optimizationLevel;
        set
        {
            OrtApi.Default.VerifySuccess(OrtApi.Default.SetSessionGraphOptimizationLevel(Handle.Pointer, (int)value));
            _optimizationLevel = value;
        }
    }

    /// <summary>Sequential or parallel execution of independent nodes.</summary>
    public ExecutionMode ExecutionMode
    {
        get => _executionMode;
        set
        {
            OrtApi.Default.VerifySuccess(OrtApi.Default.SetSessionExecutionMode(Handle.Pointer, (int)value));
            _executionMode = value;
        }
    }

    /// <summary>
    /// Whether intra-op worker threads spin while waiting for work (ONNX Runtime's default: yes).
    /// Spinning lowers latency but burns the cores the control loop and capture threads need;
    /// on a 2-core machine turn it off.
    /// </summary>
    public bool AllowSpinning
    {
        set => AddSessionConfigEntry(AllowSpinningKey, value ? "1" : "0");
    }

    /// <summary>Minimum severity ONNX Runtime logs for sessions made with these options.</summary>
    public OrtLoggingLevel LogSeverityLevel
    {
        set => OrtApi.Default.VerifySuccess(OrtApi.Default.SetSessionLogSeverityLevel(Handle.Pointer, (int)value));
    }

    /// <summary>Whether the CPU provider uses a memory arena (faster reuse; memory is not returned to the system).</summary>
    public bool EnableCpuMemArena
    {
        set => OrtApi.Default.VerifySuccess(value
            ? OrtApi.Default.EnableCpuMemArena(Handle.Pointer)
            : OrtApi.Default.DisableCpuMemArena(Handle.Pointer));
    }

    /// <summary>Execution providers appended so far, in priority order; the CPU provider is always the implicit last.</summary>
    public IReadOnlyList<string> AppendedProviders => _providers;

    /// <summary>Sets a session configuration entry (ONNX Runtime's <c>AddSessionConfigEntry</c>).</summary>
    public void AddSessionConfigEntry(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        var k = Encoding.UTF8.GetBytes(key + "\0");
        var v = Encoding.UTF8.GetBytes(value + "\0");
        fixed (byte* kp = k, vp = v)
            OrtApi.Default.VerifySuccess(OrtApi.Default.AddSessionConfigEntry(Handle.Pointer, kp, vp));
    }

    /// <summary>
    /// Puts the CUDA execution provider ahead of the CPU provider for sessions made with these
    /// options. Throws <see cref="ExecutionProviderUnavailableException"/>, saying which files are
    /// needed, when the provider's libraries (or CUDA itself) cannot be loaded.
    /// </summary>
    /// <param name="deviceId">The CUDA device ordinal.</param>
    public void AppendExecutionProvider_CUDA(int deviceId = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(deviceId);
        var api = OrtApi.Default;
        try
        {
            nint cudaOptions;
            api.VerifySuccess(api.CreateCUDAProviderOptions(&cudaOptions));
            using var owned = new OrtCudaProviderOptionsHandle();
            owned.Attach(cudaOptions);
            var key = "device_id\0"u8;
            var value = Encoding.UTF8.GetBytes(deviceId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\0");
            fixed (byte* k = key, v = value)
            {
                var keys = stackalloc byte*[1] { k };
                var values = stackalloc byte*[1] { v };
                api.VerifySuccess(api.UpdateCUDAProviderOptions(cudaOptions, keys, values, 1));
            }
            api.VerifySuccess(api.SessionOptionsAppendExecutionProvider_CUDA_V2(Handle.Pointer, cudaOptions));
        }
        catch (OnnxRuntimeException e)
        {
            throw ExecutionProviderUnavailableException.ForCuda(e);
        }
        _providers.Add(OnnxRuntimeLibrary.CudaProvider);
    }

    /// <inheritdoc />
    public void Dispose() => Handle.Dispose();
}

/// <summary>
/// An execution provider (e.g. CUDA) was asked for but cannot be used here; the message says
/// which files or drivers are missing and where they must go.
/// </summary>
public sealed class ExecutionProviderUnavailableException : Exception
{
    private ExecutionProviderUnavailableException(string provider, string message, Exception inner)
        : base(message, inner) => Provider = provider;

    /// <summary>The provider that was asked for, e.g. "CUDAExecutionProvider".</summary>
    public string Provider { get; }

    internal static ExecutionProviderUnavailableException ForCuda(OnnxRuntimeException cause)
    {
        var library = NativeLibraryLocator.MappedPathOf(NativeDependency.OnnxRuntime.FileName);
        var folder = library is null ? "the folder of libonnxruntime.so.1" : Path.GetDirectoryName(library)!;
        var message =
            $"The CUDA execution provider is not available. ONNX Runtime said: {cause.OrtMessage.Trim()} " +
            $"A GPU deployment needs libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so from the " +
            $"ONNX Runtime {OnnxRuntimeLibrary.Version} GPU build in {folder}, plus CUDA 12 and cuDNN 9 on the loader path. " +
            "Without them, leave the CUDA provider out and the session runs on the CPU; `rr doctor` shows what is installed.";
        return new ExecutionProviderUnavailableException(OnnxRuntimeLibrary.CudaProvider, message, cause);
    }
}
