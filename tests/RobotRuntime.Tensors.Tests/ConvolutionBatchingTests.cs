namespace RobotRuntime.Tensors.Tests;

/// <summary>
/// The convolution puts a chunk of samples side by side in one im2col buffer and one GEMM. What it
/// computes must not depend on that: the reference is the same convolution run on each sample alone.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class ConvolutionBatchingTests
{
    private static Tensor Sample(Tensor x, int n)
    {
        var per = x.Length / x.Shape[0];
        return Tensor.FromArray(x.Span.Slice(n * per, per).ToArray(), [1, .. x.Shape.ToArray()[1..]]);
    }

    [Theory]
    // 17 × 17 with padding: 289 output pixels; chunks of 7, 7, 6 (2048 columns) on one thread, 5 a chunk on two.
    [InlineData(20, 5, 17, 3, 1, 1, 1)]
    [InlineData(20, 5, 17, 3, 1, 1, 2)]
    // Stride 2: 64 output pixels, 32 samples a chunk: the whole batch of 6 is one chunk.
    [InlineData(6, 5, 17, 3, 2, 0, 2)]
    // Large images (141 × 141 output pixels): one sample at a time.
    [InlineData(3, 16, 143, 3, 1, 0, 2)]
    // Small images, 16 channels, batch 300: 60 chunks of 5 samples, 30 to each thread.
    [InlineData(300, 16, 20, 3, 1, 1, 2)]
    public void ABatchGivesWhatEachSampleAloneGives(int n, int c, int size, int kernel, int stride, int padding, int threads)
    {
        var random = new Random(n * 100 + c * 10 + size);
        var x = Tensor.RandomNormal(random, 1f, n, c, size, size);
        var weight = Tensor.RandomNormal(random, 0.2f, 4, c, kernel, kernel);
        var bias = Tensor.RandomNormal(random, 0.1f, 4);
        int saved = TensorEngine.ThreadCount;
        try
        {
            TensorEngine.ThreadCount = threads;
            var (y, dx, dw, db) = ForwardBackward(x, weight, bias, stride, padding, seed: 3);

            var weightAlone = Tensor.FromArray(weight.Span.ToArray(), weight.Shape.ToArray());
            var biasAlone = Tensor.FromArray(bias.Span.ToArray(), bias.Shape.ToArray());
            var perSampleW = new double[dw.Length];
            int yPer = y.Length / n, xPer = x.Length / n;
            for (int s = 0; s < n; s++)
            {
                var (ys, dxs, dws, _) = ForwardBackward(Sample(x, s), weightAlone, biasAlone, stride, padding, seed: 0, gradient: SliceOf(AllGradients(y, 3), s, yPer));
                // Forward and input gradient: the same dot products in the same order, bit for bit.
                Assert.Equal(y.Span.Slice(s * yPer, yPer).ToArray(), ys.Span.ToArray());
                Assert.Equal(dx.Span.Slice(s * xPer, xPer).ToArray(), dxs.Span.ToArray());
                for (int i = 0; i < dws.Length; i++)
                    perSampleW[i] += dws.Span[i];
            }
            // Weight gradient: its sum now runs over the chunk's samples inside one GEMM, so it may round
            // differently; 1e-4 of the largest entry (float32 sums of ~10⁵ products) bounds it.
            double largest = perSampleW.Max(Math.Abs);
            for (int i = 0; i < perSampleW.Length; i++)
                Assert.True(Math.Abs(dw.Span[i] - perSampleW[i]) <= 1e-4 * largest, $"dW[{i}]: {dw.Span[i]} batched, {perSampleW[i]} sample by sample");
            Assert.NotNull(db);
        }
        finally
        {
            TensorEngine.ThreadCount = saved;
        }
    }

    private static float[] AllGradients(Tensor y, int seed)
    {
        var random = new Random(seed);
        var g = new float[y.Length];
        for (int i = 0; i < g.Length; i++)
            g[i] = (float)(random.NextDouble() * 2 - 1);
        return g;
    }

    private static float[] SliceOf(float[] all, int sample, int per) => all.AsSpan(sample * per, per).ToArray();

    private static (Tensor Y, Tensor Dx, Tensor Dw, Tensor Db) ForwardBackward(Tensor x, Tensor weight, Tensor bias, int stride, int padding, int seed, float[]? gradient = null)
    {
        x = Tensor.FromArray(x.Span.ToArray(), x.Shape.ToArray());
        weight = Tensor.FromArray(weight.Span.ToArray(), weight.Shape.ToArray());
        bias = Tensor.FromArray(bias.Span.ToArray(), bias.Shape.ToArray());
        x.RequiresGrad = weight.RequiresGrad = bias.RequiresGrad = true;
        // Copies: a tape lends its outputs' storage only while it lives.
        static Tensor Copy(Tensor t) => Tensor.FromArray(t.Span.ToArray(), t.Shape.ToArray());
        using var tape = new Tape();
        using (tape.Record())
        {
            var y = Ops.Conv2d(x, weight, bias, stride, padding);
            var g = Tensor.FromArray(gradient ?? AllGradients(y, seed), y.Shape.ToArray());
            tape.Backward(Ops.Sum(Ops.Multiply(y, g)));
            return (Copy(y), Copy(x.Grad!), Copy(weight.Grad!), Copy(bias.Grad!));
        }
    }
}
