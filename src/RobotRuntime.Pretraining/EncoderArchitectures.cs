using RobotRuntime.Tensors.Modules;

namespace RobotRuntime.Pretraining;

/// <summary>
/// The image encoders pre-training builds: one RGB image [N, 3, S, S] in [−0.5, 0.5] (pixels / 255 − 0.5)
/// to a flat embedding. Each is a <see cref="Sequential"/> of layers the ONNX export writes.
/// </summary>
public static class EncoderArchitectures
{
    /// <summary>Architecture names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["cnn", "cnn-wide", "resnet"];

    /// <summary>
    /// Builds <paramref name="name"/> for <paramref name="imageSize"/>-pixel images:
    /// <list type="bullet">
    /// <item>"cnn": four 3×3 convolutions, stride 2, channels 32/64/64/32, ReLU; 64 px → 32×4×4 = 512 floats
    /// (keeps where things are, which a global pool would throw away);</item>
    /// <item>"cnn-wide": the same with channels 48/96/96/64 (1,024 floats at 64 px);</item>
    /// <item>"resnet": ResNet-style — the four stride-2 convolutions with channels 32/48/64/32 and a
    /// residual block (3×3 conv, ReLU, 3×3 conv, identity shortcut, ReLU) after the second and the
    /// third; 512 floats at 64 px, about 2.7× the arithmetic of "cnn".</item>
    /// </list>
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name, or an image size not divisible by 16.</exception>
    public static Sequential Build(string name, int imageSize, Random random, string prefix = "encoder")
    {
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

    /// <summary>Floats in the embedding of <paramref name="name"/> at <paramref name="imageSize"/>.</summary>
    public static int EmbeddingSize(string name, int imageSize)
    {
        var side = imageSize / 16;
        return side * side * (name == "cnn-wide" ? 64 : 32);
    }
}
