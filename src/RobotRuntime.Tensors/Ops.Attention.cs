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
        return AttendAndMix(q, k, v, batch, tokens, heads, headWidth, outProjectionWeight, outProjectionBias);
    }

    /// <summary>
    /// Multi-head cross-attention as torch.nn.MultiheadAttention computes it for query ≠ key = value
    /// (batch_first, no masking or dropout): the queries come from <paramref name="query"/> [B, Tq, D],
    /// the keys and values from <paramref name="context"/> [B, Tk, D]. <paramref name="inProjectionWeight"/>
    /// [3D, D] and <paramref name="inProjectionBias"/> [3D] hold the q, k and v projections stacked
    /// (rows 0…D−1 project the queries, D…2D−1 the keys, 2D…3D−1 the values), as in
    /// <see cref="MultiHeadSelfAttention"/>, which equals this op with context = x. Each of
    /// <paramref name="heads"/> heads attends with softmax(q·kᵀ/√(D/heads)) over the Tk context tokens;
    /// <paramref name="outProjectionWeight"/> [D, D] and <paramref name="outProjectionBias"/> [D] mix
    /// the concatenated heads. Returns [B, Tq, D]: query token i's output depends on query token i
    /// and on the context only. Differentiable in every input (built from recorded ops).
    /// </summary>
    /// <exception cref="ArgumentException">Shapes disagree (ranks, batch, width) or D is not a multiple of heads.</exception>
    public static Tensor MultiHeadCrossAttention(Tensor query, Tensor context, int heads, Tensor inProjectionWeight, Tensor? inProjectionBias,
        Tensor outProjectionWeight, Tensor? outProjectionBias)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(context);
        Shapes.RequireRank(query, 3, nameof(query));
        Shapes.RequireRank(context, 3, nameof(context));
        int batch = query.Shape[0], queries = query.Shape[1], model = query.Shape[2], keys = context.Shape[1];
        if (context.Shape[0] != batch || context.Shape[2] != model)
        {
            throw new ArgumentException($"context has shape {context.ShapeString} but [{batch}, Tk, {model}] was expected (the query's batch and width; query {query.ShapeString}).", nameof(context));
        }
        if (heads <= 0 || model % heads != 0)
        {
            throw new ArgumentException($"query has shape {query.ShapeString} but its last dimension must be a multiple of heads = {heads}.", nameof(heads));
        }
        Shapes.RequireShape(inProjectionWeight, [3 * model, model], nameof(inProjectionWeight));
        if (inProjectionBias is not null)
        {
            Shapes.RequireShape(inProjectionBias, [3 * model], nameof(inProjectionBias));
        }
        Shapes.RequireShape(outProjectionWeight, [model, model], nameof(outProjectionWeight));
        int headWidth = model / heads;
        // The queries' projection and the keys' and values' (one Linear over the context for both).
        var projectedQuery = Linear(query, SliceRows(inProjectionWeight, 0, model), inProjectionBias is null ? null : SliceRows(inProjectionBias, 0, model));
        var keyValue = Linear(context, SliceRows(inProjectionWeight, model, 2 * model), inProjectionBias is null ? null : SliceRows(inProjectionBias, model, 2 * model));
        var q = Reshape(SwapAxes12(Reshape(projectedQuery, batch, queries, heads, headWidth)), batch * heads, queries, headWidth);
        Tensor ContextHeads(int part) =>
            Reshape(SwapAxes12(Reshape(Narrow(keyValue, part * model, model), batch, keys, heads, headWidth)), batch * heads, keys, headWidth);
        var k = ContextHeads(0);
        var v = ContextHeads(1);
        return AttendAndMix(q, k, v, batch, queries, heads, headWidth, outProjectionWeight, outProjectionBias);
    }

    /// <summary>softmax(q·kᵀ/√w)·v per head ([B·H, Tq, w] queries against [B·H, Tk, w] keys and values), heads merged back to [B, Tq, H·w] and projected out.</summary>
    private static Tensor AttendAndMix(Tensor q, Tensor k, Tensor v, int batch, int queries, int heads, int headWidth,
        Tensor outProjectionWeight, Tensor? outProjectionBias)
    {
        var attention = Softmax(Scale(BatchedMatMul(q, k, transposeB: true), 1f / MathF.Sqrt(headWidth)));
        var mixed = BatchedMatMul(attention, v);
        var merged = Reshape(SwapAxes12(Reshape(mixed, batch, heads, queries, headWidth)), batch, queries, heads * headWidth);
        return Linear(merged, outProjectionWeight, outProjectionBias);
    }
}
