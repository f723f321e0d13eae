using System.Diagnostics;

namespace RobotRuntime.Timing;

/// <summary>
/// The runtime's one time base: a monotonic clock in nanoseconds (never jumps with wall-clock
/// changes). Frame capture stamps, frame ages and cycle deadlines are all on it.
/// </summary>
/// <remarks>Real-time: no allocation, no blocking, no throw; any thread.</remarks>
public static class MonotonicClock
{
    private static readonly double NanosecondsPerTick = 1e9 / Stopwatch.Frequency;

    /// <summary>Nanoseconds since an arbitrary fixed origin (the same for the whole process).</summary>
    public static long NowNanoseconds => (long)(Stopwatch.GetTimestamp() * NanosecondsPerTick);
}
