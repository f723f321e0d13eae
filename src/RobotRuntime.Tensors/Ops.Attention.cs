using System.Numerics.Tensors;

namespace RobotRuntime.Tensors;

public static partial class Ops
{
    /// <summary>Swaps dimensions 1 and 2 of a rank-4 tensor: [A, B, C, D] → [A, C, B, D] (a copy).</summary>
    /// <exception cref="ArgumentException">x is not rank 4.</exception>
    public static Tensor SwapAxes12(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        Shapes.RequireRank(x, 4, nameof(x));
        int a = x.Shape[0], b = x.Shape[1], c = x.Shape[2], d = x.Shape[3];
        var y = Tape.NewOutput([a, c, b, d]);
        SwapAxes12Into(x.Span, y.Span, a, b, c, d, accumulate: false);
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new SwapAxes12Node(y, x));
        }
        return y;
    }

    private static void SwapAxes12Into(ReadOnlySpan<float> source, Span<float> destination, int a, int b, int c, int d, bool accumulate)
    {
        for (int i = 0; i < a; i++)
        {
            for (int j = 0; j < b; j++)
            {
                for (int k = 0; k < c; k++)
                {
                    var src = source.Slice(((i * b + j) * c + k) * d, d);
                    var dst = destination.Slice(((i * c + k) * b + j) * d, d);
                    if (accumulate)
                    {
                        TensorPrimitives.Add(dst, src, dst);
                    }
                    else
                    {
                        src.CopyTo(dst);
                    }
                }
            }
        }
    }

    private sealed class SwapAxes12Node(Tensor output, Tensor x) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            // The output is [A, C, B, D]; swapping back lands on x's layout.
            var s = Output.Shape;
            SwapAxes12Into(Output.Grad!.Span, tape.GradientOf(x).Span, s[0], s[1], s[2], s[3], accumulate: true);
        }
    }

    /// <summary>
    /// Multi-head self-attention as torch.nn.MultiheadAttention (batch_first) computes it, without
    /// masking or dropout: x [B, T, D]; <paramref name="inProjectionWeight"/> [3D, D] and
    /// <paramref name="inProjectionBias"/> [3D] give q, k, v; each of <paramref name="heads"/> heads
    /// attends with softmax(q·kᵀ/√(D/heads)); <paramref name="outProjectionWeight"/> [D, D] and
    /// <paramref name="outProjectionBias"/> [D] mix the concatenated heads. Returns [B, T, D].
    /// </summary>
    /// <exception cref="ArgumentException">Shapes disagree or D is not a multiple of heads.</exception>
    public static Tensor MultiHeadSelfAttention(Tensor x, int heads, Tensor inProjectionWeight, Tensor? inProjectionBias,
        Tensor outProjectionWeight, Tensor? outProjectionBias)
    {
        ArgumentNullException.ThrowIfNull(x);
        Shapes.RequireRank(x, 3, nameof(x));
        int batch = x.Shape[0], tokens = x.Shape[1], model = x.Shape[2];
        if (heads <= 0 || model % heads != 0)
        {
            throw new ArgumentException($"x has shape {x.ShapeString} but its last dimension must be a multiple of heads = {heads}.", nameof(heads));
        }
        Shapes.RequireShape(inProjectionWeight, [3 * model, model], nameof(inProjectionWeight));
        Shapes.RequireShape(outProjectionWeight, [model, model], nameof(outProjectionWeight));
        int headWidth = model / heads;
        var qkv = Linear(x, inProjectionWeight, inProjectionBias);
        Tensor Heads(int part) =>
            Reshape(SwapAxes12(Reshape(Narrow(qkv, part * model, model), batch, tokens, heads, headWidth)), batch * heads, tokens, headWidth);
        var q = Heads(0);
        var k = Heads(1);
        var v = Heads(2);
        var attention = Softmax(Scale(BatchedMatMul(q, k, transposeB: true), 1f / MathF.Sqrt(headWidth)));
        var mixed = BatchedMatMul(attention, v);
        var merged = Reshape(SwapAxes12(Reshape(mixed, batch, heads, tokens, headWidth)), batch, tokens, model);
        return Linear(merged, outProjectionWeight, outProjectionBias);
    }
}
