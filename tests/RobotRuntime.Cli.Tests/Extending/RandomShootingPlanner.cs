using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Planning;

namespace RobotRuntime.Cli.Tests.Extending;

/// <summary>
/// docs/extending.md, "A planner": random shooting — score N uniformly drawn first actions by the
/// learned reward of one step, keep the best. Buffers are sized once; Plan allocates nothing.
/// </summary>
public sealed class RandomShootingPlanner : IPlanner
{
    private readonly WorldModel _model;
    private readonly AgentRandom _random;
    private readonly int _n, _l, _a;
    private readonly float[] _za, _logits, _scratchA, _scratchB, _bins;

    /// <summary>The one registration: <c>policy.planner: random-shooting</c> (and <c>rr eval --planner random-shooting</c>).</summary>
    public static void Register() => Planners.Register("random-shooting", (model, options, random) => new RandomShootingPlanner(model, options, random));

    public RandomShootingPlanner(WorldModel model, PlannerOptions options, AgentRandom random)
    {
        _model = model;
        Options = options;
        _random = random;
        _n = options.Samples;
        _l = model.Config.LatentDim;
        _a = model.Layout.ActionDim;
        var widest = model.Reward.MaxWidth;
        _za = new float[_n * (_l + _a)];
        _logits = new float[_n * model.Config.NumBins];
        _scratchA = new float[_n * widest];
        _scratchB = new float[_n * widest];
        _bins = new float[model.Config.NumBins];
    }

    public string Name => "random-shooting";
    public PlannerOptions Options { get; }
    public int LastIterations => 1;
    public void Reset() { }

    public PlanStatus Plan(ReadOnlySpan<float> latent, Span<float> action, bool explore = false, long deadlineTimestamp = 0)
    {
        for (var i = 0; i < _n; i++)
        {
            latent[.._l].CopyTo(_za.AsSpan(i * (_l + _a), _l));
            for (var j = 0; j < _a; j++)
                _za[i * (_l + _a) + _l + j] = 2 * _random.NextFloat() - 1;
        }
        // Score: the reward head's expected value (two-hot over its bins) for each (z, a).
        _model.Reward.Infer(_za, _n, _logits, _scratchA, _scratchB);
        var best = 0;
        var bestScore = float.NegativeInfinity;
        for (var i = 0; i < _n; i++)
        {
            var score = _model.TwoHot.Decode(_logits.AsSpan(i * _bins.Length, _bins.Length), _bins);
            if (score > bestScore)
            {
                bestScore = score;
                best = i;
            }
        }
        _za.AsSpan(best * (_l + _a) + _l, _a).CopyTo(action);
        return PlanStatus.Complete;
    }
}
