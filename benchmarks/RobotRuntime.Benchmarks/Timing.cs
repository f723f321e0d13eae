using System.Diagnostics;

namespace RobotRuntime.Benchmarks;

/// <summary>Wall-clock medians for the side-by-side benchmark verbs.</summary>
internal static class Timing
{
    /// <summary>Median wall time, in seconds, of <paramref name="repetitions"/> calls after <paramref name="warmups"/> untimed ones.</summary>
    public static double MedianSeconds(int repetitions, Action action, int warmups = 0)
    {
        for (int i = 0; i < warmups; i++)
        {
            action();
        }
        var times = new double[repetitions];
        for (int i = 0; i < repetitions; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(times);
        return times[repetitions / 2];
    }
}
