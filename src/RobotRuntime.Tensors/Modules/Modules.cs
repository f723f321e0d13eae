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

/// <summary>A residual connection: y = x + inner(x) (ResNet's identity shortcut); the inner module must keep the shape.</summary>
public sealed class Residual(Module inner) : Module
{
    /// <summary>The residual branch.</summary>
    public Module Inner { get; } = inner;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Ops.Add(input, Inner.Forward(input));

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters() => Inner.Parameters();
}

/// <summary>2-D convolution layer with PyTorch's layout ([O, C, KH, KW]) and default initialisation.</summary>
public sealed class Conv2d : Module
{
    /// <summary>Creates the layer with weights and bias from U(−1/√(C·KH·KW), 1/√(C·KH·KW)). Setup only.</summary>
    public Conv2d(string name, int inChannels, int outChannels, int kernel, Random random, int stride = 1, int padding = 0, bool bias = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernel);
        float bound = 1f / MathF.Sqrt(inChannels * kernel * kernel);
        Weight = new Parameter(name + ".weight", Tensor.RandomUniform(random, -bound, bound, outChannels, inChannels, kernel, kernel));
        Bias = bias ? new Parameter(name + ".bias", Tensor.RandomUniform(random, -bound, bound, outChannels)) : null;
        Stride = stride;
        Padding = padding;
    }

    /// <summary>Weight [O, C, KH, KW].</summary>
    public Parameter Weight { get; }

    /// <summary>Bias [O], or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Step between windows.</summary>
    public int Stride { get; }

    /// <summary>Zero padding on each side.</summary>
    public int Padding { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Ops.Conv2d(input, Weight.Value, Bias?.Value, Stride, Padding);

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

/// <summary>Batch normalisation over channels with running statistics; <see cref="Training"/> selects batch or running statistics.</summary>
public sealed class BatchNorm : Module
{
    /// <summary>Creates the layer (gain 1, bias 0, running mean 0, running variance 1). Setup only.</summary>
    public BatchNorm(string name, int channels, float momentum = 0.1f, float eps = 1e-5f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        var w = Tensor.Zeros(channels);
        w.Span.Fill(1f);
        Weight = new Parameter(name + ".weight", w);
        Bias = new Parameter(name + ".bias", Tensor.Zeros(channels));
        RunningMean = Tensor.Zeros(channels);
        RunningVariance = Tensor.Zeros(channels);
        RunningVariance.Span.Fill(1f);
        Momentum = momentum;
        Eps = eps;
    }

    /// <summary>Gain [C].</summary>
    public Parameter Weight { get; }

    /// <summary>Bias [C].</summary>
    public Parameter Bias { get; }

    /// <summary>Running mean [C], updated in training mode (not a parameter).</summary>
    public Tensor RunningMean { get; }

    /// <summary>Running variance [C], updated in training mode (not a parameter).</summary>
    public Tensor RunningVariance { get; }

    /// <summary>Weight of the newest batch in the running statistics.</summary>
    public float Momentum { get; }

    /// <summary>Added to the variance.</summary>
    public float Eps { get; }

    /// <summary>True: normalise with batch statistics and update the running ones; false: use the running ones.</summary>
    public bool Training { get; set; } = true;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) =>
        Ops.BatchNorm(input, RunningMean, RunningVariance, Weight.Value, Bias.Value, Training, Momentum, Eps);

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters()
    {
        yield return Weight;
        yield return Bias;
    }
}

/// <summary>Multi-head self-attention with torch.nn.MultiheadAttention's parameter names and layout.</summary>
public sealed class MultiHeadSelfAttention : Module
{
    /// <summary>Creates the layer: in-projection Xavier-uniform, biases zero, out-projection as Linear. Setup only.</summary>
    public MultiHeadSelfAttention(string name, int model, int heads, Random random)
    {
        if (heads <= 0 || model % heads != 0)
        {
            throw new ArgumentException($"model width {model} must be a positive multiple of heads = {heads}.", nameof(heads));
        }
        Heads = heads;
        float bound = MathF.Sqrt(6f / (model + 3 * model));
        InProjectionWeight = new Parameter(name + ".in_proj_weight", Tensor.RandomUniform(random, -bound, bound, 3 * model, model));
        InProjectionBias = new Parameter(name + ".in_proj_bias", Tensor.Zeros(3 * model));
        var output = new Linear(name + ".out_proj", model, model, random);
        OutProjectionWeight = output.Weight;
        OutProjectionBias = new Parameter(name + ".out_proj.bias", Tensor.Zeros(model));
    }

    /// <summary>Number of heads.</summary>
    public int Heads { get; }

    /// <summary>q, k, v projections stacked: [3D, D].</summary>
    public Parameter InProjectionWeight { get; }

    /// <summary>[3D].</summary>
    public Parameter InProjectionBias { get; }

    /// <summary>[D, D].</summary>
    public Parameter OutProjectionWeight { get; }

    /// <summary>[D].</summary>
    public Parameter OutProjectionBias { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Ops.MultiHeadSelfAttention(input, Heads,
        InProjectionWeight.Value, InProjectionBias.Value, OutProjectionWeight.Value, OutProjectionBias.Value);

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters()
    {
        yield return InProjectionWeight;
        yield return InProjectionBias;
        yield return OutProjectionWeight;
        yield return OutProjectionBias;
    }
}

/// <summary>Flattens every dimension after the first: [N, ...] → [N, product].</summary>
public sealed class Flatten : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Reshape(input.Size(0), -1);
    }

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters() => [];
}

/// <summary>Max or average pooling over square windows without padding.</summary>
public sealed class Pool2d(bool max, int kernel, int stride) : Module
{
    /// <summary>True for max pooling, false for average pooling.</summary>
    public bool Max { get; } = max;

    /// <summary>Window size.</summary>
    public int Kernel { get; } = kernel;

    /// <summary>Step between windows.</summary>
    public int Stride { get; } = stride;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Max ? Ops.MaxPool2d(input, Kernel, Stride) : Ops.AvgPool2d(input, Kernel, Stride);

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters() => [];
}

/// <summary>SimNorm (TD-MPC2): softmax within consecutive groups of the last dimension.</summary>
public sealed class SimNorm(int groupSize = 8) : Module
{
    /// <summary>Elements per group.</summary>
    public int GroupSize { get; } = groupSize;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Ops.SimNorm(input, GroupSize);

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters() => [];
}
