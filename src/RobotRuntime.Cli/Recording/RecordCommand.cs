using System.CommandLine;
using System.Runtime.InteropServices;
using RobotRuntime.Live;
using RobotRuntime.Native;
using RobotRuntime.SimServer;
using RobotRuntime.Telemetry;
using RobotRuntime.Vision;
using RobotRuntime.Vision.Cameras;
using RobotRuntime.Vision.Recording;

namespace RobotRuntime.Cli.Recording;

/// <summary><c>rr record</c>: records cameras to a folder (MJPG AVI + timestamp sidecar per camera, and a manifest).</summary>
public static class RecordCommand
{
    private static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(10);

    /// <summary>Builds the <c>record</c> verb.</summary>
    public static Command Create()
    {
        var cameras = new Option<string[]>("--camera")
        {
            Description = "A camera: NAME=BACKEND[,KEY=VALUE]... (backends: " + string.Join(", ", CameraFactory.Backends)
                + "; keys: " + string.Join(", ", CameraSpec.Keys) + "), e.g. front=stream,endpoint=tcp://127.0.0.1:5610. Repeat for more cameras.",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
        };
        var output = new Option<string>("--out") { Description = "The recording folder (created; must not hold a recording already; with --dataset, a dataset of the same cameras, size, fps and task gets more episodes).", Required = true };
        var duration = new Option<string?>("--duration") { Description = "Stop after this long (e.g. 10s, 500ms); default: until Ctrl-C or every camera ended." };
        var size = new Option<string>("--size") { Description = "Frame size of cameras that do not set their own: N or WxH.", DefaultValueFactory = _ => "224" };
        var quality = new Option<int>("--quality") { Description = "JPEG quality 1..100 of the videos (a dataset's PNG images are lossless).", DefaultValueFactory = _ => 90 };
        var livePort = new Option<int?>("--live-port") { Description = "Also show the cameras on the live page at http://127.0.0.1:PORT/ (0: a free port)." };
        var dataset = new Option<bool>("--dataset")
        {
            Description = "Write an episode dataset in LeRobot's v2.1 layout (what rr collect writes and rr pretrain reads: PNG images in Parquet, one row per tick, "
                + "column observation.images.<camera>) instead of videos. "
                + "Enter ends the episode being recorded (the next frame starts a new one); typing stop ends the recording.",
        };
        var fps = new Option<double?>("--fps") { Description = "With --dataset: frames (rows) per second; each tick takes every camera's newest frame (default 10)." };
        var episodeLength = new Option<string?>("--episode-length") { Description = "With --dataset: an episode ends after this many frames (e.g. 200) or this long (e.g. 20s, converted at --fps), and the next starts; default: only Enter or the end of the recording ends one." };
        var episodes = new Option<int?>("--episodes") { Description = "With --dataset: stop after recording this many episodes." };
        var task = new Option<string?>("--task") { Description = "With --dataset: the task the episodes are labelled with (default 'unlabelled'; fixed for a dataset)." };

        var verb = new Command("record", "Record cameras to a folder: <camera>.avi (Motion-JPEG) and <camera>.frames.csv (capture times) per camera, and manifest.json; "
            + "or, with --dataset, an episode dataset for rr pretrain. Survives being killed; Ctrl-C stops it cleanly.")
        {
            cameras, output, duration, size, quality, livePort, dataset, fps, episodeLength, episodes, task,
        };
        verb.SetAction(result =>
        {
            var stdout = result.InvocationConfiguration.Output;
            var stderr = result.InvocationConfiguration.Error;
            try
            {
                var (width, height) = RobotRuntime.Timing.SettingText.ParseSize("--size", result.GetValue(size)!);
                if (width < 1 || height < 1)
                    throw new ArgumentException($"--size must be at least 1x1, got '{result.GetValue(size)}'.");
                var jpegQuality = result.GetValue(quality);
                if (jpegQuality is < 1 or > 100)
                    throw new ArgumentException($"--quality must be 1..100, got {jpegQuality}.");
                TimeSpan? limit = result.GetValue(duration) is { } text ? RobotRuntime.Timing.SettingText.ParseDuration("--duration", text) : null;
                var specs = result.GetValue(cameras)!;
                var settings = specs.Select(spec => (CameraSpec.Parse(spec, width, height), spec)).ToArray();
                var folder = result.GetValue(output)!;
                if (result.GetValue(dataset))
                {
                    var recording = new DatasetRecordingRequest(folder, settings, limit, result.GetValue(fps), result.GetValue(episodeLength),
                        result.GetValue(episodes), result.GetValue(task), result.GetValue(livePort));
                    return DatasetRecording.Execute(recording, stdout, stderr, Console.In);
                }
                var datasetOnly = new (string Name, bool Given)[]
                {
                    ("--fps", result.GetValue(fps) is not null), ("--episode-length", result.GetValue(episodeLength) is not null),
                    ("--episodes", result.GetValue(episodes) is not null), ("--task", result.GetValue(task) is not null),
                }.Where(o => o.Given).Select(o => o.Name).ToList();
                if (datasetOnly.Count > 0)
                    throw new ArgumentException($"{string.Join(", ", datasetOnly)}: only with --dataset (a recording of videos has no rows, episodes or task).");
                if (File.Exists(Path.Combine(folder, "meta", "info.json")))
                    throw new ArgumentException($"{Path.GetFullPath(folder)} holds an episode dataset; record videos into a folder of their own (or add --dataset to add episodes to it).");

                LiveStatusBoard? board = null;
                if (result.GetValue(livePort) is not null)
                {
                    var fps = settings.Max(s => s.Item1.Fps > 0 ? s.Item1.Fps : 30);
                    board = LiveWiring.Board(settings.Select(s => s.Item1.Name).ToArray(), settings.Select(s => (s.Item1.Width, s.Item1.Height)).ToArray(), fps, "rr record (no control loop)");
                }
                using var stop = new CancellationTokenSource();
                using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
                using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);

                using var page = board is null ? null : LiveWiring.Start(board, result.GetValue(livePort)!.Value, $"rr record {folder}", stdout);
                using var session = new RecordingSession(folder, settings, jpegQuality, board is null ? null : board.PublishFrame);
                stdout.WriteLine($"recording {string.Join(", ", session.CameraNames)} to {session.Folder} ({(limit is { } l ? $"for {l.TotalSeconds:0.###} s" : "until Ctrl-C")})");
                stdout.Flush();
                var until = limit is { } span ? DateTime.UtcNow + span : DateTime.MaxValue;
                var nextReport = DateTime.UtcNow + ReportEvery;
                while (!stop.IsCancellationRequested && DateTime.UtcNow < until && !session.AllCamerasEnded)
                {
                    stop.Token.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(Math.Clamp((until - DateTime.UtcNow).TotalMilliseconds, 1, 100)));
                    if (DateTime.UtcNow >= nextReport)
                    {
                        nextReport += ReportEvery;
                        stdout.WriteLine("  so far: " + string.Join(", ", session.CameraNames.Select((name, i) => $"{name} {session.FramesRecorded(i)} frames")));
                        stdout.Flush();
                    }
                }
                session.Dispose();
                var failed = false;
                for (var i = 0; i < session.CameraNames.Count; i++)
                {
                    var ended = session.EndReason(i) is { } reason ? $" (stopped early: {reason})" : "";
                    stdout.WriteLine($"  {session.CameraNames[i]}: {session.FramesRecorded(i)} frames{ended}");
                    if (session.WriteFailed(i))
                    {
                        stderr.WriteLine($"rr record: {session.EndReason(i)}");
                        failed = true;
                    }
                    else if (session.FramesRecorded(i) == 0)
                    {
                        stderr.WriteLine($"rr record: camera '{session.CameraNames[i]}' recorded no frames: {session.EndReason(i) ?? "none arrived"}");
                        failed = true;
                    }
                }
                stdout.WriteLine($"recording closed: {Path.Combine(session.Folder, RecordingManifest.FileName)}");
                return failed ? 1 : 0;

                void Cancel(PosixSignalContext context)
                {
                    context.Cancel = true;
                    stop.Cancel();
                }
            }
            catch (ArgumentException failure)
            {
                stderr.WriteLine($"rr record: {CliText.WithoutParameter(failure)}");
                return 2;
            }
            catch (Exception failure) when (failure is VisionException or NativeDependencyMissingException or IOException)
            {
                stderr.WriteLine($"rr record: {failure.Message}");
                return 1;
            }
        });
        return verb;
    }
}

/// <summary>Error text shared by the recording verbs.</summary>
internal static class CliText
{
    /// <summary>The message without .NET's "(Parameter '...')" suffix: the message names the input already.</summary>
    public static string WithoutParameter(ArgumentException failure) =>
        failure.ParamName is null ? failure.Message : failure.Message.Replace($" (Parameter '{failure.ParamName}')", "", StringComparison.Ordinal);
}
