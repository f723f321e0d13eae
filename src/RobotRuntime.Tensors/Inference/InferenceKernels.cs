using System.Numerics.Tensors;
using RobotRuntime.Tensors.Kernels;

namespace RobotRuntime.Tensors.Inference;

/// <summary>
/// Span-in, span-out forms of the engine's kernels for inference paths that must not allocate
/// (planners in the control loop): no tape, no tensors created, results written into the caller's
/// buffers.
/// </summary>
/// <remarks>Real-time: no allocation once each calling thread has run a call (the GEMM's packing
/// buffers are per thread), no blocking beyond the shared worker pool when <c>threads</c> &gt; 1.</remarks>
public static unsafe class InferenceKernels
{
    /// <summary>
    /// y = x·Wᵀ + bias for <paramref name="rows"/> rows: x is [rows, in] row-major, <paramref name="weight"/>
    /// is [out, in] (PyTorch's layout), <paramref name="bias"/> is [out] or null, y is [rows, out].
    /// </summary>
    /// <param name="x">Input rows, at least rows × in floats.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="weight">The layer's weight, [out, in].</param>
    /// <param name="bias">The layer's bias, [out], or null.</param>
    /// <param name="y">Output, at least rows × out floats; overwritten.</param>
    /// <param name="threads">Threads the GEMM may use (1 keeps it on the calling thread).</param>
    /// <exception cref="ArgumentException">A buffer is too short or the weight is not rank 2.</exception>
    public static void Linear(ReadOnlySpan<float> x, int rows, Tensor weight, Tensor? bias, Span<float> y, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2)
        {
            throw new ArgumentException($"weight has shape {weight.ShapeString} but a rank-2 [out, in] tensor was expected.", nameof(weight));
        }
        int outFeatures = weight.Shape[0], inFeatures = weight.Shape[1];
        if (x.Length < rows * inFeatures || y.Length < rows * outFeatures)
        {
            throw new ArgumentException($"x holds {x.Length} and y {y.Length} floats but {rows} rows of weight {weight.ShapeString} need {rows * inFeatures} and {rows * outFeatures}.", nameof(x));
        }
        if (bias is not null && bias.Length != outFeatures)
        {
            throw new ArgumentException($"bias has shape {bias.ShapeString} but [{outFeatures}] was expected.", nameof(bias));
        }
        fixed (float* px = x, pw = weight.Span, py = y)
        {
            Gemm.Multiply(rows, outFeatures, inFeatures,
                px, inFeatures, 1,
                pw, 1, inFeatures,
                py, outFeatures, accumulate: false, Math.Max(1, threads));
        }
        if (bias is not null)
        {
            var b = bias.Span;
            for (int r = 0; r < rows; r++)
            {
                var row = y.Slice(r * outFeatures, outFeatures);
                TensorPrimitives.Add(row, b, row);
            }
        }
    }
}
