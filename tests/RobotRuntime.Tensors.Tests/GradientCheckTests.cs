namespace RobotRuntime.Tensors.Tests;

/// <summary>
/// Every differentiable op's gradient against central finite differences. The scalar probed is
/// L = Σ y·R for a fixed random R, evaluated in double from the float32 output; the step is 1e-3
/// and the tolerance |analytic − numeric| ≤ 2e-3 + 2e-2·|numeric| (the float32 forward limits how
/// closely a difference quotient can be resolved). Inputs sit away from kinks (ReLU at 0).
/// </summary>
public class GradientCheckTests
{
    private const double Step = 1e-3;

    private sealed record Case(Func<Tensor[], Tensor> Function, Func<Random, Tensor[]> Inputs);

    private static Tensor R(Random r, params int[] shape) => TestSupport.Random(r, shape);

    private static Tensor Positive(Random r, params int[] shape)
    {
        var t = Tensor.RandomUniform(r, 0.5f, 2f, shape);
        return t;
    }

    // Distinct values at least 0.01 apart in random order: no two elements of a pooling window come
    // within the finite-difference step of each other, so the maximum never switches.
    private static Tensor Distinct(Random r, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        var s = t.Span;
        var order = Enumerable.Range(0, s.Length).OrderBy(_ => r.Next()).ToArray();
        for (int i = 0; i < s.Length; i++)
        {
            s[i] = (order[i] - s.Length / 2) * 0.01f;
        }
        return t;
    }

    private static Tensor AwayFromZero(Random r, params int[] shape)
    {
        var t = R(r, shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++)
        {
            s[i] = s[i] >= 0 ? s[i] + 0.1f : s[i] - 0.1f;
        }
        return t;
    }

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["Add"] = new(x => Ops.Add(x[0], x[1]), r => [R(r, 3, 4), R(r, 3, 4)]),
        ["AddBroadcast"] = new(x => Ops.Add(x[0], x[1]), r => [R(r, 3, 4), R(r, 4)]),
        ["Subtract"] = new(x => Ops.Subtract(x[0], x[1]), r => [R(r, 2, 3, 4), R(r, 3, 4)]),
        ["MultiplyBroadcast"] = new(x => Ops.Multiply(x[0], x[1]), r => [R(r, 5, 4), R(r, 4)]),
        ["Affine"] = new(x => Ops.Affine(x[0], -1.5f, 0.25f), r => [R(r, 3, 4)]),
        ["MatMul"] = new(x => Ops.MatMul(x[0], x[1]), r => [R(r, 5, 7), R(r, 7, 3)]),
        ["MatMulTransposeA"] = new(x => Ops.MatMul(x[0], x[1], transposeA: true), r => [R(r, 7, 5), R(r, 7, 3)]),
        ["MatMulTransposeB"] = new(x => Ops.MatMul(x[0], x[1], transposeB: true), r => [R(r, 5, 7), R(r, 3, 7)]),
        ["MatMulTransposeBoth"] = new(x => Ops.MatMul(x[0], x[1], true, true), r => [R(r, 7, 5), R(r, 3, 7)]),
        ["BatchedMatMul"] = new(x => Ops.BatchedMatMul(x[0], x[1]), r => [R(r, 2, 3, 4), R(r, 2, 4, 5)]),
        ["BatchedMatMulTransposeB"] = new(x => Ops.BatchedMatMul(x[0], x[1], transposeB: true), r => [R(r, 2, 3, 4), R(r, 2, 5, 4)]),
        ["Linear"] = new(x => Ops.Linear(x[0], x[1], x[2]), r => [R(r, 2, 3, 6), R(r, 4, 6), R(r, 4)]),
        ["Relu"] = new(x => Ops.Relu(x[0]), r => [AwayFromZero(r, 4, 5)]),
        ["Elu"] = new(x => Ops.Elu(x[0], 0.7f), r => [AwayFromZero(r, 4, 5)]),
        ["Gelu"] = new(x => Ops.Gelu(x[0]), r => [R(r, 4, 5)]),
        ["Mish"] = new(x => Ops.Mish(x[0]), r => [R(r, 4, 5)]),
        ["Tanh"] = new(x => Ops.Tanh(x[0]), r => [R(r, 4, 5)]),
        ["Sigmoid"] = new(x => Ops.Sigmoid(x[0]), r => [R(r, 4, 5)]),
        ["Exp"] = new(x => Ops.Exp(x[0]), r => [R(r, 3, 5)]),
        ["Log"] = new(x => Ops.Log(x[0]), r => [Positive(r, 3, 5)]),
        ["Square"] = new(x => Ops.Square(x[0]), r => [R(r, 3, 5)]),
        ["Softmax"] = new(x => Ops.Softmax(x[0]), r => [R(r, 3, 7)]),
        ["LogSoftmax"] = new(x => Ops.LogSoftmax(x[0]), r => [R(r, 3, 7)]),
        ["SimNorm"] = new(x => Ops.SimNorm(x[0], 4), r => [R(r, 3, 12)]),
        ["SimNormGroupsOf8"] = new(x => Ops.SimNorm(x[0], 8), r => [R(r, 2, 24)]),
        ["L2Normalize"] = new(x => Ops.L2Normalize(x[0]), r => [R(r, 4, 6)]),
        ["L2NormalizeRank3"] = new(x => Ops.L2Normalize(x[0]), r => [R(r, 2, 3, 5)]),
        ["LayerNorm"] = new(x => Ops.LayerNorm(x[0], x[1], x[2]), r => [R(r, 4, 9), R(r, 9), R(r, 9)]),
        ["Sum"] = new(x => Ops.Sum(x[0]), r => [R(r, 3, 4)]),
        ["Mean"] = new(x => Ops.Mean(x[0]), r => [R(r, 3, 4)]),
        ["SumLastDim"] = new(x => Ops.SumLastDim(x[0]), r => [R(r, 3, 4)]),
        ["MeanLastDim"] = new(x => Ops.MeanLastDim(x[0]), r => [R(r, 3, 4)]),
        ["MeanAxisMiddle"] = new(x => Ops.Mish(Ops.MeanAxis(x[0], 1)), r => [R(r, 2, 4, 3)]),
        ["MeanAxisFirstAndLast"] = new(x => Ops.Add(Ops.MeanAxis(x[0], 0), Ops.MeanAxis(x[1], -1)), r => [R(r, 3, 5), R(r, 5, 2)]),
        ["MseLoss"] = new(x => Ops.MseLoss(x[0], x[1]), r => [R(r, 3, 4), R(r, 3, 4)]),
        ["SoftCrossEntropy"] = new(x => Ops.SoftCrossEntropy(x[0], x[1]), r => [R(r, 3, 6), Positive(r, 3, 6)]),
        ["Reshape"] = new(x => Ops.Mish(x[0].Reshape(4, -1)), r => [R(r, 2, 6)]),
        ["SliceRows"] = new(x => Ops.Mish(x[0].SliceRows(1, 2)), r => [R(r, 4, 3)]),
        ["Concat"] = new(x => Ops.Concat(x[0], x[1]), r => [R(r, 3, 2), R(r, 3, 4)]),
        ["Narrow"] = new(x => Ops.Narrow(x[0], 1, 3), r => [R(r, 3, 5)]),
        ["Conv2dStride2Padding1"] = new(x => Ops.Conv2d(x[0], x[1], x[2], 2, 1), r => [R(r, 2, 2, 5, 4), R(r, 3, 2, 3, 3), R(r, 3)]),
        ["Conv2dNoBias"] = new(x => Ops.Conv2d(x[0], x[1], null), r => [R(r, 1, 3, 4, 4), R(r, 2, 3, 2, 2)]),
        ["MaxPool2d"] = new(x => Ops.MaxPool2d(x[0], 2, 2), r => [Distinct(r, 2, 2, 4, 5)]),
        ["AvgPool2d"] = new(x => Ops.AvgPool2d(x[0], 2, 1), r => [R(r, 1, 2, 4, 3)]),
        ["AddScalarTensor"] = new(x => Ops.Mish(Ops.Add(x[0], x[1])), r => [R(r, 3, 4), R(r)]),
        ["SubtractScalarTensor"] = new(x => Ops.Mish(Ops.Subtract(x[0], x[1])), r => [R(r, 3, 4), R(r)]),
        ["MultiplyScalarTensor"] = new(x => Ops.Mish(Ops.Multiply(x[0], x[1])), r => [R(r, 3, 4), R(r)]),
        ["Erf"] = new(x => Ops.Erf(x[0]), r => [R(r, 4, 5)]),
        ["Permute"] = new(x => Ops.Mish(Ops.Permute(x[0], 2, 0, 1)), r => [R(r, 2, 3, 4)]),
        ["PermuteRank4"] = new(x => Ops.Mish(Ops.Permute(x[0], 1, 3, 0, 2)), r => [R(r, 2, 3, 2, 3)]),
        ["ConcatAxis1"] = new(x => Ops.Mish(Ops.ConcatAxis(1, x[0], x[1])), r => [R(r, 2, 1, 3), R(r, 2, 3, 3)]),
        ["SliceAxisMiddle"] = new(x => Ops.Mish(Ops.SliceAxis(x[0], 1, 1, 2)), r => [R(r, 2, 4, 3)]),
        ["Pad2d"] = new(x => Ops.Mish(Ops.Pad2d(x[0], 2, 0.3f)), r => [R(r, 2, 2, 3, 4)]),
        ["MaxPool2dPadded"] = new(x => Ops.MaxPool2d(Ops.Pad2d(x[0], 1, float.NegativeInfinity), 3, 2), r => [Distinct(r, 1, 2, 5, 5)]),
        ["BatchNormTraining"] = new(x => Ops.BatchNorm(x[0], Tensor.Zeros(3), Tensor.Zeros(3), x[1], x[2], training: true), r => [R(r, 4, 3, 2, 2), R(r, 3), R(r, 3)]),
        ["BatchNormEvaluation"] = new(x => Ops.BatchNorm(x[0], Tensor.FromArray([0.1f, -0.2f, 0.3f], 3), Tensor.FromArray([0.5f, 1f, 2f], 3), x[1], x[2], training: false), r => [R(r, 4, 3, 2), R(r, 3), R(r, 3)]),
        ["DropoutWithFixedMask"] = new(x => Ops.Dropout(x[0], 0.3f, training: true, new Random(7)), r => [R(r, 4, 6)]),
        ["SwapAxes12"] = new(x => Ops.SwapAxes12(x[0]), r => [R(r, 2, 3, 2, 4)]),
        ["MultiHeadSelfAttention"] = new(x => Ops.MultiHeadSelfAttention(x[0], 2, x[1], x[2], x[3], x[4]), r => [R(r, 2, 3, 4), R(r, 12, 4), R(r, 12), R(r, 4, 4), R(r, 4)]),
        // Cross-attention: 3 query tokens attend to 5 context tokens (every input's gradient: query, context, both projections and biases).
        ["MultiHeadCrossAttention"] = new(x => Ops.MultiHeadCrossAttention(x[0], x[1], 2, x[2], x[3], x[4], x[5]), r => [R(r, 2, 3, 4), R(r, 2, 5, 4), R(r, 12, 4), R(r, 12), R(r, 4, 4), R(r, 4)]),
        ["MultiHeadCrossAttentionNoBiasOneQuery"] = new(x => Ops.MultiHeadCrossAttention(x[0], x[1], 1, x[2], null, x[3], null), r => [R(r, 3, 1, 2), R(r, 3, 4, 2), R(r, 6, 2), R(r, 2, 2)]),
        // A ViT's patch embedding: convolution with kernel = stride (non-overlapping patches), tokens [N, T, D] plus positions.
        ["PatchEmbeddingOps"] = new(x => Ops.Add(Ops.Permute(Ops.Conv2d(x[0], x[1], x[2], 4, 0).Reshape(2, 3, 4), 0, 2, 1), x[3]), r => [R(r, 2, 2, 8, 8), R(r, 3, 2, 4, 4), R(r, 3), R(r, 4, 3)]),
        ["GatherWithRepeats"] = new(x => Ops.Gather(x[0], [2, 0, 2]), r => [R(r, 3, 4)]),
    };

    public static TheoryData<string> OpNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(OpNames))]
    public void GradientMatchesFiniteDifferences(string op)
    {
        var c = Cases[op];
        // A stable seed per op (string.GetHashCode is randomised per process).
        var random = new Random(op.Aggregate(17, (h, ch) => unchecked(h * 31 + ch)) & 0x7fffffff);
        var inputs = c.Inputs(random);
        foreach (var x in inputs)
        {
            x.RequiresGrad = true;
        }
        Tensor weights;
        using (var tape = new Tape())
        {
            using (tape.Record())
            {
                var y = c.Function(inputs);
                weights = TestSupport.Random(random, y.Shape.ToArray());
                var loss = Ops.Sum(Ops.Multiply(y, weights));
                tape.Backward(loss);
            }
        }
        for (int i = 0; i < inputs.Length; i++)
        {
            var analytic = inputs[i].Grad ?? throw new InvalidOperationException($"input {i} of {op} got no gradient");
            var values = inputs[i].Span;
            for (int e = 0; e < values.Length; e++)
            {
                float saved = values[e];
                values[e] = (float)(saved + Step);
                double plus = Probe(c, inputs, weights);
                values[e] = (float)(saved - Step);
                double minus = Probe(c, inputs, weights);
                values[e] = saved;
                double numeric = (plus - minus) / (2 * Step);
                double a = analytic.Span[e];
                if (!(Math.Abs(a - numeric) <= 2e-3 + 2e-2 * Math.Abs(numeric)))
                {
                    Assert.Fail($"{op}: d/d input{i}[{e}] is {a} analytically but {numeric} by finite differences.");
                }
            }
        }
    }

    private static double Probe(Case c, Tensor[] inputs, Tensor weights)
    {
        var y = c.Function(inputs);
        double sum = 0;
        for (int i = 0; i < y.Length; i++)
        {
            sum += (double)y.Span[i] * weights.Span[i];
        }
        return sum;
    }
}
