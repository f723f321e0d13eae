using RobotRuntime.Runtime;

namespace RobotRuntime.Core.Tests.Runtime;

/// <summary>A clock that moves only when told: sleeps advance it by the request plus an oversleep, spins by a step.</summary>
internal sealed class FakeCycleTimeSource(long startNs = 5_000_000_000, long oversleepNs = 0, long spinStepNs = 1_000) : ICycleTimeSource
{
    public long NowNanoseconds { get; private set; } = startNs;

    public long OversleepNs { get; set; } = oversleepNs;

    public int Sleeps { get; private set; }

    public long LastSleepNs { get; private set; }

    public int Spins { get; private set; }

    public void Sleep(long nanoseconds)
    {
        Sleeps++;
        LastSleepNs = nanoseconds;
        NowNanoseconds += nanoseconds + OversleepNs;
    }

    public void SpinOnce()
    {
        Spins++;
        NowNanoseconds += spinStepNs;
    }

    /// <summary>Pretends the cycle's work took <paramref name="nanoseconds"/>.</summary>
    public void Work(long nanoseconds) => NowNanoseconds += nanoseconds;
}
