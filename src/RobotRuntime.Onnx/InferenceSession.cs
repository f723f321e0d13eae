using System.Runtime.InteropServices;

namespace RobotRuntime.Onnx;

/// <summary>An ONNX model could not be loaded: the message names the model and gives ONNX Runtime's reason.</summary>
public sealed class OnnxModelException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Facts from a model's metadata.</summary>
/// <param name="ProducerName">The tool that wrote the model, e.g. "pytorch".</param>
/// <param name="GraphName">The graph's name.</param>
/// <param name="Version">The model version number the producer set.</param>
public sealed record ModelMetadata(string ProducerName, string GraphName, long Version);

/// <summary>
/// A loaded ONNX model ready to run. Mirrors Microsoft.ML.OnnxRuntime's <c>InferenceSession</c>:
/// load from a file or bytes, read input/output metadata, run with values the caller
/// preallocated (no allocation per run) or through an <see cref="OrtIoBinding"/>.
/// </summary>
/// <remarks>
/// Construction and metadata are setup only. <c>Run</c> with preallocated outputs and
/// <c>TryRunWithBinding</c> are real-time safe: no managed allocation unless they fail. ONNX
/// Runtime allows concurrent runs of one session; the values passed must not be shared between them.
/// </remarks>
public sealed unsafe class InferenceSession : IDisposable
{
    private readonly OrtSessionHandle _handle;
    private readonly Dictionary<string, nint> _nativeNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeMetadata> _inputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeMetadata> _outputs = new(StringComparer.Ordinal);

    /// <summary>Loads the model at <paramref name="modelPath"/>.</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="modelPath"/>.</exception>
    /// <exception cref="OnnxModelException">ONNX Runtime rejected the file (corrupt, unsupported opset, …).</exception>
    public InferenceSession(string modelPath, SessionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        var full = Path.GetFullPath(modelPath);
        if (!File.Exists(full))
            throw new FileNotFoundException($"ONNX model file not found: {full} (expected an .onnx file; check the path or the model manifest).", full);
        Source = full;
        _handle = Create(options, (env, opts, session) =>
        {
            var path = System.Text.Encoding.UTF8.GetBytes(full + "\0");
            fixed (byte* p = path)
                return OrtApi.Default.CreateSession(env, p, opts, session);
        });
        (InputNames, OutputNames) = ReadMetadata();
    }

    /// <summary>Loads a model from its serialized bytes.</summary>
    /// <param name="model">The ONNX protobuf bytes.</param>
    /// <param name="options">Session options, or null for defaults.</param>
    /// <param name="sourceName">What to call the model in messages.</param>
    /// <exception cref="OnnxModelException">ONNX Runtime rejected the bytes.</exception>
    public InferenceSession(byte[] model, SessionOptions? options = null, string sourceName = "model bytes")
    {
        ArgumentNullException.ThrowIfNull(model);
        Source = sourceName;
        _handle = Create(options, (env, opts, session) =>
        {
            fixed (byte* p = model)
                return OrtApi.Default.CreateSessionFromArray(env, p, (nuint)model.Length, opts, session);
        });
        (InputNames, OutputNames) = ReadMetadata();
    }

    private delegate nint CreateCall(nint env, nint options, nint* session);

    private OrtSessionHandle Create(SessionOptions? options, CreateCall create)
    {
        var env = OrtEnv.Instance();
        var owned = options is null ? new SessionOptions() : null;
        try
        {
            var opts = (options ?? owned!).Handle.Pointer;
            nint session;
            try
            {
                OrtApi.Default.VerifySuccess(create(env.Handle.Pointer, opts, &session));
            }
            catch (OnnxRuntimeException e)
            {
                throw new OnnxModelException($"Could not load ONNX model {Source}: {e.OrtMessage.Trim()}", e);
            }
            var handle = new OrtSessionHandle();
            handle.Attach(session);
            return handle;
        }
        finally
        {
            owned?.Dispose();
        }
    }

    /// <summary>The model's file path, or the name given for bytes.</summary>
    public string Source { get; }

    /// <summary>Input names in the model's order.</summary>
    public IReadOnlyList<string> InputNames { get; }

    /// <summary>Output names in the model's order.</summary>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>Each input's element type and shape, by name.</summary>
    public IReadOnlyDictionary<string, NodeMetadata> InputMetadata => _inputs;

    /// <summary>Each output's element type and shape, by name.</summary>
    public IReadOnlyDictionary<string, NodeMetadata> OutputMetadata => _outputs;

    /// <summary>The model's producer, graph name and version.</summary>
    public ModelMetadata ModelMetadata
    {
        get
        {
            var api = OrtApi.Default;
            var env = OrtEnv.Instance();
            nint meta;
            api.VerifySuccess(api.SessionGetModelMetadata(_handle.Pointer, &meta));
            using var owned = new OrtModelMetadataHandle();
            owned.Attach(meta);
            byte* producer, graph;
            long version;
            api.VerifySuccess(api.ModelMetadataGetProducerName(meta, env.DefaultAllocator, &producer));
            var producerName = env.TakeAllocatedString(producer);
            api.VerifySuccess(api.ModelMetadataGetGraphName(meta, env.DefaultAllocator, &graph));
            var graphName = env.TakeAllocatedString(graph);
            api.VerifySuccess(api.ModelMetadataGetVersion(meta, &version));
            return new ModelMetadata(producerName, graphName, version);
        }
    }

    private (string[] Inputs, string[] Outputs) ReadMetadata()
    {
        var api = OrtApi.Default;
        var env = OrtEnv.Instance();
        nuint inputCount, outputCount;
        api.VerifySuccess(api.SessionGetInputCount(_handle.Pointer, &inputCount));
        api.VerifySuccess(api.SessionGetOutputCount(_handle.Pointer, &outputCount));
        var inputs = new string[(int)inputCount];
        var outputs = new string[(int)outputCount];
        for (nuint i = 0; i < inputCount; i++)
        {
            byte* name;
            api.VerifySuccess(api.SessionGetInputName(_handle.Pointer, i, env.DefaultAllocator, &name));
            inputs[i] = env.TakeAllocatedString(name);
            nint typeInfo;
            api.VerifySuccess(api.SessionGetInputTypeInfo(_handle.Pointer, i, &typeInfo));
            using var owned = new OrtTypeInfoHandle();
            owned.Attach(typeInfo);
            _inputs[inputs[i]] = NodeMetadata.Read(inputs[i], typeInfo);
            _nativeNames[inputs[i]] = Marshal.StringToCoTaskMemUTF8(inputs[i]);
        }
        for (nuint i = 0; i < outputCount; i++)
        {
            byte* name;
            api.VerifySuccess(api.SessionGetOutputName(_handle.Pointer, i, env.DefaultAllocator, &name));
            outputs[i] = env.TakeAllocatedString(name);
            nint typeInfo;
            api.VerifySuccess(api.SessionGetOutputTypeInfo(_handle.Pointer, i, &typeInfo));
            using var owned = new OrtTypeInfoHandle();
            owned.Attach(typeInfo);
            _outputs[outputs[i]] = NodeMetadata.Read(outputs[i], typeInfo);
            _nativeNames.TryAdd(outputs[i], Marshal.StringToCoTaskMemUTF8(outputs[i]));
        }
        return (inputs, outputs);
    }

    /// <summary>
    /// Runs the model, reading <paramref name="inputs"/> and writing into <paramref name="outputs"/>,
    /// which the caller created with the outputs' exact shapes. No allocation when it succeeds.
    /// </summary>
    /// <exception cref="ArgumentException">A name the model does not have, counts that differ, or a value whose type or shape does not fit.</exception>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime failed the run (including a run stopped by <see cref="RunOptions.Terminate"/>).</exception>
    public void Run(RunOptions? runOptions, IReadOnlyList<string> inputNames, IReadOnlyList<OrtValue> inputs,
        IReadOnlyList<string> outputNames, IReadOnlyList<OrtValue> outputs)
    {
        if (inputNames.Count != inputs.Count || outputNames.Count != outputs.Count)
            throw new ArgumentException($"{inputNames.Count} input names for {inputs.Count} inputs and {outputNames.Count} output names for {outputs.Count} outputs; each name needs one value.");
        const int stackLimit = 32;
        if (inputs.Count > stackLimit || outputs.Count > stackLimit)
            throw new ArgumentException($"at most {stackLimit} inputs and {stackLimit} outputs per run.");
        var inNames = stackalloc nint[Math.Max(1, inputs.Count)];
        var inValues = stackalloc nint[Math.Max(1, inputs.Count)];
        var outNames = stackalloc nint[Math.Max(1, outputs.Count)];
        var outValues = stackalloc nint[Math.Max(1, outputs.Count)];
        for (var i = 0; i < inputs.Count; i++)
        {
            inNames[i] = NativeName(inputNames[i], _inputs, "input");
            CheckFits(_inputs[inputNames[i]], inputs[i]);
            inValues[i] = inputs[i].Handle.Pointer;
        }
        for (var i = 0; i < outputs.Count; i++)
        {
            outNames[i] = NativeName(outputNames[i], _outputs, "output");
            CheckFits(_outputs[outputNames[i]], outputs[i]);
            outValues[i] = outputs[i].Handle.Pointer;
        }
        OrtApi.Default.VerifySuccess(OrtApi.Default.Run(_handle.Pointer, runOptions?.Handle.Pointer ?? 0,
            inNames, inValues, (nuint)inputs.Count, outNames, (nuint)outputs.Count, outValues));
    }

    /// <summary>
    /// Runs the model and returns every output in <see cref="OutputNames"/> order, in memory ONNX
    /// Runtime allocated; the caller disposes them. Allocates: for setup, tests and tools.
    /// </summary>
    public OrtValue[] Run(RunOptions? runOptions, IReadOnlyList<string> inputNames, IReadOnlyList<OrtValue> inputs)
    {
        if (inputNames.Count != inputs.Count)
            throw new ArgumentException($"{inputNames.Count} input names for {inputs.Count} inputs; each name needs one value.");
        var inNames = new nint[inputs.Count];
        var inValues = new nint[inputs.Count];
        for (var i = 0; i < inputs.Count; i++)
        {
            inNames[i] = NativeName(inputNames[i], _inputs, "input");
            CheckFits(_inputs[inputNames[i]], inputs[i]);
            inValues[i] = inputs[i].Handle.Pointer;
        }
        var outNames = OutputNames.Select(n => _nativeNames[n]).ToArray();
        var outValues = new nint[outNames.Length];
        fixed (nint* inN = inNames, inV = inValues, outN = outNames, outV = outValues)
            OrtApi.Default.VerifySuccess(OrtApi.Default.Run(_handle.Pointer, runOptions?.Handle.Pointer ?? 0,
                inN, inV, (nuint)inputs.Count, outN, (nuint)outNames.Length, outV));
        return outValues.Select(OrtValue.FromNative).ToArray();
    }

    /// <summary>Creates a binding of inputs and outputs to values, reused run after run.</summary>
    public OrtIoBinding CreateIoBinding() => new(this, _handle);

    /// <summary>Runs the model on the values bound in <paramref name="binding"/>; throws on failure.</summary>
    public void RunWithBinding(RunOptions? runOptions, OrtIoBinding binding)
    {
        if (!TryRunWithBinding(runOptions, binding, out var error))
            throw error!;
    }

    /// <summary>Runs the model on the values bound in <paramref name="binding"/>, reporting failure instead of throwing.</summary>
    /// <remarks>Real-time: no allocation when it succeeds; per-cycle code uses this form.</remarks>
    public bool TryRunWithBinding(RunOptions? runOptions, OrtIoBinding binding, out OnnxRuntimeException? error)
    {
        var status = OrtApi.Default.RunWithBinding(_handle.Pointer, runOptions?.Handle.Pointer ?? 0, binding.Handle.Pointer);
        if (status == 0)
        {
            error = null;
            return true;
        }
        try
        {
            OrtApi.Default.VerifySuccess(status);
            error = null;
            return true;
        }
        catch (OnnxRuntimeException e)
        {
            error = e;
            return false;
        }
    }

    internal nint NativeName(string name, Dictionary<string, NodeMetadata> known, string kind)
    {
        if (!known.ContainsKey(name))
            throw new ArgumentException($"the model {Source} has no {kind} named '{name}'; its {kind}s are {string.Join(", ", known.Values)}.");
        return _nativeNames[name];
    }

    internal Dictionary<string, NodeMetadata> Inputs => _inputs;

    internal Dictionary<string, NodeMetadata> Outputs => _outputs;

    internal static void CheckFits(NodeMetadata node, OrtValue value)
    {
        var mismatch = node.Mismatch(value.ElementType, value.Shape);
        if (mismatch is not null)
            throw new ArgumentException($"Wrong tensor for the model: {mismatch}");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _handle.Dispose();
        foreach (var pointer in _nativeNames.Values)
            Marshal.FreeCoTaskMem(pointer);
        _nativeNames.Clear();
    }
}
