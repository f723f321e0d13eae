using RobotRuntime.Agents.Model;

namespace RobotRuntime.Agents.Planning;

/// <summary>
/// The planning seam: a latent state in, an action in [−1, 1] out. <see cref="MppiPlanner"/> (TD-MPC2's
/// latent MPPI) and <see cref="PolicyPriorPlanner"/> implement it; a new planner is one class plus one
/// <see cref="Planners.Register"/> line, and is then chosen by name (<c>policy.planner</c> in
/// <c>rr run</c>'s config, <c>--planner</c> on <c>rr eval</c>).
/// </summary>
/// <remarks>
/// Real-time: <see cref="Plan"/> allocates nothing and does not throw once warm (size buffers at
/// construction), and returns by its deadline with its best action so far. One thread calls it.
/// </remarks>
public interface IPlanner
{
    /// <summary>The name it is registered under, e.g. "mppi".</summary>
    string Name { get; }

    /// <summary>The settings it was made with.</summary>
    PlannerOptions Options { get; }

    /// <summary>Iterations (or rollouts) the last <see cref="Plan"/> completed; 0 for a planner that does not iterate.</summary>
    int LastIterations { get; }

    /// <summary>Forgets per-episode memory (warm starts).</summary>
    void Reset();

    /// <summary>Plans from <paramref name="latent"/> and writes the first action (finite, in [−1, 1]) to <paramref name="action"/>.</summary>
    /// <param name="latent">The encoded observation, [latent].</param>
    /// <param name="action">Output, [action dim].</param>
    /// <param name="explore">Add exploration noise to the action (training).</param>
    /// <param name="deadlineTimestamp">A <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> value by which to return, or 0 for no budget.</param>
    PlanStatus Plan(ReadOnlySpan<float> latent, Span<float> action, bool explore = false, long deadlineTimestamp = 0);
}

/// <summary>Planners by name: the registry <see cref="PlannerOptions.Kind"/> selects from.</summary>
public static class Planners
{
    /// <summary>Latent MPPI (TD-MPC2) over the learned dynamics, reward and Qs.</summary>
    public const string Mppi = "mppi";

    /// <summary>The policy prior's action alone (one small MLP pass): the cheapest planner.</summary>
    public const string Prior = "prior";

    private static readonly Dictionary<string, Func<WorldModel, PlannerOptions, AgentRandom, IPlanner>> s_factories = new(StringComparer.Ordinal)
    {
        [Mppi] = (model, options, random) => new MppiPlanner(model, options, random),
        [Prior] = (model, options, random) => new PolicyPriorPlanner(model, options, random),
    };

    private static readonly Lock s_gate = new();

    /// <summary>The registered names, sorted.</summary>
    public static IReadOnlyList<string> Names
    {
        get
        {
            lock (s_gate)
                return [.. s_factories.Keys.Order(StringComparer.Ordinal)];
        }
    }

    /// <summary>Adds a planner under <paramref name="name"/> (lower-case letters, digits and '-').</summary>
    /// <exception cref="ArgumentException">The name is malformed or taken.</exception>
    public static void Register(string name, Func<WorldModel, PlannerOptions, AgentRandom, IPlanner> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        if (string.IsNullOrEmpty(name) || !name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-'))
            throw new ArgumentException($"planner name '{name}' must be lower-case letters, digits and '-'", nameof(name));
        lock (s_gate)
        {
            if (!s_factories.TryAdd(name, factory))
                throw new ArgumentException($"a planner named '{name}' is already registered", nameof(name));
        }
    }

    /// <summary>Whether <paramref name="name"/> is registered.</summary>
    public static bool Contains(string name)
    {
        lock (s_gate)
            return s_factories.ContainsKey(name);
    }

    /// <summary>The planner <paramref name="options"/> name, for <paramref name="model"/>.</summary>
    /// <exception cref="ArgumentException">No planner has that name (the message lists the registered ones), or the options do not suit it.</exception>
    public static IPlanner Create(WorldModel model, PlannerOptions options, AgentRandom random)
    {
        Func<WorldModel, PlannerOptions, AgentRandom, IPlanner>? factory;
        lock (s_gate)
            s_factories.TryGetValue(options.Kind, out factory);
        if (factory is null)
            throw new ArgumentException($"planner '{options.Kind}' is not one of {string.Join(", ", Names)}");
        return factory(model, options, random);
    }
}

/// <summary>The policy prior's action alone: tanh(μ(z)), plus its own noise when exploring. One MLP pass per call.</summary>
/// <remarks>Real-time: no allocation, no throw.</remarks>
public sealed class PolicyPriorPlanner : IPlanner
{
    private readonly WorldModel _model;
    private readonly AgentRandom _random;
    private readonly float[] _out, _scratchA, _scratchB;

    /// <summary>Sizes the buffers for one latent.</summary>
    public PolicyPriorPlanner(WorldModel model, PlannerOptions options, AgentRandom random)
    {
        _model = model;
        Options = options;
        _random = random;
        _out = new float[2 * model.Layout.ActionDim];
        _scratchA = new float[Math.Max(model.Policy.MaxWidth, 1024)];
        _scratchB = new float[Math.Max(model.Policy.MaxWidth, 1024)];
    }

    /// <inheritdoc />
    public string Name => Planners.Prior;

    /// <inheritdoc />
    public PlannerOptions Options { get; }

    /// <inheritdoc />
    public int LastIterations => 0;

    /// <inheritdoc />
    public void Reset()
    {
    }

    /// <inheritdoc />
    public PlanStatus Plan(ReadOnlySpan<float> latent, Span<float> action, bool explore = false, long deadlineTimestamp = 0)
    {
        Act(_model, latent, action, explore, _out, _scratchA, _scratchB, Options.Threads, _random);
        return PlanStatus.Complete;
    }

    /// <summary>The prior's action for one latent into <paramref name="action"/>, with the caller's buffers.</summary>
    internal static void Act(WorldModel model, ReadOnlySpan<float> latent, Span<float> action, bool explore,
        float[] output, float[] scratchA, float[] scratchB, int threads, AgentRandom random)
    {
        int a = model.Layout.ActionDim;
        model.Policy.Infer(latent[..model.Config.LatentDim], 1, output, scratchA, scratchB, threads);
        for (int j = 0; j < a; j++)
        {
            float mu = output[j];
            if (explore)
                mu += MathF.Exp(SquashLogStd(model.Config, output[a + j])) * random.NextNormal();
            float v = MathF.Tanh(mu);
            action[j] = float.IsFinite(v) ? v : 0f;
        }
    }

    /// <summary>The policy's raw log-std squashed into [LogStdMin, LogStdMax].</summary>
    internal static float SquashLogStd(AgentConfig config, float raw) =>
        config.LogStdMin + 0.5f * (config.LogStdMax - config.LogStdMin) * (MathF.Tanh(raw) + 1f);
}
