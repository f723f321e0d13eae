using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RobotRuntime.Testing;

namespace RobotRuntime.Live.Tests;

/// <summary>A test that needs Debian's chromium (installed by scripts/bootstrap); skipped, saying so, where it is absent.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (HeadlessChromium.FindExecutable() is null)
            Skip = "chromium is not installed (looked for $RR_CHROMIUM, /usr/bin/chromium and chromium on PATH): run scripts/bootstrap, which installs Debian's chromium package";
    }
}

/// <summary>
/// Headless Chromium driven over the DevTools protocol (a WebSocket): open a page, evaluate
/// JavaScript in it. Every wait is bounded; <see cref="DisposeAsync"/> kills the browser.
/// </summary>
internal sealed partial class HeadlessChromium : IAsyncDisposable
{
    private ChildProcess? _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private int _nextId;

    private HeadlessChromium(string profile) => _profile = profile;

    public static string? FindExecutable()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("RR_CHROMIUM") is { Length: > 0 } configured)
            candidates.Add(configured);
        candidates.Add("/usr/bin/chromium");
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            candidates.Add(Path.Combine(folder, "chromium"));
        return candidates.FirstOrDefault(File.Exists);
    }

    /// <summary>Starts the browser on about:blank and attaches to its page.</summary>
    public static async Task<HeadlessChromium> StartAsync(TimeSpan timeout)
    {
        var executable = FindExecutable() ?? throw new InvalidOperationException("chromium is not installed");
        var profile = Path.Combine(Path.GetTempPath(), "rr-chromium-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(profile);
        var browser = new HeadlessChromium(profile);
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        browser._process = ChildProcess.Start(executable,
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
            "--remote-debugging-port=0", $"--user-data-dir={profile}", "about:blank",
        ], label: "chromium", onLine: (line, _) =>
        {
            var match = ListeningLine().Match(line);
            if (match.Success)
                listening.TrySetResult(new Uri(match.Groups[1].Value));
        });
        _ = browser._process.StreamsClosed.ContinueWith(
            _ => listening.TrySetException(new InvalidOperationException($"chromium exited before it was ready:\n{browser.Log}")),
            TaskScheduler.Default);
        try
        {
            using var cancel = new CancellationTokenSource(timeout);
            var browserEndpoint = await listening.Task.WaitAsync(cancel.Token);

            // The page target's own WebSocket, from the DevTools HTTP endpoint on the same port.
            using var http = new HttpClient { Timeout = timeout };
            var targets = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{browserEndpoint.Port}/json/list", cancel.Token))!.AsArray();
            var page = targets.First(t => (string?)t!["type"] == "page")!;
            await browser._socket.ConnectAsync(new Uri((string)page["webSocketDebuggerUrl"]!), cancel.Token);
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    public string Log => _process?.Error ?? "";

    public Task NavigateAsync(Uri url, CancellationToken cancel) =>
        SendAsync("Page.navigate", new JsonObject { ["url"] = url.ToString() }, cancel);

    /// <summary>Evaluates <paramref name="expression"/> in the page and returns its value as JSON text.</summary>
    public async Task<string> EvaluateAsync(string expression, CancellationToken cancel)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true }, cancel);
        if (result["exceptionDetails"] is { } exception)
            throw new InvalidOperationException($"the page threw evaluating '{expression}': {exception.ToJsonString()}");
        return result["result"]?["value"]?.ToJsonString() ?? "null";
    }

    private async Task<JsonNode> SendAsync(string method, JsonObject parameters, CancellationToken cancel)
    {
        var id = ++_nextId;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters };
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, cancel);
        var buffer = new byte[1 << 16];
        while (true)
        {
            using var text = new MemoryStream();
            WebSocketReceiveResult received;
            do
            {
                received = await _socket.ReceiveAsync(buffer, cancel);
                if (received.MessageType == WebSocketMessageType.Close)
                    throw new InvalidOperationException($"chromium closed the DevTools connection:\n{Log}");
                text.Write(buffer, 0, received.Count);
            }
            while (!received.EndOfMessage);
            var reply = JsonNode.Parse(text.ToArray())!;
            if ((int?)reply["id"] != id)
                continue; // an event, or the answer to an earlier call
            if (reply["error"] is { } error)
                throw new InvalidOperationException($"{method} failed: {error.ToJsonString()}");
            return reply["result"]!;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        _process?.Dispose(); // kills the browser and every helper process it started
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // Chromium may still hold a lock file for a moment; the temp folder is cleaned later.
        }
    }

    [GeneratedRegex(@"DevTools listening on (ws://\S+)")]
    private static partial Regex ListeningLine();
}
