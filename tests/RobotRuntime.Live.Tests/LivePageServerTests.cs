using RobotRuntime.Imaging;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using RobotRuntime.Safety;
using RobotRuntime.Testing;

namespace RobotRuntime.Live.Tests;

public sealed class LivePageServerTests : IAsyncLifetime
{
    // Bounds every wait in these tests; reached only when something is broken.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly FakeLoop _loop = new("front", "wrist");
    private LivePageServer _server = null!;
    private HttpClient _http = null!;

    public Task InitializeAsync()
    {
        _server = LivePageServer.Start(_loop.Board, new LivePageOptions { UpdateRateHz = 20, FrameRateHz = 30 });
        _http = new HttpClient { BaseAddress = _server.Url, Timeout = Patience };
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public void PortZeroBindsAFreeLoopbackPortAndReportsIt()
    {
        Assert.Equal("127.0.0.1", _server.Url.Host);
        Assert.NotEqual(0, _server.Url.Port);
        Assert.Equal("/", _server.Url.AbsolutePath);
    }

    [Fact]
    public async Task ThePageIsOneSelfContainedHtmlFile()
    {
        using var response = await _http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("new EventSource(\"/events\")", html);
        Assert.Contains("id=\"hold-text\"", html);
        // No CDN or other site: every script, style and image is inline or from this server.
        Assert.DoesNotContain("http://", html);
        Assert.DoesNotContain("https://", html);
        Assert.DoesNotContain("src=\"//", html);
    }

    [Fact]
    public async Task TheEventStreamDeliversSnapshotsThatFollowThePublishedCycles()
    {
        using var cancel = new CancellationTokenSource(Patience);
        using var response = await _http.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));

        var first = await NextSnapshot(reader, cancel.Token);
        Assert.False(first.GetProperty("hasCycle").GetBoolean());
        Assert.Equal(["front", "wrist"], first.GetProperty("cameras").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal("scripted-reach", first.GetProperty("policy").GetString());

        _loop.Cycle(7);
        var seven = await NextSnapshotWhere(reader, s => s.GetProperty("hasCycle").GetBoolean(), cancel.Token);
        Assert.Equal(7, seven.GetProperty("cycle").GetInt64());
        Assert.Equal(1, seven.GetProperty("cyclesPublished").GetInt64());
        var stages = seven.GetProperty("stagesMs");
        Assert.Equal(0.257, stages.GetProperty("frameAge").GetDouble(), 9);
        Assert.Equal(1.007, stages.GetProperty("plan").GetDouble(), 9);
        Assert.Equal(6.0, stages.GetProperty("compute").GetDouble(), 9);
        Assert.Equal("Pass", seven.GetProperty("safety").GetString());
        Assert.False(seven.GetProperty("holding").GetBoolean());

        _loop.Cycle(8, missed: true);
        _loop.Cycle(9, missed: true);
        var nine = await NextSnapshotWhere(reader, s => s.GetProperty("cycle").GetInt64() == 9, cancel.Token);
        Assert.Equal(2, nine.GetProperty("missedDeadlines").GetInt64());
        Assert.Equal(3, nine.GetProperty("cyclesPublished").GetInt64());
        Assert.Equal(1.009, nine.GetProperty("stagesMs").GetProperty("plan").GetDouble(), 9);
    }

    [Fact]
    public async Task AHoldShowsItsReasonAndText()
    {
        _loop.Cycle(41);
        _loop.Cycle(42, HoldReason.EmergencyStop, "e-stop from the operator's terminal: pressed by anna");

        var status = await Status();
        Assert.True(status.GetProperty("holding").GetBoolean());
        Assert.Equal("Hold", status.GetProperty("safety").GetString());
        Assert.Equal("EmergencyStop", status.GetProperty("holdReason").GetString());
        Assert.Equal("e-stop from the operator's terminal: pressed by anna", status.GetProperty("holdText").GetString());
        Assert.Equal(1, status.GetProperty("holdsStarted").GetInt64());
    }

    [Fact]
    public async Task TheRateTheNewestCycleRanAtIsShownBesideTheConfiguredOne()
    {
        _loop.Cycle(7, rateMillihertz: 25_000); // the board's loop runs at 50 Hz; stepped down after missed deadlines
        var status = await Status();
        Assert.Equal(50, status.GetProperty("rateHz").GetDouble());
        Assert.Equal(25, status.GetProperty("currentRateHz").GetDouble());
        _loop.Cycle(8); // a record without a rate: the configured one
        Assert.Equal(50, (await Status()).GetProperty("currentRateHz").GetDouble());
    }

    [Fact]
    public async Task AFrameIsServedAsAJpegThatDecodesCloseToThePublishedPixels()
    {
        // A smooth image (JPEG's loss on the ramp test pattern, which wraps at 255, is dominated by its hard edges).
        var frame = _loop.Frame(seed: 5);
        for (var y = 0; y < frame.Height; y++)
            for (var x = 0; x < frame.Width; x++)
            {
                var i = (y * frame.Width + x) * 3;
                (frame.Pixels[i], frame.Pixels[i + 1], frame.Pixels[i + 2]) = ((byte)(x * 255 / frame.Width), (byte)(y * 255 / frame.Height), 96);
            }
        _loop.Board.PublishFrame(1, frame);

        foreach (var path in new[] { "/frames/1", "/frames/wrist" })
        {
            using var response = await _http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
            var (rgb, width, height) = ImageCodecs.Decode(await response.Content.ReadAsByteArrayAsync(), path);
            Assert.Equal((32, 24), (width, height));
            // JPEG at quality 80 on this 32×24 gradient: mean error per channel 1.48 of 255 (measured); bound 4.
            Assert.InRange(MeanAbsoluteError(frame.Pixels, rgb), 0, 4);
        }
    }

    [Fact]
    public async Task ANewerFrameReplacesTheServedOneAfterTheFramePeriod()
    {
        _loop.Board.PublishFrame(0, _loop.Frame(seed: 1));
        var first = ImageCodecs.Decode(await _http.GetByteArrayAsync("/frames/0"), "first").Rgb;
        var newer = _loop.Frame(seed: 2);
        _loop.Board.PublishFrame(0, newer);

        var deadline = DateTime.UtcNow + Patience;
        byte[] served;
        do
        {
            await Task.Delay(40); // the frame period at 30 Hz is 33 ms
            served = ImageCodecs.Decode(await _http.GetByteArrayAsync("/frames/0"), "served").Rgb;
        }
        while (served.AsSpan().SequenceEqual(first) && DateTime.UtcNow < deadline);
        // The newer frame, not the first (they differ by one grey level everywhere, plus the wrap's edges).
        Assert.True(MeanAbsoluteError(newer.Pixels, served) < MeanAbsoluteError(_loop.Frame(seed: 1).Pixels, served),
            "the page still serves the first frame");
    }

    [Fact]
    public async Task ACameraWithoutFramesYetIs503AndAnUnknownCameraIs404NamingTheCameras()
    {
        using var none = await _http.GetAsync("/frames/front");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, none.StatusCode);
        Assert.Contains("camera 'front' has published no frame yet", await none.Content.ReadAsStringAsync());

        using var unknown = await _http.GetAsync("/frames/elbow");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("no camera 'elbow'; cameras: 0 (front), 1 (wrist)", await unknown.Content.ReadAsStringAsync());
        using var outOfRange = await _http.GetAsync("/frames/2");
        Assert.Equal(HttpStatusCode.NotFound, outOfRange.StatusCode);
    }

    [Fact]
    public async Task EachCameraGetsItsOwnEncoderFromTheHostsFactory()
    {
        var made = 0;
        var options = new LivePageOptions { CreateFrameEncoder = () => new CountingEncoder(Interlocked.Increment(ref made)) };
        await using var server = LivePageServer.Start(_loop.Board, options);
        using var http = new HttpClient { BaseAddress = server.Url, Timeout = Patience };
        _loop.Board.PublishFrame(1, _loop.Frame(seed: 4));

        using var response = await http.GetAsync("/frames/wrist");
        Assert.Equal("image/x-test", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal([2, 32, 24], await response.Content.ReadAsByteArrayAsync()); // the second camera's encoder
        Assert.Equal(2, made);
    }

    private sealed class CountingEncoder(int id) : ILiveFrameEncoder
    {
        public string ContentType => "image/x-test";

        public byte[] Encode(ReadOnlySpan<byte> rgb, int width, int height) => [(byte)id, (byte)width, (byte)height];
    }

    [Theory]
    [InlineData("GET", "/favicon.ico")]
    [InlineData("GET", "/frames/")]
    [InlineData("GET", "/events/extra")]
    [InlineData("POST", "/")]
    [InlineData("POST", "/estop")]
    [InlineData("POST", "/reset")]
    public async Task UnknownPathsAndCommandsNotOfferedAre404(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Add(LivePageServer.CommandHeader, "1");
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains($"no such page: {method} {path}", await response.Content.ReadAsStringAsync());
        Assert.False((await Status()).GetProperty("controls").GetProperty("estop").GetBoolean());
    }

    [Fact]
    public async Task ARequestForAnotherHostNameIsRefused()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/status");
        request.Headers.Host = "attacker.example";
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.MisdirectedRequest, response.StatusCode);
    }

    [Fact]
    public async Task OfferedCommandsCallTheHostOnlyWithTheCommandHeader()
    {
        var stops = new List<string>();
        var resets = 0;
        var options = new LivePageOptions
        {
            EmergencyStop = source => { lock (stops) stops.Add(source); return new LiveCommandResult(true, "holding: e-stop"); },
            Reset = () => { Interlocked.Increment(ref resets); return new LiveCommandResult(false, "reset refused: the e-stop file /run/rr/STOP still exists"); },
        };
        await using var server = LivePageServer.Start(_loop.Board, options);
        using var http = new HttpClient { BaseAddress = server.Url, Timeout = Patience };

        using (var bare = await http.PostAsync("/estop", null))
            Assert.Equal(HttpStatusCode.Forbidden, bare.StatusCode);
        Assert.Empty(stops);

        using var estop = new HttpRequestMessage(HttpMethod.Post, "/estop");
        estop.Headers.Add(LivePageServer.CommandHeader, "1");
        using (var response = await http.SendAsync(estop))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("holding: e-stop", await response.Content.ReadAsStringAsync());
        }
        Assert.Single(stops);
        Assert.StartsWith("live page", stops[0]);

        using var reset = new HttpRequestMessage(HttpMethod.Post, "/reset");
        reset.Headers.Add(LivePageServer.CommandHeader, "1");
        using (var response = await http.SendAsync(reset))
        {
            Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
            Assert.Contains("/run/rr/STOP still exists", await response.Content.ReadAsStringAsync());
        }
        Assert.Equal(1, resets);
        var controls = JsonDocument.Parse(await http.GetStringAsync("/status")).RootElement.GetProperty("controls");
        Assert.True(controls.GetProperty("estop").GetBoolean());
        Assert.True(controls.GetProperty("reset").GetBoolean());
    }

    [Fact]
    public async Task WithAnOperatorKeyAnyoneMayEStopButOnlyTheKeyHolderMayReset()
    {
        var stops = 0;
        var resets = 0;
        var key = LivePageServer.NewOperatorKey();
        var options = new LivePageOptions
        {
            EmergencyStop = _ => { Interlocked.Increment(ref stops); return new LiveCommandResult(true, "holding: e-stop"); },
            Reset = () => { Interlocked.Increment(ref resets); return new LiveCommandResult(true, "released the hold"); },
            OperatorKey = key,
        };
        await using var server = LivePageServer.Start(_loop.Board, options);
        using var http = new HttpClient { BaseAddress = server.Url, Timeout = Patience };
        Assert.Equal(64, key.Length);
        Assert.Equal("#operator=" + key, server.OperatorUrl.Fragment);

        HttpRequestMessage Post(string path, string? offeredKey)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, path);
            request.Headers.Add(LivePageServer.CommandHeader, "1");
            if (offeredKey is not null)
                request.Headers.Add(LivePageServer.OperatorKeyHeader, offeredKey);
            return request;
        }

        using (var estop = await http.SendAsync(Post("/estop", null)))
            Assert.Equal(HttpStatusCode.OK, estop.StatusCode);
        Assert.Equal(1, stops);

        foreach (var offered in new string?[] { null, "", key[..^1] + (key[^1] == '0' ? "1" : "0"), key.ToUpperInvariant(), key + "0" })
        {
            using var refused = await http.SendAsync(Post("/reset", offered));
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("only the operator who started rr may reset", await refused.Content.ReadAsStringAsync());
        }
        Assert.Equal(0, resets);

        using (var reset = await http.SendAsync(Post("/reset", key)))
            Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        Assert.Equal(1, resets);
    }

    [Fact]
    public async Task DisposingEndsOpenEventStreamsAndReleasesThePort()
    {
        var server = LivePageServer.Start(_loop.Board, new LivePageOptions());
        var port = server.Url.Port;
        using var http = new HttpClient { BaseAddress = server.Url, Timeout = Patience };
        using var cancel = new CancellationTokenSource(Patience);
        using var response = await http.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
        await NextSnapshot(reader, cancel.Token);

        await server.DisposeAsync();

        // The stream ends (instead of hanging) and the port can be bound again.
        while (await reader.ReadLineAsync(cancel.Token) is not null)
        {
        }
        using var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
    }

    [Fact]
    public void ABusyPortIsAnErrorNamingIt()
    {
        var port = _server.Url.Port;
        var failure = Assert.Throws<IOException>(() => LivePageServer.Start(_loop.Board, new LivePageOptions { Port = port }));
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", failure.Message);
    }

    [Theory]
    [InlineData(-1, 10, 5, "port must be 0..65535")]
    [InlineData(0, 0, 5, "update rate must be 1..30 Hz, got 0")]
    [InlineData(0, 10, 100, "frame rate must be 0.5..30 Hz, got 100")]
    public void OptionsOutOfRangeAreRejectedNamingTheOption(int port, double updateHz, double frameHz, string expected)
    {
        var failure = Assert.Throws<ArgumentException>(() =>
            LivePageServer.Start(_loop.Board, new LivePageOptions { Port = port, UpdateRateHz = updateHz, FrameRateHz = frameHz }));
        Assert.Contains(expected, failure.Message);
    }

    [Fact]
    public async Task PublishingWhileThePageReadsAllocatesNothingOnTheLoopThread()
    {
        var frame = _loop.Frame(seed: 3);
        using var cancel = new CancellationTokenSource(Patience);
        using var response = await _http.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
        var readers = Task.Run(async () =>
        {
            while (!cancel.IsCancellationRequested)
            {
                await NextSnapshot(reader, cancel.Token);
                await _http.GetAsync("/frames/0", cancel.Token);
            }
        });

        var allocated = -1L;
        var thread = new Thread(() =>
        {
            var record = new Telemetry.CycleRecord { CycleIndex = 0 };
            for (var i = 0; i < 2000; i++) // warm-up: JIT and first-use paths
                Publish(i);
            // Counted on this thread from an empty allocation buffer (ThreadAllocations.During): the
            // page's readers allocate all the time, so a GC inside the window is near certain, and it
            // would count the unused rest of what the warm-up left in this thread's buffer.
            allocated = ThreadAllocations.During(() =>
            {
                for (var i = 2000; i < 20000; i++)
                    Publish(i);
            });

            void Publish(int i)
            {
                record.CycleIndex = i;
                _loop.Board.PublishCycle(record, i % 100 == 0, i % 100 == 0 ? HoldReason.DeadlineMisses : HoldReason.None, "three missed deadlines in a row", i);
                if (i % 10 == 0)
                    _loop.Board.PublishFrame(0, frame);
                if (i % 100 == 0)
                    Thread.Sleep(1); // let the page's readers in between
            }
        });
        thread.Start();
        Assert.True(thread.Join(Patience), "the publishing thread did not finish");
        await cancel.CancelAsync();
        try
        {
            await readers;
        }
        catch (OperationCanceledException)
        {
        }
        Assert.Equal(0, allocated);
    }

    private async Task<JsonElement> Status() => JsonDocument.Parse(await _http.GetStringAsync("/status")).RootElement;

    private static async Task<JsonElement> NextSnapshot(StreamReader reader, CancellationToken cancel)
    {
        while (true)
        {
            var line = await reader.ReadLineAsync(cancel) ?? throw new EndOfStreamException("the event stream ended");
            if (line.StartsWith("data: ", StringComparison.Ordinal))
                return JsonDocument.Parse(line["data: ".Length..]).RootElement;
        }
    }

    private static async Task<JsonElement> NextSnapshotWhere(StreamReader reader, Func<JsonElement, bool> wanted, CancellationToken cancel)
    {
        while (true)
        {
            var snapshot = await NextSnapshot(reader, cancel);
            if (wanted(snapshot))
                return snapshot;
        }
    }

    private static double MeanAbsoluteError(byte[] a, byte[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Average();
}
