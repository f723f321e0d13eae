using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using RobotRuntime.Tensors.Kernels;

namespace RobotRuntime.Tensors;

// How a convolution's im2col matrix is read out of its input, and its adjoint.
//
// Each sample is first copied once into a zero-padded, column-phase-split plane set:
//   padded[c, hp, ph, q] = x[c, hp − p, q·s + ph − p]   (0 outside x), hp < H + 2p, ph < s, q < ⌈(W + 2p)/s⌉.
// In it, the element of im2col row r = (c·KH + i)·KW + j and column (oh, ow) sits at
//   TapOffset(r) + oh·s·s·Wq + ow,   TapOffset(r) = ((c·Hp + i)·s + j mod s)·Wq + ⌊j/s⌋,
// so the matrix is an outer sum of a row offset and a column offset: the columns of one output row are
// adjacent in the source for every row r, whatever the stride, and no read needs a bounds check.
// A chunk's columns are described once as runs (a destination, a source offset, a length), cut where an
// output row ends and, for GEMM panels, where a panel ends; every im2col row is then the same runs from a
// different start, copied with whole vectors.
public static partial class Ops
{
    // One run of adjacent columns: `Length` floats from source offset `Source` (plus the row's tap offset)
    // to destination offset `Destination` (plus the row's start in the target).
    private readonly record struct ColumnRun(int Destination, int Source, int Length);

    // Columns of one phase row of the padded copy: ⌈(W + 2p)/s⌉.
    private static int PaddedPhaseWidth(in ConvGeometry g) => (g.W + 2 * g.Padding + g.Stride - 1) / g.Stride;

    // Floats of one sample's padded copy, rounded up to 16 so every sample's copy starts 64-byte apart.
    private static int PaddedFloats(in ConvGeometry g) =>
        (g.C * (g.H + 2 * g.Padding) * g.Stride * PaddedPhaseWidth(g) + 15) / 16 * 16;

    // Floats past a chunk's padded copies that a gather may read and discard: a block of two or more
    // runs reads each run as a whole 32 floats (see CopyBlock), up to 31 past the last run's end.
    private const int PaddedReadSlack = 32;

    // Floats to allocate for the padded copies of `count` samples.
    private static int PaddedChunkFloats(in ConvGeometry g, int count) => PaddedFloats(g) * count + PaddedReadSlack;

    // TapOffset(r) for every im2col row r < CKK.
    private static unsafe void TapOffsets(in ConvGeometry g, int* offsets)
    {
        int s = g.Stride, wq = PaddedPhaseWidth(g), hp = g.H + 2 * g.Padding;
        for (int c = 0; c < g.C; c++)
            for (int i = 0; i < g.KH; i++)
                for (int j = 0; j < g.KW; j++)
                    offsets[(c * g.KH + i) * g.KW + j] = ((c * hp + i) * s + j % s) * wq + j / s;
    }

    // Upper bound of the runs BuildColumnPlan writes for `count` samples (an output row of OW columns
    // crosses at most ⌈OW/32⌉ + 1 block boundaries), and of the ints of its block table.
    private static int MaxColumnRuns(in ConvGeometry g, int count) => count * g.OH * (g.OW / 32 + 2);

    private static int MaxColumnBlocks(in ConvGeometry g, int count) => 2 * ((count * g.Ohw + 31) / 32) + 2;

    // The columns of `count` samples side by side (sample k's at k·OHW, its padded copy at k·PaddedFloats)
    // as runs, each cut where an output row ends and where a block of 32 columns (one GEMM panel) ends,
    // and the table of the blocks: blocks[2b] = the first run of block b (columns 32b … 32b + 31),
    // blocks[2b + 1] = its kind (the length of its equal runs when they fill it: 32, 16, 8 or 4; −runs
    // for 2 to 4 runs of other lengths that fill it, with AVX-512; else 0), blocks[2·count] = the number
    // of runs.
    private static unsafe ColumnPlan BuildColumnPlan(in ConvGeometry g, int count, ColumnRun* runs, int* blocks)
    {
        int wq = PaddedPhaseWidth(g), rowPitch = g.Stride * g.Stride * wq, samplePitch = PaddedFloats(g);
        int n = 0;
        for (int k = 0; k < count; k++)
        {
            for (int oh = 0; oh < g.OH; oh++)
            {
                int column = k * g.Ohw + oh * g.OW, source = k * samplePitch + oh * rowPitch, left = g.OW;
                while (left > 0)
                {
                    int length = Math.Min(left, 32 - column % 32);
                    runs[n++] = new ColumnRun(column, source, length);
                    column += length; source += length; left -= length;
                }
            }
        }
        int blockCount = 0, start = 0;
        while (start < n)
        {
            int block = runs[start].Destination / 32;
            int end = start + 1;
            while (end < n && runs[end].Destination / 32 == block)
                end++;
            int length = runs[start].Length, filled = 0;
            bool even = length is 32 or 16 or 8 or 4 && (end - start) * length == 32;
            for (int k = start; k < end; k++)
            {
                even &= runs[k].Length == length;
                filled += runs[k].Length;
            }
            // A run after the first starts where an output row does, so its source lies at least its
            // place in the block past the chunk's start: reading 32 floats from there stays inside.
            bool blend = Avx512F.IsSupported && !even && filled == 32 && end - start is >= 2 and <= 4;
            blocks[2 * blockCount] = start;
            blocks[2 * blockCount + 1] = even ? length : blend ? start - end : 0;
            blockCount++;
            start = end;
        }
        blocks[2 * blockCount] = n;
        return new ColumnPlan(runs, n, blocks, blockCount, count * g.Ohw);
    }

    // A chunk's columns as BuildColumnPlan describes them: Width columns in BlockCount blocks of 32.
    private readonly unsafe struct ColumnPlan(ColumnRun* runs, int runCount, int* blocks, int blockCount, int width)
    {
        public readonly ColumnRun* Runs = runs;
        public readonly int RunCount = runCount;
        public readonly int* Blocks = blocks;
        public readonly int BlockCount = blockCount;
        public readonly int Width = width;
    }

    // padded[k] := the padded, phase-split copy of sample k (x + k·C·H·W) for k < count.
    private static unsafe void FillPadded(float* x, float* padded, in ConvGeometry g, int count)
    {
        int s = g.Stride, p = g.Padding, hp = g.H + 2 * p, wq = PaddedPhaseWidth(g), rowFloats = s * wq;
        int perSample = g.C * g.H * g.W, pitch = PaddedFloats(g);
        for (int k = 0; k < count; k++)
        {
            float* xs = x + (long)k * perSample;
            float* ps = padded + (long)k * pitch;
            for (int c = 0; c < g.C; c++)
            {
                for (int row = 0; row < hp; row++)
                {
                    float* dst = ps + ((long)c * hp + row) * rowFloats;
                    int h = row - p;
                    if ((uint)h >= (uint)g.H)
                    {
                        new Span<float>(dst, rowFloats).Clear();
                        continue;
                    }
                    float* src = xs + ((long)c * g.H + h) * g.W;
                    if (s == 1)
                    {
                        ClearShort(dst, p);
                        CopyShort(src, dst + p, g.W);
                        ClearShort(dst + p + g.W, wq - p - g.W);
                    }
                    else if (s == 2)
                    {
                        SplitPhases2(src, g.W, p, dst, wq);
                    }
                    else
                    {
                        new Span<float>(dst, rowFloats).Clear();
                        for (int w = 0; w < g.W; w++)
                        {
                            int wp = w + p;
                            dst[wp % s * wq + wp / s] = src[w];
                        }
                    }
                }
            }
        }
    }

    // dx[k] += the inside of padded[k] (the adjoint of FillPadded) for k < count.
    private static unsafe void AddPaddedInto(float* padded, float* dx, in ConvGeometry g, int count)
    {
        int s = g.Stride, p = g.Padding, hp = g.H + 2 * p, wq = PaddedPhaseWidth(g), rowFloats = s * wq;
        int perSample = g.C * g.H * g.W, pitch = PaddedFloats(g);
        for (int k = 0; k < count; k++)
        {
            float* ds = dx + (long)k * perSample;
            float* ps = padded + (long)k * pitch;
            for (int c = 0; c < g.C; c++)
            {
                for (int h = 0; h < g.H; h++)
                {
                    float* src = ps + ((long)c * hp + h + p) * rowFloats;
                    float* dst = ds + ((long)c * g.H + h) * g.W;
                    if (s == 1)
                    {
                        AddInto(dst, src + p, g.W);
                    }
                    else if (s == 2)
                    {
                        AddMergedPhases2(src, wq, p, dst, g.W);
                    }
                    else
                    {
                        for (int w = 0; w < g.W; w++)
                        {
                            int wp = w + p;
                            dst[w] += src[wp % s * wq + wp / s];
                        }
                    }
                }
            }
        }
    }

    // Stride 2: padded column w + p of an input row goes to phase (w + p) mod 2, position ⌊(w + p)/2⌋.
    // So x[2q] lands in phase p mod 2 at q + ⌊p/2⌋ and x[2q + 1] in phase (p + 1) mod 2 at q + ⌊(p + 1)/2⌋;
    // both are de-interleaved 16 at a time with one two-register permute each.
    private static unsafe void SplitPhases2(float* src, int w, int p, float* dst, int wq)
    {
        float* evens = dst + p % 2 * wq;
        float* odds = dst + (p + 1) % 2 * wq;
        int evenAt = p / 2, oddAt = (p + 1) / 2;
        int evenCount = (w + 1) / 2, oddCount = w / 2;
        ClearShort(evens, evenAt);
        ClearShort(evens + evenAt + evenCount, wq - evenAt - evenCount);
        ClearShort(odds, oddAt);
        ClearShort(odds + oddAt + oddCount, wq - oddAt - oddCount);
        float* e = evens + evenAt, o = odds + oddAt;
        int q = 0;
        if (Avx512F.IsSupported)
        {
            var evenIndex = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            var oddIndex = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            for (; 2 * q + 32 <= w; q += 16)
            {
                var lo = Vector512.Load(src + 2 * q);
                var hi = Vector512.Load(src + 2 * q + 16);
                Avx512F.PermuteVar16x32x2(lo, evenIndex, hi).Store(e + q);
                Avx512F.PermuteVar16x32x2(lo, oddIndex, hi).Store(o + q);
            }
            if (2 * q + 16 <= w)
            {
                // Eight pairs: evens to the low half, odds to the high half, in one permute.
                var v = Avx512F.PermuteVar16x32(Vector512.Load(src + 2 * q),
                    Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15));
                v.GetLower().Store(e + q);
                v.GetUpper().Store(o + q);
                q += 8;
            }
        }
        if (Avx2.IsSupported && 2 * q + 8 <= w)
        {
            var v = Avx2.PermuteVar8x32(Vector256.Load(src + 2 * q), Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7));
            v.GetLower().Store(e + q);
            v.GetUpper().Store(o + q);
            q += 4;
        }
        for (; 2 * q < w; q++)
        {
            e[q] = src[2 * q];
            if (2 * q + 1 < w)
                o[q] = src[2 * q + 1];
        }
    }

    // The adjoint of SplitPhases2: x[2q] += evens[q], x[2q + 1] += odds[q], re-interleaved with permutes.
    private static unsafe void AddMergedPhases2(float* src, int wq, int p, float* dst, int w)
    {
        float* e = src + p % 2 * wq + p / 2;
        float* o = src + (p + 1) % 2 * wq + (p + 1) / 2;
        int q = 0;
        if (Avx512F.IsSupported)
        {
            var lowIndex = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            var highIndex = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            for (; 2 * q + 32 <= w; q += 16)
            {
                var ev = Vector512.Load(e + q);
                var od = Vector512.Load(o + q);
                (Vector512.Load(dst + 2 * q) + Avx512F.PermuteVar16x32x2(ev, lowIndex, od)).Store(dst + 2 * q);
                (Vector512.Load(dst + 2 * q + 16) + Avx512F.PermuteVar16x32x2(ev, highIndex, od)).Store(dst + 2 * q + 16);
            }
            if (2 * q + 16 <= w)
            {
                var pairs = Avx512F.PermuteVar16x32(Vector512.Create(Vector256.Load(e + q), Vector256.Load(o + q)),
                    Vector512.Create(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
                (Vector512.Load(dst + 2 * q) + pairs).Store(dst + 2 * q);
                q += 8;
            }
        }
        if (Avx2.IsSupported && 2 * q + 8 <= w)
        {
            var pairs = Avx2.PermuteVar8x32(Vector256.Create(Vector128.Load(e + q), Vector128.Load(o + q)),
                Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7));
            (Vector256.Load(dst + 2 * q) + pairs).Store(dst + 2 * q);
            q += 4;
        }
        for (; 2 * q < w; q++)
        {
            dst[2 * q] += e[q];
            if (2 * q + 1 < w)
                dst[2 * q + 1] += o[q];
        }
    }

    // d[0..count) = 0 for the few floats of a row's padding, without a call.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void ClearShort(float* d, int count)
    {
        for (; count >= 8; count -= 8, d += 8)
            Vector256<float>.Zero.Store(d);
        for (; count > 0; count--)
            *d++ = 0f;
    }

    // target[row r, column q] := im2col element (r, q), for r < rows, a row every rowStep floats; row by
    // row (block by block would write 128 bytes a row at the row's stride, which the caches alias).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GatherColumns(float* padded, int* tapOffsets, int rows, in ColumnPlan plan, float* target, int rowStep)
    {
        int* blocks = plan.Blocks;
        for (int r = 0; r < rows; r++)
        {
            float* src = padded + tapOffsets[r];
            float* row = target + (long)r * rowStep;
            for (int b = 0; b < plan.BlockCount; b++)
                CopyBlock(src, row, plan.Runs, blocks[2 * b], blocks[2 * b + 2], blocks[2 * b + 1]);
        }
    }

    // What both im2col sources read: a chunk's padded planes, tap offsets and column plan, set before each GEMM.
    private abstract unsafe class PaddedColumnsSource : IPackedBSource
    {
        protected float* _padded;
        protected int* _taps;
        protected ColumnPlan _plan;

        public void Set(float* padded, int* taps, in ColumnPlan plan)
        {
            _padded = padded; _taps = taps; _plan = plan;
        }

        public void Clear() => _plan = default;

        public abstract void PackBlock(int depthStart, int depth, int columnStart, int columns, float* destination);
    }

    // The im2col matrix as Gemm.MultiplyFromSource's B: each block of rows × columns the GEMM asks for is
    // gathered from the padded copy into its panels right before it is multiplied, so the matrix is never
    // written whole (an implicit GEMM). One instance per thread; Set before each GEMM.
    private sealed unsafe class ConvColumnsSource : PaddedColumnsSource
    {
        public override void PackBlock(int depthStart, int depth, int columnStart, int columns, float* destination)
        {
            int first = columnStart / 32, panels = (columns + 31) / 32;
            int* blocks = _plan.Blocks;
            int* taps = _taps + depthStart;
            for (int t = 0; t < panels; t++)
            {
                int b = first + t;
                int start = blocks[2 * b], end = blocks[2 * b + 2], kind = blocks[2 * b + 1];
                float* panel = destination + (long)t * depth * 32;
                // Run destinations are chunk columns: shifted so column 32b lands on the panel's first.
                float* rowBase = panel - 32 * b;
                if (kind == 32 && Vector512.IsHardwareAccelerated)
                {
                    // The most common block (a run of 32 within one output row): two loads and two stores
                    // a row, with nothing decided inside the loop.
                    float* from = _padded + _plan.Runs[start].Source;
                    for (int r = 0; r < depth; r++)
                    {
                        float* src = from + taps[r];
                        Vector512.Load(src).Store(panel + r * 32);
                        Vector512.Load(src + 16).Store(panel + r * 32 + 16);
                    }
                }
                else if (kind == -2)
                {
                    // Two runs (an output row ends inside the block): BlendRuns with its masks and offsets
                    // worked out once for all rows.
                    ColumnRun left = _plan.Runs[start], right = _plan.Runs[start + 1];
                    int at = right.Destination - left.Destination;
                    float* from0 = _padded + left.Source, from1 = _padded + right.Source - at;
                    var lowMask = Vector512.GreaterThanOrEqual(Vector512<int>.Indices, Vector512.Create(at)).AsSingle();
                    var highMask = Vector512.GreaterThanOrEqual(Vector512<int>.Indices + Vector512.Create(16), Vector512.Create(at)).AsSingle();
                    for (int r = 0; r < depth; r++)
                    {
                        int tap = taps[r];
                        float* d = panel + r * 32;
                        Vector512.ConditionalSelect(lowMask, Vector512.Load(from1 + tap), Vector512.Load(from0 + tap)).Store(d);
                        Vector512.ConditionalSelect(highMask, Vector512.Load(from1 + tap + 16), Vector512.Load(from0 + tap + 16)).Store(d + 16);
                    }
                }
                else
                {
                    for (int r = 0; r < depth; r++)
                        CopyBlock(_padded + taps[r], rowBase + r * 32, _plan.Runs, start, end, kind);
                }
                int used = _plan.Width - 32 * b;
                if (used < 32)
                {
                    // Columns past the chunk: multiplied, never stored; zeros rather than what the buffer held.
                    for (int r = 0; r < depth; r++)
                        ClearShort(panel + r * 32 + used, 32 - used);
                }
            }
        }
    }

    // The transposed im2col matrix (B(k, j) = element (row j, column k)) as Gemm.MultiplyFromSource's B,
    // for the weight gradient dW [O, CKK] += dY [O, width] · colsᵀ: each block the GEMM asks for (columns
    // k0 … k0 + depth of the chunk, rows j0 … j0 + columns of the matrix) is read from the padded copy
    // straight into the GEMM's panels, eight im2col rows at a time transposed in registers, so the
    // matrix is never written whole and the block is not first gathered row-major and then repacked.
    // One instance per thread; Set before each GEMM.
    private sealed unsafe class ConvColumnsTransposedSource : PaddedColumnsSource
    {
        public override void PackBlock(int depthStart, int depth, int columnStart, int columns, float* destination)
        {
            // Chunk columns depthStart … depthStart + depth − 1 are whole blocks of 32 (depthStart is a
            // multiple of 32 by IPackedBSource's contract, and the last block ends where the chunk does), so
            // they are exactly the runs of those blocks.
            System.Diagnostics.Debug.Assert(depthStart % 32 == 0, "a depth block starts on a block of 32 chunk columns");
            int* blocks = _plan.Blocks;
            int firstRun = blocks[2 * (depthStart / 32)];
            int endRun = blocks[2 * ((depthStart + depth + 31) / 32)];
            ColumnRun* runs = _plan.Runs;
            float** rows = stackalloc float*[8];
            for (int t = 0; t * 32 < columns; t++)
            {
                float* panel = destination + (long)t * depth * 32;
                for (int group = 0; group < 32; group += 8)
                {
                    int j = columnStart + t * 32 + group;
                    int present = Math.Clamp(columns - t * 32 - group, 0, 8);
                    float* target = panel + group;
                    if (present < 8)
                    {
                        // Past the matrix's last row: multiplied, never stored; zeros rather than what the buffer held.
                        for (int k = 0; k < depth; k++)
                            new Span<float>(target + k * 32 + present, 8 - present).Clear();
                    }
                    if (present == 0)
                        continue;
                    for (int i = 0; i < 8; i++)
                        rows[i] = _padded + _taps[j + Math.Min(i, present - 1)];
                    for (int k = firstRun; k < endRun; k++)
                    {
                        var run = runs[k];
                        Transpose8Rows(rows, run.Source, run.Length, target + (run.Destination - depthStart) * 32, present);
                    }
                }
            }
        }
    }

    // dst[q·32 + i] = rows[i][offset + q] for i < present (at most 8), q < count: eight source rows
    // become eight columns of a 32-wide panel, 8 × 8 blocks transposed in AVX registers (when all eight
    // rows are present), the rest one float at a time.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Transpose8Rows(float** rows, int offset, int count, float* dst, int present)
    {
        int q = 0;
        if (present == 8 && Avx.IsSupported)
        {
            float* s0 = rows[0] + offset, s1 = rows[1] + offset, s2 = rows[2] + offset, s3 = rows[3] + offset;
            float* s4 = rows[4] + offset, s5 = rows[5] + offset, s6 = rows[6] + offset, s7 = rows[7] + offset;
            for (; q + 8 <= count; q += 8)
            {
                var r0 = Avx.LoadVector256(s0 + q);
                var r1 = Avx.LoadVector256(s1 + q);
                var r2 = Avx.LoadVector256(s2 + q);
                var r3 = Avx.LoadVector256(s3 + q);
                var r4 = Avx.LoadVector256(s4 + q);
                var r5 = Avx.LoadVector256(s5 + q);
                var r6 = Avx.LoadVector256(s6 + q);
                var r7 = Avx.LoadVector256(s7 + q);
                Gemm.StoreTransposed8x8(r0, r1, r2, r3, r4, r5, r6, r7, dst + q * 32, 32);
            }
        }
        for (; q < count; q++)
        {
            float* d = dst + q * 32;
            for (int i = 0; i < present; i++)
                d[i] = rows[i][offset + q];
        }
    }

    // One row of one block: runs [start, end) read from src into row (their destinations are offsets in it).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void CopyBlock(float* src, float* row, ColumnRun* runs, int start, int end, int kind)
    {
        float* dst = row + runs[start].Destination;
        switch (kind)
        {
            case 32:
                Copy16(src + runs[start].Source, dst);
                Copy16(src + runs[start].Source + 16, dst + 16);
                break;
            case 16:
                Copy16(src + runs[start].Source, dst);
                Copy16(src + runs[start + 1].Source, dst + 16);
                break;
            case 8:
                Vector256.Load(src + runs[start].Source).Store(dst);
                Vector256.Load(src + runs[start + 1].Source).Store(dst + 8);
                Vector256.Load(src + runs[start + 2].Source).Store(dst + 16);
                Vector256.Load(src + runs[start + 3].Source).Store(dst + 24);
                break;
            case 4:
                Vector128.Load(src + runs[start].Source).Store(dst);
                Vector128.Load(src + runs[start + 1].Source).Store(dst + 4);
                Vector128.Load(src + runs[start + 2].Source).Store(dst + 8);
                Vector128.Load(src + runs[start + 3].Source).Store(dst + 12);
                Vector128.Load(src + runs[start + 4].Source).Store(dst + 16);
                Vector128.Load(src + runs[start + 5].Source).Store(dst + 20);
                Vector128.Load(src + runs[start + 6].Source).Store(dst + 24);
                Vector128.Load(src + runs[start + 7].Source).Store(dst + 28);
                break;
            case < 0:
                BlendRuns(src, dst, runs + start, end - start);
                break;
            default:
                for (int k = start; k < end; k++)
                {
                    var run = runs[k];
                    CopyUpTo32(src + run.Source, row + run.Destination, run.Length);
                }
                break;
        }
    }

    // dst[0..32) := a block filled by `count` runs (2 to 4) of unequal lengths, the first at dst: each run
    // is read as 32 floats from its source moved back by its place in the block, so its floats land where
    // they belong, and the later run wins from where it starts. Two stores and no branch on the lengths,
    // where copying run by run takes a masked load and store per run. Reads up to 31 floats before a
    // later run's source and past the first's end (the plan allows for both; see PaddedReadSlack).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void BlendRuns(float* src, float* dst, ColumnRun* runs, int count)
    {
        int first = runs[0].Destination;
        float* s0 = src + runs[0].Source;
        var low = Vector512.Load(s0);
        var high = Vector512.Load(s0 + 16);
        var lowIndex = Vector512<int>.Indices;
        var highIndex = lowIndex + Vector512.Create(16);
        for (int k = 1; k < count; k++)
        {
            int at = runs[k].Destination - first;
            float* sk = src + runs[k].Source - at;
            var from = Vector512.Create(at);
            if (at < 16)
                low = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(lowIndex, from).AsSingle(), Vector512.Load(sk), low);
            high = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(highIndex, from).AsSingle(), Vector512.Load(sk + 16), high);
        }
        low.Store(dst);
        high.Store(dst + 16);
    }

    // dst[0..count) = src[0..count) for count ≤ 32 (a run within one block): whole vectors of 16 and one
    // masked load and store for the rest, which touch nothing past count.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void CopyUpTo32(float* src, float* dst, int count)
    {
        if (!Avx512F.IsSupported)
        {
            CopyShort(src, dst, count);
            return;
        }
        if (count >= 16)
        {
            Vector512.Load(src).Store(dst);
            src += 16; dst += 16; count -= 16;
            if (count >= 16)
            {
                Vector512.Load(src).Store(dst);
                src += 16; dst += 16; count -= 16;
            }
        }
        if (count > 0)
        {
            var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
            Avx512F.MaskStore(dst, mask, Avx512F.MaskLoad(src, mask, Vector512<float>.Zero));
        }
    }

    // padded + tapOffsets[r] += the runs of row r of `columns` (row-major, a row every rowStep floats), for
    // r < rows: the adjoint of GatherColumns. Row after row (not block by block), so each input's sum
    // takes its taps in the same order whatever the chunk, and so the thread count. Runs all of one
    // length of 4, 8 or 16 (output rows that narrow) go through a loop of that one vector width.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ScatterAddColumns(float* columns, int rowStep, int* tapOffsets, int rows,
        in ColumnPlan plan, float* padded)
    {
        ColumnRun* runs = plan.Runs;
        int runCount = plan.RunCount;
        int length = runs[0].Length;
        for (int k = 1; k < runCount && length > 0; k++)
        {
            if (runs[k].Length != length)
                length = 0;
        }
        for (int r = 0; r < rows; r++)
        {
            float* dst = padded + tapOffsets[r];
            float* src = columns + (long)r * rowStep;
            switch (length)
            {
                case 16 when Vector512.IsHardwareAccelerated:
                    for (int k = 0; k < runCount; k++)
                    {
                        float* d = dst + runs[k].Source;
                        (Vector512.Load(d) + Vector512.Load(src + runs[k].Destination)).Store(d);
                    }
                    break;
                case 8:
                    for (int k = 0; k < runCount; k++)
                    {
                        float* d = dst + runs[k].Source;
                        (Vector256.Load(d) + Vector256.Load(src + runs[k].Destination)).Store(d);
                    }
                    break;
                case 4:
                    for (int k = 0; k < runCount; k++)
                    {
                        float* d = dst + runs[k].Source;
                        (Vector128.Load(d) + Vector128.Load(src + runs[k].Destination)).Store(d);
                    }
                    break;
                default:
                    for (int k = 0; k < runCount; k++)
                    {
                        var run = runs[k];
                        AddInto(dst + run.Source, src + run.Destination, run.Length);
                    }
                    break;
            }
        }
    }

    // dst[0..16) = src[0..16).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Copy16(float* src, float* dst)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512.Load(src).Store(dst);
            return;
        }
        Vector256.Load(src).Store(dst);
        Vector256.Load(src + 8).Store(dst + 8);
    }

    // dst[k] = src[k] for k < count, count small (at most an output row or a panel): whole vectors
    // of 16, 8 and 4, then single floats, with no call.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void CopyShort(float* src, float* dst, int count)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            for (; count >= 16; count -= 16, src += 16, dst += 16)
                Vector512.Load(src).Store(dst);
        }
        for (; count >= 8; count -= 8, src += 8, dst += 8)
            Vector256.Load(src).Store(dst);
        if (count >= 4)
        {
            Vector128.Load(src).Store(dst);
            count -= 4; src += 4; dst += 4;
        }
        for (; count > 0; count--)
            *dst++ = *src++;
    }
}
