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

    private static long s_workerSpinMicroseconds = 5000;

    /// <summary>The longest polling window <see cref="WorkerSpinMicroseconds"/> accepts: one second.</summary>
    public const long MaxWorkerSpinMicroseconds = 1_000_000;

    /// <summary>
    /// How long a worker thread that has finished its part of a multiply keeps polling for the
    /// next before it blocks, in microseconds (default 5,000; 0 blocks at once). A training step
    /// or a plan issues dozens of multiplies with elementwise work between them; on a virtual
    /// machine a blocked worker is woken late and then runs slowly (measured: a 2-thread training
    /// step of 64–75 ms when workers block at once, 40–50 ms with 5 ms of polling, against 60 ms
    /// on one thread). Polling costs the worker's core for up to this long after each multiply.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative or above one second.</exception>
    public static long WorkerSpinMicroseconds
    {
        get => Volatile.Read(ref s_workerSpinMicroseconds);
        set
        {
            if (value is < 0 or > MaxWorkerSpinMicroseconds)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, $"WorkerSpinMicroseconds must be between 0 and {MaxWorkerSpinMicroseconds} (one second).");
            }
            Volatile.Write(ref s_workerSpinMicroseconds, value);
        }
    }
}
