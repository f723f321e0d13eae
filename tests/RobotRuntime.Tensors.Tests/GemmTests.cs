using RobotRuntime.Tensors.Kernels;

namespace RobotRuntime.Tensors.Tests;

/// <summary>
/// The packed GEMM against a naive triple loop in double precision. Tolerance: |c − ref| ≤ 1e-5 ·
/// Σ_k |a_ik·b_kj| + 1e-6 (float32 accumulation error bound for these depths).
/// </summary>
public class GemmTests
{
    public static TheoryData<int, int, int> OddShapes => new()
    {
        { 1, 1, 1 }, { 3, 5, 7 }, { 9, 33, 17 }, { 8, 32, 256 }, { 13, 31, 257 },
        { 129, 65, 300 }, { 37, 200, 513 }, { 300, 70, 45 }, { 7, 2100, 11 },
        { 20, 700, 600 }, // A packed once for three depth blocks, reused by three column blocks
    };

    [Theory]
    [MemberData(nameof(OddShapes))]
    public void MatMulMatchesNaiveReferenceOnOddShapesWithEveryKernelAndLayout(int m, int n, int k)
    {
        var random = new Random(m * 1000 + n * 10 + k);
        foreach (var kernel in new[] { GemmKernel.Vector512Rows8Columns32, GemmKernel.Vector256Rows6Columns16, GemmKernel.ScalarRows4Columns4 })
        {
            foreach (bool ta in new[] { false, true })
            {
                foreach (bool tb in new[] { false, true })
                {
                    foreach (int threads in new[] { 1, 2 })
                    {
                        Check(random, m, n, k, ta, tb, kernel, threads, accumulate: tb);
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(OddShapes))]
    public unsafe void APackedBGivesWhatTheSameBUnpackedGivesBitForBit(int m, int n, int k)
    {
        if (Gemm.PackedBPanelColumns == 0)
        {
            // Without the Vector512 kernel the call is refused, and says why.
            var refused = Assert.Throws<InvalidOperationException>(() => Gemm.MultiplyPackedB(1, 1, 1, null, 1, 1, null, null, 1, false, 1));
            Assert.Contains("Vector512", refused.Message);
            return;
        }
        int p = Gemm.PackedBPanelColumns;
        var random = new Random(m + 7 * n + 13 * k);
        var a = RandomArray(random, m * k);
        var b = RandomArray(random, k * n);
        // B in full-depth panels of p columns; the last panel's columns past n hold garbage on purpose.
        int panels = (n + p - 1) / p;
        var packed = RandomArray(random, panels * k * p);
        for (int j = 0; j < n; j++)
            for (int q = 0; q < k; q++)
                packed[(j / p) * k * p + q * p + j % p] = b[q * n + j];
        foreach (int threads in new[] { 1, 2 })
        {
            foreach (bool accumulate in new[] { false, true })
            {
                var expected = RandomArray(new Random(5), m * n);
                var actual = (float[])expected.Clone();
                fixed (float* pa = a, pb = b, pp = packed, pe = expected, pc = actual)
                {
                    Gemm.Multiply(m, n, k, pa, k, 1, pb, n, 1, pe, n, accumulate, threads, GemmKernel.Vector512Rows8Columns32);
                    Gemm.MultiplyPackedB(m, n, k, pa, k, 1, pp, pc, n, accumulate, threads);
                }
                Assert.Equal(expected, actual);
            }
        }
    }

    [Theory]
    [InlineData(64, 3136, 576)]  // ResNet-18 layer1's forward, one sample: 13 column blocks, 3 depth blocks
    [InlineData(13, 70, 27)]     // a partial row tile and a partial last panel
    [InlineData(200, 600, 300)]  // rows past one row block
    public unsafe void ASourcePackingBOnDemandGivesWhatBStoredWholeGivesBitForBit(int m, int n, int k)
    {
        if (Gemm.PackedBPanelColumns == 0)
        {
            return; // MultiplyFromSource is refused without the Vector512 kernel, as MultiplyPackedB is
        }
        var random = new Random(m + 3 * n + 5 * k);
        var a = RandomArray(random, m * k);
        var b = RandomArray(random, k * n);
        foreach (int threads in new[] { 1, 2 })
        {
            var expected = new float[m * n];
            var actual = new float[m * n];
            fixed (float* pa = a, pb = b, pe = expected, pc = actual)
            {
                Gemm.Multiply(m, n, k, pa, k, 1, pb, n, 1, pe, n, false, threads, GemmKernel.Vector512Rows8Columns32);
                var source = new RowMajorSource(pb, n, k);
                Gemm.MultiplyFromSource(m, n, k, pa, k, 1, source, pc, n, false, threads);
                Assert.True(source.Blocks > 0);
            }
            Assert.Equal(expected, actual);
        }
    }

    // Packs blocks of a row-major B [k, n] the way IPackedBSource asks, counting the blocks asked for.
    private sealed unsafe class RowMajorSource(float* b, int n, int k) : IPackedBSource
    {
        private int _blocks;

        public int Blocks => _blocks;

        public void PackBlock(int depthStart, int depth, int columnStart, int columns, float* destination)
        {
            Interlocked.Increment(ref _blocks);
            Assert.Equal(0, columnStart % 32);
            Assert.InRange(depthStart + depth, 1, k);
            for (int t = 0; t < (columns + 31) / 32; t++)
                for (int p = 0; p < depth; p++)
                    for (int l = 0; l < 32; l++)
                    {
                        int column = columnStart + 32 * t + l;
                        destination[(long)t * depth * 32 + p * 32 + l] = column < n ? b[(long)(depthStart + p) * n + column] : 0f;
                    }
        }
    }

    [Theory]
    [InlineData(64, 4096, 576, 64)]    // the cnn's third layer: 64 samples of 64 output pixels, K past one depth block
    [InlineData(13, 96, 27, 32)]       // a partial row tile, three segments of one panel
    [InlineData(32, 2048, 27, 1024)]   // the first layer: two samples of 1,024 pixels
    public unsafe void ARowBiasAndColumnSegmentsPutEachSamplesBlockInPlaceWithItsBias(int m, int n, int k, int segment)
    {
        if (Gemm.PackedBPanelColumns == 0)
        {
            return; // refused without the Vector512 kernel, as the test above checks
        }
        int p = Gemm.PackedBPanelColumns;
        var random = new Random(m + n + k);
        var a = RandomArray(random, m * k);
        var b = RandomArray(random, k * n);
        var bias = RandomArray(random, m);
        var packed = new float[(n + p - 1) / p * k * p];
        for (int j = 0; j < n; j++)
            for (int q = 0; q < k; q++)
                packed[(j / p) * k * p + q * p + j % p] = b[q * n + j];
        // Reference: the plain product [m, n] in float64, then sample s = column / segment laid out as
        // out[s, i, column mod segment] + bias[i] (a convolution's [N, O, OHW] output).
        int samples = n / segment;
        foreach (int threads in new[] { 1, 2 })
        {
            var output = RandomArray(new Random(9), samples * m * segment);
            fixed (float* pa = a, pp = packed, po = output, pbias = bias)
            {
                Gemm.MultiplyPackedB(m, n, k, pa, k, 1, pp, po, segment, accumulate: false, threads,
                    rowBias: pbias, columnSegment: segment, segmentStride: (long)m * segment);
            }
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double sum = bias[i], bound = Math.Abs(bias[i]);
                    for (int q = 0; q < k; q++)
                    {
                        double term = (double)a[i * k + q] * b[q * n + j];
                        sum += term;
                        bound += Math.Abs(term);
                    }
                    float actual = output[(j / segment) * m * segment + i * segment + j % segment];
                    // float32 sums of k products and the bias against float64: 1e-5 of the sum of magnitudes.
                    Assert.True(Math.Abs(actual - sum) <= 1e-5 * bound + 1e-6, $"threads {threads}: C[{i},{j}] = {actual}, expected {sum}");
                }
            }
        }
    }

    // An im2col source is asked for blocks starting on its 32-column blocks, and a depth just past a
    // multiple of 256 must not leave a thin last block (576 = 3 × 192, not 256 + 256 + 64).
    [Fact]
    public void DepthBlocksAreEvenWholeMultiplesOf32AndAsFewAs256Allows()
    {
        for (int k = 1; k <= 3000; k++)
        {
            int block = Gemm.DepthBlock(k);
            int blocks = (k + block - 1) / block;
            Assert.True(block % 32 == 0 && block <= 256, $"depth {k}: block {block}");
            Assert.Equal((k + 255) / 256, blocks);
            int last = k - (blocks - 1) * block;
            Assert.True(last > block - 32 * blocks, $"depth {k}: blocks of {block} leave a last block of {last}");
        }
        Assert.Equal(192, Gemm.DepthBlock(576));
    }

    [Fact]
    public unsafe void ARowBiasIsRefusedWhenAccumulatingAndASegmentMustBeWholePanels()
    {
        if (Gemm.PackedBPanelColumns == 0)
        {
            return;
        }
        var buffer = new float[64 * 64];
        static unsafe void Call(float[] data, bool accumulate, bool withBias, int segment)
        {
            fixed (float* p = data)
                Gemm.MultiplyPackedB(1, 48, 1, p, 1, 1, p, p, 48, accumulate, 1, rowBias: withBias ? p : null, columnSegment: segment, segmentStride: segment);
        }
        var bias = Assert.Throws<ArgumentException>(() => Call(buffer, accumulate: true, withBias: true, segment: 0));
        Assert.Contains("overwritten", bias.Message);
        var segment = Assert.Throws<ArgumentException>(() => Call(buffer, accumulate: false, withBias: false, segment: 24));
        Assert.Contains("multiple of 32", segment.Message);
    }

    private static unsafe void Check(Random random, int m, int n, int k, bool ta, bool tb, GemmKernel kernel, int threads, bool accumulate)
    {
        var a = RandomArray(random, m * k);
        var b = RandomArray(random, k * n);
        var c = RandomArray(random, m * n);
        var initial = (float[])c.Clone();
        // op(a) is [m, k]: stored [m, k] or, transposed, [k, m].
        int aRow = ta ? 1 : k, aCol = ta ? m : 1;
        int bRow = tb ? 1 : n, bCol = tb ? k : 1;
        fixed (float* pa = a, pb = b, pc = c)
        {
            Gemm.Multiply(m, n, k, pa, aRow, aCol, pb, bRow, bCol, pc, n, accumulate, threads, kernel);
        }
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? initial[i * n + j] : 0, bound = 0;
                for (int p = 0; p < k; p++)
                {
                    double term = (double)a[i * aRow + p * aCol] * b[p * bRow + j * bCol];
                    sum += term;
                    bound += Math.Abs(term);
                }
                double error = Math.Abs(c[i * n + j] - sum);
                if (error > 1e-5 * bound + 1e-6)
                {
                    Assert.Fail($"{kernel} m={m} n={n} k={k} ta={ta} tb={tb} threads={threads}: C[{i},{j}] = {c[i * n + j]}, expected {sum}.");
                }
            }
        }
    }

    private static float[] RandomArray(Random random, int length)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (float)(random.NextDouble() * 2 - 1);
        }
        return values;
    }

    [Fact]
    public void MatMulOpMatchesNaiveReferenceAtWorldModelShapeOnTwoThreads()
    {
        var random = new Random(5);
        var x = TestSupport.Random(random, 64, 135);
        var w = TestSupport.Random(random, 135, 96);
        var y = Ops.MatMul(x, w);
        var expected = new float[64 * 96];
        for (int i = 0; i < 64; i++)
        {
            for (int j = 0; j < 96; j++)
            {
                double s = 0;
                for (int p = 0; p < 135; p++)
                {
                    s += (double)x.Span[i * 135 + p] * w.Span[p * 96 + j];
                }
                expected[i * 96 + j] = (float)s;
            }
        }
        TestSupport.AssertClose(expected, y.Span, 1e-4, 1e-5, "x·w");
    }

    [Fact]
    public void MatMulWithMismatchedInnerDimensionsNamesBothShapes()
    {
        var error = Assert.Throws<ArgumentException>(() => Ops.MatMul(Tensor.Zeros(3, 4), Tensor.Zeros(5, 6)));
        Assert.Contains("[5, 6]", error.Message);
        Assert.Contains("[3, 4]", error.Message);
        Assert.Equal("b", error.ParamName);
    }
}
