using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace RobotRuntime.Tensors;

public static partial class Ops
{
    /// <summary>Softmax over the last dimension.</summary>
    public static Tensor Softmax(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        Shapes.RequireAtLeastRank(x, 1, nameof(x));
        return SoftmaxGroups(x, x.Shape[^1], log: false);
    }

    /// <summary>log(softmax(x)) over the last dimension, computed stably.</summary>
    public static Tensor LogSoftmax(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        Shapes.RequireAtLeastRank(x, 1, nameof(x));
        return SoftmaxGroups(x, x.Shape[^1], log: true);
    }

    /// <summary>
    /// SimNorm (TD-MPC2): the last dimension is split into groups of <paramref name="groupSize"/>
    /// consecutive elements and each group goes through a softmax. Same shape out.
    /// </summary>
    /// <exception cref="ArgumentException">The last dimension is not a multiple of the group size.</exception>
    public static Tensor SimNorm(Tensor x, int groupSize = 8)
    {
        ArgumentNullException.ThrowIfNull(x);
        Shapes.RequireAtLeastRank(x, 1, nameof(x));
        if (groupSize <= 0 || x.Shape[^1] % groupSize != 0)
        {
            throw new ArgumentException($"x has shape {x.ShapeString} but its last dimension must be a multiple of the group size {groupSize}.", nameof(x));
        }
        return SoftmaxGroups(x, groupSize, log: false);
    }

    private static Tensor SoftmaxGroups(Tensor x, int group, bool log)
    {
        var y = Tape.NewOutput(x.ShapeArray);
        var xs = x.Span;
        var ys = y.Span;
        if (group == 8 && !log && Vector256.IsHardwareAccelerated)
        {
            SoftmaxGroupsOf8(xs, ys);
        }
        else if (group > 0)
        {
            for (int offset = 0; offset < xs.Length; offset += group)
            {
                var xr = xs.Slice(offset, group);
                var yr = ys.Slice(offset, group);
                float max = TensorPrimitives.Max(xr);
                TensorPrimitives.Subtract(xr, max, yr);
                TensorPrimitives.Exp(yr, yr);
                float sum = TensorPrimitives.Sum(yr);
                if (log)
                {
                    TensorPrimitives.Subtract(xr, max + MathF.Log(sum), yr);
                }
                else
                {
                    TensorPrimitives.Multiply(yr, 1f / sum, yr);
                }
            }
        }
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new SoftmaxNode(y, x, group, log));
        }
        return y;
    }

    private sealed class SoftmaxNode(Tensor output, Tensor input, int group, bool log) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            var g = Output.Grad!.Span;
            var ys = Output.Span;
            var gx = tape.GradientOf(input).Span;
            float[] scratch = ArrayPool<float>.Shared.Rent(group);
            try
            {
                var t = scratch.AsSpan(0, group);
                for (int offset = 0; offset < g.Length; offset += group)
                {
                    var gr = g.Slice(offset, group);
                    var yr = ys.Slice(offset, group);
                    var dst = gx.Slice(offset, group);
                    if (log)
                    {
                        // dx = dy − softmax·Σdy, softmax = exp(y).
                        float sum = TensorPrimitives.Sum(gr);
                        TensorPrimitives.Exp(yr, t);
                        TensorPrimitives.MultiplyAdd(t, -sum, gr, t);
                    }
                    else
                    {
                        // dx = y·(dy − Σ dy·y).
                        float dot = TensorPrimitives.Dot(gr, yr);
                        TensorPrimitives.Subtract(gr, dot, t);
                        TensorPrimitives.Multiply(t, yr, t);
                    }
                    TensorPrimitives.Add(dst, t, dst);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scratch);
            }
        }
    }

    // SimNorm's groups of 8 are one Vector256 each: the per-call overhead of the general path
    // (five TensorPrimitives calls per group) would dominate.
    private static void SoftmaxGroupsOf8(ReadOnlySpan<float> x, Span<float> y)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (nuint i = 0; i < (nuint)x.Length; i += 8)
        {
            var v = Vector256.LoadUnsafe(ref xr, i);
            var m = Vector256.Max(v, Vector256.Shuffle(v, Vector256.Create(4, 5, 6, 7, 0, 1, 2, 3)));
            m = Vector256.Max(m, Vector256.Shuffle(m, Vector256.Create(2, 3, 0, 1, 6, 7, 4, 5)));
            m = Vector256.Max(m, Vector256.Shuffle(m, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6)));
            var e = Vector256.Exp(v - m);
            (e / Vector256.Create(Vector256.Sum(e))).StoreUnsafe(ref yr, i);
        }
    }

    private static void SoftmaxGroupsOf8Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> y, Span<float> dx)
    {
        ref float gr = ref MemoryMarshal.GetReference(dy);
        ref float yr = ref MemoryMarshal.GetReference(y);
        ref float dr = ref MemoryMarshal.GetReference(dx);
        for (nuint i = 0; i < (nuint)dy.Length; i += 8)
        {
            var g = Vector256.LoadUnsafe(ref gr, i);
            var yv = Vector256.LoadUnsafe(ref yr, i);
            var dot = Vector256.Create(Vector256.Sum(g * yv));
            (Vector256.LoadUnsafe(ref dr, i) + yv * (g - dot)).StoreUnsafe(ref dr, i);
        }
    }

    /// <summary>
    /// Each row of the last dimension divided by its Euclidean length: y = x / √(Σx² + <paramref name="eps"/>)
    /// (eps keeps a zero row finite). The dot product of two such rows is their cosine similarity.
    /// </summary>
    public static Tensor L2Normalize(Tensor x, float eps = 1e-12f)
    {
        ArgumentNullException.ThrowIfNull(x);
        Shapes.RequireAtLeastRank(x, 1, nameof(x));
        int d = x.Shape[^1];
        int rows = d == 0 ? 0 : x.Length / d;
        var y = Tape.NewOutput(x.ShapeArray);
        bool record = Tape.ShouldRecord(x);
        // Per row: 1/√(Σx² + eps), kept for the backward pass.
        Tensor? inverse = record ? Tape.NewOutput([rows]) : null;
        var xs = x.Span;
        var ys = y.Span;
        for (int r = 0; r < rows; r++)
        {
            var xr = xs.Slice(r * d, d);
            float scale = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(xr) + eps);
            TensorPrimitives.Multiply(xr, scale, ys.Slice(r * d, d));
            if (inverse is not null)
            {
                inverse.Span[r] = scale;
            }
        }
        if (record)
        {
            Tape.Push(new L2NormalizeNode(y, x, inverse!, rows, d));
        }
        return y;
    }

    private sealed class L2NormalizeNode(Tensor output, Tensor x, Tensor inverse, int rows, int d) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            // ∂y_i/∂x_j = (δ_ij − y_i·y_j)/n, so dx = (g − y·(g·y))/n row by row.
            var g = Output.Grad!.Span;
            var ys = Output.Span;
            var gx = tape.GradientOf(x).Span;
            var inv = inverse.Span;
            float[] scratch = ArrayPool<float>.Shared.Rent(d);
            try
            {
                var row = scratch.AsSpan(0, d);
                for (int r = 0; r < rows; r++)
                {
                    var gr = g.Slice(r * d, d);
                    var yr = ys.Slice(r * d, d);
                    float dot = TensorPrimitives.Dot(gr, yr);
                    TensorPrimitives.MultiplyAdd(yr, -dot, gr, row);
                    var dst = gx.Slice(r * d, d);
                    TensorPrimitives.MultiplyAdd(row, inv[r], dst, dst);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scratch);
            }
        }
    }

    /// <summary>
    /// Layer normalisation over the last dimension: (x − mean) / √(var + eps) · weight + bias, with
    /// the biased variance (as PyTorch). <paramref name="weight"/> and <paramref name="bias"/> are
    /// [last dimension] or null.
    /// </summary>
    /// <exception cref="ArgumentException">weight or bias does not match the last dimension.</exception>
    public static Tensor LayerNorm(Tensor x, Tensor? weight, Tensor? bias, float eps = 1e-5f)
    {
        ArgumentNullException.ThrowIfNull(x);
        Shapes.RequireAtLeastRank(x, 1, nameof(x));
        int d = x.Shape[^1];
        if (weight is not null)
        {
            Shapes.RequireShape(weight, [d], nameof(weight));
        }
        if (bias is not null)
        {
            Shapes.RequireShape(bias, [d], nameof(bias));
        }
        var y = Tape.NewOutput(x.ShapeArray);
        int rows = d == 0 ? 0 : x.Length / d;
        bool record = Tape.ShouldRecord(x, weight, bias);
        // Per row: mean and 1/σ, kept for the backward pass.
        Tensor? stats = record ? Tape.NewOutput([rows, 2]) : null;
        LayerNormRows(x.Span, y.Span, rows, d, weight, bias, eps, stats is null ? default : stats.Span);
        if (record)
        {
            Tape.Push(new LayerNormNode(y, x, weight, bias, stats!, rows, d));
        }
        return y;
    }

    /// <summary>
    /// LayerNorm's forward over <paramref name="rows"/> rows of <paramref name="d"/> (x and y may be
    /// the same memory); when <paramref name="stats"/> is not empty it receives each row's mean and
    /// 1/σ for the backward pass. The one implementation behind <see cref="LayerNorm"/> and <see cref="LayerNormInto"/>.
    /// </summary>
    private static void LayerNormRows(ReadOnlySpan<float> xs, Span<float> ys, int rows, int d, Tensor? weight, Tensor? bias, float eps, Span<float> stats)
    {
        for (int r = 0; r < rows; r++)
        {
            var xr = xs.Slice(r * d, d);
            var yr = ys.Slice(r * d, d);
            float mean = TensorPrimitives.Sum(xr) / d;
            TensorPrimitives.Subtract(xr, mean, yr);
            float variance = TensorPrimitives.SumOfSquares(yr) / d;
            float rstd = 1f / MathF.Sqrt(variance + eps);
            TensorPrimitives.Multiply(yr, rstd, yr);
            if (weight is not null)
            {
                TensorPrimitives.Multiply(yr, weight.Span, yr);
            }
            if (bias is not null)
            {
                TensorPrimitives.Add(yr, bias.Span, yr);
            }
            if (!stats.IsEmpty)
            {
                stats[2 * r] = mean;
                stats[2 * r + 1] = rstd;
            }
        }
    }

    private sealed class LayerNormNode(Tensor output, Tensor x, Tensor? weight, Tensor? bias, Tensor stats, int rows, int d) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            var g = Output.Grad!.Span;
            var xs = x.Span;
            var st = stats.Span;
            Span<float> gx = x.RequiresGrad ? tape.GradientOf(x).Span : default;
            Span<float> gw = weight is { RequiresGrad: true } ? tape.GradientOf(weight).Span : default;
            Span<float> gb = bias is { RequiresGrad: true } ? tape.GradientOf(bias).Span : default;
            float[] scratch = ArrayPool<float>.Shared.Rent(2 * d);
            try
            {
                var xhat = scratch.AsSpan(0, d);
                var dxhat = scratch.AsSpan(d, d);
                for (int r = 0; r < rows; r++)
                {
                    var gr = g.Slice(r * d, d);
                    float mean = st[2 * r], rstd = st[2 * r + 1];
                    TensorPrimitives.Subtract(xs.Slice(r * d, d), mean, xhat);
                    TensorPrimitives.Multiply(xhat, rstd, xhat);
                    if (!gw.IsEmpty)
                    {
                        TensorPrimitives.MultiplyAdd(gr, xhat, gw, gw);
                    }
                    if (!gb.IsEmpty)
                    {
                        TensorPrimitives.Add(gb, gr, gb);
                    }
                    if (gx.IsEmpty)
                    {
                        continue;
                    }
                    if (weight is not null)
                    {
                        TensorPrimitives.Multiply(gr, weight.Span, dxhat);
                    }
                    else
                    {
                        gr.CopyTo(dxhat);
                    }
                    // dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)).
                    float meanD = TensorPrimitives.Sum(dxhat) / d;
                    float meanDx = TensorPrimitives.Dot(dxhat, xhat) / d;
                    TensorPrimitives.MultiplyAdd(xhat, -meanDx, dxhat, dxhat);
                    TensorPrimitives.Subtract(dxhat, meanD, dxhat);
                    var dst = gx.Slice(r * d, d);
                    TensorPrimitives.MultiplyAdd(dxhat, rstd, dst, dst);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scratch);
            }
        }
    }
}
