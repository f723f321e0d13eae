using RobotRuntime.Tensors.Modules;

namespace RobotRuntime.Pretraining;

/// <summary>
/// The image encoders pre-training builds: one RGB image [N, 3, S, S] in [−0.5, 0.5] (pixels / 255 − 0.5)
/// to a flat embedding. Each is a <see cref="Sequential"/> of layers the ONNX export writes.
/// </summary>
public static class EncoderArchitectures
{
    /// <summary>Architecture names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["cnn", "cnn-wide", "resnet", "vit-tiny"];

    /// <summary>The vision transformer "vit-tiny": 8×8 patches, width 128, 4 pre-norm blocks of 4 heads, MLP ratio 2 (sized for about a millisecond per 64 px image on one core under ONNX Runtime).</summary>
    public static VisionTransformerShape VitTiny { get; } = new(PatchSize: 8, Width: 128, Blocks: 4, Heads: 4, MlpRatio: 2);

    /// <summary>Whether <paramref name="name"/> is a vision transformer (what MAE needs).</summary>
    public static bool IsTransformer(string name) => name.StartsWith("vit", StringComparison.Ordinal);

    /// <summary>
    /// Builds <paramref name="name"/> for <paramref name="imageSize"/>-pixel images:
    /// <list type="bullet">
    /// <item>"cnn": four 3×3 convolutions, stride 2, channels 32/64/64/32, ReLU; 64 px → 32×4×4 = 512 floats
    /// (keeps where things are, which a global pool would throw away);</item>
    /// <item>"cnn-wide": the same with channels 48/96/96/64 (1,024 floats at 64 px);</item>
    /// <item>"resnet": ResNet-style — the four stride-2 convolutions with channels 32/48/64/32 and a
    /// residual block (3×3 conv, ReLU, 3×3 conv, identity shortcut, ReLU) after the second and the
    /// third; 512 floats at 64 px, about 2.7× the arithmetic of "cnn".</item>
    /// <item>"vit-tiny": a vision transformer (<see cref="VitTiny"/>) — <see cref="PatchEmbedding"/> (8×8
    /// patches, 64 tokens at 64 px, fixed sine-cosine positions), 4 pre-norm blocks, a final LayerNorm and
    /// the mean of the output tokens (<see cref="TokenMean"/>): 128 floats. No class token: the embedding a
    /// frozen agent reads is the token mean, which MAE trains every token for.</item>
    /// </list>
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name, or an image size not divisible by 16 (by 8 for a transformer).</exception>
    public static Sequential Build(string name, int imageSize, Random random, string prefix = "encoder")
    {
        if (name == "vit-tiny")
            return BuildTransformer(VitTiny, imageSize, random, prefix);
        if (imageSize < 16 || imageSize % 16 != 0)
            throw new ArgumentException($"image size must be a multiple of 16 (four stride-2 layers), got {imageSize}");
        int[] channels = name switch
        {
            "cnn" => [32, 64, 64, 32],
            "cnn-wide" => [48, 96, 96, 64],
            "resnet" => [32, 48, 64, 32],
            _ => throw new ArgumentException($"unknown architecture '{name}'; expected one of {string.Join(", ", Names)}"),
        };
        var layers = new List<Module>();
        var inChannels = 3;
        for (var i = 0; i < channels.Length; i++)
        {
            layers.Add(new Conv2d($"{prefix}.conv{i}", inChannels, channels[i], 3, random, stride: 2, padding: 1));
            layers.Add(new Activation(ActivationKind.Relu));
            if (name == "resnet" && i is 1 or 2)
            {
                layers.Add(new Residual(new Sequential(
                    new Conv2d($"{prefix}.block{i}.conv0", channels[i], channels[i], 3, random, padding: 1),
                    new Activation(ActivationKind.Relu),
                    new Conv2d($"{prefix}.block{i}.conv1", channels[i], channels[i], 3, random, padding: 1))));
                layers.Add(new Activation(ActivationKind.Relu));
            }
            inChannels = channels[i];
        }
        layers.Add(new Flatten());
        return new Sequential([.. layers]);
    }

    /// <summary>
    /// A vision transformer: layer 0 the <see cref="PatchEmbedding"/>, then the blocks
    /// (<see cref="TransformerBlocks.PreNorm"/>, named prefix.block0 …), a LayerNorm (prefix.norm) and
    /// the <see cref="TokenMean"/> as the last layer — the order <see cref="MaeObjective"/> relies on.
    /// </summary>
    /// <exception cref="ArgumentException">The image size is not a multiple of the patch size.</exception>
    public static Sequential BuildTransformer(VisionTransformerShape shape, int imageSize, Random random, string prefix = "encoder")
    {
        if (imageSize < shape.PatchSize || imageSize % shape.PatchSize != 0)
            throw new ArgumentException($"image size must be a multiple of the transformer's {shape.PatchSize}-pixel patches, got {imageSize}");
        var layers = new List<Module> { new PatchEmbedding($"{prefix}.patches", 3, imageSize, shape.PatchSize, shape.Width, random) };
        for (var i = 0; i < shape.Blocks; i++)
            layers.Add(TransformerBlocks.PreNorm($"{prefix}.block{i}", shape.Width, shape.Heads, shape.MlpRatio, random));
        layers.Add(new RobotRuntime.Tensors.Modules.LayerNorm($"{prefix}.norm", shape.Width, 1e-6f));
        layers.Add(new TokenMean());
        return new Sequential([.. layers]);
    }

    /// <summary>Floats in the embedding of <paramref name="name"/> at <paramref name="imageSize"/>.</summary>
    public static int EmbeddingSize(string name, int imageSize)
    {
        if (name == "vit-tiny")
            return VitTiny.Width;
        var side = imageSize / 16;
        return side * side * (name == "cnn-wide" ? 64 : 32);
    }
}

/// <summary>The size of a vision transformer.</summary>
/// <param name="PatchSize">Side of a square patch, in pixels.</param>
/// <param name="Width">Token width D (a multiple of 4 and of the heads).</param>
/// <param name="Blocks">Pre-norm transformer blocks.</param>
/// <param name="Heads">Attention heads per block.</param>
/// <param name="MlpRatio">Hidden width of a block's MLP over D.</param>
public sealed record VisionTransformerShape(int PatchSize, int Width, int Blocks, int Heads, int MlpRatio);
