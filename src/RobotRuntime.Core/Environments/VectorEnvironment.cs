namespace RobotRuntime.Environments;

/// <summary>
/// Several environments stepped together, each created and used on its own worker thread (so
/// each simulator keeps its GL context on one thread) and stepped in parallel.
/// </summary>
/// <remarks>
/// Thread: one caller thread at a time. Results: <see cref="Reset"/> and <see cref="Step"/> fill
/// caller-provided spans; observations inside belong to their environment and are overwritten by
/// its next call. Auto-reset ("next step" style): after an environment's episode ends, the next
/// <see cref="Step"/> resets it with the next seed of its sequence (its reset seed + Count × episodes
/// so far) instead of stepping, and returns the new first observation with reward 0, not done.
/// Determinism: each environment's results depend only on its seeds and actions, not on timing.
/// </remarks>
public sealed class VectorEnvironment : IDisposable
{
    private readonly Worker[] _workers;
    private bool _disposed;

    /// <summary>Starts one worker thread per factory and builds each environment on its thread.</summary>
    /// <param name="factories">One factory per environment; every environment must have the same <see cref="EnvironmentSpec.Action"/> dimension.</param>
    /// <exception cref="ArgumentException">No factories, or the environments' action dimensions differ.</exception>
    /// <exception cref="AggregateException">A factory threw; the inner exceptions say why.</exception>
    public VectorEnvironment(IReadOnlyList<Func<IEnvironment>> factories)
    {
        ArgumentNullException.ThrowIfNull(factories);
        if (factories.Count == 0)
            throw new ArgumentException("a vector environment needs at least one environment factory", nameof(factories));
        _workers = new Worker[factories.Count];
        for (var i = 0; i < factories.Count; i++)
            _workers[i] = new Worker(i, factories[i]);
        Run(worker => worker.Create());
        Spec = _workers[0].Environment!.Spec;
        foreach (var worker in _workers)
        {
            if (worker.Environment!.Spec.Action.Dimension != Spec.Action.Dimension)
            {
                Dispose();
                throw new ArgumentException($"environment {worker.Index} takes {worker.Environment.Spec.Action.Dimension} action values, environment 0 takes {Spec.Action.Dimension}", nameof(factories));
            }
        }
    }

    /// <summary>Number of environments.</summary>
    public int Count => _workers.Length;

    /// <summary>The first environment's spec (all share its action dimension).</summary>
    public EnvironmentSpec Spec { get; }

    /// <summary>Resets environment i with seed <paramref name="seed"/> + i and writes its first observation to <paramref name="observations"/>[i].</summary>
    /// <remarks>Blocks until every environment has reset.</remarks>
    public void Reset(int seed, Span<Observation> observations)
    {
        CheckLength(observations.Length, nameof(observations));
        Run(worker => worker.Reset(seed + worker.Index, Count));
        for (var i = 0; i < Count; i++)
            observations[i] = _workers[i].Last.Observation;
    }

    /// <summary>Steps every environment with its row of <paramref name="actions"/> (Count × action dimension, row-major).</summary>
    /// <param name="actions">Count × <see cref="ActionSpace.Dimension"/> values.</param>
    /// <param name="results">Receives one result per environment.</param>
    /// <exception cref="ArgumentException">Wrong lengths.</exception>
    /// <exception cref="AggregateException">An environment threw; the inner exceptions say which and why.</exception>
    /// <remarks>Blocks until every environment has stepped.</remarks>
    public void Step(ReadOnlySpan<float> actions, Span<StepResult> results)
    {
        var dimension = Spec.Action.Dimension;
        if (actions.Length != Count * dimension)
            throw new ArgumentException($"actions has {actions.Length} values; expected {Count} environments × {dimension} = {Count * dimension}", nameof(actions));
        CheckLength(results.Length, nameof(results));
        for (var i = 0; i < Count; i++)
            actions.Slice(i * dimension, dimension).CopyTo(_workers[i].Action(dimension));
        Run(worker => worker.Step());
        for (var i = 0; i < Count; i++)
            results[i] = _workers[i].Last;
    }

    private void CheckLength(int length, string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (length != Count)
            throw new ArgumentException($"{name} has room for {length} environments; this vector environment has {Count}", name);
    }

    private void Run(Action<Worker> work)
    {
        foreach (var worker in _workers)
            worker.Post(work);
        List<Exception>? failures = null;
        foreach (var worker in _workers)
        {
            var failure = worker.Wait();
            if (failure is not null)
                (failures ??= []).Add(new InvalidOperationException($"environment {worker.Index} failed: {failure.Message}", failure));
        }
        if (failures is not null)
            throw new AggregateException(failures);
    }

    /// <summary>Disposes every environment on its own thread and stops the workers.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (var worker in _workers)
            worker.Stop();
    }

    private sealed class Worker
    {
        private readonly Func<IEnvironment> _factory;
        private readonly Thread _thread;
        private readonly SemaphoreSlim _start = new(0);
        private readonly SemaphoreSlim _done = new(0);
        private Action<Worker>? _work;
        private Exception? _failure;
        private bool _stopping;
        private float[] _action = [];
        private int _nextSeed;
        private int _seedStride;
        private bool _needsReset;

        public Worker(int index, Func<IEnvironment> factory)
        {
            Index = index;
            _factory = factory;
            _thread = new Thread(Loop) { IsBackground = true, Name = $"environment {index}" };
            _thread.Start();
        }

        public int Index { get; }

        public IEnvironment? Environment { get; private set; }

        public StepResult Last { get; private set; }

        public Span<float> Action(int dimension)
        {
            if (_action.Length != dimension)
                _action = new float[dimension];
            return _action;
        }

        public void Create() => Environment = _factory();

        public void Reset(int seed, int stride)
        {
            _nextSeed = seed + stride;
            _seedStride = stride;
            Last = new StepResult(Environment!.Reset(seed), 0, false, false, default);
            _needsReset = false;
        }

        public void Step()
        {
            if (_needsReset)
            {
                var seed = _nextSeed;
                _nextSeed += _seedStride;
                Last = new StepResult(Environment!.Reset(seed), 0, false, false, default);
                _needsReset = false;
                return;
            }
            Last = Environment!.Step(_action);
            _needsReset = Last.Done;
        }

        public void Post(Action<Worker> work)
        {
            _work = work;
            _failure = null;
            _start.Release();
        }

        public Exception? Wait()
        {
            _done.Wait();
            return _failure;
        }

        public void Stop()
        {
            _stopping = true;
            _start.Release();
            _thread.Join();
        }

        private void Loop()
        {
            while (true)
            {
                _start.Wait();
                if (_stopping)
                {
                    Environment?.Dispose();
                    return;
                }
                try
                {
                    _work!(this);
                }
                catch (Exception exception)
                {
                    _failure = exception;
                }
                _done.Release();
            }
        }
    }
}
