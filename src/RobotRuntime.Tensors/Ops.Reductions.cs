using System.Numerics.Tensors;

namespace RobotRuntime.Tensors;

public static partial class Ops
{
    /// <summary>The sum of all elements, as a rank-0 tensor.</summary>
    public static Tensor Sum(Tensor x) => ReduceAll(x, mean: false);

    /// <summary>The mean of all elements, as a rank-0 tensor.</summary>
    public static Tensor Mean(Tensor x) => ReduceAll(x, mean: true);

    /// <summary>Sums over the last dimension: [..., n] → [...].</summary>
    public static Tensor SumLastDim(Tensor x) => ReduceLast(x, mean: false);

    /// <summary>Means over the last dimension: [..., n] → [...].</summary>
    public static Tensor MeanLastDim(Tensor x) => ReduceLast(x, mean: true);

    /// <summary>
    /// Means over dimension <paramref name="axis"/> (a negative axis counts from the end), which is
    /// dropped: [A, n, B] → [A, B] (e.g. the mean of a transformer's tokens [N, T, D] → [N, D]).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The axis is outside x.</exception>
    public static Tensor MeanAxis(Tensor x, int axis)
    {
        ArgumentNullException.ThrowIfNull(x);
        int a = axis < 0 ? axis + x.Rank : axis;
        if (a < 0 || a >= x.Rank)
        {
            throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} is outside x of shape {x.ShapeString}.");
        }
        var (outer, inner) = AroundAxis(x, a);
        int dim = x.Shape[a];
        var shape = x.Shape.ToArray().Where((_, d) => d != a).ToArray();
        var y = Tape.NewOutput(shape);
        float scale = 1f / Math.Max(dim, 1);
        var xs = x.Span;
        var ys = y.Span;
        ys.Clear();
        for (int o = 0; o < outer; o++)
        {
            var row = ys.Slice(o * inner, inner);
            for (int j = 0; j < dim; j++)
            {
                TensorPrimitives.Add(row, xs.Slice((o * dim + j) * inner, inner), row);
            }
            TensorPrimitives.Multiply(row, scale, row);
        }
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new MeanAxisNode(y, x, a, scale));
        }
        return y;
    }

    private sealed class MeanAxisNode(Tensor output, Tensor x, int axis, float scale) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            // Every input along the axis gets the output's gradient / n.
            var (outer, inner) = AroundAxis(x, axis);
            int dim = x.Shape[axis];
            var g = Output.Grad!.Span;
            var gx = tape.GradientOf(x).Span;
            for (int o = 0; o < outer; o++)
            {
                var row = g.Slice(o * inner, inner);
                for (int j = 0; j < dim; j++)
                {
                    var target = gx.Slice((o * dim + j) * inner, inner);
                    TensorPrimitives.MultiplyAdd(row, scale, target, target);
                }
            }
        }
    }

    /// <summary>Mean squared error mean((a − b)²) over all elements; shapes must match.</summary>
    public static Tensor MseLoss(Tensor prediction, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        Shapes.RequireSame(target, prediction, nameof(target));
        return Mean(Square(Subtract(prediction, target)));
    }

    /// <summary>
    /// Soft-target cross-entropy: the mean over rows of −Σ target·log softmax(logits) along the last
    /// dimension (TD-MPC2's loss for two-hot reward and value targets).
    /// </summary>
    public static Tensor SoftCrossEntropy(Tensor logits, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(target);
        Shapes.RequireSame(target, logits, nameof(target));
        int rows = logits.Shape[^1] == 0 ? 0 : logits.Length / logits.Shape[^1];
        return Scale(Sum(Multiply(LogSoftmax(logits), target)), -1f / Math.Max(rows, 1));
    }

    private static Tensor ReduceAll(Tensor x, bool mean)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = Tape.NewOutput([]);
        double sum = 0;
        var xs = x.Span;
        // Blocks summed in float by SIMD, blocks added in double: stays accurate on large tensors.
        const int block = 4096;
        for (int i = 0; i < xs.Length; i += block)
        {
            sum += TensorPrimitives.Sum(xs.Slice(i, Math.Min(block, xs.Length - i)));
        }
        float scale = mean ? 1f / Math.Max(x.Length, 1) : 1f;
        y.Span[0] = (float)(sum * scale);
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new ReduceAllNode(y, x, scale));
        }
        return y;
    }

    private static Tensor ReduceLast(Tensor x, bool mean)
    {
        ArgumentNullException.ThrowIfNull(x);
        Shapes.RequireAtLeastRank(x, 1, nameof(x));
        int d = x.Shape[^1];
        var y = Tape.NewOutput(Shapes.DropLast(x));
        var xs = x.Span;
        var ys = y.Span;
        float scale = mean ? 1f / Math.Max(d, 1) : 1f;
        for (int r = 0; r < ys.Length; r++)
        {
            ys[r] = TensorPrimitives.Sum(xs.Slice(r * d, d)) * scale;
        }
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new ReduceLastNode(y, x, d, scale));
        }
        return y;
    }

    private sealed class ReduceAllNode(Tensor output, Tensor input, float scale) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            // Every element gets the same value: fill a gradient whose value is zero, add to one that has one.
            var gx = tape.GradientToOverwrite(input, out bool overwrite).Span;
            float value = Output.Grad!.Span[0] * scale;
            if (overwrite)
                gx.Fill(value);
            else
                TensorPrimitives.Add(gx, value, gx);
        }
    }

    private sealed class ReduceLastNode(Tensor output, Tensor input, int d, float scale) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            var gx = tape.GradientOf(input).Span;
            var g = Output.Grad!.Span;
            for (int r = 0; r < g.Length; r++)
            {
                var dst = gx.Slice(r * d, d);
                TensorPrimitives.Add(dst, g[r] * scale, dst);
            }
        }
    }
}
