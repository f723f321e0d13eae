using System.Numerics.Tensors;
using Tensor = RobotRuntime.Tensors.Tensor;
using RobotRuntime.Tensors;
using RobotRuntime.Tensors.Inference;
using RobotRuntime.Tensors.Modules;
using TensorsLayerNorm = RobotRuntime.Tensors.Modules.LayerNorm;
using TensorsLinear = RobotRuntime.Tensors.Modules.Linear;

namespace RobotRuntime.Agents.Model;

/// <summary>What follows a layer's linear map.</summary>
public enum LayerOutput
{
    /// <summary>Nothing: a plain linear layer (the last layer of a head).</summary>
    Linear,

    /// <summary>LayerNorm then Mish (TD-MPC2's NormedLinear).</summary>
    NormMish,

    /// <summary>LayerNorm then SimNorm (the latent-producing layers).</summary>
    NormSimNorm,
}

/// <summary>
/// A TD-MPC2 MLP: NormedLinear layers (Linear → optional dropout → LayerNorm → Mish), a last layer
/// that is plain or ends in SimNorm. Two forward paths over the same weights: <see cref="Forward"/>
/// on the engine's tensors (recorded for training) and <see cref="Infer"/> on spans for planning,
/// which allocates nothing.
/// </summary>
public sealed class Mlp
{
    private readonly TensorsLinear[] _linears;
    private readonly TensorsLayerNorm?[] _norms;
    private readonly LayerOutput[] _outputs;

    /// <summary>Creates the MLP [in → hidden… → out].</summary>
    /// <param name="name">Parameter name prefix ("dynamics" gives "dynamics.0.weight", …).</param>
    /// <param name="widths">Layer widths including input and output, at least two.</param>
    /// <param name="last">What follows the last linear layer.</param>
    /// <param name="random">Initialisation source.</param>
    /// <param name="simNormGroup">SimNorm group size.</param>
    /// <param name="firstLayerDropout">Dropout probability after the first linear layer (training only).</param>
    /// <param name="zeroLastLayer">Initialise the last layer's weight (and bias) to zero (TD-MPC2's reward and Q heads).</param>
    public Mlp(string name, int[] widths, LayerOutput last, Random random, int simNormGroup = 8, float firstLayerDropout = 0f, bool zeroLastLayer = false)
    {
        if (widths.Length < 2)
        {
            throw new ArgumentException($"an MLP needs at least an input and an output width; got {widths.Length}", nameof(widths));
        }
        int layers = widths.Length - 1;
        _linears = new TensorsLinear[layers];
        _norms = new TensorsLayerNorm?[layers];
        _outputs = new LayerOutput[layers];
        for (int i = 0; i < layers; i++)
        {
            _linears[i] = new TensorsLinear($"{name}.{i}", widths[i], widths[i + 1], random);
            _outputs[i] = i == layers - 1 ? last : LayerOutput.NormMish;
            _norms[i] = _outputs[i] == LayerOutput.Linear ? null : new TensorsLayerNorm($"{name}.{i}.norm", widths[i + 1]);
        }
        if (zeroLastLayer)
        {
            _linears[^1].Weight.Value.Span.Clear();
            _linears[^1].Bias?.Value.Span.Clear();
        }
        Name = name;
        SimNormGroup = simNormGroup;
        FirstLayerDropout = firstLayerDropout;
        InputWidth = widths[0];
        OutputWidth = widths[^1];
        MaxWidth = widths.Max();
    }

    /// <summary>Parameter name prefix.</summary>
    public string Name { get; }

    /// <summary>Input width.</summary>
    public int InputWidth { get; }

    /// <summary>Output width.</summary>
    public int OutputWidth { get; }

    /// <summary>Widest layer (scratch sizing for <see cref="Infer"/>).</summary>
    public int MaxWidth { get; }

    /// <summary>SimNorm group size.</summary>
    public int SimNormGroup { get; }

    /// <summary>Dropout after the first linear layer while training.</summary>
    public float FirstLayerDropout { get; }

    /// <summary>All parameters, in layer order.</summary>
    public IEnumerable<Parameter> Parameters()
    {
        for (int i = 0; i < _linears.Length; i++)
        {
            foreach (var p in _linears[i].Parameters())
            {
                yield return p;
            }
            if (_norms[i] is { } n)
            {
                foreach (var p in n.Parameters())
                {
                    yield return p;
                }
            }
        }
    }

    /// <summary>The same layers (sharing these parameters) as a <see cref="Sequential"/>, for ONNX export.</summary>
    public Sequential ToSequential()
    {
        var layers = new List<Module>();
        for (int i = 0; i < _linears.Length; i++)
        {
            layers.Add(_linears[i]);
            if (_norms[i] is { } n)
            {
                layers.Add(n);
            }
            if (_outputs[i] == LayerOutput.NormMish)
            {
                layers.Add(new Activation(ActivationKind.Mish));
            }
            else if (_outputs[i] == LayerOutput.NormSimNorm)
            {
                layers.Add(new SimNorm(SimNormGroup));
            }
        }
        return new Sequential([.. layers]);
    }

    /// <summary>Engine forward of [..., in] → [..., out]; dropout applies when <paramref name="dropoutRandom"/> is given.</summary>
    public Tensor Forward(Tensor x, Random? dropoutRandom = null)
    {
        for (int i = 0; i < _linears.Length; i++)
        {
            x = _linears[i].Forward(x);
            if (i == 0 && FirstLayerDropout > 0f && dropoutRandom is not null)
            {
                x = Ops.Dropout(x, FirstLayerDropout, training: true, dropoutRandom);
            }
            if (_norms[i] is { } norm)
            {
                x = norm.Forward(x);
            }
            x = _outputs[i] switch
            {
                LayerOutput.NormMish => Ops.Mish(x),
                LayerOutput.NormSimNorm => Ops.SimNorm(x, SimNormGroup),
                _ => x,
            };
        }
        return x;
    }

    /// <summary>
    /// Span forward of <paramref name="rows"/> rows (no dropout): input [rows, in], output [rows, out].
    /// <paramref name="scratchA"/> and <paramref name="scratchB"/> each hold rows × <see cref="MaxWidth"/> floats.
    /// </summary>
    /// <remarks>Real-time: no allocation once warm.</remarks>
    public void Infer(ReadOnlySpan<float> input, int rows, Span<float> output, Span<float> scratchA, Span<float> scratchB, int threads = 1)
    {
        ReadOnlySpan<float> current = input;
        for (int i = 0; i < _linears.Length; i++)
        {
            int width = _linears[i].Weight.Value.Shape[0];
            bool lastLayer = i == _linears.Length - 1;
            var target = lastLayer ? output : ((i & 1) == 0 ? scratchA : scratchB);
            target = target[..(rows * width)];
            InferenceKernels.Linear(current, rows, _linears[i].Weight.Value, _linears[i].Bias?.Value, target, threads);
            if (_norms[i] is { } norm)
            {
                var gamma = norm.Weight.Value.Span;
                var beta = norm.Bias.Value.Span;
                for (int r = 0; r < rows; r++)
                {
                    var row = target.Slice(r * width, width);
                    float mean = TensorPrimitives.Sum(row) / width;
                    TensorPrimitives.Add(row, -mean, row);
                    float variance = TensorPrimitives.SumOfSquares(row) / width;
                    TensorPrimitives.Multiply(row, 1f / MathF.Sqrt(variance + norm.Eps), row);
                    TensorPrimitives.FusedMultiplyAdd(row, gamma, beta, row);
                }
            }
            switch (_outputs[i])
            {
                case LayerOutput.NormMish:
                    MishInPlace(target, lastLayer ? scratchB : (i & 1) == 0 ? scratchB : scratchA);
                    break;
                case LayerOutput.NormSimNorm:
                    for (int g = 0; g < target.Length; g += SimNormGroup)
                    {
                        var group = target.Slice(g, SimNormGroup);
                        TensorPrimitives.SoftMax(group, group);
                    }
                    break;
            }
            current = target;
        }
    }

    /// <summary>
    /// The outputs of every hidden layer (after its activation) for <paramref name="rows"/> inputs, one array
    /// [rows, width] per hidden layer (analyses such as the dormant ratio; allocates).
    /// </summary>
    public List<float[]> HiddenActivations(ReadOnlySpan<float> input, int rows)
    {
        var result = new List<float[]>();
        var current = input.ToArray();
        for (int i = 0; i < _linears.Length - 1; i++)
        {
            int width = _linears[i].Weight.Value.Shape[0];
            var next = new float[rows * width];
            InferenceKernels.Linear(current, rows, _linears[i].Weight.Value, _linears[i].Bias?.Value, next);
            var gamma = _norms[i]!.Weight.Value.Span;
            var beta = _norms[i]!.Bias.Value.Span;
            for (int r = 0; r < rows; r++)
            {
                var row = next.AsSpan(r * width, width);
                float mean = TensorPrimitives.Sum(row) / width;
                TensorPrimitives.Add(row, -mean, row);
                float variance = TensorPrimitives.SumOfSquares(row) / width;
                TensorPrimitives.Multiply(row, 1f / MathF.Sqrt(variance + _norms[i]!.Eps), row);
                TensorPrimitives.FusedMultiplyAdd(row, gamma, beta, row);
            }
            MishInPlace(next, new float[Math.Min(next.Length, 1024)]);
            result.Add(next);
            current = next;
        }
        return result;
    }

    // mish(x) = x·tanh(softplus(x)); exp overflowing to +∞ gives tanh(∞) = 1, i.e. mish(x) = x, as it should.
    private static void MishInPlace(Span<float> x, Span<float> temp)
    {
        const int block = 1024;
        for (int start = 0; start < x.Length; start += block)
        {
            var xs = x.Slice(start, Math.Min(block, x.Length - start));
            var t = temp[..xs.Length];
            TensorPrimitives.Exp(xs, t);
            TensorPrimitives.Add(t, 1f, t);
            TensorPrimitives.Log(t, t);
            TensorPrimitives.Tanh(t, t);
            TensorPrimitives.Multiply(xs, t, xs);
        }
    }
}
