using System.Diagnostics;
using System.Globalization;
using RobotRuntime.Agents;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Planning;
using RobotRuntime.Agents.Training;
using RobotRuntime.Tensors;

namespace RobotRuntime.Benchmarks.Agents;

/// <summary>
/// `agent-compare --threads N`: the engine's side of benchmarks/agent_vs_pytorch.py. Prints one line
/// per measurement, "name seconds": the median latent MPPI plan step (encode excluded) for the
/// TD-MPC2 5M shapes and rt-small at 512 samples / 6 iterations / horizon 3 and at 128 samples /
/// 3 iterations, and the median TD-MPC2 update (model + policy + target step, batch 256, horizon 3,
/// a 3 × 384-d embedding stack + 12 proprioception floats in) for rt-small and 5m.
/// </summary>
public static class AgentComparison
{
    /// <summary>The verb.</summary>
    public const string Verb = "agent-compare";

    /// <summary>Runs the measurements.</summary>
    public static int Run(string[] args)
    {
        int threads = args.Length >= 2 && args[0] == "--threads" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1;
        TensorEngine.ThreadCount = threads;
        var layout = new ObservationLayout(FeatureKind.Floats, 384, 1, 0, 3, 12, 4);
        foreach (var size in new[] { "5m", "rt-small" })
        {
            var config = AgentConfig.Preset(size);
            var model = new WorldModel(config, layout, 1);
            var random = new Random(2);
            foreach (var p in model.Reward.Parameters().Concat(model.Qs.SelectMany(q => q.Parameters())))
            {
                var s = p.Value.Span;
                for (int i = 0; i < s.Length; i++)
                {
                    s[i] += (random.NextSingle() - 0.5f) * 0.02f;
                }
            }
            var latent = new float[config.LatentDim];
            for (int i = 0; i < latent.Length; i++)
            {
                latent[i] = 1f / 8f;
            }
            foreach (var (samples, iterations) in new[] { (512, 6), (128, 3) })
            {
                var options = PlannerOptions.FromConfig(config, 0.99f) with
                {
                    Samples = samples, Iterations = iterations, Elites = samples == 512 ? 64 : 16, PolicyTrajectories = 24, Threads = threads,
                };
                var planner = new MppiPlanner(model, options, new AgentRandom(3));
                var action = new float[4];
                double t = MedianOf(samples == 512 ? 30 : 100, () => planner.Plan(latent, action));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"plan_{size}_{samples}x{iterations} {t:R}"));
            }
            var learner = new TdMpc2Learner(model, 100, new AgentRandom(4));
            var batch = new TrainingBatch(layout, config.BatchSize, config.Horizon);
            var fill = new Random(5);
            for (int i = 0; i < batch.Observations.Length; i++)
            {
                batch.Observations[i] = fill.NextSingle();
            }
            for (int i = 0; i < batch.Actions.Length; i++)
            {
                batch.Actions[i] = fill.NextSingle() * 2 - 1;
            }
            for (int i = 0; i < batch.Rewards.Length; i++)
            {
                batch.Rewards[i] = fill.NextSingle();
            }
            double update = MedianOf(size == "5m" ? 5 : 9, () => learner.Update(batch));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"update_{size}_b256 {update:R}"));
        }
        return 0;
    }

    private static double MedianOf(int repetitions, Action action) => Timing.MedianSeconds(repetitions, action, warmups: 2);
}
