using System.Numerics.Tensors;
using RobotRuntime.Tensors.Kernels;

namespace RobotRuntime.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Matrix product op(a)·op(b) of rank-2 tensors, where op transposes when the flag is set:
    /// op(a) is [M, K], op(b) is [K, N], the result [M, N]. Runs on up to
    /// <see cref="TensorEngine.ThreadCount"/> threads.
    /// </summary>
    /// <exception cref="ArgumentException">An input is not rank 2 or the inner dimensions differ.</exception>
    public static Tensor MatMul(Tensor a, Tensor b, bool transposeA = false, bool transposeB = false)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        Shapes.RequireRank(a, 2, nameof(a));
        Shapes.RequireRank(b, 2, nameof(b));
        var (m, k) = transposeA ? (a.Shape[1], a.Shape[0]) : (a.Shape[0], a.Shape[1]);
        var (kb, n) = transposeB ? (b.Shape[1], b.Shape[0]) : (b.Shape[0], b.Shape[1]);
        if (k != kb)
        {
            throw new ArgumentException(
                $"b has shape {b.ShapeString}{(transposeB ? " (transposed)" : "")} but its inner dimension must be {k} to match a of shape {a.ShapeString}{(transposeA ? " (transposed)" : "")}.", nameof(b));
        }
        var y = Tape.NewOutput([m, n]);
        MatMulCore(1, m, n, k, a, transposeA, b, transposeB, y);
        if (Tape.ShouldRecord(a, b))
        {
            Tape.Push(new MatMulNode(y, a, transposeA, b, transposeB, 1, m, n, k));
        }
        return y;
    }

    /// <summary>
    /// Batched matrix product of rank-3 tensors: y[i] = op(a[i])·op(b[i]) for each of the B
    /// batch entries; op(a[i]) is [M, K], op(b[i]) is [K, N], the result [B, M, N].
    /// </summary>
    /// <exception cref="ArgumentException">An input is not rank 3, the batch sizes differ or the inner dimensions differ.</exception>
    public static Tensor BatchedMatMul(Tensor a, Tensor b, bool transposeA = false, bool transposeB = false)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        Shapes.RequireRank(a, 3, nameof(a));
        Shapes.RequireRank(b, 3, nameof(b));
        int batch = a.Shape[0];
        if (b.Shape[0] != batch)
        {
            throw new ArgumentException($"b has shape {b.ShapeString} but a batch of {batch} (as a of shape {a.ShapeString}) was expected.", nameof(b));
        }
        var (m, k) = transposeA ? (a.Shape[2], a.Shape[1]) : (a.Shape[1], a.Shape[2]);
        var (kb, n) = transposeB ? (b.Shape[2], b.Shape[1]) : (b.Shape[1], b.Shape[2]);
        if (k != kb)
        {
            throw new ArgumentException(
                $"b has shape {b.ShapeString}{(transposeB ? " (transposed)" : "")} but its inner dimension must be {k} to match a of shape {a.ShapeString}{(transposeA ? " (transposed)" : "")}.", nameof(b));
        }
        var y = Tape.NewOutput([batch, m, n]);
        MatMulCore(batch, m, n, k, a, transposeA, b, transposeB, y);
        if (Tape.ShouldRecord(a, b))
        {
            Tape.Push(new MatMulNode(y, a, transposeA, b, transposeB, batch, m, n, k));
        }
        return y;
    }

    /// <summary>
    /// Fully connected layer y = x·Wᵀ + bias over the last dimension of <paramref name="x"/>
    /// ([..., in] → [..., out]); <paramref name="weight"/> is [out, in] (PyTorch's layout),
    /// <paramref name="bias"/> is [out] or null.
    /// </summary>
    /// <exception cref="ArgumentException">Shapes disagree.</exception>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        Shapes.RequireRank(weight, 2, nameof(weight));
        Shapes.RequireAtLeastRank(x, 1, nameof(x));
        int outFeatures = weight.Shape[0], inFeatures = weight.Shape[1];
        if (x.Shape[^1] != inFeatures)
        {
            throw new ArgumentException($"x has shape {x.ShapeString} but its last dimension must be {inFeatures} (weight is {weight.ShapeString}).", nameof(x));
        }
        if (bias is not null)
        {
            Shapes.RequireShape(bias, [outFeatures], nameof(bias));
        }
        var y = Tape.NewOutput(Shapes.WithLast(x, outFeatures));
        int rows = inFeatures == 0 ? 0 : x.Length / inFeatures;
        unsafe
        {
            fixed (float* px = x.Storage, pw = weight.Storage, py = y.Storage)
            {
                // y[r, o] = Σ_i x[r, i]·W[o, i]: B(i, o) = W[o·in + i].
                Gemm.Multiply(rows, outFeatures, inFeatures,
                    px + x.Offset, inFeatures, 1,
                    pw + weight.Offset, 1, inFeatures,
                    py + y.Offset, outFeatures, accumulate: false, TensorEngine.ThreadCount);
            }
        }
        if (bias is not null)
        {
            var ys = y.Span;
            var bs = bias.Span;
            for (int r = 0; r < rows; r++)
            {
                var row = ys.Slice(r * outFeatures, outFeatures);
                TensorPrimitives.Add(row, bs, row);
            }
        }
        if (Tape.ShouldRecord(x, weight, bias))
        {
            Tape.Push(new LinearNode(y, x, weight, bias, rows));
        }
        return y;
    }

    /// <summary>A logical matrix over raw storage: element (i, j) at offset i·Row + j·Col.</summary>
    private readonly record struct Strided(int Row, int Col)
    {
        public Strided Transposed => new(Col, Row);
    }

    // op(X) for a stored [r, c] matrix: row-major unless transposed.
    private static Strided Op(int storedCols, bool transposed) => transposed ? new Strided(1, storedCols) : new Strided(storedCols, 1);

    private static unsafe void MatMulCore(int batch, int m, int n, int k, Tensor a, bool ta, Tensor b, bool tb, Tensor y)
    {
        var sa = Op(a.Shape[^1], ta);
        var sb = Op(b.Shape[^1], tb);
        fixed (float* pa = a.Storage, pb = b.Storage, py = y.Storage)
        {
            for (int i = 0; i < batch; i++)
            {
                Gemm.Multiply(m, n, k,
                    pa + a.Offset + (long)i * m * k, sa.Row, sa.Col,
                    pb + b.Offset + (long)i * k * n, sb.Row, sb.Col,
                    py + y.Offset + (long)i * m * n, n, accumulate: false, TensorEngine.ThreadCount);
            }
        }
    }

    /// <summary>dest (+)= L·R, where dest is [rows, cols] stored row-major, or stored transposed ([cols, rows]) when <paramref name="destTransposed"/>.</summary>
    private static unsafe void GemmInto(float* dest, bool destTransposed, int rows, int cols, int depth, float* l, Strided ls, float* r, Strided rs)
    {
        if (destTransposed)
        {
            // destᵀ = Rᵀ·Lᵀ.
            Gemm.Multiply(cols, rows, depth, r, rs.Col, rs.Row, l, ls.Col, ls.Row, dest, rows, accumulate: true, TensorEngine.ThreadCount);
        }
        else
        {
            Gemm.Multiply(rows, cols, depth, l, ls.Row, ls.Col, r, rs.Row, rs.Col, dest, cols, accumulate: true, TensorEngine.ThreadCount);
        }
    }

    private sealed class MatMulNode(Tensor output, Tensor a, bool ta, Tensor b, bool tb, int batch, int m, int n, int k) : Node(output)
    {
        public override unsafe void Backward(Tape tape)
        {
            var g = Output.Grad!;
            var sa = Op(a.Shape[^1], ta);
            var sb = Op(b.Shape[^1], tb);
            var sg = new Strided(n, 1);
            fixed (float* pg = g.Storage, pa = a.Storage, pb = b.Storage)
            {
                if (a.RequiresGrad)
                {
                    var ga = tape.GradientOf(a);
                    fixed (float* pga = ga.Storage)
                    {
                        for (int i = 0; i < batch; i++)
                        {
                            // d op(a) = dY·op(b)ᵀ  ([m, n]·[n, k]).
                            GemmInto(pga + ga.Offset + (long)i * m * k, ta, m, k, n,
                                pg + g.Offset + (long)i * m * n, sg,
                                pb + b.Offset + (long)i * k * n, sb.Transposed);
                        }
                    }
                }
                if (b.RequiresGrad)
                {
                    var gb = tape.GradientOf(b);
                    fixed (float* pgb = gb.Storage)
                    {
                        for (int i = 0; i < batch; i++)
                        {
                            // d op(b) = op(a)ᵀ·dY  ([k, m]·[m, n]).
                            GemmInto(pgb + gb.Offset + (long)i * k * n, tb, k, n, m,
                                pa + a.Offset + (long)i * m * k, sa.Transposed,
                                pg + g.Offset + (long)i * m * n, sg);
                        }
                    }
                }
            }
        }
    }

    private sealed class LinearNode(Tensor output, Tensor x, Tensor weight, Tensor? bias, int rows) : Node(output)
    {
        public override unsafe void Backward(Tape tape)
        {
            var g = Output.Grad!;
            int outFeatures = weight.Shape[0], inFeatures = weight.Shape[1];
            fixed (float* pg = g.Storage, px = x.Storage, pw = weight.Storage)
            {
                float* gy = pg + g.Offset;
                if (x.RequiresGrad)
                {
                    var gx = tape.GradientOf(x);
                    fixed (float* pgx = gx.Storage)
                    {
                        // dx = dY·W  ([rows, out]·[out, in]).
                        Gemm.Multiply(rows, inFeatures, outFeatures, gy, outFeatures, 1, pw + weight.Offset, inFeatures, 1,
                            pgx + gx.Offset, inFeatures, accumulate: true, TensorEngine.ThreadCount);
                    }
                }
                if (weight.RequiresGrad)
                {
                    var gw = tape.GradientOf(weight);
                    fixed (float* pgw = gw.Storage)
                    {
                        // dW = dYᵀ·x  ([out, rows]·[rows, in]).
                        Gemm.Multiply(outFeatures, inFeatures, rows, gy, 1, outFeatures, px + x.Offset, inFeatures, 1,
                            pgw + gw.Offset, inFeatures, accumulate: true, TensorEngine.ThreadCount);
                    }
                }
            }
            if (bias is not null && bias.RequiresGrad)
            {
                var gb = tape.GradientOf(bias).Span;
                var gs = g.Span;
                for (int r = 0; r < rows; r++)
                {
                    TensorPrimitives.Add(gb, gs.Slice(r * outFeatures, outFeatures), gb);
                }
            }
        }
    }
}
