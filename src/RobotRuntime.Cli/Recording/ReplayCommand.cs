using System.CommandLine;
using System.Runtime.InteropServices;
using RobotRuntime.Live;
using RobotRuntime.Native;
using RobotRuntime.Onnx;
using RobotRuntime.Safety;
using RobotRuntime.SimServer;
using RobotRuntime.Telemetry;
using RobotRuntime.Timing;
using RobotRuntime.Vision;
using RobotRuntime.Vision.Encoders;
using RobotRuntime.Vision.Recording;

namespace RobotRuntime.Cli.Recording;

/// <summary>
/// <c>rr replay</c>: a recorded run (<c>rr run --record</c>) is re-run through a policy offline and compared
/// with what was recorded (<see cref="RunReplay"/>); a camera recording (<c>rr record</c>) is played back at its
/// recorded timing, optionally through a PVR encoder and on the live page.
/// </summary>
public static class ReplayCommand
{
    /// <summary>Builds the <c>replay</c> verb.</summary>
    public static Command Create()
    {
        var folder = new Argument<string>("folder") { Description = "A recorded run (a dataset made by rr run --record) or a camera recording (made by rr record)." };
        var policy = new Option<string?>("--policy") { Description = "Recorded run: replay with this policy instead of the recorded one — an agent package folder, or a policy kind (hold-still, scripted-reach, agent)." };
        var set = new Option<string[]>("--set") { Description = "Recorded run: change the recorded config before replaying, key.path=value as in rr run (e.g. --set policy.goal=[0.3,0,0.1]). Repeatable.", AllowMultipleArgumentsPerToken = false };
        var tolerance = new Option<double>("--tolerance") { Description = "Recorded run: a replayed command further than this (Euclidean norm over the values and the gripper target) from the recorded one counts as differing.", DefaultValueFactory = _ => 1e-6 };
        var output = new Option<string?>("--out") { Description = "Recorded run: write every compared cycle to this CSV (recorded sent and policy commands, replayed command, difference)." };
        var episode = new Option<int?>("--episode") { Description = "Recorded run: only this episode (default: all)." };
        var fast = new Option<bool>("--as-fast-as-possible") { Description = "Every frame, as fast as it decodes (and encodes), instead of at the recorded timing." };
        var loop = new Option<bool>("--loop") { Description = "Start again at the end, until Ctrl-C." };
        var size = new Option<string?>("--size") { Description = "Deliver frames at N or WxH (default: as recorded)." };
        var encoder = new Option<string?>("--encoder") { Description = "Encode every frame with this PVR from the zoo and write the embeddings to CSV." };
        var zoo = new Option<string?>("--zoo") { Description = "The PVR zoo manifest (default: models/pvr-zoo.json)." };
        var embeddings = new Option<string?>("--embeddings") { Description = "The embeddings CSV (default: <folder>/<encoder>.embeddings.csv)." };
        var runLog = new Option<string?>("--run-log") { Description = "A run log of the same run: its cycles are shown on the live page at their logged timing." };
        var livePort = new Option<int?>("--live-port") { Description = "Show the replay on the live page at http://127.0.0.1:PORT/ (0: a free port)." };

        var verb = new Command("replay", "Play a recording back (at its recorded timing, or as fast as possible), optionally encoding every frame to CSV and showing it on the live page.")
        {
            folder, fast, loop, size, encoder, zoo, embeddings, runLog, livePort, policy, set, tolerance, output, episode,
        };
        verb.SetAction(result =>
        {
            var stdout = result.InvocationConfiguration.Output;
            var stderr = result.InvocationConfiguration.Error;
            try
            {
                var path = result.GetValue(folder)!;
                var encoderName = result.GetValue(encoder);
                if (encoderName is null && (result.GetValue(zoo) is not null || result.GetValue(embeddings) is not null))
                    throw new ArgumentException("--zoo and --embeddings need --encoder.");
                if (result.GetValue(runLog) is not null && result.GetValue(livePort) is null)
                    throw new ArgumentException("--run-log is shown on the live page: give --live-port too.");
                if (RunReplay.IsDataset(path))
                {
                    if (encoderName is not null || result.GetValue(runLog) is not null || result.GetValue(livePort) is not null || result.GetValue(size) is not null
                        || result.GetValue(fast) || result.GetValue(loop))
                        throw new ArgumentException($"{path} is a recorded run: --encoder, --zoo, --embeddings, --run-log, --live-port, --size, --loop and --as-fast-as-possible are for camera recordings (rr record); a recorded run takes --policy, --set, --tolerance, --out and --episode.");
                    if (!(result.GetValue(tolerance) >= 0))
                        throw new ArgumentException($"--tolerance must be a number ≥ 0, got {result.GetValue(tolerance)}");
                    RunReplay.Run(path, new RunReplayOptions(result.GetValue(policy), result.GetValue(set) ?? [], result.GetValue(tolerance), result.GetValue(episode), result.GetValue(output)), stdout);
                    return 0;
                }
                if (result.GetValue(policy) is not null || (result.GetValue(set) ?? []).Length > 0 || result.GetValue(output) is not null || result.GetValue(episode) is not null)
                    throw new ArgumentException($"--policy, --set, --out and --episode are for a recorded run (a dataset made by rr run --record, with meta/info.json); {path} is not one.");
                if (Directory.Exists(path) && !File.Exists(Path.Combine(path, RecordingManifest.FileName)) && Directory.GetFiles(path, "*.frames.csv").Length == 0)
                    throw new InvalidDataException($"{path} is neither a recorded run (no meta/info.json: made by rr run --record) nor a camera recording (no {RecordingManifest.FileName} and no <camera>.frames.csv: made by rr record).");
                (int, int)? frameSize = result.GetValue(size) is { } text ? RobotRuntime.Timing.SettingText.ParseSize("--size", text) : null;
                Func<int, int, RobotRuntime.Encoders.IEncoder>? createEncoder = null;
                string? embeddingsPath = null;
                if (encoderName is not null)
                {
                    // The encoder rr run would make of an encoder section naming this PVR: the same composition root.
                    var config = new Runtime.RunConfig { EncoderZoo = result.GetValue(zoo) ?? PvrZoo.DefaultManifestPath(), EncoderId = encoderName };
                    var composer = new Composition.LoopComposer(config, _ => { });
                    composer.Preflight(camerasFromHost: true);
                    createEncoder = (width, height) => composer.CreateEncoder(1, width, height)!;
                    embeddingsPath = result.GetValue(embeddings) ?? Path.Combine(path, encoderName + ".embeddings.csv");
                }
                var log = result.GetValue(runLog) is { } logPath ? RunLog.Read(logPath) : null;

                LiveStatusBoard? board = null;
                using var stop = new CancellationTokenSource();
                using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
                using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
                var options = new ReplayOptions
                {
                    RealTime = !result.GetValue(fast),
                    Loop = result.GetValue(loop),
                    Size = frameSize,
                    CreateEncoder = createEncoder,
                    EmbeddingsPath = embeddingsPath,
                    OnFrame = (camera, frame) => board?.PublishFrame(camera, frame),
                };
                using var replay = new RecordingReplay(path, options);
                LivePageServer? page = null;
                Thread? cycles = null;
                try
                {
                    if (result.GetValue(livePort) is { } port)
                    {
                        var sizes = Enumerable.Range(0, replay.CameraNames.Count).Select(replay.FrameSize).ToArray();
                        board = LiveWiring.Board(replay.CameraNames, sizes, log?.Metadata.RateHz ?? 30, log is null ? "rr replay (frames only)" : $"rr replay ({log.Metadata.Description})");
                        page = LiveWiring.Start(board, port, $"rr replay {replay.Folder}", stdout);
                        if (log is not null)
                        {
                            cycles = new Thread(() => PublishRunLog(log, board, options.RealTime, options.Loop, stop.Token)) { IsBackground = true, Name = "replay run log" };
                            cycles.Start();
                        }
                    }
                    stdout.WriteLine($"replaying {string.Join(", ", replay.CameraNames)} from {replay.Folder} ({(options.RealTime ? "recorded timing" : "as fast as possible")}{(options.Loop ? ", looping until Ctrl-C" : "")})");
                    stdout.Flush();
                    var started = MonotonicClock.NowNanoseconds;
                    replay.Run(stop.Token);
                    var seconds = (MonotonicClock.NowNanoseconds - started) / 1e9;
                    stop.Cancel();
                    cycles?.Join();
                    var failed = false;
                    for (var i = 0; i < replay.CameraNames.Count; i++)
                    {
                        var encoded = encoderName is null ? "" : $", {replay.FramesEncoded(i)} encoded";
                        stdout.WriteLine($"  {replay.CameraNames[i]}: {replay.FramesReplayed(i)} frames replayed ({replay.FramesRecorded(i)} recorded){encoded}");
                        if (replay.EncoderFailure(i) is { } failure)
                        {
                            stderr.WriteLine($"rr replay: camera '{replay.CameraNames[i]}': encoder failed on {failure}");
                            failed = true;
                        }
                    }
                    stdout.WriteLine($"replay took {seconds:0.00} s{(embeddingsPath is null ? "" : $"; embeddings: {Path.GetFullPath(embeddingsPath)}")}");
                    return failed ? 1 : 0;
                }
                finally
                {
                    stop.Cancel();
                    cycles?.Join();
                    page?.Dispose();
                }

                void Cancel(PosixSignalContext context)
                {
                    context.Cancel = true;
                    stop.Cancel();
                }
            }
            catch (ArgumentException failure)
            {
                stderr.WriteLine($"rr replay: {CliText.WithoutParameter(failure)}");
                return 2;
            }
            catch (Runtime.ConfigException failure)
            {
                // The encoder section rr replay made from --zoo/--encoder, or a recorded run's config with --policy/--set: name the options.
                stderr.WriteLine(RunReplay.IsDataset(result.GetValue(folder)!)
                    ? $"rr replay: the recorded run's config with --policy/--set: {failure.Message}"
                    : $"rr replay: --encoder/--zoo: {failure.Message}");
                return 2;
            }
            catch (Exception failure) when (failure is VisionException or NativeDependencyMissingException or IOException or InvalidDataException or OnnxModelException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException or KeyNotFoundException)
            {
                stderr.WriteLine($"rr replay: {failure.Message}");
                return 1;
            }
        });
        return verb;
    }

    /// <summary>Publishes a run log's cycles to the board at their logged spacing (all at once when not real time).</summary>
    private static void PublishRunLog(RunLog log, LiveStatusBoard board, bool realTime, bool loop, CancellationToken cancel)
    {
        var records = log.Records;
        if (records.Count == 0)
            return;
        do
        {
            var origin = MonotonicClock.NowNanoseconds;
            foreach (var record in records)
            {
                if (realTime)
                {
                    var due = origin + (record.StartNs - records[0].StartNs);
                    var wait = due - MonotonicClock.NowNanoseconds;
                    if (wait > 0 && cancel.WaitHandle.WaitOne(TimeSpan.FromTicks(wait / 100)))
                        return;
                }
                if (cancel.IsCancellationRequested)
                    return;
                var holding = record.Safety == SafetyStatus.Hold;
                // The log keeps each hold's reason, not the filter's text.
                board.PublishCycle(record, holding, record.HoldReason, holding ? $"{record.HoldReason} (reason from the run log)" : "", MonotonicClock.NowNanoseconds);
            }
        }
        while (loop && !cancel.IsCancellationRequested);
    }
}
