using System.Globalization;
using RobotRuntime.Arm;
using RobotRuntime.Cameras;
using RobotRuntime.Encoders;
using RobotRuntime.Policies;
using RobotRuntime.Runtime;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Vision.Encoders;
using Spectre.Console;

namespace RobotRuntime.Cli.Runtime;

/// <summary>What a host adds to a run: where the goal comes from, and a hook called ~10 times a second.</summary>
internal sealed class RuntimeHooks
{
    /// <summary>The scripted reach's goal, read every cycle (null: the config's fixed goal).</summary>
    public Func<(double X, double Y, double Z)>? Goal { get; init; }

    /// <summary>Called about every 100 ms from the operator thread; return false to end the run.</summary>
    public Func<RuntimeSession, bool>? Tick { get; init; }

    /// <summary>Cameras the host made itself (the demo's in-process simulator cameras); null: from the config.</summary>
    public IReadOnlyList<ICameraSource>? Cameras { get; init; }

    /// <summary>Makes the GPIO driver of a chip for <c>safety.estop_gpio</c>/<c>safety.enable_gpio</c> (null: libgpiod); tests pass a driver of their own.</summary>
    public Func<int, System.Device.Gpio.GpioDriver>? GpioDriverForChip { get; init; }
}

/// <summary>
/// One run of the runtime as <c>rr run</c> and <c>rr demo</c> do it: connect the arm, open the cameras
/// and the encoder, run the <see cref="ControlLoop"/> on its own thread, take the operator's commands
/// (stdin lines <c>reset</c>, <c>estop</c>, <c>stop</c>; Ctrl-C; the stop file; SIGUSR1), report every
/// hold as it happens, and at the end write the summary, the plots and the CSV next to the run log.
/// </summary>
internal sealed class RuntimeSession : IDisposable
{
    private static readonly TimeSpan ControlTimeout = TimeSpan.FromSeconds(2);
    private readonly RunConfig _config;
    private readonly TextWriter _out;
    private readonly List<IDisposable> _owned = [];
    private readonly Lock _printGate = new();

    private RuntimeSession(RunConfig config, TextWriter output, string folder)
    {
        _config = config;
        _out = output;
        Folder = folder;
    }

    /// <summary>The run's folder (run log, summary, plots, CSV).</summary>
    public string Folder { get; }

    /// <summary>The arm link (<c>arm.kind</c>).</summary>
    public IArmLink Link { get; private set; } = null!;

    /// <summary>The loop.</summary>
    public ControlLoop Loop { get; private set; } = null!;

    /// <summary>The safety layer.</summary>
    public SafetyFilter Safety { get; private set; } = null!;

    /// <summary>Where the loop's figures are served for Prometheus, when configured.</summary>
    public string? MetricsUrl { get; private set; }

    /// <summary>The hardware e-stop and enable lines, when configured.</summary>
    public Safety.Gpio.GpioSafetyLines? Gpio { get; private set; }

    /// <summary>The board watchers read.</summary>
    public LiveStatusBoard Board { get; private set; } = null!;

    /// <summary>Prints one line for the operator (any thread).</summary>
    public void Say(string line)
    {
        lock (_printGate)
        {
            _out.WriteLine(line);
            _out.Flush();
        }
    }

    /// <summary>Runs to the end (duration, Ctrl-C, <c>stop</c>, or the hook); returns the process exit code.</summary>
    public static int Run(RunConfig config, RuntimeHooks hooks, TextWriter output, TextReader? operatorInput, CancellationToken cancellation)
    {
        Preflight(config, hooks);
        // One rr run per arm address on this machine (an in-process simulator arm has no address to share).
        using var claim = config.ArmKind == "zmq" ? ArmClaim.Take(config.ArmControl) : null;
        var folder = Path.Combine(config.RunsFolder, DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-" + config.Policy);
        for (var n = 2; Directory.Exists(folder); n++)
            folder = Path.Combine(config.RunsFolder, DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-" + config.Policy + "-" + n);
        Directory.CreateDirectory(folder);
        using var session = new RuntimeSession(config, output, Path.GetFullPath(folder));
        return session.Execute(hooks, operatorInput, cancellation);
    }

    /// <summary>
    /// Checks what can be checked before anything is created or contacted: the encoder's zoo entry and
    /// that its file is an ONNX model, a GPU device that cannot be used here, cameras that name a device
    /// or a file that is not there, and a live-page port already in use. Each problem is a <see cref="ConfigException"/> naming the key.
    /// </summary>
    internal static void Preflight(RunConfig config, RuntimeHooks hooks)
    {
        // Each section's kind and keys, and each backend's own checks (zoo and model file, device, cameras).
        using var composer = new Composition.LoopComposer(config, _ => { }, hooks.Goal);
        composer.Preflight(camerasFromHost: hooks.Cameras is not null);
        if (hooks.GpioDriverForChip is null)
        {
            foreach (var (key, line) in new[] { ("safety.estop_gpio", config.EmergencyStopGpio), ("safety.enable_gpio", config.EnableGpio) })
            {
                if (line is not null && !File.Exists($"/dev/gpiochip{line.Chip}"))
                {
                    var chips = Directory.Exists("/dev") ? Directory.GetFiles("/dev", "gpiochip*").Order(StringComparer.Ordinal).ToArray() : [];
                    throw new ConfigException($"{key}: /dev/gpiochip{line.Chip} is not there ({(chips.Length == 0 ? "this machine has no GPIO chips" : "chips here: " + string.Join(", ", chips))}); `gpiodetect` lists them");
                }
            }
        }
        if (config.MetricsPort is > 0 and var metricsPort)
        {
            var address = config.MetricsHost is "0.0.0.0" or "localhost" ? System.Net.IPAddress.Any : System.Net.IPAddress.Parse(config.MetricsHost);
            var probe = new System.Net.Sockets.TcpListener(address, metricsPort);
            try
            {
                probe.Start();
            }
            catch (System.Net.Sockets.SocketException e)
            {
                throw new ConfigException($"metrics.port: {config.MetricsHost}:{metricsPort} cannot be used ({e.Message}); another program has it: choose another port, or 0 for a free one");
            }
            finally
            {
                probe.Stop();
            }
        }
        if (config.LivePort is > 0 and var port)
        {
            var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            try
            {
                probe.Start();
            }
            catch (System.Net.Sockets.SocketException e)
            {
                throw new ConfigException($"live_port: 127.0.0.1:{port} cannot be used ({e.Message}); another program has it: choose another port, or 0 for a free one");
            }
            finally
            {
                probe.Stop();
            }
        }
        // Last: the arm link's own checks (the key file of the secret shared with the arm).
        composer.PreflightArm();
    }

    private int Execute(RuntimeHooks hooks, TextReader? operatorInput, CancellationToken cancellation)
    {
        Say($"rr: run folder {Folder}");
        var composer = Own(new Composition.LoopComposer(_config, Say, hooks.Goal));
        Link = composer.CreateLink();
        var hello = Link.Handshake(ControlTimeout);
        if (!hello.Succeeded)
        {
            Say(hello.Status == ArmControlStatus.Refused
                ? $"rr: the arm at {_config.ArmControl} refused this runtime: {hello.Detail}"
                : $"rr: the arm does not answer at {_config.ArmControl}: {hello.Detail}. Is the arm (or rr sim-server) running and are arm.state/command/control right?" +
                  (_config.ArmCurvePublicKey is null
                      ? " (An arm whose sockets use CURVE never answers a runtime without its public key: arm.curve_public_key.)"
                      : " (With arm.curve_public_key set, an arm with another CURVE key, or one without CURVE, never answers: check the key rr keygen --curve printed for this arm.)"));
            return 1;
        }
        if (Link is IArmClaim { Claimed: false })
        {
            Say($"rr: the arm at {_config.ArmControl} answered, but this runtime did not claim it; it cannot command it");
            return 1;
        }
        if (!SpinWait.SpinUntil(() => Link.Health.Status == ArmLinkStatus.Up, ControlTimeout))
        {
            Say($"rr: the arm answered the handshake but sends no state on {_config.ArmState} within {ControlTimeout.TotalSeconds:0} s; check arm.state");
            return 1;
        }
        try
        {
            return ExecuteClaimed(composer, hooks, operatorInput, cancellation);
        }
        catch
        {
            // Whatever stops the run before its end (a package that does not fit this arm, a camera
            // that cannot open): give the claim back so the next controller need not wait for its lease.
            (Link as IArmClaim)?.Release(ControlTimeout);
            throw;
        }
    }

    private int ExecuteClaimed(Composition.LoopComposer composer, RuntimeHooks hooks, TextReader? operatorInput, CancellationToken cancellation)
    {
        var arm = Link.Description!;
        Say($"rr: arm session {arm.Session:X8}, {arm.JointCount} joints, modes {string.Join("/", arm.SupportedModes)}, " +
            $"{(arm.HasGripper ? "gripper" : "no gripper")}, watchdog {arm.WatchdogMilliseconds} ms");

        CheckKinematics(composer.Context.Kinematics, arm);
        var cameras = _cameras = composer.CreateCameras(hooks.Cameras);
        var build = composer.CreatePolicy();
        var policy = build.Policy;
        Safety = composer.CreateSafety();
        var log = Own(RunLogWriter.Create(Path.Combine(Folder, "run.rrlog"),
            new RunLogMetadata(_config.RateHz, $"rr {policy.Name}; encoder {_config.EncoderId ?? "none"}; cameras {string.Join(",", cameras.Select(c => c.Name))}")));
        var width = cameras.Count > 0 ? cameras[0].Width : 1;
        var height = cameras.Count > 0 ? cameras[0].Height : 1;
        Board = new LiveStatusBoard(cameras.Select(c => c.Name).ToList(), width, height, _config.RateHz, policy.Name);
        RealTimeRequest? realTime = _config.FifoPriority is not null || _config.Cpus is not null
            ? new RealTimeRequest(_config.FifoPriority, _config.Cpus, LowLatencyGc: true)
            : new RealTimeRequest(null, null, LowLatencyGc: true);
        // Only a run that serves metrics pays for the ring (2,048 records, preallocated).
        var metricsRing = _config.MetricsPort is null ? null : new Telemetry.CycleRecordRing(2048);
        var recordingRing = StartRecording(composer, arm, cameras, build);
        Loop = composer.CreateLoop(build, Safety, log, Board, realTime, metricsRing, recordingRing);
        if (_config.MetricsPort is { } metricsPort)
        {
            var exporter = Own(new Metrics.LoopMetricsExporter(metricsRing!, _config.RateHz, () => Link.Health, _config.MetricsHost, metricsPort));
            MetricsUrl = exporter.Url;
            Say($"rr: metrics for Prometheus at {exporter.Url}");
        }
        Safety.EmergencyStopRaised = _ =>
        {
            if (_relayEmergencyStops)
                _emergencyStopPending.Release();
        };
        var relay = StartEmergencyStopRelay();
        if (_config.StopFile is not null)
            Own(new EmergencyStopWatcher(Safety, _config.StopFile, TimeSpan.FromMilliseconds(50), watchSignal: OperatingSystem.IsLinux()));
        else if (OperatingSystem.IsLinux())
            Own(new EmergencyStopWatcher(Safety, null, TimeSpan.FromMilliseconds(50), watchSignal: true));
        if (_config.EmergencyStopGpio is not null || _config.EnableGpio is not null)
        {
            // The enable line lets the arm move only while this run is acting: the loop running, the
            // arm link up and (checked inside) no hold and no e-stop.
            Gpio = Own(new Safety.Gpio.GpioSafetyLines(Safety, new Safety.Gpio.GpioSafetyOptions
            {
                EmergencyStop = _config.EmergencyStopGpio,
                Debounce = _config.GpioDebounce,
                Enable = _config.EnableGpio,
            }, () => Loop.IsRunning && Link.Health.Status == ArmLinkStatus.Up, hooks.GpioDriverForChip));
            Say($"rr: GPIO {Gpio.Describe()}");
        }

        Loop.Start();
        if (_config.LivePort is { } port)
        {
            var page = Own(Live.LivePageServer.Start(Board, new Live.LivePageOptions
            {
                Port = port,
                Title = $"rr {policy.Name}",
                EmergencyStop = text =>
                {
                    Safety.EmergencyStop(EmergencyStopSource.Operator, string.IsNullOrWhiteSpace(text) ? "e-stop pressed on the live page" : text);
                    return new Live.LiveCommandResult(true, "e-stop pressed: the arm holds");
                },
                Reset = () =>
                {
                    var reset = OperatorReset();
                    Say(reset.Succeeded ? "rr: reset (live page): " + reset.Message : "rr: reset refused (live page): " + reset.Message);
                    return new Live.LiveCommandResult(reset.Succeeded, reset.Message);
                },
                OperatorKey = Live.LivePageServer.NewOperatorKey(),
            }));
            Say($"rr: live page {page.Url}");
            Say($"rr: operator's live page (can reset; keep this address to yourself): {page.OperatorUrl}");
        }
        Say($"rr: loop running at {_config.RateHz.ToString(CultureInfo.InvariantCulture)} Hz; policy {policy.Name}; e-stop: type 'estop', touch the stop file or kill -USR1 {Environment.ProcessId}");
        if (_config.Degrade is { } degrade)
            Say($"rr: on missed deadlines the rate steps down to {string.Join(", then ", degrade.RatesHz.Select(RunLogSummary.Hz))} Hz ({degrade.AfterMisses} misses within {degrade.WithinCycles} cycles), " +
                $"and back up one rate after {Seconds(degrade.RecoverAfter)} without a miss; at {RunLogSummary.Hz(degrade.RatesHz[^1])} Hz {_config.MaxDeadlineMisses} misses in a row hold the arm");
        if (_config.Cameras.Count > 1 && _config.FrameSkewWarning() is { } skew)
            Say(skew);
        var enable = Link.Request(ArmControlRequest.Enable, ControlTimeout);
        Say(enable.Succeeded ? "rr: arm enabled" : $"rr: the arm refused ENABLE: {enable.Detail}");
        if (SpinWait.SpinUntil(() => Loop.RealTimeReport is not null || !Loop.IsRunning, ControlTimeout) && Loop.RealTimeReport is { } report)
            foreach (var line in report.ToText().Split('\n', StringSplitOptions.RemoveEmptyEntries))
                Say("rr: real-time: " + line.Trim());
        Arm(TimeSpan.FromSeconds(10));

        var operatorThread = operatorInput is null ? null : StartOperator(operatorInput);
        var lastDropped = 0L;
        var lastDropLine = DateTime.MinValue;
        var recordingFailureSaid = false;
        var started = DateTime.UtcNow;
        var lastHold = HoldReason.None;
        var lastStatusLine = DateTime.UtcNow;
        string ending = "stopped";
        while (true)
        {
            if (cancellation.IsCancellationRequested) { ending = "Ctrl-C"; break; }
            if (_stopTyped) { ending = "'stop' typed"; break; }
            if (_config.Duration is { } duration && DateTime.UtcNow - started >= duration) { ending = $"duration {duration.TotalSeconds:0.#} s reached"; break; }
            if (!Loop.IsRunning) { ending = "the loop ended: " + Loop.Failure?.Message; break; }
            if (hooks.Tick is { } tick && !tick(this)) { ending = "the host ended the run"; break; }
            ReportRateChanges();
            var status = Loop.Status;
            if (status.HoldReason != lastHold)
            {
                // Judged by the reason alone: Holding and HoldReason are read one after the other
                // from another thread and may straddle a cycle.
                Say(status.HoldReason != HoldReason.None
                    ? $"rr: HOLD {status.HoldReason}: {status.HoldText}{(status.HoldReason == HoldReason.PolicyFailed ? " (" + status.PolicyError + ")" : "")} — type 'reset' once the cause is gone"
                    : "rr: released, acting");
                lastHold = status.HoldReason;
            }
            if (_recorder is { } recorder)
            {
                if (recorder.Dropped != lastDropped && DateTime.UtcNow - lastDropLine >= TimeSpan.FromSeconds(1))
                {
                    lastDropped = recorder.Dropped;
                    lastDropLine = DateTime.UtcNow;
                    Say($"rr: recording: {lastDropped} cycle(s) dropped so far — the writer is behind the loop (its ring holds {recordingRing!.Capacity} cycles; record.buffer_cycles); the loop is not slowed");
                }
                if (recorder.Failure is { } failure && !recordingFailureSaid)
                {
                    recordingFailureSaid = true;
                    Say($"rr: RECORDING FAILED: {failure.Message}; the run goes on unrecorded from here (what was flushed is kept)");
                }
            }
            if (DateTime.UtcNow - lastStatusLine >= TimeSpan.FromSeconds(5))
            {
                lastStatusLine = DateTime.UtcNow;
                Say($"rr: {status.Cycles} cycles, {status.MissedDeadlines} missed deadlines, {(status.HoldReason != HoldReason.None ? "holding (" + status.HoldReason + ")" : "acting")}" +
                    (status.RateHz != _config.RateHz ? $", at {RunLogSummary.Hz(status.RateHz)} Hz (degraded from {RunLogSummary.Hz(_config.RateHz)} Hz)" : "") +
                    (_recorder is { } r ? $"; recorded {r.Recorded} ({r.Dropped} dropped)" : ""));
            }
            Thread.Sleep(100);
        }
        ReportRateChanges();
        Say($"rr: stopping ({ending}): holding the arm");
        // Ending a run is not an emergency: the loop holds, then the arm is disabled (it holds by
        // itself), without latching its e-stop.
        _relayEmergencyStops = false;
        Loop.Stop("run ended: " + ending, TimeSpan.FromSeconds(5));
        ReportRateChanges();
        Link.Request(ArmControlRequest.Disable, ControlTimeout);
        (Link as IArmClaim)?.Release(ControlTimeout);
        _stopTyped = true;
        _emergencyStopPending.Release();
        relay.Join(ControlTimeout * 4);
        log.Flush();
        log.Dispose();
        _owned.Remove(log);
        StopRecording();
        Report();
        return Loop.Failure is null ? 0 : 1;
    }

    /// <summary>Prints every rate change the loop queued since the last call (operator thread).</summary>
    private void ReportRateChanges()
    {
        while (Loop.TryReadRateChange(out var change))
            Say(DescribeRateChange(change, _config));
    }

    /// <summary>
    /// One rate change as the operator reads it: "rr: rate 25 Hz → 12.5 Hz after 3 deadline misses in 4 cycles",
    /// "rr: rate 12.5 Hz → 25 Hz after 5 s without a miss".
    /// </summary>
    internal static string DescribeRateChange(RateChangeEvent change, RunConfig config)
    {
        var rates = $"rr: rate {RunLogSummary.Hz(change.FromHz)} Hz → {RunLogSummary.Hz(change.ToHz)} Hz";
        if (change.Change == RateChange.SteppedUp)
            return $"{rates} after {Seconds(config.DegradeRecoverAfter)} without a miss";
        return $"{rates} after {change.Misses} deadline misses in {change.InCycles} cycles" +
            (change.ToLowest ? $"; the lowest rate: {config.MaxDeadlineMisses} missed deadlines in a row now hold the arm" : "");
    }

    private static string Seconds(TimeSpan duration) => duration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    private Datasets.Recording.DeploymentRecorder? _recorder;

    /// <summary>
    /// With <c>record</c> (or <c>--record</c>): the ring the loop copies every cycle into and the recorder
    /// that writes it into the dataset folder, with a copy of this run's config in <c>meta/rr-runs/</c>
    /// so that <c>rr replay</c> can rebuild its encoder and policy. Null without a recording.
    /// </summary>
    private RecordingRing? StartRecording(Composition.LoopComposer composer, ArmDescription arm, IReadOnlyList<ICameraSource> cameras, Composition.PolicyBuild build)
    {
        if (_config.Record is not { } record)
            return null;
        var folder = record.Folder ?? throw new ConfigException("record: 'folder' is needed (record: DIR, record.folder, or rr run --record DIR)");
        if (cameras.Count == 0)
            throw new ConfigException("record: a recording keeps every camera's frames, and this run has no camera ('cameras' is empty)");
        if (cameras.Any(c => c.Width != cameras[0].Width || c.Height != cameras[0].Height))
            throw new ConfigException($"record: every camera of a recording must give frames of one size; this run's are {string.Join(", ", cameras.Select(c => $"{c.Name} {c.Width}×{c.Height}"))}");
        var task = record.Task
            ?? (_config.ArmKind == "sim" ? _config.ArmOptions.Text("task", "reach")! : _config.Policy);
        // An agent's own action in [−1, 1] is kept beside the arm's command: it is what offline adaptation (rr train --from-dataset) learns from.
        var normalised = build.Policy is INormalisedActionSource source ? source.NormalisedActionNames : null;
        var layout = Datasets.Recording.DeploymentLayout.Create(arm.JointCount, cameras.Select(c => c.Name).ToList(), cameras[0].Width, cameras[0].Height,
            build.Policy.Mode, _config.RateHz, task, normalised);
        var sizes = cameras.Select(c => (c.Width, c.Height)).ToList();
        var capacity = record.BufferCycles ?? RecordingRing.CapacityFor(sizes, RecordSettings.DefaultBufferBytes);
        var ring = new RecordingRing(sizes, capacity, composer.Context.RewardSource, normalised?.Count ?? 0);
        var run = Path.GetFileName(Folder);
        var configFile = $"meta/rr-runs/{run}.yaml";
        try
        {
            _recorder = Own(Datasets.Recording.DeploymentRecorder.Start(folder, new Datasets.Recording.DeploymentRecordingOptions
            {
                Layout = layout,
                Task = task,
                Extra = new Dictionary<string, string>
                {
                    ["run"] = run,
                    ["run_folder"] = Folder,
                    ["config"] = configFile,
                    ["policy"] = build.Policy.Name,
                    ["encoder"] = build.Encoder?.Name ?? "none",
                    ["arm_session"] = arm.Session.ToString("X8", CultureInfo.InvariantCulture),
                },
            }, ring));
            Cli.Recording.RecordedRun.Write(_recorder.Dataset.Folder, run, _config, Folder, arm);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new ConfigException($"record: {Path.GetFullPath(folder)}: {e.Message}");
        }
        Say($"rr: recording every cycle into {_recorder.Dataset.Folder} (task {task}; episode {_recorder.Dataset.Episodes.Count} next; " +
            $"ring of {capacity} cycles, {capacity * RecordingRing.BytesPerCycle(sizes) / 1e6:0.#} MB; rewards {(ring.HasRewardSource ? "from the simulator" : "unlabelled")})");
        return ring;
    }

    /// <summary>After the loop stopped: the recorder writes what is left and stores the last episode.</summary>
    private void StopRecording()
    {
        if (_recorder is not { } recorder)
            return;
        if (!recorder.Stop(TimeSpan.FromMinutes(2)))
            Say("rr: recording: the last episode is still being stored after 2 minutes; its journal is kept and the next open of the dataset stores it");
        var perCycle = recorder.Recorded == 0 ? 0 : recorder.JournalBytes / (double)recorder.Recorded;
        Say($"rr: recorded {recorder.Recorded} cycles into {recorder.Dataset.Folder} ({recorder.EpisodesStored} episode(s) stored, {recorder.Dataset.Episodes.Count} in the dataset; " +
            $"{recorder.Dropped} cycle(s) dropped; {perCycle / 1024:0.#} KB a cycle)" +
            (recorder.Failure is { } failure ? $"; the recording failed: {failure.Message}" : ""));
    }

    /// <summary>
    /// A kinematic model that does not describe this arm would send the arm somewhere else than the
    /// policy means: before anything moves, its forward kinematics of the measured joints is compared with
    /// the end-effector pose the arm reports. Off by more than 5 cm (or 0.2 rad): refused; by more than
    /// 5 mm: said (a tool offset the model and the arm's controller count differently).
    /// </summary>
    private void CheckKinematics(RobotRuntime.Kinematics.KinematicChain? chain, ArmDescription arm)
    {
        if (chain is null)
            return;
        if (chain.JointCount != arm.JointCount)
            throw new ConfigException($"arm.kinematics: the model '{chain.Name}' has {chain.JointCount} joints; the arm has {arm.JointCount}");
        if (!Link.TryGetLatestState(TimeSpan.FromSeconds(1), out var state, out _) || state.JointCount != chain.JointCount)
            return;
        var norm = state.EndEffectorQw * state.EndEffectorQw + state.EndEffectorQx * state.EndEffectorQx
            + state.EndEffectorQy * state.EndEffectorQy + state.EndEffectorQz * state.EndEffectorQz;
        if (!(norm > 0.25))
        {
            Say($"rr: the arm reports no end-effector orientation; arm.kinematics '{chain.Name}' cannot be checked against it");
            return;
        }
        Span<double> q = stackalloc double[chain.JointCount];
        for (var j = 0; j < q.Length; j++)
            q[j] = state.Positions[j];
        chain.Forward(q, out var model);
        var reported = RobotRuntime.Kinematics.Pose.FromQuaternion(state.EndEffectorX, state.EndEffectorY, state.EndEffectorZ,
            state.EndEffectorQw, state.EndEffectorQx, state.EndEffectorQy, state.EndEffectorQz);
        Span<double> difference = stackalloc double[6];
        RobotRuntime.Kinematics.Pose.Difference(in model, in reported, difference);
        var metres = Math.Sqrt(difference[0] * difference[0] + difference[1] * difference[1] + difference[2] * difference[2]);
        var radians = Math.Sqrt(difference[3] * difference[3] + difference[4] * difference[4] + difference[5] * difference[5]);
        var text = string.Create(CultureInfo.InvariantCulture, $"{metres * 1000:0.#} mm and {radians:0.###} rad");
        if (metres > 0.05 || radians > 0.2)
            throw new ConfigException($"arm.kinematics: the model '{chain.Name}' puts the end effector {text} away from where the arm reports it at its measured joints; it is not this arm's model (or the arm reports another tool point): refusing to solve inverse kinematics with it");
        Say(metres > 0.005 || radians > 0.02
            ? $"rr: warning: arm.kinematics '{chain.Name}' is {text} off the arm's reported end-effector pose (a tool offset counted differently?)"
            : $"rr: arm.kinematics '{chain.Name}' agrees with the arm's reported end-effector pose ({text} apart)");
    }

    /// <summary>Releases the initial NotArmed hold, retrying while the cameras and the arm come up.</summary>
    private void Arm(TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        SafetyResetResult result;
        do
        {
            result = Loop.RequestReset(ControlTimeout);
            if (result.Succeeded)
            {
                Say("rr: armed: " + result.Message);
                return;
            }
            Thread.Sleep(100);
        }
        while (DateTime.UtcNow < deadline && Loop.IsRunning);
        Say("rr: could not arm: " + result.Message);
        foreach (var camera in _cameras)
        {
            if (camera.Health is { Reason.Length: > 0 } health)
                Say($"rr: camera '{camera.Name}': {health.Reason}");
        }
    }

    /// <summary>
    /// What an operator's 'reset' does: enable the arm (re-handshaking if it restarted), then release the
    /// safety hold. An arm that has just come back may not answer its first ENABLE in time (its control
    /// channel still connecting, a loaded machine): a request that gets no reply is sent again, three
    /// times in all, before the reset is refused.
    /// </summary>
    public SafetyResetResult OperatorReset()
    {
        // An e-stop or a fault the arm latched (ours relayed, or its own) is released at the arm
        // first: RESET clears the latch and leaves the arm disabled; ENABLE then lets it move.
        if (Link.TryGetLatestState(TimeSpan.MaxValue, out var armState, out _) &&
            (armState.Status & (ArmStatusFlags.EmergencyStop | ArmStatusFlags.Fault)) != 0)
        {
            var release = Link.Request(ArmControlRequest.Reset, ControlTimeout);
            if (!release.Succeeded)
                return new SafetyResetResult(false, Safety.HoldReason, "the arm refused RESET of its e-stop/fault latch: " + release.Detail);
        }
        var enable = Link.Request(ArmControlRequest.Enable, ControlTimeout);
        for (int attempt = 1; attempt < 3 && enable.Status == ArmControlStatus.TimedOut; attempt++)
        {
            enable = Link.Request(ArmControlRequest.Enable, ControlTimeout);
        }
        if (!enable.Succeeded)
            return new SafetyResetResult(false, Safety.HoldReason, "the arm refused ENABLE: " + enable.Detail);
        // The enable may have re-handshaken with a restarted arm: wait for its state before resetting.
        SpinWait.SpinUntil(() => Link.Health.Status == ArmLinkStatus.Up, ControlTimeout);
        Thread.Sleep((int)Math.Ceiling(3000 / _config.RateHz)); // a few cycles see the link up before the reset is judged
        return Loop.RequestReset(ControlTimeout);
    }

    private volatile bool _stopTyped;

    private IReadOnlyList<ICameraSource> _cameras = [];
    private volatile bool _relayEmergencyStops = true;
    private readonly SemaphoreSlim _emergencyStopPending = new(0);

    /// <summary>
    /// Relays every e-stop (typed, live page, stop file, signal, hardware input) to the arm's firmware
    /// as ESTOP, so the arm latches its own e-stop and holds even if this process dies; retries an
    /// unanswered request. The loop's hold does not wait for it: it holds the arm from the next cycle.
    /// Between e-stops it sends a HEARTBEAT every half second, which keeps this runtime's claim on the
    /// arm alive while no commands flow (an e-stop, a disabled arm), and says so once if the arm
    /// answers that another controller has taken it.
    /// </summary>
    private Thread StartEmergencyStopRelay()
    {
        var thread = new Thread(() =>
        {
            var claimLost = false;
            while (true)
            {
                if (!_emergencyStopPending.Wait(TimeSpan.FromMilliseconds(500)))
                {
                    if (_stopTyped || !_relayEmergencyStops)
                        continue;
                    var beat = Link.Request(ArmControlRequest.Heartbeat, ControlTimeout);
                    if (beat.Status == ArmControlStatus.Refused && !claimLost)
                    {
                        claimLost = true;
                        Say($"rr: the arm no longer takes this runtime's requests: {beat.Detail}");
                    }
                    else if (beat.Succeeded)
                    {
                        claimLost = false;
                    }
                    continue;
                }
                if (_stopTyped && !_relayEmergencyStops)
                    return;
                while (_emergencyStopPending.CurrentCount > 0)
                    _emergencyStopPending.Wait(0); // several presses: one ESTOP
                if (!_relayEmergencyStops)
                    continue;
                var result = Link.Request(ArmControlRequest.EmergencyStop, ControlTimeout);
                for (int attempt = 1; attempt < 3 && !result.Succeeded; attempt++)
                    result = Link.Request(ArmControlRequest.EmergencyStop, ControlTimeout);
                Say(result.Succeeded
                    ? $"rr: e-stop sent to the arm: ESTOP acknowledged, the arm latched its e-stop (status {result.ArmStatus})"
                    : $"rr: the arm did not acknowledge ESTOP ({result.Detail}); the runtime holds it, and its watchdog holds if commands stop");
            }
        }) { IsBackground = true, Name = "rr e-stop relay" };
        thread.Start();
        return thread;
    }

    private Thread StartOperator(TextReader input)
    {
        var thread = new Thread(() =>
        {
            while (!_stopTyped)
            {
                string? line;
                try
                {
                    line = input.ReadLine();
                }
                catch (IOException)
                {
                    return;
                }
                if (line is null)
                    return;
                switch (line.Trim().ToLowerInvariant())
                {
                    case "":
                        break;
                    case "reset":
                        var result = OperatorReset();
                        Say(result.Succeeded ? "rr: reset: " + result.Message : "rr: reset refused: " + result.Message);
                        break;
                    case "estop" or "e-stop":
                        Safety.EmergencyStop(EmergencyStopSource.Operator, "e-stop typed on the operator's terminal");
                        break;
                    case "stop" or "quit" or "exit":
                        _stopTyped = true;
                        break;
                    default:
                        Say($"rr: unknown command '{line.Trim()}'; type reset, estop or stop");
                        break;
                }
            }
        }) { IsBackground = true, Name = "rr operator" };
        thread.Start();
        return thread;
    }

    private void Report()
    {
        var log = RunLog.Read(Path.Combine(Folder, "run.rrlog"));
        var summary = RunLogSummary.Compute(log);
        var table = new Table().Title(summary.CyclesAndRate())
            .AddColumn("stage").AddColumn(new TableColumn("p50 ms").RightAligned()).AddColumn(new TableColumn("p95 ms").RightAligned())
            .AddColumn(new TableColumn("p99 ms").RightAligned()).AddColumn(new TableColumn("max ms").RightAligned());
        foreach (var stage in summary.Stages)
            table.AddRow(stage.Stage.ToString(), Ms(stage.P50), Ms(stage.P95), Ms(stage.P99), Ms(stage.Max));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(_out), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        lock (_printGate)
            console.Write(table);
        Say($"missed deadlines: {summary.MissedDeadlines} ({summary.SkippedTicks} ticks skipped); clipped cycles: {summary.ClippedCycles}");
        // A planner that keeps returning at its budget acts worse than it was evaluated: say so.
        var loopStatus = Loop.Status;
        if (loopStatus.PolicyCutShort > 0)
        {
            long fewer = loopStatus.PolicyCutShort - loopStatus.PolicyFallbackOnly;
            Say($"policy cut short by its time budget: {loopStatus.PolicyCutShort} of {loopStatus.Cycles} cycles: " +
                $"{fewer} planned with fewer iterations than configured, {loopStatus.PolicyFallbackOnly} acted on the policy prior alone " +
                "(the planner's budget is 70 % of the period: a lower rate_hz, or fewer policy.samples / policy.iterations, give it room)");
        }
        if (summary.HeldCyclesByReason.Count == 0)
            Say("holds: none");
        foreach (var (reason, cycles) in summary.HeldCyclesByReason)
            Say($"hold {reason}: {summary.HoldsByReason.GetValueOrDefault(reason)} time(s), {cycles} cycle(s)");
        foreach (var line in summary.RateLines())
            Say(line);
        var plots = Plots.RunPlots.WriteFiles(log, Path.Combine(Folder, "run"));
        RunLogCsv.Write(log, Path.Combine(Folder, "run.csv"));
        File.WriteAllText(Path.Combine(Folder, "summary.txt"), summary.ToText());
        Say($"rr: wrote {Path.Combine(Folder, "run.rrlog")}, run.csv, summary.txt, {string.Join(", ", plots.Select(Path.GetFileName))}");

        static string Ms(double ms) => ms.ToString("0.000", CultureInfo.InvariantCulture);
    }

    private T Own<T>(T item) where T : IDisposable
    {
        _owned.Add(item);
        return item;
    }

    public void Dispose()
    {
        _stopTyped = true;
        _relayEmergencyStops = false;
        _emergencyStopPending.Release();
        for (var i = _owned.Count - 1; i >= 0; i--)
            _owned[i].Dispose();
    }
}
