namespace RobotRuntime.Tensors.Tests;

/// <summary>
/// The convolution (im2col, GEMM, col2im, chunks handed to worker threads) against the definition
/// computed directly in float64: y[n, o, a, b] = bias[o] + Σ_{c, i, j} w[o, c, i, j]·x[n, c, a·s − p + i,
/// b·s − p + j], and its gradients by the same sums. The batches are large enough for the work to be
/// split over threads, and the geometries cover stride 1–3, padding 0–3, kernels 1–7, non-square
/// images and kernels, and kernels wider than the padding.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class ConvolutionReferenceTests
{
    [Theory]
    // n, c, h, w, o, kh, kw, stride, padding, threads
    [InlineData(9, 3, 64, 64, 8, 3, 3, 2, 1, 2)]   // the cnn encoder's first layer, odd batch
    [InlineData(9, 3, 64, 64, 8, 3, 3, 2, 1, 1)]
    [InlineData(5, 4, 19, 13, 6, 5, 3, 2, 2, 2)]   // non-square image and kernel
    [InlineData(7, 3, 23, 23, 5, 3, 3, 3, 1, 2)]   // stride 3
    [InlineData(6, 2, 16, 16, 4, 7, 7, 2, 3, 2)]   // 7×7, padding 3
    [InlineData(11, 6, 12, 12, 5, 1, 1, 1, 0, 2)]  // 1×1
    [InlineData(4, 8, 50, 50, 4, 3, 3, 1, 1, 2)]   // 2,500 output pixels: one sample a chunk
    [InlineData(3, 2, 9, 9, 3, 5, 5, 1, 0, 2)]     // no padding, kernel larger than half the image
    [InlineData(5, 3, 37, 45, 4, 3, 3, 2, 0, 2)]   // stride 2, no padding, odd widths past 32 (vector phase split and its tail)
    [InlineData(4, 2, 34, 70, 3, 4, 4, 2, 1, 2)]   // even kernel at stride 2: output rows of 35, across 32-column blocks
    [InlineData(9, 5, 8, 8, 6, 3, 3, 1, 1, 2)]     // output rows of 8 (four to a block); 64-pixel samples
    [InlineData(17, 4, 8, 8, 5, 3, 3, 2, 1, 2)]    // output rows of 4 (eight to a block), two samples to a block
    [InlineData(6, 3, 14, 14, 4, 3, 3, 2, 1, 2)]   // output rows of 7: 49-pixel samples that straddle blocks
    [InlineData(5, 3, 20, 26, 4, 3, 3, 2, 1, 2)]   // stride 2 over 26 columns: the 8-pair and 4-pair phase splits and a tail
    public void MatchesTheDefinitionComputedInDouble(int n, int c, int h, int w, int o, int kh, int kw, int stride, int padding, int threads)
    {
        var random = new Random(n * 1000 + c * 100 + h + kh);
        var x = Tensor.RandomNormal(random, 1f, n, c, h, w);
        var weight = Tensor.RandomNormal(random, 0.3f, o, c, kh, kw);
        var bias = Tensor.RandomNormal(random, 0.1f, o);
        int oh = (h + 2 * padding - kh) / stride + 1, ow = (w + 2 * padding - kw) / stride + 1;
        var upstream = new float[n * o * oh * ow];
        for (int i = 0; i < upstream.Length; i++)
            upstream[i] = (float)(random.NextDouble() * 2 - 1);

        var (y, dx, dw, db) = Run(x, weight, bias, stride, padding, upstream, threads);
        var reference = Reference(x, weight, bias, stride, padding, upstream);

        // float32 sums of at most c·kh·kw (forward, dx) or n·oh·ow (dW) products against float64:
        // 1e-5 of the largest magnitude of each result bounds the rounding at these sizes.
        AssertClose(reference.Y, y, "y");
        AssertClose(reference.Dx, dx, "dx");
        AssertClose(reference.Dw, dw, "dW");
        AssertClose(reference.Db, db, "db");
    }

    [Theory]
    [InlineData(20, 5, 17, 3, 1, 1)]
    [InlineData(33, 3, 64, 3, 2, 1)]
    [InlineData(6, 16, 60, 3, 1, 1)]
    [InlineData(13, 4, 14, 3, 2, 1)]
    public void TwoThreadsGiveTheForwardAndInputGradientOfOneBitForBit(int n, int c, int size, int kernel, int stride, int padding)
    {
        var random = new Random(n + c + size);
        var x = Tensor.RandomNormal(random, 1f, n, c, size, size);
        var weight = Tensor.RandomNormal(random, 0.2f, 8, c, kernel, kernel);
        var bias = Tensor.RandomNormal(random, 0.1f, 8);
        int o = (size + 2 * padding - kernel) / stride + 1;
        var upstream = new float[n * 8 * o * o];
        for (int i = 0; i < upstream.Length; i++)
            upstream[i] = (float)(random.NextDouble() * 2 - 1);

        var one = Run(x, weight, bias, stride, padding, upstream, threads: 1);
        var two = Run(x, weight, bias, stride, padding, upstream, threads: 2);

        Assert.Equal(one.Y, two.Y);
        Assert.Equal(one.Dx, two.Dx);
        // dW is summed over samples in per-thread shares, then added: rounding may differ.
        double largest = one.Dw.Max(v => Math.Abs((double)v));
        for (int i = 0; i < one.Dw.Length; i++)
            Assert.True(Math.Abs(one.Dw[i] - two.Dw[i]) <= 1e-5 * largest, $"dW[{i}]: {one.Dw[i]} on one thread, {two.Dw[i]} on two");
    }

    [Theory]
    [InlineData(1, 1)] // stride 1: dX is computed as a convolution written onto dX in place
    [InlineData(2, 1)] // stride 2: through col2im
    public void AnInputUsedTwiceGetsTheSumOfBothGradients(int stride, int threads)
    {
        var random = new Random(41 + stride);
        var x = Tensor.RandomNormal(random, 1f, 5, 3, 12, 12);
        var first = Tensor.RandomNormal(random, 0.3f, 4, 3, 3, 3);
        var second = Tensor.RandomNormal(random, 0.3f, 6, 3, 3, 3);
        var bias = Tensor.Zeros(6);
        int o = (12 + 2 - 3) / stride + 1;
        float[] Upstream(int channels)
        {
            var u = new float[5 * channels * o * o];
            for (int i = 0; i < u.Length; i++)
                u[i] = (float)(random.NextDouble() * 2 - 1);
            return u;
        }
        var u1 = Upstream(4);
        var u2 = Upstream(6);
        int saved = TensorEngine.ThreadCount;
        float[] dx;
        try
        {
            TensorEngine.ThreadCount = threads;
            var input = Tensor.FromArray(x.Span.ToArray(), x.Shape.ToArray());
            input.RequiresGrad = true;
            using var tape = new Tape();
            using (tape.Record())
            {
                var y1 = Ops.Conv2d(input, first, null, stride, 1);
                var y2 = Ops.Conv2d(input, second, null, stride, 1);
                var loss = Ops.Add(Ops.Sum(Ops.Multiply(y1, Tensor.FromArray(u1, y1.Shape.ToArray()))),
                    Ops.Sum(Ops.Multiply(y2, Tensor.FromArray(u2, y2.Shape.ToArray()))));
                tape.Backward(loss);
            }
            dx = input.Grad!.Span.ToArray();
        }
        finally
        {
            TensorEngine.ThreadCount = saved;
        }
        var a = Reference(x, first, Tensor.Zeros(4), stride, 1, u1).Dx;
        var b = Reference(x, second, bias, stride, 1, u2).Dx;
        AssertClose(a.Zip(b, (p, q) => p + q).ToArray(), dx, "dx");
    }

    private static void AssertClose(double[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double largest = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * largest, $"{what}[{i}]: {actual[i]}, expected {expected[i]} (largest {largest})");
    }

    private static (float[] Y, float[] Dx, float[] Dw, float[] Db) Run(Tensor x0, Tensor w0, Tensor b0, int stride, int padding, float[] upstream, int threads)
    {
        int saved = TensorEngine.ThreadCount;
        try
        {
            TensorEngine.ThreadCount = threads;
            var x = Tensor.FromArray(x0.Span.ToArray(), x0.Shape.ToArray());
            var w = Tensor.FromArray(w0.Span.ToArray(), w0.Shape.ToArray());
            var b = Tensor.FromArray(b0.Span.ToArray(), b0.Shape.ToArray());
            x.RequiresGrad = w.RequiresGrad = b.RequiresGrad = true;
            using var tape = new Tape();
            using (tape.Record())
            {
                var y = Ops.Conv2d(x, w, b, stride, padding);
                tape.Backward(Ops.Sum(Ops.Multiply(y, Tensor.FromArray((float[])upstream.Clone(), y.Shape.ToArray()))));
                return (y.Span.ToArray(), x.Grad!.Span.ToArray(), w.Grad!.Span.ToArray(), b.Grad!.Span.ToArray());
            }
        }
        finally
        {
            TensorEngine.ThreadCount = saved;
        }
    }

    private static (double[] Y, double[] Dx, double[] Dw, double[] Db) Reference(Tensor x, Tensor weight, Tensor bias, int s, int p, float[] g)
    {
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        int o = weight.Shape[0], kh = weight.Shape[2], kw = weight.Shape[3];
        int oh = (h + 2 * p - kh) / s + 1, ow = (w + 2 * p - kw) / s + 1;
        var xs = x.Span.ToArray();
        var ws = weight.Span.ToArray();
        var bs = bias.Span.ToArray();
        var y = new double[n * o * oh * ow];
        var dx = new double[xs.Length];
        var dw = new double[ws.Length];
        var db = new double[o];
        for (int b = 0; b < n; b++)
        for (int f = 0; f < o; f++)
        for (int a = 0; a < oh; a++)
        for (int e = 0; e < ow; e++)
        {
            int yi = ((b * o + f) * oh + a) * ow + e;
            double sum = bs[f];
            double up = g[yi];
            db[f] += up;
            for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++)
            {
                int hh = a * s - p + i, ww = e * s - p + j;
                if (hh < 0 || hh >= h || ww < 0 || ww >= w)
                    continue;
                int xi = ((b * c + ch) * h + hh) * w + ww;
                int wi = ((f * c + ch) * kh + i) * kw + j;
                sum += (double)ws[wi] * xs[xi];
                dx[xi] += up * ws[wi];
                dw[wi] += up * xs[xi];
            }
            y[yi] = sum;
        }
        return (y, dx, dw, db);
    }
}
