namespace RobotRuntime.Tensors.Modules;

/// <summary>
/// A vision transformer's patch embedding: the image [N, C, S, S] cut into non-overlapping P×P
/// patches, each projected linearly to a D-wide token (a convolution with kernel and stride P), plus
/// a fixed 2-D sine-cosine positional embedding: tokens [N, T, D] with T = (S / P)², in row-major
/// patch order (row by row from the top left).
/// </summary>
public sealed class PatchEmbedding : Module
{
    /// <summary>Creates the projection (PyTorch's convolution initialisation) and the positional table. Setup only.</summary>
    /// <exception cref="ArgumentException">The image size is not a positive multiple of the patch size, or the width is not a positive multiple of 4.</exception>
    public PatchEmbedding(string name, int channels, int imageSize, int patchSize, int width, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        if (patchSize <= 0 || imageSize < patchSize || imageSize % patchSize != 0)
        {
            throw new ArgumentException($"image size {imageSize} must be a positive multiple of the patch size {patchSize}.", nameof(imageSize));
        }
        ImageSize = imageSize;
        PatchSize = patchSize;
        Width = width;
        Side = imageSize / patchSize;
        Projection = new Conv2d(name + ".projection", channels, width, patchSize, random, stride: patchSize);
        Position = SineCosinePositions(Side, width);
    }

    /// <summary>The patch projection: weight [D, C, P, P], bias [D].</summary>
    public Conv2d Projection { get; }

    /// <summary>The fixed positional embedding [T, D] added to the tokens (not trained; see <see cref="SineCosinePositions"/>).</summary>
    public Tensor Position { get; }

    /// <summary>Side of the square images it takes, in pixels.</summary>
    public int ImageSize { get; }

    /// <summary>Side of a patch, in pixels.</summary>
    public int PatchSize { get; }

    /// <summary>Patches along a side (S / P).</summary>
    public int Side { get; }

    /// <summary>Tokens per image, T = (S / P)².</summary>
    public int Tokens => Side * Side;

    /// <summary>Token width D.</summary>
    public int Width { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The input is not [N, C, S, S] with this module's S.</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4 || input.Shape[2] != ImageSize || input.Shape[3] != ImageSize)
        {
            throw new ArgumentException($"a patch embedding for {ImageSize}×{ImageSize} images takes [N, C, {ImageSize}, {ImageSize}]; got {input.ShapeString}.", nameof(input));
        }
        var grid = Projection.Forward(input);
        int n = input.Shape[0];
        var tokens = Ops.Permute(grid.Reshape(n, Width, Tokens), 0, 2, 1);
        return Ops.Add(tokens, Position);
    }

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters() => Projection.Parameters();

    /// <summary>
    /// The fixed 2-D sine-cosine positional embedding of a <paramref name="side"/> × <paramref name="side"/>
    /// grid, [side², width] in row-major order (as MAE's): the first half of a row encodes the patch's
    /// row, the second half its column; each half is [sin(p·ω_i), cos(p·ω_i)] for the D/4 frequencies
    /// ω_i = 10000^(−i / (D/4)).
    /// </summary>
    /// <exception cref="ArgumentException">The width is not a positive multiple of 4.</exception>
    public static Tensor SineCosinePositions(int side, int width)
    {
        if (width <= 0 || width % 4 != 0)
        {
            throw new ArgumentException($"a 2-D sine-cosine embedding needs a width that is a positive multiple of 4; got {width}.", nameof(width));
        }
        int quarter = width / 4;
        var table = Tensor.Zeros(side * side, width);
        var t = table.Span;
        for (int row = 0; row < side; row++)
        {
            for (int column = 0; column < side; column++)
            {
                var token = t.Slice((row * side + column) * width, width);
                for (int i = 0; i < quarter; i++)
                {
                    double omega = Math.Pow(10000, -(double)i / quarter);
                    token[i] = (float)Math.Sin(row * omega);
                    token[quarter + i] = (float)Math.Cos(row * omega);
                    token[2 * quarter + i] = (float)Math.Sin(column * omega);
                    token[3 * quarter + i] = (float)Math.Cos(column * omega);
                }
            }
        }
        return table;
    }
}

/// <summary>The mean over the tokens of [N, T, D]: [N, D] (a transformer's pooled embedding).</summary>
public sealed class TokenMean : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 3)
        {
            throw new ArgumentException($"a token mean takes tokens [N, T, D]; got {input.ShapeString}.", nameof(input));
        }
        return Ops.MeanAxis(input, 1);
    }

    /// <inheritdoc />
    public override IEnumerable<Parameter> Parameters() => [];
}

/// <summary>Builds pre-norm transformer blocks from the engine's modules (each one the ONNX export writes).</summary>
public static class TransformerBlocks
{
    /// <summary>
    /// One pre-norm transformer block on tokens [N, T, D], as ViT's: x + attention(LayerNorm(x)), then
    /// x + MLP(LayerNorm(x)) with the MLP Linear(D, r·D) → GELU → Linear(r·D, D). Parameters are named
    /// <paramref name="name"/>.norm1, .attention, .norm2, .mlp.0, .mlp.2.
    /// </summary>
    /// <exception cref="ArgumentException">The width is not a positive multiple of the heads.</exception>
    public static Sequential PreNorm(string name, int width, int heads, int mlpRatio, Random random) => new(
        new Residual(new Sequential(
            new LayerNorm(name + ".norm1", width, 1e-6f),
            new MultiHeadSelfAttention(name + ".attention", width, heads, random))),
        new Residual(new Sequential(
            new LayerNorm(name + ".norm2", width, 1e-6f),
            new Linear(name + ".mlp.0", width, mlpRatio * width, random),
            new Activation(ActivationKind.Gelu),
            new Linear(name + ".mlp.2", mlpRatio * width, width, random))));
}

/// <summary>
/// Multi-head cross-attention (<see cref="Ops.MultiHeadCrossAttention"/>): queries from one token set,
/// keys and values from another, with torch.nn.MultiheadAttention's parameter names, layout and
/// initialisation (as <see cref="MultiHeadSelfAttention"/>'s). Not a <see cref="Module"/>: it takes two
/// inputs, so it is used by hand (a decoder's <see cref="CrossSelfBlock"/>), and the ONNX export of a
/// <see cref="Sequential"/> never meets it.
/// </summary>
public sealed class MultiHeadCrossAttention
{
    /// <summary>Creates the layer: in-projection Xavier-uniform, biases zero, out-projection as Linear. Setup only.</summary>
    /// <exception cref="ArgumentException">The width is not a positive multiple of the heads.</exception>
    public MultiHeadCrossAttention(string name, int model, int heads, Random random)
    {
        if (heads <= 0 || model <= 0 || model % heads != 0)
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

    /// <summary>q, k, v projections stacked: [3D, D] (q from the query tokens, k and v from the context's).</summary>
    public Parameter InProjectionWeight { get; }

    /// <summary>[3D].</summary>
    public Parameter InProjectionBias { get; }

    /// <summary>[D, D].</summary>
    public Parameter OutProjectionWeight { get; }

    /// <summary>[D].</summary>
    public Parameter OutProjectionBias { get; }

    /// <summary>Attends from <paramref name="query"/> [B, Tq, D] to <paramref name="context"/> [B, Tk, D]; returns [B, Tq, D].</summary>
    /// <exception cref="ArgumentException">Shapes disagree.</exception>
    public Tensor Forward(Tensor query, Tensor context) => Ops.MultiHeadCrossAttention(query, context, Heads,
        InProjectionWeight.Value, InProjectionBias.Value, OutProjectionWeight.Value, OutProjectionBias.Value);

    /// <summary>The four parameters, in torch's order.</summary>
    public IEnumerable<Parameter> Parameters()
    {
        yield return InProjectionWeight;
        yield return InProjectionBias;
        yield return OutProjectionWeight;
        yield return OutProjectionBias;
    }
}

/// <summary>
/// A pre-norm "cross-self" transformer decoder block on tokens x [N, T, D] that also read a context
/// [N, Tc, D]: x + cross-attention(LayerNorm(x) → LayerNorm(context)), then a
/// <see cref="TransformerBlocks.PreNorm"/> block (x + self-attention(LayerNorm(x)), x + MLP(LayerNorm(x))).
/// SiamMAE's decoder is a stack of these (the future frame's tokens attend to the past frame's).
/// Parameters are named <c>name</c>.cross_norm, .context_norm, .cross_attention, then the pre-norm
/// block's .norm1, .attention, .norm2, .mlp.0, .mlp.2.
/// </summary>
public sealed class CrossSelfBlock
{
    private readonly LayerNorm _queryNorm, _contextNorm;
    private readonly MultiHeadCrossAttention _cross;
    private readonly Sequential _self;

    /// <summary>Creates the block. Setup only.</summary>
    /// <exception cref="ArgumentException">The width is not a positive multiple of the heads.</exception>
    public CrossSelfBlock(string name, int width, int heads, int mlpRatio, Random random)
    {
        _queryNorm = new LayerNorm(name + ".cross_norm", width, 1e-6f);
        _contextNorm = new LayerNorm(name + ".context_norm", width, 1e-6f);
        _cross = new MultiHeadCrossAttention(name + ".cross_attention", width, heads, random);
        _self = TransformerBlocks.PreNorm(name, width, heads, mlpRatio, random);
    }

    /// <summary>The block's output for tokens <paramref name="x"/> [N, T, D] reading <paramref name="context"/> [N, Tc, D]: [N, T, D].</summary>
    /// <exception cref="ArgumentException">Shapes disagree.</exception>
    public Tensor Forward(Tensor x, Tensor context)
    {
        var attended = Ops.Add(x, _cross.Forward(_queryNorm.Forward(x), _contextNorm.Forward(context)));
        return _self.Forward(attended);
    }

    /// <summary>Every parameter, in a fixed order.</summary>
    public IEnumerable<Parameter> Parameters() =>
        _queryNorm.Parameters().Concat(_contextNorm.Parameters()).Concat(_cross.Parameters()).Concat(_self.Parameters());
}
