using System.Text;

namespace RobotRuntime.Onnx;

/// <summary>
/// The process-wide ONNX Runtime environment (one <c>OrtEnv</c>, created on first use and kept for
/// the life of the process, as ONNX Runtime expects). Mirrors Microsoft.ML.OnnxRuntime's <c>OrtEnv</c>.
/// </summary>
/// <remarks>Setup only; thread-safe.</remarks>
public sealed unsafe class OrtEnv
{
    private static OrtEnv? _instance;

    private OrtEnv()
    {
        var api = OrtApi.Default;
        Handle = new OrtEnvHandle();
        nint env;
        var logId = "RobotRuntime\0"u8;
        fixed (byte* id = logId)
            api.VerifySuccess(api.CreateEnv((int)OrtLoggingLevel.Warning, id, &env));
        Handle.Attach(env);

        nint memoryInfo;
        // Arena allocator type + default memory type: how ONNX Runtime describes plain CPU memory the caller owns.
        api.VerifySuccess(api.CreateCpuMemoryInfo(1, 0, &memoryInfo));
        CpuMemoryInfo = new OrtMemoryInfoHandle();
        CpuMemoryInfo.Attach(memoryInfo);

        nint allocator;
        api.VerifySuccess(api.GetAllocatorWithDefaultOptions(&allocator));
        DefaultAllocator = allocator;
    }

    /// <summary>The environment; created on the first call (loads ONNX Runtime through the project's locator).</summary>
    public static OrtEnv Instance() =>
        Volatile.Read(ref _instance) ?? LazyInitializer.EnsureInitialized(ref _instance, () => new OrtEnv());

    /// <summary>ONNX Runtime's version, e.g. "1.30.0".</summary>
    public string Version => OrtApi.Default.Version;

    /// <summary>Execution providers compiled into the library (see <see cref="OnnxRuntimeLibrary.GetAvailableProviders"/>).</summary>
    public IReadOnlyList<string> GetAvailableProviders() => OnnxRuntimeLibrary.GetAvailableProviders();

    internal OrtEnvHandle Handle { get; }

    internal OrtMemoryInfoHandle CpuMemoryInfo { get; }

    /// <summary>ONNX Runtime's default CPU allocator; owned by the library, never freed.</summary>
    internal nint DefaultAllocator { get; }

    /// <summary>Copies a native UTF-8 string allocated by ONNX Runtime's default allocator, then frees it.</summary>
    internal string TakeAllocatedString(byte* value)
    {
        try
        {
            return value is null ? "" : Encoding.UTF8.GetString(new ReadOnlySpan<byte>(value, checked((int)StrLen(value))));
        }
        finally
        {
            if (value is not null)
                OrtApi.Default.VerifySuccess(OrtApi.Default.AllocatorFree(DefaultAllocator, value));
        }
    }

    private static nuint StrLen(byte* value)
    {
        nuint length = 0;
        while (value[length] != 0)
            length++;
        return length;
    }
}

/// <summary>ONNX Runtime's log severities (<c>OrtLoggingLevel</c>).</summary>
public enum OrtLoggingLevel
{
    /// <summary>Everything.</summary>
    Verbose = 0,
    /// <summary>Informational and above.</summary>
    Info = 1,
    /// <summary>Warnings and above (the default).</summary>
    Warning = 2,
    /// <summary>Errors and above.</summary>
    Error = 3,
    /// <summary>Fatal only.</summary>
    Fatal = 4,
}
