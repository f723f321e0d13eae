namespace RobotRuntime.Tensors;

public static partial class Ops
{
    /// <summary>
    /// symexp(x) = sign(x)·(e^|x| − 1), the inverse of symlog(x) = sign(x)·ln(1 + |x|) (TD-MPC2 and
    /// DreamerV3 decode two-hot predictions with it). Its derivative is e^|x| = |y| + 1.
    /// </summary>
    public static Tensor Symexp(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = Tape.NewOutput(x.ShapeArray);
        var xs = x.Span;
        var ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            float v = xs[i];
            ys[i] = MathF.CopySign(MathF.Exp(MathF.Abs(v)) - 1f, v);
        }
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new SymexpNode(y, x));
        }
        return y;
    }

    private sealed class SymexpNode(Tensor output, Tensor input) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            var gx = tape.GradientOf(input).Span;
            var gy = Output.Grad!.Span;
            var ys = Output.Span;
            for (int i = 0; i < gx.Length; i++)
            {
                gx[i] += gy[i] * (MathF.Abs(ys[i]) + 1f);
            }
        }
    }
}
