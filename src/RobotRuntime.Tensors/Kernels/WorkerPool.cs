using System.Diagnostics;

namespace RobotRuntime.Tensors.Kernels;

/// <summary>Work split into numbered parts; part i of n runs on one thread.</summary>
internal interface IParallelWork
{
    void Run(int part, int parts);
}

/// <summary>
/// A fixed set of background threads that run the parts of one <see cref="IParallelWork"/> at a
/// time, with the calling thread running part 0. Dispatch allocates nothing. When the pool is
/// busy with another caller, the work runs on the calling thread alone.
/// </summary>
/// <remarks>
/// A worker that has finished a part keeps polling for the next one for a window
/// (<see cref="TensorEngine.WorkerSpinMicroseconds"/> for the shared pool) before it blocks. A training step issues
/// dozens of multiplies a few hundred microseconds apart; waking a blocked thread costs tens of
/// microseconds to milliseconds on a virtual machine, and the caller, having finished its own
/// part, waits for the late one. Polling costs the worker's core for that window only.
/// </remarks>
internal sealed class WorkerPool
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _wake;
    private readonly int[] _sleeping;
    private readonly object _gate = new();
    private IParallelWork? _work;
    private int _pending;

    // The dispatch ticket: (dispatch number << 8) | parts, published in one write so that a worker
    // reads a dispatch's number and its part count together (with separate fields, an idle worker
    // could pair one dispatch's number with the next one's count and run a part twice).
    private long _ticket;
    private long _wakeups;
    private Exception? _failure;

    private readonly Func<long> _spinMicroseconds;

    /// <summary>A pool of <paramref name="workers"/> threads whose polling window is read from <paramref name="spinMicroseconds"/> each time a worker goes idle.</summary>
    internal WorkerPool(int workers, Func<long> spinMicroseconds)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(workers, MaxWorkers);
        _spinMicroseconds = spinMicroseconds;
        _threads = new Thread[workers];
        _wake = new SemaphoreSlim[workers];
        _sleeping = new int[workers];
        for (int i = 0; i < workers; i++)
        {
            _wake[i] = new SemaphoreSlim(0);
            int index = i + 1;
            _threads[i] = new Thread(() => Loop(index)) { IsBackground = true, Name = $"tensor-worker-{index}" };
            _threads[i].Start();
        }
    }

    /// <summary>The pool shared by all kernels: one worker fewer than the processor count.</summary>
    public static WorkerPool Shared { get; } = new(Math.Clamp(Environment.ProcessorCount - 1, 0, MaxWorkers), () => TensorEngine.WorkerSpinMicroseconds);

    /// <summary>The most workers a pool holds (a part count must fit the ticket's low byte).</summary>
    public const int MaxWorkers = 254;

    /// <summary>The most parts a call can run at once (workers + the caller).</summary>
    public int MaxParts => _threads.Length + 1;

    /// <summary>How many times a worker has blocked and then been woken, since the pool started.</summary>
    public long Wakeups => Interlocked.Read(ref _wakeups);

    /// <summary>Runs parts 0..parts-1 of <paramref name="work"/>, returning when all are done.</summary>
    public void Run(IParallelWork work, int parts)
    {
        parts = Math.Min(parts, MaxParts);
        if (parts <= 1 || !Monitor.TryEnter(_gate))
        {
            for (int p = 0; p < parts; p++)
            {
                work.Run(p, Math.Max(parts, 1));
            }
            return;
        }
        try
        {
            _work = work;
            _failure = null;
            Volatile.Write(ref _pending, parts - 1);
            // A full fence: a worker that sees the new ticket sees the work and the pending count.
            Interlocked.Exchange(ref _ticket, ((_ticket >> 8) + 1) << 8 | (long)parts);
            for (int i = 0; i < parts - 1; i++)
            {
                // A worker that announced it is going to sleep gets a wake-up; one still polling
                // sees the new ticket by itself.
                if (Interlocked.Exchange(ref _sleeping[i], 0) == 1)
                {
                    _wake[i].Release();
                }
            }
            work.Run(0, parts);
            var spin = new SpinWait();
            while (Volatile.Read(ref _pending) != 0)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
            _work = null;
            if (_failure is { } failure)
            {
                throw new AggregateException("A tensor worker thread failed.", failure);
            }
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    private void Loop(int index)
    {
        long seen = 0;
        while (true)
        {
            seen = WaitForTicket(index - 1, seen);
            int parts = (int)(seen & 0xFF);
            if (index >= parts)
            {
                continue;
            }
            try
            {
                _work!.Run(index, parts);
            }
            catch (Exception e)
            {
                _failure = e;
            }
            Interlocked.Decrement(ref _pending);
        }
    }

    /// <summary>Polls for a ticket other than <paramref name="seen"/>, then blocks; returns the new ticket.</summary>
    private long WaitForTicket(int worker, long seen)
    {
        long spinTicks = _spinMicroseconds() * Stopwatch.Frequency / 1_000_000;
        long deadline = Stopwatch.GetTimestamp() + spinTicks;
        int polls = 0;
        while (true)
        {
            long ticket = Volatile.Read(ref _ticket);
            if (ticket != seen)
            {
                return ticket;
            }
            if ((++polls & 63) != 0)
            {
                Thread.SpinWait(8);
                continue;
            }
            if (Stopwatch.GetTimestamp() < deadline)
            {
                continue;
            }
            // Announce the sleep (full fence), then look once more: the dispatcher either sees the
            // flag and wakes us, or we see its new ticket here.
            Interlocked.Exchange(ref _sleeping[worker], 1);
            ticket = Volatile.Read(ref _ticket);
            if (ticket != seen)
            {
                if (Interlocked.Exchange(ref _sleeping[worker], 0) == 0)
                {
                    // The dispatcher took the flag and released the semaphore: consume that release.
                    _wake[worker].Wait();
                }
                return ticket;
            }
            _wake[worker].Wait();
            Interlocked.Increment(ref _wakeups);
            deadline = Stopwatch.GetTimestamp() + spinTicks;
        }
    }
}
