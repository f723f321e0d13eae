namespace RobotRuntime.Vision.Tests;

/// <summary>
/// A producer thread for the cameras a test feeds: calls its action with 1, 2, 3… every 10 ms from
/// <see cref="Begin"/> until <see cref="End"/>, or until its stop condition holds.
/// </summary>
internal sealed class FrameFeed(Action<long> produce, Func<bool>? stopWhen = null) : IDisposable
{
    private Thread? _thread;
    private volatile bool _stop;

    public void Begin()
    {
        if (_thread is not null)
            return;
        _thread = new Thread(() =>
        {
            long n = 0;
            while (!_stop && !(stopWhen?.Invoke() ?? false))
            {
                produce(++n);
                Thread.Sleep(10);
            }
        }) { IsBackground = true, Name = "contract feed" };
        _thread.Start();
    }

    public void End()
    {
        _stop = true;
        _thread?.Join();
    }

    public void Dispose() => End();
}
