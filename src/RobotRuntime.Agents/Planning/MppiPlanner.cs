using System.Diagnostics;
using System.Numerics.Tensors;
using RobotRuntime.Agents.Model;

namespace RobotRuntime.Agents.Planning;

/// <summary>Planner settings; defaults are TD-MPC2's (512 samples, 64 elites, 6 iterations, horizon 3, 24 policy trajectories).</summary>
public sealed record PlannerOptions
{
    /// <summary>Which planner (a name registered in <see cref="Planners"/>: "mppi", "prior", or one a user added).</summary>
    public string Kind { get; init; } = Planners.Mppi;

    /// <summary>Action sequences per iteration (policy trajectories included).</summary>
    public int Samples { get; init; } = 512;

    /// <summary>Elites kept per iteration.</summary>
    public int Elites { get; init; } = 64;

    /// <summary>Iterations.</summary>
    public int Iterations { get; init; } = 6;

    /// <summary>Horizon.</summary>
    public int Horizon { get; init; } = 3;

    /// <summary>Sequences rolled out from the policy prior.</summary>
    public int PolicyTrajectories { get; init; } = 24;

    /// <summary>Temperature of the elite weights.</summary>
    public float Temperature { get; init; } = 0.5f;

    /// <summary>Std lower clamp.</summary>
    public float MinStd { get; init; } = 0.05f;

    /// <summary>Std upper clamp and start value.</summary>
    public float MaxStd { get; init; } = 2f;

    /// <summary>Discount of the value estimate.</summary>
    public float Discount { get; init; } = 0.99f;

    /// <summary>Threads the MLP passes may use.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>The planner settings of an agent config.</summary>
    public static PlannerOptions FromConfig(AgentConfig config, float discount) => new()
    {
        Samples = config.Samples, Elites = config.Elites, Iterations = config.Iterations, Horizon = config.Horizon,
        PolicyTrajectories = config.PolicyTrajectories, Temperature = config.Temperature, MinStd = config.MinStd,
        MaxStd = config.MaxStd, Discount = discount,
    };

    /// <summary>
    /// These settings with <paramref name="samples"/> sequences and <paramref name="iterations"/>
    /// iterations (0 keeps the current value); the elites are capped at an eighth of the samples
    /// (at least one) and the policy-prior sequences at half of them, so a smaller search stays a search.
    /// </summary>
    public PlannerOptions Resized(int samples, int iterations)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        ArgumentOutOfRangeException.ThrowIfNegative(iterations);
        int n = samples > 0 ? samples : Samples;
        return this with
        {
            Samples = n,
            Iterations = iterations > 0 ? iterations : Iterations,
            Elites = Math.Min(Elites, Math.Max(1, n / 8)),
            PolicyTrajectories = Math.Min(PolicyTrajectories, n / 2),
        };
    }
}

/// <summary>What a plan call came to.</summary>
public enum PlanStatus
{
    /// <summary>Every iteration ran.</summary>
    Complete,

    /// <summary>The time budget ended the search early; the action is the best found so far.</summary>
    BudgetExhausted,
}

/// <summary>
/// Latent MPPI as TD-MPC2 plans: from the encoded latent, roll out policy-prior trajectories and
/// Gaussian samples around a mean warm-started from the previous plan (shifted by one step), score
/// each sequence by Σγᵗ·R + γᴴ·Q(z_H, π(z_H)), keep the elites, refit mean and std with weights
/// softmax(temperature·(value − max)), and return an elite's first action drawn by those weights.
/// With a deadline it is anytime: before each iteration it checks that the measured iteration time
/// still fits, and otherwise returns the best plan so far (the policy prior's action when no
/// iteration fits).
/// </summary>
/// <remarks>Real-time: <see cref="Plan"/> allocates nothing and does not throw once warm (buffers are
/// sized at construction; call it once at start-up). One thread calls it.</remarks>
public sealed class MppiPlanner : IPlanner
{
    private readonly WorldModel _model;
    private readonly PlannerOptions _options;
    private readonly AgentRandom _random;
    private readonly int _l, _a, _h, _n, _e, _p, _bins;
    private readonly float[] _z, _za, _zNext, _scratchA, _scratchB, _logits, _piOut, _actions, _values, _returns;
    private readonly float[] _mean, _std, _previousMean, _eliteValues, _scores, _eliteActions, _bestActions, _binScratch, _piLatent;
    private readonly int[] _eliteIndex;
    private bool _hasPrevious;
    private long _iterationTicks;

    /// <summary>The planner's running estimate of one iteration's time, in <see cref="Stopwatch"/> ticks (0: not measured yet); settable by tests.</summary>
    internal long IterationEstimateTicks
    {
        get => _iterationTicks;
        set => _iterationTicks = value;
    }

    /// <summary>Allocates every buffer for <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">Inconsistent options.</exception>
    public MppiPlanner(WorldModel model, PlannerOptions options, AgentRandom random)
    {
        _model = model;
        _options = options;
        _random = random;
        if (options.Samples < 2 || options.Elites < 1 || options.Elites > options.Samples || options.PolicyTrajectories < 0
            || options.PolicyTrajectories >= options.Samples || options.Iterations < 1 || options.Horizon < 1)
        {
            throw new ArgumentException($"planner options {options} are inconsistent: need samples ≥ 2, 1 ≤ elites ≤ samples, 0 ≤ policyTrajectories < samples, iterations ≥ 1, horizon ≥ 1");
        }
        _l = model.Config.LatentDim;
        _a = model.Layout.ActionDim;
        _h = options.Horizon;
        _n = options.Samples;
        _e = options.Elites;
        _p = options.PolicyTrajectories;
        _bins = model.Config.NumBins;
        int widest = new[] { model.Dynamics.MaxWidth, model.Reward.MaxWidth, model.Policy.MaxWidth, model.Qs[0].MaxWidth }.Max();
        _z = new float[_n * _l];
        _za = new float[_n * (_l + _a)];
        _zNext = new float[_n * _l];
        _scratchA = new float[Math.Max(_n * widest, 1024)];
        _scratchB = new float[Math.Max(_n * widest, 1024)];
        _logits = new float[_n * _bins];
        _piOut = new float[_n * 2 * _a];
        _piLatent = new float[_n * _a];
        _actions = new float[_h * _n * _a];
        _values = new float[_n];
        _returns = new float[_n];
        _mean = new float[_h * _a];
        _std = new float[_h * _a];
        _previousMean = new float[_h * _a];
        _eliteValues = new float[_e];
        _scores = new float[_e];
        _eliteIndex = new int[_e];
        _eliteActions = new float[_h * _e * _a];
        _bestActions = new float[_h * _a];
        _binScratch = new float[_bins];
    }

    /// <inheritdoc />
    public string Name => Planners.Mppi;

    /// <summary>The options.</summary>
    public PlannerOptions Options => _options;

    /// <summary>Iterations the last <see cref="Plan"/> completed.</summary>
    public int LastIterations { get; private set; }

    /// <summary>The mean of the last plan, [horizon, action] (warm start of the next).</summary>
    public ReadOnlySpan<float> Mean => _mean;

    /// <summary>Forgets the warm start (a new episode).</summary>
    public void Reset() => _hasPrevious = false;

    /// <summary>
    /// Plans from <paramref name="latent"/> and writes the first action (finite, in [−1, 1]) to <paramref name="action"/>.
    /// </summary>
    /// <param name="latent">The encoded observation, [latent].</param>
    /// <param name="action">Output, [action dim].</param>
    /// <param name="explore">Add the final std as exploration noise to the action (training).</param>
    /// <param name="deadlineTimestamp">A <see cref="Stopwatch.GetTimestamp"/> value by which to return, or 0 for no budget.</param>
    public PlanStatus Plan(ReadOnlySpan<float> latent, Span<float> action, bool explore = false, long deadlineTimestamp = 0)
    {
        long start = Stopwatch.GetTimestamp();
        // The fallback first: the policy prior's action, finite and in bounds.
        PolicyAction(latent, action, explore: false);
        for (int t = 0; t < _h; t++)
        {
            action.CopyTo(_bestActions.AsSpan(t * _a, _a));
        }
        if (deadlineTimestamp != 0 && _iterationTicks > 0 && start + 2 * _iterationTicks > deadlineTimestamp)
        {
            // The estimate is only re-measured by running an iteration, so one slow iteration (the
            // first one, JIT-compiling; a descheduled thread) would otherwise keep every later plan at
            // the prior. Halve it on each skip: a stale estimate heals within a few cycles, and a budget
            // that truly cannot hold an iteration is probed only now and then.
            _iterationTicks /= 2;
            LastIterations = 0;
            return PlanStatus.BudgetExhausted;
        }

        // Policy-prior trajectories.
        if (_p > 0)
        {
            Repeat(latent, _z, _p);
            for (int t = 0; t < _h; t++)
            {
                SamplePolicy(_z, _p, _actionsAt(t), explore: true);
                if (t < _h - 1)
                {
                    Step(_z, _actionsAt(t), _p, _zNext, reward: null);
                    _zNext.AsSpan(0, _p * _l).CopyTo(_z);
                }
            }
        }
        // Mean and std, warm-started.
        Array.Clear(_mean);
        if (_hasPrevious)
        {
            _previousMean.AsSpan(_a, (_h - 1) * _a).CopyTo(_mean);
        }
        Array.Fill(_std, _options.MaxStd);
        var status = PlanStatus.Complete;
        int done = 0;
        for (int iteration = 0; iteration < _options.Iterations; iteration++)
        {
            long iterationStart = Stopwatch.GetTimestamp();
            if (deadlineTimestamp != 0 && iteration > 0 && iterationStart + _iterationTicks > deadlineTimestamp)
            {
                status = PlanStatus.BudgetExhausted;
                break;
            }
            for (int t = 0; t < _h; t++)
            {
                var at = _actionsAt(t);
                for (int s = _p; s < _n; s++)
                {
                    for (int j = 0; j < _a; j++)
                    {
                        float v = _mean[t * _a + j] + _std[t * _a + j] * _random.NextNormal();
                        at[s * _a + j] = Math.Clamp(v, -1f, 1f);
                    }
                }
            }
            EstimateValues(latent);
            SelectElitesAndRefit();
            done++;
            long elapsed = Stopwatch.GetTimestamp() - iterationStart;
            _iterationTicks = _iterationTicks == 0 ? elapsed : (_iterationTicks * 3 + elapsed) / 4;
            if (deadlineTimestamp != 0 && Stopwatch.GetTimestamp() > deadlineTimestamp)
            {
                status = iteration + 1 < _options.Iterations ? PlanStatus.BudgetExhausted : status;
                break;
            }
        }
        LastIterations = done;
        if (done == 0)
        {
            return PlanStatus.BudgetExhausted;
        }
        // Draw an elite by its weight.
        float u = _random.NextFloat(), cumulative = 0f;
        int chosen = _e - 1;
        for (int k = 0; k < _e; k++)
        {
            cumulative += _scores[k];
            if (u < cumulative)
            {
                chosen = k;
                break;
            }
        }
        for (int j = 0; j < _a; j++)
        {
            float v = _eliteActions[(0 * _e + chosen) * _a + j];
            if (explore)
            {
                v += _std[j] * _random.NextNormal();
            }
            action[j] = float.IsFinite(v) ? Math.Clamp(v, -1f, 1f) : 0f;
        }
        _mean.CopyTo(_previousMean, 0);
        _hasPrevious = true;
        return status;
    }

    private Span<float> _actionsAt(int t) => _actions.AsSpan(t * _n * _a, _n * _a);

    /// <summary>The policy prior's action for one latent: tanh(μ), plus its own noise when exploring.</summary>
    public void PolicyAction(ReadOnlySpan<float> latent, Span<float> action, bool explore) =>
        PolicyPriorPlanner.Act(_model, latent, action, explore, _piOut, _scratchA, _scratchB, _options.Threads, _random);

    private float SquashLogStd(float raw) => PolicyPriorPlanner.SquashLogStd(_model.Config, raw);

    private void SamplePolicy(ReadOnlySpan<float> z, int rows, Span<float> actions, bool explore)
    {
        _model.Policy.Infer(z[..(rows * _l)], rows, _piOut, _scratchA, _scratchB, _options.Threads);
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < _a; j++)
            {
                float mu = _piOut[r * 2 * _a + j];
                if (explore)
                {
                    mu += MathF.Exp(SquashLogStd(_piOut[r * 2 * _a + _a + j])) * _random.NextNormal();
                }
                actions[r * _a + j] = MathF.Tanh(mu);
            }
        }
    }

    private void Repeat(ReadOnlySpan<float> latent, Span<float> destination, int rows)
    {
        for (int r = 0; r < rows; r++)
        {
            latent[.._l].CopyTo(destination.Slice(r * _l, _l));
        }
    }

    private void Concat(ReadOnlySpan<float> z, ReadOnlySpan<float> actions, int rows)
    {
        int w = _l + _a;
        for (int r = 0; r < rows; r++)
        {
            z.Slice(r * _l, _l).CopyTo(_za.AsSpan(r * w, _l));
            actions.Slice(r * _a, _a).CopyTo(_za.AsSpan(r * w + _l, _a));
        }
    }

    // z_next = d(z, a); when reward is given, adds R(z, a)·scale into it.
    private void Step(ReadOnlySpan<float> z, ReadOnlySpan<float> actions, int rows, Span<float> zNext, Span<float> reward, float scale = 1f)
    {
        Concat(z, actions, rows);
        int w = _l + _a;
        var za = _za.AsSpan(0, rows * w);
        if (!reward.IsEmpty)
        {
            _model.Reward.Infer(za, rows, _logits, _scratchA, _scratchB, _options.Threads);
            for (int r = 0; r < rows; r++)
            {
                reward[r] += scale * _model.TwoHot.Decode(_logits.AsSpan(r * _bins, _bins), _binScratch);
            }
        }
        _model.Dynamics.Infer(za, rows, zNext, _scratchA, _scratchB, _options.Threads);
    }

    private void EstimateValues(ReadOnlySpan<float> latent)
    {
        Repeat(latent, _z, _n);
        Array.Clear(_returns);
        float discount = 1f;
        for (int t = 0; t < _h; t++)
        {
            Step(_z, _actionsAt(t), _n, _zNext, _returns, discount);
            _zNext.CopyTo(_z, 0);
            discount *= _options.Discount;
        }
        SamplePolicy(_z, _n, _piLatent, explore: true);
        Concat(_z, _piLatent, _n);
        int q1 = _random.NextInt(_model.Qs.Length), q2 = (q1 + 1 + _random.NextInt(_model.Qs.Length - 1)) % _model.Qs.Length;
        Array.Clear(_values);
        foreach (int q in stackalloc[] { q1, q2 })
        {
            _model.Qs[q].Infer(_za.AsSpan(0, _n * (_l + _a)), _n, _logits, _scratchA, _scratchB, _options.Threads);
            for (int r = 0; r < _n; r++)
            {
                _values[r] += 0.5f * _model.TwoHot.Decode(_logits.AsSpan(r * _bins, _bins), _binScratch);
            }
        }
        for (int r = 0; r < _n; r++)
        {
            float v = _returns[r] + discount * _values[r];
            _values[r] = float.IsFinite(v) ? v : float.MinValue;
        }
    }

    private void SelectElitesAndRefit()
    {
        // Top-E by partial selection (E·N comparisons; no allocation).
        for (int k = 0; k < _e; k++)
        {
            _eliteIndex[k] = -1;
        }
        int filled = 0;
        for (int s = 0; s < _n; s++)
        {
            float v = _values[s];
            if (filled < _e)
            {
                int pos = filled++;
                while (pos > 0 && _values[_eliteIndex[pos - 1]] < v)
                {
                    _eliteIndex[pos] = _eliteIndex[pos - 1];
                    pos--;
                }
                _eliteIndex[pos] = s;
            }
            else if (v > _values[_eliteIndex[_e - 1]])
            {
                int pos = _e - 1;
                while (pos > 0 && _values[_eliteIndex[pos - 1]] < v)
                {
                    _eliteIndex[pos] = _eliteIndex[pos - 1];
                    pos--;
                }
                _eliteIndex[pos] = s;
            }
        }
        float max = _values[_eliteIndex[0]];
        float sum = 0f;
        for (int k = 0; k < _e; k++)
        {
            _eliteValues[k] = _values[_eliteIndex[k]];
            _scores[k] = MathF.Exp(_options.Temperature * (_eliteValues[k] - max));
            sum += _scores[k];
        }
        TensorPrimitives.Multiply(_scores, 1f / sum, _scores);
        for (int t = 0; t < _h; t++)
        {
            var at = _actionsAt(t);
            for (int k = 0; k < _e; k++)
            {
                at.Slice(_eliteIndex[k] * _a, _a).CopyTo(_eliteActions.AsSpan((t * _e + k) * _a, _a));
            }
            for (int j = 0; j < _a; j++)
            {
                float mean = 0f;
                for (int k = 0; k < _e; k++)
                {
                    mean += _scores[k] * _eliteActions[(t * _e + k) * _a + j];
                }
                float variance = 0f;
                for (int k = 0; k < _e; k++)
                {
                    float d = _eliteActions[(t * _e + k) * _a + j] - mean;
                    variance += _scores[k] * d * d;
                }
                _mean[t * _a + j] = mean;
                _std[t * _a + j] = Math.Clamp(MathF.Sqrt(variance), _options.MinStd, _options.MaxStd);
            }
        }
    }
}
