namespace RobotRuntime.Onnx;

/// <summary>
/// Inputs and outputs of one <see cref="InferenceSession"/> bound to values once and reused run
/// after run (ONNX Runtime's IO binding). Mirrors Microsoft.ML.OnnxRuntime's <c>OrtIoBinding</c>.
/// </summary>
/// <remarks>Bind at setup (binding checks types and shapes and throws with the expected shape);
/// running is real-time safe. Keeps the bound values alive; does not dispose them.</remarks>
public sealed unsafe class OrtIoBinding : IDisposable
{
    private readonly InferenceSession _session;
    private readonly List<OrtValue> _bound = [];

    internal OrtIoBinding(InferenceSession session, OrtSessionHandle sessionHandle)
    {
        _session = session;
        nint binding;
        OrtApi.Default.VerifySuccess(OrtApi.Default.CreateIoBinding(sessionHandle.Pointer, &binding));
        Handle = new OrtIoBindingHandle();
        Handle.Attach(binding);
    }

    internal OrtIoBindingHandle Handle { get; }

    /// <summary>Binds input <paramref name="name"/> to <paramref name="value"/>.</summary>
    /// <exception cref="ArgumentException">The model has no such input, or the value's type or shape does not fit it.</exception>
    public void BindInput(string name, OrtValue value)
    {
        var pointer = _session.NativeName(name, _session.Inputs, "input");
        InferenceSession.CheckFits(_session.Inputs[name], value);
        OrtApi.Default.VerifySuccess(OrtApi.Default.BindInput(Handle.Pointer, (byte*)pointer, value.Handle.Pointer));
        _bound.Add(value);
    }

    /// <summary>Binds output <paramref name="name"/> to <paramref name="value"/>, which each run overwrites.</summary>
    /// <exception cref="ArgumentException">The model has no such output, or the value's type or shape does not fit it.</exception>
    public void BindOutput(string name, OrtValue value)
    {
        var pointer = _session.NativeName(name, _session.Outputs, "output");
        InferenceSession.CheckFits(_session.Outputs[name], value);
        OrtApi.Default.VerifySuccess(OrtApi.Default.BindOutput(Handle.Pointer, (byte*)pointer, value.Handle.Pointer));
        _bound.Add(value);
    }

    /// <summary>Removes every input and output binding.</summary>
    public void Clear()
    {
        OrtApi.Default.ClearBoundInputs(Handle.Pointer);
        OrtApi.Default.ClearBoundOutputs(Handle.Pointer);
        _bound.Clear();
    }

    /// <inheritdoc />
    public void Dispose() => Handle.Dispose();
}
