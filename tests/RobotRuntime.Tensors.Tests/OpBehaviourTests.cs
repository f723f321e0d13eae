namespace RobotRuntime.Tensors.Tests;

public class OpBehaviourTests
{
    [Fact]
    public void DropoutInEvaluationReturnsTheInputUnchanged()
    {
        var x = TestSupport.Random(new Random(1), 3, 4);
        Assert.Same(x, Ops.Dropout(x, 0.5f, training: false, new Random(2)));
    }

    [Fact]
    public void DropoutZeroesAboutTheRequestedFractionAndScalesTheRest()
    {
        var x = Tensor.Zeros(100_000);
        x.Span.Fill(1f);
        var y = Ops.Dropout(x, 0.25f, training: true, new Random(3));
        int zeros = 0;
        foreach (float v in y.Span)
        {
            if (v == 0f)
            {
                zeros++;
            }
            else
            {
                Assert.Equal(1f / 0.75f, v, 6);
            }
        }
        Assert.InRange(zeros / 100_000.0, 0.24, 0.26);
    }

    [Fact]
    public void Conv2dWithMismatchedChannelsNamesBothShapes()
    {
        var error = Assert.Throws<ArgumentException>(() => Ops.Conv2d(Tensor.Zeros(1, 3, 8, 8), Tensor.Zeros(4, 2, 3, 3), null));
        Assert.Equal("weight", error.ParamName);
        Assert.Contains("[4, 2, 3, 3]", error.Message);
        Assert.Contains("[1, 3, 8, 8]", error.Message);
    }

    [Fact]
    public void MishIsLinearForLargeInputsAndFiniteForVeryNegativeOnes()
    {
        var y = Ops.Mish(Tensor.FromArray([30f, 100f, -100f, -1000f, 0f], 5));
        Assert.Equal(30f, y.Span[0]);
        Assert.Equal(100f, y.Span[1]);
        Assert.True(float.IsFinite(y.Span[2]) && MathF.Abs(y.Span[2]) < 1e-30f);
        Assert.True(float.IsFinite(y.Span[3]));
        Assert.Equal(0f, y.Span[4]);
    }

    [Fact]
    public void SoftmaxOfLargeLogitsStaysFinite()
    {
        var y = Ops.Softmax(Tensor.FromArray([1000f, 999f, -1000f], 1, 3));
        Assert.All(y.Span.ToArray(), v => Assert.True(float.IsFinite(v)));
        Assert.Equal(1f, y.Span.ToArray().Sum(), 5);
    }
}
