using RobotRuntime.Tensors;
using RobotRuntime.Tensors.Modules;
using RobotRuntime.Tensors.Onnx;

namespace RobotRuntime.Agents.Encoders;

/// <summary>
/// The trainable part of a PVR rebuilt in the engine: in <see cref="EncoderMode.Partial"/> its last stage
/// (the frozen trunk runs on ONNX Runtime and replay stores the trunk's output), in
/// <see cref="EncoderMode.Full"/> the whole network from pixels. Weights start from the PVR's own ONNX
/// initializers. The engine has no general ONNX graph import, so each supported PVR architecture is
/// written here; today that is <c>pool-conv</c> (models/test/make_agent_encoders.py). ResNet/ViT stages
/// are not yet written.
/// </summary>
public sealed class PvrTail : Module
{
    private readonly Conv2d _stage;
    private readonly bool _includesTrunk;
    private readonly float[] _mean, _std;

    private PvrTail(Conv2d stage, bool includesTrunk, int[] inputShape, int outputWidth, float[] mean, float[] std)
    {
        _stage = stage;
        _includesTrunk = includesTrunk;
        InputShape = inputShape;
        OutputWidth = outputWidth;
        _mean = mean;
        _std = std;
    }

    /// <summary>Shape of one camera frame's input, [C, H, W] (the trunk output in partial mode, the image in full mode).</summary>
    public int[] InputShape { get; }

    /// <summary>Floats out per camera frame.</summary>
    public int OutputWidth { get; }

    /// <summary>PVR ids with a written engine architecture.</summary>
    public static IReadOnlyList<string> Supported { get; } = ["pool-conv"];

    /// <summary>
    /// Builds the tail of <paramref name="pvrId"/> for <paramref name="mode"/>, initialised from the initializers
    /// of <paramref name="pvrOnnxPath"/> (the full PVR file).
    /// </summary>
    /// <exception cref="ArgumentException">No engine architecture for this PVR, or the mode is neither partial nor full.</exception>
    public static PvrTail Create(string pvrId, EncoderMode mode, string pvrOnnxPath, float[] mean, float[] std)
    {
        if (pvrId != "pool-conv")
        {
            throw new ArgumentException($"partial and full fine-tuning need the PVR's architecture written in the engine; it exists for {string.Join(", ", Supported)}, not '{pvrId}'");
        }
        if (mode is not (EncoderMode.Partial or EncoderMode.Full))
        {
            throw new ArgumentException($"a PVR tail is for partial or full mode, not {mode}");
        }
        var stage = new Conv2d("pvr.stage2", 3, 8, 3, new Random(0), stride: 2, padding: 1);
        int loaded = OnnxModelFile.LoadInitializersInto(pvrOnnxPath, stage.Parameters(), name => name["pvr.".Length..], strict: true);
        if (loaded != 2)
        {
            throw new ArgumentException($"'{pvrOnnxPath}' should hold stage2.weight and stage2.bias; {loaded} matched");
        }
        bool full = mode == EncoderMode.Full;
        return new PvrTail(stage, full, full ? [3, 64, 64] : [3, 16, 16], 8 * 8 * 8, mean, std);
    }

    /// <summary>
    /// [frames, C, H, W] → [frames, <see cref="OutputWidth"/>]. In full mode the input is image planes in
    /// [−0.5, 0.5] (as the batch sampler makes them); the PVR's normalisation and average pool come first.
    /// </summary>
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        if (_includesTrunk)
        {
            // (p/255 − mean)/std with p/255 = plane + 0.5; the zoo entry's mean and std are the same per channel for pool-conv.
            x = Ops.Affine(x, 1f / _std[0], (0.5f - _mean[0]) / _std[0]);
            x = Ops.AvgPool2d(x, 4, 4);
        }
        x = Ops.Relu(_stage.Forward(x));
        return x.Reshape(x.Size(0), OutputWidth);
    }

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters() => _stage.Parameters();
}
