using RobotRuntime.Safety;
using RobotRuntime.Telemetry;

namespace RobotRuntime.Cli.Tests;

public sealed class LogCommandTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-log-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static (int Exit, string Output, string Error) Rr(params string[] args) => AgentCommandTests.Rr(args);

    [Fact]
    public void LogSummarisesARunFolderAndExportsItsCsvAndPlots()
    {
        // 100 cycles at 50 Hz; cycles 60..79 hold for a stale camera frame.
        using (var writer = RunLogWriter.Create(Path.Combine(_folder, "run.rrlog"), new RunLogMetadata(50, "test run")))
        {
            for (var i = 0; i < 100; i++)
            {
                var hold = i is >= 60 and < 80;
                writer.TryAppend(new CycleRecord
                {
                    CycleIndex = i, StartNs = i * 20_000_000L, EndNs = i * 20_000_000L + 3_000_000, PlanNs = 2_000_000,
                    Safety = hold ? SafetyStatus.Hold : SafetyStatus.Pass, HoldReason = hold ? HoldReason.StaleCameraFrame : HoldReason.None,
                    HoldStarted = (byte)(i == 60 ? 1 : 0),
                });
            }
        }
        string csv = Path.Combine(_folder, "out.csv");
        string plots = Path.Combine(_folder, "plots");

        var log = Rr("log", _folder, "--csv", csv, "--plots", plots);

        Assert.True(log.Exit == 0, log.Error);
        Assert.Contains("100 cycles", log.Output);
        Assert.Contains("hold StaleCameraFrame: 1 time(s), 20 cycle(s)", log.Output);
        Assert.Equal(101, File.ReadAllLines(csv).Length); // header + one line per cycle
        Assert.True(File.Exists(plots + "-histogram.svg"));
        Assert.True(File.Exists(plots + "-timeline.svg"));
        Assert.True(File.Exists(plots + "-histogram.png"));
        Assert.True(File.Exists(plots + "-timeline.png"));
    }

    [Fact]
    public void LogNamesAMissingOrForeignFile()
    {
        var missing = Rr("log", Path.Combine(_folder, "nowhere.rrlog"));
        Assert.Equal(2, missing.Exit);
        Assert.Contains("is not there", missing.Error);

        var emptyFolder = Rr("log", _folder);
        Assert.Equal(2, emptyFolder.Exit);
        Assert.Contains("has no run.rrlog", emptyFolder.Error);

        string foreign = Path.Combine(_folder, "notes.rrlog");
        File.WriteAllText(foreign, "these are notes, not a run log");
        var notALog = Rr("log", foreign);
        Assert.Equal(1, notALog.Exit);
        Assert.Contains("is not a readable run log", notALog.Error);
    }
}
