using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using RobotRuntime.Tensors.Kernels;

namespace RobotRuntime.Tensors;

public static partial class Ops
{
    /// <summary>
    /// 2-D convolution (cross-correlation, as PyTorch): x [N, C, H, W], weight [O, C, KH, KW],
    /// bias [O] or null → [N, O, OH, OW] with OH = (H + 2·padding − KH)/stride + 1. Computed as the
    /// weight matrix times the im2col matrix of a chunk of samples side by side, one GEMM per chunk
    /// (see <see cref="ConvTargetColumns"/>); with the Vector512 GEMM the im2col matrix is never stored
    /// whole: the GEMM gathers each block of it from a padded copy of the input as it goes.
    /// </summary>
    /// <exception cref="ArgumentException">Shapes disagree or the kernel does not fit the padded input.</exception>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride = 1, int padding = 0)
    {
        var g = CheckedConvGeometry(x, weight, bias, stride, padding);
        var y = Tape.NewOutput([g.N, g.O, g.OH, g.OW]);
        Conv2dForward(x, weight, bias, y, g);
        if (Tape.ShouldRecord(x, weight, bias))
        {
            Tape.Push(new Conv2dNode(y, x, weight, bias, g));
        }
        return y;
    }

    // The argument checks Conv2d and Conv2dInto share, then the geometry they imply.
    private static ConvGeometry CheckedConvGeometry(Tensor x, Tensor weight, Tensor? bias, int stride, int padding)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        Shapes.RequireRank(x, 4, nameof(x));
        Shapes.RequireRank(weight, 4, nameof(weight));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stride);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        var g = new ConvGeometry(x, weight, stride, padding);
        if (bias is not null)
        {
            Shapes.RequireShape(bias, [g.O], nameof(bias));
        }
        return g;
    }

    /// <summary>
    /// Output pixels per sample below which a convolution puts samples side by side (its GEMMs are too
    /// narrow one sample at a time); at or above it, samples go one at a time, as their GEMMs are wide
    /// already. Forward and backward put just enough samples together for a GEMM this wide: more spills
    /// the caches (a backward over the whole batch at once, 19 MB of im2col for the cnn encoder's second
    /// layer at batch 64, was 10–20 % slower than chunks of this width). Chosen from side-by-side runs
    /// on this project's 2-core hosts (benchmarks/RESULTS.md).
    /// </summary>
    internal const int ConvTargetColumns = 2048;

    /// <summary>Largest im2col buffer of one chunk, floats (32 MB): a chunk never grows past it.</summary>
    internal const int ConvChunkFloats = 8 << 20;

    // Samples per chunk (at least one; see ConvTargetColumns).
    private static int ConvChunk(in ConvGeometry g)
    {
        if (g.Ohw >= ConvTargetColumns)
            return 1;
        int fit = Math.Clamp(ConvChunkFloats / Math.Max(1, g.Ckk * g.Ohw), 1, Math.Max(1, g.N));
        return Math.Clamp(ConvTargetColumns / g.Ohw, 1, fit);
    }

    // y = conv(x, weight) + bias for every sample: the samples of a chunk are copied into padded,
    // phase-split planes, their im2col columns [CKK, chunk·OHW] are multiplied by the weight matrix in one
    // GEMM (gathered block by block by the GEMM itself with the Vector512 kernel; else written whole
    // first), and the result lands as [chunk, O, OHW] (in place when each sample's columns fill whole
    // panels, else through a [O, chunk·OHW] buffer laid out afterwards). Each output element is the same dot product
    // over CKK in the same order as with one sample at a time (the GEMM blocks the depth, not the
    // columns), so the result depends neither on the chunk nor on the threads. With several threads and
    // several samples, whole chunks go to the worker threads (each im2cols, multiplies on its own thread
    // and lays out its chunks); one sample alone (the control loop's observation) threads inside its
    // GEMM. Shared by Conv2d and Conv2dInto.
    // With `accumulate`, y += conv(x, weight) (no bias): the backward's input gradient at stride 1.
    private static void Conv2dForward(Tensor x, Tensor weight, Tensor? bias, Tensor y, in ConvGeometry g, bool accumulate = false)
    {
        int chunk = ConvChunk(g);
        int parts = ConvParts(g, ref chunk);
        if (parts <= 1)
        {
            ForwardChunks(x, weight, bias, y, g, chunk, 0, (g.N + chunk - 1) / chunk, TensorEngine.ThreadCount, accumulate);
            return;
        }
        var work = t_convForward ??= new ConvForwardWork();
        work.Set(x, weight, bias, y, g, chunk, accumulate);
        try
        {
            WorkerPool.Shared.Run(work, parts);
        }
        finally
        {
            work.Clear();
        }
    }

    /// <summary>Multiply-adds below which a convolution stays on the calling thread (as <see cref="Gemm"/>'s threshold).</summary>
    private const long ConvParallelMultiplyAdds = 1L << 20;

    [ThreadStatic] private static ConvForwardWork? t_convForward;
    [ThreadStatic] private static ConvBackwardWork? t_convBackward;

    // How many worker threads take whole chunks (1: none; the GEMM threads instead). With more threads
    // than chunks, or a number of chunks that would leave a thread idle at the end, the chunk shrinks so
    // the chunks split evenly; a chunk never grows.
    private static int ConvParts(in ConvGeometry g, ref int chunk)
    {
        int threads = Math.Min(TensorEngine.ThreadCount, WorkerPool.Shared.MaxParts);
        long work = (long)g.N * g.O * g.Ohw * g.Ckk;
        if (threads <= 1 || g.N <= 1 || work < ConvParallelMultiplyAdds)
        {
            return 1;
        }
        int chunks = (g.N + chunk - 1) / chunk;
        if (chunks % threads != 0 && chunks < 8 * threads)
        {
            int wanted = Math.Min(g.N, (chunks + threads - 1) / threads * threads);
            chunk = (g.N + wanted - 1) / wanted;
            chunks = (g.N + chunk - 1) / chunk;
        }
        return Math.Min(threads, chunks);
    }

    // Part `part` of `parts` of `total` items, as even as whole items allow: (first, count).
    private static (int First, int Count) EvenShare(int total, int part, int parts)
    {
        int per = total / parts, extra = total % parts;
        return (part * per + Math.Min(part, extra), per + (part < extra ? 1 : 0));
    }

    // The forward of chunks [chunkStart, chunkEnd) of `chunk` samples each, on the calling thread
    // (its GEMMs with gemmThreads).
    private static unsafe void ForwardChunks(Tensor x, Tensor weight, Tensor? bias, Tensor y, in ConvGeometry g, int chunk, int chunkStart, int chunkEnd, int gemmThreads, bool accumulate)
    {
        if (accumulate && bias is not null)
            throw new InvalidOperationException("an accumulating convolution takes no bias");
        // With the Vector512 kernel the GEMM gathers its B panels from the padded copy block by block
        // (ConvColumnsSource), and, when a sample's columns fill whole panels (or a chunk is one sample),
        // writes each sample's [O, OHW] block in place with the bias added in its registers. Otherwise the
        // im2col matrix is written whole (`cols`) and/or the result goes through `wide` [O, chunk·OHW] to be
        // laid out and biased afterwards.
        bool panels = Gemm.PackedBPanelColumns == 32;
        bool inPlace = panels && (chunk == 1 || g.Ohw % 32 == 0);
        int maxWidth = g.Ohw * chunk;
        float[]? cols = panels ? null : ArrayPool<float>.Shared.Rent(g.Ckk * maxWidth);
        float[]? wide = chunk > 1 && !inPlace ? ArrayPool<float>.Shared.Rent(g.O * maxWidth) : null;
        float[] padded = ArrayPool<float>.Shared.Rent(PaddedChunkFloats(g, chunk));
        int[] taps = ArrayPool<int>.Shared.Rent(g.Ckk);
        ColumnRun[] runs = ArrayPool<ColumnRun>.Shared.Rent(MaxColumnRuns(g, chunk));
        int[] blocks = ArrayPool<int>.Shared.Rent(MaxColumnBlocks(g, chunk));
        var source = panels ? t_convColumns ??= new ConvColumnsSource() : null;
        int xPer = g.C * g.H * g.W;
        try
        {
            fixed (float* pw = weight.Storage, py = y.Storage, px = x.Storage, pc = cols, pwide = wide, ppad = padded, pbias = bias is null ? null : bias.Storage)
            fixed (int* ptaps = taps, pblocks = blocks)
            fixed (ColumnRun* pruns = runs)
            {
                TapOffsets(g, ptaps);
                float* yBase = py + y.Offset;
                float* biasRow = pbias is null ? null : pbias + bias!.Offset;
                int planOf = 0;
                ColumnPlan plan = default;
                for (int k = chunkStart; k < chunkEnd; k++)
                {
                    int n0 = k * chunk;
                    int count = Math.Min(chunk, g.N - n0);
                    if (count <= 0)
                        break;
                    int width = count * g.Ohw;
                    if (count != planOf)
                    {
                        plan = BuildColumnPlan(g, count, pruns, pblocks);
                        planOf = count;
                    }
                    FillPadded(px + x.Offset + (long)n0 * xPer, ppad, g, count);
                    float* target = wide is null ? yBase + (long)n0 * g.O * g.Ohw : pwide;
                    if (panels)
                    {
                        source!.Set(ppad, ptaps, plan);
                        if (inPlace)
                        {
                            Gemm.MultiplyFromSource(g.O, width, g.Ckk, pw + weight.Offset, g.Ckk, 1, source,
                                target, g.Ohw, accumulate, gemmThreads,
                                rowBias: biasRow, columnSegment: count > 1 ? g.Ohw : 0, segmentStride: (long)g.O * g.Ohw);
                            continue;
                        }
                        Gemm.MultiplyFromSource(g.O, width, g.Ckk, pw + weight.Offset, g.Ckk, 1, source,
                            target, width, accumulate: accumulate && wide is null, gemmThreads);
                    }
                    else
                    {
                        GatherColumns(ppad, ptaps, g.Ckk, plan, pc, width);
                        Gemm.Multiply(g.O, width, g.Ckk, pw + weight.Offset, g.Ckk, 1, pc, width, 1,
                            target, width, accumulate: accumulate && wide is null, gemmThreads);
                    }
                    for (int s = 0; s < count; s++)
                    {
                        for (int o = 0; o < g.O; o++)
                        {
                            var plane = new Span<float>(yBase + ((long)(n0 + s) * g.O + o) * g.Ohw, g.Ohw);
                            if (wide is not null && accumulate)
                                TensorPrimitives.Add(plane, wide.AsSpan(o * width + s * g.Ohw, g.Ohw), plane);
                            else if (wide is not null)
                                wide.AsSpan(o * width + s * g.Ohw, g.Ohw).CopyTo(plane);
                            if (bias is not null)
                                TensorPrimitives.Add(plane, bias.Span[o], plane);
                        }
                    }
                }
            }
        }
        finally
        {
            source?.Clear();
            if (cols is not null)
                ArrayPool<float>.Shared.Return(cols);
            if (wide is not null)
                ArrayPool<float>.Shared.Return(wide);
            ArrayPool<float>.Shared.Return(padded);
            ArrayPool<int>.Shared.Return(taps);
            ArrayPool<ColumnRun>.Shared.Return(runs);
            ArrayPool<int>.Shared.Return(blocks);
        }
    }

    [ThreadStatic] private static ConvColumnsSource? t_convColumns;
    [ThreadStatic] private static ConvColumnsTransposedSource? t_convColumnsTransposed;

    private sealed class ConvForwardWork : IParallelWork
    {
        private Tensor? _x, _weight, _bias, _y;
        private ConvGeometry _g;
        private int _chunk;
        private bool _accumulate;

        public void Set(Tensor x, Tensor weight, Tensor? bias, Tensor y, in ConvGeometry g, int chunk, bool accumulate)
        {
            _x = x; _weight = weight; _bias = bias; _y = y; _g = g; _chunk = chunk; _accumulate = accumulate;
        }

        public void Clear() => _x = _weight = _bias = _y = null;

        public void Run(int part, int parts)
        {
            var (first, count) = EvenShare((_g.N + _chunk - 1) / _chunk, part, parts);
            ForwardChunks(_x!, _weight!, _bias, _y!, _g, _chunk, first, first + count, gemmThreads: 1, _accumulate);
        }
    }

    private readonly struct ConvGeometry
    {
        public readonly int N, C, H, W, O, KH, KW, OH, OW, Stride, Padding, Ckk, Ohw;

        public ConvGeometry(Tensor x, Tensor weight, int stride, int padding)
        {
            N = x.Shape[0]; C = x.Shape[1]; H = x.Shape[2]; W = x.Shape[3];
            O = weight.Shape[0]; KH = weight.Shape[2]; KW = weight.Shape[3];
            if (weight.Shape[1] != C)
            {
                throw new ArgumentException($"weight has shape {weight.ShapeString} but its second dimension must be {C}, the channels of x of shape {x.ShapeString}.", nameof(weight));
            }
            if (H + 2 * padding < KH || W + 2 * padding < KW)
            {
                throw new ArgumentException($"x of shape {x.ShapeString} with padding {padding} is smaller than the kernel of weight {weight.ShapeString}.", nameof(x));
            }
            Stride = stride; Padding = padding;
            OH = (H + 2 * padding - KH) / stride + 1;
            OW = (W + 2 * padding - KW) / stride + 1;
            Ckk = C * KH * KW;
            Ohw = OH * OW;
        }
    }

    // dst[k] = src[k] for k < count: runs of a few floats (a row of a small strided output) are copied
    // inline, where a call per run cost more than the copy.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void CopyRun(float* src, float* dst, int count)
    {
        if (count >= 32)
        {
            Buffer.MemoryCopy(src, dst, (long)count * sizeof(float), (long)count * sizeof(float));
            return;
        }
        int k = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; k + 8 <= count; k += 8)
                Vector256.Load(src + k).Store(dst + k);
        }
        for (; k < count; k++)
            dst[k] = src[k];
    }

    // d[k] += src[k] for k < count: short runs (a kernel tap's row), so no call into a library loop.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AddInto(float* d, float* src, int count)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            for (; count >= 16; count -= 16, d += 16, src += 16)
                (Vector512.Load(d) + Vector512.Load(src)).Store(d);
        }
        for (; count >= 8; count -= 8, d += 8, src += 8)
            (Vector256.Load(d) + Vector256.Load(src)).Store(d);
        for (; count > 0; count--)
            *d++ += *src++;
    }

    // Whether the input gradient is computed as a convolution (stride 1, a square kernel no wider than
    // its padding allows, the Vector512 GEMM that gathers its own panels).
    private static bool InputGradientAsConvolution(in ConvGeometry g) =>
        g.Stride == 1 && g.KH == g.KW && g.Padding <= g.KH - 1 && Gemm.PackedBPanelColumns == 32;

    // The kernel for dX = conv(dY, ·): flipped[c, o, i, j] = weight[o, c, KH − 1 − i, KW − 1 − j].
    private static Tensor FlippedKernel(Tensor weight, in ConvGeometry g)
    {
        var flipped = Tensor.Zeros(g.C, g.O, g.KH, g.KW);
        var w = weight.Span;
        var f = flipped.Span;
        int kk = g.KH * g.KW;
        for (int o = 0; o < g.O; o++)
            for (int c = 0; c < g.C; c++)
                for (int t = 0; t < kk; t++)
                    f[(c * g.O + o) * kk + kk - 1 - t] = w[(o * g.C + c) * kk + t];
        return flipped;
    }

    private sealed class Conv2dNode(Tensor output, Tensor x, Tensor weight, Tensor? bias, ConvGeometry g) : Node(output)
    {
        // By chunks of samples side by side, as the forward: dW [O, CKK] += dY [O, chunk·OHW] · colsᵀ in
        // one GEMM (its depth runs over the chunk's samples too, so dW's rounding differs from one sample
        // at a time within float precision), and dcols [CKK, chunk·OHW] = Wᵀ · dY in one GEMM, scattered
        // back onto each sample's input. With several threads, whole chunks go to the workers: each adds
        // its chunks' input gradients (samples are disjoint) and its own share of dW, and the shares are
        // added to dW in part order afterwards, so the result does not depend on which thread ran first.
        public override unsafe void Backward(Tape tape)
        {
            var dy = Output.Grad!;
            var gw = weight.RequiresGrad ? tape.GradientOf(weight) : null;
            Tensor? gx = null;
            if (x.RequiresGrad && InputGradientAsConvolution(g))
            {
                // Stride 1: dX is the convolution of dY with the kernel flipped and its channels swapped,
                // padded by K − 1 − p: the forward's implicit GEMM, written onto dX in place, with no
                // dcols matrix and no col2im. Its output is H × W for any such padding
                // (OH + 2(K − 1 − p) − K + 1 = H), so it writes every element of dX: the first
                // contribution overwrites a gradient whose value is zero instead of adding to it.
                var flipped = FlippedKernel(weight, g);
                var gt = new ConvGeometry(dy, flipped, 1, g.KH - 1 - g.Padding);
                var dx = tape.GradientToOverwrite(x, out bool overwrite);
                Conv2dForward(dy, flipped, null, dx, gt, accumulate: !overwrite);
            }
            else if (x.RequiresGrad)
            {
                gx = tape.GradientOf(x);
            }
            if (gw is null && gx is null)
            {
                AddBiasGradient(tape, dy);
                return;
            }
            int chunk = ConvChunk(g);
            int parts = ConvParts(g, ref chunk);
            int chunks = (g.N + chunk - 1) / chunk;
            if (parts <= 1)
            {
                BackwardChunks(dy, x, weight, gx, gw is null ? null : gw.Storage, gw?.Offset ?? 0, g, chunk, 0, chunks, TensorEngine.ThreadCount);
            }
            else
            {
                var work = t_convBackward ??= new ConvBackwardWork();
                work.Set(dy, x, weight, gx, gw, g, chunk, parts);
                try
                {
                    WorkerPool.Shared.Run(work, parts);
                    work.AddShares();
                }
                finally
                {
                    work.Clear();
                }
            }
            AddBiasGradient(tape, dy);
        }

        private void AddBiasGradient(Tape tape, Tensor dy)
        {
            if (bias is { RequiresGrad: true })
            {
                var gb = tape.GradientOf(bias).Span;
                var ds = dy.Span;
                for (int n = 0; n < g.N; n++)
                {
                    for (int o = 0; o < g.O; o++)
                    {
                        gb[o] += TensorPrimitives.Sum(ds.Slice((n * g.O + o) * g.Ohw, g.Ohw));
                    }
                }
            }
        }
    }

    // The backward of chunks [chunkStart, chunkEnd): dW (if gw is given) accumulates into
    // gw[gwOffset..], dX into gx.
    private static unsafe void BackwardChunks(Tensor dy, Tensor x, Tensor weight, Tensor? gx, float[]? gw, int gwOffset,
        in ConvGeometry g, int chunk, int chunkStart, int chunkEnd, int gemmThreads)
    {
        // With the Vector512 GEMM, dW's B (the transposed im2col) is gathered block by block on demand;
        // the whole matrix is written only for the input gradient's col2im (stride > 1) or without it.
        var transposed = Gemm.PackedBPanelColumns == 32 && gw is not null ? t_convColumnsTransposed ??= new ConvColumnsTransposedSource() : null;
        float[] cols = ArrayPool<float>.Shared.Rent(transposed is not null && gx is null ? 1 : g.Ckk * g.Ohw * chunk);
        float[]? wideDy = chunk > 1 ? ArrayPool<float>.Shared.Rent(g.O * g.Ohw * chunk) : null;
        float[] padded = ArrayPool<float>.Shared.Rent(PaddedChunkFloats(g, chunk));
        int[] taps = ArrayPool<int>.Shared.Rent(g.Ckk);
        ColumnRun[] runs = ArrayPool<ColumnRun>.Shared.Rent(MaxColumnRuns(g, chunk));
        int[] blocks = ArrayPool<int>.Shared.Rent(MaxColumnBlocks(g, chunk));
        int xPer = g.C * g.H * g.W;
        try
        {
            fixed (float* pw = weight.Storage, pc = cols, pwide = wideDy, pdyAll = dy.Storage, px = x.Storage, pgw = gw, pgx = gx is null ? null : gx.Storage, ppad = padded)
            fixed (int* ptaps = taps, pblocks = blocks)
            fixed (ColumnRun* pruns = runs)
            {
                TapOffsets(g, ptaps);
                float* dyBase = pdyAll + dy.Offset;
                int planOf = 0;
                ColumnPlan plan = default;
                for (int k = chunkStart; k < chunkEnd; k++)
                {
                    int n0 = k * chunk;
                    int count = Math.Min(chunk, g.N - n0);
                    if (count <= 0)
                        break;
                    int width = count * g.Ohw;
                    if (count != planOf)
                    {
                        plan = BuildColumnPlan(g, count, pruns, pblocks);
                        planOf = count;
                    }
                    // dY of the chunk as [O, chunk·OHW] (one sample's is that already).
                    float* pdy = wideDy is null ? dyBase + (long)n0 * g.O * g.Ohw : pwide;
                    if (wideDy is not null)
                    {
                        for (int s = 0; s < count; s++)
                            for (int o = 0; o < g.O; o++)
                                new ReadOnlySpan<float>(dyBase + ((long)(n0 + s) * g.O + o) * g.Ohw, g.Ohw).CopyTo(wideDy.AsSpan(o * width + s * g.Ohw, g.Ohw));
                    }
                    if (pgw is not null)
                    {
                        FillPadded(px + x.Offset + (long)n0 * xPer, ppad, g, count);
                        if (transposed is not null)
                        {
                            transposed.Set(ppad, ptaps, plan);
                            Gemm.MultiplyFromSource(g.O, g.Ckk, width, pdy, width, 1, transposed,
                                pgw + gwOffset, g.Ckk, accumulate: true, gemmThreads);
                        }
                        else
                        {
                            GatherColumns(ppad, ptaps, g.Ckk, plan, pc, width);
                            Gemm.Multiply(g.O, g.Ckk, width, pdy, width, 1, pc, 1, width,
                                pgw + gwOffset, g.Ckk, accumulate: true, gemmThreads);
                        }
                    }
                    if (pgx is not null)
                    {
                        Gemm.Multiply(g.Ckk, width, g.O, pw + weight.Offset, 1, g.Ckk, pdy, width, 1,
                            pc, width, accumulate: false, gemmThreads);
                        new Span<float>(ppad, PaddedFloats(g) * count).Clear();
                        ScatterAddColumns(pc, width, ptaps, g.Ckk, plan, ppad);
                        AddPaddedInto(ppad, pgx + gx!.Offset + (long)n0 * xPer, g, count);
                    }
                }
            }
        }
        finally
        {
            transposed?.Clear();
            ArrayPool<float>.Shared.Return(cols);
            if (wideDy is not null)
                ArrayPool<float>.Shared.Return(wideDy);
            ArrayPool<float>.Shared.Return(padded);
            ArrayPool<int>.Shared.Return(taps);
            ArrayPool<ColumnRun>.Shared.Return(runs);
            ArrayPool<int>.Shared.Return(blocks);
        }
    }

    private sealed class ConvBackwardWork : IParallelWork
    {
        private Tensor? _dy, _x, _weight, _gx, _gw;
        private ConvGeometry _g;
        private int _chunk, _parts;
        // Parts 1… add their dW into shares of O·CKK floats each; part 0 adds straight into dW.
        private float[]? _shares;

        public void Set(Tensor dy, Tensor x, Tensor weight, Tensor? gx, Tensor? gw, in ConvGeometry g, int chunk, int parts)
        {
            _dy = dy; _x = x; _weight = weight; _gx = gx; _gw = gw; _g = g; _chunk = chunk; _parts = parts;
            if (gw is not null)
            {
                int size = g.O * g.Ckk;
                _shares = ArrayPool<float>.Shared.Rent(size * (parts - 1));
                _shares.AsSpan(0, size * (parts - 1)).Clear();
            }
        }

        public void Run(int part, int parts)
        {
            var (first, count) = EvenShare((_g.N + _chunk - 1) / _chunk, part, parts);
            float[]? target = _gw is null ? null : part == 0 ? _gw.Storage : _shares;
            int offset = _gw is null ? 0 : part == 0 ? _gw.Offset : (part - 1) * _g.O * _g.Ckk;
            BackwardChunks(_dy!, _x!, _weight!, _gx, target, offset, _g, _chunk, first, first + count, gemmThreads: 1);
        }

        public void AddShares()
        {
            if (_gw is null || _shares is null)
                return;
            int size = _g.O * _g.Ckk;
            var dst = _gw.Span.Slice(0, size);
            for (int p = 1; p < _parts; p++)
                TensorPrimitives.Add(dst, _shares.AsSpan((p - 1) * size, size), dst);
        }

        public void Clear()
        {
            if (_shares is not null)
                ArrayPool<float>.Shared.Return(_shares);
            _shares = null;
            _dy = _x = _weight = _gx = _gw = null;
        }
    }

    /// <summary>Max pooling over KH×KW windows (no padding): [N, C, H, W] → [N, C, OH, OW], OH = (H − k)/stride + 1.</summary>
    /// <exception cref="ArgumentException">x is not rank 4 or smaller than the window.</exception>
    public static Tensor MaxPool2d(Tensor x, int kernel, int stride) => Pool2d(x, kernel, stride, max: true);

    /// <summary>Average pooling over k×k windows (no padding): [N, C, H, W] → [N, C, OH, OW].</summary>
    /// <exception cref="ArgumentException">x is not rank 4 or smaller than the window.</exception>
    public static Tensor AvgPool2d(Tensor x, int kernel, int stride) => Pool2d(x, kernel, stride, max: false);

    private static Tensor Pool2d(Tensor x, int kernel, int stride, bool max)
    {
        ArgumentNullException.ThrowIfNull(x);
        Shapes.RequireRank(x, 4, nameof(x));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernel);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stride);
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        if (h < kernel || w < kernel)
        {
            throw new ArgumentException($"x has shape {x.ShapeString} but its spatial size must be at least the pooling window {kernel}×{kernel}.", nameof(x));
        }
        int oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1;
        var y = Tape.NewOutput([n, c, oh, ow]);
        bool record = Tape.ShouldRecord(x);
        // For max pooling, the flat input index of each output's maximum (exact in float up to 2^24).
        Tensor? argmax = record && max ? Tape.NewOutput([n, c, oh, ow]) : null;
        var xs = x.Span;
        var ys = y.Span;
        float inv = 1f / (kernel * kernel);
        for (int plane = 0; plane < n * c; plane++)
        {
            int baseIn = plane * h * w;
            for (int i = 0; i < oh; i++)
            {
                for (int j = 0; j < ow; j++)
                {
                    float best = float.NegativeInfinity, sum = 0f;
                    int bestIndex = -1;
                    for (int a = 0; a < kernel; a++)
                    {
                        int rowBase = baseIn + (i * stride + a) * w + j * stride;
                        for (int b = 0; b < kernel; b++)
                        {
                            float v = xs[rowBase + b];
                            sum += v;
                            if (v > best || bestIndex < 0)
                            {
                                best = v;
                                bestIndex = rowBase + b;
                            }
                        }
                    }
                    int o = (plane * oh + i) * ow + j;
                    ys[o] = max ? best : sum * inv;
                    if (argmax is not null)
                    {
                        argmax.Span[o] = bestIndex;
                    }
                }
            }
        }
        if (record)
        {
            Tape.Push(new Pool2dNode(y, x, argmax, kernel, stride));
        }
        return y;
    }

    private sealed class Pool2dNode(Tensor output, Tensor x, Tensor? argmax, int kernel, int stride) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            var g = Output.Grad!.Span;
            var gx = tape.GradientOf(x).Span;
            if (argmax is not null)
            {
                var idx = argmax.Span;
                for (int o = 0; o < g.Length; o++)
                {
                    gx[(int)idx[o]] += g[o];
                }
                return;
            }
            int h = x.Shape[2], w = x.Shape[3], oh = Output.Shape[2], ow = Output.Shape[3];
            float inv = 1f / (kernel * kernel);
            for (int plane = 0; plane < x.Shape[0] * x.Shape[1]; plane++)
            {
                for (int i = 0; i < oh; i++)
                {
                    for (int j = 0; j < ow; j++)
                    {
                        float share = g[(plane * oh + i) * ow + j] * inv;
                        for (int a = 0; a < kernel; a++)
                        {
                            var row = gx.Slice(plane * h * w + (i * stride + a) * w + j * stride, kernel);
                            TensorPrimitives.Add(row, share, row);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Batch normalisation over dimension 1 of x [N, C, ...]. In training, normalises with the
    /// batch mean and biased variance and updates <paramref name="runningMean"/> and
    /// <paramref name="runningVariance"/> in place (momentum-weighted, unbiased variance, as
    /// PyTorch); in evaluation, normalises with the running statistics.
    /// </summary>
    /// <exception cref="ArgumentException">A statistic, weight or bias is not [C].</exception>
    public static Tensor BatchNorm(Tensor x, Tensor runningMean, Tensor runningVariance, Tensor? weight, Tensor? bias,
        bool training, float momentum = 0.1f, float eps = 1e-5f)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(runningMean);
        ArgumentNullException.ThrowIfNull(runningVariance);
        Shapes.RequireAtLeastRank(x, 2, nameof(x));
        int n = x.Shape[0], c = x.Shape[1];
        int spatial = n * c == 0 ? 0 : x.Length / (n * c);
        Shapes.RequireShape(runningMean, [c], nameof(runningMean));
        Shapes.RequireShape(runningVariance, [c], nameof(runningVariance));
        if (weight is not null)
        {
            Shapes.RequireShape(weight, [c], nameof(weight));
        }
        if (bias is not null)
        {
            Shapes.RequireShape(bias, [c], nameof(bias));
        }
        var y = Tape.NewOutput(x.ShapeArray);
        bool record = Tape.ShouldRecord(x, weight, bias);
        Tensor stats = record ? Tape.NewOutput([c, 2]) : Tensor.Zeros(c, 2);
        var xs = x.Span;
        var ys = y.Span;
        int count = n * spatial;
        for (int ch = 0; ch < c; ch++)
        {
            float mean, rstd;
            if (training)
            {
                double sum = 0, sumSquares = 0;
                for (int b = 0; b < n; b++)
                {
                    sum += TensorPrimitives.Sum(xs.Slice((b * c + ch) * spatial, spatial));
                }
                mean = (float)(sum / count);
                for (int b = 0; b < n; b++)
                {
                    var part = xs.Slice((b * c + ch) * spatial, spatial);
                    for (int i = 0; i < part.Length; i++)
                    {
                        double d = part[i] - mean;
                        sumSquares += d * d;
                    }
                }
                float variance = (float)(sumSquares / count);
                rstd = 1f / MathF.Sqrt(variance + eps);
                float unbiased = count > 1 ? (float)(sumSquares / (count - 1)) : variance;
                runningMean.Span[ch] = (1f - momentum) * runningMean.Span[ch] + momentum * mean;
                runningVariance.Span[ch] = (1f - momentum) * runningVariance.Span[ch] + momentum * unbiased;
            }
            else
            {
                mean = runningMean.Span[ch];
                rstd = 1f / MathF.Sqrt(runningVariance.Span[ch] + eps);
            }
            float scale = rstd * (weight?.Span[ch] ?? 1f);
            float shift = (bias?.Span[ch] ?? 0f) - mean * scale;
            for (int b = 0; b < n; b++)
            {
                var src = xs.Slice((b * c + ch) * spatial, spatial);
                var dst = ys.Slice((b * c + ch) * spatial, spatial);
                TensorPrimitives.Multiply(src, scale, dst);
                TensorPrimitives.Add(dst, shift, dst);
            }
            stats.Span[2 * ch] = mean;
            stats.Span[2 * ch + 1] = rstd;
        }
        if (record)
        {
            Tape.Push(new BatchNormNode(y, x, weight, bias, stats, training, n, c, spatial));
        }
        return y;
    }

    private sealed class BatchNormNode(Tensor output, Tensor x, Tensor? weight, Tensor? bias, Tensor stats, bool training, int n, int c, int spatial) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            var g = Output.Grad!.Span;
            var xs = x.Span;
            Span<float> gx = x.RequiresGrad ? tape.GradientOf(x).Span : default;
            Span<float> gw = weight is { RequiresGrad: true } ? tape.GradientOf(weight).Span : default;
            Span<float> gb = bias is { RequiresGrad: true } ? tape.GradientOf(bias).Span : default;
            int count = n * spatial;
            for (int ch = 0; ch < c; ch++)
            {
                float mean = stats.Span[2 * ch], rstd = stats.Span[2 * ch + 1];
                float w = weight?.Span[ch] ?? 1f;
                double sumDy = 0, sumDyXhat = 0;
                for (int b = 0; b < n; b++)
                {
                    var dy = g.Slice((b * c + ch) * spatial, spatial);
                    var xv = xs.Slice((b * c + ch) * spatial, spatial);
                    for (int i = 0; i < spatial; i++)
                    {
                        sumDy += dy[i];
                        sumDyXhat += dy[i] * (xv[i] - mean) * rstd;
                    }
                }
                if (!gw.IsEmpty)
                {
                    gw[ch] += (float)sumDyXhat;
                }
                if (!gb.IsEmpty)
                {
                    gb[ch] += (float)sumDy;
                }
                if (gx.IsEmpty)
                {
                    continue;
                }
                // Training: dx = w·rstd·(dy − mean(dy) − x̂·mean(dy·x̂)); evaluation: dx = w·rstd·dy.
                float meanDy = training ? (float)(sumDy / count) : 0f;
                float meanDyXhat = training ? (float)(sumDyXhat / count) : 0f;
                float k = w * rstd;
                for (int b = 0; b < n; b++)
                {
                    var dy = g.Slice((b * c + ch) * spatial, spatial);
                    var xv = xs.Slice((b * c + ch) * spatial, spatial);
                    var dst = gx.Slice((b * c + ch) * spatial, spatial);
                    for (int i = 0; i < spatial; i++)
                    {
                        float xhat = (xv[i] - mean) * rstd;
                        dst[i] += k * (dy[i] - meanDy - xhat * meanDyXhat);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Inverted dropout: while <paramref name="training"/>, zeroes each element with probability
    /// <paramref name="probability"/> (drawn from <paramref name="random"/>) and scales the rest by
    /// 1/(1 − p); otherwise returns x unchanged.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">p outside [0, 1).</exception>
    public static Tensor Dropout(Tensor x, float probability, bool training, Random random)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(random);
        if (probability is < 0f or >= 1f)
        {
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "Dropout probability must lie in [0, 1).");
        }
        if (!training || probability == 0f)
        {
            return x;
        }
        var mask = Tape.NewOutput(x.ShapeArray);
        var ms = mask.Span;
        float keep = 1f / (1f - probability);
        for (int i = 0; i < ms.Length; i++)
        {
            ms[i] = random.NextSingle() < probability ? 0f : keep;
        }
        var y = Tape.NewOutput(x.ShapeArray);
        TensorPrimitives.Multiply(x.Span, ms, y.Span);
        if (Tape.ShouldRecord(x))
        {
            Tape.Push(new MaskNode(y, x, mask));
        }
        return y;
    }

    private sealed class MaskNode(Tensor output, Tensor x, Tensor mask) : Node(output)
    {
        public override void Backward(Tape tape)
        {
            var gx = tape.GradientOf(x).Span;
            TensorPrimitives.MultiplyAdd(Output.Grad!.Span, mask.Span, gx, gx);
        }
    }
}
