using System.Numerics.Tensors;

namespace RobotRuntime.Tensors.Optim;

/// <summary>
/// Keeps target-network parameters as an exponential moving average of online parameters
/// (Polyak averaging, TD-MPC2 τ = 0.01): target ← target + τ·(online − target).
/// </summary>
public sealed class ExponentialMovingAverage
{
    private readonly Parameter[] _online;
    private readonly Parameter[] _target;

    /// <summary>
    /// Pairs <paramref name="online"/>[i] with <paramref name="target"/>[i]; the targets are frozen.
    /// Setup only.
    /// </summary>
    /// <exception cref="ArgumentException">The lists differ in length or a pair differs in shape.</exception>
    public ExponentialMovingAverage(IReadOnlyList<Parameter> online, IReadOnlyList<Parameter> target)
    {
        ArgumentNullException.ThrowIfNull(online);
        ArgumentNullException.ThrowIfNull(target);
        if (online.Count != target.Count)
        {
            throw new ArgumentException($"target has {target.Count} parameters but {online.Count} (as online) were expected.", nameof(target));
        }
        for (int i = 0; i < online.Count; i++)
        {
            Shapes.RequireSame(target[i].Value, online[i].Value, $"target[{i}] ({target[i].Name})");
            target[i].Frozen = true;
        }
        _online = online.ToArray();
        _target = target.ToArray();
    }

    /// <summary>Copies the online values into the targets (initialisation).</summary>
    public void CopyOnlineToTarget()
    {
        for (int i = 0; i < _online.Length; i++)
        {
            _online[i].Value.Span.CopyTo(_target[i].Value.Span);
        }
    }

    /// <summary>target ← target + τ·(online − target) for every pair.</summary>
    /// <remarks>Real-time: no allocation.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">τ outside [0, 1].</exception>
    public void Update(float tau)
    {
        if (tau is < 0f or > 1f)
        {
            throw new ArgumentOutOfRangeException(nameof(tau), tau, "tau must lie in [0, 1].");
        }
        for (int i = 0; i < _online.Length; i++)
        {
            var t = _target[i].Value.Span;
            // t·(1 − τ) + τ·online.
            TensorPrimitives.Multiply(t, 1f - tau, t);
            TensorPrimitives.MultiplyAdd(_online[i].Value.Span, tau, t, t);
        }
    }
}
