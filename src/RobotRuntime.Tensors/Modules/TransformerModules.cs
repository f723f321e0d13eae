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
