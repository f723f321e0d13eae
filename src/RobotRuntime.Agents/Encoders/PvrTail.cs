using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using RobotRuntime.Onnx;
using RobotRuntime.Tensors;
using RobotRuntime.Tensors.Modules;
using RobotRuntime.Tensors.Onnx;
using RobotRuntime.Vision.Encoders;

namespace RobotRuntime.Agents.Encoders;

/// <summary>
/// The trainable part of a PVR, run by the engine from the PVR's own ONNX graph and initializers
/// (<see cref="OnnxGraphModule"/>): in <see cref="EncoderMode.Partial"/> the nodes from the split
/// point on (the zoo entry's <c>trainableFrom</c>, e.g. ResNet's last stage), while ONNX Runtime runs
/// the frozen trunk before it, written out of the same file by <see cref="OnnxGraph.WritePrefix"/>;
/// in <see cref="EncoderMode.Full"/> the whole graph from pixels, after the zoo's normalisation.
/// </summary>
public sealed class PvrTail : Module
{
    private readonly OnnxGraphModule _graph;
    private readonly Tensor? _scale, _shift;
    private readonly EmbeddingSelector _selector;
    private readonly int _registers;

    private PvrTail(OnnxGraphModule graph, int[] inputShape, int outputWidth, Tensor? scale, Tensor? shift, EmbeddingSelector selector, int registers,
        PvrModel? trunk, string? trunkFile)
    {
        _graph = graph;
        InputShape = inputShape;
        OutputWidth = outputWidth;
        _scale = scale;
        _shift = shift;
        _selector = selector;
        _registers = registers;
        Trunk = trunk;
        TrunkFile = trunkFile;
    }

    /// <summary>Shape of one camera frame's input without the batch dimension: the trunk's output in partial mode (e.g. [C, H, W]), [3, H, W] in full mode.</summary>
    public int[] InputShape { get; }

    /// <summary>Floats out per camera frame (the zoo's embedding size).</summary>
    public int OutputWidth { get; }

    /// <summary>Partial mode: the zoo entry of the frozen trunk (its output flattened is what replay stores); null in full mode.</summary>
    public PvrModel? Trunk { get; }

    /// <summary>Partial mode: the trunk's ONNX file, written from the PVR's file.</summary>
    public string? TrunkFile { get; }

    /// <summary>The engine's graph (operators, parameter names).</summary>
    public OnnxGraphModule Graph => _graph;

    /// <summary>
    /// Builds the tail of <paramref name="model"/> (file <paramref name="pvrFile"/>) for <paramref name="mode"/>.
    /// Partial mode splits at <paramref name="trainableFrom"/> (default: the zoo entry's) and writes the trunk
    /// to <paramref name="cacheFolder"/> (default: <see cref="DefaultCacheFolder"/>), named by the PVR's hash and
    /// the split, so the same split of the same file is written once. Full mode needs frames of the model's
    /// input size (<paramref name="imageSize"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The mode is neither partial nor full, the zoo entry does not say where to split, the split is not clean, or (full) the image size differs from the model's.</exception>
    /// <exception cref="NotSupportedException">The trainable part uses an operator the engine does not run; the message names the node.</exception>
    public static PvrTail Create(PvrModel model, string pvrFile, EncoderMode mode, int imageSize, string? trainableFrom = null, string? cacheFolder = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (mode is not (EncoderMode.Partial or EncoderMode.Full))
        {
            throw new ArgumentException($"a PVR tail is for partial or full mode, not {mode}", nameof(mode));
        }
        if (model.Selector == EmbeddingSelector.MeanPatch)
        {
            throw new ArgumentException($"PVR '{model.Id}': the mean-patch selector is not supported for fine-tuning in the engine; use cls, cls+registers, embedding or flatten");
        }
        var graph = OnnxGraph.Load(pvrFile);
        var spec = model.Preprocess;
        if (mode == EncoderMode.Full)
        {
            if (imageSize != spec.Height || imageSize != spec.Width)
            {
                throw new ArgumentException($"full fine-tuning feeds the simulator's images straight into PVR '{model.Id}', which takes {spec.Height}×{spec.Width}; set the agent's imageSize to {spec.Height} (it is {imageSize})");
            }
            var module = OnnxGraphModule.Create(graph, model.InputName, model.OutputName, "pvr.");
            // Planes p ∈ [−0.5, 0.5] are pixel/255 − 0.5; the PVR wants (pixel·scale − mean)/std per channel.
            var scale = Tensor.Zeros(3, spec.Height, spec.Width);
            var shift = Tensor.Zeros(3, spec.Height, spec.Width);
            int plane = spec.Height * spec.Width;
            for (int c = 0; c < 3; c++)
            {
                float k = 255f * spec.Scale / spec.Std[c];
                scale.Span.Slice(c * plane, plane).Fill(k);
                shift.Span.Slice(c * plane, plane).Fill(0.5f * k - spec.Mean[c] / spec.Std[c]);
            }
            if (spec.ColorOrder != RobotRuntime.Vision.Preprocessing.ColorOrder.Rgb)
            {
                throw new ArgumentException($"full fine-tuning feeds RGB planes; PVR '{model.Id}' wants {spec.ColorOrder}");
            }
            return new PvrTail(module, [3, spec.Height, spec.Width], model.EmbeddingSize, scale, shift, model.Selector, model.Registers, null, null);
        }

        string split = trainableFrom ?? model.TrainableFrom;
        if (split.Length == 0)
        {
            throw new ArgumentException($"PVR '{model.Id}' does not say where partial fine-tuning splits it: add \"trainableFrom\" (a node-name prefix such as \"/layer4/\", or a value name) to its zoo entry, or pass --trainable-from");
        }
        string value = graph.Producer(split) is not null ? split : graph.StageInput(split);
        var tail = OnnxGraphModule.Create(graph, value, model.OutputName, "pvr.");
        string folder = cacheFolder ?? DefaultCacheFolder();
        Directory.CreateDirectory(folder);
        string key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{Packaging.AgentPackage.Sha256(pvrFile)}|{value}")))[..16];
        string trunkFile = Path.Combine(folder, $"{model.Id}-trunk-{key}.onnx");
        if (!File.Exists(trunkFile))
        {
            graph.WritePrefix(value, "trunk", null, trunkFile);
        }
        int[] shape = ProbeShape(trunkFile, model);
        int length = shape.Aggregate(1, (a, b) => a * b);
        var trunk = model with
        {
            Id = $"{model.Id}-trunk",
            Description = $"the frozen trunk of {model.Id}: every node before '{value}'",
            File = trunkFile,
            OutputName = "trunk",
            Selector = EmbeddingSelector.Flatten,
            Registers = 0,
            EmbeddingSize = length,
            TrainableFrom = "",
        };
        return new PvrTail(tail, shape, model.EmbeddingSize, null, null, model.Selector, model.Registers, trunk, trunkFile);
    }

    /// <summary>Where derived trunk files go: <c>$RR_CACHE_DIR/pvr-trunks</c>, else <c>~/.cache/robotruntime/pvr-trunks</c>.</summary>
    public static string DefaultCacheFolder()
    {
        string? root = Environment.GetEnvironmentVariable("RR_CACHE_DIR");
        if (string.IsNullOrEmpty(root))
        {
            root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "robotruntime");
        }
        return Path.Combine(root, "pvr-trunks");
    }

    /// <summary>
    /// [frames, C, H, W] → [frames, <see cref="OutputWidth"/>]. In full mode the input is image planes in
    /// [−0.5, 0.5] (as the batch sampler makes them), normalised here as the zoo says.
    /// </summary>
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        if (_scale is not null)
        {
            x = Ops.Add(Ops.Multiply(x, _scale), _shift!);
        }
        var y = _graph.Forward(x);
        int rows = y.Shape[0];
        var flat = y.Reshape(rows, y.Length / rows);
        return _selector switch
        {
            EmbeddingSelector.Cls or EmbeddingSelector.ClsAndRegisters when flat.Shape[1] != OutputWidth => Ops.Narrow(flat, 0, OutputWidth),
            _ when flat.Shape[1] != OutputWidth =>
                throw new InvalidOperationException($"the PVR's output gives {flat.Shape[1]} floats per frame; its zoo entry says {OutputWidth}"),
            _ => flat,
        };
    }

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters() => _graph.Parameters();

    private static int[] ProbeShape(string trunkFile, PvrModel model)
    {
        var spec = model.Preprocess;
        using var session = OnnxSessions.Open(trunkFile);
        var input = new float[3 * spec.Height * spec.Width];
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, spec.Height, spec.Width]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [model.InputName], [value], [session.OutputNames[0]]);
        var shape = outputs[0].GetTensorTypeAndShape().Shape;
        if (shape.Length < 2 || shape[0] != 1)
        {
            throw new ArgumentException($"PVR '{model.Id}' splits at a value of shape [{string.Join(", ", shape)}] for one image; [1, …] was expected");
        }
        return shape[1..].Select(d => checked((int)d)).ToArray();
    }
}
