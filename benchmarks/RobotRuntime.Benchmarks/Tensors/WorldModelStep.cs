using RobotRuntime.Tensors;
using RobotRuntime.Tensors.Modules;
using RobotRuntime.Tensors.Optim;

namespace RobotRuntime.Benchmarks.Tensors;

/// <summary>
/// One TD-MPC2-sized world-model update, defined identically in benchmarks/tensors_vs_pytorch.py:
/// batch 256, observation 135, action 6, width 512, latent 512 (SimNorm groups of 8), 101 reward
/// bins. Encoder NL(135→512) → Linear(512→512) → SimNorm; dynamics NL(518→512) → NL(512→512) →
/// Linear(512→512) → SimNorm on [z, a]; reward NL(518→512) → NL(512→512) → Linear(512→101) on
/// [z, a]; loss 20·MSE(z′, target) + 0.1·soft-CE(reward, two-hot); clip 20; Adam lr 3e-4.
/// NL = Linear → LayerNorm → Mish.
/// </summary>
public sealed class WorldModelStep
{
    public const int Batch = 256, Observation = 135, Action = 6, Width = 512, Latent = 512, Bins = 101;

    private readonly Sequential _encoder, _dynamics, _reward;
    private readonly Parameter[] _parameters;
    private readonly Adam _adam;
    private readonly Tape _tape = new();
    private readonly Tensor _observation, _action, _nextLatent, _rewardTarget;

    public WorldModelStep(int seed = 1)
    {
        var random = new Random(seed);
        _encoder = new Sequential(Normed("enc.0", Observation, Width, random), new Linear("enc.1", Width, Latent, random));
        _dynamics = new Sequential(Normed("dyn.0", Latent + Action, Width, random), Normed("dyn.1", Width, Width, random), new Linear("dyn.2", Width, Latent, random));
        _reward = new Sequential(Normed("rew.0", Latent + Action, Width, random), Normed("rew.1", Width, Width, random), new Linear("rew.2", Width, Bins, random));
        _parameters = [.. _encoder.Parameters(), .. _dynamics.Parameters(), .. _reward.Parameters()];
        _adam = new Adam([new ParameterGroup(_parameters, 3e-4f)]);
        _observation = Tensor.RandomNormal(random, 1f, Batch, Observation);
        _action = Tensor.RandomUniform(random, -1f, 1f, Batch, Action);
        _nextLatent = Ops.SimNorm(Tensor.RandomNormal(random, 1f, Batch, Latent));
        _rewardTarget = Tensor.Zeros(Batch, Bins);
        for (int i = 0; i < Batch; i++)
        {
            int bin = random.Next(Bins - 1);
            float w = (float)random.NextDouble();
            _rewardTarget.Span[i * Bins + bin] = 1f - w;
            _rewardTarget.Span[i * Bins + bin + 1] = w;
        }
    }

    public int ParameterCount => _parameters.Sum(p => p.Value.Length);

    private static Sequential Normed(string name, int inFeatures, int outFeatures, Random random) =>
        new(new Linear(name + ".linear", inFeatures, outFeatures, random), new LayerNorm(name + ".norm", outFeatures), new Activation(ActivationKind.Mish));

    /// <summary>Forward, backward, clip, Adam; returns the loss.</summary>
    public float Step()
    {
        _adam.ZeroGrad();
        float loss;
        using (_tape.Record())
        {
            var z = Ops.SimNorm(_encoder.Forward(_observation));
            var za = Ops.Concat(z, _action);
            var next = Ops.SimNorm(_dynamics.Forward(za));
            var reward = _reward.Forward(za);
            var total = Ops.Add(
                Ops.Scale(Ops.MseLoss(next, _nextLatent), 20f),
                Ops.Scale(Ops.SoftCrossEntropy(reward, _rewardTarget), 0.1f));
            loss = total.Item();
            _tape.Backward(total);
        }
        GradientClipping.ClipByGlobalNorm(_parameters, 20f);
        _adam.Step();
        _tape.Reset();
        return loss;
    }
}
