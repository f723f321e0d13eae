using System.Diagnostics;
using System.Text;
using System.Text.Json;
using RobotRuntime.Datasets;
using RobotRuntime.Native;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using RobotRuntime.Vision.Cameras;
using RobotRuntime.Vision.Recording;

namespace RobotRuntime.EndToEnd.Tests;

/// <summary><c>rr record</c> and <c>rr replay</c> as their own processes: killed, stopped by a signal, encoding, serving the live page.</summary>
public sealed class RecordReplayProcessTests : IDisposable
{
    // Bounds every wait; reached only when something hangs (dotnet start-up on a loaded machine takes seconds).
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "rr-record-e2e-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void ARecordingKilledWithSigkillReplaysEveryFrameItsSidecarLists()
    {
        var folder = Path.Combine(_root, "killed");
        using var rr = RrChild.Start("record", "--camera", "front=synthetic,fps=60,size=32", "--camera", "wrist=synthetic,fps=30,size=24x16", "--out", folder);
        WaitFor(() => Lines(Path.Combine(folder, "front.frames.csv")) > 30 && Lines(Path.Combine(folder, "wrist.frames.csv")) > 15, rr, "frames in both sidecars");

        rr.KillHard(); // SIGKILL: no handler runs, nothing is closed

        var manifest = RecordingManifest.TryRead(folder)!;
        Assert.False(manifest.Complete); // the one written at the start: the process never closed it
        Assert.Equal(["front", "wrist"], manifest.Cameras.Select(c => c.Name));
        using var replay = new RecordingReplay(folder, new ReplayOptions { RealTime = false });
        replay.Run(new CancellationTokenSource(Patience).Token);
        Assert.True(replay.FramesRecorded(0) > 30, $"front: {replay.FramesRecorded(0)} frames");
        Assert.Equal(replay.FramesRecorded(0), replay.FramesReplayed(0));
        Assert.Equal(replay.FramesRecorded(1), replay.FramesReplayed(1));
    }

    [Fact]
    public void RecordsTheSimServersCameraStreamsFromAnotherProcess()
    {
        // Hardware-in-the-loop wiring: the simulator in its own process publishes both cameras over ZeroMQ.
        var sockets = Path.Combine(Path.GetTempPath(), "rr-rec-sim-" + Guid.NewGuid().ToString("N")[..8]);
        string Endpoint(string name) => $"ipc://{sockets}-{name}";
        using var sim = RrChild.Start("sim-server", "--camera-rate", "20", "--camera-size", "32",
            "--state", Endpoint("state"), "--command", Endpoint("command"), "--control", Endpoint("control"),
            "--camera-front", Endpoint("front"), "--camera-wrist", Endpoint("wrist"));
        WaitFor(() => sim.Lines.FirstOrDefault(l => l.StartsWith("rr sim-server: ready", StringComparison.Ordinal)) is not null, sim, "the sim-server to be ready");
        var folder = Path.Combine(_root, "from-sim");

        var result = RrProcess.Run(new Dictionary<string, string?>(), Patience, "record",
            "--camera", $"front=stream,endpoint={Endpoint("front")},size=32", "--camera", $"wrist=stream,endpoint={Endpoint("wrist")},size=32",
            "--out", folder, "--duration", "2s");

        Assert.True(result.ExitCode == 0, $"rr record exited {result.ExitCode}:\n{result.Output}\n{result.Error}");
        var manifest = RecordingManifest.TryRead(folder)!;
        Assert.True(manifest.Complete);
        // 20 frames a second for 2 s; the stream is latest-only and starts with the first frame after connecting.
        Assert.All(manifest.Cameras, camera => Assert.InRange(camera.Frames!.Value, 10, 45));
        sim.Signal("TERM");
        sim.WaitForExit(Patience);
    }

    [Fact]
    public void ADatasetRecordingOfTheSimServersCamerasSplitOnEnterAndKilledMidEpisodeKeepsItsFramesAndPretrains()
    {
        var sockets = Path.Combine(Path.GetTempPath(), "rr-recds-sim-" + Guid.NewGuid().ToString("N")[..8]);
        string Endpoint(string name) => $"ipc://{sockets}-{name}";
        using var sim = RrChild.Start("sim-server", "--camera-rate", "20", "--camera-size", "32",
            "--state", Endpoint("state"), "--command", Endpoint("command"), "--control", Endpoint("control"),
            "--camera-front", Endpoint("front"), "--camera-wrist", Endpoint("wrist"));
        WaitFor(() => sim.Lines.FirstOrDefault(l => l.StartsWith("rr sim-server: ready", StringComparison.Ordinal)) is not null, sim, "the sim-server to be ready");
        var data = Path.Combine(_root, "dataset");
        var journals = Path.Combine(data, "journal");
        // The journal of the episode being recorded holds more than its header (a few KB) and a frame or two (two 32 px PNGs, 1-3 KB each).
        bool JournalGrew() => Directory.Exists(journals) && Directory.GetFiles(journals, "*.rrjournal").Any(f => new FileInfo(f).Length > 12_000);

        using (var rr = RrChild.Start("record", "--camera", $"front=stream,endpoint={Endpoint("front")}", "--camera", $"wrist=stream,endpoint={Endpoint("wrist")}",
            "--size", "32", "--out", data, "--dataset", "--fps", "10"))
        {
            WaitFor(JournalGrew, rr, "the first episode's frames");
            rr.Type(""); // Enter: the episode ends, the next frame starts another
            rr.WaitFor(l => l.Contains("episode 0: ", StringComparison.Ordinal), Patience);
            WaitFor(JournalGrew, rr, "the second episode's frames");

            rr.KillHard(); // SIGKILL mid-episode: no handler runs, the journal is left as it was
        }

        // Opening the dataset stores the killed episode from its journal, up to its last whole frame.
        var dataset = EpisodeDataset.Open(data);
        Assert.Equal(2, dataset.Episodes.Count);
        Assert.Equal("operator", dataset.Episodes[0].Extra["ended_by"]);
        Assert.Equal("true", dataset.Episodes[1].Extra["recovered"]);
        Assert.False(dataset.Episodes[1].Extra.ContainsKey("ended_by"));
        Assert.All(dataset.Episodes, e => Assert.True(e.Length >= 2, $"episode {e.Index}: {e.Length} frames"));
        Assert.Empty(Directory.GetFiles(journals, "*.rrjournal"));

        // Every frame decodes: rr pretrain reads both episodes whole (a pool of 2) and trains on them.
        var run = Path.Combine(_root, "atc");
        var pretrain = RrProcess.Run(new Dictionary<string, string?>(), Patience, "pretrain", "--data", data, "--run", run, "--objective", "atc",
            "--steps", "20", "--batch-size", "8", "--group", "4", "--pool-episodes", "2");
        Assert.True(pretrain.ExitCode == 0, $"rr pretrain exited {pretrain.ExitCode}:\n{pretrain.Output}\n{pretrain.Error}");
        Assert.Contains("rr pretrain: 20/20 loss ", pretrain.Output);
        Assert.True(File.Exists(Path.Combine(run, "encoder.onnx")));
        sim.Signal("TERM");
        sim.WaitForExit(Patience);
    }

    [Fact]
    public void SigtermClosesTheRecordingCleanlyWithFinalCounts()
    {
        var folder = Path.Combine(_root, "stopped");
        using var rr = RrChild.Start("record", "--camera", "front=synthetic,fps=60,size=32", "--out", folder);
        WaitFor(() => Lines(Path.Combine(folder, "front.frames.csv")) > 10, rr, "frames in the sidecar");

        rr.Signal("TERM");
        var exitCode = rr.WaitForExit(Patience);
        Assert.True(exitCode == 0, $"rr record exited {exitCode}:\n{rr.Text}");

        var manifest = RecordingManifest.TryRead(folder)!;
        Assert.True(manifest.Complete);
        var frames = Recordings.ReadSidecar(folder, "front").Count;
        Assert.Equal(frames, manifest.Cameras[0].Frames);
        Assert.Contains($"front: {frames} frames", rr.Text);
        Assert.Contains("recording closed", rr.Text);
    }

    [Fact]
    public async Task RecordShowsItsCamerasOnTheLivePage()
    {
        var folder = Path.Combine(_root, "watched");
        using var rr = RrChild.Start("record", "--camera", "front=synthetic,fps=30,size=32", "--out", folder, "--live-port", "0");
        string? url = null;
        WaitFor(() => (url = rr.Lines.FirstOrDefault(l => l.StartsWith("live page: ", StringComparison.Ordinal))) is not null, rr, "the live page's address");
        using var http = new HttpClient { BaseAddress = new Uri(url!["live page: ".Length..].Trim()), Timeout = Patience };
        var deadline = DateTime.UtcNow + Patience;
        HttpResponseMessage frame;
        while (!(frame = await http.GetAsync("/frames/front")).IsSuccessStatusCode)
        {
            Assert.True(DateTime.UtcNow < deadline && !rr.HasExited, $"no frame on the page:\n{rr.Text}");
            await Task.Delay(50);
        }
        Assert.Equal("image/jpeg", frame.Content.Headers.ContentType?.MediaType);
        var status = JsonDocument.Parse(await http.GetStringAsync("/status")).RootElement;
        Assert.Equal("rr record (no control loop)", status.GetProperty("policy").GetString());

        // SIGTERM rather than SIGINT: a shell without job control starts background jobs with SIGINT ignored.
        rr.Signal("TERM");
        var exitCode = rr.WaitForExit(Patience);
        Assert.True(exitCode == 0, $"rr record exited {exitCode}:\n{rr.Text}");
        Assert.True(RecordingManifest.TryRead(folder)!.Complete);
    }

    [Fact]
    public void ReplayAsFastAsPossibleWritesOneEmbeddingPerRecordedFrame()
    {
        var folder = RecordInProcess("encode", minimumFrames: 10);
        var csv = Path.Combine(_root, "embeddings.csv");
        var zoo = Path.Combine(RepositoryRoot, "models", "test", "test-zoo.json");

        var result = RrProcess.Run(new Dictionary<string, string?>(), Patience, "replay", folder, "--as-fast-as-possible", "--encoder", "test-conv", "--zoo", zoo, "--embeddings", csv);

        Assert.True(result.ExitCode == 0, $"rr replay exited {result.ExitCode}:\n{result.Output}\n{result.Error}");
        var frames = Recordings.ReadSidecar(folder, "front").Count;
        Assert.Contains($"front: {frames} frames replayed ({frames} recorded), {frames} encoded", result.Output);
        var lines = File.ReadAllLines(csv);
        Assert.Equal("camera,frame,sequence,capture_ns,e0,e1,e2,e3", lines[0]);
        Assert.Equal(frames, lines.Length - 1);
        Assert.All(lines.Skip(1), line => Assert.StartsWith("front,", line));
    }

    [Fact]
    public void EmbeddingsWrittenBeforeAKillAreAllThere()
    {
        var folder = RecordInProcess("encode-killed", minimumFrames: 10);
        var csv = Path.Combine(_root, "killed.csv");
        var zoo = Path.Combine(RepositoryRoot, "models", "test", "test-zoo.json");
        using var rr = RrChild.Start("replay", folder, "--loop", "--encoder", "test-conv", "--zoo", zoo, "--embeddings", csv);
        WaitFor(() => Lines(csv) >= 25, rr, "25 embeddings");

        rr.KillHard(); // SIGKILL: no handler runs, nothing is closed

        using var stream = new FileStream(csv, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var lines = new StreamReader(stream).ReadToEnd().Split('\n');
        Assert.Equal("camera,frame,sequence,capture_ns,e0,e1,e2,e3", lines[0]);
        // Every line handed to the OS before the kill is whole; only the very last may be cut.
        var whole = lines.Skip(1).SkipLast(1).ToList();
        Assert.True(whole.Count >= 24, $"{whole.Count} lines");
        Assert.All(whole, line =>
        {
            var fields = line.Split(',');
            Assert.Equal(8, fields.Length);
            Assert.All(fields[4..], f => float.Parse(f, System.Globalization.CultureInfo.InvariantCulture));
        });
    }

    [Fact]
    public async Task ReplayShowsTheRecordingOnTheLivePageUntilStopped()
    {
        var folder = RecordInProcess("live", minimumFrames: 5);
        // A run log of 100 cycles at 100 Hz: the last 40 hold for missed deadlines.
        var log = Path.Combine(_root, "run.log");
        using (var writer = RunLogWriter.Create(log, new RunLogMetadata(100, "scripted reach, seed 3")))
        {
            for (var i = 0; i < 100; i++)
            {
                var hold = i >= 60;
                writer.TryAppend(new CycleRecord
                {
                    CycleIndex = i, StartNs = i * 10_000_000L, EndNs = i * 10_000_000L + 4_000_000, PlanNs = 2_000_000,
                    Safety = hold ? SafetyStatus.Hold : SafetyStatus.Pass, HoldReason = hold ? HoldReason.DeadlineMisses : HoldReason.None,
                    HoldStarted = (byte)(i == 60 ? 1 : 0), MissedDeadline = (byte)(i is >= 57 and < 60 ? 1 : 0),
                });
            }
        }
        using var rr = RrChild.Start("replay", folder, "--loop", "--live-port", "0", "--run-log", log);
        string? url = null;
        WaitFor(() => (url = rr.Lines.FirstOrDefault(l => l.StartsWith("live page: ", StringComparison.Ordinal))) is not null, rr, "the live page's address");

        using var http = new HttpClient { BaseAddress = new Uri(url!["live page: ".Length..].Trim()), Timeout = Patience };
        var status = JsonDocument.Parse(await http.GetStringAsync("/status")).RootElement;
        Assert.Equal(["front"], status.GetProperty("cameras").EnumerateArray().Select(c => c.GetString()));
        var deadline = DateTime.UtcNow + Patience;
        HttpResponseMessage frame;
        while (!(frame = await http.GetAsync("/frames/front")).IsSuccessStatusCode)
        {
            Assert.True(DateTime.UtcNow < deadline && !rr.HasExited, $"no frame on the page:\n{rr.Text}");
            await Task.Delay(50);
        }
        // rr serves JPEG (OpenCV is there after scripts/bootstrap): starts with the SOI marker.
        Assert.Equal("image/jpeg", frame.Content.Headers.ContentType?.MediaType);
        Assert.Equal([0xFF, 0xD8], (await frame.Content.ReadAsByteArrayAsync())[..2]);

        // The run log's cycles come in at their logged timing, holds with their logged reason.
        JsonElement holding;
        while (!(holding = JsonDocument.Parse(await http.GetStringAsync("/status")).RootElement).TryGetProperty("holding", out var h) || !h.GetBoolean())
        {
            Assert.True(DateTime.UtcNow < deadline && !rr.HasExited, $"the run log's hold never showed:\n{rr.Text}");
            await Task.Delay(50);
        }
        Assert.Equal("DeadlineMisses", holding.GetProperty("holdReason").GetString());
        Assert.Equal(100, holding.GetProperty("rateHz").GetDouble());
        Assert.InRange(holding.GetProperty("cycle").GetInt64(), 60, 99);
        Assert.Equal("rr replay (scripted reach, seed 3)", holding.GetProperty("policy").GetString());

        rr.Signal("TERM");
        var exitCode = rr.WaitForExit(Patience);
        Assert.True(exitCode == 0, $"rr replay exited {exitCode}:\n{rr.Text}");
    }

    [Fact]
    public void RecordingWithoutTheJpegEncodersLibraryFailsAtOnceNamingIt()
    {
        // The build without OpenCvSharp4's native library (OpenCV's JPEG encoder).
        var rr = RrProcess.CopyOfBuildWithout(_root, Path.Combine("runtimes", "linux-x64", "native", "libOpenCvSharpExtern.so"));
        var folder = Path.Combine(_root, "unwritable");

        var result = RrProcess.RunAt(rr, new Dictionary<string, string?>(), Patience,
            "record", "--camera", "front=synthetic,size=16", "--out", folder, "--duration", "30s");

        // Found out before any camera starts or any file is made.
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("rr record: OpenCvSharp4 native library (libOpenCvSharpExtern.so) was not found.", result.Error);
        Assert.Contains("OpenCvSharp4.official.runtime.linux-x64", result.Error);
        Assert.Contains("Rebuild rr", result.Error);
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void ReplayOfAMissingFolderOrWithOptionsThatNeedAnEncoderSaysWhy()
    {
        var missing = RrProcess.Run(new Dictionary<string, string?>(), Patience, "replay", Path.Combine(_root, "nowhere"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains($"rr replay: recording folder {Path.Combine(_root, "nowhere")} does not exist.", missing.Error);

        var zooOnly = RrProcess.Run(new Dictionary<string, string?>(), Patience, "replay", _root, "--zoo", "z.json");
        Assert.Equal(2, zooOnly.ExitCode);
        Assert.Contains("--zoo and --embeddings need --encoder", zooOnly.Error);
    }

    private string RecordInProcess(string name, int minimumFrames)
    {
        var folder = Path.Combine(_root, name);
        using var session = new RecordingSession(folder, [(CameraSpec.Parse("front=synthetic,fps=100,size=16"), "front=synthetic,fps=100,size=16")]);
        var deadline = DateTime.UtcNow + Patience;
        while (session.FramesRecorded(0) < minimumFrames && DateTime.UtcNow < deadline)
            Thread.Sleep(10);
        return folder;
    }

    private static string RepositoryRoot => NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)!;

    private static int Lines(string path)
    {
        if (!File.Exists(path))
            return 0;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Count(c => c == '\n') - 1;
    }

    private static void WaitFor(Func<bool> condition, RrChild rr, string what) => rr.WaitUntil(condition, Patience, what);
}
