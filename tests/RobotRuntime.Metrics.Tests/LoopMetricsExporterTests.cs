using System.Text.RegularExpressions;
using RobotRuntime.Arm;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using RobotRuntime.Testing;

namespace RobotRuntime.Metrics.Tests;

/// <summary>The cycle ring and the Prometheus exporter, read back through the text format a Prometheus server scrapes.</summary>
public sealed partial class LoopMetricsExporterTests
{
    private static CycleRecord Record(long index, long computeMs, bool missed = false, HoldReason hold = HoldReason.None, bool started = false)
    {
        var record = new CycleRecord
        {
            CycleIndex = index,
            StartNs = index * 10_000_000,
            FrameAgeNs = 4_000_000,
            PreprocessNs = 100_000,
            EncodeNs = 300_000,
            PlanNs = 1_000_000,
            SafetyNs = 10_000,
            SendNs = 20_000,
            MissedDeadline = (byte)(missed ? 1 : 0),
            Safety = hold == HoldReason.None ? SafetyStatus.Pass : SafetyStatus.Hold,
            HoldReason = hold,
            HoldStarted = (byte)(started ? 1 : 0),
        };
        record.EndNs = record.StartNs + computeMs * 1_000_000;
        return record;
    }

    private static string Scrape(LoopMetricsExporter exporter)
    {
        using var stream = new MemoryStream();
        exporter.Registry.CollectAndExportAsTextAsync(stream).GetAwaiter().GetResult();
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static double Value(string text, string series)
    {
        var match = Regex.Match(text, "^" + Regex.Escape(series) + " ([0-9.eE+-]+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"no '{series}' in:\n{text}");
        return double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void TheRingKeepsOrderDropsWhenFullAndWritesWithoutAllocating()
    {
        var ring = new CycleRecordRing(4);
        var record = Record(0, 1);
        for (var i = 0; i < 3; i++)
            ring.TryWrite(record); // warm-up: the first call's JIT
        while (ring.TryRead(out _)) { }

        var accepted = 0;
        Assert.Equal(0, ThreadAllocations.During(() => // from an empty allocation buffer: see ThreadAllocations.During
        {
            for (var i = 0; i < 6; i++)
            {
                record.CycleIndex = i;
                if (ring.TryWrite(in record))
                    accepted++;
            }
        }));
        Assert.Equal(4, accepted);
        Assert.Equal(2, ring.Dropped);
        var order = new List<long>();
        while (ring.TryRead(out var r))
            order.Add(r.CycleIndex);
        Assert.Equal([0L, 1, 2, 3], order);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CycleRecordRing(3));
    }

    [Fact]
    public void CyclesBecomeStageHistogramsCountersHoldsAndLinkHealth()
    {
        var ring = new CycleRecordRing(64);
        var health = new ArmLinkHealth(ArmLinkStatus.Up, TimeSpan.FromMilliseconds(7), 0xAB, ArmRestarts: 1, LinkLosses: 2, StatesAccepted: 500, FramesRejected: 3, CommandsSent: 40);
        using var exporter = new LoopMetricsExporter(ring, 100, () => health);
        for (var i = 0; i < 10; i++)
            ring.TryWrite(Record(i, computeMs: i < 8 ? 2 : 30, missed: i >= 8));
        ring.TryWrite(Record(10, 1, hold: HoldReason.StaleCameraFrame, started: true));
        ring.TryWrite(Record(11, 1, hold: HoldReason.StaleCameraFrame));

        var text = Scrape(exporter);

        Assert.Equal(12, Value(text, "rr_cycles_total"));
        Assert.Equal(2, Value(text, "rr_deadline_misses_total"));
        Assert.Equal(12, Value(text, "rr_cycle_stage_seconds_count{stage=\"compute\"}"));
        // Compute: eight cycles of 2 ms and two of 1 ms (the holds) are at most 3.2 ms; the two of 30 ms are not.
        Assert.Equal(10, Value(text, "rr_cycle_stage_seconds_bucket{stage=\"compute\",le=\"0.0032\"}"));
        Assert.Equal(12, Value(text, "rr_cycle_stage_seconds_bucket{stage=\"compute\",le=\"0.0512\"}"));
        Assert.Equal(12 * 0.001, Value(text, "rr_cycle_stage_seconds_sum{stage=\"plan\"}"), 9);
        Assert.Equal(1, Value(text, "rr_holds_total{reason=\"StaleCameraFrame\"}"));
        Assert.Equal(2, Value(text, "rr_held_cycles_total{reason=\"StaleCameraFrame\"}"));
        Assert.Equal(1, Value(text, "rr_holding"));
        Assert.Equal(1, Value(text, "rr_hold_reason{reason=\"StaleCameraFrame\"}"));
        Assert.Equal(1, Value(text, "rr_arm_link_up"));
        Assert.Equal(0.007, Value(text, "rr_arm_state_age_seconds"), 9);
        Assert.Equal(2, Value(text, "rr_arm_link_losses_total"));
        Assert.Equal(500, Value(text, "rr_arm_states_accepted_total"));
        Assert.Equal(100, Value(text, "rr_loop_rate_hz"));

        // Released: the reason's gauge goes back to 0 and holding to 0.
        ring.TryWrite(Record(12, 1));
        health = health with { Status = ArmLinkStatus.Lost };
        text = Scrape(exporter);
        Assert.Equal(0, Value(text, "rr_holding"));
        Assert.Equal(0, Value(text, "rr_hold_reason{reason=\"StaleCameraFrame\"}"));
        Assert.Equal(0, Value(text, "rr_arm_link_up"));
    }

    [Fact]
    public void TheRateGaugeFollowsTheNewestCyclesRate()
    {
        // A loop that stepped down to 12.5 Hz after missed deadlines, and back to its configured 25 Hz.
        var ring = new CycleRecordRing(64);
        using var exporter = new LoopMetricsExporter(ring, 25, link: null);
        Assert.Equal(25, Value(Scrape(exporter), "rr_loop_rate_hz"));
        var degraded = Record(0, 1);
        degraded.RateMillihertz = 12_500;
        ring.TryWrite(degraded);
        Assert.Equal(12.5, Value(Scrape(exporter), "rr_loop_rate_hz"));
        var back = Record(1, 1);
        back.RateMillihertz = 25_000;
        ring.TryWrite(back);
        Assert.Equal(25, Value(Scrape(exporter), "rr_loop_rate_hz"));
    }

    [Fact]
    public async Task TheFiguresAreServedOverHttpOnAPortOfTheirOwn()
    {
        var ring = new CycleRecordRing(64);
        using var exporter = new LoopMetricsExporter(ring, 50, link: null, port: 0);
        ring.TryWrite(Record(0, 3));
        Assert.Matches(@"^http://127\.0\.0\.1:\d+/metrics$", exporter.Url);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var text = await http.GetStringAsync(exporter.Url);

        Assert.Equal(1, Value(text, "rr_cycles_total"));
        Assert.Contains("# HELP rr_cycle_stage_seconds", text);
    }

    [Fact]
    public void APortInUseIsNamed()
    {
        using var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        holder.Start();
        var port = ((System.Net.IPEndPoint)holder.LocalEndpoint).Port;
        var error = Assert.Throws<MetricsEndpointException>(() => new LoopMetricsExporter(new CycleRecordRing(4), 50, null, port: port));
        Assert.StartsWith($"metrics: cannot listen on 127.0.0.1:{port}", error.Message);
    }
}
