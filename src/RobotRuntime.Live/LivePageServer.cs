using System.Net;
using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RobotRuntime.Cameras;
using RobotRuntime.Telemetry;
using RobotRuntime.Timing;

namespace RobotRuntime.Live;

/// <summary>
/// The live page on localhost: one self-contained HTML page (<c>/</c>) that shows each camera's
/// newest frame, the newest cycle's stage timings, the cycle and miss counts and the safety state
/// with the hold reason, updated over server-sent events (<c>/events</c>) at a bounded rate.
/// Everything is read from a <see cref="LiveStatusBoard"/> on the server's own threads: the loop
/// that publishes to the board never waits for the page.
/// </summary>
/// <remarks>
/// Endpoints: <c>GET /</c> the page; <c>GET /events</c> an event stream of status objects;
/// <c>GET /status</c> one status object; <c>GET /frames/{camera}</c> a camera's newest frame as an
/// image (by index or name; PNG unless <see cref="LivePageOptions.CreateFrameEncoder"/> says otherwise; 503 until the first frame); <c>POST /estop</c> and <c>POST /reset</c> only
/// when the host supplied <see cref="LivePageOptions.EmergencyStop"/> / <see cref="LivePageOptions.Reset"/>.
/// Anything else is 404. Requests whose Host is not a loopback name are refused (421), and the
/// POSTs need the header <c>X-RR-Live: 1</c>, which a page from another origin cannot send without
/// a CORS preflight this server never grants. Setup only: <see cref="Start"/> and
/// <see cref="Dispose"/> are not for the control loop's thread.
/// </remarks>
public sealed class LivePageServer : IDisposable, IAsyncDisposable
{
    /// <summary>The header (with value "1") the page's POST requests carry.</summary>
    public const string CommandHeader = "X-RR-Live";

    /// <summary>The header that carries the run's operator key on <c>POST /reset</c> (see <see cref="LivePageOptions.OperatorKey"/>).</summary>
    public const string OperatorKeyHeader = "X-RR-Operator-Key";

    /// <summary>A new random operator key (256 bits, hex).</summary>
    public static string NewOperatorKey() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>The page's address with the operator key in its fragment: the address to give the operator only.</summary>
    public Uri OperatorUrl => _options.OperatorKey is { } key ? new Uri(Url, "#operator=" + key) : Url;

    private static readonly byte[] PageHtml = LoadPage();
    private readonly LiveStatusBoard _board;
    private readonly LivePageOptions _options;
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CameraCache[] _cameras;
    private readonly long _framePeriodNs;
    private readonly TimeSpan _updatePeriod;
    private int _disposed;

    private LivePageServer(LiveStatusBoard board, LivePageOptions options)
    {
        _board = board;
        _options = options;
        _framePeriodNs = (long)(1e9 / options.FrameRateHz);
        _updatePeriod = TimeSpan.FromSeconds(1 / options.UpdateRateHz);
        _cameras = board.CameraNames.Select(_ => new CameraCache(board.FrameWidth, board.FrameHeight, options.CreateFrameEncoder?.Invoke() ?? new JpegFrameEncoder())).ToArray();

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(LivePageServer).Assembly.GetName().Name });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, options.Port);
        });
        builder.Logging.ClearProviders();
        // The host owns Ctrl-C and SIGTERM (rr run stops the arm first); the page must not take them.
        builder.Services.AddSingleton<IHostLifetime, HostOwnedLifetime>();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(2));
        _app = builder.Build();
        _app.Run(HandleAsync);
    }

    /// <summary>The page's address, e.g. <c>http://127.0.0.1:5180/</c> (the port actually bound).</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>Starts serving <paramref name="board"/> on 127.0.0.1 and returns once the port is bound.</summary>
    /// <exception cref="ArgumentException">An option is out of range; the message names it and the range.</exception>
    /// <exception cref="IOException">The port cannot be bound (e.g. already in use); the message names it.</exception>
    public static LivePageServer Start(LiveStatusBoard board, LivePageOptions options)
    {
        ArgumentNullException.ThrowIfNull(board);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Port is < 0 or > 65535)
            throw new ArgumentException($"live page port must be 0..65535 (0 picks a free port), got {options.Port}.", nameof(options));
        if (!(options.UpdateRateHz is >= 1 and <= 30))
            throw new ArgumentException($"live page update rate must be 1..30 Hz, got {options.UpdateRateHz}.", nameof(options));
        if (!(options.FrameRateHz is >= 0.5 and <= 30))
            throw new ArgumentException($"live page frame rate must be 0.5..30 Hz, got {options.FrameRateHz}.", nameof(options));
        var server = new LivePageServer(board, options);
        try
        {
            server._app.StartAsync().GetAwaiter().GetResult();
        }
        catch (IOException failure)
        {
            server.Dispose();
            throw new IOException($"live page: cannot listen on 127.0.0.1:{options.Port}: {failure.Message}", failure);
        }
        var address = server._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Url = new Uri(address.EndsWith('/') ? address : address + "/");
        return server;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        response.Headers.CacheControl = "no-store";
        if (!IsLoopbackHost(request.Host.Host))
        {
            response.StatusCode = StatusCodes.Status421MisdirectedRequest;
            await WriteTextAsync(response, $"the live page answers only to 127.0.0.1 or localhost, not '{request.Host}'.");
            return;
        }
        var path = request.Path.Value ?? "/";
        var isGet = HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);
        switch (path)
        {
            case "/" or "/index.html" when isGet:
                response.ContentType = "text/html; charset=utf-8";
                response.Headers["Content-Security-Policy"] = "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self'";
                await response.Body.WriteAsync(PageHtml, context.RequestAborted);
                return;
            case "/status" when isGet:
                response.ContentType = "application/json";
                await response.Body.WriteAsync(LiveSnapshotJson.Format(_board, _options), context.RequestAborted);
                return;
            case "/events" when isGet:
                await StreamEventsAsync(context);
                return;
            case "/estop" when HttpMethods.IsPost(request.Method) && _options.EmergencyStop is { } estop:
                await CommandAsync(context, () => estop($"live page ({context.Connection.RemoteIpAddress})"));
                return;
            case "/reset" when HttpMethods.IsPost(request.Method) && _options.Reset is { } reset:
                if (_options.OperatorKey is { } key && !KeyMatches(request.Headers[OperatorKeyHeader].ToString(), key))
                {
                    response.StatusCode = StatusCodes.Status403Forbidden;
                    response.ContentType = "application/json";
                    await response.Body.WriteAsync(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new
                    {
                        accepted = false,
                        message = "reset refused: only the operator who started rr may reset. Open the page at the operator's address rr printed on its terminal (it carries the run's operator key); anyone may press E-STOP.",
                    }), context.RequestAborted);
                    return;
                }
                await CommandAsync(context, reset);
                return;
        }
        if (isGet && path.StartsWith("/frames/", StringComparison.Ordinal) && path.Length > "/frames/".Length)
        {
            await ServeFrameAsync(context, path["/frames/".Length..]);
            return;
        }
        response.StatusCode = StatusCodes.Status404NotFound;
        await WriteTextAsync(response, $"no such page: {request.Method} {path}; the live page serves GET /, /events, /status and /frames/<camera>.");
    }

    private static bool KeyMatches(string offered, string key) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(offered), System.Text.Encoding.UTF8.GetBytes(key));

    private async Task StreamEventsAsync(HttpContext context)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers["X-Accel-Buffering"] = "no";
        using var both = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        var token = both.Token;
        using var timer = new PeriodicTimer(_updatePeriod);
        var prefix = "data: "u8.ToArray();
        var suffix = "\n\n"u8.ToArray();
        try
        {
            // Tell the browser how soon to reconnect if the stream breaks.
            await response.Body.WriteAsync("retry: 1000\n\n"u8.ToArray(), token);
            do
            {
                var json = LiveSnapshotJson.Format(_board, _options);
                await response.Body.WriteAsync(prefix, token);
                await response.Body.WriteAsync(json, token);
                await response.Body.WriteAsync(suffix, token);
                await response.Body.FlushAsync(token);
            }
            while (await timer.WaitForNextTickAsync(token));
        }
        catch (OperationCanceledException)
        {
            // The page went away or the server is stopping.
        }
        catch (IOException)
        {
            // The connection broke mid-write.
        }
    }

    private async Task ServeFrameAsync(HttpContext context, string camera)
    {
        var response = context.Response;
        var index = FindCamera(camera);
        if (index < 0)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            await WriteTextAsync(response, $"no camera '{camera}'; cameras: {string.Join(", ", _board.CameraNames.Select((name, i) => $"{i} ({name})"))}.");
            return;
        }
        var cache = _cameras[index];
        var image = cache.Newest(_board, index, _framePeriodNs);
        if (image is null)
        {
            response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            response.Headers.RetryAfter = "1";
            await WriteTextAsync(response, $"camera '{_board.CameraNames[index]}' has published no frame yet.");
            return;
        }
        response.ContentType = cache.ContentType;
        response.ContentLength = image.Length;
        await response.Body.WriteAsync(image, context.RequestAborted);
    }

    private int FindCamera(string camera)
    {
        if (int.TryParse(camera, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index))
            return index < _board.CameraNames.Count ? index : -1;
        for (var i = 0; i < _board.CameraNames.Count; i++)
        {
            if (string.Equals(_board.CameraNames[i], camera, StringComparison.Ordinal))
                return i;
        }
        return -1;
    }

    private static async Task CommandAsync(HttpContext context, Func<LiveCommandResult> command)
    {
        var response = context.Response;
        if (context.Request.Headers[CommandHeader] != "1")
        {
            response.StatusCode = StatusCodes.Status403Forbidden;
            await WriteTextAsync(response, $"a live page command needs the header '{CommandHeader}: 1'.");
            return;
        }
        LiveCommandResult result;
        try
        {
            result = command();
        }
        catch (Exception failure)
        {
            result = new LiveCommandResult(false, $"the host failed: {failure.Message}");
        }
        response.StatusCode = result.Accepted ? StatusCodes.Status200OK : StatusCodes.Status409Conflict;
        response.ContentType = "application/json";
        await response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["accepted"] = result.Accepted, ["message"] = result.Message }));
    }

    private static Task WriteTextAsync(HttpResponse response, string text)
    {
        response.ContentType = "text/plain; charset=utf-8";
        return response.WriteAsync(text + "\n");
    }

    private static bool IsLoopbackHost(string host) =>
        host is "127.0.0.1" or "localhost" or "[::1]" or "::1";

    private static byte[] LoadPage()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("RobotRuntime.Live.LivePage.html")
            ?? throw new InvalidOperationException("RobotRuntime.Live.LivePage.html is not embedded in the assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Stops serving: open event streams end, the port is released.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _stopping.Cancel();
        try
        {
            await _app.StopAsync();
        }
        finally
        {
            await _app.DisposeAsync();
            _stopping.Dispose();
        }
    }

    /// <summary>Stops serving (see <see cref="DisposeAsync"/>).</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>One camera's newest frame as an image, re-encoded at most once per frame period and only when asked for.</summary>
    private sealed class CameraCache(int width, int height, ILiveFrameEncoder encoder)
    {
        private readonly Lock _gate = new();
        private readonly CameraFrame _scratch = new(width, height);
        private byte[]? _image;

        public string ContentType => encoder.ContentType;
        private long _checkedNs = long.MinValue;

        public byte[]? Newest(LiveStatusBoard board, int index, long periodNs)
        {
            lock (_gate)
            {
                var now = MonotonicClock.NowNanoseconds;
                if (_image is not null && now - _checkedNs < periodNs)
                    return _image;
                _checkedNs = now;
                if (board.TryReadFrame(index, _scratch))
                    _image = encoder.Encode(_scratch.Pixels, _scratch.Width, _scratch.Height);
                return _image;
            }
        }
    }

    /// <summary>Leaves start-up and shutdown signals to the process that hosts the page.</summary>
    private sealed class HostOwnedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
