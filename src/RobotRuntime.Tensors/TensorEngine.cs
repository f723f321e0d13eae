namespace RobotRuntime.Tensors;

/// <summary>Process-wide settings of the tensor engine.</summary>
public static class TensorEngine
{
    private static int s_threadCount = Environment.ProcessorCount;

    /// <summary>
    /// How many threads a large matrix multiply may use (the caller plus workers), between 1 and
    /// the processor count. Defaults to the processor count.
    /// </summary>
    /// <remarks>Setup only: set it before the loop that uses the engine starts.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1.</exception>
    public static int ThreadCount
    {
        get => s_threadCount;
        set
        {
            if (value < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "ThreadCount must be at least 1.");
            }
            s_threadCount = Math.Min(value, Environment.ProcessorCount);
        }
    }
}
