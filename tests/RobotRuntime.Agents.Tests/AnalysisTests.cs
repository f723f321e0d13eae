using RobotRuntime.Agents.Analysis;
using RobotRuntime.Agents.Model;

namespace RobotRuntime.Agents.Tests;

public class AnalysisTests
{
    [Fact]
    public void DormantRatioCountsUnitsWhoseActivityIsBelowTau()
    {
        // Units whose LayerNorm gain and bias are zero output mish(0) = 0 for every input: exactly those
        // are dormant, 3 of the 8 hidden units of the one hidden layer.
        var mlp = new Mlp("m", [4, 8, 2], LayerOutput.Linear, new Random(1));
        var norm = mlp.Parameters().Where(p => p.Name.StartsWith("m.0.norm", StringComparison.Ordinal)).ToArray();
        foreach (var p in norm)
        {
            p.Value.Span[1] = 0; p.Value.Span[4] = 0; p.Value.Span[6] = 0;
        }
        var inputs = Enumerable.Range(0, 40).Select(i => MathF.Sin(i * 0.7f)).ToArray();
        Assert.Equal(3.0 / 8, WorldModelAnalysis.Dormant(mlp, inputs, 10, 0.025), 9);
    }

    [Fact]
    public void ATraceMadeByTheModelItselfHasNoDynamicsOrRewardError()
    {
        var layout = new ObservationLayout(FeatureKind.Floats, 4, 1, 0, 1, 0, 2);
        var model = new WorldModel(TestConfigs.Tiny(), layout, 3);
        var random = new Random(2);
        foreach (var p in model.Reward.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++)
            {
                s[i] += (random.NextSingle() - 0.5f) * 0.1f;
            }
        }
        int l = model.Config.LatentDim;
        var trace = new EpisodeTrace();
        var z = new float[l];
        model.EncoderHead.Infer(new float[] { 0.1f, 0.2f, 0.3f, 0.4f }, 1, z, new float[1024], new float[1024]);
        trace.Latents.Add(z);
        for (int t = 0; t < 6; t++)
        {
            var a = new[] { MathF.Sin(t), MathF.Cos(t) };
            var za = z.Concat(a).ToArray();
            var next = new float[l];
            model.Dynamics.Infer(za, 1, next, new float[1024], new float[1024]);
            var logits = new float[model.Config.NumBins];
            model.Reward.Infer(za, 1, logits, new float[1024], new float[1024]);
            trace.Actions.Add(a);
            trace.Rewards.Add(model.TwoHot.Decode(logits, new float[model.Config.NumBins]));
            trace.Latents.Add(next);
            z = next;
        }
        var result = WorldModelAnalysis.Run(model, [trace]);
        Assert.Equal(6, result.Steps);
        Assert.All(result.DynamicsError, e => Assert.True(e < 1e-12, $"dynamics error {e}"));
        Assert.True(result.RewardMeanAbsoluteError < 1e-6);
        Assert.Contains("q1", result.DormantRatio.Keys);
    }
}
