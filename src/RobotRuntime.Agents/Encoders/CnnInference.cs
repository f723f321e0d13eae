using RobotRuntime.Tensors;
using RobotRuntime.Tensors.Modules;

namespace RobotRuntime.Agents.Encoders;

/// <summary>
/// The scratch encoder's CNN (Conv2d / ReLU layers, then Flatten) run for one observation through
/// the engine's preallocated inference ops: what <see cref="Sequential.Forward"/> computes, without
/// the tape's tensor headers, shape arrays or storage, so that acting allocates nothing.
/// </summary>
/// <remarks>Bit-identical to the module's forward at the same <see cref="TensorEngine.ThreadCount"/> (tested).</remarks>
internal sealed class CnnInference
{
    private readonly Tensor _input;
    private readonly Layer[] _layers;

    /// <summary>Plans the layers of <paramref name="cnn"/> for an input of [1, channels, size, size].</summary>
    /// <exception cref="NotSupportedException">The network holds a layer other than Conv2d, ReLU or a final Flatten.</exception>
    public CnnInference(Sequential cnn, int channels, int size)
    {
        _input = Tensor.Zeros(1, channels, size, size);
        var layers = new List<Layer>();
        int c = channels, h = size, w = size;
        for (int i = 0; i < cnn.Layers.Count; i++)
        {
            switch (cnn.Layers[i])
            {
                case Conv2d conv:
                    var shape = conv.Weight.Value.Shape;
                    if (shape[1] != c)
                    {
                        throw new NotSupportedException($"layer {i} expects {shape[1]} input channels but receives {c}");
                    }
                    h = (h + 2 * conv.Padding - shape[2]) / conv.Stride + 1;
                    w = (w + 2 * conv.Padding - shape[3]) / conv.Stride + 1;
                    c = shape[0];
                    layers.Add(new Layer(conv, Tensor.Zeros(1, c, h, w)));
                    break;
                case Activation { Kind: ActivationKind.Relu } when layers.Count > 0 && !layers[^1].Relu:
                    layers[^1] = layers[^1] with { Relu = true };
                    break;
                case Flatten when i == cnn.Layers.Count - 1:
                    break;
                default:
                    throw new NotSupportedException($"layer {i} ({cnn.Layers[i].GetType().Name}) has no inference form here; only Conv2d, ReLU and a final Flatten");
            }
        }
        if (layers.Count == 0)
        {
            throw new NotSupportedException("the network has no convolution");
        }
        _layers = [.. layers];
        OutputLength = c * h * w;
    }

    /// <summary>Floats the flattened output holds.</summary>
    public int OutputLength { get; }

    /// <summary>Floats the flattened output of <paramref name="cnn"/> holds for an input of [1, channels, size, size] (plans the layers once; setup only).</summary>
    public static int OutputLengthOf(Sequential cnn, int channels, int size) => new CnnInference(cnn, channels, size).OutputLength;

    /// <summary>The input the next <see cref="Forward"/> reads: [channels, size, size], already scaled.</summary>
    public Span<float> Input => _input.Span;

    /// <summary>Runs the network on <see cref="Input"/> and returns the flattened output.</summary>
    /// <remarks>Real-time: no allocation once warm. The returned span is overwritten by the next call.</remarks>
    public ReadOnlySpan<float> Forward()
    {
        var x = _input;
        foreach (var layer in _layers)
        {
            Ops.Conv2dInto(x, layer.Conv.Weight.Value, layer.Conv.Bias?.Value, layer.Output, layer.Conv.Stride, layer.Conv.Padding);
            if (layer.Relu)
            {
                Ops.ReluInto(layer.Output, layer.Output);
            }
            x = layer.Output;
        }
        return x.Span;
    }

    private readonly record struct Layer(Conv2d Conv, Tensor Output, bool Relu = false);
}
