using RobotRuntime.Tensors.Modules;

namespace RobotRuntime.Tensors.Onnx;

/// <summary>
/// A part of an ONNX graph run by the engine, so it can be trained: the nodes between one value
/// (a graph input, or an inner value such as a stage's input) and one output, with every float32
/// initializer those nodes read as a weight becoming a trainable <see cref="Parameter"/> named
/// after the initializer (BatchNormalization's running statistics stay fixed: batch statistics
/// are never used, as when fine-tuning a pre-trained network with small batches). Forward runs the
/// nodes in file order with the engine's taped ops, so gradients flow to the parameters.
/// </summary>
/// <remarks>
/// The operators it runs are <see cref="SupportedOperators"/>, each with the limits written beside its entry in
/// the operator table (e.g. Conv without groups or dilation, Softmax over the last axis only, Div by a constant,
/// Squeeze of float values only), and the int64 shape arithmetic of exported graphs (Shape, Gather, Unsqueeze,
/// Concat, Add/Sub/Mul/Div, Equal, Where on int64 values). Any other operator, and attributes an entry
/// refuses, are refused when the module is built, naming the node; limits that depend on shapes or values
/// are refused by <see cref="Forward"/>, naming the node.
/// </remarks>
public sealed partial class OnnxGraphModule : Module
{
    private readonly OnnxNode[] _nodes;
    private readonly Operator[] _operators;
    private readonly string _input, _output;
    private readonly Dictionary<string, Parameter> _parameters;
    private readonly Dictionary<string, Tensor> _fixed;
    private readonly IReadOnlyDictionary<string, OnnxIntTensor> _ints;

    private OnnxGraphModule(OnnxNode[] nodes, string input, string output, Dictionary<string, Parameter> parameters,
        Dictionary<string, Tensor> fixedTensors, IReadOnlyDictionary<string, OnnxIntTensor> ints)
    {
        _nodes = nodes;
        _operators = nodes.Select(n => Operators[n.OpType]).ToArray();
        _input = input;
        _output = output;
        _parameters = parameters;
        _fixed = fixedTensors;
        _ints = ints;
    }

    /// <summary>The value the module reads.</summary>
    public string InputName => _input;

    /// <summary>The value the module returns.</summary>
    public string OutputName => _output;

    /// <summary>When set, <see cref="Forward"/> adds each node's wall time to <see cref="OpTimes"/> by operator type (diagnostics for benchmarks).</summary>
    public bool ProfileOps { get; set; }

    /// <summary>Accumulated forward wall time per operator type while <see cref="ProfileOps"/> is set.</summary>
    public Dictionary<string, TimeSpan> OpTimes { get; } = new(StringComparer.Ordinal);

    /// <summary>Operator types of the nodes the module runs, in order.</summary>
    public IReadOnlyList<string> OpTypes => _nodes.Select(n => n.OpType).ToArray();

    /// <summary>
    /// The nodes of <paramref name="graph"/> that compute <paramref name="output"/> (default: the graph's
    /// first output) from <paramref name="input"/> (default: the graph's first input). Parameter names are
    /// <paramref name="parameterPrefix"/> + initializer name; their values are copies of the initializers.
    /// </summary>
    /// <exception cref="ArgumentException">A value the nodes need is computed before <paramref name="input"/> (the split is not clean), or a name is unknown.</exception>
    /// <exception cref="NotSupportedException">A node's operator or attributes are not supported; the message names the node.</exception>
    public static OnnxGraphModule Create(OnnxGraph graph, string? input = null, string? output = null, string parameterPrefix = "")
    {
        ArgumentNullException.ThrowIfNull(graph);
        input ??= graph.Inputs.Count > 0 ? graph.Inputs[0].Name : throw new ArgumentException($"'{graph.SourcePath}' has no graph input", nameof(input));
        output ??= graph.Outputs.Count > 0 ? graph.Outputs[0].Name : throw new ArgumentException($"'{graph.SourcePath}' has no graph output", nameof(output));
        int last = -1;
        for (int k = 0; k < graph.Nodes.Count; k++)
        {
            if (graph.Nodes[k].Outputs.Contains(output))
            {
                last = k;
            }
        }
        if (last < 0)
        {
            throw new ArgumentException($"no node of '{graph.SourcePath}' computes '{output}'", nameof(output));
        }
        // Walk back from the output to the input, collecting the nodes on the way.
        var needed = new HashSet<string>(StringComparer.Ordinal) { output };
        var keep = new List<OnnxNode>();
        bool reachesInput = false;
        for (int k = last; k >= 0; k--)
        {
            var node = graph.Nodes[k];
            if (!node.Outputs.Any(needed.Contains))
            {
                continue;
            }
            if (node.Outputs.Contains(input))
            {
                continue;
            }
            keep.Add(node);
            foreach (var i in node.Inputs.Where(i => i.Length > 0))
            {
                if (i == input)
                {
                    reachesInput = true;
                }
                else if (!graph.IsInitializer(i))
                {
                    needed.Add(i);
                }
            }
        }
        keep.Reverse();
        if (!reachesInput)
        {
            throw new ArgumentException($"'{output}' in '{graph.SourcePath}' does not depend on '{input}'", nameof(input));
        }
        var produced = new HashSet<string>(keep.SelectMany(n => n.Outputs), StringComparer.Ordinal) { input };
        foreach (var node in keep)
        {
            if (!Operators.TryGetValue(node.OpType, out var op) || node.Domain.Length > 0 && node.Domain != "ai.onnx")
            {
                throw new NotSupportedException($"{node} in '{graph.SourcePath}' uses an operator the engine does not run ({node.Domain}{(node.Domain.Length > 0 ? "." : "")}{node.OpType}); supported: {string.Join(", ", SupportedOperators)}");
            }
            foreach (var i in node.Inputs.Where(i => i.Length > 0))
            {
                if (!produced.Contains(i) && !graph.IsInitializer(i))
                {
                    throw new ArgumentException($"{node} in '{graph.SourcePath}' reads '{i}', which is computed before '{input}' and is not an initializer: the graph cannot start at '{input}'", nameof(input));
                }
            }
            if (op.Refusal?.Invoke(node) is { } why)
            {
                throw new NotSupportedException($"{node} in '{graph.SourcePath}': {why}");
            }
        }
        var parameters = new Dictionary<string, Parameter>(StringComparer.Ordinal);
        var fixedTensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        // Exporters share equal constants (e.g. the zero biases of folded BatchNorms) through Identity
        // nodes; each such copy becomes a weight of its own so that training does not tie them.
        foreach (var node in keep.Where(n => n.OpType == "Identity" && graph.FloatInitializers.ContainsKey(n.Inputs[0])).ToList())
        {
            parameters[node.Outputs[0]] = new Parameter(parameterPrefix + node.Outputs[0], graph.FloatInitializers[node.Inputs[0]].Clone());
            keep.Remove(node);
        }
        foreach (var node in keep)
        {
            for (int slot = 0; slot < node.Inputs.Length; slot++)
            {
                string name = node.Inputs[slot];
                if (!graph.FloatInitializers.TryGetValue(name, out var value) || parameters.ContainsKey(name) || fixedTensors.ContainsKey(name))
                {
                    continue;
                }
                // BatchNorm statistics and divisors stay fixed; every other float initializer is a weight.
                if (Operators[node.OpType].IsFixedInput?.Invoke(slot) == true)
                {
                    fixedTensors[name] = value.Clone();
                }
                else
                {
                    parameters[name] = new Parameter(parameterPrefix + name, value.Clone());
                }
            }
        }
        return new OnnxGraphModule(keep.ToArray(), input, output, parameters, fixedTensors, graph.IntInitializers);
    }

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters() => _parameters.Values;

    /// <summary>Runs the nodes on <paramref name="input"/> (the value named <see cref="InputName"/>).</summary>
    /// <exception cref="ArgumentException">A shape does not fit an operator; the message names the node.</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var floats = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [_input] = input };
        var ints = new Dictionary<string, OnnxIntTensor>(StringComparer.Ordinal);
        var values = new Values(this, floats, ints);
        for (int k = 0; k < _nodes.Length; k++)
        {
            var node = _nodes[k];
            try
            {
                long start = ProfileOps ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
                _operators[k].Forward(node, values);
                if (ProfileOps)
                {
                    OpTimes[node.OpType] = OpTimes.GetValueOrDefault(node.OpType) + System.Diagnostics.Stopwatch.GetElapsedTime(start);
                }
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IndexOutOfRangeException)
            {
                throw new ArgumentException($"{node}: {e.Message}", e);
            }
        }
        return floats[_output];
    }
}
