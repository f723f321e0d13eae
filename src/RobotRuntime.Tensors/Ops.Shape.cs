using System.Numerics.Tensors;

namespace RobotRuntime.Tensors;

/// <summary>
/// The differentiable operations of the engine. Every op checks its inputs' shapes (throwing an
/// <see cref="ArgumentException"/> that names the input, its shape and the expected shape),
/// writes a new output tensor (from the current <see cref="Tape"/>'s pool when one records) and,
/// when gradients flow, records a node for <see cref="Tape.Backward"/>.
/// </summary>
/// <remarks>
/// Real-time: with a tape whose pool is warm (a previous step of the same shapes), an op
/// allocates only its small output and node objects, never tensor storage.
/// </remarks>
public static partial class Ops
{
    /// <summary>A view of <paramref name="x"/> with a new shape (one dimension may be -1).</summary>
    /// <exception cref="ArgumentException">The new shape holds a different number of elements.</exception>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(x);
        var resolved = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < resolved.Length; i++)
        {
            if (resolved[i] == -1 && infer < 0)
            {
                infer = i;
            }
            else if (resolved[i] < 0)
            {
                throw new ArgumentException($"shape {Tensor.Format(shape)} may contain one -1 and otherwise non-negative sizes.", nameof(shape));
            }
            else
            {
                known *= resolved[i];
            }
        }
        if (infer >= 0)
        {
            resolved[infer] = known == 0 ? 0 : (int)(x.Length / known);
        }
        if (Tensor.CheckedLength(resolved, nameof(shape)) != x.Length)
        {
            throw new ArgumentException($"Cannot reshape x of shape {x.ShapeString} ({x.Length} elements) to {Tensor.Format(shape)}.", nameof(shape));
        }
        var view = Tape.NewView(x, x.Offset, resolved);
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new AddIntoNode(view, x, 0));
        }
        return view;
    }

    /// <summary>Rows [start, start + count) of <paramref name="x"/> along its first dimension, as a view.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside x's first dimension.</exception>
    public static Tensor SliceRows(Tensor x, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(x);
        Shapes.RequireAtLeastRank(x, 1, nameof(x));
        if (start < 0 || count < 0 || start + count > x.Shape[0])
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"Rows [{start}, {start + count}) are outside x of shape {x.ShapeString}.");
        }
        var shape = x.Shape.ToArray();
        shape[0] = count;
        int rowLength = x.Shape[0] == 0 ? 0 : x.Length / x.Shape[0];
        var view = Tape.NewView(x, x.Offset + start * rowLength, shape);
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new AddIntoNode(view, x, start * rowLength));
        }
        return view;
    }

    /// <summary>Concatenates tensors along their last dimension; all leading dimensions must match.</summary>
    /// <exception cref="ArgumentException">No tensors, or the leading dimensions differ.</exception>
    public static Tensor Concat(params Tensor[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Length == 0)
        {
            throw new ArgumentException("parts is empty; at least one tensor was expected.", nameof(parts));
        }
        var first = parts[0];
        Shapes.RequireAtLeastRank(first, 1, "parts[0]");
        int total = 0;
        for (int i = 0; i < parts.Length; i++)
        {
            var p = parts[i];
            Shapes.RequireAtLeastRank(p, 1, $"parts[{i}]");
            if (!p.Shape[..^1].SequenceEqual(first.Shape[..^1]))
            {
                throw new ArgumentException($"parts[{i}] has shape {p.ShapeString} but leading dimensions {Tensor.Format(first.Shape[..^1])} (as parts[0]) were expected.", nameof(parts));
            }
            total += p.Shape[^1];
        }
        var y = Tape.NewOutput(Shapes.WithLast(first, total));
        int rows = total == 0 ? 0 : y.Length / total;
        var ys = y.Span;
        int column = 0;
        bool record = false;
        foreach (var p in parts)
        {
            int width = p.Shape[^1];
            var ps = p.Span;
            for (int r = 0; r < rows; r++)
            {
                ps.Slice(r * width, width).CopyTo(ys.Slice(r * total + column, width));
            }
            column += width;
            record |= p.RequiresGrad;
        }
        if (record && Tape.IsGradEnabled && Tape.Current is not null)
        {
            Tape.Push(new ConcatNode(y, (Tensor[])parts.Clone()));
        }
        return y;
    }

    /// <summary>Columns [start, start + length) of the last dimension of <paramref name="x"/> (a copy).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside x's last dimension.</exception>
    public static Tensor Narrow(Tensor x, int start, int length)
    {
        ArgumentNullException.ThrowIfNull(x);
        Shapes.RequireAtLeastRank(x, 1, nameof(x));
        int width = x.Shape[^1];
        if (start < 0 || length < 0 || start + length > width)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"Columns [{start}, {start + length}) are outside the last dimension of x of shape {x.ShapeString}.");
        }
        var y = Tape.NewOutput(Shapes.WithLast(x, length));
        int rows = width == 0 ? 0 : x.Length / width;
        var xs = x.Span;
        var ys = y.Span;
        for (int r = 0; r < rows; r++)
        {
            xs.Slice(r * width + start, length).CopyTo(ys.Slice(r * length, length));
        }
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new NarrowNode(y, x, start));
        }
        return y;
    }

    /// <summary>
    /// Rows of <paramref name="x"/> (along its first dimension) picked by <paramref name="indices"/>:
    /// y[i] = x[indices[i]]. Gradients of repeated rows add up.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside x's first dimension.</exception>
    public static Tensor Gather(Tensor x, ReadOnlySpan<int> indices)
    {
        ArgumentNullException.ThrowIfNull(x);
        Shapes.RequireAtLeastRank(x, 1, nameof(x));
        int rowsIn = x.Shape[0];
        int rowLength = rowsIn == 0 ? 0 : x.Length / rowsIn;
        var shape = x.Shape.ToArray();
        shape[0] = indices.Length;
        var y = Tape.NewOutput(shape);
        var xs = x.Span;
        var ys = y.Span;
        for (int i = 0; i < indices.Length; i++)
        {
            int index = indices[i];
            if ((uint)index >= (uint)rowsIn)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), $"indices[{i}] = {index} is outside the first dimension of x of shape {x.ShapeString}.");
            }
            xs.Slice(index * rowLength, rowLength).CopyTo(ys.Slice(i * rowLength, rowLength));
        }
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new GatherNode(y, x, indices.ToArray(), rowLength));
        }
        return y;
    }

    /// <summary>Adds the output gradient into the input's gradient at an element offset (reshape and row-slice views).</summary>
    private sealed class AddIntoNode(Tensor output, Tensor input, int elementOffset) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            if (!input.RequiresGrad)
            {
                return;
            }
            var gx = tape.GradientOf(input).Span.Slice(elementOffset, Output.Length);
            TensorPrimitives.Add(gx, Output.Grad!.Span, gx);
        }
    }

    private sealed class ConcatNode(Tensor output, Tensor[] parts) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            int total = Output.Shape[^1];
            int rows = total == 0 ? 0 : Output.Length / total;
            var g = Output.Grad!.Span;
            int column = 0;
            foreach (var p in parts)
            {
                int width = p.Shape[^1];
                if (p.RequiresGrad)
                {
                    var gp = tape.GradientOf(p).Span;
                    for (int r = 0; r < rows; r++)
                    {
                        var dst = gp.Slice(r * width, width);
                        TensorPrimitives.Add(dst, g.Slice(r * total + column, width), dst);
                    }
                }
                column += width;
            }
        }
    }

    private sealed class NarrowNode(Tensor output, Tensor input, int start) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            int width = input.Shape[^1];
            int length = Output.Shape[^1];
            int rows = width == 0 ? 0 : input.Length / width;
            var g = Output.Grad!.Span;
            var gx = tape.GradientOf(input).Span;
            for (int r = 0; r < rows; r++)
            {
                var dst = gx.Slice(r * width + start, length);
                TensorPrimitives.Add(dst, g.Slice(r * length, length), dst);
            }
        }
    }

    private sealed class GatherNode(Tensor output, Tensor input, int[] indices, int rowLength) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            var g = Output.Grad!.Span;
            var gx = tape.GradientOf(input).Span;
            for (int i = 0; i < indices.Length; i++)
            {
                var dst = gx.Slice(indices[i] * rowLength, rowLength);
                TensorPrimitives.Add(dst, g.Slice(i * rowLength, rowLength), dst);
            }
        }
    }
}
