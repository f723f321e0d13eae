using System.CommandLine;
using System.Globalization;
using RobotRuntime.Arm;
using RobotRuntime.Native;
using RobotRuntime.Policies;
using RobotRuntime.Runtime;
using RobotRuntime.Safety;
using RobotRuntime.SimServer;
using RobotRuntime.Telemetry;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Vision.Cameras;
using RobotRuntime.Vision.Encoders;

namespace RobotRuntime.Cli.Runtime;

/// <summary>
/// <c>rr bench</c>: the control loop's figures at several rates against the simulator — the same
/// path as <c>rr run</c> (sim-server's camera streams over ZeroMQ, an ONNX PVR for both cameras, the
/// scripted reach, the safety layer, the arm over ZeroMQ, the run log), with cycles run on the
/// benchmark's own thread so the bytes it allocates can be counted.
/// </summary>
public static class BenchCommand
{
    /// <summary>Builds the <c>bench</c> verb.</summary>
    public static Command Create()
    {
        var rates = new Option<string>("--rates") { Description = "Comma-separated loop rates, Hz.", DefaultValueFactory = _ => "10,30,100" };
        var seconds = new Option<double>("--seconds") { Description = "Seconds per rate.", DefaultValueFactory = _ => 20 };
        var zoo = new Option<string?>("--zoo") { Description = "PVR zoo manifest (default: models/test/test-zoo.json)." };
        var encoder = new Option<string>("--encoder") { Description = "Encoder id in the zoo.", DefaultValueFactory = _ => "test-conv-batched" };
        var modelFile = new Option<string?>("--model-file") { Description = "Use this ONNX file instead of the zoo's path (e.g. an export with random weights)." };
        var size = new Option<int>("--size") { Description = "Camera frame size, pixels (square).", DefaultValueFactory = _ => 112 };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads.", DefaultValueFactory = _ => 1 };
        var fifo = new Option<int?>("--fifo") { Description = "Run the loop's thread under SCHED_FIFO at this priority (1–99), as realtime.fifo_priority does in rr run; the header says whether it was applied." };
        var pipeline = new Option<bool>("--pipeline") { Description = "Encode on a separate thread as frames arrive (encoder.pipeline in rr run's config); compute is then the cycle without the encode." };
        var verb = new Command("bench", "Measure the control loop against the simulator at several rates: compute p50/p99/max, missed deadlines per 10,000 cycles, " +
            "capture→command latency and bytes allocated per cycle. Prints a table and one JSON line per rate.")
        {
            rates, seconds, zoo, encoder, modelFile, size, threads, pipeline, fifo,
        };
        var device = new DeviceOption();
        foreach (var option in device.All)
            verb.Options.Add(option);
        verb.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            try
            {
                var rateList = result.GetValue(rates)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                    .Select(r => double.TryParse(r, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v is >= 10 and <= 100
                        ? v : throw new ArgumentException($"--rates: '{r}' is not a rate of 10–100 Hz")).ToList();
                var duration = result.GetValue(seconds);
                if (!(duration is > 0 and <= 3600))
                    throw new ArgumentException($"--seconds must be in (0, 3600], got {duration}");
                if (result.GetValue(fifo) is { } priority && priority is < 1 or > 99)
                    throw new ArgumentException($"--fifo must be a priority 1–99, got {priority}");
                var repository = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory) ?? Directory.GetCurrentDirectory();
                var zooPath = result.GetValue(zoo) ?? Path.Combine(repository, "models", "test", "test-zoo.json");
                var manifest = PvrZoo.Load(zooPath);
                var model = manifest.Get(result.GetValue(encoder)!);
                var file = result.GetValue(modelFile) ?? manifest.ResolveFile(model);
                var session = device.Settings(result, result.GetValue(threads));
                output.WriteLine($"rr bench: encoder {model.Id} ({file}), two cameras at {result.GetValue(size)} px, ONNX Runtime {Onnx.OnnxRuntimeLibrary.Version} on {Onnx.OnnxSessionSettings.Name(session.Device)}, {result.GetValue(threads)} thread(s), {(result.GetValue(pipeline) ? "pipelined encoding" : "encoding in the cycle")}, {duration} s per rate");
                output.WriteLine("| rate | cycles | compute p50 | p99 | max | missed / 10k | capture→command p50 | p99 | encode p50 | p99 | bytes/cycle |");
                output.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
                var json = new List<string>();
                foreach (var rate in rateList)
                {
                    var (row, line) = Measure(rate, duration, zooPath, model.Id, result.GetValue(modelFile), result.GetValue(size), session, result.GetValue(pipeline), result.GetValue(fifo), output);
                    output.WriteLine(row);
                    json.Add(line);
                }
                foreach (var line in json)
                    output.WriteLine(line);
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or KeyNotFoundException or Onnx.ExecutionProviderUnavailableException or Onnx.OnnxModelException or ConfigException)
            {
                error.WriteLine($"rr bench: {e.Message}");
                return 2;
            }
            catch (NativeDependencyMissingException e)
            {
                error.WriteLine($"rr bench: {e.Message}");
                return 3;
            }
        });
        return verb;
    }

    private static (string Row, string Json) Measure(double rateHz, double seconds, string zooPath, string encoderId, string? modelFile, int size,
        Onnx.OnnxSessionSettings session, bool pipeline, int? fifo, TextWriter output)
    {
        using var host = SimServerHost.Start(new SimServerOptions
        {
            StateEndpoint = "tcp://127.0.0.1:*", CommandEndpoint = "tcp://127.0.0.1:*", ControlEndpoint = "tcp://127.0.0.1:*",
            FrontCameraEndpoint = "tcp://127.0.0.1:*", WristCameraEndpoint = "tcp://127.0.0.1:*",
            CameraRateHz = 30, CameraWidth = size, CameraHeight = size, WatchdogMilliseconds = 500, Quiet = true,
        });
        var endpoints = host.Endpoints;
        // The run rr run would make of this config: the same composition root builds every part.
        var config = new RunConfig
        {
            RateHz = rateHz, ArmState = endpoints.State, ArmCommand = endpoints.Command, ArmControl = endpoints.Control, ArmSecret = endpoints.Secret,
            Cameras = [.. new[] { "front", "wrist" }.Select(name => new CameraSettings { Name = name, Backend = "stream", Endpoint = endpoints.Cameras[name], Width = size, Height = size })],
            EncoderZoo = zooPath, EncoderId = encoderId, EncoderThreads = session.IntraOpThreads, EncoderDevice = session.Device, EncoderDeviceId = session.DeviceId,
            EncoderOptions = modelFile is null ? Composition.SectionOptions.Empty("encoder") : Composition.SectionOptions.Empty("encoder").With("file", modelFile, "--model-file"),
            Policy = "scripted-reach", PipelineEncoding = pipeline, MaxFrameAge = TimeSpan.FromMilliseconds(150), JointMargin = 0.02,
        };
        using var composer = new Composition.LoopComposer(config, _ => { }, () => host.Server.Snapshot.Goal);
        composer.Preflight(camerasFromHost: false);
        composer.PreflightArm();
        var link = composer.CreateLink();
        if (!link.Handshake(TimeSpan.FromSeconds(2)).Succeeded || !SpinWait.SpinUntil(() => link.Health.Status == ArmLinkStatus.Up, TimeSpan.FromSeconds(2)))
            throw new InvalidDataException("the simulator's arm did not answer");
        link.Request(ArmControlRequest.Enable, TimeSpan.FromSeconds(2));
        composer.CreateCameras();
        var build = composer.CreatePolicy();
        var policy = build.Policy;
        var safety = composer.CreateSafety();
        var logPath = Path.Combine(Path.GetTempPath(), $"rr-bench-{Environment.ProcessId}-{rateHz}.rrlog");
        try
        {
            using (var log = RunLogWriter.Create(logPath, new RunLogMetadata(rateHz, "rr bench")))
            {
                var board = new LiveStatusBoard(["front", "wrist"], size, size, rateHz, policy.Name);
                var loop = composer.CreateLoop(build, safety, log, board);
                var realTime = RealTimeSetup.ConfigureCurrentThread(new RealTimeRequest(fifo, null, LowLatencyGc: true));
                if (fifo is not null)
                {
                    foreach (var outcome in realTime.Outcomes)
                        output.WriteLine($"rr bench: {outcome.Setting}: {(outcome.Applied ? "applied" : "not applied")} — {outcome.Detail}");
                }
                // Let the cameras deliver, then arm (retrying while frames are not there yet), then settle for a second.
                // A hold latches until a reset: one that began while settling (a frame late past max_frame_age on a
                // busy machine) would hold every measured cycle, measuring the hold instead of the acting loop. So
                // arm and settle again while the loop holds, within the same 10 s.
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
                do
                {
                    do
                        loop.RunCycles(5);
                    while (!loop.RequestReset(TimeSpan.FromSeconds(1)).Succeeded && DateTime.UtcNow < deadline);
                    loop.RunCycles((int)rateHz); // one second settling
                }
                while (loop.Status.Holding && DateTime.UtcNow < deadline);
                int cycles = (int)Math.Round(seconds * rateHz);
                // Count from an empty allocation buffer: a blocking gen-0 collection takes back this
                // thread's partly used buffer first. Otherwise any GC during the window (the in-process
                // simulator and the cameras allocate on their own threads) retires that buffer, and
                // its unused rest (up to the 8 KB allocation quantum) is counted as allocated by cycles
                // that allocate nothing (see tests/Shared/ThreadAllocations.cs). It runs before the
                // collection counts below are read, so it is not counted among the window's collections.
                GC.Collect(0, GCCollectionMode.Forced, blocking: true);
                long before = GC.GetAllocatedBytesForCurrentThread();
                int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
                loop.RunCycles(cycles);
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                // Collections anywhere in the process (the in-process simulator included) pause every thread.
                var collections = (GC.CollectionCount(0) - gen0, GC.CollectionCount(1) - gen1, GC.CollectionCount(2) - gen2);
                log.Flush();
                var records = RunLog.Read(logPath).Records.TakeLast(cycles).ToList();
                var compute = records.Select(r => r.ComputeNs / 1e6).Order().ToArray();
                var latency = records.Where(r => r.FrameAgeNs >= 0).Select(r => (r.FrameAgeNs + (r.EndNs - r.StartNs)) / 1e6).Order().ToArray();
                // Encode (preprocess + inference) of each new frame set, wherever it ran.
                var encode = records.Where(r => r.EncodeNs > 0).Select(r => (r.PreprocessNs + r.EncodeNs) / 1e6).Order().ToArray();
                int missed = records.Count(r => r.MissedDeadline != 0);
                // Each miss explained by its parts: how late the cycle started and how long it computed.
                var misses = string.Join(", ", records.Where(r => r.MissedDeadline != 0).Take(100)
                    .Select(r => string.Create(CultureInfo.InvariantCulture, $"{{\"cycle\": {r.CycleIndex}, \"scheduled_ns\": {r.ScheduledStartNs}, \"start_late_ms\": {(r.StartNs - r.ScheduledStartNs) / 1e6:0.000}, \"compute_ms\": {r.ComputeNs / 1e6:0.000}, \"skipped_ticks\": {r.SkippedTicks}}}")));
                int held = records.Count(r => r.Safety == SafetyStatus.Hold);
                // Why the arm was held: each hold's start (cycle and reason).
                var holdStarts = string.Join(", ", records.Where(r => r.HoldStarted != 0).Take(20)
                    .Select(r => string.Create(CultureInfo.InvariantCulture, $"{{\"cycle\": {r.CycleIndex}, \"reason\": \"{r.HoldReason}\"}}")));
                double perTenK = records.Count == 0 ? 0 : missed * 10_000.0 / records.Count;
                double bytesPerCycle = (double)allocated / cycles;
                var c = CultureInfo.InvariantCulture;
                string row = string.Create(c,
                    $"| {rateHz:0} Hz | {records.Count} | {P(compute, 50):0.00} ms | {P(compute, 99):0.00} ms | {compute[^1]:0.00} ms | {perTenK:0.#} | {P(latency, 50):0.0} ms | {P(latency, 99):0.0} ms | {P(encode, 50):0.00} ms | {P(encode, 99):0.00} ms | {bytesPerCycle:0.#} |");
                string json = string.Create(c,
                    $"{{\"rate_hz\": {rateHz}, \"pipelined\": {(pipeline ? "true" : "false")}, \"cycles\": {records.Count}, \"held_cycles\": {held}, \"hold_starts\": [{holdStarts}], \"compute_ms\": {{\"p50\": {P(compute, 50):0.000}, \"p99\": {P(compute, 99):0.000}, \"max\": {compute[^1]:0.000}}}, " +
                    $"\"missed\": {missed}, \"missed_per_10k\": {perTenK:0.##}, \"capture_to_command_ms\": {{\"p50\": {P(latency, 50):0.00}, \"p99\": {P(latency, 99):0.00}}}, \"encode_ms\": {{\"p50\": {P(encode, 50):0.000}, \"p99\": {P(encode, 99):0.000}}}, \"bytes_per_cycle\": {bytesPerCycle:0.##}, " +
                    $"\"gc_collections\": {{\"gen0\": {collections.Item1}, \"gen1\": {collections.Item2}, \"gen2\": {collections.Item3}}}, \"misses\": [{misses}]}}");
                return (row, json);
            }
        }
        finally
        {
            File.Delete(logPath);
        }

        static double P(double[] sorted, double percent) =>
            sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(percent / 100 * sorted.Length), 1, sorted.Length) - 1];
    }
}
