using System.Text.Json;
using RobotRuntime.Safety;

namespace RobotRuntime.Live.Tests;

/// <summary>The page in a real browser: its JavaScript must render what the loop publishes.</summary>
public sealed class LivePageInChromiumTests
{
    // A slow start of chromium on a loaded 2-core machine takes several seconds; these bound hangs only.
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RenderTimeout = TimeSpan.FromSeconds(30);

    // Evaluates to null while the page is still loading (its elements absent).
    private const string ReadDom = """
        (() => { try { return JSON.stringify({
          cycle: document.getElementById('cycle').textContent,
          state: document.getElementById('state').textContent,
          reason: document.getElementById('hold-reason').textContent,
          text: document.getElementById('hold-text').textContent,
          safetyClass: document.getElementById('safety').className,
          misses: document.getElementById('misses').textContent,
          plan: (document.getElementById('t-plan') || {}).textContent,
          connection: document.getElementById('conn').textContent,
          front: (document.getElementById('cam-0') || {}).naturalWidth || 0,
          wrist: (document.getElementById('cam-1') || {}).naturalWidth || 0,
          trendPoints: Number(document.getElementById('trend').dataset.points),
          rate: document.getElementById('rate').textContent,
          rateNote: document.getElementById('rate-note').textContent,
        }); } catch (e) { return null; } })()
        """;

    [ChromiumFact]
    public async Task ThePageRendersLiveCyclesFramesAndTheHoldReasonInTheBrowser()
    {
        var loop = new FakeLoop("front", "wrist");
        loop.Board.PublishFrame(0, loop.Frame(seed: 9));
        loop.Cycle(100, missed: true);
        await using var server = LivePageServer.Start(loop.Board, new LivePageOptions { UpdateRateHz = 20, FrameRateHz = 10 });
        await using var browser = await HeadlessChromium.StartAsync(StartTimeout);
        using var cancel = new CancellationTokenSource(RenderTimeout);

        await browser.NavigateAsync(server.Url, cancel.Token);
        var running = await WaitForDom(browser, d => d.Cycle == "100" && d.Front == 32, cancel.Token);
        Assert.Equal("RUNNING", running.State);
        Assert.Equal("pass", running.SafetyClass);
        Assert.Equal("1", running.Misses);
        Assert.Equal("1.10", running.Plan);
        Assert.Equal("live", running.Connection);
        Assert.Equal(0, running.Wrist); // no frame published for the wrist camera

        // The loop goes on after the page loaded: the page must follow without a reload.
        const string why = "camera 'wrist': newest frame is 412 ms old (limit 100 ms)";
        loop.Cycle(101, HoldReason.StaleCameraFrame, why);
        var holding = await WaitForDom(browser, d => d.Cycle == "101", cancel.Token);
        Assert.Equal("HOLD", holding.State);
        Assert.Equal("StaleCameraFrame", holding.Reason);
        Assert.Equal(why, holding.Text);
        Assert.Equal("hold", holding.SafetyClass);
        Assert.Equal(2, holding.TrendPoints); // one point per new cycle seen: 100, 101
        Assert.Equal(("50", ""), (holding.Rate, holding.RateNote));

        // Stepped down after missed deadlines (a loop with a degrade section): the page says so.
        loop.Cycle(102, missed: true, rateMillihertz: 25_000);
        var degraded = await WaitForDom(browser, d => d.Cycle == "102", cancel.Token);
        Assert.Equal(("25", "(degraded from 50 Hz after missed deadlines)"), (degraded.Rate, degraded.RateNote));
    }

    [ChromiumFact]
    public async Task TheEStopButtonReachesTheHostAndResetShowsItsRefusal()
    {
        var loop = new FakeLoop("front");
        loop.Cycle(1);
        var stops = 0;
        var options = new LivePageOptions
        {
            EmergencyStop = _ => { Interlocked.Increment(ref stops); return new LiveCommandResult(true, "e-stop latched"); },
            Reset = () => new LiveCommandResult(false, "reset refused: e-stop input still asserted"),
        };
        await using var server = LivePageServer.Start(loop.Board, options);
        await using var browser = await HeadlessChromium.StartAsync(StartTimeout);
        using var cancel = new CancellationTokenSource(RenderTimeout);
        await browser.NavigateAsync(server.Url, cancel.Token);
        await WaitForDom(browser, d => d.Cycle == "1", cancel.Token);
        Assert.Equal("false", await browser.EvaluateAsync("document.getElementById('estop').hidden", cancel.Token));

        await browser.EvaluateAsync("document.getElementById('estop').click()", cancel.Token);
        await WaitForText(browser, "message", "e-stop latched", cancel.Token);
        Assert.Equal(1, stops);

        await browser.EvaluateAsync("document.getElementById('reset').click()", cancel.Token);
        await WaitForText(browser, "message", "reset refused: e-stop input still asserted", cancel.Token);
    }

    [ChromiumFact]
    public async Task WithoutHostDelegatesThePageOffersNoButtons()
    {
        var loop = new FakeLoop("front");
        loop.Cycle(3);
        await using var server = LivePageServer.Start(loop.Board, new LivePageOptions());
        await using var browser = await HeadlessChromium.StartAsync(StartTimeout);
        using var cancel = new CancellationTokenSource(RenderTimeout);
        await browser.NavigateAsync(server.Url, cancel.Token);
        await WaitForDom(browser, d => d.Cycle == "3", cancel.Token);
        Assert.Equal("true", await browser.EvaluateAsync("document.getElementById('controls').hidden", cancel.Token));
    }

    private static async Task WaitForText(HeadlessChromium browser, string id, string text, CancellationToken cancel)
    {
        var last = "";
        try
        {
            while ((last = await browser.EvaluateAsync($"document.getElementById('{id}').textContent", cancel)) != JsonSerializer.Serialize(text))
                await Task.Delay(100, cancel);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"#{id} never read '{text}'; last: {last}\nchromium:\n{browser.Log}");
        }
    }

    private sealed record Dom(string Cycle, string State, string Reason, string Text, string SafetyClass, string Misses, string? Plan, string Connection, int Front, int Wrist, int TrendPoints,
        string Rate, string RateNote);

    private static async Task<Dom> WaitForDom(HeadlessChromium browser, Func<Dom, bool> wanted, CancellationToken cancel)
    {
        Dom? last = null;
        try
        {
            while (true)
            {
                var json = await browser.EvaluateAsync(ReadDom, cancel);
                if (json != "null")
                {
                    last = JsonSerializer.Deserialize<Dom>(JsonSerializer.Deserialize<string>(json)!, new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
                    if (wanted(last))
                        return last;
                }
                await Task.Delay(100, cancel);
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the page did not render the expected values in time; last DOM read: {last}\nchromium:\n{browser.Log}");
        }
    }
}
