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

    /// <summary>
    /// <paramref name="parts"/> joined along dimension <paramref name="axis"/> (a negative axis counts from the
    /// end); every other dimension must agree.
    /// </summary>
    /// <exception cref="ArgumentException">No parts, ranks or other dimensions differ, or the axis is outside them.</exception>
    public static Tensor ConcatAxis(int axis, params Tensor[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Length == 0)
        {
            throw new ArgumentException("parts is empty; at least one tensor was expected.", nameof(parts));
        }
        var first = parts[0];
        int a = axis < 0 ? axis + first.Rank : axis;
        if (a < 0 || a >= first.Rank)
        {
            throw new ArgumentException($"axis {axis} is outside parts[0] of shape {first.ShapeString}.", nameof(axis));
        }
        int total = 0;
        for (int k = 0; k < parts.Length; k++)
        {
            var p = parts[k];
            bool fits = p.Rank == first.Rank;
            for (int d = 0; fits && d < p.Rank; d++)
            {
                fits = d == a || p.Shape[d] == first.Shape[d];
            }
            if (!fits)
            {
                throw new ArgumentException($"parts[{k}] has shape {p.ShapeString}; it must match parts[0] ({first.ShapeString}) in every dimension but {a}.", nameof(parts));
            }
            total += p.Shape[a];
        }
        var shape = first.Shape.ToArray();
        shape[a] = total;
        var y = Tape.NewOutput(shape);
        var (outer, inner) = AroundAxis(first, a);
        var ys = y.Span;
        int offset = 0;
        foreach (var p in parts)
        {
            int length = p.Shape[a] * inner;
            var ps = p.Span;
            for (int o = 0; o < outer; o++)
            {
                ps.Slice(o * length, length).CopyTo(ys.Slice(o * total * inner + offset, length));
            }
            offset += length;
        }
        if (parts.Any(p => p.RequiresGrad) && Tape.IsGradEnabled && Tape.Current is not null)
        {
            Tape.Push(new ConcatAxisNode(y, (Tensor[])parts.Clone(), a));
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

    private sealed class ConcatAxisNode(Tensor output, Tensor[] parts, int axis) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            var (outer, inner) = AroundAxis(Output, axis);
            int total = Output.Shape[axis];
            var g = Output.Grad!.Span;
            int offset = 0;
            foreach (var p in parts)
            {
                int length = p.Shape[axis] * inner;
                if (p.RequiresGrad)
                {
                    var gp = tape.GradientOf(p).Span;
                    for (int o = 0; o < outer; o++)
                    {
                        var target = gp.Slice(o * length, length);
                        TensorPrimitives.Add(target, g.Slice(o * total * inner + offset, length), target);
                    }
                }
                offset += length;
            }
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
