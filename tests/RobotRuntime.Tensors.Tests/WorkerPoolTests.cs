using RobotRuntime.Tensors.Kernels;

namespace RobotRuntime.Tensors.Tests;

/// <summary>
/// The worker pool's hand-off: workers poll for a window after each part, then block; a dispatch
/// must reach a worker in either state, and no part may be lost or run twice. Each test uses its
/// own pool so that other tests' multiplies do not disturb the counts.
/// </summary>
public class WorkerPoolTests
{
    [Fact]
    public void BackToBackRunsInsideThePollingWindowNeverBlockTheWorker()
    {
        var pool = new WorkerPool(1, () => 2_000_000);
        var work = new CountingWork(2);
        RunGuarded(() =>
        {
            for (int i = 0; i < 300; i++)
            {
                pool.Run(work, 2);
            }
        });
        Assert.Equal(300, work.Runs[0]);
        Assert.Equal(300, work.Runs[1]);
        Assert.True(work.OnOtherThread, "part 1 ran on the calling thread");
        // With a 2 s window the worker polls between back-to-back runs and never sleeps; one wake-up
        // is allowed in case the worker had gone to sleep before the first run.
        Assert.InRange(pool.Wakeups, 0, 1);
    }

    [Fact]
    public void WithoutAPollingWindowTheWorkerSleepsAndEveryRunStillWakesIt()
    {
        var pool = new WorkerPool(1, () => 0);
        var work = new CountingWork(2);
        RunGuarded(() =>
        {
            for (int i = 0; i < 40; i++)
            {
                pool.Run(work, 2);
                Thread.Sleep(2);
            }
        });
        Assert.Equal(40, work.Runs[1]);
        // The worker blocks at once after each part, so (nearly) every run has to wake it.
        Assert.True(pool.Wakeups >= 20, $"the worker was woken {pool.Wakeups} times in 40 runs");
    }

    [Fact]
    public void RunsRacingTheWorkersDecisionToSleepAreNeitherLostNorDoubled()
    {
        // Windows of 0–30 µs and pauses of 0–40 µs put dispatches right at the moment the worker
        // announces it is going to sleep (the race the sleep flag exists for). A lost wake-up would
        // hang Run, which the guard turns into a failure.
        var random = new Random(7);
        long window = 0;
        var pool = new WorkerPool(1, () => Volatile.Read(ref window));
        var work = new CountingWork(2);
        RunGuarded(() =>
        {
            for (int i = 0; i < 3000; i++)
            {
                Volatile.Write(ref window, random.Next(0, 31));
                pool.Run(work, 2);
                var until = System.Diagnostics.Stopwatch.GetTimestamp() + random.Next(0, 41) * System.Diagnostics.Stopwatch.Frequency / 1_000_000;
                while (System.Diagnostics.Stopwatch.GetTimestamp() < until)
                {
                    Thread.SpinWait(10);
                }
            }
        });
        Assert.Equal(3000, work.Runs[0]);
        Assert.Equal(3000, work.Runs[1]);
    }

    [Fact]
    public void WithFewerPartsThanWorkersEachPartRunsExactlyOnce()
    {
        // Three workers, runs alternating between 2 and 4 parts: the workers left out of a 2-part
        // run must run nothing in it and their own part of each 4-part run exactly once. (The pool
        // reads a run's number and part count as one value; the narrow race that guards against —
        // an idle worker pairing one run's number with the next run's count — is too short to be
        // hit reliably here, so this checks the counting, not that race.)
        var pool = new WorkerPool(3, () => 50);
        var work = new CountingWork(4);
        int expectedExtra = 0;
        RunGuarded(() =>
        {
            for (int i = 0; i < 4000; i++)
            {
                int parts = i % 2 == 0 ? 2 : 4;
                pool.Run(work, parts);
                expectedExtra += parts == 4 ? 1 : 0;
            }
        });
        Assert.Equal(4000, work.Runs[0]);
        Assert.Equal(4000, work.Runs[1]);
        Assert.Equal(expectedExtra, work.Runs[2]);
        Assert.Equal(expectedExtra, work.Runs[3]);
    }

    [Fact]
    public void AWorkerFailureReachesTheCallerAndThePoolKeepsWorking()
    {
        var pool = new WorkerPool(1, () => 1000);
        var failing = new FailingWork();
        var error = Assert.Throws<AggregateException>(() => pool.Run(failing, 2));
        Assert.IsType<InvalidOperationException>(error.InnerException);
        var work = new CountingWork(2);
        RunGuarded(() => pool.Run(work, 2));
        Assert.Equal(1, work.Runs[1]);
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(TensorEngine.MaxWorkerSpinMicroseconds + 1)]
    public void APollingWindowOutsideZeroToOneSecondIsRefusedNamingTheRange(long value)
    {
        long saved = TensorEngine.WorkerSpinMicroseconds;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TensorEngine.WorkerSpinMicroseconds = value);
        Assert.Contains("between 0 and 1000000", e.Message);
        Assert.Equal(saved, TensorEngine.WorkerSpinMicroseconds);
    }

    private static void RunGuarded(Action action)
    {
        var task = Task.Run(action);
        Assert.True(task.Wait(TimeSpan.FromSeconds(60)), "the pool stopped answering (a lost wake-up)");
    }

    private sealed class CountingWork(int parts) : IParallelWork
    {
        private readonly int[] _threads = new int[parts];
        public int[] Runs { get; } = new int[parts];

        /// <summary>Whether, in the last run, parts 0 and 1 ran on different threads.</summary>
        public bool OnOtherThread => _threads[0] != _threads[1];

        public void Run(int part, int count)
        {
            Interlocked.Increment(ref Runs[part]);
            _threads[part] = Environment.CurrentManagedThreadId;
        }
    }

    private sealed class FailingWork : IParallelWork
    {
        public void Run(int part, int parts)
        {
            if (part == 1)
            {
                throw new InvalidOperationException("part 1 fails");
            }
        }
    }
}
