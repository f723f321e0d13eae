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
internal sealed class WorkerPool
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _start;
    private readonly object _gate = new();
    private IParallelWork? _work;
    private int _parts;
    private int _pending;
    private Exception? _failure;

    private WorkerPool(int workers)
    {
        _threads = new Thread[workers];
        _start = new SemaphoreSlim[workers];
        for (int i = 0; i < workers; i++)
        {
            _start[i] = new SemaphoreSlim(0);
            int index = i + 1;
            _threads[i] = new Thread(() => Loop(index)) { IsBackground = true, Name = $"tensor-worker-{index}" };
            _threads[i].Start();
        }
    }

    /// <summary>The pool shared by all kernels: one worker fewer than the processor count.</summary>
    public static WorkerPool Shared { get; } = new(Math.Max(0, Environment.ProcessorCount - 1));

    /// <summary>The most parts a call can run at once (workers + the caller).</summary>
    public int MaxParts => _threads.Length + 1;

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
            _parts = parts;
            _failure = null;
            Volatile.Write(ref _pending, parts - 1);
            for (int i = 0; i < parts - 1; i++)
            {
                _start[i].Release();
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
        while (true)
        {
            _start[index - 1].Wait();
            try
            {
                _work!.Run(index, _parts);
            }
            catch (Exception e)
            {
                _failure = e;
            }
            Interlocked.Decrement(ref _pending);
        }
    }
}
