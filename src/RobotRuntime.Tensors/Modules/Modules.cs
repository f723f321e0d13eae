namespace RobotRuntime.Tensors.Modules;

/// <summary>A layer or network: a forward function over owned parameters.</summary>
public abstract class Module
{
    /// <summary>Computes the output for <paramref name="input"/> (records on the current tape when gradients flow).</summary>
    public abstract Tensor Forward(Tensor input);

    /// <summary>Every parameter of this module and its children, with dotted names, in a fixed order.</summary>
    public abstract IEnumerable<Parameter> Parameters();

    /// <summary>Freezes or unfreezes every parameter of this module (partial fine-tuning).</summary>
    public void SetFrozen(bool frozen)
    {
        foreach (var p in Parameters())
        {
            p.Frozen = frozen;
        }
    }
}

/// <summary>Fully connected layer y = x·Wᵀ + b, W of shape [out, in] (PyTorch's layout and initialisation).</summary>
public sealed class Linear : Module
{
    /// <summary>
    /// Creates the layer with W and b drawn from U(−1/√in, 1/√in), as torch.nn.Linear. Setup only.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public Linear(string name, int inFeatures, int outFeatures, Random random, bool bias = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        float bound = 1f / MathF.Sqrt(inFeatures);
        Weight = new Parameter(name + ".weight", Tensor.RandomUniform(random, -bound, bound, outFeatures, inFeatures));
        Bias = bias ? new Parameter(name + ".bias", Tensor.RandomUniform(random, -bound, bound, outFeatures)) : null;
    }

    /// <summary>Weight [out, in].</summary>
    public Parameter Weight { get; }

    /// <summary>Bias [out], or null.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Ops.Linear(input, Weight.Value, Bias?.Value);

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters()
    {
        yield return Weight;
        if (Bias is not null)
        {
            yield return Bias;
        }
    }
}

/// <summary>Layer normalisation over the last dimension with a learned gain (ones) and bias (zeros).</summary>
public sealed class LayerNorm : Module
{
    /// <summary>Creates the layer. Setup only.</summary>
    public LayerNorm(string name, int features, float eps = 1e-5f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        var w = Tensor.Zeros(features);
        w.Span.Fill(1f);
        Weight = new Parameter(name + ".weight", w);
        Bias = new Parameter(name + ".bias", Tensor.Zeros(features));
        Eps = eps;
    }

    /// <summary>Gain [features].</summary>
    public Parameter Weight { get; }

    /// <summary>Bias [features].</summary>
    public Parameter Bias { get; }

    /// <summary>Added to the variance.</summary>
    public float Eps { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Ops.LayerNorm(input, Weight.Value, Bias.Value, Eps);

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters()
    {
        yield return Weight;
        yield return Bias;
    }
}

/// <summary>The element-wise activations a <see cref="Activation"/> module applies.</summary>
public enum ActivationKind
{
    /// <summary>max(x, 0).</summary>
    Relu,

    /// <summary>ELU with α = 1.</summary>
    Elu,

    /// <summary>GELU (erf form).</summary>
    Gelu,

    /// <summary>Mish.</summary>
    Mish,

    /// <summary>tanh.</summary>
    Tanh,

    /// <summary>Logistic sigmoid.</summary>
    Sigmoid,
}

/// <summary>A parameter-free element-wise activation.</summary>
public sealed class Activation(ActivationKind kind) : Module
{
    /// <summary>Which activation.</summary>
    public ActivationKind Kind { get; } = kind;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Kind switch
    {
        ActivationKind.Relu => Ops.Relu(input),
        ActivationKind.Elu => Ops.Elu(input),
        ActivationKind.Gelu => Ops.Gelu(input),
        ActivationKind.Mish => Ops.Mish(input),
        ActivationKind.Tanh => Ops.Tanh(input),
        _ => Ops.Sigmoid(input),
    };

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters() => [];
}

/// <summary>Modules applied one after another.</summary>
public sealed class Sequential(params Module[] layers) : Module
{
    /// <summary>The layers in order.</summary>
    public IReadOnlyList<Module> Layers { get; } = layers;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        foreach (var layer in Layers)
        {
            x = layer.Forward(x);
        }
        return x;
    }

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters() => Layers.SelectMany(l => l.Parameters());
}
