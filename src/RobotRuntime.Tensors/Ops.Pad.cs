namespace RobotRuntime.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Pads the two spatial dimensions of x [N, C, H, W] with <paramref name="padding"/> rows and
    /// columns of <paramref name="value"/> on every side → [N, C, H + 2p, W + 2p]. With
    /// <see cref="float.NegativeInfinity"/> it gives max pooling PyTorch's padding semantics.
    /// </summary>
    /// <exception cref="ArgumentException">x is not rank 4.</exception>
    /// <exception cref="ArgumentOutOfRangeException">padding is negative.</exception>
    public static Tensor Pad2d(Tensor x, int padding, float value)
    {
        ArgumentNullException.ThrowIfNull(x);
        Shapes.RequireRank(x, 4, nameof(x));
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        if (padding == 0)
        {
            return x;
        }
        int planes = x.Shape[0] * x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        int ph = h + 2 * padding, pw = w + 2 * padding;
        var y = Tape.NewOutput([x.Shape[0], x.Shape[1], ph, pw]);
        var ys = y.Span;
        ys.Fill(value);
        var xs = x.Span;
        for (int p = 0; p < planes; p++)
        {
            for (int i = 0; i < h; i++)
            {
                xs.Slice((p * h + i) * w, w).CopyTo(ys.Slice((p * ph + i + padding) * pw + padding, w));
            }
        }
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new Pad2dNode(y, x, padding));
        }
        return y;
    }

    private sealed class Pad2dNode(Tensor output, Tensor x, int padding) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            var g = Output.Grad!.Span;
            var gx = tape.GradientOf(x).Span;
            int planes = x.Shape[0] * x.Shape[1], h = x.Shape[2], w = x.Shape[3];
            int ph = h + 2 * padding, pw = w + 2 * padding;
            for (int p = 0; p < planes; p++)
            {
                for (int i = 0; i < h; i++)
                {
                    var row = gx.Slice((p * h + i) * w, w);
                    System.Numerics.Tensors.TensorPrimitives.Add(row, g.Slice((p * ph + i + padding) * pw + padding, w), row);
                }
            }
        }
    }
}
