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
/// Supported operators: Conv (no groups or dilation, square kernel, symmetric padding),
/// BatchNormalization, Relu, Sigmoid, Tanh, Add/Sub/Mul (equal shapes or a suffix broadcast), MaxPool and
/// AveragePool (square, symmetric padding; ceil_mode 0), GlobalAveragePool, Flatten, Reshape,
/// Gemm, MatMul, Softmax and LayerNormalization (last axis only), Div (constant divisor), Erf, Transpose, Slice
/// (step 1), Squeeze/Unsqueeze, Gather (scalar index), Concat (any axis), Expand (of the first dimension), Identity,
/// Constant, ConstantOfShape, Cast (to the same type), and the int64 shape arithmetic of exported graphs (Shape,
/// Gather, Unsqueeze, Concat, Add/Sub/Mul/Div, Equal, Where on int64 values). Anything else is refused
/// when the module is built, naming the node.
/// </remarks>
public sealed class OnnxGraphModule : Module
{
    private static readonly HashSet<string> SupportedOps =
    [
        "Conv", "BatchNormalization", "Relu", "Sigmoid", "Tanh", "Add", "Sub", "Mul", "MaxPool", "AveragePool",
        "GlobalAveragePool", "Flatten", "Reshape", "Gemm", "MatMul", "Softmax", "Identity", "Constant",
        "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Div", "Erf", "LayerNormalization", "Transpose", "Slice", "Cast",
        "ConstantOfShape", "Equal", "Where", "Expand",
    ];

    private readonly OnnxNode[] _nodes;
    private readonly string _input, _output;
    private readonly Dictionary<string, Parameter> _parameters;
    private readonly Dictionary<string, Tensor> _fixed;
    private readonly IReadOnlyDictionary<string, OnnxIntTensor> _ints;

    private OnnxGraphModule(OnnxNode[] nodes, string input, string output, Dictionary<string, Parameter> parameters,
        Dictionary<string, Tensor> fixedTensors, IReadOnlyDictionary<string, OnnxIntTensor> ints)
    {
        _nodes = nodes;
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
            if (!SupportedOps.Contains(node.OpType) || node.Domain.Length > 0 && node.Domain != "ai.onnx")
            {
                throw new NotSupportedException($"{node} in '{graph.SourcePath}' uses an operator the engine does not run ({node.Domain}{(node.Domain.Length > 0 ? "." : "")}{node.OpType}); supported: {string.Join(", ", SupportedOps.Order())}");
            }
            foreach (var i in node.Inputs.Where(i => i.Length > 0))
            {
                if (!produced.Contains(i) && !graph.IsInitializer(i))
                {
                    throw new ArgumentException($"{node} in '{graph.SourcePath}' reads '{i}', which is computed before '{input}' and is not an initializer: the graph cannot start at '{input}'", nameof(input));
                }
            }
            CheckAttributes(node, graph.SourcePath);
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
                bool statistic = node.OpType == "BatchNormalization" && slot >= 3 || node.OpType == "Div" && slot == 1;
                if (statistic)
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
        foreach (var node in _nodes)
        {
            try
            {
                long start = ProfileOps ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
                Run(node, floats, ints);
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

    private Tensor F(string name, Dictionary<string, Tensor> floats) =>
        floats.TryGetValue(name, out var t) ? t
        : _parameters.TryGetValue(name, out var p) ? p.Value
        : _fixed.TryGetValue(name, out var f) ? f
        : throw new InvalidOperationException($"'{name}' is not a float value here");

    private OnnxIntTensor I(string name, Dictionary<string, OnnxIntTensor> ints) =>
        ints.TryGetValue(name, out var t) ? t
        : _ints.TryGetValue(name, out var c) ? c
        : throw new InvalidOperationException($"'{name}' is not an int64 value here");

    private bool IsInt(string name, Dictionary<string, OnnxIntTensor> ints) => ints.ContainsKey(name) || _ints.ContainsKey(name);

    private void Run(OnnxNode node, Dictionary<string, Tensor> floats, Dictionary<string, OnnxIntTensor> ints)
    {
        string[] ins = node.Inputs;
        string output = node.Outputs[0];
        switch (node.OpType)
        {
            case "Conv":
                {
                    var w = F(ins[1], floats);
                    var b = ins.Length > 2 && ins[2].Length > 0 ? F(ins[2], floats) : null;
                    int stride = (int)(node.Ints("strides")?[0] ?? 1), pad = (int)(node.Ints("pads")?[0] ?? 0);
                    floats[output] = Ops.Conv2d(F(ins[0], floats), w, b, stride, pad);
                    break;
                }
            case "BatchNormalization":
                floats[output] = Ops.BatchNorm(F(ins[0], floats), F(ins[3], floats), F(ins[4], floats), F(ins[1], floats), F(ins[2], floats),
                    training: false, eps: node.Float("epsilon", 1e-5f));
                break;
            case "Relu": floats[output] = Ops.Relu(F(ins[0], floats)); break;
            case "Sigmoid": floats[output] = Ops.Sigmoid(F(ins[0], floats)); break;
            case "Tanh": floats[output] = Ops.Tanh(F(ins[0], floats)); break;
            case "Add" or "Sub" or "Mul" or "Div" when IsInt(ins[0], ints) && IsInt(ins[1], ints):
                ints[output] = IntArithmetic(node.OpType, I(ins[0], ints), I(ins[1], ints));
                break;
            case "Add" or "Sub" or "Mul":
                floats[output] = Elementwise(node.OpType, F(ins[0], floats), F(ins[1], floats));
                break;
            case "Div":
                {
                    var divisor = F(ins[1], floats);
                    if (divisor.RequiresGrad)
                    {
                        throw new ArgumentException("division by a value that is trained is not supported; only constant divisors");
                    }
                    var reciprocal = Tensor.Zeros(divisor.ShapeArray);
                    for (int i = 0; i < divisor.Length; i++)
                    {
                        reciprocal.Span[i] = 1f / divisor.Span[i];
                    }
                    floats[output] = Elementwise("Mul", F(ins[0], floats), reciprocal);
                    break;
                }
            case "Erf": floats[output] = Ops.Erf(F(ins[0], floats)); break;
            case "Cast":
                if (node.Int("to", 0) != (IsInt(ins[0], ints) ? 7 : 1))
                {
                    throw new ArgumentException($"a cast to element type {node.Int("to", 0)} of a {(IsInt(ins[0], ints) ? "int64" : "float32")} value; only casts to the same type are supported");
                }
                if (IsInt(ins[0], ints))
                {
                    ints[output] = I(ins[0], ints);
                }
                else
                {
                    floats[output] = F(ins[0], floats);
                }
                break;
            case "LayerNormalization":
                {
                    var x = F(ins[0], floats);
                    long axis = node.Int("axis", -1);
                    if (axis != -1 && axis != x.Rank - 1)
                    {
                        throw new ArgumentException($"layer normalisation over axis {axis} of a rank-{x.Rank} value; only the last axis is supported");
                    }
                    floats[output] = Ops.LayerNorm(x, F(ins[1], floats), ins.Length > 2 && ins[2].Length > 0 ? F(ins[2], floats) : null, node.Float("epsilon", 1e-5f));
                    break;
                }
            case "Transpose":
                {
                    var x = F(ins[0], floats);
                    var perm = node.Ints("perm")?.Select(p => (int)p).ToArray() ?? Enumerable.Range(0, x.Rank).Reverse().ToArray();
                    floats[output] = Ops.Permute(x, perm);
                    break;
                }
            case "Slice":
                {
                    var x = F(ins[0], floats);
                    var starts = I(ins[1], ints).Values;
                    var ends = I(ins[2], ints).Values;
                    var axes = ins.Length > 3 && ins[3].Length > 0 ? I(ins[3], ints).Values : Enumerable.Range(0, starts.Length).Select(a => (long)a).ToArray();
                    if (ins.Length > 4 && ins[4].Length > 0 && I(ins[4], ints).Values.Any(step => step != 1))
                    {
                        throw new ArgumentException("only slices with step 1 are supported");
                    }
                    for (int k = 0; k < starts.Length; k++)
                    {
                        int axis = (int)(axes[k] < 0 ? axes[k] + x.Rank : axes[k]);
                        long dim = x.Shape[axis];
                        long start = Math.Clamp(starts[k] < 0 ? starts[k] + dim : starts[k], 0, dim);
                        long end = Math.Clamp(ends[k] < 0 ? ends[k] + dim : ends[k], 0, dim);
                        x = Ops.SliceAxis(x, axis, (int)start, (int)Math.Max(0, end - start));
                    }
                    floats[output] = x;
                    break;
                }
            case "Squeeze" or "Unsqueeze" when !IsInt(ins[0], ints):
                {
                    var x = F(ins[0], floats);
                    var axes = ins.Length > 1 && ins[1].Length > 0 ? I(ins[1], ints).Values : node.Ints("axes") ?? [];
                    var shape = x.Shape.ToArray().ToList();
                    if (node.OpType == "Squeeze")
                    {
                        var drop = axes.Length == 0
                            ? Enumerable.Range(0, shape.Count).Where(d => shape[d] == 1).ToHashSet()
                            : axes.Select(a => (int)(a < 0 ? a + shape.Count : a)).ToHashSet();
                        shape = shape.Where((_, d) => !drop.Contains(d)).ToList();
                    }
                    else
                    {
                        int rank = shape.Count + axes.Length;
                        foreach (var a in axes.Select(a => (int)(a < 0 ? a + rank : a)).Order())
                        {
                            shape.Insert(a, 1);
                        }
                    }
                    floats[output] = x.Reshape(shape.ToArray());
                    break;
                }
            case "MaxPool" or "AveragePool":
                {
                    int kernel = (int)node.Ints("kernel_shape")![0];
                    int stride = (int)(node.Ints("strides")?[0] ?? 1), pad = (int)(node.Ints("pads")?[0] ?? 0);
                    var x = F(ins[0], floats);
                    floats[output] = node.OpType == "MaxPool"
                        ? Ops.MaxPool2d(Ops.Pad2d(x, pad, float.NegativeInfinity), kernel, stride)
                        : Ops.AvgPool2d(Ops.Pad2d(x, pad, 0f), kernel, stride);
                    break;
                }
            case "GlobalAveragePool":
                {
                    var x = F(ins[0], floats);
                    Shapes.RequireRank(x, 4, ins[0]);
                    int n = x.Shape[0], c = x.Shape[1];
                    floats[output] = Ops.MeanLastDim(x.Reshape(n, c, x.Shape[2] * x.Shape[3])).Reshape(n, c, 1, 1);
                    break;
                }
            case "Flatten":
                {
                    var x = F(ins[0], floats);
                    int axis = (int)node.Int("axis", 1);
                    axis = axis < 0 ? axis + x.Rank : axis;
                    int outer = 1;
                    for (int d = 0; d < axis; d++)
                    {
                        outer *= x.Shape[d];
                    }
                    floats[output] = x.Reshape(outer, -1);
                    break;
                }
            case "Reshape" when IsInt(ins[0], ints):
                {
                    var data = I(ins[0], ints);
                    var spec = I(ins[1], ints).Values;
                    var shape = spec.Select((d, i) => d == 0 ? data.Shape[i] : d).ToArray();
                    int infer = Array.IndexOf(shape, -1L);
                    if (infer >= 0)
                    {
                        shape[infer] = data.Values.Length / Math.Max(1, shape.Where(d => d != -1).Aggregate(1L, (a, b) => a * b));
                    }
                    ints[output] = new OnnxIntTensor(data.Values, shape);
                    break;
                }
            case "Reshape":
                {
                    var x = F(ins[0], floats);
                    var spec = I(ins[1], ints).Values;
                    var shape = new int[spec.Length];
                    for (int d = 0; d < spec.Length; d++)
                    {
                        shape[d] = spec[d] == 0 ? x.Shape[d] : checked((int)spec[d]);
                    }
                    floats[output] = x.Reshape(shape);
                    break;
                }
            case "Gemm":
                {
                    var a = F(ins[0], floats);
                    var w = F(ins[1], floats);
                    var c = ins.Length > 2 && ins[2].Length > 0 ? F(ins[2], floats) : null;
                    floats[output] = node.Int("transB", 0) == 1
                        ? Ops.Linear(a, w, c)
                        : c is null ? Ops.MatMul(a, w) : Ops.Add(Ops.MatMul(a, w), c);
                    break;
                }
            case "MatMul":
                {
                    var a = F(ins[0], floats);
                    var b = F(ins[1], floats);
                    if (a.Rank > 2 && b.Rank == 2)
                    {
                        var lead = a.Shape[..^1].ToArray();
                        var y = Ops.MatMul(a.Reshape(-1, a.Shape[^1]), b);
                        floats[output] = y.Reshape([.. lead, b.Shape[1]]);
                    }
                    else
                    {
                        floats[output] = a.Rank == 2 ? Ops.MatMul(a, b) : Ops.BatchedMatMul(a, b);
                    }
                    break;
                }
            case "Softmax":
                {
                    var x = F(ins[0], floats);
                    long axis = node.Int("axis", -1);
                    if (axis != -1 && axis != x.Rank - 1)
                    {
                        throw new ArgumentException($"softmax over axis {axis} of a rank-{x.Rank} value; only the last axis is supported");
                    }
                    floats[output] = Ops.Softmax(x);
                    break;
                }
            case "Identity":
                if (IsInt(ins[0], ints))
                {
                    ints[output] = I(ins[0], ints);
                }
                else
                {
                    floats[output] = F(ins[0], floats);
                }
                break;
            case "Constant":
                {
                    var a = node.Attributes["value"];
                    if (a.IntTensor is not null)
                    {
                        ints[output] = a.IntTensor;
                    }
                    else
                    {
                        floats[output] = a.FloatTensor!;
                    }
                    break;
                }
            case "Shape" when IsInt(ins[0], ints):
                {
                    var shape = I(ins[0], ints).Shape;
                    ints[output] = new OnnxIntTensor(shape.ToArray(), [shape.Length]);
                    break;
                }
            case "Shape":
                {
                    var x = F(ins[0], floats);
                    var dims = new long[x.Rank];
                    for (int d = 0; d < x.Rank; d++)
                    {
                        dims[d] = x.Shape[d];
                    }
                    ints[output] = new OnnxIntTensor(dims, [dims.Length]);
                    break;
                }
            case "Gather" when !IsInt(ins[0], ints):
                {
                    var x = F(ins[0], floats);
                    var index = I(ins[1], ints);
                    int axis = (int)node.Int("axis", 0);
                    axis = axis < 0 ? axis + x.Rank : axis;
                    if (index.Shape.Length != 0)
                    {
                        throw new ArgumentException("gathering floats is supported with a scalar index only");
                    }
                    long i = index.Values[0] < 0 ? index.Values[0] + x.Shape[axis] : index.Values[0];
                    var picked = Ops.SliceAxis(x, axis, (int)i, 1);
                    floats[output] = picked.Reshape(x.Shape.ToArray().Where((_, d) => d != axis).ToArray());
                    break;
                }
            case "Gather":
                {
                    var data = I(ins[0], ints);
                    var index = I(ins[1], ints);
                    var values = index.Values.Select(i => data.Values[i < 0 ? i + data.Values.Length : i]).ToArray();
                    ints[output] = new OnnxIntTensor(values, index.Shape);
                    break;
                }
            case "Unsqueeze":
                {
                    var data = I(ins[0], ints);
                    ints[output] = new OnnxIntTensor(data.Values, data.Shape.Length == 0 ? [1] : [1, .. data.Shape]);
                    break;
                }
            case "Concat":
                if (ins.All(i => IsInt(i, ints)))
                {
                    var values = ins.SelectMany(i => I(i, ints).Values).ToArray();
                    ints[output] = new OnnxIntTensor(values, [values.Length]);
                }
                else
                {
                    floats[output] = Ops.ConcatAxis((int)node.Int("axis", 0), ins.Select(i => F(i, floats)).ToArray());
                }
                break;
            case "ConstantOfShape":
                {
                    var shape = I(ins[0], ints).Values;
                    long count = shape.Aggregate(1L, (a, b) => a * b);
                    var value = node.Attributes.TryGetValue("value", out var v) ? v : null;
                    if (value?.FloatTensor is { } f)
                    {
                        var t = Tensor.Zeros(shape.Select(d => checked((int)d)).ToArray());
                        t.Span.Fill(f.Span[0]);
                        floats[output] = t;
                    }
                    else
                    {
                        long fill = value?.IntTensor?.Values[0] ?? 0;
                        ints[output] = new OnnxIntTensor(Enumerable.Repeat(fill, (int)count).ToArray(), shape);
                    }
                    break;
                }
            case "Equal":
                {
                    var a = I(ins[0], ints);
                    var b = I(ins[1], ints);
                    int n = Math.Max(a.Values.Length, b.Values.Length);
                    var values = new long[n];
                    for (int i = 0; i < n; i++)
                    {
                        values[i] = a.Values[a.Values.Length == 1 ? 0 : i] == b.Values[b.Values.Length == 1 ? 0 : i] ? 1 : 0;
                    }
                    ints[output] = new OnnxIntTensor(values, a.Values.Length == n ? a.Shape : b.Shape);
                    break;
                }
            case "Where":
                {
                    var c = I(ins[0], ints);
                    var a = I(ins[1], ints);
                    var b = I(ins[2], ints);
                    int n = new[] { c.Values.Length, a.Values.Length, b.Values.Length }.Max();
                    long At(OnnxIntTensor t, int i) => t.Values[t.Values.Length == 1 ? 0 : i];
                    var values = new long[n];
                    for (int i = 0; i < n; i++)
                    {
                        values[i] = At(c, i) != 0 ? At(a, i) : At(b, i);
                    }
                    ints[output] = new OnnxIntTensor(values, c.Values.Length == n ? c.Shape : a.Values.Length == n ? a.Shape : b.Shape);
                    break;
                }
            case "Expand":
                {
                    // Repeating a leading dimension of size 1 (e.g. a class token expanded over the batch).
                    var x = F(ins[0], floats);
                    var target = I(ins[1], ints).Values;
                    int rank = Math.Max(x.Rank, target.Length);
                    var shape = new int[rank];
                    for (int d = 0; d < rank; d++)
                    {
                        int xd = d - (rank - x.Rank) >= 0 ? x.Shape[d - (rank - x.Rank)] : 1;
                        long td = d - (rank - target.Length) >= 0 ? target[d - (rank - target.Length)] : 1;
                        shape[d] = xd == 1 ? (int)Math.Max(td, 1) : xd;
                        if (xd != 1 && td != 1 && td != xd)
                        {
                            throw new ArgumentException($"cannot expand shape {x.ShapeString} to [{string.Join(", ", target)}]");
                        }
                    }
                    var expanded = x.Reshape([.. Enumerable.Repeat(1, rank - x.Rank), .. x.Shape.ToArray()]);
                    for (int d = 1; d < rank; d++)
                    {
                        if (expanded.Shape[d] != shape[d])
                        {
                            throw new ArgumentException($"expanding {x.ShapeString} to [{string.Join(", ", shape)}]: only the first dimension can be repeated");
                        }
                    }
                    if (shape[0] != expanded.Shape[0])
                    {
                        var rows = expanded.Reshape(1, -1);
                        expanded = Ops.Gather(rows, new int[shape[0]]).Reshape(shape);
                    }
                    floats[output] = expanded;
                    break;
                }
            default:
                throw new InvalidOperationException($"operator {node.OpType} is not supported");
        }
    }

    private static OnnxIntTensor IntArithmetic(string op, OnnxIntTensor a, OnnxIntTensor b)
    {
        int n = Math.Max(a.Values.Length, b.Values.Length);
        if (a.Values.Length != n && a.Values.Length != 1 || b.Values.Length != n && b.Values.Length != 1)
        {
            throw new ArgumentException($"int64 {op} of {a.Values.Length} and {b.Values.Length} values");
        }
        var values = new long[n];
        for (int i = 0; i < n; i++)
        {
            long x = a.Values[a.Values.Length == 1 ? 0 : i], y = b.Values[b.Values.Length == 1 ? 0 : i];
            values[i] = op switch { "Add" => x + y, "Sub" => x - y, "Mul" => x * y, _ => x / y };
        }
        return new OnnxIntTensor(values, a.Values.Length == n ? a.Shape : b.Shape);
    }

    private static Tensor Elementwise(string op, Tensor a, Tensor b)
    {
        if (op != "Sub" && (a.Rank < b.Rank || a.Rank == b.Rank && a.Length < b.Length))
        {
            (a, b) = (b, a);
        }
        // A broadcast operand with leading 1s ([1, T, D] against [N, T, D]) is its suffix.
        int lead = 0;
        while (lead < b.Rank - 1 && b.Shape[lead] == 1 && b.Length < a.Length)
        {
            lead++;
        }
        if (lead > 0)
        {
            b = b.Reshape(b.Shape[lead..].ToArray());
        }
        return op switch
        {
            "Add" => Ops.Add(a, b),
            "Sub" => Ops.Subtract(a, b),
            _ => Ops.Multiply(a, b),
        };
    }

    private static void CheckAttributes(OnnxNode node, string path)
    {
        void Refuse(string why) => throw new NotSupportedException($"{node} in '{path}': {why}");
        static bool AllSame(long[]? values) => values is null || values.All(v => v == values[0]);
        switch (node.OpType)
        {
            case "Conv":
                if (node.Int("group", 1) != 1)
                {
                    Refuse("grouped convolution is not supported");
                }
                if (node.Ints("dilations") is { } dilations && dilations.Any(d => d != 1))
                {
                    Refuse("dilated convolution is not supported");
                }
                if (!AllSame(node.Ints("kernel_shape")) || !AllSame(node.Ints("strides")) || !AllSame(node.Ints("pads")))
                {
                    Refuse("only square kernels, equal strides and the same padding on every side are supported");
                }
                if (node.Attributes.TryGetValue("auto_pad", out var autoPad) && autoPad.Text is not (null or "NOTSET"))
                {
                    Refuse($"auto_pad {autoPad.Text} is not supported");
                }
                break;
            case "MaxPool" or "AveragePool":
                if (!AllSame(node.Ints("kernel_shape")) || !AllSame(node.Ints("strides")) || !AllSame(node.Ints("pads")))
                {
                    Refuse("only square windows, equal strides and the same padding on every side are supported");
                }
                if (node.Int("ceil_mode", 0) != 0)
                {
                    Refuse("ceil_mode 1 is not supported");
                }
                if (node.Ints("dilations") is { } poolDilations && poolDilations.Any(d => d != 1))
                {
                    Refuse("dilated pooling is not supported");
                }
                if (node.OpType == "AveragePool" && (node.Ints("pads")?[0] ?? 0) > 0 && node.Int("count_include_pad", 0) == 0)
                {
                    Refuse("padded average pooling that excludes the padding from the count is not supported");
                }
                break;
            case "Gemm":
                if (node.Float("alpha", 1f) != 1f || node.Float("beta", 1f) != 1f || node.Int("transA", 0) != 0)
                {
                    Refuse("only alpha = beta = 1 and transA = 0 are supported");
                }
                break;
            case "Constant":
                if (!node.Attributes.TryGetValue("value", out var value) || value.IntTensor is null && value.FloatTensor is null)
                {
                    Refuse("only a float32 or int64 'value' tensor is supported");
                }
                break;
        }
    }
}
