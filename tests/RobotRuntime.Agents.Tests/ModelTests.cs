using RobotRuntime.Agents.Model;
using RobotRuntime.Tensors;

namespace RobotRuntime.Agents.Tests;

public class ModelTests
{
    [Theory]
    [InlineData(0f)]
    [InlineData(0.37f)]
    [InlineData(3.7f)]
    [InlineData(-12.5f)]
    [InlineData(250f)]
    public void TwoHotEncodingHasTheSymlogValueAsItsMean(float value)
    {
        // Reference: the definition symlog(x) = sign(x)·ln(1 + |x|) evaluated in double; tolerance 1e-5.
        var twoHot = new TwoHot(101, -10f, 10f);
        var target = new float[101];
        twoHot.Encode(value, target);
        double mean = 0, sum = 0;
        int nonZero = 0;
        for (int i = 0; i < 101; i++)
        {
            mean += target[i] * twoHot.Centres[i];
            sum += target[i];
            nonZero += target[i] != 0 ? 1 : 0;
        }
        Assert.Equal(1.0, sum, 6);
        Assert.InRange(nonZero, 1, 2);
        Assert.Equal(Math.Sign(value) * Math.Log(1 + Math.Abs(value)), mean, 5);
    }

    [Theory]
    [InlineData(0.5f)]
    [InlineData(-3f)]
    [InlineData(40f)]
    public void DecodingTheLogOfATwoHotGivesTheValueBack(float value)
    {
        // softmax(log p) = p, so decoding log(two-hot) must give symexp(symlog(value)) = value; the 1e-30
        // floor under the log leaves a relative error far below the 1e-4 tolerance.
        var twoHot = new TwoHot(101, -10f, 10f);
        var target = new float[101];
        twoHot.Encode(value, target);
        var logits = target.Select(p => MathF.Log(p + 1e-30f)).ToArray();
        float decoded = twoHot.Decode(logits, new float[101]);
        Assert.Equal(value, decoded, Math.Abs(value) * 1e-4f + 1e-5f);
    }

    [Fact]
    public void SymexpGradientMatchesFiniteDifferences()
    {
        // Central differences in double of the closed form, step 1e-3; tolerance 1e-3 relative.
        var x = Tensor.FromArray([-2.5f, -0.3f, 0.01f, 0.8f, 3f], 5);
        x.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Record())
        {
            var y = Ops.Sum(Ops.Symexp(x));
            tape.Backward(y);
        }
        for (int i = 0; i < 5; i++)
        {
            double v = x.Span[i], h = 1e-3;
            double f(double z) => Math.Sign(z) * (Math.Exp(Math.Abs(z)) - 1);
            double numeric = (f(v + h) - f(v - h)) / (2 * h);
            Assert.Equal(numeric, x.Grad!.Span[i], Math.Abs(numeric) * 1e-3);
        }
    }

    [Fact]
    public void MlpSpanInferenceMatchesTheEngineForward()
    {
        // Two independent code paths over the same weights (tape ops vs span kernels); tolerance 2e-5.
        var random = new Random(5);
        foreach (var last in new[] { LayerOutput.Linear, LayerOutput.NormSimNorm })
        {
            var mlp = new Mlp("m", [20, 48, 48, 32], last, random);
            var input = Tensor.RandomNormal(random, 1f, 7, 20);
            Tensor expected;
            using (Tape.NoGrad())
            {
                expected = mlp.Forward(input);
            }
            var output = new float[7 * 32];
            mlp.Infer(input.Span, 7, output, new float[7 * 48 + 1024], new float[7 * 48 + 1024]);
            for (int i = 0; i < output.Length; i++)
            {
                Assert.Equal(expected.Span[i], output[i], 2e-5f);
            }
        }
    }

    [Fact]
    public void SizePresetsHaveTheNamedShapes()
    {
        var small = AgentConfig.Preset("rt-small");
        var layout = new ObservationLayout(FeatureKind.Floats, 384, 1, 0, 3, 12, 4);
        long smallParameters = new WorldModel(small, layout, 1).TrainableParameterCount();
        // TD-MPC2's 1M shapes: enc 256, mlp 384, latent 128, 2 Qs (~1M parameters with a 1164-wide input).
        Assert.InRange(smallParameters, 900_000, 1_600_000);
        var five = AgentConfig.Preset("5m");
        Assert.Equal((256, 512, 512, 5), (five.EncoderDim, five.MlpDim, five.LatentDim, five.NumQ));
        long fiveParameters = new WorldModel(five, layout, 1).TrainableParameterCount();
        Assert.InRange(fiveParameters, 4_000_000, 6_500_000);
    }

    [Fact]
    public void ConfigRejectsAnUnknownKeyByName()
    {
        var e = Assert.Throws<ArgumentException>(() => AgentConfig.FromJson("{\"size\":\"rt-small\",\"latentDimm\":64}"));
        Assert.Contains("latentDimm", e.Message);
        var bad = Assert.Throws<ArgumentException>(() => AgentConfig.FromJson("{\"latentDim\":60}"));
        Assert.Contains("latentDim", bad.Message);
        Assert.Throws<ArgumentException>(() => AgentConfig.Preset("10m"));
    }
}
