using System.Buffers.Binary;
using Google.Protobuf;

namespace RobotRuntime.Tensors.Onnx;

/// <summary>One ONNX node: operator, input and output value names, attributes.</summary>
/// <param name="Name">The node's name (may be empty in the file; then "#index").</param>
/// <param name="OpType">The operator, e.g. "Conv".</param>
/// <param name="Domain">The operator set domain ("" for the default).</param>
/// <param name="Inputs">Input value names ("" for an omitted optional input).</param>
/// <param name="Outputs">Output value names.</param>
/// <param name="Attributes">Attributes by name.</param>
public sealed record OnnxNode(string Name, string OpType, string Domain, string[] Inputs, string[] Outputs, IReadOnlyDictionary<string, OnnxAttribute> Attributes)
{
    /// <summary>Integer attribute <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
    public long Int(string name, long fallback) => Attributes.TryGetValue(name, out var a) && a.Int is { } v ? v : fallback;

    /// <summary>Float attribute <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
    public float Float(string name, float fallback) => Attributes.TryGetValue(name, out var a) && a.Float is { } v ? v : fallback;

    /// <summary>Integer-list attribute <paramref name="name"/>, or null when absent.</summary>
    public long[]? Ints(string name) => Attributes.TryGetValue(name, out var a) ? a.Ints : null;

    /// <inheritdoc />
    public override string ToString() => $"{OpType} node '{Name}'";
}

/// <summary>An ONNX attribute value (the fields this reader understands).</summary>
public sealed class OnnxAttribute
{
    /// <summary>An "i" attribute.</summary>
    public long? Int { get; init; }

    /// <summary>An "f" attribute.</summary>
    public float? Float { get; init; }

    /// <summary>An "ints" attribute.</summary>
    public long[]? Ints { get; init; }

    /// <summary>An "s" attribute as UTF-8 text.</summary>
    public string? Text { get; init; }

    /// <summary>A "t" attribute holding float32 data.</summary>
    public Tensor? FloatTensor { get; init; }

    /// <summary>A "t" attribute holding int64 data (values and shape).</summary>
    public OnnxIntTensor? IntTensor { get; init; }
}

/// <summary>An int64 ONNX tensor (shape constants, indices).</summary>
/// <param name="Values">The values, row-major.</param>
/// <param name="Shape">Its dimensions (empty for a scalar).</param>
public sealed record OnnxIntTensor(long[] Values, long[] Shape);

/// <summary>A graph input or output: name, element type and dimensions (−1 where symbolic or unknown).</summary>
public sealed record OnnxValueInfo(string Name, int ElementType, long[] Dims);

/// <summary>
/// An ONNX model's graph as data: nodes in file order (which ONNX requires to be topological),
/// float32 and int64 initializers, inputs and outputs. It keeps the encoded nodes and initializers
/// so that the part of a model that computes an inner value can be written out as a model of its
/// own (<see cref="WritePrefix"/>), e.g. the frozen trunk of a partially fine-tuned PVR.
/// </summary>
/// <remarks>Setup only.</remarks>
public sealed class OnnxGraph
{
    private const int FloatType = 1, Int64Type = 7;
    private readonly List<byte[]> _nodeBytes = [];
    private readonly Dictionary<string, byte[]> _initializerBytes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _inputBytes = new(StringComparer.Ordinal);
    private readonly List<(int Field, byte[] Bytes, WireFormat.WireType Wire)> _modelFields = [];

    private OnnxGraph(string path) => SourcePath = path;

    /// <summary>The file this graph was read from.</summary>
    public string SourcePath { get; }

    /// <summary>Nodes in file (topological) order.</summary>
    public IReadOnlyList<OnnxNode> Nodes => _nodes;
    private readonly List<OnnxNode> _nodes = [];

    /// <summary>float32 initializers by name.</summary>
    public IReadOnlyDictionary<string, Tensor> FloatInitializers => _floats;
    private readonly Dictionary<string, Tensor> _floats = new(StringComparer.Ordinal);

    /// <summary>int64 initializers by name.</summary>
    public IReadOnlyDictionary<string, OnnxIntTensor> IntInitializers => _ints;
    private readonly Dictionary<string, OnnxIntTensor> _ints = new(StringComparer.Ordinal);

    /// <summary>Graph inputs that are not initializers.</summary>
    public IReadOnlyList<OnnxValueInfo> Inputs => _inputs;
    private readonly List<OnnxValueInfo> _inputs = [];

    /// <summary>Graph outputs.</summary>
    public IReadOnlyList<OnnxValueInfo> Outputs => _outputs;
    private readonly List<OnnxValueInfo> _outputs = [];

    /// <summary>Reads the model at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an ONNX model, or an initializer is external or malformed.</exception>
    public static OnnxGraph Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"ONNX model '{path}' does not exist.", path);
        }
        var result = new OnnxGraph(path);
        try
        {
            var model = new CodedInputStream(File.ReadAllBytes(path));
            bool sawGraph = false;
            uint tag;
            while ((tag = model.ReadTag()) != 0)
            {
                int field = WireFormat.GetTagFieldNumber(tag);
                var wire = WireFormat.GetTagWireType(tag);
                if (field == 7 && wire == WireFormat.WireType.LengthDelimited)
                {
                    sawGraph = true;
                    result.ReadGraph(model.ReadBytes());
                }
                else if (wire == WireFormat.WireType.LengthDelimited)
                {
                    result._modelFields.Add((field, model.ReadBytes().ToByteArray(), wire));
                }
                else if (wire == WireFormat.WireType.Varint)
                {
                    result._modelFields.Add((field, BitConverter.GetBytes(model.ReadInt64()), wire));
                }
                else
                {
                    model.SkipLastField();
                }
            }
            if (!sawGraph)
            {
                throw new InvalidDataException($"'{path}' has no graph; an ONNX ModelProto was expected.");
            }
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"'{path}' is not a valid ONNX (protobuf) file: {e.Message}", e);
        }
        result._inputs.RemoveAll(i => result.IsInitializer(i.Name));
        return result;
    }

    /// <summary>Whether <paramref name="value"/> is a float32 or int64 initializer.</summary>
    public bool IsInitializer(string value) => _floats.ContainsKey(value) || _ints.ContainsKey(value);

    /// <summary>The node that produces <paramref name="value"/>, or null (a graph input or an initializer).</summary>
    public OnnxNode? Producer(string value) => _nodes.FirstOrDefault(n => n.Outputs.Contains(value));

    /// <summary>
    /// The value where the nodes whose names start with <paramref name="nodePrefix"/> begin: the one
    /// activation (neither an initializer nor a constant) that those nodes, and every node after the
    /// first of them, read but that is computed before the first of them. For a PyTorch export of a
    /// ResNet this is the input of a stage, e.g. prefix "/layer4/" gives layer3's output.
    /// </summary>
    /// <exception cref="ArgumentException">No node has the prefix, or the nodes from there on read more than one earlier activation (the model cannot be split there).</exception>
    public string StageInput(string nodePrefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodePrefix);
        int first = _nodes.FindIndex(n => n.Name.StartsWith(nodePrefix, StringComparison.Ordinal));
        if (first < 0)
        {
            string examples = string.Join(", ", _nodes.Select(n => n.Name).Where(n => n.Length > 0).Take(6).Select(n => $"'{n}'"));
            throw new ArgumentException($"'{SourcePath}' has no node whose name starts with '{nodePrefix}'; its node names look like {examples}", nameof(nodePrefix));
        }
        var before = new HashSet<string>(_nodes.Take(first).SelectMany(n => n.Outputs), StringComparer.Ordinal);
        var constants = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in _nodes.Take(first))
        {
            // Constants, and Identity copies of initializers (exporters share equal constants that way).
            if (n.OpType == "Constant" || n.OpType == "Identity" && IsConstant(n.Inputs[0], constants))
            {
                constants.UnionWith(n.Outputs);
            }
        }
        var crossing = _nodes.Skip(first).SelectMany(n => n.Inputs)
            .Where(i => i.Length > 0 && (before.Contains(i) || _inputs.Any(g => g.Name == i)) && !constants.Contains(i))
            .Distinct().ToList();
        if (crossing.Count != 1)
        {
            throw new ArgumentException(
                $"'{SourcePath}' cannot be split at the nodes named '{nodePrefix}…': the nodes from there on read {crossing.Count} values computed before them ({string.Join(", ", crossing.Select(c => $"'{c}'"))}); exactly one was expected",
                nameof(nodePrefix));
        }
        return crossing[0];
    }

    /// <summary>
    /// Writes a model that computes <paramref name="value"/> from this graph's inputs: the nodes it
    /// depends on, their initializers, the original inputs, and <paramref name="value"/> as the one
    /// output "<paramref name="outputName"/>" of shape [batch, <paramref name="shapeWithoutBatch"/>…]
    /// (float32 of unstated shape when that is null: ONNX Runtime infers it).
    /// Written to a temporary name and renamed.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="value"/> is not computed by this graph.</exception>
    public void WritePrefix(string value, string outputName, int[]? shapeWithoutBatch, string path)
    {
        int producer = _nodes.FindIndex(n => n.Outputs.Contains(value));
        if (producer < 0)
        {
            throw new ArgumentException($"no node of '{SourcePath}' computes '{value}'", nameof(value));
        }
        var needed = new HashSet<string>(StringComparer.Ordinal) { value };
        var keep = new bool[producer + 1];
        for (int k = producer; k >= 0; k--)
        {
            if (_nodes[k].Outputs.Any(needed.Contains))
            {
                keep[k] = true;
                foreach (var i in _nodes[k].Inputs.Where(i => i.Length > 0))
                {
                    needed.Add(i);
                }
            }
        }
        byte[] graph = OnnxModelFile.GraphBuilder.Message(g =>
        {
            for (int k = 0; k <= producer; k++)
            {
                if (keep[k])
                {
                    g.WriteTag(1, WireFormat.WireType.LengthDelimited);
                    g.WriteBytes(ByteString.CopyFrom(_nodeBytes[k]));
                }
            }
            g.WriteTag(1, WireFormat.WireType.LengthDelimited);
            g.WriteBytes(ByteString.CopyFrom(OnnxModelFile.GraphBuilder.IdentityNode(value, outputName)));
            g.WriteTag(2, WireFormat.WireType.LengthDelimited);
            g.WriteString("prefix");
            foreach (var (name, bytes) in _initializerBytes)
            {
                if (needed.Contains(name))
                {
                    g.WriteTag(5, WireFormat.WireType.LengthDelimited);
                    g.WriteBytes(ByteString.CopyFrom(bytes));
                }
            }
            foreach (var (name, bytes) in _inputBytes)
            {
                if (_inputs.Any(i => i.Name == name))
                {
                    g.WriteTag(11, WireFormat.WireType.LengthDelimited);
                    g.WriteBytes(ByteString.CopyFrom(bytes));
                }
            }
            g.WriteTag(12, WireFormat.WireType.LengthDelimited);
            g.WriteBytes(ByteString.CopyFrom(shapeWithoutBatch is null
                ? OnnxModelFile.GraphBuilder.FloatValueInfoWithoutShape(outputName)
                : OnnxModelFile.GraphBuilder.ValueInfo(outputName, [1, .. shapeWithoutBatch])));
        });
        byte[] model = OnnxModelFile.GraphBuilder.Message(m =>
        {
            foreach (var (field, bytes, wire) in _modelFields)
            {
                m.WriteTag(field, wire);
                if (wire == WireFormat.WireType.Varint)
                {
                    m.WriteInt64(BitConverter.ToInt64(bytes));
                }
                else
                {
                    m.WriteBytes(ByteString.CopyFrom(bytes));
                }
            }
            m.WriteTag(7, WireFormat.WireType.LengthDelimited);
            m.WriteBytes(ByteString.CopyFrom(graph));
        });
        string full = Path.GetFullPath(path);
        string temporary = full + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.WriteAllBytes(temporary, model);
        File.Move(temporary, full, overwrite: true);
    }

    private bool IsConstant(string value, HashSet<string> constants) =>
        IsInitializer(value) || constants.Contains(value);

    private void ReadGraph(ByteString graphBytes)
    {
        var graph = graphBytes.CreateCodedInput();
        uint tag;
        while ((tag = graph.ReadTag()) != 0)
        {
            int field = WireFormat.GetTagFieldNumber(tag);
            if (WireFormat.GetTagWireType(tag) != WireFormat.WireType.LengthDelimited)
            {
                graph.SkipLastField();
                continue;
            }
            var bytes = graph.ReadBytes();
            switch (field)
            {
                case 1:
                    _nodeBytes.Add(bytes.ToByteArray());
                    _nodes.Add(ReadNode(bytes, _nodes.Count));
                    break;
                case 5:
                    var t = ReadTensor(bytes, "initializer");
                    _initializerBytes[t.Name] = bytes.ToByteArray();
                    if (t.Floats is not null)
                    {
                        _floats[t.Name] = t.Floats;
                    }
                    else if (t.Ints is not null)
                    {
                        _ints[t.Name] = t.Ints;
                    }
                    break;
                case 11:
                    var input = ReadValueInfo(bytes);
                    _inputBytes[input.Name] = bytes.ToByteArray();
                    _inputs.Add(input);
                    break;
                case 12:
                    _outputs.Add(ReadValueInfo(bytes));
                    break;
            }
        }
    }

    private OnnxNode ReadNode(ByteString bytes, int index)
    {
        var input = bytes.CreateCodedInput();
        var inputs = new List<string>();
        var outputs = new List<string>();
        var attributes = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal);
        string name = "", op = "", domain = "";
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: inputs.Add(input.ReadString()); break;
                case 2: outputs.Add(input.ReadString()); break;
                case 3: name = input.ReadString(); break;
                case 4: op = input.ReadString(); break;
                case 5:
                    var (attributeName, attribute) = ReadAttribute(input.ReadBytes(), name);
                    attributes[attributeName] = attribute;
                    break;
                case 7: domain = input.ReadString(); break;
                default: input.SkipLastField(); break;
            }
        }
        return new OnnxNode(name.Length > 0 ? name : $"#{index}", op, domain, inputs.ToArray(), outputs.ToArray(), attributes);
    }

    private (string Name, OnnxAttribute Value) ReadAttribute(ByteString bytes, string node)
    {
        var input = bytes.CreateCodedInput();
        string name = "";
        long? i = null;
        float? f = null;
        string? s = null;
        var ints = new List<long>();
        bool sawInts = false;
        (string Name, Tensor? Floats, OnnxIntTensor? Ints)? t = null;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            int field = WireFormat.GetTagFieldNumber(tag);
            var wire = WireFormat.GetTagWireType(tag);
            switch (field)
            {
                case 1: name = input.ReadString(); break;
                case 2: f = input.ReadFloat(); break;
                case 3: i = input.ReadInt64(); break;
                case 4: s = input.ReadBytes().ToStringUtf8(); break;
                case 5: t = ReadTensor(input.ReadBytes(), $"attribute of node '{node}'"); break;
                case 8 when wire == WireFormat.WireType.Varint:
                    sawInts = true;
                    ints.Add(input.ReadInt64());
                    break;
                case 8 when wire == WireFormat.WireType.LengthDelimited:
                    sawInts = true;
                    var packed = input.ReadBytes().CreateCodedInput();
                    while (!packed.IsAtEnd)
                    {
                        ints.Add(packed.ReadInt64());
                    }
                    break;
                default: input.SkipLastField(); break;
            }
        }
        return (name, new OnnxAttribute
        {
            Int = i,
            Float = f,
            Text = s,
            Ints = sawInts ? ints.ToArray() : null,
            FloatTensor = t?.Floats,
            IntTensor = t?.Ints,
        });
    }

    private static OnnxValueInfo ReadValueInfo(ByteString bytes)
    {
        var input = bytes.CreateCodedInput();
        string name = "";
        int elementType = 0;
        var dims = new List<long>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: name = input.ReadString(); break;
                case 2:
                    // TypeProto.tensor_type (1) → TensorTypeProto: elem_type (1), shape (2) → dim (1) → dim_value (1) | dim_param (2).
                    var type = input.ReadBytes().CreateCodedInput();
                    uint t;
                    while ((t = type.ReadTag()) != 0)
                    {
                        if (WireFormat.GetTagFieldNumber(t) != 1)
                        {
                            type.SkipLastField();
                            continue;
                        }
                        var tensorType = type.ReadBytes().CreateCodedInput();
                        uint tt;
                        while ((tt = tensorType.ReadTag()) != 0)
                        {
                            if (WireFormat.GetTagFieldNumber(tt) == 1)
                            {
                                elementType = tensorType.ReadInt32();
                            }
                            else if (WireFormat.GetTagFieldNumber(tt) == 2)
                            {
                                var shape = tensorType.ReadBytes().CreateCodedInput();
                                uint st;
                                while ((st = shape.ReadTag()) != 0)
                                {
                                    var dim = shape.ReadBytes().CreateCodedInput();
                                    long value = -1;
                                    uint dt;
                                    while ((dt = dim.ReadTag()) != 0)
                                    {
                                        if (WireFormat.GetTagFieldNumber(dt) == 1)
                                        {
                                            value = dim.ReadInt64();
                                        }
                                        else
                                        {
                                            dim.SkipLastField();
                                        }
                                    }
                                    dims.Add(value);
                                }
                            }
                            else
                            {
                                tensorType.SkipLastField();
                            }
                        }
                    }
                    break;
                default: input.SkipLastField(); break;
            }
        }
        return new OnnxValueInfo(name, elementType, dims.ToArray());
    }

    private (string Name, Tensor? Floats, OnnxIntTensor? Ints) ReadTensor(ByteString bytes, string what)
    {
        var input = bytes.CreateCodedInput();
        var dims = new List<long>();
        var floats = new List<float>();
        var longs = new List<long>();
        int dataType = 0;
        string name = "";
        ByteString? raw = null;
        bool external = false;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            int field = WireFormat.GetTagFieldNumber(tag);
            var wire = WireFormat.GetTagWireType(tag);
            switch (field)
            {
                case 1 when wire == WireFormat.WireType.Varint: dims.Add(input.ReadInt64()); break;
                case 1 when wire == WireFormat.WireType.LengthDelimited:
                    var packedDims = input.ReadBytes().CreateCodedInput();
                    while (!packedDims.IsAtEnd)
                    {
                        dims.Add(packedDims.ReadInt64());
                    }
                    break;
                case 2: dataType = input.ReadInt32(); break;
                case 4 when wire == WireFormat.WireType.Fixed32: floats.Add(input.ReadFloat()); break;
                case 4 when wire == WireFormat.WireType.LengthDelimited:
                    var packed = input.ReadBytes().Span;
                    for (int i = 0; i + 4 <= packed.Length; i += 4)
                    {
                        floats.Add(BinaryPrimitives.ReadSingleLittleEndian(packed[i..]));
                    }
                    break;
                case 7 when wire == WireFormat.WireType.Varint: longs.Add(input.ReadInt64()); break;
                case 7 when wire == WireFormat.WireType.LengthDelimited:
                    var packedLongs = input.ReadBytes().CreateCodedInput();
                    while (!packedLongs.IsAtEnd)
                    {
                        longs.Add(packedLongs.ReadInt64());
                    }
                    break;
                case 8: name = input.ReadString(); break;
                case 9: raw = input.ReadBytes(); break;
                case 14: external = input.ReadEnum() == 1; break;
                default: input.SkipLastField(); break;
            }
        }
        if (dataType is not (FloatType or Int64Type))
        {
            return (name, null, null);
        }
        if (external)
        {
            throw new InvalidDataException($"Tensor '{name}' ({what}) in '{SourcePath}' is stored in an external data file, which is not supported; save the model with its weights inside.");
        }
        long count = 1;
        foreach (var d in dims)
        {
            count *= d;
        }
        if (dataType == Int64Type)
        {
            long[] values;
            if (raw is not null)
            {
                if (raw.Length != 8 * count)
                {
                    throw new InvalidDataException($"Tensor '{name}' ({what}) in '{SourcePath}' has {raw.Length} bytes of int64 data but {count} values were expected.");
                }
                values = new long[count];
                for (int i = 0; i < count; i++)
                {
                    values[i] = BinaryPrimitives.ReadInt64LittleEndian(raw.Span[(8 * i)..]);
                }
            }
            else
            {
                values = longs.ToArray();
                if (values.Length != count)
                {
                    throw new InvalidDataException($"Tensor '{name}' ({what}) in '{SourcePath}' has {values.Length} int64 values but {count} were expected.");
                }
            }
            return (name, null, new OnnxIntTensor(values, dims.ToArray()));
        }
        var tensor = Tensor.Zeros(dims.Select(d => checked((int)d)).ToArray());
        if (raw is not null)
        {
            if (raw.Length != 4 * tensor.Length)
            {
                throw new InvalidDataException($"Tensor '{name}' ({what}) in '{SourcePath}' has {raw.Length} bytes of float data but shape {tensor.ShapeString} needs {4 * tensor.Length}.");
            }
            for (int i = 0; i < tensor.Length; i++)
            {
                tensor.Span[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Span[(4 * i)..]);
            }
        }
        else
        {
            if (floats.Count != tensor.Length)
            {
                throw new InvalidDataException($"Tensor '{name}' ({what}) in '{SourcePath}' has {floats.Count} float values but shape {tensor.ShapeString} needs {tensor.Length}.");
            }
            for (int i = 0; i < floats.Count; i++)
            {
                tensor.Span[i] = floats[i];
            }
        }
        return (name, tensor, null);
    }
}
