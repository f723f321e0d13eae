using System.Runtime.ExceptionServices;

namespace RobotRuntime.SimServer;

/// <summary>
/// A <see cref="SimServer"/> running on its own thread in this process: for tests, benchmarks and
/// tools that want the simulator beside them. Disposing stops it and waits for its thread.
/// </summary>
public sealed class SimServerHost : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private Exception? _failure;

    private SimServerHost(SimServer server)
    {
        Server = server;
        _thread = new Thread(() =>
        {
            try
            {
                server.Run(_stop.Token);
            }
            catch (Exception error)
            {
                _failure = error;
            }
        })
        { IsBackground = true, Name = "sim-server" };
    }

    /// <summary>The server.</summary>
    public SimServer Server { get; }

    /// <summary>Where the server is bound.</summary>
    public SimServerEndpoints Endpoints => Server.Endpoints!;

    /// <summary>
    /// The in-process arm link of a server started with <see cref="ArmTransport.InProcess"/>: attached, not yet
    /// handshaken (call <see cref="RobotRuntime.Arm.IArmLink.Handshake"/>). One at a time; disposing it lets
    /// another connect. It outlives the host harmlessly: once the server stops, its requests time out at
    /// once and it reports the link lost after its link timeout.
    /// </summary>
    /// <param name="settings">Link timeout, command lifetime and the rest; null: the defaults.</param>
    /// <exception cref="InvalidOperationException">The server binds arm sockets instead, or a link is attached already.</exception>
    /// <remarks>Setup only; any thread.</remarks>
    public InProcessArmLink ConnectInProcess(InProcessArmLinkSettings? settings = null) => Server.ConnectInProcess(settings);

    /// <summary>Starts a server and waits until it is bound.</summary>
    /// <exception cref="ArgumentException">Bad options, or an endpoint could not be bound.</exception>
    /// <exception cref="TimeoutException">The server was not ready within <paramref name="readyTimeout"/>.</exception>
    public static SimServerHost Start(SimServerOptions options, TextWriter? log = null, TimeSpan? readyTimeout = null)
    {
        var server = new SimServer(options, TextWriter.Null, log ?? TextWriter.Null);
        var host = new SimServerHost(server);
        host._thread.Start();
        if (server.WaitUntilReady(readyTimeout ?? TimeSpan.FromSeconds(30)))
            return host;
        host.Dispose();
        if (host._failure is not null)
            ExceptionDispatchInfo.Throw(host._failure);
        throw new TimeoutException($"sim-server was not ready within {(readyTimeout ?? TimeSpan.FromSeconds(30)).TotalSeconds} s");
    }

    /// <summary>Stops the server and waits (up to 10 s) for its thread.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(10));
        _stop.Dispose();
        Server.DisposeLocalCameras();
    }
}
