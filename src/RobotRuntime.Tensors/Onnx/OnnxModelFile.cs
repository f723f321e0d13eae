using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using RobotRuntime.Tensors.Modules;

namespace RobotRuntime.Tensors.Onnx;

/// <summary>
/// ONNX files without ONNX Runtime: reads the float32 initializers of a model by name (to start a
/// trainable tail from pre-trained weights) and exports an inference graph of a
/// <see cref="Module"/> (opset 17). The protobuf encoding is written and parsed here with
/// Google.Protobuf's coded streams; field numbers are those of onnx/onnx.proto.
/// </summary>
/// <remarks>Setup only.</remarks>
public static class OnnxModelFile
{
    /// <summary>The ONNX opset the exporter targets.</summary>
    public const int Opset = 17;

    private const int FloatType = 1;

    /// <summary>
    /// Reads every float32 initializer of the model at <paramref name="path"/>, by name.
    /// Initializers of other element types (shape constants, integer tables) are skipped.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an ONNX model, or a float32 initializer is stored externally or is malformed.</exception>
    public static Dictionary<string, Tensor> ReadInitializers(string path) =>
        new(OnnxGraph.Load(path).FloatInitializers, StringComparer.Ordinal);

    /// <summary>
    /// Copies initializers into <paramref name="parameters"/>: parameter p takes the initializer
    /// named <paramref name="initializerName"/>(p.Name) (identity when null). Shapes must match.
    /// Returns the number of parameters loaded; parameters without an initializer are left alone
    /// unless <paramref name="strict"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">A shape differs, or (strict) an initializer is missing.</exception>
    public static int LoadInitializersInto(string path, IEnumerable<Parameter> parameters, Func<string, string>? initializerName = null, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var initializers = ReadInitializers(path);
        int loaded = 0;
        foreach (var p in parameters)
        {
            string name = initializerName?.Invoke(p.Name) ?? p.Name;
            if (!initializers.TryGetValue(name, out var t))
            {
                if (strict)
                {
                    throw new InvalidDataException($"'{path}' has no float32 initializer named '{name}' for parameter '{p.Name}' of shape {p.Value.ShapeString}.");
                }
                continue;
            }
            if (!t.Shape.SequenceEqual(p.Value.Shape))
            {
                throw new InvalidDataException($"Initializer '{name}' in '{path}' has shape {t.ShapeString} but parameter '{p.Name}' has shape {p.Value.ShapeString}.");
            }
            t.Span.CopyTo(p.Value.Span);
            loaded++;
        }
        return loaded;
    }

    /// <summary>
    /// Writes <paramref name="model"/> as an ONNX inference graph with one input "input" shaped like
    /// <paramref name="sampleInput"/> but with a symbolic first dimension "batch", and one output
    /// "output". Parameters become initializers under their names. Supported layers:
    /// <see cref="Linear"/> (Gemm on rank-2 input; on higher ranks MatMul by the transposed weight, then Add),
    /// <see cref="LayerNorm"/>, <see cref="Activation"/>,
    /// <see cref="Conv2d"/>, <see cref="BatchNorm"/> (evaluation mode), <see cref="Pool2d"/>,
    /// <see cref="Flatten"/>, <see cref="SimNorm"/> (rank-2 input), <see cref="PatchEmbedding"/> (Conv, Reshape,
    /// Transpose, Add of the positional table), <see cref="MultiHeadSelfAttention"/> (rank-3 input: MatMul, Slice,
    /// Reshape, Transpose, Div, Softmax), <see cref="TokenMean"/> (ReduceMean), <see cref="Residual"/> and
    /// <see cref="Sequential"/> of those — all standard operators of the opset.
    /// The file is written to a temporary name and renamed.
    /// </summary>
    /// <exception cref="NotSupportedException">A layer is not in the supported list, or a BatchNorm is in training mode.</exception>
    public static void Export(Module model, Tensor sampleInput, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sampleInput);
        ArgumentException.ThrowIfNullOrEmpty(path);
        Tensor sampleOutput;
        using (var tape = new Tape())
        using (tape.Record())
        using (Tape.NoGrad())
        {
            sampleOutput = model.Forward(sampleInput).Clone();
        }
        var graph = new GraphBuilder();
        string output = graph.Add(model, "input", sampleInput.Rank);
        byte[] bytes = graph.ToModel(sampleInput, output, sampleOutput);
        string full = Path.GetFullPath(path);
        string temporary = full + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, full, overwrite: true);
    }

    internal sealed class GraphBuilder
    {
        private readonly List<byte[]> _nodes = [];
        private readonly List<byte[]> _initializers = [];
        private int _counter;

        public string Add(Module module, string input, int rank)
        {
            switch (module)
            {
                case Sequential sequential:
                    foreach (var layer in sequential.Layers)
                    {
                        input = Add(layer, input, rank);
                        rank = RankAfter(layer, rank);
                    }
                    return input;
                case Linear linear when rank > 2:
                    return MatMulByTransposed(input, linear.Weight, linear.Bias);
                case Linear linear:
                    RequireRank(rank, 2, "Linear");
                    return Node("Gemm", [input, Init(linear.Weight), .. linear.Bias is null ? Array.Empty<string>() : [Init(linear.Bias)]],
                        w => IntAttribute(w, "transB", 1));
                case PatchEmbedding patches:
                    RequireRank(rank, 4, "PatchEmbedding");
                    {
                        string grid = Add(patches.Projection, input, rank);
                        string flat = Node("Reshape", [grid, Int64Constant([0, patches.Width, -1])], null);
                        string tokens = Node("Transpose", [flat], w => IntsAttribute(w, "perm", [0, 2, 1]));
                        return Node("Add", [tokens, Constant(patches.Position)], null);
                    }
                case MultiHeadSelfAttention attention:
                    RequireRank(rank, 3, "MultiHeadSelfAttention");
                    return AddAttention(attention, input);
                case TokenMean:
                    RequireRank(rank, 3, "TokenMean");
                    return Node("ReduceMean", [input], w => { IntsAttribute(w, "axes", [1]); IntAttribute(w, "keepdims", 0); });
                case LayerNorm norm:
                    return Node("LayerNormalization", [input, Init(norm.Weight), Init(norm.Bias)],
                        w => { IntAttribute(w, "axis", -1); FloatAttribute(w, "epsilon", norm.Eps); });
                case Activation activation:
                    return AddActivation(activation.Kind, input);
                case Conv2d conv:
                    int k = conv.Weight.Value.Shape[2];
                    return Node("Conv", [input, Init(conv.Weight), .. conv.Bias is null ? Array.Empty<string>() : [Init(conv.Bias)]], w =>
                    {
                        IntsAttribute(w, "kernel_shape", [k, k]);
                        IntsAttribute(w, "strides", [conv.Stride, conv.Stride]);
                        IntsAttribute(w, "pads", [conv.Padding, conv.Padding, conv.Padding, conv.Padding]);
                    });
                case BatchNorm bn:
                    if (bn.Training)
                    {
                        throw new NotSupportedException($"BatchNorm '{bn.Weight.Name}' is in training mode; set Training = false before exporting an inference graph.");
                    }
                    return Node("BatchNormalization",
                        [input, Init(bn.Weight), Init(bn.Bias), Constant(bn.RunningMean), Constant(bn.RunningVariance)],
                        w => FloatAttribute(w, "epsilon", bn.Eps));
                case Pool2d pool:
                    return Node(pool.Max ? "MaxPool" : "AveragePool", [input], w =>
                    {
                        IntsAttribute(w, "kernel_shape", [pool.Kernel, pool.Kernel]);
                        IntsAttribute(w, "strides", [pool.Stride, pool.Stride]);
                    });
                case Flatten:
                    return Node("Flatten", [input], w => IntAttribute(w, "axis", 1));
                case Residual residual:
                    return Node("Add", [input, Add(residual.Inner, input, rank)], null);
                case SimNorm simNorm:
                    RequireRank(rank, 2, "SimNorm");
                    string grouped = Node("Reshape", [input, Int64Constant([0, -1, simNorm.GroupSize])], null);
                    string soft = Node("Softmax", [grouped], w => IntAttribute(w, "axis", -1));
                    return Node("Reshape", [soft, Int64Constant([0, -1])], null);
                default:
                    throw new NotSupportedException($"ONNX export does not support the layer type {module.GetType().Name}.");
            }
        }

        /// <summary>The rank of a layer's output for an input of <paramref name="rank"/>.</summary>
        private static int RankAfter(Module layer, int rank) => layer switch
        {
            Flatten => 2,
            PatchEmbedding => 3,
            TokenMean => rank - 1,
            Sequential sequential => sequential.Layers.Aggregate(rank, (r, inner) => RankAfter(inner, r)),
            _ => rank,
        };

        /// <summary>
        /// x [..., in] · Wᵀ (+ b) with W kept as its [out, in] initializer under its own name (Transpose
        /// node; ONNX Runtime folds it into a constant), for inputs of rank above 2, which Gemm does not take.
        /// </summary>
        private string MatMulByTransposed(string x, Parameter weight, Parameter? bias)
        {
            string transposed = Node("Transpose", [Init(weight)], w => IntsAttribute(w, "perm", [1, 0]));
            string y = Node("MatMul", [x, transposed], null);
            return bias is null ? y : Node("Add", [y, Init(bias)], null);
        }

        /// <summary>
        /// Multi-head self-attention on x [B, T, D] as <see cref="Ops.MultiHeadSelfAttention"/> computes it:
        /// q, k, v sliced from one projection and split into heads [B, H, T, D/H] (k transposed to
        /// [B, H, D/H, T]), softmax(q·kᵀ / √(D/H)) over the last axis, times v, heads merged, out-projection.
        /// </summary>
        private string AddAttention(MultiHeadSelfAttention attention, string x)
        {
            int model = attention.OutProjectionWeight.Value.Shape[0];
            int heads = attention.Heads, width = model / heads;
            string qkv = MatMulByTransposed(x, attention.InProjectionWeight, attention.InProjectionBias);
            string Head(int part, long[] permutation)
            {
                string slice = Node("Slice", [qkv, Int64Constant([part * model]), Int64Constant([(part + 1) * model]), Int64Constant([2])], null);
                string split = Node("Reshape", [slice, Int64Constant([0, 0, heads, width])], null);
                return Node("Transpose", [split], w => IntsAttribute(w, "perm", permutation));
            }
            string q = Head(0, [0, 2, 1, 3]);
            string k = Head(1, [0, 2, 3, 1]);
            string v = Head(2, [0, 2, 1, 3]);
            string scores = Node("Div", [Node("MatMul", [q, k], null), Scalar(MathF.Sqrt(width))], null);
            string weights = Node("Softmax", [scores], w => IntAttribute(w, "axis", -1));
            string mixed = Node("Transpose", [Node("MatMul", [weights, v], null)], w => IntsAttribute(w, "perm", [0, 2, 1, 3]));
            string merged = Node("Reshape", [mixed, Int64Constant([0, 0, model])], null);
            return MatMulByTransposed(merged, attention.OutProjectionWeight, attention.OutProjectionBias);
        }

        private static void RequireRank(int rank, int expected, string layer)
        {
            if (rank != expected)
            {
                throw new NotSupportedException($"ONNX export of {layer} supports rank-{expected} inputs only; this one has rank {rank}.");
            }
        }

        private string AddActivation(ActivationKind kind, string x)
        {
            switch (kind)
            {
                case ActivationKind.Relu: return Node("Relu", [x], null);
                case ActivationKind.Tanh: return Node("Tanh", [x], null);
                case ActivationKind.Sigmoid: return Node("Sigmoid", [x], null);
                case ActivationKind.Elu: return Node("Elu", [x], w => FloatAttribute(w, "alpha", 1f));
                case ActivationKind.Mish:
                    // Opset 17 has no Mish: x·tanh(softplus(x)).
                    return Node("Mul", [x, Node("Tanh", [Node("Softplus", [x], null)], null)], null);
                default:
                    // Opset 17 has no Gelu: 0.5·x·(1 + erf(x/√2)).
                    string erf = Node("Erf", [Node("Div", [x, Scalar(MathF.Sqrt(2f))], null)], null);
                    string onePlus = Node("Add", [erf, Scalar(1f)], null);
                    return Node("Mul", [Node("Mul", [x, onePlus], null), Scalar(0.5f)], null);
            }
        }

        private string Node(string opType, string[] inputs, Action<CodedOutputStream>? attributes)
        {
            string output = $"{opType.ToLowerInvariant()}_{_counter++}";
            _nodes.Add(Message(w =>
            {
                foreach (var i in inputs)
                {
                    w.WriteTag(1, WireFormat.WireType.LengthDelimited);
                    w.WriteString(i);
                }
                w.WriteTag(2, WireFormat.WireType.LengthDelimited);
                w.WriteString(output);
                w.WriteTag(3, WireFormat.WireType.LengthDelimited);
                w.WriteString(output);
                w.WriteTag(4, WireFormat.WireType.LengthDelimited);
                w.WriteString(opType);
                attributes?.Invoke(w);
            }));
            return output;
        }

        private string Init(Parameter p)
        {
            _initializers.Add(TensorMessage(p.Name, p.Value.Shape, FloatType, System.Runtime.InteropServices.MemoryMarshal.AsBytes(p.Value.Span).ToArray()));
            return p.Name;
        }

        private string Constant(Tensor t)
        {
            string name = $"const_{_counter++}";
            _initializers.Add(TensorMessage(name, t.Shape, FloatType, MemoryMarshal.AsBytes(t.Span).ToArray()));
            return name;
        }

        private string Scalar(float value) => Constant(Tensor.Scalar(value));

        private string Int64Constant(long[] values)
        {
            string name = $"const_{_counter++}";
            _initializers.Add(TensorMessage(name, [values.Length], 7, MemoryMarshal.AsBytes(values.AsSpan()).ToArray()));
            return name;
        }

        private static byte[] TensorMessage(string name, ReadOnlySpan<int> shape, int dataType, byte[] littleEndianData)
        {
            var dims = shape.ToArray();
            return Message(w =>
            {
                foreach (int d in dims)
                {
                    w.WriteTag(1, WireFormat.WireType.Varint);
                    w.WriteInt64(d);
                }
                w.WriteTag(2, WireFormat.WireType.Varint);
                w.WriteInt32(dataType);
                w.WriteTag(8, WireFormat.WireType.LengthDelimited);
                w.WriteString(name);
                w.WriteTag(9, WireFormat.WireType.LengthDelimited);
                w.WriteBytes(ByteString.CopyFrom(littleEndianData));
            });
        }

        private static void IntAttribute(CodedOutputStream w, string name, long value) => Attribute(w, a =>
        {
            a.WriteTag(1, WireFormat.WireType.LengthDelimited);
            a.WriteString(name);
            a.WriteTag(3, WireFormat.WireType.Varint);
            a.WriteInt64(value);
            a.WriteTag(20, WireFormat.WireType.Varint);
            a.WriteInt32(2);
        });

        private static void FloatAttribute(CodedOutputStream w, string name, float value) => Attribute(w, a =>
        {
            a.WriteTag(1, WireFormat.WireType.LengthDelimited);
            a.WriteString(name);
            a.WriteTag(2, WireFormat.WireType.Fixed32);
            a.WriteFloat(value);
            a.WriteTag(20, WireFormat.WireType.Varint);
            a.WriteInt32(1);
        });

        private static void IntsAttribute(CodedOutputStream w, string name, long[] values) => Attribute(w, a =>
        {
            a.WriteTag(1, WireFormat.WireType.LengthDelimited);
            a.WriteString(name);
            foreach (long v in values)
            {
                a.WriteTag(8, WireFormat.WireType.Varint);
                a.WriteInt64(v);
            }
            a.WriteTag(20, WireFormat.WireType.Varint);
            a.WriteInt32(7);
        });

        private static void Attribute(CodedOutputStream node, Action<CodedOutputStream> body)
        {
            node.WriteTag(5, WireFormat.WireType.LengthDelimited);
            node.WriteBytes(ByteString.CopyFrom(Message(body)));
        }

        /// <summary>An Identity node that names <paramref name="input"/> <paramref name="output"/>.</summary>
        internal static byte[] IdentityNode(string input, string output) => Message(n =>
        {
            n.WriteTag(1, WireFormat.WireType.LengthDelimited);
            n.WriteString(input);
            n.WriteTag(2, WireFormat.WireType.LengthDelimited);
            n.WriteString(output);
            n.WriteTag(4, WireFormat.WireType.LengthDelimited);
            n.WriteString("Identity");
        });

        internal static byte[] FloatValueInfoWithoutShape(string name) => Message(v =>
        {
            v.WriteTag(1, WireFormat.WireType.LengthDelimited);
            v.WriteString(name);
            v.WriteTag(2, WireFormat.WireType.LengthDelimited);
            v.WriteBytes(ByteString.CopyFrom(Message(t =>
            {
                t.WriteTag(1, WireFormat.WireType.LengthDelimited);
                t.WriteBytes(ByteString.CopyFrom(Message(tt =>
                {
                    tt.WriteTag(1, WireFormat.WireType.Varint);
                    tt.WriteInt32(FloatType);
                })));
            })));
        });

        internal static byte[] ValueInfo(string name, ReadOnlySpan<int> shape)
        {
            var dims = shape.ToArray();
            byte[] shapeMessage = Message(s =>
            {
                for (int i = 0; i < dims.Length; i++)
                {
                    int index = i;
                    s.WriteTag(1, WireFormat.WireType.LengthDelimited);
                    s.WriteBytes(ByteString.CopyFrom(Message(d =>
                    {
                        if (index == 0)
                        {
                            d.WriteTag(2, WireFormat.WireType.LengthDelimited);
                            d.WriteString("batch");
                        }
                        else
                        {
                            d.WriteTag(1, WireFormat.WireType.Varint);
                            d.WriteInt64(dims[index]);
                        }
                    })));
                }
            });
            byte[] tensorType = Message(t =>
            {
                t.WriteTag(1, WireFormat.WireType.Varint);
                t.WriteInt32(FloatType);
                t.WriteTag(2, WireFormat.WireType.LengthDelimited);
                t.WriteBytes(ByteString.CopyFrom(shapeMessage));
            });
            return Message(v =>
            {
                v.WriteTag(1, WireFormat.WireType.LengthDelimited);
                v.WriteString(name);
                v.WriteTag(2, WireFormat.WireType.LengthDelimited);
                v.WriteBytes(ByteString.CopyFrom(Message(t =>
                {
                    t.WriteTag(1, WireFormat.WireType.LengthDelimited);
                    t.WriteBytes(ByteString.CopyFrom(tensorType));
                })));
            });
        }

        public byte[] ToModel(Tensor sampleInput, string output, Tensor sampleOutput)
        {
            // The last node's output is renamed "output" through an Identity node.
            string last = output;
            byte[] graph = Message(g =>
            {
                foreach (var n in _nodes)
                {
                    g.WriteTag(1, WireFormat.WireType.LengthDelimited);
                    g.WriteBytes(ByteString.CopyFrom(n));
                }
                g.WriteTag(1, WireFormat.WireType.LengthDelimited);
                g.WriteBytes(ByteString.CopyFrom(IdentityNode(last, "output")));
                g.WriteTag(2, WireFormat.WireType.LengthDelimited);
                g.WriteString("robotruntime");
                foreach (var i in _initializers)
                {
                    g.WriteTag(5, WireFormat.WireType.LengthDelimited);
                    g.WriteBytes(ByteString.CopyFrom(i));
                }
                g.WriteTag(11, WireFormat.WireType.LengthDelimited);
                g.WriteBytes(ByteString.CopyFrom(ValueInfo("input", sampleInput.Shape)));
                g.WriteTag(12, WireFormat.WireType.LengthDelimited);
                g.WriteBytes(ByteString.CopyFrom(ValueInfo("output", sampleOutput.Shape)));
            });
            return Message(m =>
            {
                m.WriteTag(1, WireFormat.WireType.Varint);
                m.WriteInt64(8);
                m.WriteTag(2, WireFormat.WireType.LengthDelimited);
                m.WriteString("RobotRuntime.Tensors");
                m.WriteTag(7, WireFormat.WireType.LengthDelimited);
                m.WriteBytes(ByteString.CopyFrom(graph));
                m.WriteTag(8, WireFormat.WireType.LengthDelimited);
                m.WriteBytes(ByteString.CopyFrom(Message(o =>
                {
                    o.WriteTag(1, WireFormat.WireType.LengthDelimited);
                    o.WriteString("");
                    o.WriteTag(2, WireFormat.WireType.Varint);
                    o.WriteInt64(Opset);
                })));
            });
        }

        internal static byte[] Message(Action<CodedOutputStream> write)
        {
            using var buffer = new MemoryStream();
            using (var stream = new CodedOutputStream(buffer, leaveOpen: true))
            {
                write(stream);
            }
            return buffer.ToArray();
        }
    }
}
