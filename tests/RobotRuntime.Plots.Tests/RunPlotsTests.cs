using System.Xml.Linq;
using RobotRuntime.Arm;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;

namespace RobotRuntime.Plots.Tests;

/// <summary>
/// The run plots from run logs written by the real writer: what the histogram counts, which legend
/// entries each plot has, that count and cycle axes are labelled with whole numbers, and that a
/// 60,000-cycle timeline stays a bounded, readable picture.
/// </summary>
public sealed class RunPlotsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-plots-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>
    /// Cycle i at 100 Hz: compute (i % 97 + 1) ms; every 10th misses its deadline; holds for a stale
    /// frame on [20, 25) and from 40 % to 45 % of the run, for a non-finite command at 30.
    /// </summary>
    private RunLog Log(int count)
    {
        var path = Path.Combine(_folder, $"run-{count}-{Guid.NewGuid():N}.rrlog");
        using (var writer = RunLogWriter.Create(path, new RunLogMetadata(100, "plot test")))
        {
            for (var i = 0; i < count; i++)
            {
                var record = new CycleRecord
                {
                    CycleIndex = i,
                    ScheduledStartNs = 1_000_000_000L + i * 10_000_000L,
                    StartNs = 1_000_000_000L + i * 10_000_000L,
                    PreprocessNs = 100_000,
                    EncodeNs = 2_000_000,
                    PlanNs = 3_000_000 + (i % 97) * 10_000,
                    SafetyNs = 10_000,
                    SendNs = 50_000,
                    MissedDeadline = (byte)(i % 10 == 9 ? 1 : 0),
                    Safety = SafetyStatus.Pass,
                    SendStatus = (byte)ArmSendStatus.Sent,
                };
                record.EndNs = record.StartNs + (i % 97 + 1) * 1_000_000L;
                var staleWindow = (i >= 20 && i < 25) || (count > 1000 && i >= count * 40 / 100 && i < count * 45 / 100);
                if (staleWindow)
                {
                    record.Safety = SafetyStatus.Hold;
                    record.HoldReason = HoldReason.StaleCameraFrame;
                }
                if (i == 30)
                {
                    record.Safety = SafetyStatus.Hold;
                    record.HoldReason = HoldReason.NonFiniteCommand;
                }
                Assert.True(writer.TryAppend(record));
            }
        }
        return RunLog.Read(path);
    }

    [Fact]
    public void TheHistogramCountsEveryCycleOnceAndMarksP50P99AndThePeriodInItsLegend()
    {
        var log = Log(200);
        var (counts, binMs) = RunPlots.HistogramBins(log, 20);
        Assert.Equal(200, counts.Sum());
        // The slowest cycle is 97 ms, above the 10 ms period: 20 bins over 97 × 1.05 ms.
        Assert.Equal(97 * 1.05 / 20, binMs, 9);

        var plot = RunPlots.Histogram(log, 20);
        var legend = PlotFiles.LegendTexts(plot);
        Assert.Equal("cycles per bin", legend[0]);
        Assert.Contains(legend, t => t.StartsWith("p50 ", StringComparison.Ordinal));
        Assert.Contains(legend, t => t.StartsWith("p99 ", StringComparison.Ordinal));
        Assert.Contains("period 10 ms", legend);
        var ticks = PlotFiles.TickLabels(plot, plot.Axes.Left, RunPlots.Width, RunPlots.Height);
        Assert.NotEmpty(ticks);
        Assert.All(ticks, t => Assert.True(int.TryParse(t.Replace(",", ""), out _), $"count tick '{t}' is not a whole number"));
    }

    [Fact]
    public void TheTimelineHasALegendEntryForEveryStageTheMissesThePeriodAndEachHoldReason()
    {
        var plot = RunPlots.Timeline(Log(100));
        var legend = PlotFiles.LegendTexts(plot);
        foreach (var stage in new[] { "Preprocess", "Encode", "Plan", "Safety", "Send", "Compute" })
            Assert.Contains(stage, legend);
        Assert.Contains("missed deadline (10)", legend);
        Assert.Contains("period 10 ms", legend);
        // Two holds for a stale frame and one for a non-finite command: one entry per reason.
        Assert.Equal(1, legend.Count(t => t == "hold: StaleCameraFrame"));
        Assert.Equal(1, legend.Count(t => t == "hold: NonFiniteCommand"));
        var ticks = PlotFiles.TickLabels(plot, plot.Axes.Bottom, RunPlots.Width, RunPlots.Height);
        Assert.All(ticks, t => Assert.True(int.TryParse(t.Replace(",", ""), out _), $"cycle tick '{t}' is not a whole number"));
    }

    [Fact]
    public void ASixtyThousandCycleTimelineIsDrawnInBinsAndStaysSmall()
    {
        var log = Log(60_000);
        var plot = RunPlots.Timeline(log);
        var lines = plot.GetPlottables().OfType<ScottPlot.Plottables.Scatter>().ToList();
        Assert.Equal(6, lines.Count);
        Assert.All(lines, l => Assert.True(l.Data.GetScatterPoints().Count <= RunPlots.MaxTimelineBins, $"{l.LegendText}: {l.Data.GetScatterPoints().Count} points"));
        var legend = PlotFiles.LegendTexts(plot);
        Assert.Contains("Compute, smallest–largest of 100 cycles", legend);
        Assert.Contains("missed deadline (6,000)", legend);

        var written = RunPlots.WriteFiles(log, Path.Combine(_folder, "long"));
        Assert.Equal(["long-histogram.png", "long-histogram.svg", "long-timeline.png", "long-timeline.svg"], written.Select(Path.GetFileName));
        var svg = new FileInfo(Path.Combine(_folder, "long-timeline.svg"));
        Assert.InRange(svg.Length, 1_000, 1_500_000); // bounded: bins, not 60,000 points per line
        XDocument.Load(svg.FullName);
        var png = File.ReadAllBytes(Path.Combine(_folder, "long-timeline.png"));
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, png[..4]);
        Assert.Equal(RunPlots.Width, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(RunPlots.Height, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }

    [Fact]
    public void AnEmptyLogStillGivesBothPlots()
    {
        var written = RunPlots.WriteFiles(Log(0), Path.Combine(_folder, "empty"));
        Assert.All(written, f => Assert.True(new FileInfo(f).Length > 100, f));
        Assert.Contains("period 10 ms", PlotFiles.LegendTexts(RunPlots.Timeline(Log(0))));
    }
}
