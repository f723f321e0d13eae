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
    /// bias [O] or null → [N, O, OH, OW] with OH = (H + 2·padding − KH)/stride + 1. Computed as an
    /// im2col buffer of a chunk of samples side by side times the weight matrix: one GEMM per chunk
    /// (see <see cref="ConvTargetColumns"/>).
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

    // y = conv(x, weight) + bias for every sample: the samples of a chunk are im2col'd side by side
    // into one pooled buffer [CKK, chunk·OHW], multiplied by the weight matrix in one GEMM, and the
    // result [O, chunk·OHW] is laid out as [chunk, O, OHW]. Each output element is the same dot product
    // over CKK in the same order as with one sample at a time (the GEMM blocks the depth, not the
    // columns), so the result depends neither on the chunk nor on the threads. With several threads and
    // several samples, whole chunks go to the worker threads (each im2cols, multiplies on its own thread
    // and lays out its chunks); one sample alone (the control loop's observation) threads inside its
    // GEMM. Shared by Conv2d and Conv2dInto.
    private static void Conv2dForward(Tensor x, Tensor weight, Tensor? bias, Tensor y, in ConvGeometry g)
    {
        int chunk = ConvChunk(g);
        int parts = ConvParts(g, ref chunk);
        if (parts <= 1)
        {
            ForwardChunks(x, weight, bias, y, g, chunk, 0, (g.N + chunk - 1) / chunk, TensorEngine.ThreadCount);
            return;
        }
        var work = t_convForward ??= new ConvForwardWork();
        work.Set(x, weight, bias, y, g, chunk);
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
    private static unsafe void ForwardChunks(Tensor x, Tensor weight, Tensor? bias, Tensor y, in ConvGeometry g, int chunk, int chunkStart, int chunkEnd, int gemmThreads)
    {
        // With the Vector512 kernel, im2col writes the GEMM's B panels directly (no packing pass).
        bool panels = Gemm.PackedBPanelColumns == 32;
        float[] cols = ArrayPool<float>.Shared.Rent(g.Ckk * (panels ? (g.Ohw * chunk + 31) / 32 * 32 : g.Ohw * chunk));
        float[]? wide = chunk > 1 ? ArrayPool<float>.Shared.Rent(g.O * g.Ohw * chunk) : null;
        float[]? phase = ScratchFloats(g) > 0 ? ArrayPool<float>.Shared.Rent(ScratchFloats(g)) : null;
        int xPer = g.C * g.H * g.W;
        try
        {
            fixed (float* pw = weight.Storage, py = y.Storage, px = x.Storage, pc = cols, pwide = wide, pphase = phase)
            {
                float* yBase = py + y.Offset;
                for (int k = chunkStart; k < chunkEnd; k++)
                {
                    int n0 = k * chunk;
                    int count = Math.Min(chunk, g.N - n0);
                    if (count <= 0)
                        break;
                    int width = count * g.Ohw;
                    float* target = wide is null ? yBase + (long)n0 * g.O * g.Ohw : pwide;
                    if (panels)
                    {
                        for (int s = 0; s < count; s++)
                            Im2Col(px + x.Offset + (long)(n0 + s) * xPer, new PanelColumns(pc, g.Ckk, s * g.Ohw), g, pphase);
                        Gemm.MultiplyPackedB(g.O, width, g.Ckk, pw + weight.Offset, g.Ckk, 1, pc,
                            target, width, accumulate: false, gemmThreads);
                    }
                    else
                    {
                        for (int s = 0; s < count; s++)
                            Im2Col(px + x.Offset + (long)(n0 + s) * xPer, pc + s * g.Ohw, width, g, pphase);
                        Gemm.Multiply(g.O, width, g.Ckk, pw + weight.Offset, g.Ckk, 1, pc, width, 1,
                            target, width, accumulate: false, gemmThreads);
                    }
                    for (int s = 0; s < count; s++)
                    {
                        for (int o = 0; o < g.O; o++)
                        {
                            var plane = new Span<float>(yBase + ((long)(n0 + s) * g.O + o) * g.Ohw, g.Ohw);
                            if (wide is not null)
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
            ArrayPool<float>.Shared.Return(cols);
            if (wide is not null)
                ArrayPool<float>.Shared.Return(wide);
            if (phase is not null)
                ArrayPool<float>.Shared.Return(phase);
        }
    }

    private sealed class ConvForwardWork : IParallelWork
    {
        private Tensor? _x, _weight, _bias, _y;
        private ConvGeometry _g;
        private int _chunk;

        public void Set(Tensor x, Tensor weight, Tensor? bias, Tensor y, in ConvGeometry g, int chunk)
        {
            _x = x; _weight = weight; _bias = bias; _y = y; _g = g; _chunk = chunk;
        }

        public void Clear() => _x = _weight = _bias = _y = null;

        public void Run(int part, int parts)
        {
            var (first, count) = EvenShare((_g.N + _chunk - 1) / _chunk, part, parts);
            ForwardChunks(_x!, _weight!, _bias, _y!, _g, _chunk, first, first + count, gemmThreads: 1);
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

    // The output columns ow whose input column ow·s − p + j lies inside [0, W): [lo, hi) (empty when hi ≤ lo).
    private static (int Lo, int Hi) ValidColumns(in ConvGeometry g, int j)
    {
        int before = g.Padding - j; // input column of ow = 0 is −before
        int lo = before <= 0 ? 0 : (before + g.Stride - 1) / g.Stride;
        int last = g.W - 1 + before; // ow·s ≤ last
        int hi = last < 0 ? 0 : Math.Min(g.OW, last / g.Stride + 1);
        return (Math.Min(lo, g.OW), hi);
    }

    // Output rows narrower than this are im2col'd through a padded copy and a table of offsets
    // (Im2ColGather): copying them row by row cost more per row than the row held.
    private const int ConvGatherBelowColumns = 16;

    private static bool UsesGather(in ConvGeometry g) => g.OW < ConvGatherBelowColumns;

    // Floats of the per-sample scratch Im2Col and Col2ImAdd work through: the padded copy and its offset
    // table (narrow outputs), the phase-split copy (strided), or none.
    private static int ScratchFloats(in ConvGeometry g) =>
        UsesGather(g) ? g.C * (g.H + 2 * g.Padding) * (g.W + 2 * g.Padding) + g.Ohw
        : g.Stride == 1 ? 0 : PhaseFloats(g);

    // Floats of the phase-split copy of one sample a strided convolution works through.
    private static int PhaseFloats(in ConvGeometry g) => g.C * g.H * g.Stride * PhaseWidth(g);

    // Columns of one phase of a split row: ⌈W / s⌉.
    private static int PhaseWidth(in ConvGeometry g) => (g.W + g.Stride - 1) / g.Stride;

    // cols[(c·KH + i)·KW + j, oh·OW + ow] = x[c, oh·s − p + i, ow·s − p + j] (0 outside); a row of cols
    // starts every rowStride floats (OHW for one sample; chunk·OHW when samples sit side by side).
    // The inside of every row is one block copy: at stride 1 straight from x; at stride s > 1 from a
    // copy of x split by column phase (`phases`, PhaseFloats long: phases[c, h, r, q] = x[c, h, q·s + r]),
    // in which the columns a kernel tap reads are adjacent. The split reads x once; gathering every
    // s-th column for each of the KW taps instead read it KW times, one float at a time.
    private static unsafe void Im2Col(float* x, float* cols, int rowStride, in ConvGeometry g, float* phases) =>
        Im2Col(x, new RowMajorColumns(cols, rowStride), g, phases);

    // Im2Col into `target`: row r = (c·KH + i)·KW + j, column q = oh·OW + ow of the sample.
    private static unsafe void Im2Col<T>(float* x, T target, in ConvGeometry g, float* phases) where T : struct, IColumnTarget
    {
        if (UsesGather(g))
        {
            Im2ColGather(x, target, g, phases);
            return;
        }
        int s = g.Stride, wq = PhaseWidth(g);
        if (s > 1)
        {
            for (int row = 0; row < g.C * g.H; row++)
            {
                float* src = x + (long)row * g.W;
                float* dst = phases + (long)row * s * wq;
                for (int r = 0; r < s; r++)
                {
                    float* d = dst + r * wq;
                    int q = 0;
                    for (int w = r; w < g.W; w += s)
                        d[q++] = src[w];
                }
            }
        }
        for (int c = 0; c < g.C; c++)
        {
            for (int i = 0; i < g.KH; i++)
            {
                for (int j = 0; j < g.KW; j++)
                {
                    int r = (c * g.KH + i) * g.KW + j;
                    var (lo, hi) = ValidColumns(g, j);
                    int inside = Math.Max(0, hi - lo);
                    int first = lo * s - g.Padding + j; // input column of ow = lo
                    int phase = first % s, q0 = first / s;
                    for (int oh = 0; oh < g.OH; oh++)
                    {
                        int h = oh * s - g.Padding + i;
                        int q = oh * g.OW;
                        if ((uint)h >= (uint)g.H || inside == 0)
                        {
                            target.Zero(r, q, g.OW);
                            continue;
                        }
                        if (lo > 0)
                            target.Zero(r, q, lo);
                        if (lo + inside < g.OW)
                            target.Zero(r, q + lo + inside, g.OW - lo - inside);
                        float* src = s == 1
                            ? x + ((long)c * g.H + h) * g.W + first
                            : phases + (((long)c * g.H + h) * s + phase) * wq + q0;
                        target.Copy(r, q + lo, src, inside);
                    }
                }
            }
        }
    }

    // Where Im2Col writes: element (row r, column q of the sample).
    private interface IColumnTarget
    {
        // Columns q … q + count − 1 of row r := src[0 … count − 1].
        unsafe void Copy(int r, int q, float* src, int count);

        // Columns q … q + count − 1 of row r := 0.
        void Zero(int r, int q, int count);

        // Columns 0 … ohw − 1 of row r := src[offsets[q]].
        unsafe void Gather(int r, float* src, int* offsets, int ohw);
    }

    // cols[r·rowStride + q]: the plain im2col matrix (the backward's, and GEMMs without packed B).
    private readonly unsafe struct RowMajorColumns(float* cols, int rowStride) : IColumnTarget
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Copy(int r, int q, float* src, int count) => CopyRun(src, cols + (long)r * rowStride + q, count);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Zero(int r, int q, int count) => new Span<float>(cols + (long)r * rowStride + q, count).Clear();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Gather(int r, float* src, int* offsets, int ohw)
        {
            float* dst = cols + (long)r * rowStride;
            for (int q = 0; q < ohw; q++)
                dst[q] = src[offsets[q]];
        }
    }

    // The same matrix written straight into Gemm.MultiplyPackedB's B panels: column `first + q` of
    // row r at panels + ((first + q) / P)·depth·P + r·P + (first + q) % P, P = Gemm.PackedBPanelColumns.
    private readonly unsafe struct PanelColumns(float* panels, int depth, int first) : IColumnTarget
    {
        private const int P = 32;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private float* At(int r, int column) => panels + (long)(column / P) * depth * P + (long)r * P + column % P;

        public void Copy(int r, int q, float* src, int count)
        {
            int column = first + q;
            while (count > 0)
            {
                int n = Math.Min(P - column % P, count);
                CopyRun(src, At(r, column), n);
                src += n; column += n; count -= n;
            }
        }

        public void Zero(int r, int q, int count)
        {
            int column = first + q;
            while (count > 0)
            {
                int n = Math.Min(P - column % P, count);
                new Span<float>(At(r, column), n).Clear();
                column += n; count -= n;
            }
        }

        public void Gather(int r, float* src, int* offsets, int ohw)
        {
            int q = 0, column = first;
            while (q < ohw)
            {
                int n = Math.Min(P - column % P, ohw - q);
                float* d = At(r, column);
                for (int k = 0; k < n; k++)
                    d[k] = src[offsets[q + k]];
                q += n; column += n;
            }
        }
    }

    // The adjoint of Im2Col: dx[c, h, w] += Σ over the columns that read it (rows every rowStride floats).
    // At stride s > 1 the sums are gathered in a zeroed phase-split buffer (as Im2Col's) by adjacent
    // adds, then added onto dx once.
    private static unsafe void Col2ImAdd(float* cols, float* dx, int rowStride, in ConvGeometry g, float* phases)
    {
        if (UsesGather(g))
        {
            Col2ImAddGather(cols, dx, rowStride, g, phases);
            return;
        }
        int s = g.Stride, wq = PhaseWidth(g);
        if (s > 1)
            new Span<float>(phases, PhaseFloats(g)).Clear();
        for (int c = 0; c < g.C; c++)
        {
            for (int i = 0; i < g.KH; i++)
            {
                for (int j = 0; j < g.KW; j++)
                {
                    float* row = cols + (long)((c * g.KH + i) * g.KW + j) * rowStride;
                    var (lo, hi) = ValidColumns(g, j);
                    int inside = hi - lo;
                    if (inside <= 0)
                        continue;
                    int first = lo * s - g.Padding + j;
                    int phase = first % s, q0 = first / s;
                    for (int oh = 0; oh < g.OH; oh++)
                    {
                        int h = oh * s - g.Padding + i;
                        if ((uint)h >= (uint)g.H)
                            continue;
                        float* d = s == 1
                            ? dx + ((long)c * g.H + h) * g.W + first
                            : phases + (((long)c * g.H + h) * s + phase) * wq + q0;
                        AddInto(d, row + oh * g.OW + lo, inside);
                    }
                }
            }
        }
        if (s > 1)
        {
            for (int row = 0; row < g.C * g.H; row++)
            {
                float* dst = dx + (long)row * g.W;
                float* src = phases + (long)row * s * wq;
                for (int r = 0; r < s; r++)
                {
                    float* p = src + r * wq;
                    int q = 0;
                    for (int w = r; w < g.W; w += s)
                        dst[w] += p[q++];
                }
            }
        }
    }

    // Narrow outputs: the sample is copied once into zero-padded planes (scratch[0, C·HP·WP)), and every
    // kernel tap (i, j) reads its OHW values through one table of offsets (after the planes):
    // offset[oh·OW + ow] = oh·s·WP + ow·s, shifted by i·WP + j. No bounds checks, no per-row work.
    private static unsafe int* PaddedCopyAndOffsets(float* x, in ConvGeometry g, float* scratch, bool copy)
    {
        int p = g.Padding, hp = g.H + 2 * p, wp = g.W + 2 * p;
        long planes = (long)g.C * hp * wp;
        int* offsets = (int*)(scratch + planes);
        for (int oh = 0; oh < g.OH; oh++)
            for (int ow = 0; ow < g.OW; ow++)
                offsets[oh * g.OW + ow] = oh * g.Stride * wp + ow * g.Stride;
        if (!copy)
        {
            new Span<float>(scratch, (int)planes).Clear();
            return offsets;
        }
        if (p > 0)
            new Span<float>(scratch, (int)planes).Clear();
        for (int c = 0; c < g.C; c++)
            for (int h = 0; h < g.H; h++)
                CopyRun(x + ((long)c * g.H + h) * g.W, scratch + ((long)c * hp + h + p) * wp + p, g.W);
        return offsets;
    }

    private static unsafe void Im2ColGather<T>(float* x, T target, in ConvGeometry g, float* scratch) where T : struct, IColumnTarget
    {
        int hp = g.H + 2 * g.Padding, wp = g.W + 2 * g.Padding;
        int* offsets = PaddedCopyAndOffsets(x, g, scratch, copy: true);
        for (int c = 0; c < g.C; c++)
        {
            float* plane = scratch + (long)c * hp * wp;
            for (int i = 0; i < g.KH; i++)
            {
                for (int j = 0; j < g.KW; j++)
                {
                    target.Gather((c * g.KH + i) * g.KW + j, plane + i * wp + j, offsets, g.Ohw);
                }
            }
        }
    }

    // The adjoint of Im2ColGather: sums into zeroed padded planes through the same offsets, then the
    // planes' insides are added onto dx.
    private static unsafe void Col2ImAddGather(float* cols, float* dx, int rowStride, in ConvGeometry g, float* scratch)
    {
        int p = g.Padding, hp = g.H + 2 * p, wp = g.W + 2 * p, ohw = g.Ohw;
        int* offsets = PaddedCopyAndOffsets(null, g, scratch, copy: false);
        for (int c = 0; c < g.C; c++)
        {
            float* plane = scratch + (long)c * hp * wp;
            for (int i = 0; i < g.KH; i++)
            {
                for (int j = 0; j < g.KW; j++)
                {
                    float* d = plane + i * wp + j;
                    float* src = cols + (long)((c * g.KH + i) * g.KW + j) * rowStride;
                    for (int q = 0; q < ohw; q++)
                        d[offsets[q]] += src[q];
                }
            }
        }
        for (int c = 0; c < g.C; c++)
            for (int h = 0; h < g.H; h++)
                AddInto(dx + ((long)c * g.H + h) * g.W, scratch + ((long)c * hp + h + p) * wp + p, g.W);
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
        int k = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; k + 8 <= count; k += 8)
                (Vector256.Load(d + k) + Vector256.Load(src + k)).Store(d + k);
        }
        for (; k < count; k++)
            d[k] += src[k];
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
            var gx = x.RequiresGrad ? tape.GradientOf(x) : null;
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
        float[] cols = ArrayPool<float>.Shared.Rent(g.Ckk * g.Ohw * chunk);
        float[]? wideDy = chunk > 1 ? ArrayPool<float>.Shared.Rent(g.O * g.Ohw * chunk) : null;
        float[]? phase = ScratchFloats(g) > 0 ? ArrayPool<float>.Shared.Rent(ScratchFloats(g)) : null;
        int xPer = g.C * g.H * g.W;
        try
        {
            fixed (float* pw = weight.Storage, pc = cols, pwide = wideDy, pdyAll = dy.Storage, px = x.Storage, pgw = gw, pgx = gx is null ? null : gx.Storage, pphase = phase)
            {
                float* dyBase = pdyAll + dy.Offset;
                for (int k = chunkStart; k < chunkEnd; k++)
                {
                    int n0 = k * chunk;
                    int count = Math.Min(chunk, g.N - n0);
                    if (count <= 0)
                        break;
                    int width = count * g.Ohw;
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
                        for (int s = 0; s < count; s++)
                            Im2Col(px + x.Offset + (long)(n0 + s) * xPer, pc + s * g.Ohw, width, g, pphase);
                        Gemm.Multiply(g.O, g.Ckk, width, pdy, width, 1, pc, 1, width,
                            pgw + gwOffset, g.Ckk, accumulate: true, gemmThreads);
                    }
                    if (pgx is not null)
                    {
                        Gemm.Multiply(g.Ckk, width, g.O, pw + weight.Offset, 1, g.Ckk, pdy, width, 1,
                            pc, width, accumulate: false, gemmThreads);
                        for (int s = 0; s < count; s++)
                            Col2ImAdd(pc + s * g.Ohw, pgx + gx!.Offset + (long)(n0 + s) * xPer, width, g, pphase);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(cols);
            if (wideDy is not null)
                ArrayPool<float>.Shared.Return(wideDy);
            if (phase is not null)
                ArrayPool<float>.Shared.Return(phase);
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
