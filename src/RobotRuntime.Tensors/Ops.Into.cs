using System.Numerics.Tensors;
using RobotRuntime.Tensors.Kernels;

namespace RobotRuntime.Tensors;

// Inference forms of the ops an MLP forward needs: they write into a tensor the caller
// preallocated, never touch the tape and allocate nothing, so a planner can run a network every
// cycle without creating tensor headers, shape arrays or nodes. Each computes exactly what its
// allocating counterpart computes (same kernels, same order of operations).
public static partial class Ops
{
    /// <summary>
    /// <see cref="Linear"/> into a preallocated <paramref name="output"/>: output = x·Wᵀ + bias over
    /// the last dimension of <paramref name="x"/>. No gradient is recorded. Bit-identical to
    /// <see cref="Linear"/> at the same <see cref="TensorEngine.ThreadCount"/>.
    /// </summary>
    /// <param name="x">[..., in]; must not share storage with <paramref name="output"/>.</param>
    /// <param name="weight">[out, in] (PyTorch's layout).</param>
    /// <param name="bias">[out] or null.</param>
    /// <param name="output">[..., out] with x's leading dimensions; overwritten.</param>
    /// <remarks>Real-time: no allocation, no blocking on anything but the tensor worker threads; throws only on bad shapes.</remarks>
    /// <exception cref="ArgumentException">Shapes disagree, or output shares storage with x.</exception>
    public static void LinearInto(Tensor x, Tensor weight, Tensor? bias, Tensor output)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(output);
        Shapes.RequireRank(weight, 2, nameof(weight));
        Shapes.RequireAtLeastRank(x, 1, nameof(x));
        int outFeatures = weight.Shape[0], inFeatures = weight.Shape[1];
        if (x.Shape[^1] != inFeatures)
        {
            throw new ArgumentException($"x has shape {x.ShapeString} but its last dimension must be {inFeatures} (weight is {weight.ShapeString}).", nameof(x));
        }
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != outFeatures))
        {
            throw new ArgumentException($"bias has shape {bias.ShapeString} but shape [{outFeatures}] was expected.", nameof(bias));
        }
        if (output.Rank != x.Rank || !output.Shape[..^1].SequenceEqual(x.Shape[..^1]) || output.Shape[^1] != outFeatures)
        {
            throw new ArgumentException($"output has shape {output.ShapeString} but x of shape {x.ShapeString} with weight {weight.ShapeString} gives [..., {outFeatures}] with x's leading dimensions.", nameof(output));
        }
        if (ReferenceEquals(x.Storage, output.Storage))
        {
            throw new ArgumentException("output shares storage with x; the product needs x unchanged while it writes output.", nameof(output));
        }
        int rows = inFeatures == 0 ? 0 : x.Length / inFeatures;
        unsafe
        {
            fixed (float* px = x.Storage, pw = weight.Storage, py = output.Storage)
            {
                Gemm.Multiply(rows, outFeatures, inFeatures,
                    px + x.Offset, inFeatures, 1,
                    pw + weight.Offset, 1, inFeatures,
                    py + output.Offset, outFeatures, accumulate: false, TensorEngine.ThreadCount);
            }
        }
        if (bias is not null)
        {
            var ys = output.Span;
            var bs = bias.Span;
            for (int r = 0; r < rows; r++)
            {
                var row = ys.Slice(r * outFeatures, outFeatures);
                TensorPrimitives.Add(row, bs, row);
            }
        }
    }

    /// <summary>
    /// <see cref="LayerNorm"/> into a preallocated <paramref name="output"/> of x's shape (it may be
    /// x itself). No gradient is recorded. Bit-identical to <see cref="LayerNorm"/>.
    /// </summary>
    /// <remarks>Real-time: no allocation, no blocking; throws only on bad shapes.</remarks>
    /// <exception cref="ArgumentException">weight or bias does not match the last dimension, or output's shape differs from x's.</exception>
    public static void LayerNormInto(Tensor x, Tensor? weight, Tensor? bias, Tensor output, float eps = 1e-5f)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(output);
        Shapes.RequireAtLeastRank(x, 1, nameof(x));
        Shapes.RequireSame(output, x, nameof(output));
        int d = x.Shape[^1];
        if (weight is not null && (weight.Rank != 1 || weight.Shape[0] != d))
        {
            throw new ArgumentException($"weight has shape {weight.ShapeString} but shape [{d}] was expected.", nameof(weight));
        }
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != d))
        {
            throw new ArgumentException($"bias has shape {bias.ShapeString} but shape [{d}] was expected.", nameof(bias));
        }
        int rows = d == 0 ? 0 : x.Length / d;
        LayerNormRows(x.Span, output.Span, rows, d, weight, bias, eps, default);
    }

    /// <summary>
    /// <see cref="Mish"/> into a preallocated <paramref name="output"/> of x's shape (it may be x
    /// itself). No gradient is recorded. Bit-identical to <see cref="Mish"/>.
    /// </summary>
    /// <remarks>Real-time: no allocation, no blocking; throws only on bad shapes.</remarks>
    /// <exception cref="ArgumentException">output's shape differs from x's.</exception>
    public static void MishInto(Tensor x, Tensor output)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(output);
        Shapes.RequireSame(output, x, nameof(output));
        Elementwise.Map(new MishOperator(), x.Span, output.Span);
    }

    /// <summary>
    /// <see cref="Conv2d"/> into a preallocated <paramref name="output"/> [N, O, OH, OW]. No
    /// gradient is recorded. Bit-identical to <see cref="Conv2d"/> at the same
    /// <see cref="TensorEngine.ThreadCount"/>.
    /// </summary>
    /// <remarks>
    /// Real-time: allocates nothing once the shared array pool holds an im2col buffer of this size
    /// (after the first call on a thread); throws only on bad shapes.
    /// </remarks>
    /// <exception cref="ArgumentException">Shapes disagree, output has the wrong shape, or output shares storage with x.</exception>
    public static void Conv2dInto(Tensor x, Tensor weight, Tensor? bias, Tensor output, int stride = 1, int padding = 0)
    {
        ArgumentNullException.ThrowIfNull(output);
        var g = CheckedConvGeometry(x, weight, bias, stride, padding);
        if (output.Rank != 4 || output.Shape[0] != g.N || output.Shape[1] != g.O || output.Shape[2] != g.OH || output.Shape[3] != g.OW)
        {
            throw new ArgumentException($"output has shape {output.ShapeString} but x of shape {x.ShapeString} with weight {weight.ShapeString}, stride {stride} and padding {padding} gives [{g.N}, {g.O}, {g.OH}, {g.OW}].", nameof(output));
        }
        if (ReferenceEquals(x.Storage, output.Storage))
        {
            throw new ArgumentException("output shares storage with x; the convolution reads x while it writes output.", nameof(output));
        }
        Conv2dForward(x, weight, bias, output, g);
    }

    /// <summary>
    /// <see cref="Relu"/> into a preallocated <paramref name="output"/> of x's shape (it may be x
    /// itself). No gradient is recorded. Bit-identical to <see cref="Relu"/>.
    /// </summary>
    /// <remarks>Real-time: no allocation, no blocking; throws only on bad shapes.</remarks>
    /// <exception cref="ArgumentException">output's shape differs from x's.</exception>
    public static void ReluInto(Tensor x, Tensor output)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(output);
        Shapes.RequireSame(output, x, nameof(output));
        Elementwise.Map(new ReluOperator(), x.Span, output.Span);
    }
}
