using RobotRuntime.Tensors.Modules;
using RobotRuntime.Tensors.Optim;

namespace RobotRuntime.Tensors.Tests;

public class TapeTests
{
    private static (Sequential Model, Tensor Input, Tensor Target) SmallProblem()
    {
        var random = new Random(3);
        var model = new Sequential(
            new Linear("a", 6, 16, random), new LayerNorm("n", 16), new Activation(ActivationKind.Mish),
            new Linear("b", 16, 3, random));
        return (model, TestSupport.Random(random, 8, 6), TestSupport.Random(random, 8, 3));
    }

    [Fact]
    public void SecondTrainingStepTakesAllTensorStorageFromThePool()
    {
        var (model, x, y) = SmallProblem();
        var optimizer = new Adam([new ParameterGroup(model.Parameters(), 1e-3f)]);
        using var tape = new Tape();
        long afterFirst = 0;
        for (int step = 0; step < 4; step++)
        {
            optimizer.ZeroGrad();
            using (tape.Record())
            {
                tape.Backward(Ops.MseLoss(model.Forward(x), y));
            }
            optimizer.Step();
            tape.Reset();
            if (step == 0)
            {
                afterFirst = tape.StorageBytesAllocated;
            }
        }
        Assert.True(afterFirst > 0);
        Assert.Equal(afterFirst, tape.StorageBytesAllocated);
    }

    [Fact]
    public void NoGradScopeRecordsNothingAndLeavesGradientsAlone()
    {
        var (model, x, _) = SmallProblem();
        using var tape = new Tape();
        using (tape.Record())
        using (Tape.NoGrad())
        {
            var output = model.Forward(x);
            Assert.False(output.RequiresGrad);
            Assert.False(Tape.IsGradEnabled);
        }
        Assert.True(Tape.IsGradEnabled);
        Assert.Equal(0, tape.NodeCount);
        Assert.All(model.Parameters(), p => Assert.Null(p.Grad));
    }

    [Fact]
    public void FrozenParametersGetNoGradientAndAreNotUpdated()
    {
        var (model, x, y) = SmallProblem();
        var first = (Linear)model.Layers[0];
        first.SetFrozen(true);
        var before = first.Weight.Value.Clone();
        var optimizer = new Adam([new ParameterGroup(model.Parameters(), 1e-2f)]);
        using var tape = new Tape();
        using (tape.Record())
        {
            tape.Backward(Ops.MseLoss(model.Forward(x), y));
        }
        optimizer.Step();
        Assert.Null(first.Weight.Grad);
        Assert.Equal(before.Span.ToArray(), first.Weight.Value.Span.ToArray());
        var last = (Linear)model.Layers[3];
        Assert.NotNull(last.Weight.Grad);
    }

    [Fact]
    public void GradientsOfTwoBackwardPassesAccumulateUntilZeroed()
    {
        var w = new Parameter("w", Tensor.FromArray([2f], 1));
        var x = Tensor.FromArray([3f], 1);
        using var tape = new Tape();
        for (int i = 0; i < 2; i++)
        {
            using (tape.Record())
            {
                tape.Backward(Ops.Sum(Ops.Multiply(w.Value, x)));
            }
            tape.Reset();
        }
        Assert.Equal(6f, w.Grad!.Span[0]);
        w.Value.ZeroGrad();
        Assert.Equal(0f, w.Grad!.Span[0]);
    }

    // A stride-1 convolution writes its input's whole gradient: after ZeroGrad (or on a fresh buffer) it
    // overwrites instead of adding. These pin that the first contribution replaces the stale values, that
    // later ones still add, and that a gradient zeroed but not yet written reads as zeros.
    private static (Tensor X, Tensor Weight) ConvInputs(int seed)
    {
        var random = new Random(seed);
        var x = TestSupport.Random(random, 2, 3, 6, 5);
        x.RequiresGrad = true;
        var w = TestSupport.Random(random, 4, 3, 3, 3);
        return (x, w);
    }

    private static float[] ConvInputGradient(Tensor x, Tensor w, Tape tape, int uses = 1)
    {
        using (tape.Record())
        {
            var y = Ops.Conv2d(x, w, null, stride: 1, padding: 1);
            var loss = Ops.Sum(Ops.Multiply(y, y));
            for (int u = 1; u < uses; u++)
                loss = Ops.Add(loss, Ops.Sum(Ops.Multiply(Ops.Conv2d(x, w, null, stride: 1, padding: 1), y)));
            tape.Backward(loss);
        }
        tape.Reset();
        return x.Grad!.Span.ToArray();
    }

    [Fact]
    public void AConvolutionsInputGradientAfterZeroGradIsTheFreshOneNotTheSumWithTheStaleOne()
    {
        var (x, w) = ConvInputs(5);
        using var tape = new Tape();
        var fresh = ConvInputGradient(x, w, tape);
        Assert.Contains(fresh, v => v != 0f);

        // Without ZeroGrad the second pass adds: twice the first (exact: v + v is exact in float).
        var twice = ConvInputGradient(x, w, tape);
        Assert.Equal(fresh.Select(v => 2 * v), twice);

        // Stale values that are not a multiple of the gradient: a pass that added to them would show.
        x.Grad!.Span.Fill(float.NaN);
        x.ZeroGrad();
        Assert.Equal(fresh, ConvInputGradient(x, w, tape));

        // Zeroed and never written: reads as zeros, and the next pass adds to those zeros.
        x.Grad!.Span.Fill(1e6f);
        x.ZeroGrad();
        Assert.All(x.Grad!.Span.ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(fresh, ConvInputGradient(x, w, tape));
    }

    [Fact]
    public void AConvolutionOverAnOpOutputGetsTheSameGradientFromAReusedPoolBuffer()
    {
        // conv(relu(x)): relu's output gradient is rented from the tape's pool, where the second step gets
        // back the first step's buffer with its values in it; the convolution writes over it. Both steps
        // must give x the same gradient (exactly: the same operations on the same numbers). Only on a
        // machine whose GEMM has 32-column panels (AVX-512) does the stride-1 input gradient take this path;
        // elsewhere it is col2im, and this checks that path the same way.
        var (x, w) = ConvInputs(7);
        using var tape = new Tape();
        float[] Step()
        {
            x.ZeroGrad();
            using (tape.Record())
            {
                var y = Ops.Conv2d(Ops.Relu(x), w, null, stride: 1, padding: 1);
                tape.Backward(Ops.Sum(Ops.Multiply(y, y)));
            }
            tape.Reset();
            return x.Grad!.Span.ToArray();
        }
        var first = Step();
        Assert.Contains(first, v => v != 0f);
        Assert.Equal(first, Step());
        Assert.Equal(first, Step());
    }

    [Fact]
    public void AnInputUsedByTwoConvolutionsGetsBothContributionsAfterZeroGrad()
    {
        // L = Σ y² + Σ c·y with c = conv(x) computed again (equal to y): the first convolution's node gets
        // dY = 2y + c = 3y, the second's y, so x's gradient is Jᵀ(4y) = twice that of Σ y² alone. Were one
        // contribution to overwrite the other, it would be 1.5× or 0.5×. Tolerance 1e-5 of the largest
        // value: the two sums round differently.
        var (x, w) = ConvInputs(6);
        using var tape = new Tape();
        var single = ConvInputGradient(x, w, tape);
        float scale = single.Max(Math.Abs);
        foreach (var stale in new[] { float.NaN, 7f })
        {
            x.Grad!.Span.Fill(stale);
            x.ZeroGrad();
            var both = ConvInputGradient(x, w, tape, uses: 2);
            for (int i = 0; i < single.Length; i++)
                Assert.True(Math.Abs(both[i] - 2 * single[i]) <= 1e-5f * scale, $"element {i}: {both[i]} against 2 × {single[i]} (stale {stale})");
        }
    }

    [Fact]
    public void ASumsGradientFillsAZeroedBufferAndAddsToOneThatHoldsAValue()
    {
        // Σx + mean(x) over 4 elements: each gets 1 + 1/4 (exact in float), whichever reduction runs first.
        var x = Tensor.FromArray([1f, -2f, 3f, 0.5f], 4);
        x.RequiresGrad = true;
        using var tape = new Tape();
        void Pass()
        {
            using (tape.Record())
            {
                tape.Backward(Ops.Add(Ops.Sum(x), Ops.Mean(x)));
            }
            tape.Reset();
        }
        Pass();
        Assert.Equal([1.25f, 1.25f, 1.25f, 1.25f], x.Grad!.Span.ToArray());
        Pass();
        Assert.Equal([2.5f, 2.5f, 2.5f, 2.5f], x.Grad!.Span.ToArray());
        x.Grad!.Span.Fill(float.NaN);
        x.ZeroGrad();
        Pass();
        Assert.Equal([1.25f, 1.25f, 1.25f, 1.25f], x.Grad!.Span.ToArray());
    }

    [Fact]
    public void BackwardOfNonScalarNamesTheShape()
    {
        var x = Tensor.Zeros(2, 3);
        x.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Record())
        {
            var y = Ops.Relu(x);
            var error = Assert.Throws<ArgumentException>(() => tape.Backward(y));
            Assert.Contains("[2, 3]", error.Message);
        }
    }

    [Fact]
    public void LinearWithWrongInputWidthNamesInputAndWeightShapes()
    {
        var error = Assert.Throws<ArgumentException>(() => Ops.Linear(Tensor.Zeros(4, 5), Tensor.Zeros(3, 6), null));
        Assert.Equal("x", error.ParamName);
        Assert.Contains("[4, 5]", error.Message);
        Assert.Contains("[3, 6]", error.Message);
    }

    [Fact]
    public void AddWithIncompatibleShapeNamesTheExpectedShape()
    {
        var error = Assert.Throws<ArgumentException>(() => Ops.Add(Tensor.Zeros(4, 5), Tensor.Zeros(4)));
        Assert.Equal("b", error.ParamName);
        Assert.Contains("[4, 5]", error.Message);
    }

    [Fact]
    public void SimNormRejectsWidthNotDivisibleByGroup()
    {
        var error = Assert.Throws<ArgumentException>(() => Ops.SimNorm(Tensor.Zeros(2, 10), 8));
        Assert.Contains("[2, 10]", error.Message);
    }

    [Fact]
    public void SimNormGroupsEachSumToOne()
    {
        var z = Ops.SimNorm(TestSupport.Random(new Random(1), 3, 32), 8);
        for (int g = 0; g < 12; g++)
        {
            Assert.Equal(1f, z.Span.Slice(g * 8, 8).ToArray().Sum(), 5);
        }
    }

    [Fact]
    public void ReshapeSharesStorageWithItsSource()
    {
        var x = Tensor.Zeros(2, 6);
        var view = x.Reshape(3, -1);
        Assert.Equal(new[] { 3, 4 }, view.Shape.ToArray());
        view.Span[5] = 7f;
        Assert.Equal(7f, x.Span[5]);
    }

    [Fact]
    public void ClippingScalesGradientsToTheMaximumNorm()
    {
        var p = new Parameter("p", Tensor.FromArray([3f, 4f], 2));
        using var tape = new Tape();
        using (tape.Record())
        {
            tape.Backward(Ops.Sum(Ops.Multiply(p.Value, Tensor.FromArray([3f, 4f], 2))));
        }
        float norm = GradientClipping.ClipByGlobalNorm([p], 1f);
        Assert.Equal(5f, norm, 5);
        Assert.Equal(0.6f, p.Grad!.Span[0], 5);
        Assert.Equal(0.8f, p.Grad!.Span[1], 5);
    }
}
