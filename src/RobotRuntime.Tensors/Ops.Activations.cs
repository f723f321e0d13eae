using System.Numerics.Tensors;
using RobotRuntime.Tensors.Kernels;

namespace RobotRuntime.Tensors;

public static partial class Ops
{
    /// <summary>max(x, 0).</summary>
    public static Tensor Relu(Tensor x) => Unary(x, new ReluOperator(), new ReluOperator());

    /// <summary>ELU: x for x &gt; 0, α(eˣ − 1) otherwise.</summary>
    public static Tensor Elu(Tensor x, float alpha = 1f) => Unary(x, new EluOperator(alpha), new EluOperator(alpha));

    /// <summary>GELU, exact (erf) form as PyTorch's default: x·Φ(x).</summary>
    public static Tensor Gelu(Tensor x) => Unary(x, new GeluOperator(), new GeluOperator());

    /// <summary>Mish: x·tanh(softplus(x)), TD-MPC2's activation.</summary>
    public static Tensor Mish(Tensor x) => Unary(x, new MishOperator(), new MishOperator());

    /// <summary>Hyperbolic tangent.</summary>
    public static Tensor Tanh(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = Tape.NewOutput(x.ShapeArray);
        TensorPrimitives.Tanh(x.Span, y.Span);
        Record(x, y, new TanhGradientOperator());
        return y;
    }

    /// <summary>Logistic sigmoid 1 / (1 + e⁻ˣ).</summary>
    public static Tensor Sigmoid(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = Tape.NewOutput(x.ShapeArray);
        TensorPrimitives.Sigmoid(x.Span, y.Span);
        Record(x, y, new SigmoidGradientOperator());
        return y;
    }

    /// <summary>eˣ element-wise.</summary>
    public static Tensor Exp(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = Tape.NewOutput(x.ShapeArray);
        TensorPrimitives.Exp(x.Span, y.Span);
        Record(x, y, new ExpGradientOperator());
        return y;
    }

    /// <summary>Natural logarithm element-wise.</summary>
    public static Tensor Log(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = Tape.NewOutput(x.ShapeArray);
        TensorPrimitives.Log(x.Span, y.Span);
        Record(x, y, new LogGradientOperator());
        return y;
    }

    /// <summary>x² element-wise.</summary>
    public static Tensor Square(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = Tape.NewOutput(x.ShapeArray);
        TensorPrimitives.Multiply(x.Span, x.Span, y.Span);
        Record(x, y, new SquareGradientOperator());
        return y;
    }

    private static Tensor Unary<TForward, TGradient>(Tensor x, TForward forward, TGradient gradient)
        where TForward : struct, IUnaryOperator
        where TGradient : struct, IGradientOperator
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = Tape.NewOutput(x.ShapeArray);
        Elementwise.Map(forward, x.Span, y.Span);
        Record(x, y, gradient);
        return y;
    }

    private static void Record<TGradient>(Tensor x, Tensor y, TGradient gradient) where TGradient : struct, IGradientOperator
    {
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new UnaryNode<TGradient>(y, x, gradient));
        }
    }

    private sealed class UnaryNode<TGradient>(Tensor output, Tensor input, TGradient gradient) : Node(output)
        where TGradient : struct, IGradientOperator
    {
        public override void Backward(Tape tape) =>
            Elementwise.AccumulateGradient(gradient, input.Span, Output.Span, Output.Grad!.Span, tape.GradientOf(input).Span);
    }
}
