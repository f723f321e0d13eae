using System.Numerics.Tensors;

namespace RobotRuntime.Vision.Preprocessing;

/// <summary>
/// Turns 8-bit RGB frames of one size into a model's normalised NCHW float input: crop or
/// stretch, bilinear resize, channel order, then <c>(p × scale − mean) / std</c> per plane with
/// SIMD (<see cref="TensorPrimitives"/>). Every table is built at construction; a call writes
/// straight into the caller's tensor and allocates nothing.
/// </summary>
/// <remarks>Real-time: <see cref="Run"/> does not allocate or throw for correctly sized spans. One thread at a time.</remarks>
public sealed class ImagePreprocessor
{
    private readonly PreprocessSpec _spec;
    private readonly int _frameWidth;
    private readonly int _frameHeight;
    private readonly bool _identityGeometry;
    // Per output column / row: the two source indices and the weight of the second.
    private readonly int[] _x0, _x1, _y0, _y1;
    private readonly float[] _wx, _wy;
    private readonly int[] _channelSource; // model channel c reads frame channel _channelSource[c]
    private readonly float[] _multiply, _add;

    /// <summary>Prepares preprocessing of <paramref name="frameWidth"/> × <paramref name="frameHeight"/> RGB frames for <paramref name="spec"/>.</summary>
    public ImagePreprocessor(PreprocessSpec spec, int frameWidth, int frameHeight)
    {
        spec.Validate("preprocessing");
        ArgumentOutOfRangeException.ThrowIfLessThan(frameWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(frameHeight, 1);
        _spec = spec;
        _frameWidth = frameWidth;
        _frameHeight = frameHeight;

        // The source region: the whole frame, or its largest centred part with the input's aspect.
        double regionX = 0, regionY = 0, regionW = frameWidth, regionH = frameHeight;
        if (spec.Resize == ResizeMode.CenterCrop)
        {
            var target = (double)spec.Width / spec.Height;
            if ((double)frameWidth / frameHeight > target)
            {
                regionW = frameHeight * target;
                regionX = (frameWidth - regionW) / 2;
            }
            else
            {
                regionH = frameWidth / target;
                regionY = (frameHeight - regionH) / 2;
            }
        }
        _identityGeometry = frameWidth == spec.Width && frameHeight == spec.Height;
        (_x0, _x1, _wx) = Axis(spec.Width, regionX, regionW, frameWidth);
        (_y0, _y1, _wy) = Axis(spec.Height, regionY, regionH, frameHeight);

        _channelSource = spec.ColorOrder == ColorOrder.Rgb ? [0, 1, 2] : [2, 1, 0];
        _multiply = new float[3];
        _add = new float[3];
        for (var c = 0; c < 3; c++)
        {
            _multiply[c] = spec.Scale / spec.Std[c];
            _add[c] = -spec.Mean[c] / spec.Std[c];
        }
    }

    /// <summary>Floats written per frame: 3 × Height × Width.</summary>
    public int OutputLength => 3 * _spec.Height * _spec.Width;

    /// <summary>The model-side specification.</summary>
    public PreprocessSpec Spec => _spec;

    // Pixel centres map as in OpenCV/PyTorch with align_corners=False.
    private static (int[] I0, int[] I1, float[] W) Axis(int outSize, double start, double length, int sourceSize)
    {
        var i0 = new int[outSize];
        var i1 = new int[outSize];
        var w = new float[outSize];
        var step = length / outSize;
        for (var o = 0; o < outSize; o++)
        {
            var source = start + (o + 0.5) * step - 0.5;
            source = Math.Clamp(source, 0, sourceSize - 1);
            var lower = (int)Math.Floor(source);
            i0[o] = lower;
            i1[o] = Math.Min(lower + 1, sourceSize - 1);
            w[o] = (float)(source - lower);
        }
        return (i0, i1, w);
    }

    /// <summary>
    /// Writes one frame's input tensor (3 planes of Height × Width, model channel order) into
    /// <paramref name="chw"/>.
    /// </summary>
    /// <param name="rgb">The frame: frameWidth × frameHeight × 3 bytes, rows top first.</param>
    /// <param name="chw">Exactly <see cref="OutputLength"/> floats.</param>
    /// <returns>False (and nothing written) if a span has the wrong length.</returns>
    public bool Run(ReadOnlySpan<byte> rgb, Span<float> chw)
    {
        if (rgb.Length != _frameWidth * _frameHeight * 3 || chw.Length != OutputLength)
            return false;
        var plane = _spec.Height * _spec.Width;
        if (_identityGeometry)
            Deinterleave(rgb, chw, plane);
        else
            Resample(rgb, chw, plane);
        for (var c = 0; c < 3; c++)
        {
            var p = chw.Slice(c * plane, plane);
            TensorPrimitives.Multiply(p, _multiply[c], p);
            TensorPrimitives.Add(p, _add[c], p);
        }
        return true;
    }

    private void Deinterleave(ReadOnlySpan<byte> rgb, Span<float> chw, int plane)
    {
        var r = chw[..plane];
        var g = chw.Slice(plane, plane);
        var b = chw.Slice(2 * plane, plane);
        var (first, last) = (_channelSource[0], _channelSource[2]);
        for (int i = 0, j = 0; i < plane; i++, j += 3)
        {
            r[i] = rgb[j + first];
            g[i] = rgb[j + 1];
            b[i] = rgb[j + last];
        }
    }

    private void Resample(ReadOnlySpan<byte> rgb, Span<float> chw, int plane)
    {
        var width = _spec.Width;
        var stride = _frameWidth * 3;
        for (var y = 0; y < _spec.Height; y++)
        {
            var row0 = _y0[y] * stride;
            var row1 = _y1[y] * stride;
            var wy = _wy[y];
            for (var x = 0; x < width; x++)
            {
                var a = _x0[x] * 3;
                var b = _x1[x] * 3;
                var wx = _wx[x];
                var o = y * width + x;
                for (var c = 0; c < 3; c++)
                {
                    var s = _channelSource[c];
                    float top = rgb[row0 + a + s] + (rgb[row0 + b + s] - rgb[row0 + a + s]) * wx;
                    float bottom = rgb[row1 + a + s] + (rgb[row1 + b + s] - rgb[row1 + a + s]) * wx;
                    chw[c * plane + o] = top + (bottom - top) * wy;
                }
            }
        }
    }
}
