using System.Globalization;
using System.Runtime.InteropServices;
using RobotRuntime.Cameras;
using RobotRuntime.Datasets;
using RobotRuntime.Datasets.Recording;
using RobotRuntime.Pretraining;
using RobotRuntime.Telemetry;
using RobotRuntime.Vision.Cameras;
using RobotRuntime.Vision.Recording;

namespace RobotRuntime.Cli.Recording;

/// <summary>What <c>rr record --dataset</c> was asked for, as parsed from the command line.</summary>
/// <param name="Folder">The dataset folder.</param>
/// <param name="Cameras">The cameras with the text each was given as.</param>
/// <param name="Duration">Stop after this long; null: until stopped.</param>
/// <param name="Fps">--fps, or null for the default.</param>
/// <param name="EpisodeLength">--episode-length as given (frames, or a duration), or null.</param>
/// <param name="Episodes">--episodes, or null.</param>
/// <param name="Task">--task, or null for the default.</param>
/// <param name="LivePort">--live-port, or null.</param>
internal sealed record DatasetRecordingRequest(
    string Folder,
    IReadOnlyList<(CameraSettings Settings, string Spec)> Cameras,
    TimeSpan? Duration,
    double? Fps,
    string? EpisodeLength,
    int? Episodes,
    string? Task,
    int? LivePort);

/// <summary>
/// <c>rr record --dataset</c>: the user's cameras into an episode dataset (<see cref="CameraDatasetRecorder"/>),
/// episodes split by <c>--episode-length</c>, by Enter on the terminal, or by the end of the recording.
/// </summary>
internal static class DatasetRecording
{
    /// <summary>Rows per second when --fps is not given.</summary>
    public const double DefaultFps = 10;

    private static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Frames in an episode of <paramref name="text"/>: a whole number of frames, or a duration converted at <paramref name="fps"/>.</summary>
    /// <exception cref="ArgumentException">Neither, or less than one frame; the message names --episode-length.</exception>
    public static int EpisodeFrames(string text, double fps)
    {
        var trimmed = text.Trim();
        if (int.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out var frames))
            return frames >= 1 ? frames : throw new ArgumentException($"--episode-length must be at least 1 frame, got '{text}'.");
        if (trimmed.Length > 0 && char.IsAsciiDigit(trimmed[^1]))
            throw new ArgumentException($"--episode-length: '{text}' is neither a whole number of frames (e.g. 200) nor a duration with its unit (e.g. 20s, 500ms).");
        var duration = RobotRuntime.Timing.SettingText.ParseDuration("--episode-length", trimmed);
        var converted = (int)Math.Round(duration.TotalSeconds * fps);
        return converted >= 1 ? converted
            : throw new ArgumentException($"--episode-length {text} is less than one frame at {fps.ToString(CultureInfo.InvariantCulture)} fps.");
    }

    /// <summary>Records until --duration, --episodes, Ctrl-C/SIGTERM, "stop" on <paramref name="input"/>, or a camera lost for good.</summary>
    /// <param name="request">What was asked.</param>
    /// <param name="stdout">Progress and the summary.</param>
    /// <param name="stderr">Errors.</param>
    /// <param name="input">Operator lines: an empty line (Enter) or "next" ends the episode, "stop" the recording; null: none.</param>
    /// <returns>The exit code: 0 recorded, 1 nothing recorded or writing failed, 2 bad input.</returns>
    public static int Execute(DatasetRecordingRequest request, TextWriter stdout, TextWriter stderr, TextReader? input)
    {
        var gate = new Lock();
        void Say(string line)
        {
            lock (gate)
            {
                stdout.WriteLine(line);
                stdout.Flush();
            }
        }

        CameraDatasetOptions options;
        try
        {
            var fps = request.Fps ?? DefaultFps;
            if (!(fps is > 0 and <= 1000))
                throw new ArgumentException($"--fps must be in (0, 1000], got {fps.ToString(CultureInfo.InvariantCulture)}.");
            options = new CameraDatasetOptions
            {
                Fps = fps,
                Task = request.Task ?? "unlabelled",
                EpisodeFrames = request.EpisodeLength is { } length ? EpisodeFrames(length, fps) : null,
                Episodes = request.Episodes is { } count ? count >= 1 ? count : throw new ArgumentException($"--episodes must be at least 1, got {count}.") : null,
                Extra = new Dictionary<string, string> { ["cameras"] = string.Join("; ", request.Cameras.Select(c => c.Spec)) },
            };
            options.Validate();
            var first = request.Cameras[0].Settings;
            if (request.Cameras.Any(c => c.Settings.Width != first.Width || c.Settings.Height != first.Height))
                throw new ArgumentException("--dataset: every camera must deliver one size (a frame holds one image per camera, all of one size); got "
                    + string.Join(", ", request.Cameras.Select(c => $"{c.Settings.Name} {c.Settings.Width}x{c.Settings.Height}")) + ": give them the same size= or use --size alone.");
            // The camera names become column names: refused now, before any camera starts, if a dataset cannot take them.
            CameraDatasetLayout.Create(request.Cameras.Select(c => c.Settings.Name).ToArray(), first.Width, first.Height, fps, options.Task);
            var full = Path.GetFullPath(request.Folder);
            if (File.Exists(Path.Combine(full, RecordingManifest.FileName)) || Recordings.Cameras(full).Count > 0)
                throw new ArgumentException($"{full} holds a recording of videos (rr record without --dataset); a dataset goes in a folder of its own.");
            if (PretrainingData.ImageSizeProblem(first.Width, first.Height, "cnn") is { } problem)
                Say($"note: rr pretrain will refuse this dataset with its CNN encoders: {problem} (e.g. --size 64)");
        }
        catch (ArgumentException failure)
        {
            stderr.WriteLine($"rr record: {CliText.WithoutParameter(failure)}");
            return 2;
        }

        var sources = new List<ICameraSource>();
        CameraDatasetRecorder? recorder = null;
        // Cleared when this recording is over: the operator thread (blocked reading its input) then leaves everything alone.
        var session = new SessionFlag();
        try
        {
            foreach (var (settings, _) in request.Cameras)
            {
                var source = CameraFactory.Create(settings);
                sources.Add(source);
                source.Start();
            }
            LiveStatusBoard? board = null;
            if (request.LivePort is not null)
                board = LiveWiring.Board(sources.Select(s => s.Name).ToArray(), sources.Select(s => (s.Width, s.Height)).ToArray(), options.Fps, "rr record --dataset (no control loop)");
            using var stop = new CancellationTokenSource();
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
            using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
            using var page = board is null ? null : LiveWiring.Start(board, request.LivePort!.Value, $"rr record {request.Folder}", stdout);

            recorder = CameraDatasetRecorder.Start(request.Folder, sources, options, board is null ? null : board.PublishFrame,
                entry => Say($"  episode {entry.Index}: {entry.Length} frames ({Describe(entry)})"));
            var dataset = recorder.Dataset;
            var layout = dataset.Layout;
            var before = dataset.Episodes.Count;
            var split = options.EpisodeFrames is { } frames ? $"episodes of {frames} frames" : "one episode";
            Say($"recording {string.Join(", ", layout.Cameras)} into the dataset {dataset.Folder} ({layout.ImageWidth}x{layout.ImageHeight} at "
                + $"{options.Fps.ToString("0.###", CultureInfo.InvariantCulture)} fps, task '{options.Task}', {split}"
                + $"{(options.Episodes is { } n ? $", {n} of them" : "")}; {(request.Duration is { } d ? $"for {d.TotalSeconds:0.###} s" : "until Ctrl-C")})"
                + (before > 0 ? $"; it holds {before} episode(s) already" : ""));
            if (input is not null)
                Say("press Enter to end the episode and start the next; type stop to end the recording");
            StartOperator(input, recorder, session, RequestStop, Say);

            var until = request.Duration is { } span ? DateTime.UtcNow + span : DateTime.MaxValue;
            var nextReport = DateTime.UtcNow + ReportEvery;
            while (!stop.IsCancellationRequested && DateTime.UtcNow < until && !recorder.Finished)
            {
                stop.Token.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(Math.Clamp((until - DateTime.UtcNow).TotalMilliseconds, 1, 100)));
                if (DateTime.UtcNow >= nextReport)
                {
                    nextReport += ReportEvery;
                    Say($"  so far: {recorder.FramesRecorded} frames, {recorder.EpisodesFinished} episode(s) ended, {recorder.CurrentEpisodeFrames} frames in the current one"
                        + (recorder.FramesRecorded == 0 ? "; waiting for a fresh frame from every camera (" + string.Join(", ", sources.Select(s => $"{s.Name}: {(s.Health.IsConnected ? $"{s.Health.FramesCaptured} captured" : s.Health.Reason)}")) + ")" : ""));
                }
            }
            lock (session)
                session.Over = true;
            var stored = recorder.Stop(StoreTimeout);
            var endReason = recorder.EndReason;
            var failure = recorder.Failure;
            var recorded = recorder.FramesRecorded;
            var skipped = recorder.SkippedTicks;
            var storedEpisodes = recorder.EpisodesStored;
            recorder.Dispose();
            recorder = null;
            if (endReason is not null)
                Say($"  stopped: {endReason}");
            Say($"dataset closed: {storedEpisodes} episode(s), {recorded} frames recorded into {dataset.Folder}"
                + (skipped > 0 ? $" ({skipped} tick(s) skipped inside episodes: a camera had no fresh frame, or the writer was late)" : ""));
            if (failure is not null)
            {
                stderr.WriteLine($"rr record: {failure.Message} (what was written stays: the next rr record or rr pretrain on the folder stores it)");
                return 1;
            }
            if (!stored)
            {
                stderr.WriteLine($"rr record: storing the last episode took longer than {StoreTimeout.TotalMinutes:0} minutes; its journal stays under {dataset.JournalFolder} and is stored the next time the dataset is opened");
                return 1;
            }
            if (recorded == 0)
            {
                stderr.WriteLine("rr record: no frame was recorded: " + (endReason ?? "no tick had a fresh frame from every camera")
                    + " (" + string.Join(", ", sources.Select(s => $"{s.Name}: {s.Health.FramesCaptured} frames captured")) + ")");
                return 1;
            }
            return 0;

            void Cancel(PosixSignalContext context)
            {
                context.Cancel = true;
                RequestStop();
            }

            void RequestStop()
            {
                try
                {
                    stop.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The recording is over already.
                }
            }
        }
        catch (ArgumentException failure)
        {
            stderr.WriteLine($"rr record: {CliText.WithoutParameter(failure)}");
            return 2;
        }
        catch (Exception failure) when (failure is RobotRuntime.Vision.VisionException or RobotRuntime.Native.NativeDependencyMissingException or IOException or InvalidDataException)
        {
            stderr.WriteLine($"rr record: {failure.Message}");
            return 1;
        }
        finally
        {
            lock (session)
                session.Over = true;
            recorder?.Dispose();
            foreach (var source in sources)
                source.Dispose();
        }
    }

    private static string Describe(EpisodeEntry entry) =>
        entry.Extra.TryGetValue("ended_by", out var ended) ? $"end: {ended}" : entry.Extra.ContainsKey("recovered") ? "recovered after a kill" : "stored";

    /// <summary>Set when a recording is over.</summary>
    private sealed class SessionFlag
    {
        public volatile bool Over;
    }

    /// <summary>Reads operator lines on a thread of its own until "stop", the end of the input, or the end of the recording.</summary>
    private static void StartOperator(TextReader? input, CameraDatasetRecorder recorder, SessionFlag session, Action requestStop, Action<string> say)
    {
        if (input is null)
            return;
        var thread = new Thread(() =>
        {
            while (!session.Over)
            {
                string? line;
                try
                {
                    line = input.ReadLine();
                }
                catch (Exception error) when (error is IOException or ObjectDisposedException)
                {
                    return;
                }
                if (line is null)
                    return;
                lock (session)
                {
                    // The recording may have ended while the line was being typed: then the line is not for it.
                    if (session.Over)
                        return;
                    switch (line.Trim().ToLowerInvariant())
                    {
                        case "" or "next":
                            if (recorder.CurrentEpisodeFrames == 0)
                                say("rr record: no episode is being recorded (no frame since the last one ended); nothing to end");
                            else
                                recorder.EndEpisode();
                            break;
                        case "stop" or "quit" or "exit":
                            requestStop();
                            return;
                        default:
                            say($"rr record: unknown command '{line.Trim()}'; press Enter to end the episode, or type stop");
                            break;
                    }
                }
            }
        }) { IsBackground = true, Name = "rr record operator" };
        thread.Start();
    }
}
