using System.Numerics.Tensors;

namespace RobotRuntime.Tensors.Optim;

/// <summary>Gradient-norm clipping over a set of parameters (TD-MPC2 clips at 20).</summary>
public static class GradientClipping
{
    /// <summary>
    /// Computes the global L2 norm of the gradients of the trainable parameters and, when it exceeds
    /// <paramref name="maxNorm"/>, scales every gradient by maxNorm / (norm + 1e-6) (as
    /// torch.nn.utils.clip_grad_norm_). Returns the norm before clipping.
    /// </summary>
    /// <remarks>Real-time: no allocation when given an array or list.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">maxNorm is not positive.</exception>
    public static float ClipByGlobalNorm(IReadOnlyList<Parameter> parameters, float maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0f))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be positive.");
        }
        double sumSquares = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            if (!p.Frozen && p.Grad is { } g)
            {
                sumSquares += TensorPrimitives.SumOfSquares(g.Span);
            }
        }
        float norm = (float)Math.Sqrt(sumSquares);
        float coefficient = maxNorm / (norm + 1e-6f);
        if (coefficient < 1f)
        {
            for (int i = 0; i < parameters.Count; i++)
            {
                var p = parameters[i];
                if (!p.Frozen && p.Grad is { } g)
                {
                    TensorPrimitives.Multiply(g.Span, coefficient, g.Span);
                }
            }
        }
        return norm;
    }
}
