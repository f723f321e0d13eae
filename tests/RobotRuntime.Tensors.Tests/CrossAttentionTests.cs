using RobotRuntime.Tensors.Modules;

namespace RobotRuntime.Tensors.Tests;

/// <summary>
/// Multi-head cross-attention (<see cref="Ops.MultiHeadCrossAttention"/>): a case worked by hand, an
/// independent float64 implementation, its agreement with self-attention when the context is the
/// query itself, and shape errors. Its gradients are checked against finite differences in
/// <see cref="GradientCheckTests"/>.
/// </summary>
public class CrossAttentionTests
{
    private static Tensor Identity2x2() => Tensor.FromArray([1f, 0f, 0f, 1f], 2, 2);

    // q, k and v projections all the identity: [I; I; I], [6, 2].
    private static Tensor StackedIdentity() => Tensor.FromArray([1f, 0f, 0f, 1f, 1f, 0f, 0f, 1f, 1f, 0f, 0f, 1f], 6, 2);

    [Fact]
    public void OneHeadWeighsTheContextsValuesBySoftmaxOfScaledScoresWorkedByHand()
    {
        // D = 2, one head, every projection the identity and no biases, so q = query, k = v = context.
        // Context tokens c1 = (1, 0), c2 = (0, 1), c3 = (0, 0); scores are q·c / √2.
        //   query (√2·ln 3, 0): scores (ln 3, 0, 0) → weights (3/5, 1/5, 1/5) → 3/5·c1 + 1/5·c2 = (0.6, 0.2)
        //   query (0, 0):       equal scores → weights 1/3 each          → (1/3, 1/3)
        //   query (0, √2·ln 2): scores (0, ln 2, 0) → weights (1/4, 1/2, 1/4) → (0.25, 0.5)
        float a = MathF.Sqrt(2f) * MathF.Log(3f), b = MathF.Sqrt(2f) * MathF.Log(2f);
        var query = Tensor.FromArray([a, 0f, 0f, 0f, 0f, b], 1, 3, 2);
        var context = Tensor.FromArray([1f, 0f, 0f, 1f, 0f, 0f], 1, 3, 2);
        var y = Ops.MultiHeadCrossAttention(query, context, 1, StackedIdentity(), null, Identity2x2(), null);
        Assert.Equal([1, 3, 2], y.Shape.ToArray());
        // float32 exp and sums: 1e-6.
        TestSupport.AssertClose([0.6f, 0.2f, 1f / 3f, 1f / 3f, 0.25f, 0.5f], y.Span, 1e-6, 0, "one head");
    }

    [Fact]
    public void TwoHeadsAttendSeparatelyAndTheOutputBiasIsAddedWorkedByHand()
    {
        // D = 2 in two heads of width 1 (scale 1/√1): head 0 reads coordinate 0 of q, k and v, head 1 coordinate 1.
        // Query (ln 3, ln 2) against context (1, 0), (0, 1), (0, 0):
        //   head 0 scores (ln 3, 0, 0) → (3/5, 1/5, 1/5); values' coordinate 0 are (1, 0, 0) → 0.6
        //   head 1 scores (0, ln 2, 0) → (1/4, 1/2, 1/4); values' coordinate 1 are (0, 1, 0) → 0.5
        // plus the output bias (0.1, −0.2): (0.7, 0.3). With one head of width 2 the scores would mix both coordinates.
        var query = Tensor.FromArray([MathF.Log(3f), MathF.Log(2f)], 1, 1, 2);
        var context = Tensor.FromArray([1f, 0f, 0f, 1f, 0f, 0f], 1, 3, 2);
        var y = Ops.MultiHeadCrossAttention(query, context, 2, StackedIdentity(), null, Identity2x2(), Tensor.FromArray([0.1f, -0.2f], 2));
        TestSupport.AssertClose([0.7f, 0.3f], y.Span, 1e-6, 0, "two heads");
        var oneHead = Ops.MultiHeadCrossAttention(query, context, 1, StackedIdentity(), null, Identity2x2(), Tensor.FromArray([0.1f, -0.2f], 2));
        Assert.True(Math.Abs(oneHead.Span[0] - 0.7f) > 0.01f, $"one head gives {oneHead.Span[0]} too: the case cannot tell the heads apart");
    }

    [Fact]
    public void MatchesAnIndependentFloat64ImplementationWithBiasesAndABatch()
    {
        var random = new Random(41);
        const int batch = 2, queries = 3, keys = 5, model = 6, heads = 3;
        var query = TestSupport.Random(random, batch, queries, model);
        var context = TestSupport.Random(random, batch, keys, model);
        var inWeight = TestSupport.Random(random, 3 * model, model);
        var inBias = TestSupport.Random(random, 3 * model);
        var outWeight = TestSupport.Random(random, model, model);
        var outBias = TestSupport.Random(random, model);
        var y = Ops.MultiHeadCrossAttention(query, context, heads, inWeight, inBias, outWeight, outBias);
        var expected = Reference(query.Span.ToArray(), context.Span.ToArray(), batch, queries, keys, model, heads,
            inWeight.Span.ToArray(), inBias.Span.ToArray(), outWeight.Span.ToArray(), outBias.Span.ToArray());
        // float32 against float64 over sums of 6 products of O(1) values: 1e-4 absolute + 1e-4 relative.
        TestSupport.AssertClose(expected, y.Span, 1e-4, 1e-4, "cross-attention against float64");
        // Sample 1's output depends on sample 1's query and context only.
        var first = Ops.MultiHeadCrossAttention(Ops.SliceRows(query, 0, 1), Ops.SliceRows(context, 0, 1), heads, inWeight, inBias, outWeight, outBias);
        TestSupport.AssertClose(y.Span[..(queries * model)], first.Span, 1e-6, 1e-6, "sample 0 alone");
    }

    [Fact]
    public void WithTheQueryAsItsContextItIsSelfAttentionForwardAndBackward()
    {
        var random = new Random(5);
        var x = TestSupport.Random(random, 2, 4, 8);
        var inWeight = TestSupport.Random(random, 24, 8);
        var inBias = TestSupport.Random(random, 24);
        var outWeight = TestSupport.Random(random, 8, 8);
        var outBias = TestSupport.Random(random, 8);
        var weights = TestSupport.Random(random, 2, 4, 8);
        (float[] Output, float[][] Grads) Run(Func<Tensor> attention)
        {
            Tensor[] inputs = [x, inWeight, inBias, outWeight, outBias];
            foreach (var t in inputs)
            {
                t.RequiresGrad = true;
                t.ZeroGrad();
            }
            using var tape = new Tape();
            float[] output;
            using (tape.Record())
            {
                var y = attention();
                output = y.Span.ToArray();
                tape.Backward(Ops.Sum(Ops.Multiply(y, weights)));
            }
            return (output, inputs.Select(t => t.Grad!.Span.ToArray()).ToArray());
        }
        var self = Run(() => Ops.MultiHeadSelfAttention(x, 2, inWeight, inBias, outWeight, outBias));
        var cross = Run(() => Ops.MultiHeadCrossAttention(x, x, 2, inWeight, inBias, outWeight, outBias));
        // The same float32 arithmetic with the projections split differently: 1e-5 absolute + 1e-5 relative.
        TestSupport.AssertClose(self.Output, cross.Output, 1e-5, 1e-5, "output");
        string[] names = ["x (reached both as query and as context)", "in-projection weight", "in-projection bias", "out-projection weight", "out-projection bias"];
        for (var i = 0; i < names.Length; i++)
            TestSupport.AssertClose(self.Grads[i], cross.Grads[i], 1e-4, 1e-4, "gradient of " + names[i]);
    }

    [Fact]
    public void MismatchedShapesAreRefusedNamingTheInput()
    {
        var w = Tensor.Zeros(12, 4);
        var o = Tensor.Zeros(4, 4);
        var query = Tensor.Zeros(2, 3, 4);
        Assert.Contains("context", Assert.Throws<ArgumentException>(() => Ops.MultiHeadCrossAttention(query, Tensor.Zeros(1, 5, 4), 2, w, null, o, null)).Message);
        Assert.Contains("context", Assert.Throws<ArgumentException>(() => Ops.MultiHeadCrossAttention(query, Tensor.Zeros(2, 5, 6), 2, w, null, o, null)).Message);
        Assert.Contains("heads", Assert.Throws<ArgumentException>(() => Ops.MultiHeadCrossAttention(query, Tensor.Zeros(2, 5, 4), 3, w, null, o, null)).Message);
        Assert.Throws<ArgumentException>(() => Ops.MultiHeadCrossAttention(query, Tensor.Zeros(2, 5, 4), 2, Tensor.Zeros(8, 4), null, o, null));
        Assert.Throws<ArgumentException>(() => Ops.MultiHeadCrossAttention(query, Tensor.Zeros(2, 5, 4), 2, w, Tensor.Zeros(8), o, null));
    }

    [Fact]
    public void ACrossSelfBlockReadsItsContextAndNamesEveryParameterOnce()
    {
        var random = new Random(3);
        var block = new CrossSelfBlock("decoder.block0", 8, 2, 2, random);
        var names = block.Parameters().Select(p => p.Name).ToList();
        Assert.Equal(names.Distinct(), names);
        Assert.Contains("decoder.block0.cross_attention.in_proj_weight", names);
        Assert.Contains("decoder.block0.attention.in_proj_weight", names);
        // Another context, the same tokens: another output (the cross-attention's out-projection is not zero at initialisation).
        var x = TestSupport.Random(random, 1, 4, 8);
        var y1 = block.Forward(x, TestSupport.Random(random, 1, 6, 8)).Span.ToArray();
        var y2 = block.Forward(x, TestSupport.Random(random, 1, 6, 8)).Span.ToArray();
        Assert.Equal([1, 4, 8], block.Forward(x, TestSupport.Random(random, 1, 2, 8)).Shape.ToArray());
        Assert.True(y1.Zip(y2, (p, q) => Math.Abs(p - q)).Max() > 1e-3, "the block's output does not depend on its context");
    }

    private static float[] Reference(float[] query, float[] context, int batch, int queries, int keys, int model, int heads,
        float[] inWeight, float[] inBias, float[] outWeight, float[] outBias)
    {
        int width = model / heads;
        double[] Project(float[] x, int row, int part)
        {
            var y = new double[model];
            for (var o = 0; o < model; o++)
            {
                double sum = inBias[part * model + o];
                for (var i = 0; i < model; i++)
                    sum += (double)x[row * model + i] * inWeight[(part * model + o) * model + i];
                y[o] = sum;
            }
            return y;
        }
        var output = new float[batch * queries * model];
        for (var n = 0; n < batch; n++)
        {
            var k = Enumerable.Range(0, keys).Select(j => Project(context, n * keys + j, 1)).ToArray();
            var v = Enumerable.Range(0, keys).Select(j => Project(context, n * keys + j, 2)).ToArray();
            for (var t = 0; t < queries; t++)
            {
                var q = Project(query, n * queries + t, 0);
                var merged = new double[model];
                for (var h = 0; h < heads; h++)
                {
                    var scores = new double[keys];
                    for (var j = 0; j < keys; j++)
                    {
                        for (var c = h * width; c < (h + 1) * width; c++)
                            scores[j] += q[c] * k[j][c];
                        scores[j] /= Math.Sqrt(width);
                    }
                    var max = scores.Max();
                    var e = scores.Select(s => Math.Exp(s - max)).ToArray();
                    var total = e.Sum();
                    for (var j = 0; j < keys; j++)
                    {
                        for (var c = h * width; c < (h + 1) * width; c++)
                            merged[c] += e[j] / total * v[j][c];
                    }
                }
                for (var o = 0; o < model; o++)
                {
                    double sum = outBias[o];
                    for (var i = 0; i < model; i++)
                        sum += merged[i] * outWeight[o * model + i];
                    output[(n * queries + t) * model + o] = (float)sum;
                }
            }
        }
        return output;
    }
}
