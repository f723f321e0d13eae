using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace RobotRuntime.Tensors.Optim;

/// <summary>
/// Adam (Kingma &amp; Ba) and AdamW (decoupled weight decay, Loshchilov &amp; Hutter), with the
/// update written as PyTorch 1.13 writes it: p −= lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε).
/// </summary>
/// <remarks>
/// Moment buffers are allocated in the constructor for every parameter; <see cref="Step"/>
/// allocates nothing. Frozen parameters and parameters without a gradient are skipped.
/// </remarks>
public sealed partial class Adam
{
    private readonly ParameterGroup[] _groups;
    private readonly float[][][] _firstMoment;
    private readonly float[][][] _secondMoment;
    private readonly int[][] _steps;

    /// <summary>Creates the optimiser. Setup only.</summary>
    /// <param name="groups">Parameter groups, each with its learning rate and weight decay.</param>
    /// <param name="beta1">Decay of the first moment.</param>
    /// <param name="beta2">Decay of the second moment.</param>
    /// <param name="epsilon">Added to the denominator.</param>
    /// <param name="decoupledWeightDecay">True for AdamW (p ← p·(1 − lr·wd)); false adds wd·p to the gradient (Adam's L2).</param>
    /// <exception cref="ArgumentException">No groups, or a beta outside [0, 1).</exception>
    public Adam(IEnumerable<ParameterGroup> groups, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, bool decoupledWeightDecay = false)
    {
        ArgumentNullException.ThrowIfNull(groups);
        _groups = groups.ToArray();
        if (_groups.Length == 0)
        {
            throw new ArgumentException("groups is empty; at least one parameter group was expected.", nameof(groups));
        }
        if (beta1 is < 0f or >= 1f || beta2 is < 0f or >= 1f)
        {
            throw new ArgumentException($"beta1 = {beta1} and beta2 = {beta2} must both lie in [0, 1).", nameof(beta1));
        }
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        DecoupledWeightDecay = decoupledWeightDecay;
        _firstMoment = new float[_groups.Length][][];
        _secondMoment = new float[_groups.Length][][];
        _steps = new int[_groups.Length][];
        for (int g = 0; g < _groups.Length; g++)
        {
            var ps = _groups[g].Parameters;
            _firstMoment[g] = new float[ps.Count][];
            _secondMoment[g] = new float[ps.Count][];
            _steps[g] = new int[ps.Count];
            for (int i = 0; i < ps.Count; i++)
            {
                _firstMoment[g][i] = new float[ps[i].Value.Length];
                _secondMoment[g][i] = new float[ps[i].Value.Length];
            }
        }
    }

    /// <summary>Decay of the first moment (β₁).</summary>
    public float Beta1 { get; }

    /// <summary>Decay of the second moment (β₂).</summary>
    public float Beta2 { get; }

    /// <summary>Denominator offset (ε).</summary>
    public float Epsilon { get; }

    /// <summary>True for AdamW.</summary>
    public bool DecoupledWeightDecay { get; }

    /// <summary>The parameter groups, in construction order.</summary>
    public IReadOnlyList<ParameterGroup> Groups => _groups;

    /// <summary>Creates AdamW (decoupled weight decay). Setup only.</summary>
    public static Adam AdamW(IEnumerable<ParameterGroup> groups, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f) =>
        new(groups, beta1, beta2, epsilon, decoupledWeightDecay: true);

    /// <summary>Sets every gradient of every group to zero.</summary>
    /// <remarks>Real-time: no allocation.</remarks>
    public void ZeroGrad()
    {
        foreach (var group in _groups)
        {
            foreach (var p in group.Parameters)
            {
                p.Value.ZeroGrad();
            }
        }
    }

    /// <summary>Applies one update to every trainable parameter that has a gradient.</summary>
    /// <remarks>Real-time: no allocation.</remarks>
    public void Step()
    {
        for (int g = 0; g < _groups.Length; g++)
        {
            var group = _groups[g];
            for (int i = 0; i < group.Parameters.Count; i++)
            {
                var p = group.Parameters[i];
                if (p.Frozen || p.Grad is null)
                {
                    continue;
                }
                int t = ++_steps[g][i];
                float lr = group.LearningRate, wd = group.WeightDecay;
                float bias1 = 1f - MathF.Pow(Beta1, t);
                float bias2Sqrt = MathF.Sqrt(1f - MathF.Pow(Beta2, t));
                var values = p.Value.Span;
                if (DecoupledWeightDecay && wd != 0f)
                {
                    System.Numerics.Tensors.TensorPrimitives.Multiply(values, 1f - lr * wd, values);
                }
                Update(values, p.Grad.Span, _firstMoment[g][i], _secondMoment[g][i],
                    DecoupledWeightDecay ? 0f : wd, lr / bias1, 1f / bias2Sqrt);
            }
        }
    }

    private void Update(Span<float> p, ReadOnlySpan<float> grad, Span<float> m, Span<float> v, float l2, float stepSize, float invBias2Sqrt)
    {
        float b1 = Beta1, b2 = Beta2, eps = Epsilon;
        int n = p.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float pr = ref MemoryMarshal.GetReference(p);
            ref float gr = ref MemoryMarshal.GetReference(grad);
            ref float mr = ref MemoryMarshal.GetReference(m);
            ref float vr = ref MemoryMarshal.GetReference(v);
            var vb1 = Vector512.Create(b1); var vb1c = Vector512.Create(1f - b1);
            var vb2 = Vector512.Create(b2); var vb2c = Vector512.Create(1f - b2);
            var vl2 = Vector512.Create(l2); var vstep = Vector512.Create(stepSize);
            var vinv = Vector512.Create(invBias2Sqrt); var veps = Vector512.Create(eps);
            for (; i + 16 <= n; i += 16)
            {
                var pv = Vector512.LoadUnsafe(ref pr, (nuint)i);
                var gv = Vector512.LoadUnsafe(ref gr, (nuint)i) + vl2 * pv;
                var mv = vb1 * Vector512.LoadUnsafe(ref mr, (nuint)i) + vb1c * gv;
                var vv = vb2 * Vector512.LoadUnsafe(ref vr, (nuint)i) + vb2c * (gv * gv);
                mv.StoreUnsafe(ref mr, (nuint)i);
                vv.StoreUnsafe(ref vr, (nuint)i);
                (pv - vstep * mv / (Vector512.Sqrt(vv) * vinv + veps)).StoreUnsafe(ref pr, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float gv = grad[i] + l2 * p[i];
            m[i] = b1 * m[i] + (1f - b1) * gv;
            v[i] = b2 * v[i] + (1f - b2) * gv * gv;
            p[i] -= stepSize * m[i] / (MathF.Sqrt(v[i]) * invBias2Sqrt + eps);
        }
    }
}
