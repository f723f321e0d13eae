using System.Text;

namespace RobotRuntime.Onnx;

/// <summary>
/// Options for one or many <c>Run</c> calls: a tag for logs, a log level, and a terminate flag
/// another thread can set to make runs in progress return early with an error.
/// Mirrors Microsoft.ML.OnnxRuntime's <c>RunOptions</c>.
/// </summary>
/// <remarks>Create at setup and reuse every cycle. <see cref="Terminate"/> may be set from any thread.</remarks>
public sealed unsafe class RunOptions : IDisposable
{
    private bool _terminate;

    /// <summary>Creates run options with ONNX Runtime's defaults.</summary>
    public RunOptions()
    {
        _ = OrtEnv.Instance();
        nint options;
        OrtApi.Default.VerifySuccess(OrtApi.Default.CreateRunOptions(&options));
        Handle = new OrtRunOptionsHandle();
        Handle.Attach(options);
    }

    internal OrtRunOptionsHandle Handle { get; }

    /// <summary>When true, runs using these options stop as soon as they can and return an error; set false to run again.</summary>
    /// <remarks>Real-time: safe to set from any thread; no allocation.</remarks>
    public bool Terminate
    {
        get => _terminate;
        set
        {
            OrtApi.Default.VerifySuccess(value
                ? OrtApi.Default.RunOptionsSetTerminate(Handle.Pointer)
                : OrtApi.Default.RunOptionsUnsetTerminate(Handle.Pointer));
            _terminate = value;
        }
    }

    /// <summary>A tag ONNX Runtime puts on log lines of runs using these options.</summary>
    public string LogId
    {
        set
        {
            var bytes = Encoding.UTF8.GetBytes(value + "\0");
            fixed (byte* p = bytes)
                OrtApi.Default.VerifySuccess(OrtApi.Default.RunOptionsSetRunTag(Handle.Pointer, p));
        }
    }

    /// <summary>Minimum severity logged during runs using these options.</summary>
    public OrtLoggingLevel LogSeverityLevel
    {
        set => OrtApi.Default.VerifySuccess(OrtApi.Default.RunOptionsSetRunLogSeverityLevel(Handle.Pointer, (int)value));
    }

    /// <inheritdoc />
    public void Dispose() => Handle.Dispose();
}
