using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RobotRuntime.Tensors.Kernels;

/// <summary>Which register-blocked micro-kernel a GEMM call uses.</summary>
internal enum GemmKernel
{
    /// <summary>Picked from the hardware: Vector512 when accelerated, else Vector256, else scalar.</summary>
    Auto,

    /// <summary>8 rows × 32 columns with Vector512 FMA (16 accumulators).</summary>
    Vector512Rows8Columns32,

    /// <summary>6 rows × 16 columns with Vector256 FMA (12 accumulators).</summary>
    Vector256Rows6Columns16,

    /// <summary>4 × 4 scalar, the portable fallback.</summary>
    ScalarRows4Columns4,
}

/// <summary>
/// Packs blocks of a GEMM's B operand on demand for <see cref="Gemm.MultiplyFromSource"/>.
/// </summary>
internal unsafe interface IPackedBSource
{
    /// <summary>
    /// Writes B(k, j) for depthStart ≤ k &lt; depthStart + depth and columnStart ≤ j &lt; columnStart + columns
    /// into <paramref name="destination"/> as panels of <see cref="Gemm.PackedBPanelColumns"/> columns:
    /// panel t (columns columnStart + 32t …) at destination + t·depth·32, element (k, l) at k·32 + l.
    /// columnStart is a multiple of 32, and so is depthStart (<see cref="Gemm.DepthBlock"/> blocks the depth
    /// in multiples of 32); columns of the last panel past `columns` must be written too
    /// (any finite value; they are multiplied but never stored). Called from several threads at once,
    /// each with its own destination.
    /// </summary>
    void PackBlock(int depthStart, int depth, int columnStart, int columns, float* destination);
}

/// <summary>
/// Single-precision general matrix multiply C (+)= A·B over strided operands: packed A and B
/// blocks sized for the caches (GotoBLAS loop order), a register-blocked FMA micro-kernel, and
/// the rows or columns of C split over the worker threads.
/// </summary>
internal static unsafe class Gemm
{
    private const int KcBlock = 256;

    // The depth of each block for a depth of k: as few blocks as KcBlock allows, of equal depth rounded
    // up to a multiple of 32, so a depth just past a multiple of KcBlock (576 = 256 + 256 + 64, a 3 × 3
    // convolution over 64 channels) is not left a thin last block whose C tile is loaded and stored
    // for little work (576 → 3 × 192). A multiple of 32 keeps every block's start on an im2col source's
    // 32-column blocks.
    internal static int DepthBlock(int k)
    {
        int blocks = Math.Max(1, (k + KcBlock - 1) / KcBlock);
        return Math.Min(KcBlock, ((k + blocks - 1) / blocks + 31) / 32 * 32);
    }
    private const int McPanels = 16;
    private const int NcBlock = 2048;

    // Columns of a packed B block when C has at most SmallRows rows (in one part): each B panel is then
    // used by few row tiles, so the block is sized to stay in L2 (256 × 256 floats, 256 KB) rather than
    // be read back from L3 (a 2048-column block is 2 MB). Measured on this project's 2-core EPYC host
    // (Zen 5, 1 MB L2): 64 × 576 × 2048 went from 128–137 to 165–169 GF/s, 32 × 576 × 1024 from 99–107
    // to 140–157; shapes with 256 rows or more changed within noise. Taller C keeps NcBlock, where the
    // repacking of A per block would cost more than L2 residency gains.
    private const int NcBlockFewRows = 256;
    private const int SmallRows = 512;
    private const long ParallelThresholdMultiplyAdds = 1L << 20;

    // Floats of A packed whole (all depth blocks) at most: 1 MB.
    private const long PackAOnceFloats = 1L << 18;

    [ThreadStatic] private static GemmJob? t_job;
    [ThreadStatic] private static PackBuffers? t_buffers;

    /// <summary>The kernel <see cref="GemmKernel.Auto"/> resolves to on this machine.</summary>
    public static GemmKernel HardwareKernel { get; } =
        Vector512.IsHardwareAccelerated ? GemmKernel.Vector512Rows8Columns32
        : Vector256.IsHardwareAccelerated ? GemmKernel.Vector256Rows6Columns16
        : GemmKernel.ScalarRows4Columns4;

    /// <summary>
    /// C[i, j] (+)= Σ_k A(i, k)·B(k, j) for i &lt; m, j &lt; n, k &lt; depth, where
    /// A(i, k) = a[i·aRowStride + k·aColStride], B(k, j) = b[k·bRowStride + j·bColStride] and
    /// C[i, j] = c[i·ldc + j]. Without <paramref name="accumulate"/>, C is overwritten.
    /// </summary>
    public static void Multiply(
        int m, int n, int depth,
        float* a, int aRowStride, int aColStride,
        float* b, int bRowStride, int bColStride,
        float* c, int ldc, bool accumulate,
        int threads, GemmKernel kernel = GemmKernel.Auto)
    {
        if (m <= 0 || n <= 0)
        {
            return;
        }
        if (kernel == GemmKernel.Auto)
        {
            kernel = HardwareKernel;
        }
        var job = t_job ??= new GemmJob();
        job.M = m; job.N = n; job.K = depth;
        job.A = a; job.ARow = aRowStride; job.ACol = aColStride;
        job.B = b; job.BRow = bRowStride; job.BCol = bColStride; job.PackedB = null; job.Source = null;
        job.C = c; job.Ldc = ldc; job.Accumulate = accumulate; job.Kernel = kernel;
        (job.Mr, job.Nr) = TileOf(kernel);
        job.SplitRows = m >= n;
        long work = (long)m * n * Math.Max(depth, 1);
        int parts = work < ParallelThresholdMultiplyAdds ? 1 : Math.Max(1, threads);
        int splitUnits = job.SplitRows ? (m + job.Mr - 1) / job.Mr : (n + job.Nr - 1) / job.Nr;
        parts = Math.Min(parts, splitUnits);
        if (parts <= 1)
        {
            job.Run(0, 1);
        }
        else
        {
            WorkerPool.Shared.Run(job, parts);
        }
    }

    /// <summary>
    /// Columns per panel of a B operand packed by the caller for <see cref="MultiplyPackedB"/>, or 0 when
    /// this machine's kernel does not take one (no Vector512): the caller then packs nothing and calls
    /// <see cref="Multiply"/>.
    /// </summary>
    public static int PackedBPanelColumns { get; } = HardwareKernel == GemmKernel.Vector512Rows8Columns32 ? 32 : 0;

    /// <summary>
    /// C[i, j] (+)= Σ_k A(i, k)·B(k, j) as <see cref="Multiply"/>, with B already packed by the caller:
    /// panels of <see cref="PackedBPanelColumns"/> columns, panel p at <paramref name="packedB"/> +
    /// p·depth·PackedBPanelColumns, each k-major (B(k, p·PackedBPanelColumns + l) at offset
    /// k·PackedBPanelColumns + l); columns past n in the last panel are read but never stored. The
    /// same dot products in the same order as <see cref="Multiply"/>, so the result is bit for bit
    /// the same. Saves the pass that packs B when the caller can write it packed in the first place
    /// (a convolution's im2col).
    /// </summary>
    /// <remarks>
    /// Two options serve a convolution writing its output in place. <paramref name="rowBias"/> (m floats,
    /// overwriting only) adds rowBias[i] to row i of C, into the registers of the first depth block, so C
    /// is written once. <paramref name="columnSegment"/> &gt; 0 (a multiple of <see cref="PackedBPanelColumns"/>)
    /// lays C out in segments of that many columns, segment k starting at c + k·<paramref name="segmentStride"/>
    /// with rows ldc apart: column j of row i at c + (j / columnSegment)·segmentStride + i·ldc + j mod
    /// columnSegment (samples side by side in B, each sample's [rows, columns] block where it belongs).
    /// </remarks>
    /// <exception cref="InvalidOperationException">This machine's kernel takes no packed B (<see cref="PackedBPanelColumns"/> is 0).</exception>
    /// <exception cref="ArgumentException">A row bias with accumulate, or a column segment that is not a multiple of the panel width.</exception>
    public static void MultiplyPackedB(
        int m, int n, int depth,
        float* a, int aRowStride, int aColStride,
        float* packedB,
        float* c, int ldc, bool accumulate,
        int threads,
        float* rowBias = null, int columnSegment = 0, long segmentStride = 0) =>
        MultiplyPanels(m, n, depth, a, aRowStride, aColStride, packedB, null, c, ldc, accumulate, threads, rowBias, columnSegment, segmentStride);

    /// <summary>
    /// C (+)= A·B as <see cref="MultiplyPackedB"/> (same options, same result bit for bit), with B never
    /// stored whole: <paramref name="source"/> packs each block of B the GEMM is about to use, depth
    /// rows × up to a cache block of columns, into a per-thread buffer that stays in cache. A
    /// convolution gathers its im2col columns this way straight from the input (an implicit GEMM)
    /// instead of writing the whole im2col matrix to memory and reading it back.
    /// </summary>
    /// <exception cref="InvalidOperationException">This machine's kernel takes no packed B (<see cref="PackedBPanelColumns"/> is 0).</exception>
    /// <exception cref="ArgumentException">As <see cref="MultiplyPackedB"/>.</exception>
    public static void MultiplyFromSource(
        int m, int n, int depth,
        float* a, int aRowStride, int aColStride,
        IPackedBSource source,
        float* c, int ldc, bool accumulate,
        int threads,
        float* rowBias = null, int columnSegment = 0, long segmentStride = 0)
    {
        ArgumentNullException.ThrowIfNull(source);
        MultiplyPanels(m, n, depth, a, aRowStride, aColStride, null, source, c, ldc, accumulate, threads, rowBias, columnSegment, segmentStride);
    }

    private static void MultiplyPanels(
        int m, int n, int depth,
        float* a, int aRowStride, int aColStride,
        float* packedB, IPackedBSource? source,
        float* c, int ldc, bool accumulate,
        int threads,
        float* rowBias, int columnSegment, long segmentStride)
    {
        if (rowBias is not null && accumulate)
        {
            throw new ArgumentException("a row bias is added only when C is overwritten, not accumulated into", nameof(rowBias));
        }
        if (columnSegment < 0 || columnSegment % 32 != 0)
        {
            throw new ArgumentException($"the column segment must be a multiple of 32 (the panel width), got {columnSegment}", nameof(columnSegment));
        }
        if ((rowBias is not null || columnSegment > 0) && depth <= 0)
        {
            throw new ArgumentException($"a row bias or column segments need a depth of at least 1, got {depth}", nameof(depth));
        }
        if (PackedBPanelColumns == 0)
        {
            throw new InvalidOperationException("MultiplyPackedB needs the Vector512 kernel; this machine has none (PackedBPanelColumns is 0).");
        }
        if (m <= 0 || n <= 0)
        {
            return;
        }
        var job = t_job ??= new GemmJob();
        job.M = m; job.N = n; job.K = depth;
        job.A = a; job.ARow = aRowStride; job.ACol = aColStride;
        job.B = null; job.BRow = 0; job.BCol = 0; job.PackedB = packedB; job.Source = source;
        job.C = c; job.Ldc = ldc; job.Accumulate = accumulate; job.Kernel = GemmKernel.Vector512Rows8Columns32;
        job.RowBias = rowBias; job.Segment = columnSegment; job.SegmentStride = segmentStride;
        (job.Mr, job.Nr) = TileOf(job.Kernel);
        job.SplitRows = m >= n;
        long work = (long)m * n * Math.Max(depth, 1);
        int parts = work < ParallelThresholdMultiplyAdds ? 1 : Math.Max(1, threads);
        int splitUnits = job.SplitRows ? (m + job.Mr - 1) / job.Mr : (n + job.Nr - 1) / job.Nr;
        parts = Math.Min(parts, splitUnits);
        try
        {
            if (parts <= 1)
            {
                job.Run(0, 1);
            }
            else
            {
                WorkerPool.Shared.Run(job, parts);
            }
        }
        finally
        {
            job.PackedB = null;
            job.Source = null;
            job.RowBias = null;
            job.Segment = 0;
        }
    }

    internal static (int Mr, int Nr) TileOf(GemmKernel kernel) => kernel switch
    {
        GemmKernel.Vector512Rows8Columns32 => (8, 32),
        GemmKernel.Vector256Rows6Columns16 => (6, 16),
        _ => (4, 4),
    };

    private sealed class GemmJob : IParallelWork
    {
        public int M, N, K, ARow, ACol, BRow, BCol, Ldc, Mr, Nr;
        public float* A, B, C;
        // Set only by MultiplyPackedB: B packed by the caller in full-depth panels of Nr columns, a bias
        // per row of C, and C in segments of Segment columns SegmentStride floats apart (0: plain).
        public float* PackedB, RowBias;
        // Set only by MultiplyFromSource: packs each block of B on demand.
        public IPackedBSource? Source;
        public int Segment;
        public long SegmentStride;
        public bool Accumulate, SplitRows;
        public GemmKernel Kernel;

        public void Run(int part, int parts)
        {
            int rowStart = 0, rowCount = M, colStart = 0, colCount = N;
            if (SplitRows)
            {
                (rowStart, rowCount) = Split(M, Mr, part, parts);
            }
            else
            {
                (colStart, colCount) = Split(N, Nr, part, parts);
            }
            if (rowCount <= 0 || colCount <= 0)
            {
                return;
            }
            var buffers = t_buffers ??= new PackBuffers();
            Compute(rowStart, rowCount, colStart, colCount, buffers);
        }

        private static (int Start, int Count) Split(int total, int unit, int part, int parts)
        {
            int units = (total + unit - 1) / unit;
            int perPart = units / parts, extra = units % parts;
            int startUnit = part * perPart + Math.Min(part, extra);
            int myUnits = perPart + (part < extra ? 1 : 0);
            int start = startUnit * unit;
            int count = Math.Min(total - start, myUnits * unit);
            return (start, count);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Compute(int rowStart, int rowCount, int colStart, int colCount, PackBuffers buffers)
        {
            float* c0 = C + (long)rowStart * Ldc + colStart;
            if (!Accumulate && K <= 0)
            {
                for (int i = 0; i < rowCount; i++)
                {
                    new Span<float>(c0 + (long)i * Ldc, colCount).Clear();
                }
            }
            if (K <= 0)
            {
                return;
            }
            float* overwriteBias = RowBias is null ? null : RowBias + rowStart;
            int mc = Mr * McPanels;
            int ncBlock = rowCount <= SmallRows ? NcBlockFewRows : NcBlock;
            // When all of this part's rows fit one row block and several column blocks follow one another,
            // A is packed once for every depth block up front (it would be packed again for each column
            // block otherwise), as long as that stays within 1 MB.
            int packedRows = (rowCount + Mr - 1) / Mr * Mr;
            bool packAOnce = rowCount <= mc && colCount > ncBlock && (long)packedRows * K <= PackAOnceFloats;
            int kcBlock = DepthBlock(K);
            float* packA = buffers.A(packAOnce ? packedRows * K : mc * kcBlock);
            float* packB = PackedB is null ? buffers.B(kcBlock * (ncBlock + Nr)) : null;
            if (packAOnce)
            {
                for (int pc = 0; pc < K; pc += kcBlock)
                {
                    PackA(rowCount, Math.Min(kcBlock, K - pc), A + (long)rowStart * ARow + (long)pc * ACol, ARow, ACol, Mr, packA + (long)pc * packedRows);
                }
            }
            for (int jc = 0; jc < colCount; jc += ncBlock)
            {
                int nc = Math.Min(ncBlock, colCount - jc);
                for (int pc = 0; pc < K; pc += kcBlock)
                {
                    int kc = Math.Min(kcBlock, K - pc);
                    if (Source is not null)
                    {
                        Source.PackBlock(pc, kc, colStart + jc, nc, packB);
                    }
                    else if (PackedB is null)
                    {
                        PackB(kc, nc, B + (long)pc * BRow + (long)(colStart + jc) * BCol, BRow, BCol, Nr, packB);
                    }
                    for (int ic = 0; ic < rowCount; ic += mc)
                    {
                        int mcCur = Math.Min(mc, rowCount - ic);
                        float* packedA = packA;
                        if (packAOnce)
                        {
                            packedA = packA + (long)pc * packedRows;
                        }
                        else
                        {
                            PackA(mcCur, kc, A + (long)(rowStart + ic) * ARow + (long)pc * ACol, ARow, ACol, Mr, packA);
                        }
                        for (int jr = 0; jr < nc; jr += Nr)
                        {
                            int nr = Math.Min(Nr, nc - jr);
                            float* pb = PackedB is null
                                ? packB + (long)jr * kc
                                : PackedB + (long)((colStart + jc + jr) / Nr) * K * Nr + (long)pc * Nr;
                            for (int ir = 0; ir < mcCur; ir += Mr)
                            {
                                int mr = Math.Min(Mr, mcCur - ir);
                                float* pa = packedA + (long)ir * kc;
                                int column = colStart + jc + jr;
                                float* cTile = Segment == 0
                                    ? c0 + (long)(ic + ir) * Ldc + jc + jr
                                    : C + column / Segment * SegmentStride + (long)(rowStart + ic + ir) * Ldc + column % Segment;
                                float* bias = overwriteBias is null ? null : overwriteBias + ic + ir;
                                // The first depth block of an overwriting multiply stores its tile
                                // instead of adding it, so C is never cleared beforehand.
                                bool overwrite = pc == 0 && !Accumulate;
                                if (!overwrite)
                                    bias = null;
                                switch (Kernel)
                                {
                                    case GemmKernel.Vector512Rows8Columns32:
                                        Kernel8x32(kc, pa, pb, cTile, Ldc, mr, nr, overwrite, bias);
                                        break;
                                    case GemmKernel.Vector256Rows6Columns16:
                                        Kernel6x16(kc, pa, pb, cTile, Ldc, mr, nr, overwrite);
                                        break;
                                    default:
                                        Kernel4x4(kc, pa, pb, cTile, Ldc, mr, nr, overwrite);
                                        break;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// dst[p·dstStride + r] = src[r·srcStride + p] for r &lt; 8, p &lt; count: eight source rows
    /// become eight destination columns, 8×8 blocks transposed in AVX registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose8(float* src, long srcStride, float* dst, int dstStride, int count)
    {
        int p = 0;
        for (; p + 8 <= count; p += 8)
        {
            float* s = src + p;
            var r0 = Avx.LoadVector256(s);
            var r1 = Avx.LoadVector256(s + srcStride);
            var r2 = Avx.LoadVector256(s + 2 * srcStride);
            var r3 = Avx.LoadVector256(s + 3 * srcStride);
            var r4 = Avx.LoadVector256(s + 4 * srcStride);
            var r5 = Avx.LoadVector256(s + 5 * srcStride);
            var r6 = Avx.LoadVector256(s + 6 * srcStride);
            var r7 = Avx.LoadVector256(s + 7 * srcStride);
            StoreTransposed8x8(r0, r1, r2, r3, r4, r5, r6, r7, dst + (long)p * dstStride, dstStride);
        }
        for (; p < count; p++)
        {
            float* d = dst + (long)p * dstStride;
            for (int r = 0; r < 8; r++)
            {
                d[r] = src[r * srcStride + p];
            }
        }
    }

    /// <summary>
    /// Stores the 8 × 8 block whose rows are r0 … r7 transposed: row i of the result (column i of the
    /// block) at d + i·dstStride. Eight unpacks, eight shuffles and eight lane permutes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StoreTransposed8x8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* d, long dstStride)
    {
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + dstStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + 2 * dstStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + 3 * dstStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + 4 * dstStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + 5 * dstStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + 6 * dstStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + 7 * dstStride, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>Packs an mc×kc block of A into panels of <paramref name="mr"/> rows, k-major, zero-padding the last panel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(int mc, int kc, float* a, int rowStride, int colStride, int mr, float* dst)
    {
        for (int i = 0; i < mc; i += mr)
        {
            int rows = Math.Min(mr, mc - i);
            float* panel = dst + (long)i * kc;
            if (colStride == 1 && rows == 8 && mr == 8 && Avx.IsSupported)
            {
                // Eight contiguous rows become eight panel columns: 8×8 register transposes.
                Transpose8(a + (long)i * rowStride, rowStride, panel, 8, kc);
            }
            else if (colStride != 1 && rowStride == 1 && rows == 8 && mr == 8)
            {
                // Transposed A: the panel's eight rows are contiguous in memory at each k.
                for (int p = 0; p < kc; p++)
                {
                    Vector256.Load(a + (long)p * colStride + i).Store(panel + p * 8);
                }
            }
            else if (colStride == 1)
            {
                // Rows are contiguous: read each row once, scatter into the panel.
                for (int r = 0; r < rows; r++)
                {
                    float* src = a + (long)(i + r) * rowStride;
                    for (int p = 0; p < kc; p++)
                    {
                        panel[p * mr + r] = src[p];
                    }
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = a + (long)p * colStride + (long)i * rowStride;
                    float* d = panel + p * mr;
                    for (int r = 0; r < rows; r++)
                    {
                        d[r] = src[(long)r * rowStride];
                    }
                }
            }
            if (rows < mr)
            {
                for (int p = 0; p < kc; p++)
                {
                    for (int r = rows; r < mr; r++)
                    {
                        panel[p * mr + r] = 0f;
                    }
                }
            }
        }
    }

    /// <summary>Packs a kc×nc block of B into panels of <paramref name="nr"/> columns, k-major, zero-padding the last panel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(int kc, int nc, float* b, int rowStride, int colStride, int nr, float* dst)
    {
        int start = 0;
        if (colStride == 1 && nr == 32 && Vector512.IsHardwareAccelerated)
        {
            // Row-major B: read each row once, front to back (the prefetcher follows), and deal its
            // 32-column pieces out to the full panels; a panel-at-a-time walk reads 128 bytes per
            // row at a stride of the row length, which measured several times slower.
            int full = nc / 32 * 32;
            for (int p = 0; p < kc; p++)
            {
                float* src = b + (long)p * rowStride;
                float* d = dst + p * 32;
                for (int j = 0; j < full; j += 32)
                {
                    Vector512.Load(src + j).Store(d + (long)j * kc);
                    Vector512.Load(src + j + 16).Store(d + (long)j * kc + 16);
                }
            }
            start = full;
        }
        for (int j = start; j < nc; j += nr)
        {
            int cols = Math.Min(nr, nc - j);
            float* panel = dst + (long)j * kc;
            if (colStride == 1)
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = b + (long)p * rowStride + j;
                    float* d = panel + p * nr;
                    if (cols == nr)
                    {
                        new ReadOnlySpan<float>(src, nr).CopyTo(new Span<float>(d, nr));
                    }
                    else
                    {
                        int cIndex = 0;
                        for (; cIndex < cols; cIndex++)
                        {
                            d[cIndex] = src[cIndex];
                        }
                        for (; cIndex < nr; cIndex++)
                        {
                            d[cIndex] = 0f;
                        }
                    }
                }
            }
            else if (rowStride == 1 && nr % 8 == 0 && Avx.IsSupported)
            {
                // Columns of B are contiguous rows of the stored (transposed) matrix: transpose them
                // eight at a time into the panel; a last panel's leftover columns one by one, and zeros
                // past them (a convolution's weight gradient with CKK = 27 packs 27 of 32 columns).
                if (cols < nr)
                {
                    new Span<float>(panel, kc * nr).Clear();
                }
                int g = 0;
                for (; g + 8 <= cols; g += 8)
                {
                    Transpose8(b + (long)(j + g) * colStride, colStride, panel + g, nr, kc);
                }
                for (; g < cols; g++)
                {
                    float* src = b + (long)(j + g) * colStride;
                    for (int p = 0; p < kc; p++)
                    {
                        panel[p * nr + g] = src[p];
                    }
                }
            }
            else
            {
                if (cols < nr)
                {
                    new Span<float>(panel, kc * nr).Clear();
                }
                // Columns of B are rows of the stored (transposed) matrix when the row stride is 1.
                for (int cIndex = 0; cIndex < cols; cIndex++)
                {
                    float* src = b + (long)(j + cIndex) * colStride;
                    for (int p = 0; p < kc; p++)
                    {
                        panel[p * nr + cIndex] = src[(long)p * rowStride];
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x32(int kc, float* pa, float* pb, float* c, int ldc, int mr, int nr, bool overwrite, float* bias)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(pb);
            var b1 = Vector512.Load(pb + 16);
            var a = Vector512.Create(pa[0]);
            c00 = Vector512.FusedMultiplyAdd(a, b0, c00); c01 = Vector512.FusedMultiplyAdd(a, b1, c01);
            a = Vector512.Create(pa[1]);
            c10 = Vector512.FusedMultiplyAdd(a, b0, c10); c11 = Vector512.FusedMultiplyAdd(a, b1, c11);
            a = Vector512.Create(pa[2]);
            c20 = Vector512.FusedMultiplyAdd(a, b0, c20); c21 = Vector512.FusedMultiplyAdd(a, b1, c21);
            a = Vector512.Create(pa[3]);
            c30 = Vector512.FusedMultiplyAdd(a, b0, c30); c31 = Vector512.FusedMultiplyAdd(a, b1, c31);
            a = Vector512.Create(pa[4]);
            c40 = Vector512.FusedMultiplyAdd(a, b0, c40); c41 = Vector512.FusedMultiplyAdd(a, b1, c41);
            a = Vector512.Create(pa[5]);
            c50 = Vector512.FusedMultiplyAdd(a, b0, c50); c51 = Vector512.FusedMultiplyAdd(a, b1, c51);
            a = Vector512.Create(pa[6]);
            c60 = Vector512.FusedMultiplyAdd(a, b0, c60); c61 = Vector512.FusedMultiplyAdd(a, b1, c61);
            a = Vector512.Create(pa[7]);
            c70 = Vector512.FusedMultiplyAdd(a, b0, c70); c71 = Vector512.FusedMultiplyAdd(a, b1, c71);
            pa += 8;
            pb += 32;
        }
        if (bias is not null)
        {
            // Rows past mr (a partial tile) are computed but never stored; their bias is the last row's.
            var b = Vector512.Create(bias[0]); c00 += b; c01 += b;
            b = Vector512.Create(bias[Math.Min(1, mr - 1)]); c10 += b; c11 += b;
            b = Vector512.Create(bias[Math.Min(2, mr - 1)]); c20 += b; c21 += b;
            b = Vector512.Create(bias[Math.Min(3, mr - 1)]); c30 += b; c31 += b;
            b = Vector512.Create(bias[Math.Min(4, mr - 1)]); c40 += b; c41 += b;
            b = Vector512.Create(bias[Math.Min(5, mr - 1)]); c50 += b; c51 += b;
            b = Vector512.Create(bias[Math.Min(6, mr - 1)]); c60 += b; c61 += b;
            b = Vector512.Create(bias[Math.Min(7, mr - 1)]); c70 += b; c71 += b;
        }
        if (mr == 8 && nr == 32)
        {
            AddRow512(c, c00, c01, overwrite); AddRow512(c + ldc, c10, c11, overwrite);
            AddRow512(c + 2 * ldc, c20, c21, overwrite); AddRow512(c + 3 * ldc, c30, c31, overwrite);
            AddRow512(c + 4 * ldc, c40, c41, overwrite); AddRow512(c + 5 * ldc, c50, c51, overwrite);
            AddRow512(c + 6 * ldc, c60, c61, overwrite); AddRow512(c + 7 * ldc, c70, c71, overwrite);
            return;
        }
        float* tile = stackalloc float[8 * 32];
        c00.Store(tile); c01.Store(tile + 16); c10.Store(tile + 32); c11.Store(tile + 48);
        c20.Store(tile + 64); c21.Store(tile + 80); c30.Store(tile + 96); c31.Store(tile + 112);
        c40.Store(tile + 128); c41.Store(tile + 144); c50.Store(tile + 160); c51.Store(tile + 176);
        c60.Store(tile + 192); c61.Store(tile + 208); c70.Store(tile + 224); c71.Store(tile + 240);
        AddPartial(tile, 32, c, ldc, mr, nr, overwrite);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow512(float* c, Vector512<float> v0, Vector512<float> v1, bool overwrite)
    {
        if (overwrite)
        {
            v0.Store(c);
            v1.Store(c + 16);
            return;
        }
        (Vector512.Load(c) + v0).Store(c);
        (Vector512.Load(c + 16) + v1).Store(c + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16(int kc, float* pa, float* pb, float* c, int ldc, int mr, int nr, bool overwrite)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector256<float> c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(pb);
            var b1 = Vector256.Load(pb + 8);
            var a = Vector256.Create(pa[0]);
            c00 = Vector256.FusedMultiplyAdd(a, b0, c00); c01 = Vector256.FusedMultiplyAdd(a, b1, c01);
            a = Vector256.Create(pa[1]);
            c10 = Vector256.FusedMultiplyAdd(a, b0, c10); c11 = Vector256.FusedMultiplyAdd(a, b1, c11);
            a = Vector256.Create(pa[2]);
            c20 = Vector256.FusedMultiplyAdd(a, b0, c20); c21 = Vector256.FusedMultiplyAdd(a, b1, c21);
            a = Vector256.Create(pa[3]);
            c30 = Vector256.FusedMultiplyAdd(a, b0, c30); c31 = Vector256.FusedMultiplyAdd(a, b1, c31);
            a = Vector256.Create(pa[4]);
            c40 = Vector256.FusedMultiplyAdd(a, b0, c40); c41 = Vector256.FusedMultiplyAdd(a, b1, c41);
            a = Vector256.Create(pa[5]);
            c50 = Vector256.FusedMultiplyAdd(a, b0, c50); c51 = Vector256.FusedMultiplyAdd(a, b1, c51);
            pa += 6;
            pb += 16;
        }
        float* tile = stackalloc float[6 * 16];
        c00.Store(tile); c01.Store(tile + 8); c10.Store(tile + 16); c11.Store(tile + 24);
        c20.Store(tile + 32); c21.Store(tile + 40); c30.Store(tile + 48); c31.Store(tile + 56);
        c40.Store(tile + 64); c41.Store(tile + 72); c50.Store(tile + 80); c51.Store(tile + 88);
        AddPartial(tile, 16, c, ldc, mr, nr, overwrite);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel4x4(int kc, float* pa, float* pb, float* c, int ldc, int mr, int nr, bool overwrite)
    {
        float* tile = stackalloc float[16];
        new Span<float>(tile, 16).Clear();
        for (int p = 0; p < kc; p++)
        {
            for (int r = 0; r < 4; r++)
            {
                float av = pa[r];
                tile[r * 4] = MathF.FusedMultiplyAdd(av, pb[0], tile[r * 4]);
                tile[r * 4 + 1] = MathF.FusedMultiplyAdd(av, pb[1], tile[r * 4 + 1]);
                tile[r * 4 + 2] = MathF.FusedMultiplyAdd(av, pb[2], tile[r * 4 + 2]);
                tile[r * 4 + 3] = MathF.FusedMultiplyAdd(av, pb[3], tile[r * 4 + 3]);
            }
            pa += 4;
            pb += 4;
        }
        AddPartial(tile, 4, c, ldc, mr, nr, overwrite);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddPartial(float* tile, int tileStride, float* c, int ldc, int mr, int nr, bool overwrite)
    {
        if (overwrite)
        {
            for (int r = 0; r < mr; r++)
            {
                new ReadOnlySpan<float>(tile + r * tileStride, nr).CopyTo(new Span<float>(c + (long)r * ldc, nr));
            }
            return;
        }
        for (int r = 0; r < mr; r++)
        {
            float* row = c + (long)r * ldc;
            float* t = tile + r * tileStride;
            for (int j = 0; j < nr; j++)
            {
                row[j] += t[j];
            }
        }
    }

    /// <summary>Per-thread packing buffers, 64-byte aligned, grown on demand and kept for the thread's life.</summary>
    private sealed class PackBuffers
    {
        private float* _a;
        private float* _b;
        private nuint _aLength;
        private nuint _bLength;

        public float* A(int length) => Ensure(ref _a, ref _aLength, length);

        public float* B(int length) => Ensure(ref _b, ref _bLength, length);

        ~PackBuffers()
        {
            NativeMemory.AlignedFree(_a);
            NativeMemory.AlignedFree(_b);
        }

        private static float* Ensure(ref float* buffer, ref nuint current, int length)
        {
            if ((nuint)length > current)
            {
                if (buffer is not null)
                {
                    NativeMemory.AlignedFree(buffer);
                }
                buffer = (float*)NativeMemory.AlignedAlloc((nuint)length * sizeof(float), 64);
                current = (nuint)length;
            }
            return buffer;
        }
    }
}
