using System.Numerics.Tensors;
using RobotRuntime.Tensors.Kernels;

namespace RobotRuntime.Tensors;

public static partial class Ops
{
    /// <summary>The error function, element-wise (|error| ≤ 1.5e-7), with its gradient.</summary>
    public static Tensor Erf(Tensor x) => Unary(x, new ErfOperator(), new ErfOperator());

    /// <summary>
    /// A copy of <paramref name="x"/> with its dimensions reordered: output dimension i is input dimension
    /// <paramref name="permutation"/>[i] (as ONNX Transpose and torch.permute).
    /// </summary>
    /// <exception cref="ArgumentException">The permutation is not one of 0 … rank − 1.</exception>
    public static Tensor Permute(Tensor x, params int[] permutation)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(permutation);
        int rank = x.Rank;
        if (permutation.Length != rank || permutation.Order().Where((p, i) => p != i).Any())
        {
            throw new ArgumentException($"permutation [{string.Join(", ", permutation)}] is not a reordering of the {rank} dimensions of x of shape {x.ShapeString}.", nameof(permutation));
        }
        var shape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            shape[i] = x.Shape[permutation[i]];
        }
        var y = Tape.NewOutput(shape);
        PermuteInto(x.Span, x.Shape.ToArray(), permutation, y.Span, accumulate: false);
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new PermuteNode(y, x, permutation));
        }
        return y;
    }

    /// <summary>
    /// Indices [start, start + length) of dimension <paramref name="axis"/> of <paramref name="x"/> (a copy;
    /// a negative axis counts from the end).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The axis or the range is outside x.</exception>
    public static Tensor SliceAxis(Tensor x, int axis, int start, int length)
    {
        ArgumentNullException.ThrowIfNull(x);
        int a = axis < 0 ? axis + x.Rank : axis;
        if (a < 0 || a >= x.Rank)
        {
            throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} is outside x of shape {x.ShapeString}.");
        }
        int dim = x.Shape[a];
        if (start < 0 || length < 0 || start + length > dim)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"[{start}, {start + length}) is outside dimension {a} (size {dim}) of x of shape {x.ShapeString}.");
        }
        var (outer, inner) = AroundAxis(x, a);
        var shape = x.Shape.ToArray();
        shape[a] = length;
        var y = Tape.NewOutput(shape);
        var xs = x.Span;
        var ys = y.Span;
        for (int o = 0; o < outer; o++)
        {
            xs.Slice((o * dim + start) * inner, length * inner).CopyTo(ys.Slice(o * length * inner, length * inner));
        }
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new SliceAxisNode(y, x, a, start));
        }
        return y;
    }

    private static (int Outer, int Inner) AroundAxis(Tensor x, int axis)
    {
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++)
        {
            outer *= x.Shape[d];
        }
        for (int d = axis + 1; d < x.Rank; d++)
        {
            inner *= x.Shape[d];
        }
        return (outer, inner);
    }

    // y[i0, i1, …] = x[index with dimension permutation[k] = i_k]; with accumulate, the reverse scatter-add.
    private static void PermuteInto(ReadOnlySpan<float> source, int[] sourceShape, int[] permutation, Span<float> destination, bool accumulate)
    {
        int rank = sourceShape.Length;
        var sourceStrides = new int[rank];
        int stride = 1;
        for (int d = rank - 1; d >= 0; d--)
        {
            sourceStrides[d] = stride;
            stride *= sourceShape[d];
        }
        var shape = new int[rank];
        var strides = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            shape[i] = sourceShape[permutation[i]];
            strides[i] = sourceStrides[permutation[i]];
        }
        if (rank == 0)
        {
            if (accumulate) { destination[0] += source[0]; } else { destination[0] = source[0]; }
            return;
        }
        var index = new int[rank];
        int last = rank - 1, lastLength = shape[last], lastStride = strides[last];
        int total = destination.Length;
        for (int o = 0; o < total; o += lastLength)
        {
            int offset = 0;
            for (int d = 0; d < last; d++)
            {
                offset += index[d] * strides[d];
            }
            var row = destination.Slice(o, lastLength);
            for (int j = 0; j < lastLength; j++)
            {
                float v = source[offset + j * lastStride];
                if (accumulate) { row[j] += v; } else { row[j] = v; }
            }
            for (int d = last - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d])
                {
                    break;
                }
                index[d] = 0;
            }
        }
    }

    private sealed class PermuteNode(Tensor output, Tensor x, int[] permutation) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            // dx = dy permuted back by the inverse permutation.
            var inverse = new int[permutation.Length];
            for (int i = 0; i < permutation.Length; i++)
            {
                inverse[permutation[i]] = i;
            }
            PermuteInto(Output.Grad!.Span, Output.Shape.ToArray(), inverse, tape.GradientOf(x).Span, accumulate: true);
        }
    }

    private sealed class SliceAxisNode(Tensor output, Tensor x, int axis, int start) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            var (outer, inner) = AroundAxis(x, axis);
            int dim = x.Shape[axis], length = Output.Shape[axis];
            var g = Output.Grad!.Span;
            var gx = tape.GradientOf(x).Span;
            for (int o = 0; o < outer; o++)
            {
                var target = gx.Slice((o * dim + start) * inner, length * inner);
                TensorPrimitives.Add(target, g.Slice(o * length * inner, length * inner), target);
            }
        }
    }
}
