using System.Diagnostics;
using System.Text;
using System.Text.Json;
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
        using var rr = Background.Start("record", "--camera", "front=synthetic,fps=60,size=32", "--camera", "wrist=synthetic,fps=30,size=24x16", "--out", folder);
        WaitFor(() => Lines(Path.Combine(folder, "front.frames.csv")) > 30 && Lines(Path.Combine(folder, "wrist.frames.csv")) > 15, rr, "frames in both sidecars");

        rr.Process.Kill(); // SIGKILL: no handler runs, nothing is closed
        Assert.True(rr.Process.WaitForExit(Patience), "rr record did not die");

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
        using var sim = Background.Start("sim-server", "--camera-rate", "20", "--camera-size", "32",
            "--state", Endpoint("state"), "--command", Endpoint("command"), "--control", Endpoint("control"),
            "--camera-front", Endpoint("front"), "--camera-wrist", Endpoint("wrist"));
        WaitFor(() => sim.OutputLine("rr sim-server: ready") is not null, sim, "the sim-server to be ready");
        var folder = Path.Combine(_root, "from-sim");

        var result = RrProcess.Run(new Dictionary<string, string?>(), Patience, "record",
            "--camera", $"front=stream,endpoint={Endpoint("front")},size=32", "--camera", $"wrist=stream,endpoint={Endpoint("wrist")},size=32",
            "--out", folder, "--duration", "2s");

        Assert.True(result.ExitCode == 0, $"rr record exited {result.ExitCode}:\n{result.Output}\n{result.Error}");
        var manifest = RecordingManifest.TryRead(folder)!;
        Assert.True(manifest.Complete);
        // 20 frames a second for 2 s; the stream is latest-only and starts with the first frame after connecting.
        Assert.All(manifest.Cameras, camera => Assert.InRange(camera.Frames!.Value, 10, 45));
        Background.Signal(sim.Process, "TERM");
        Assert.True(sim.Process.WaitForExit(Patience), "sim-server did not stop");
    }

    [Fact]
    public void SigtermClosesTheRecordingCleanlyWithFinalCounts()
    {
        var folder = Path.Combine(_root, "stopped");
        using var rr = Background.Start("record", "--camera", "front=synthetic,fps=60,size=32", "--out", folder);
        WaitFor(() => Lines(Path.Combine(folder, "front.frames.csv")) > 10, rr, "frames in the sidecar");

        Background.Signal(rr.Process, "TERM");
        Assert.True(rr.Process.WaitForExit(Patience), "rr record did not stop on SIGTERM");
        Assert.True(rr.Process.ExitCode == 0, $"rr record exited {rr.Process.ExitCode}:\n{rr.Output}");

        var manifest = RecordingManifest.TryRead(folder)!;
        Assert.True(manifest.Complete);
        var frames = Recordings.ReadSidecar(folder, "front").Count;
        Assert.Equal(frames, manifest.Cameras[0].Frames);
        Assert.Contains($"front: {frames} frames", rr.Output);
        Assert.Contains("recording closed", rr.Output);
    }

    [Fact]
    public async Task RecordShowsItsCamerasOnTheLivePage()
    {
        var folder = Path.Combine(_root, "watched");
        using var rr = Background.Start("record", "--camera", "front=synthetic,fps=30,size=32", "--out", folder, "--live-port", "0");
        string? url = null;
        WaitFor(() => (url = rr.OutputLine("live page: ")) is not null, rr, "the live page's address");
        using var http = new HttpClient { BaseAddress = new Uri(url!["live page: ".Length..].Trim()), Timeout = Patience };
        var deadline = DateTime.UtcNow + Patience;
        HttpResponseMessage frame;
        while (!(frame = await http.GetAsync("/frames/front")).IsSuccessStatusCode)
        {
            Assert.True(DateTime.UtcNow < deadline && !rr.Process.HasExited, $"no frame on the page:\n{rr.Output}");
            await Task.Delay(50);
        }
        Assert.Equal("image/jpeg", frame.Content.Headers.ContentType?.MediaType);
        var status = JsonDocument.Parse(await http.GetStringAsync("/status")).RootElement;
        Assert.Equal("rr record (no control loop)", status.GetProperty("policy").GetString());

        // SIGTERM rather than SIGINT: a shell without job control starts background jobs with SIGINT ignored.
        Background.Signal(rr.Process, "TERM");
        Assert.True(rr.Process.WaitForExit(Patience), "rr record did not stop on SIGTERM");
        Assert.True(rr.Process.ExitCode == 0, $"rr record exited {rr.Process.ExitCode}:\n{rr.Output}");
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
        using var rr = Background.Start("replay", folder, "--loop", "--encoder", "test-conv", "--zoo", zoo, "--embeddings", csv);
        WaitFor(() => Lines(csv) >= 25, rr, "25 embeddings");

        rr.Process.Kill();
        Assert.True(rr.Process.WaitForExit(Patience), "rr replay did not die");

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
        using var rr = Background.Start("replay", folder, "--loop", "--live-port", "0", "--run-log", log);
        string? url = null;
        WaitFor(() => (url = rr.OutputLine("live page: ")) is not null, rr, "the live page's address");

        using var http = new HttpClient { BaseAddress = new Uri(url!["live page: ".Length..].Trim()), Timeout = Patience };
        var status = JsonDocument.Parse(await http.GetStringAsync("/status")).RootElement;
        Assert.Equal(["front"], status.GetProperty("cameras").EnumerateArray().Select(c => c.GetString()));
        var deadline = DateTime.UtcNow + Patience;
        HttpResponseMessage frame;
        while (!(frame = await http.GetAsync("/frames/front")).IsSuccessStatusCode)
        {
            Assert.True(DateTime.UtcNow < deadline && !rr.Process.HasExited, $"no frame on the page:\n{rr.Output}");
            await Task.Delay(50);
        }
        // rr serves JPEG (OpenCV is there after scripts/bootstrap): starts with the SOI marker.
        Assert.Equal("image/jpeg", frame.Content.Headers.ContentType?.MediaType);
        Assert.Equal([0xFF, 0xD8], (await frame.Content.ReadAsByteArrayAsync())[..2]);

        // The run log's cycles come in at their logged timing, holds with their logged reason.
        JsonElement holding;
        while (!(holding = JsonDocument.Parse(await http.GetStringAsync("/status")).RootElement).TryGetProperty("holding", out var h) || !h.GetBoolean())
        {
            Assert.True(DateTime.UtcNow < deadline && !rr.Process.HasExited, $"the run log's hold never showed:\n{rr.Output}");
            await Task.Delay(50);
        }
        Assert.Equal("DeadlineMisses", holding.GetProperty("holdReason").GetString());
        Assert.Equal(100, holding.GetProperty("rateHz").GetDouble());
        Assert.InRange(holding.GetProperty("cycle").GetInt64(), 60, 99);
        Assert.Equal("rr replay (scripted reach, seed 3)", holding.GetProperty("policy").GetString());

        Background.Signal(rr.Process, "TERM");
        Assert.True(rr.Process.WaitForExit(Patience), "rr replay did not stop on SIGTERM");
        Assert.True(rr.Process.ExitCode == 0, $"rr replay exited {rr.Process.ExitCode}:\n{rr.Output}");
    }

    [Fact]
    public void RecordingWithoutTheJpegEncodersLibraryFailsAtOnceNamingIt()
    {
        var empty = Path.Combine(_root, "no-native");
        Directory.CreateDirectory(empty);
        var folder = Path.Combine(_root, "unwritable");

        var result = RrProcess.Run(new Dictionary<string, string?> { [NativeLibraryLocator.NativeDirVariable] = empty }, Patience,
            "record", "--camera", "front=synthetic,size=16", "--out", folder, "--duration", "30s");

        // Found out before any camera starts or any file is made.
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("rr record: OpenCV capture shim (librr_opencv.so) was not found", result.Error);
        Assert.Contains("scripts/bootstrap", result.Error);
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

    private static void WaitFor(Func<bool> condition, Background rr, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (rr.Process.HasExited)
                Assert.Fail($"rr exited {rr.Process.ExitCode} before {what}:\n{rr.Output}");
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"timed out waiting for {what}:\n{rr.Output}");
            Thread.Sleep(50);
        }
    }

    /// <summary>rr running in the background with its output collected; killed when disposed.</summary>
    private sealed class Background : IDisposable
    {
        private readonly StringBuilder _output = new();

        private Background(Process process) => Process = process;

        public Process Process { get; }

        public string Output
        {
            get
            {
                lock (_output)
                    return _output.ToString();
            }
        }

        public string? OutputLine(string prefix) =>
            Output.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));

        public static Background Start(params string[] arguments)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in (string[])["exec", RrProcess.RrDll, .. arguments])
                start.ArgumentList.Add(argument);
            var background = new Background(Process.Start(start)!);
            background.Process.OutputDataReceived += (_, line) => background.Append(line.Data);
            background.Process.ErrorDataReceived += (_, line) => background.Append(line.Data);
            background.Process.BeginOutputReadLine();
            background.Process.BeginErrorReadLine();
            return background;
        }

        public static void Signal(Process process, string signal)
        {
            using var kill = Process.Start("kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
            kill.WaitForExit();
        }

        private void Append(string? line)
        {
            if (line is null)
                return;
            lock (_output)
                _output.AppendLine(line);
        }

        public void Dispose()
        {
            if (!Process.HasExited)
                Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
            Process.Dispose();
        }
    }
}
