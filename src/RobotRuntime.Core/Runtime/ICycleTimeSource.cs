using RobotRuntime.Timing;

namespace RobotRuntime.Runtime;

/// <summary>
/// The clock and the waiting primitives the control loop runs on: the cycle scheduler's ticks and
/// sleeps, and every timestamp the loop and its encode stage take (stage timings, frame ages,
/// deadlines). The real ones (<see cref="SystemCycleTimeSource"/>) or a fake clock in tests, so
/// schedules and ages are deterministic. Camera frames are judged against this clock, so the
/// cameras must stamp them on it (<see cref="MonotonicClock"/> for the real source).
/// </summary>
/// <remarks>Real-time: implementations neither allocate nor throw. <see cref="NowNanoseconds"/> is read
/// by the loop's thread and the encode stage's thread; <see cref="Sleep"/> and <see cref="SpinOnce"/>
/// are called by the loop's thread only.</remarks>
public interface ICycleTimeSource
{
    /// <summary>Now, in nanoseconds on a monotonic clock (<see cref="MonotonicClock"/> for the real source).</summary>
    long NowNanoseconds { get; }

    /// <summary>Blocks the thread for about <paramref name="nanoseconds"/> (&gt; 0); may oversleep by the OS's timer slack.</summary>
    void Sleep(long nanoseconds);

    /// <summary>Busy-waits a very short moment (well under a microsecond to a few microseconds).</summary>
    void SpinOnce();
}

/// <summary>The real time source: <see cref="MonotonicClock"/>, <see cref="Thread.Sleep(TimeSpan)"/> and <see cref="Thread.SpinWait"/>.</summary>
public sealed class SystemCycleTimeSource : ICycleTimeSource
{
    /// <summary>The one instance (it has no state).</summary>
    public static SystemCycleTimeSource Instance { get; } = new();

    private SystemCycleTimeSource() { }

    /// <inheritdoc/>
    public long NowNanoseconds => MonotonicClock.NowNanoseconds;

    /// <inheritdoc/>
    public void Sleep(long nanoseconds)
    {
        if (nanoseconds > 0) Thread.Sleep(TimeSpan.FromTicks(Math.Max(1, nanoseconds / 100)));
    }

    /// <inheritdoc/>
    public void SpinOnce() => Thread.SpinWait(20);
}
