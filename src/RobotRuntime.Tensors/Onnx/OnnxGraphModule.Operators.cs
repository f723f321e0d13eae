using System.Collections.Frozen;

namespace RobotRuntime.Tensors.Onnx;

public sealed partial class OnnxGraphModule
{
    /// <summary>
    /// Every operator the engine runs, by ONNX operator type: the one list that <see cref="Create"/> checks
    /// nodes against and that <see cref="Forward"/> runs them with. Adding an operator is adding an entry.
    /// The comment above an entry states its limits; those that attributes show are refused by the entry's
    /// check when the module is built, the others (which depend on shapes or values) by its forward.
    /// </summary>
    internal static readonly FrozenDictionary<string, Operator> Operators = new Dictionary<string, Operator>(StringComparer.Ordinal)
    {
        // No groups or dilation, square kernel, equal strides, the same padding on every side, no auto_pad.
        ["Conv"] = new(Conv, ConvRefusal),
        // Inference statistics: the running mean and variance (inputs 3 and 4) stay fixed.
        ["BatchNormalization"] = new(BatchNormalization, IsFixedInput: static slot => slot >= 3),
        ["Relu"] = new(static (node, v) => v.Floats[node.Outputs[0]] = Ops.Relu(v.F(node.Inputs[0]))),
        ["Sigmoid"] = new(static (node, v) => v.Floats[node.Outputs[0]] = Ops.Sigmoid(v.F(node.Inputs[0]))),
        ["Tanh"] = new(static (node, v) => v.Floats[node.Outputs[0]] = Ops.Tanh(v.F(node.Inputs[0]))),
        ["Erf"] = new(static (node, v) => v.Floats[node.Outputs[0]] = Ops.Erf(v.F(node.Inputs[0]))),
        // Floats: equal shapes or a suffix broadcast. Two int64 values: shape arithmetic.
        ["Add"] = new(Arithmetic),
        ["Sub"] = new(Arithmetic),
        ["Mul"] = new(Arithmetic),
        // Floats: by a constant divisor (input 1 stays fixed). Two int64 values: shape arithmetic.
        ["Div"] = new(Divide, IsFixedInput: static slot => slot == 1),
        // Square window, equal strides, the same padding on every side, ceil_mode 0, no dilation.
        ["MaxPool"] = new(MaxPool, PoolRefusal),
        // As MaxPool; padding counts towards the mean (count_include_pad 1) when there is any.
        ["AveragePool"] = new(AveragePool, AveragePoolRefusal),
        // Rank 4.
        ["GlobalAveragePool"] = new(GlobalAveragePool),
        ["Flatten"] = new(Flatten),
        // Floats or int64 values.
        ["Reshape"] = new(Reshape),
        // alpha = beta = 1, transA = 0.
        ["Gemm"] = new(Gemm, static node => node.Float("alpha", 1f) != 1f || node.Float("beta", 1f) != 1f || node.Int("transA", 0) != 0
            ? "only alpha = beta = 1 and transA = 0 are supported"
            : null),
        // Rank 2 by rank 2, rank ≥ 3 by rank 2, or equal ranks ≥ 3 with equal leading (batch) dimensions.
        ["MatMul"] = new(MatMul),
        // Floats; axes from the attribute (opset ≤ 17) or the second input (opset 18), each reduced; keepdims as given.
        ["ReduceMean"] = new(ReduceMean, static node => node.Int("noop_with_empty_axes", 0) != 0 ? "noop_with_empty_axes is not supported" : null),
        // Last axis only.
        ["Softmax"] = new(Softmax),
        // Last axis only.
        ["LayerNormalization"] = new(LayerNormalization),
        ["Transpose"] = new(Transpose),
        // Step 1.
        ["Slice"] = new(Slice),
        // Floats only.
        ["Squeeze"] = new(Squeeze),
        // Floats; an int64 value becomes rank 1 (shape arithmetic).
        ["Unsqueeze"] = new(Unsqueeze),
        // Floats: a scalar index. int64 values: any index (shape arithmetic).
        ["Gather"] = new(Gather),
        // Floats on any axis; int64 values are joined into one vector (shape arithmetic).
        ["Concat"] = new(Concat),
        // Of the first dimension only.
        ["Expand"] = new(Expand),
        ["Identity"] = new(Identity),
        // A float32 or int64 'value' tensor.
        ["Constant"] = new(Constant, static node => !node.Attributes.TryGetValue("value", out var value) || value.IntTensor is null && value.FloatTensor is null
            ? "only a float32 or int64 'value' tensor is supported"
            : null),
        ["ConstantOfShape"] = new(ConstantOfShape),
        // To the same type only.
        ["Cast"] = new(Cast),
        ["Shape"] = new(Shape),
        // int64 values.
        ["Equal"] = new(Equal),
        // int64 values.
        ["Where"] = new(Where),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The ONNX operator types (default domain) the module runs, in order; a graph with any other is refused by <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> SupportedOperators { get; } = Operators.Keys.Order().ToArray();

    /// <summary>Runs one node: reads its inputs from <paramref name="values"/> and writes its outputs there.</summary>
    /// <remarks>Throws <see cref="ArgumentException"/> or <see cref="InvalidOperationException"/> when a shape or value does not fit; <see cref="Forward"/> adds the node to the message.</remarks>
    internal delegate void OperatorForward(OnnxNode node, Values values);

    /// <summary>How the module runs one operator type.</summary>
    /// <param name="Forward">Runs a node of the operator.</param>
    /// <param name="Refusal">Why a node's attributes are not supported, or null when they are; checked by <see cref="Create"/>. Null: any attributes.</param>
    /// <param name="IsFixedInput">Whether a float initializer read at an input slot stays a fixed tensor instead of becoming a trainable weight. Null: none does.</param>
    internal sealed record Operator(OperatorForward Forward, Func<OnnxNode, string?>? Refusal = null, Func<int, bool>? IsFixedInput = null);

    /// <summary>
    /// What a node reads and writes during one <see cref="Forward"/>: the values computed so far (float32
    /// and int64), then the module's weights, fixed tensors and int64 initializers.
    /// </summary>
    internal readonly struct Values(OnnxGraphModule module, Dictionary<string, Tensor> floats, Dictionary<string, OnnxIntTensor> ints)
    {
        /// <summary>float32 values computed in this pass, by name.</summary>
        public Dictionary<string, Tensor> Floats { get; } = floats;

        /// <summary>int64 values computed in this pass, by name.</summary>
        public Dictionary<string, OnnxIntTensor> Ints { get; } = ints;

        /// <summary>The float32 value <paramref name="name"/>.</summary>
        public Tensor F(string name) =>
            Floats.TryGetValue(name, out var t) ? t
            : module._parameters.TryGetValue(name, out var p) ? p.Value
            : module._fixed.TryGetValue(name, out var f) ? f
            : throw new InvalidOperationException($"'{name}' is not a float value here");

        /// <summary>The int64 value <paramref name="name"/>.</summary>
        public OnnxIntTensor I(string name) =>
            Ints.TryGetValue(name, out var t) ? t
            : module._ints.TryGetValue(name, out var c) ? c
            : throw new InvalidOperationException($"'{name}' is not an int64 value here");

        /// <summary>Whether <paramref name="name"/> is an int64 value.</summary>
        public bool IsInt(string name) => Ints.ContainsKey(name) || module._ints.ContainsKey(name);
    }

    private static bool AllSame(long[]? values) => values is null || values.All(v => v == values[0]);

    private static string? ConvRefusal(OnnxNode node)
    {
        if (node.Int("group", 1) != 1)
        {
            return "grouped convolution is not supported";
        }
        if (node.Ints("dilations") is { } dilations && dilations.Any(d => d != 1))
        {
            return "dilated convolution is not supported";
        }
        if (!AllSame(node.Ints("kernel_shape")) || !AllSame(node.Ints("strides")) || !AllSame(node.Ints("pads")))
        {
            return "only square kernels, equal strides and the same padding on every side are supported";
        }
        if (node.Attributes.TryGetValue("auto_pad", out var autoPad) && autoPad.Text is not (null or "NOTSET"))
        {
            return $"auto_pad {autoPad.Text} is not supported";
        }
        return null;
    }

    private static string? PoolRefusal(OnnxNode node)
    {
        if (!AllSame(node.Ints("kernel_shape")) || !AllSame(node.Ints("strides")) || !AllSame(node.Ints("pads")))
        {
            return "only square windows, equal strides and the same padding on every side are supported";
        }
        if (node.Int("ceil_mode", 0) != 0)
        {
            return "ceil_mode 1 is not supported";
        }
        if (node.Ints("dilations") is { } dilations && dilations.Any(d => d != 1))
        {
            return "dilated pooling is not supported";
        }
        return null;
    }

    private static string? AveragePoolRefusal(OnnxNode node) =>
        PoolRefusal(node) ?? ((node.Ints("pads")?[0] ?? 0) > 0 && node.Int("count_include_pad", 0) == 0
            ? "padded average pooling that excludes the padding from the count is not supported"
            : null);

    private static void Conv(OnnxNode node, Values v)
    {
        string[] ins = node.Inputs;
        string output = node.Outputs[0];
        var w = v.F(ins[1]);
        var b = ins.Length > 2 && ins[2].Length > 0 ? v.F(ins[2]) : null;
        int stride = (int)(node.Ints("strides")?[0] ?? 1), pad = (int)(node.Ints("pads")?[0] ?? 0);
        v.Floats[output] = Ops.Conv2d(v.F(ins[0]), w, b, stride, pad);
    }

    private static void BatchNormalization(OnnxNode node, Values v)
    {
        string[] ins = node.Inputs;
        v.Floats[node.Outputs[0]] = Ops.BatchNorm(v.F(ins[0]), v.F(ins[3]), v.F(ins[4]), v.F(ins[1]), v.F(ins[2]),
            training: false, eps: node.Float("epsilon", 1e-5f));
    }

    private static void Arithmetic(OnnxNode node, Values v)
    {
        string[] ins = node.Inputs;
        string output = node.Outputs[0];
        if (v.IsInt(ins[0]) && v.IsInt(ins[1]))
        {
            v.Ints[output] = IntArithmetic(node.OpType, v.I(ins[0]), v.I(ins[1]));
        }
        else
        {
            v.Floats[output] = Elementwise(node.OpType, v.F(ins[0]), v.F(ins[1]));
        }
    }

    private static void Divide(OnnxNode node, Values v)
    {
        string[] ins = node.Inputs;
        string output = node.Outputs[0];
        if (v.IsInt(ins[0]) && v.IsInt(ins[1]))
        {
            v.Ints[output] = IntArithmetic(node.OpType, v.I(ins[0]), v.I(ins[1]));
            return;
        }
        var divisor = v.F(ins[1]);
        if (divisor.RequiresGrad)
        {
            throw new ArgumentException("division by a value that is trained is not supported; only constant divisors");
        }
        var reciprocal = Tensor.Zeros(divisor.ShapeArray);
        for (int i = 0; i < divisor.Length; i++)
        {
            reciprocal.Span[i] = 1f / divisor.Span[i];
        }
        v.Floats[output] = Elementwise("Mul", v.F(ins[0]), reciprocal);
    }

    private static (int Kernel, int Stride, int Pad) Window(OnnxNode node) =>
        ((int)node.Ints("kernel_shape")![0], (int)(node.Ints("strides")?[0] ?? 1), (int)(node.Ints("pads")?[0] ?? 0));

    private static void MaxPool(OnnxNode node, Values v)
    {
        var (kernel, stride, pad) = Window(node);
        v.Floats[node.Outputs[0]] = Ops.MaxPool2d(Ops.Pad2d(v.F(node.Inputs[0]), pad, float.NegativeInfinity), kernel, stride);
    }

    private static void AveragePool(OnnxNode node, Values v)
    {
        var (kernel, stride, pad) = Window(node);
        v.Floats[node.Outputs[0]] = Ops.AvgPool2d(Ops.Pad2d(v.F(node.Inputs[0]), pad, 0f), kernel, stride);
    }

    private static void GlobalAveragePool(OnnxNode node, Values v)
    {
        string[] ins = node.Inputs;
        var x = v.F(ins[0]);
        Shapes.RequireRank(x, 4, ins[0]);
        int n = x.Shape[0], c = x.Shape[1];
        v.Floats[node.Outputs[0]] = Ops.MeanLastDim(x.Reshape(n, c, x.Shape[2] * x.Shape[3])).Reshape(n, c, 1, 1);
    }

    private static void Flatten(OnnxNode node, Values v)
    {
        var x = v.F(node.Inputs[0]);
        int axis = (int)node.Int("axis", 1);
        axis = axis < 0 ? axis + x.Rank : axis;
        int outer = 1;
        for (int d = 0; d < axis; d++)
        {
            outer *= x.Shape[d];
        }
        v.Floats[node.Outputs[0]] = x.Reshape(outer, -1);
    }

    private static void Reshape(OnnxNode node, Values v)
    {
        string[] ins = node.Inputs;
        string output = node.Outputs[0];
        if (v.IsInt(ins[0]))
        {
            var data = v.I(ins[0]);
            var spec = v.I(ins[1]).Values;
            var shape = spec.Select((d, i) => d == 0 ? data.Shape[i] : d).ToArray();
            int infer = Array.IndexOf(shape, -1L);
            if (infer >= 0)
            {
                shape[infer] = data.Values.Length / Math.Max(1, shape.Where(d => d != -1).Aggregate(1L, (a, b) => a * b));
            }
            v.Ints[output] = new OnnxIntTensor(data.Values, shape);
        }
        else
        {
            var x = v.F(ins[0]);
            var spec = v.I(ins[1]).Values;
            var shape = new int[spec.Length];
            for (int d = 0; d < spec.Length; d++)
            {
                shape[d] = spec[d] == 0 ? x.Shape[d] : checked((int)spec[d]);
            }
            v.Floats[output] = x.Reshape(shape);
        }
    }

    private static void Gemm(OnnxNode node, Values v)
    {
        string[] ins = node.Inputs;
        var a = v.F(ins[0]);
        var w = v.F(ins[1]);
        var c = ins.Length > 2 && ins[2].Length > 0 ? v.F(ins[2]) : null;
        v.Floats[node.Outputs[0]] = node.Int("transB", 0) == 1
            ? Ops.Linear(a, w, c)
            : c is null ? Ops.MatMul(a, w) : Ops.Add(Ops.MatMul(a, w), c);
    }

    private static void MatMul(OnnxNode node, Values v)
    {
        string[] ins = node.Inputs;
        string output = node.Outputs[0];
        var a = v.F(ins[0]);
        var b = v.F(ins[1]);
        if (a.Rank > 2 && b.Rank == 2)
        {
            var lead = a.Shape[..^1].ToArray();
            var y = Ops.MatMul(a.Reshape(-1, a.Shape[^1]), b);
            v.Floats[output] = y.Reshape([.. lead, b.Shape[1]]);
        }
        else if (a.Rank > 3 && a.Rank == b.Rank)
        {
            var lead = a.Shape[..^2].ToArray();
            if (!b.Shape[..^2].SequenceEqual(lead))
            {
                throw new ArgumentException($"batched MatMul of {a.ShapeString} and {b.ShapeString}: the leading dimensions must be equal (no broadcasting)");
            }
            int batch = lead.Aggregate(1, (x, y) => x * y);
            var y = Ops.BatchedMatMul(a.Reshape(batch, a.Shape[^2], a.Shape[^1]), b.Reshape(batch, b.Shape[^2], b.Shape[^1]));
            v.Floats[output] = y.Reshape([.. lead, a.Shape[^2], b.Shape[^1]]);
        }
        else
        {
            v.Floats[output] = a.Rank == 2 ? Ops.MatMul(a, b) : Ops.BatchedMatMul(a, b);
        }
    }

    private static void ReduceMean(OnnxNode node, Values v)
    {
        string[] ins = node.Inputs;
        var x = v.F(ins[0]);
        var axes = ins.Length > 1 && ins[1].Length > 0 ? v.I(ins[1]).Values : node.Ints("axes") ?? Enumerable.Range(0, x.Rank).Select(a => (long)a).ToArray();
        var resolved = axes.Select(a => (int)(a < 0 ? a + x.Rank : a)).Distinct().OrderDescending().ToArray();
        var kept = x.Shape.ToArray();
        var y = x;
        foreach (int axis in resolved)
        {
            kept[axis] = 1;
            y = Ops.MeanAxis(y, axis);
        }
        v.Floats[node.Outputs[0]] = node.Int("keepdims", 1) != 0 ? y.Reshape(kept) : y;
    }

    private static void Softmax(OnnxNode node, Values v)
    {
        var x = v.F(node.Inputs[0]);
        long axis = node.Int("axis", -1);
        if (axis != -1 && axis != x.Rank - 1)
        {
            throw new ArgumentException($"softmax over axis {axis} of a rank-{x.Rank} value; only the last axis is supported");
        }
        v.Floats[node.Outputs[0]] = Ops.Softmax(x);
    }

    private static void LayerNormalization(OnnxNode node, Values v)
    {
        string[] ins = node.Inputs;
        var x = v.F(ins[0]);
        long axis = node.Int("axis", -1);
        if (axis != -1 && axis != x.Rank - 1)
        {
            throw new ArgumentException($"layer normalisation over axis {axis} of a rank-{x.Rank} value; only the last axis is supported");
        }
        v.Floats[node.Outputs[0]] = Ops.LayerNorm(x, v.F(ins[1]), ins.Length > 2 && ins[2].Length > 0 ? v.F(ins[2]) : null, node.Float("epsilon", 1e-5f));
    }

    private static void Transpose(OnnxNode node, Values v)
    {
        var x = v.F(node.Inputs[0]);
        var perm = node.Ints("perm")?.Select(p => (int)p).ToArray() ?? Enumerable.Range(0, x.Rank).Reverse().ToArray();
        v.Floats[node.Outputs[0]] = Ops.Permute(x, perm);
    }

    private static void Slice(OnnxNode node, Values v)
    {
        string[] ins = node.Inputs;
        var x = v.F(ins[0]);
        var starts = v.I(ins[1]).Values;
        var ends = v.I(ins[2]).Values;
        var axes = ins.Length > 3 && ins[3].Length > 0 ? v.I(ins[3]).Values : Enumerable.Range(0, starts.Length).Select(a => (long)a).ToArray();
        if (ins.Length > 4 && ins[4].Length > 0 && v.I(ins[4]).Values.Any(step => step != 1))
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
        v.Floats[node.Outputs[0]] = x;
    }

    private static void Squeeze(OnnxNode node, Values v)
    {
        if (v.IsInt(node.Inputs[0]))
        {
            throw new InvalidOperationException($"operator {node.OpType} is not supported");
        }
        SqueezeOrUnsqueezeFloats(node, v);
    }

    private static void Unsqueeze(OnnxNode node, Values v)
    {
        if (!v.IsInt(node.Inputs[0]))
        {
            SqueezeOrUnsqueezeFloats(node, v);
            return;
        }
        var data = v.I(node.Inputs[0]);
        v.Ints[node.Outputs[0]] = new OnnxIntTensor(data.Values, data.Shape.Length == 0 ? [1] : [1, .. data.Shape]);
    }

    private static void SqueezeOrUnsqueezeFloats(OnnxNode node, Values v)
    {
        string[] ins = node.Inputs;
        var x = v.F(ins[0]);
        var axes = ins.Length > 1 && ins[1].Length > 0 ? v.I(ins[1]).Values : node.Ints("axes") ?? [];
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
        v.Floats[node.Outputs[0]] = x.Reshape(shape.ToArray());
    }

    private static void Gather(OnnxNode node, Values v)
    {
        string[] ins = node.Inputs;
        string output = node.Outputs[0];
        if (!v.IsInt(ins[0]))
        {
            var x = v.F(ins[0]);
            var index = v.I(ins[1]);
            int axis = (int)node.Int("axis", 0);
            axis = axis < 0 ? axis + x.Rank : axis;
            if (index.Shape.Length != 0)
            {
                throw new ArgumentException("gathering floats is supported with a scalar index only");
            }
            long i = index.Values[0] < 0 ? index.Values[0] + x.Shape[axis] : index.Values[0];
            var picked = Ops.SliceAxis(x, axis, (int)i, 1);
            v.Floats[output] = picked.Reshape(x.Shape.ToArray().Where((_, d) => d != axis).ToArray());
        }
        else
        {
            var data = v.I(ins[0]);
            var index = v.I(ins[1]);
            var values = index.Values.Select(i => data.Values[i < 0 ? i + data.Values.Length : i]).ToArray();
            v.Ints[output] = new OnnxIntTensor(values, index.Shape);
        }
    }

    private static void Concat(OnnxNode node, Values v)
    {
        string[] ins = node.Inputs;
        string output = node.Outputs[0];
        if (ins.All(i => v.IsInt(i)))
        {
            var values = ins.SelectMany(i => v.I(i).Values).ToArray();
            v.Ints[output] = new OnnxIntTensor(values, [values.Length]);
        }
        else
        {
            v.Floats[output] = Ops.ConcatAxis((int)node.Int("axis", 0), ins.Select(i => v.F(i)).ToArray());
        }
    }

    private static void Expand(OnnxNode node, Values v)
    {
        // Repeating a leading dimension of size 1 (e.g. a class token expanded over the batch).
        var x = v.F(node.Inputs[0]);
        var target = v.I(node.Inputs[1]).Values;
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
        v.Floats[node.Outputs[0]] = expanded;
    }

    private static void Identity(OnnxNode node, Values v)
    {
        string input = node.Inputs[0], output = node.Outputs[0];
        if (v.IsInt(input))
        {
            v.Ints[output] = v.I(input);
        }
        else
        {
            v.Floats[output] = v.F(input);
        }
    }

    private static void Constant(OnnxNode node, Values v)
    {
        var a = node.Attributes["value"];
        if (a.IntTensor is not null)
        {
            v.Ints[node.Outputs[0]] = a.IntTensor;
        }
        else
        {
            v.Floats[node.Outputs[0]] = a.FloatTensor!;
        }
    }

    private static void ConstantOfShape(OnnxNode node, Values v)
    {
        string output = node.Outputs[0];
        var shape = v.I(node.Inputs[0]).Values;
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var value = node.Attributes.TryGetValue("value", out var attribute) ? attribute : null;
        if (value?.FloatTensor is { } f)
        {
            var t = Tensor.Zeros(shape.Select(d => checked((int)d)).ToArray());
            t.Span.Fill(f.Span[0]);
            v.Floats[output] = t;
        }
        else
        {
            long fill = value?.IntTensor?.Values[0] ?? 0;
            v.Ints[output] = new OnnxIntTensor(Enumerable.Repeat(fill, (int)count).ToArray(), shape);
        }
    }

    private static void Cast(OnnxNode node, Values v)
    {
        string input = node.Inputs[0];
        if (node.Int("to", 0) != (v.IsInt(input) ? 7 : 1))
        {
            throw new ArgumentException($"a cast to element type {node.Int("to", 0)} of a {(v.IsInt(input) ? "int64" : "float32")} value; only casts to the same type are supported");
        }
        Identity(node, v);
    }

    private static void Shape(OnnxNode node, Values v)
    {
        string input = node.Inputs[0];
        if (v.IsInt(input))
        {
            var shape = v.I(input).Shape;
            v.Ints[node.Outputs[0]] = new OnnxIntTensor(shape.ToArray(), [shape.Length]);
            return;
        }
        var x = v.F(input);
        var dims = new long[x.Rank];
        for (int d = 0; d < x.Rank; d++)
        {
            dims[d] = x.Shape[d];
        }
        v.Ints[node.Outputs[0]] = new OnnxIntTensor(dims, [dims.Length]);
    }

    private static void Equal(OnnxNode node, Values v)
    {
        var a = v.I(node.Inputs[0]);
        var b = v.I(node.Inputs[1]);
        int n = Math.Max(a.Values.Length, b.Values.Length);
        var values = new long[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = a.Values[a.Values.Length == 1 ? 0 : i] == b.Values[b.Values.Length == 1 ? 0 : i] ? 1 : 0;
        }
        v.Ints[node.Outputs[0]] = new OnnxIntTensor(values, a.Values.Length == n ? a.Shape : b.Shape);
    }

    private static void Where(OnnxNode node, Values v)
    {
        var c = v.I(node.Inputs[0]);
        var a = v.I(node.Inputs[1]);
        var b = v.I(node.Inputs[2]);
        int n = new[] { c.Values.Length, a.Values.Length, b.Values.Length }.Max();
        static long At(OnnxIntTensor t, int i) => t.Values[t.Values.Length == 1 ? 0 : i];
        var values = new long[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = At(c, i) != 0 ? At(a, i) : At(b, i);
        }
        v.Ints[node.Outputs[0]] = new OnnxIntTensor(values, c.Values.Length == n ? c.Shape : a.Values.Length == n ? a.Shape : b.Shape);
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
}
