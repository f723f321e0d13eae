using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace RobotRuntime.Tensors.Kernels;

/// <summary>y = f(x), element by element, at every vector width plus a scalar tail.</summary>
internal interface IUnaryOperator
{
    float Invoke(float x);
    Vector512<float> Invoke(Vector512<float> x);
    Vector256<float> Invoke(Vector256<float> x);
    Vector128<float> Invoke(Vector128<float> x);
}

/// <summary>dx = g(x, y, dy): the gradient of y = f(x) times the output gradient.</summary>
internal interface IGradientOperator
{
    float Invoke(float x, float y, float dy);
    Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy);
    Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy);
    Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy);
}

/// <summary>Drivers that run an operator struct over spans; the JIT specialises each operator.</summary>
internal static class Elementwise
{
    /// <summary>y[i] = op(x[i]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Map<TOp>(TOp op, ReadOnlySpan<float> x, Span<float> y) where TOp : struct, IUnaryOperator
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        nuint n = (nuint)x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
            {
                op.Invoke(Vector512.LoadUnsafe(ref xr, i)).StoreUnsafe(ref yr, i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                op.Invoke(Vector256.LoadUnsafe(ref xr, i)).StoreUnsafe(ref yr, i);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 4 <= n; i += 4)
            {
                op.Invoke(Vector128.LoadUnsafe(ref xr, i)).StoreUnsafe(ref yr, i);
            }
        }
        for (; i < n; i++)
        {
            Unsafe.Add(ref yr, i) = op.Invoke(Unsafe.Add(ref xr, i));
        }
    }

    /// <summary>dx[i] += op(x[i], y[i], dy[i]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AccumulateGradient<TOp>(TOp op, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
        where TOp : struct, IGradientOperator
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        ref float gr = ref MemoryMarshal.GetReference(dy);
        ref float dr = ref MemoryMarshal.GetReference(dx);
        nuint n = (nuint)x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
            {
                var r = op.Invoke(Vector512.LoadUnsafe(ref xr, i), Vector512.LoadUnsafe(ref yr, i), Vector512.LoadUnsafe(ref gr, i));
                (Vector512.LoadUnsafe(ref dr, i) + r).StoreUnsafe(ref dr, i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                var r = op.Invoke(Vector256.LoadUnsafe(ref xr, i), Vector256.LoadUnsafe(ref yr, i), Vector256.LoadUnsafe(ref gr, i));
                (Vector256.LoadUnsafe(ref dr, i) + r).StoreUnsafe(ref dr, i);
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 4 <= n; i += 4)
            {
                var r = op.Invoke(Vector128.LoadUnsafe(ref xr, i), Vector128.LoadUnsafe(ref yr, i), Vector128.LoadUnsafe(ref gr, i));
                (Vector128.LoadUnsafe(ref dr, i) + r).StoreUnsafe(ref dr, i);
            }
        }
        for (; i < n; i++)
        {
            Unsafe.Add(ref dr, i) += op.Invoke(Unsafe.Add(ref xr, i), Unsafe.Add(ref yr, i), Unsafe.Add(ref gr, i));
        }
    }
}

/// <summary>max(x, 0).</summary>
internal readonly struct ReluOperator : IUnaryOperator, IGradientOperator
{
    public float Invoke(float x) => x > 0f ? x : 0f;
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Max(x, Vector512<float>.Zero);
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Max(x, Vector256<float>.Zero);
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.Max(x, Vector128<float>.Zero);

    public float Invoke(float x, float y, float dy) => x > 0f ? dy : 0f;
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), dy, Vector512<float>.Zero);
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), dy, Vector256<float>.Zero);
    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy) =>
        Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<float>.Zero), dy, Vector128<float>.Zero);
}

/// <summary>x for x &gt; 0, α(eˣ − 1) otherwise.</summary>
internal readonly struct EluOperator(float alpha) : IUnaryOperator, IGradientOperator
{
    public float Invoke(float x) => x > 0f ? x : alpha * (MathF.Exp(x) - 1f);
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.ConditionalSelect(
        Vector512.GreaterThan(x, Vector512<float>.Zero), x,
        Vector512.Create(alpha) * (Vector512.Exp(Vector512.Min(x, Vector512<float>.Zero)) - Vector512<float>.One));
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.ConditionalSelect(
        Vector256.GreaterThan(x, Vector256<float>.Zero), x,
        Vector256.Create(alpha) * (Vector256.Exp(Vector256.Min(x, Vector256<float>.Zero)) - Vector256<float>.One));
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.ConditionalSelect(
        Vector128.GreaterThan(x, Vector128<float>.Zero), x,
        Vector128.Create(alpha) * (Vector128.Exp(Vector128.Min(x, Vector128<float>.Zero)) - Vector128<float>.One));

    // For x ≤ 0: d/dx α(eˣ − 1) = αeˣ = y + α.
    public float Invoke(float x, float y, float dy) => x > 0f ? dy : dy * (y + alpha);
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), dy, dy * (y + Vector512.Create(alpha)));
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), dy, dy * (y + Vector256.Create(alpha)));
    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy) =>
        Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128<float>.Zero), dy, dy * (y + Vector128.Create(alpha)));
}

/// <summary>
/// Mish: x·tanh(softplus(x)). With n = eˣ, tanh(ln(1 + n)) = n(n + 2) / (n(n + 2) + 2); x is
/// clamped at 20 inside the exponential, where the ratio is already 1 in float32.
/// </summary>
internal readonly struct MishOperator : IUnaryOperator, IGradientOperator
{
    private const float Clamp = 20f;

    public float Invoke(float x)
    {
        float n = MathF.Exp(MathF.Min(x, Clamp));
        float t = n * (n + 2f);
        return x * (t / (t + 2f));
    }

    public Vector512<float> Invoke(Vector512<float> x)
    {
        var n = Vector512.Exp(Vector512.Min(x, Vector512.Create(Clamp)));
        var t = n * (n + Vector512.Create(2f));
        return x * (t / (t + Vector512.Create(2f)));
    }

    public Vector256<float> Invoke(Vector256<float> x)
    {
        var n = Vector256.Exp(Vector256.Min(x, Vector256.Create(Clamp)));
        var t = n * (n + Vector256.Create(2f));
        return x * (t / (t + Vector256.Create(2f)));
    }

    public Vector128<float> Invoke(Vector128<float> x)
    {
        var n = Vector128.Exp(Vector128.Min(x, Vector128.Create(Clamp)));
        var t = n * (n + Vector128.Create(2f));
        return x * (t / (t + Vector128.Create(2f)));
    }

    // d/dx = tanh(sp) + x·(1 − tanh²(sp))·σ(x), with σ(x) = n / (1 + n).
    public float Invoke(float x, float y, float dy)
    {
        float n = MathF.Exp(MathF.Min(x, Clamp));
        float t = n * (n + 2f);
        float th = t / (t + 2f);
        float sigmoid = n / (1f + n);
        return dy * (th + x * (1f - th * th) * sigmoid);
    }

    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy)
    {
        var one = Vector512<float>.One;
        var n = Vector512.Exp(Vector512.Min(x, Vector512.Create(Clamp)));
        var t = n * (n + Vector512.Create(2f));
        var th = t / (t + Vector512.Create(2f));
        var sigmoid = n / (one + n);
        return dy * (th + x * (one - th * th) * sigmoid);
    }

    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy)
    {
        var one = Vector256<float>.One;
        var n = Vector256.Exp(Vector256.Min(x, Vector256.Create(Clamp)));
        var t = n * (n + Vector256.Create(2f));
        var th = t / (t + Vector256.Create(2f));
        var sigmoid = n / (one + n);
        return dy * (th + x * (one - th * th) * sigmoid);
    }

    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy)
    {
        var one = Vector128<float>.One;
        var n = Vector128.Exp(Vector128.Min(x, Vector128.Create(Clamp)));
        var t = n * (n + Vector128.Create(2f));
        var th = t / (t + Vector128.Create(2f));
        var sigmoid = n / (one + n);
        return dy * (th + x * (one - th * th) * sigmoid);
    }
}

/// <summary>
/// GELU with the exact (erf) form PyTorch uses by default: x·Φ(x) = ½x(1 + erf(x/√2)). erf is the
/// Abramowitz–Stegun 7.1.26 rational approximation (absolute error ≤ 1.5e-7).
/// </summary>
internal readonly struct GeluOperator : IUnaryOperator, IGradientOperator
{
    private const float InvSqrt2 = 0.70710678118654752f;
    private const float InvSqrt2Pi = 0.39894228040143268f;
    private const float P = 0.3275911f, A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;

    public float Invoke(float x) => 0.5f * x * (1f + Erf(x * InvSqrt2));
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.Create(0.5f) * x * (Vector512<float>.One + Erf(x * Vector512.Create(InvSqrt2)));
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.Create(0.5f) * x * (Vector256<float>.One + Erf(x * Vector256.Create(InvSqrt2)));
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.Create(0.5f) * x * (Vector128<float>.One + Erf(x * Vector128.Create(InvSqrt2)));

    // d/dx = Φ(x) + x·φ(x).
    public float Invoke(float x, float y, float dy) =>
        dy * (0.5f * (1f + Erf(x * InvSqrt2)) + x * InvSqrt2Pi * MathF.Exp(-0.5f * x * x));
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy) =>
        dy * (Vector512.Create(0.5f) * (Vector512<float>.One + Erf(x * Vector512.Create(InvSqrt2)))
              + x * Vector512.Create(InvSqrt2Pi) * Vector512.Exp(Vector512.Create(-0.5f) * x * x));
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy) =>
        dy * (Vector256.Create(0.5f) * (Vector256<float>.One + Erf(x * Vector256.Create(InvSqrt2)))
              + x * Vector256.Create(InvSqrt2Pi) * Vector256.Exp(Vector256.Create(-0.5f) * x * x));
    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy) =>
        dy * (Vector128.Create(0.5f) * (Vector128<float>.One + Erf(x * Vector128.Create(InvSqrt2)))
              + x * Vector128.Create(InvSqrt2Pi) * Vector128.Exp(Vector128.Create(-0.5f) * x * x));

    internal static float Erf(float x)
    {
        float ax = MathF.Abs(x);
        float t = 1f / (1f + P * ax);
        float poly = t * (A1 + t * (A2 + t * (A3 + t * (A4 + t * A5))));
        float r = 1f - poly * MathF.Exp(-ax * ax);
        return MathF.CopySign(r, x);
    }

    internal static Vector512<float> Erf(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var t = Vector512<float>.One / (Vector512<float>.One + Vector512.Create(P) * ax);
        var poly = t * (Vector512.Create(A1) + t * (Vector512.Create(A2) + t * (Vector512.Create(A3) + t * (Vector512.Create(A4) + t * Vector512.Create(A5)))));
        var r = Vector512<float>.One - poly * Vector512.Exp(-(ax * ax));
        return Vector512.CopySign(r, x);
    }

    internal static Vector256<float> Erf(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var t = Vector256<float>.One / (Vector256<float>.One + Vector256.Create(P) * ax);
        var poly = t * (Vector256.Create(A1) + t * (Vector256.Create(A2) + t * (Vector256.Create(A3) + t * (Vector256.Create(A4) + t * Vector256.Create(A5)))));
        var r = Vector256<float>.One - poly * Vector256.Exp(-(ax * ax));
        return Vector256.CopySign(r, x);
    }

    internal static Vector128<float> Erf(Vector128<float> x)
    {
        var ax = Vector128.Abs(x);
        var t = Vector128<float>.One / (Vector128<float>.One + Vector128.Create(P) * ax);
        var poly = t * (Vector128.Create(A1) + t * (Vector128.Create(A2) + t * (Vector128.Create(A3) + t * (Vector128.Create(A4) + t * Vector128.Create(A5)))));
        var r = Vector128<float>.One - poly * Vector128.Exp(-(ax * ax));
        return Vector128.CopySign(r, x);
    }
}

/// <summary>The error function (Abramowitz–Stegun 7.1.26, |error| ≤ 1.5e-7, as GELU uses) and its gradient 2/√π·exp(−x²).</summary>
internal readonly struct ErfOperator : IUnaryOperator, IGradientOperator
{
    private const float TwoOverSqrtPi = 1.1283791670955126f;

    public float Invoke(float x) => GeluOperator.Erf(x);
    public Vector512<float> Invoke(Vector512<float> x) => GeluOperator.Erf(x);
    public Vector256<float> Invoke(Vector256<float> x) => GeluOperator.Erf(x);
    public Vector128<float> Invoke(Vector128<float> x) => GeluOperator.Erf(x);

    public float Invoke(float x, float y, float dy) => dy * TwoOverSqrtPi * MathF.Exp(-x * x);
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy) => dy * Vector512.Create(TwoOverSqrtPi) * Vector512.Exp(-(x * x));
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy) => dy * Vector256.Create(TwoOverSqrtPi) * Vector256.Exp(-(x * x));
    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy) => dy * Vector128.Create(TwoOverSqrtPi) * Vector128.Exp(-(x * x));
}

/// <summary>Gradient of tanh from its output: dy·(1 − y²).</summary>
internal readonly struct TanhGradientOperator : IGradientOperator
{
    public float Invoke(float x, float y, float dy) => dy * (1f - y * y);
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy) => dy * (Vector512<float>.One - y * y);
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy) => dy * (Vector256<float>.One - y * y);
    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy) => dy * (Vector128<float>.One - y * y);
}

/// <summary>Gradient of the logistic sigmoid from its output: dy·y·(1 − y).</summary>
internal readonly struct SigmoidGradientOperator : IGradientOperator
{
    public float Invoke(float x, float y, float dy) => dy * y * (1f - y);
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy) => dy * y * (Vector512<float>.One - y);
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy) => dy * y * (Vector256<float>.One - y);
    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy) => dy * y * (Vector128<float>.One - y);
}

/// <summary>Gradient of x²: 2x·dy.</summary>
internal readonly struct SquareGradientOperator : IGradientOperator
{
    public float Invoke(float x, float y, float dy) => 2f * x * dy;
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy) => Vector512.Create(2f) * x * dy;
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy) => Vector256.Create(2f) * x * dy;
    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy) => Vector128.Create(2f) * x * dy;
}

/// <summary>Gradient of eˣ from its output: y·dy.</summary>
internal readonly struct ExpGradientOperator : IGradientOperator
{
    public float Invoke(float x, float y, float dy) => y * dy;
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy) => y * dy;
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy) => y * dy;
    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy) => y * dy;
}

/// <summary>Gradient of ln x: dy / x.</summary>
internal readonly struct LogGradientOperator : IGradientOperator
{
    public float Invoke(float x, float y, float dy) => dy / x;
    public Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, Vector512<float> dy) => dy / x;
    public Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, Vector256<float> dy) => dy / x;
    public Vector128<float> Invoke(Vector128<float> x, Vector128<float> y, Vector128<float> dy) => dy / x;
}
