using RobotRuntime.Agents.Model;

namespace RobotRuntime.Agents.Analysis;

/// <summary>One evaluation episode as the analyses need it: the encoder's latent of every observation (T + 1), the actions (T) and rewards (T).</summary>
public sealed class EpisodeTrace
{
    /// <summary>Latents of the observations, in order.</summary>
    public List<float[]> Latents { get; } = [];

    /// <summary>
    /// What the encoder head was given at each acting step (T; see <see cref="Encoders.AgentEncoder.LastHeadInput"/>),
    /// for the encoder's dormant ratio; may be left empty, and the analyses then leave the encoder out.
    /// </summary>
    public List<float[]> EncoderInputs { get; } = [];

    /// <summary>Actions taken.</summary>
    public List<float[]> Actions { get; } = [];

    /// <summary>Rewards received.</summary>
    public List<float> Rewards { get; } = [];
}

/// <summary>The analyses the seed papers report, computed on evaluation episodes.</summary>
/// <param name="DynamicsError">Mean squared error between the dynamics' h-step prediction from z_t with the real actions and the encoder's z_{t+h}, for h = 1 … horizon.</param>
/// <param name="RewardMeanAbsoluteError">|R(z_t, a_t) − r_t| averaged over steps.</param>
/// <param name="RewardMean">Mean true reward (scale for the error).</param>
/// <param name="DormantRatio">Fraction of τ-dormant hidden units per network: "encoder" (the head's hidden layers, when the traces carry its inputs), "dynamics", "reward", "q0", "q1", … and "policy".</param>
/// <param name="Tau">The dormant threshold τ.</param>
/// <param name="Steps">Transitions analysed.</param>
public sealed record AnalysisResult(double[] DynamicsError, double RewardMeanAbsoluteError, double RewardMean, IReadOnlyDictionary<string, double> DormantRatio, double Tau, int Steps);

/// <summary>
/// Dynamics prediction error along the horizon, reward-prediction accuracy and the dormant ratio
/// (DrM: unit i of a layer with H units scores s_i = E|h_i| / ((1/H)·Σ_k E|h_k|) over the analysed
/// inputs and is τ-dormant when s_i ≤ τ; the ratio counts dormant units over all hidden layers of a network).
/// </summary>
public static class WorldModelAnalysis
{
    /// <summary>Computes the analyses over <paramref name="episodes"/>.</summary>
    public static AnalysisResult Run(WorldModel model, IReadOnlyList<EpisodeTrace> episodes, double tau = 0.025)
    {
        int l = model.Config.LatentDim, a = model.Layout.ActionDim, h = model.Config.Horizon;
        var errors = new double[h];
        var counts = new int[h];
        var scratchA = new float[Math.Max(model.Dynamics.MaxWidth, 1024)];
        var scratchB = new float[Math.Max(model.Dynamics.MaxWidth, 1024)];
        var za = new float[l + a];
        var z = new float[l];
        var next = new float[l];
        var logits = new float[model.Config.NumBins];
        var binScratch = new float[model.Config.NumBins];
        double rewardError = 0, rewardSum = 0;
        int steps = 0;
        var allZa = new List<float>();
        var allZ = new List<float>();
        var allHeadInputs = new List<float>();
        bool encoderInputs = episodes.Count > 0;
        foreach (var episode in episodes)
        {
            int length = episode.Actions.Count;
            if (encoderInputs && episode.EncoderInputs.Count == length)
            {
                foreach (var input in episode.EncoderInputs)
                {
                    allHeadInputs.AddRange(input);
                }
            }
            else
            {
                encoderInputs = false;
            }
            for (int t = 0; t < length; t++)
            {
                episode.Latents[t].CopyTo(za, 0);
                episode.Actions[t].CopyTo(za, l);
                model.Reward.Infer(za, 1, logits, scratchA, scratchB);
                rewardError += Math.Abs(model.TwoHot.Decode(logits, binScratch) - episode.Rewards[t]);
                rewardSum += episode.Rewards[t];
                steps++;
                allZa.AddRange(za);
                allZ.AddRange(episode.Latents[t]);
                episode.Latents[t].CopyTo(z, 0);
                for (int k = 0; k < h && t + k < length; k++)
                {
                    z.CopyTo(za, 0);
                    episode.Actions[t + k].CopyTo(za, l);
                    model.Dynamics.Infer(za, 1, next, scratchA, scratchB);
                    next.CopyTo(z, 0);
                    var target = episode.Latents[t + k + 1];
                    double se = 0;
                    for (int i = 0; i < l; i++)
                    {
                        double d = z[i] - target[i];
                        se += d * d;
                    }
                    errors[k] += se / l;
                    counts[k]++;
                }
            }
        }
        var dormant = new Dictionary<string, double>();
        if (steps > 0)
        {
            if (encoderInputs && allHeadInputs.Count == steps * model.EncoderHead.InputWidth)
            {
                dormant["encoder"] = Dormant(model.EncoderHead, allHeadInputs.ToArray(), steps, tau);
            }
            var zaArray = allZa.ToArray();
            dormant["dynamics"] = Dormant(model.Dynamics, zaArray, steps, tau);
            dormant["reward"] = Dormant(model.Reward, zaArray, steps, tau);
            for (int q = 0; q < model.Qs.Length; q++)
            {
                dormant[$"q{q}"] = Dormant(model.Qs[q], zaArray, steps, tau);
            }
            dormant["policy"] = Dormant(model.Policy, allZ.ToArray(), steps, tau);
        }
        return new AnalysisResult(errors.Select((e, k) => counts[k] > 0 ? e / counts[k] : double.NaN).ToArray(),
            steps > 0 ? rewardError / steps : double.NaN, steps > 0 ? rewardSum / steps : double.NaN, dormant, tau, steps);
    }

    /// <summary>The τ-dormant fraction of <paramref name="network"/>'s hidden units over <paramref name="rows"/> inputs.</summary>
    public static double Dormant(Mlp network, float[] inputs, int rows, double tau)
    {
        int dormant = 0, units = 0;
        foreach (var layer in network.HiddenActivations(inputs, rows))
        {
            int width = layer.Length / rows;
            var meanAbs = new double[width];
            for (int r = 0; r < rows; r++)
            {
                for (int i = 0; i < width; i++)
                {
                    meanAbs[i] += Math.Abs(layer[r * width + i]);
                }
            }
            double layerMean = meanAbs.Sum() / width;
            for (int i = 0; i < width; i++)
            {
                if (layerMean <= 0 || meanAbs[i] / layerMean <= tau)
                {
                    dormant++;
                }
            }
            units += width;
        }
        return units == 0 ? 0 : (double)dormant / units;
    }
}
