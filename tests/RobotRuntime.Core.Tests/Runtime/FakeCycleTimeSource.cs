using RobotRuntime.Runtime;

namespace RobotRuntime.Core.Tests.Runtime;

/// <summary>
/// A clock that moves only when told: sleeps advance it by the request plus an oversleep, spins by a
/// step, <see cref="Work"/> by what a test says the work took. One thread advances it (the loop's, or
/// the test's); any thread may read it (the encode stage's does).
/// </summary>
internal sealed class FakeCycleTimeSource(long startNs = 5_000_000_000, long oversleepNs = 0, long spinStepNs = 1_000) : ICycleTimeSource
{
    private long _now = startNs;

    public long NowNanoseconds => Volatile.Read(ref _now);

    public long OversleepNs { get; set; } = oversleepNs;

    public int Sleeps { get; private set; }

    public long LastSleepNs { get; private set; }

    public int Spins { get; private set; }

    /// <summary>
    /// Called on the advancing thread after every advance, before the advancing call returns: lets a
    /// test's other threads (a camera, the encode stage) catch up with the new time before the loop
    /// reads it. Must not allocate (the loop's allocation tests run through it).
    /// </summary>
    public Action? Advanced { get; set; }

    public void Sleep(long nanoseconds)
    {
        Sleeps++;
        LastSleepNs = nanoseconds;
        Advance(nanoseconds + OversleepNs);
    }

    public void SpinOnce()
    {
        Spins++;
        Advance(spinStepNs);
    }

    /// <summary>Pretends the cycle's work took <paramref name="nanoseconds"/>.</summary>
    public void Work(long nanoseconds) => Advance(nanoseconds);

    private void Advance(long nanoseconds)
    {
        Interlocked.Add(ref _now, nanoseconds);
        Advanced?.Invoke();
    }
}
