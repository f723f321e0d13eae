using System.Numerics.Tensors;

namespace RobotRuntime.Agents.Model;

/// <summary>
/// TD-MPC2's discrete regression: a scalar target is symlog-transformed, clamped to
/// [vMin, vMax] and spread over the two nearest of <c>bins</c> evenly spaced bins ("two-hot");
/// a prediction is the softmax expectation over the bins, then symexp.
/// </summary>
public sealed class TwoHot
{
    private readonly float[] _centres;

    /// <summary>Creates the encoding for <paramref name="bins"/> bins over [vMin, vMax] (symlog space).</summary>
    /// <exception cref="ArgumentException">Fewer than two bins or an empty range.</exception>
    public TwoHot(int bins, float vMin, float vMax)
    {
        if (bins < 2 || !(vMax > vMin))
        {
            throw new ArgumentException($"two-hot needs at least 2 bins over a non-empty range; got {bins} bins over [{vMin}, {vMax}]");
        }
        Bins = bins;
        VMin = vMin;
        VMax = vMax;
        BinSize = (vMax - vMin) / (bins - 1);
        _centres = new float[bins];
        for (int i = 0; i < bins; i++)
        {
            _centres[i] = vMin + i * BinSize;
        }
    }

    /// <summary>Number of bins.</summary>
    public int Bins { get; }

    /// <summary>Lowest bin centre (symlog space).</summary>
    public float VMin { get; }

    /// <summary>Highest bin centre (symlog space).</summary>
    public float VMax { get; }

    /// <summary>Distance between bin centres.</summary>
    public float BinSize { get; }

    /// <summary>The bin centres, in symlog space.</summary>
    public ReadOnlySpan<float> Centres => _centres;

    /// <summary>symlog(x) = sign(x)·ln(1 + |x|).</summary>
    public static float Symlog(float x) => MathF.CopySign(MathF.Log(1f + MathF.Abs(x)), x);

    /// <summary>symexp(x) = sign(x)·(e^|x| − 1).</summary>
    public static float Symexp(float x) => MathF.CopySign(MathF.Exp(MathF.Abs(x)) - 1f, x);

    /// <summary>Writes the two-hot encoding of <paramref name="value"/> (a raw, not symlog, value) into <paramref name="target"/> (length <see cref="Bins"/>).</summary>
    /// <remarks>Real-time: no allocation.</remarks>
    public void Encode(float value, Span<float> target)
    {
        target.Clear();
        float x = Math.Clamp(Symlog(value), VMin, VMax);
        float position = (x - VMin) / BinSize;
        int low = Math.Clamp((int)MathF.Floor(position), 0, Bins - 1);
        float upperWeight = position - low;
        if (low >= Bins - 1)
        {
            target[Bins - 1] = 1f;
            return;
        }
        target[low] = 1f - upperWeight;
        target[low + 1] = upperWeight;
    }

    /// <summary>
    /// Decodes one row of logits into a value: symexp(Σ softmax(logits)·centres). <paramref name="scratch"/>
    /// holds at least <see cref="Bins"/> floats.
    /// </summary>
    /// <remarks>Real-time: no allocation.</remarks>
    public float Decode(ReadOnlySpan<float> logits, Span<float> scratch)
    {
        var p = scratch[..Bins];
        TensorPrimitives.SoftMax(logits[..Bins], p);
        return Symexp(TensorPrimitives.Dot(p, _centres));
    }
}
