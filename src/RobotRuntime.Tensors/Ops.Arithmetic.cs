using System.Numerics.Tensors;

namespace RobotRuntime.Tensors;

public static partial class Ops
{
    /// <summary>a + b; b has a's shape or a suffix of it (repeated over a's leading dimensions).</summary>
    public static Tensor Add(Tensor a, Tensor b) => Binary(a, b, BinaryKind.Add);

    /// <summary>a − b; b has a's shape or a suffix of it.</summary>
    public static Tensor Subtract(Tensor a, Tensor b) => Binary(a, b, BinaryKind.Subtract);

    /// <summary>a · b element-wise; b has a's shape or a suffix of it.</summary>
    public static Tensor Multiply(Tensor a, Tensor b) => Binary(a, b, BinaryKind.Multiply);

    /// <summary>x · <paramref name="scale"/> + <paramref name="shift"/>.</summary>
    public static Tensor Affine(Tensor x, float scale, float shift)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = Tape.NewOutput(x.ShapeArray);
        TensorPrimitives.Multiply(x.Span, scale, y.Span);
        if (shift != 0f)
        {
            TensorPrimitives.Add(y.Span, shift, y.Span);
        }
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new AffineNode(y, x, scale));
        }
        return y;
    }

    /// <summary>x · <paramref name="scale"/>.</summary>
    public static Tensor Scale(Tensor x, float scale) => Affine(x, scale, 0f);

    private enum BinaryKind
    {
        Add,
        Subtract,
        Multiply,
    }

    private static Tensor Binary(Tensor a, Tensor b, BinaryKind kind)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        int inner = Shapes.RequireBroadcastable(a, b, nameof(b));
        var y = Tape.NewOutput(a.ShapeArray);
        var asp = a.Span;
        var bsp = b.Span;
        var ysp = y.Span;
        if (inner == 1 && a.Length > 1)
        {
            // A one-element b: one vectorised pass instead of a call per element.
            float scalar = bsp[0];
            switch (kind)
            {
                case BinaryKind.Add: TensorPrimitives.Add(asp, scalar, ysp); break;
                case BinaryKind.Subtract: TensorPrimitives.Subtract(asp, scalar, ysp); break;
                default: TensorPrimitives.Multiply(asp, scalar, ysp); break;
            }
            if (Tape.ShouldRecord(a, b))
            {
                Tape.Push(new BinaryNode(y, a, b, kind));
            }
            return y;
        }
        for (int offset = 0; offset < a.Length; offset += Math.Max(inner, 1))
        {
            var ar = asp.Slice(offset, inner);
            var yr = ysp.Slice(offset, inner);
            switch (kind)
            {
                case BinaryKind.Add: TensorPrimitives.Add(ar, bsp, yr); break;
                case BinaryKind.Subtract: TensorPrimitives.Subtract(ar, bsp, yr); break;
                default: TensorPrimitives.Multiply(ar, bsp, yr); break;
            }
            if (inner == 0)
            {
                break;
            }
        }
        if (Tape.ShouldRecord(a, b))
        {
            Tape.Push(new BinaryNode(y, a, b, kind));
        }
        return y;
    }

    private sealed class BinaryNode(Tensor output, Tensor a, Tensor b, BinaryKind kind) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            var g = Output.Grad!.Span;
            int inner = b.Length;
            if (inner == 0)
            {
                return;
            }
            if (a.RequiresGrad)
            {
                var ga = tape.GradientOf(a).Span;
                if (kind == BinaryKind.Multiply && inner == 1)
                {
                    TensorPrimitives.MultiplyAdd(g, b.Span[0], ga, ga);
                }
                else if (kind == BinaryKind.Multiply)
                {
                    var bs = b.Span;
                    for (int offset = 0; offset < g.Length; offset += inner)
                    {
                        var dst = ga.Slice(offset, inner);
                        TensorPrimitives.MultiplyAdd(g.Slice(offset, inner), bs, dst, dst);
                    }
                }
                else
                {
                    TensorPrimitives.Add(ga, g, ga);
                }
            }
            if (b.RequiresGrad)
            {
                var gb = tape.GradientOf(b).Span;
                var asp = a.Span;
                if (inner == 1)
                {
                    gb[0] += kind switch
                    {
                        BinaryKind.Add => TensorPrimitives.Sum(g),
                        BinaryKind.Subtract => -TensorPrimitives.Sum(g),
                        _ => TensorPrimitives.Dot(g, asp),
                    };
                    return;
                }
                for (int offset = 0; offset < g.Length; offset += inner)
                {
                    var gr = g.Slice(offset, inner);
                    switch (kind)
                    {
                        case BinaryKind.Add: TensorPrimitives.Add(gb, gr, gb); break;
                        case BinaryKind.Subtract: TensorPrimitives.Subtract(gb, gr, gb); break;
                        default: TensorPrimitives.MultiplyAdd(gr, asp.Slice(offset, inner), gb, gb); break;
                    }
                }
            }
        }
    }

    private sealed class AffineNode(Tensor output, Tensor input, float scale) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            var gx = tape.GradientOf(input).Span;
            TensorPrimitives.MultiplyAdd(Output.Grad!.Span, scale, gx, gx);
        }
    }
}
