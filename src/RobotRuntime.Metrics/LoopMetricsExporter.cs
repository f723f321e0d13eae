using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Prometheus;
using RobotRuntime.Arm;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;

namespace RobotRuntime.Metrics;

/// <summary>
/// Serves the control loop's figures at <c>http://HOST:PORT/metrics</c> in Prometheus's text format
/// (prometheus-net). The loop only copies each cycle's record into a <see cref="CycleRecordRing"/>
/// (no allocation, no lock, never blocks); a thread of this exporter drains the ring every 100 ms
/// and before every scrape, and turns the records into:
/// <list type="bullet">
/// <item><c>rr_cycle_stage_seconds{stage}</c> histograms (frame_age, preprocess, encode, plan, safety, send, compute; 0.1 ms – 205 ms);</item>
/// <item><c>rr_cycles_total</c>, <c>rr_deadline_misses_total</c>, <c>rr_skipped_ticks_total</c>, <c>rr_clipped_cycles_total</c>, <c>rr_holds_total{reason}</c>, <c>rr_held_cycles_total{reason}</c>;</item>
/// <item><c>rr_holding</c> (1 while the last cycle held) and <c>rr_hold_reason{reason}</c> (1 for the current reason);</item>
/// <item>the arm link: <c>rr_arm_link_up</c>, <c>rr_arm_state_age_seconds</c>, <c>rr_arm_link_losses_total</c>, <c>rr_arm_restarts_total</c>, <c>rr_arm_states_accepted_total</c>, <c>rr_arm_frames_rejected_total</c>, <c>rr_arm_commands_sent_total</c>;</item>
/// <item><c>rr_metrics_dropped_records_total</c> (records the ring could not hold) and <c>rr_loop_rate_hz</c> (the rate of the newest cycle: below the configured one while the loop is degraded).</item>
/// </list>
/// </summary>
public sealed class LoopMetricsExporter : IDisposable
{
    private static readonly (CycleStage Stage, string Label)[] Stages =
    [
        (CycleStage.FrameAge, "frame_age"), (CycleStage.Preprocess, "preprocess"), (CycleStage.Encode, "encode"),
        (CycleStage.Plan, "plan"), (CycleStage.Safety, "safety"), (CycleStage.Send, "send"), (CycleStage.Compute, "compute"),
    ];

    private readonly CycleRecordRing _ring;
    private readonly Func<ArmLinkHealth>? _link;
    private readonly CollectorRegistry _registry;
    private readonly Histogram.Child[] _stages;
    private readonly Counter _cycles, _misses, _skipped, _clipped, _holds, _heldCycles, _dropped;
    private readonly Gauge _holding, _holdReason, _linkUp, _stateAge, _rate;
    private readonly double _baseRateHz;
    private readonly Counter _linkLosses, _restarts, _statesAccepted, _framesRejected, _commandsSent;
    private readonly MetricServer? _server;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stop = new();
    private readonly Lock _drainGate = new();
    private HoldReason _lastReason = HoldReason.None;
    private bool _disposed;

    /// <summary>Starts the exporter; with <paramref name="port"/> null nothing is served (tests read <see cref="Registry"/>).</summary>
    /// <param name="ring">The ring the loop writes into.</param>
    /// <param name="rateHz">The loop's rate.</param>
    /// <param name="link">The arm link's health, read on the exporter's thread (null: no link figures).</param>
    /// <param name="host">The address to listen on, e.g. 127.0.0.1 (the default) or 0.0.0.0 / + for every interface.</param>
    /// <param name="port">The port; 0 picks a free one (see <see cref="Url"/>); null serves nothing.</param>
    /// <exception cref="MetricsEndpointException">The port cannot be listened on; the message names it.</exception>
    public LoopMetricsExporter(CycleRecordRing ring, double rateHz, Func<ArmLinkHealth>? link, string host = "127.0.0.1", int? port = null)
    {
        ArgumentNullException.ThrowIfNull(ring);
        _ring = ring;
        _link = link;
        _registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(_registry);
        var stageHistogram = factory.CreateHistogram("rr_cycle_stage_seconds", "Duration of each stage of a control cycle (frame_age: how old the newest frame was).",
            new HistogramConfiguration { LabelNames = ["stage"], Buckets = Histogram.ExponentialBuckets(0.0001, 2, 12) });
        _stages = Stages.Select(s => stageHistogram.WithLabels(s.Label)).ToArray();
        _cycles = factory.CreateCounter("rr_cycles_total", "Control cycles completed.");
        _misses = factory.CreateCounter("rr_deadline_misses_total", "Cycles that ended after their deadline.");
        _skipped = factory.CreateCounter("rr_skipped_ticks_total", "Scheduler ticks skipped after overruns.");
        _clipped = factory.CreateCounter("rr_clipped_cycles_total", "Cycles whose command the safety filter clipped.");
        _holds = factory.CreateCounter("rr_holds_total", "Holds started, by reason.", new CounterConfiguration { LabelNames = ["reason"] });
        _heldCycles = factory.CreateCounter("rr_held_cycles_total", "Cycles spent holding, by reason.", new CounterConfiguration { LabelNames = ["reason"] });
        _dropped = factory.CreateCounter("rr_metrics_dropped_records_total", "Cycle records the exporter's ring could not hold (the exporter fell behind).");
        _holding = factory.CreateGauge("rr_holding", "1 while the last cycle held the arm, else 0.");
        _holdReason = factory.CreateGauge("rr_hold_reason", "1 for the reason the arm is held now.", new GaugeConfiguration { LabelNames = ["reason"] });
        _linkUp = factory.CreateGauge("rr_arm_link_up", "1 while the arm link is up (handshake done, states arriving).");
        _stateAge = factory.CreateGauge("rr_arm_state_age_seconds", "Age of the newest arm state.");
        _linkLosses = factory.CreateCounter("rr_arm_link_losses_total", "Times the arm link was lost.");
        _restarts = factory.CreateCounter("rr_arm_restarts_total", "Times the arm restarted (a new session).");
        _statesAccepted = factory.CreateCounter("rr_arm_states_accepted_total", "Arm STATE frames accepted.");
        _framesRejected = factory.CreateCounter("rr_arm_frames_rejected_total", "Frames from the arm rejected (corrupt, stale, wrong session).");
        _commandsSent = factory.CreateCounter("rr_arm_commands_sent_total", "Commands sent to the arm.");
        _rate = factory.CreateGauge("rr_loop_rate_hz", "The control loop's rate now (below the configured one while degraded after missed deadlines).");
        _rate.Set(rateHz);
        _baseRateHz = rateHz;
        _registry.AddBeforeCollectCallback(Drain);

        if (port is { } requested)
        {
            var chosen = requested == 0 ? FreePort() : requested;
            try
            {
                _server = new MetricServer(host == "0.0.0.0" ? "+" : host, chosen, "metrics/", _registry);
                _server.Start();
            }
            catch (Exception e) when (e is HttpListenerException or SocketException or InvalidOperationException)
            {
                throw new MetricsEndpointException($"metrics: cannot listen on {host}:{chosen} ({e.Message}); choose another metrics port or free it", e);
            }
            Url = $"http://{(host is "0.0.0.0" or "+" ? "127.0.0.1" : host)}:{chosen.ToString(CultureInfo.InvariantCulture)}/metrics";
        }
        _thread = new Thread(Run) { IsBackground = true, Name = "rr metrics" };
        _thread.Start();
    }

    /// <summary>Where the figures are served (null when not served).</summary>
    public string? Url { get; }

    /// <summary>The registry the figures live in.</summary>
    public CollectorRegistry Registry => _registry;

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private void Run()
    {
        while (!_stop.Wait(TimeSpan.FromMilliseconds(100)))
            Drain();
    }

    /// <summary>Turns every record in the ring into figures and reads the link's health (exporter thread, or before a scrape).</summary>
    public void Drain()
    {
        lock (_drainGate)
        {
            while (_ring.TryRead(out var record))
            {
                for (var s = 0; s < Stages.Length; s++)
                {
                    var ns = RunLogSummary.StageNanoseconds(record, Stages[s].Stage);
                    if (Stages[s].Stage != CycleStage.FrameAge || ns != long.MaxValue)
                        _stages[s].Observe(ns / 1e9);
                }
                _cycles.Inc();
                _rate.Set(RunLogSummary.RateOf(record, _baseRateHz));
                if (record.MissedDeadline != 0)
                    _misses.Inc();
                if (record.SkippedTicks > 0)
                    _skipped.Inc(record.SkippedTicks);
                if (record.Safety == SafetyStatus.Clipped)
                    _clipped.Inc();
                var holding = record.Safety == SafetyStatus.Hold;
                var reason = holding ? record.HoldReason : HoldReason.None;
                if (holding)
                {
                    var label = reason.ToString();
                    _heldCycles.WithLabels(label).Inc();
                    if (record.HoldStarted != 0 || _lastReason != reason)
                        _holds.WithLabels(label).Inc();
                }
                if (reason != _lastReason)
                {
                    if (_lastReason != HoldReason.None)
                        _holdReason.WithLabels(_lastReason.ToString()).Set(0);
                    if (reason != HoldReason.None)
                        _holdReason.WithLabels(reason.ToString()).Set(1);
                    _lastReason = reason;
                }
                _holding.Set(holding ? 1 : 0);
            }
            _dropped.IncTo(_ring.Dropped);
            if (_link is not null)
            {
                var health = _link();
                _linkUp.Set(health.Status == ArmLinkStatus.Up ? 1 : 0);
                _stateAge.Set(health.LastStateAge.TotalSeconds);
                _linkLosses.IncTo(health.LinkLosses);
                _restarts.IncTo(health.ArmRestarts);
                _statesAccepted.IncTo(health.StatesAccepted);
                _framesRejected.IncTo(health.FramesRejected);
                _commandsSent.IncTo(health.CommandsSent);
            }
        }
    }

    /// <summary>Stops serving and the exporter's thread.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _stop.Set();
        _thread.Join();
        _server?.Stop();
        _server?.Dispose();
        _stop.Dispose();
    }
}

/// <summary>The metrics endpoint could not be served; the message names the address.</summary>
public sealed class MetricsEndpointException(string message, Exception inner) : Exception(message, inner);
