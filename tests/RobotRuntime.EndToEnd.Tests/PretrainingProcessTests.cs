using System.Security.Cryptography;
using RobotRuntime.Datasets;

namespace RobotRuntime.EndToEnd.Tests;

/// <summary><c>rr collect</c> and <c>rr pretrain</c> as their own processes, killed with SIGKILL mid-run and started again.</summary>
public sealed class PretrainingProcessTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(180);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "rr-pretrain-e2e-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    private static readonly string[] Collect = ["collect", "--episodes", "24", "--tasks", "reach,push,peek", "--size", "32", "--seed", "5", "--workers", "1"];

    private static string[] Pretrain(string data, string run) =>
        ["pretrain", "--data", data, "--run", run, "--objective", "atc", "--steps", "60", "--batch-size", "8", "--pool-episodes", "4", "--checkpoint-every", "10", "--seed", "2"];

    [Fact]
    public void AKilledCollectAndAKilledPretrainEachResumeToWhatAnUninterruptedRunMakes()
    {
        // Uninterrupted references.
        var straightData = Path.Combine(_root, "straight-data");
        Run([.. Collect, "--out", straightData]);
        var straightRun = Path.Combine(_root, "straight-run");
        Run(Pretrain(straightData, straightRun));

        // rr collect killed once a few episodes are stored, then started again.
        var data = Path.Combine(_root, "data");
        using (var rr = RrChild.Start([.. Collect, "--out", data]))
        {
            WaitFor(() => EpisodeFiles(data) >= 3, rr, "three stored episodes");
            rr.KillHard();
        }
        Assert.InRange(EpisodeFiles(data), 3, 23);
        Run([.. Collect, "--out", data]);
        var resumed = EpisodeDataset.Open(data);
        var straight = EpisodeDataset.Open(straightData);
        Assert.Equal(straight.Episodes.Select(e => (e.Extra["seed"], e.Length)), resumed.Episodes.Select(e => (e.Extra["seed"], e.Length)));
        // Byte for byte, images included. (Compared as files: decoding the PNGs here would load
        // OpenCvSharp4's OpenCV into a test host that other tests fill with the project's OpenCV shim.)
        for (var e = 0; e < straight.Episodes.Count; e++)
            Assert.Equal(Hash(straight.DataPath(e)), Hash(resumed.DataPath(e)));

        // rr pretrain killed after its second checkpoint, then started again: the exported encoder
        // is byte for byte the uninterrupted run's.
        var run = Path.Combine(_root, "run");
        using (var rr = RrChild.Start(Pretrain(data, run)))
        {
            WaitFor(() => MetricsRows(run) >= 2, rr, "20 updates");
            rr.KillHard();
        }
        Assert.False(File.Exists(Path.Combine(run, "encoder.onnx")));
        var output = Run(Pretrain(data, run));
        Assert.Contains("resuming", output);
        Assert.Equal(Hash(Path.Combine(straightRun, "encoder.onnx")), Hash(Path.Combine(run, "encoder.onnx")));
    }

    /// <summary>
    /// Two workers render at the same time, each with its own OSMesa context. Mesa 22.3's llvmpipe is not
    /// safe with that (mapping a resource scans every context's queued scenes while their threads add to
    /// them): a 3,000-episode collection died in that scan after ~1,500 episodes. With freed memory filled
    /// (MALLOC_PERTURB_) the race faults within about ten episodes without the shim's GL lock (two runs
    /// of 150 episodes died at 8 and 9); with it, this collection finishes and its episodes are the same as
    /// one worker's.
    /// </summary>
    [Fact]
    public void TwoWorkersRenderingAtOnceFinishTheCollectionAndMakeWhatOneWorkerMakes()
    {
        string[] collect = ["collect", "--episodes", "40", "--size", "32", "--seed", "6"];
        var two = Path.Combine(_root, "two");
        var result = RrProcess.Run(new Dictionary<string, string?> { ["MALLOC_PERTURB_"] = "165" }, Patience, [.. collect, "--workers", "2", "--out", two]);
        Assert.True(result.ExitCode == 0, $"rr collect --workers 2 exited {result.ExitCode}:\n{result.Output}\n{result.Error}");
        var one = Path.Combine(_root, "one");
        Run([.. collect, "--workers", "1", "--out", one]);
        var a = EpisodeDataset.Open(one);
        var b = EpisodeDataset.Open(two);
        Assert.Equal(40, b.Episodes.Count);
        for (var e = 0; e < a.Episodes.Count; e++)
            Assert.Equal(Hash(a.DataPath(e)), Hash(b.DataPath(e)));
    }

    private static int EpisodeFiles(string data) =>
        Directory.Exists(Path.Combine(data, "data")) ? Directory.GetFiles(Path.Combine(data, "data"), "*.parquet", SearchOption.AllDirectories).Length : 0;

    private static int MetricsRows(string run) =>
        File.Exists(Path.Combine(run, "metrics.csv")) ? File.ReadAllLines(Path.Combine(run, "metrics.csv")).Length - 1 : 0;

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static string Run(string[] arguments)
    {
        var result = RrProcess.Run(new Dictionary<string, string?>(), Patience, arguments);
        Assert.True(result.ExitCode == 0, $"rr {string.Join(' ', arguments)} exited {result.ExitCode}:\n{result.Output}\n{result.Error}");
        return result.Output;
    }

    private static void WaitFor(Func<bool> condition, RrChild rr, string what) => rr.WaitUntil(condition, Patience, what);
}
