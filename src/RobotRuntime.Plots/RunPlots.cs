using System.Globalization;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using ScottPlot;

namespace RobotRuntime.Plots;

/// <summary>
/// A run log's two plots: the histogram of per-cycle compute time (p50, p99 and the period marked)
/// and the timeline of stage durations with the period, missed deadlines and holds. A long run is
/// drawn in at most <see cref="MaxTimelineBins"/> bins per line (each bin's largest value, so spikes
/// stay visible; the compute band shows each bin's smallest to largest), so 60,000 cycles read as
/// well as 600.
/// </summary>
public static class RunPlots
{
    /// <summary>Size of the written images, pixels.</summary>
    public const int Width = 1000, Height = 480;

    /// <summary>The most points a timeline line has.</summary>
    public const int MaxTimelineBins = 600;

    private static readonly CycleStage[] TimelineStages =
        [CycleStage.Preprocess, CycleStage.Encode, CycleStage.Plan, CycleStage.Safety, CycleStage.Send, CycleStage.Compute];

    /// <summary>Cycles per compute-time bin: counts for <paramref name="bins"/> equal bins from 0 to the top (the larger of the slowest cycle and the period, + 5 %).</summary>
    public static (double[] Counts, double BinMs) HistogramBins(RunLog log, int bins)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        double period = 1000.0 / log.Metadata.RateHz;
        double slowest = log.Records.Count == 0 ? 0 : log.Records.Max(r => r.ComputeNs) / 1e6;
        double top = Math.Max(Math.Max(slowest, period) * 1.05, 1e-3);
        var counts = new double[bins];
        foreach (var r in log.Records)
            counts[Math.Clamp((int)(r.ComputeNs / 1e6 / top * bins), 0, bins - 1)]++;
        return (counts, top / bins);
    }

    /// <summary>The compute-time histogram.</summary>
    public static Plot Histogram(RunLog log, int bins = 40)
    {
        var (counts, binMs) = HistogramBins(log, bins);
        var summary = RunLogSummary.Compute(log);
        var compute = summary[CycleStage.Compute];
        double period = 1000.0 / log.Metadata.RateHz;
        var plot = PlotFiles.New($"Cycle compute time, {log.Records.Count:N0} cycles at {F(log.Metadata.RateHz)} Hz", "compute time (ms)", "cycles");
        var positions = Enumerable.Range(0, bins).Select(i => (i + 0.5) * binMs).ToArray();
        var bars = plot.Add.Bars(positions, counts);
        foreach (var bar in bars.Bars)
            bar.Size = binMs * 0.9;
        bars.LegendText = "cycles per bin";
        bars.Color = Colors.SteelBlue;
        Marker(plot, compute.P50, $"p50 {F(compute.P50)} ms", Colors.Gray, LinePattern.Dashed);
        Marker(plot, compute.P99, $"p99 {F(compute.P99)} ms", Colors.Black, LinePattern.Dashed);
        Marker(plot, period, $"period {F(period)} ms", Colors.Red, LinePattern.Solid);
        PlotFiles.IntegerTicks(plot.Axes.Left);
        plot.Axes.SetLimits(0, binMs * bins, 0, Math.Max(1, counts.Max()) * 1.1);
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    private static void Marker(Plot plot, double x, string label, Color colour, LinePattern pattern)
    {
        var line = plot.Add.VerticalLine(x);
        line.LegendText = label;
        line.Color = colour;
        line.LinePattern = pattern;
        line.LineWidth = 1.5f;
    }

    /// <summary>The timeline of a run: one line per stage, the period, missed deadlines and holds.</summary>
    public static Plot Timeline(RunLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        var records = log.Records;
        int n = records.Count;
        double period = 1000.0 / log.Metadata.RateHz;
        int bin = Math.Max(1, (n + MaxTimelineBins - 1) / MaxTimelineBins);
        var plot = PlotFiles.New(
            $"Cycle timeline, {n:N0} cycles at {F(log.Metadata.RateHz)} Hz" + (bin > 1 ? $" (each point: the largest of {bin} cycles)" : ""),
            "cycle", "duration (ms)");

        // Holds first, so the lines draw over them: one span per hold, one legend entry per reason.
        var labelled = new HashSet<HoldReason>();
        Color[] holdColours = [Colors.Orange.WithAlpha(0.25), Colors.Purple.WithAlpha(0.2), Colors.Brown.WithAlpha(0.2), Colors.Olive.WithAlpha(0.25)];
        var reasonColour = new Dictionary<HoldReason, Color>();
        int minimumSpan = Math.Max(1, bin / 2);
        for (int i = 0; i < n;)
        {
            if (records[i].Safety != SafetyStatus.Hold) { i++; continue; }
            int start = i;
            var reason = records[i].HoldReason;
            while (i < n && records[i].Safety == SafetyStatus.Hold && records[i].HoldReason == reason) i++;
            if (!reasonColour.TryGetValue(reason, out var colour))
                reasonColour[reason] = colour = holdColours[reasonColour.Count % holdColours.Length];
            var span = plot.Add.HorizontalSpan(start, Math.Max(i - 1, start + minimumSpan));
            span.FillStyle.Color = colour;
            span.LineStyle.Width = 0;
            if (labelled.Add(reason))
                span.LegendText = $"hold: {reason}";
        }

        if (n > 0)
        {
            int points = (n + bin - 1) / bin;
            var xs = new double[points];
            for (int p = 0; p < points; p++)
                xs[p] = p * bin;
            Color[] palette = [Colors.C0, Colors.C1, Colors.C2, Colors.C4, Colors.C5, Colors.C3];
            for (int s = 0; s < TimelineStages.Length; s++)
            {
                var stage = TimelineStages[s];
                var largest = new double[points];
                var smallest = new double[points];
                for (int p = 0; p < points; p++)
                {
                    long hi = 0, lo = long.MaxValue;
                    for (int j = p * bin; j < Math.Min(n, (p + 1) * bin); j++)
                    {
                        var value = RunLogSummary.StageNanoseconds(records[j], stage);
                        hi = Math.Max(hi, value);
                        lo = Math.Min(lo, value);
                    }
                    largest[p] = hi / 1e6;
                    smallest[p] = lo / 1e6;
                }
                if (stage == CycleStage.Compute && bin > 1)
                {
                    var band = plot.Add.FillY(xs, smallest, largest);
                    band.FillStyle.Color = palette[s].WithAlpha(0.2);
                    band.LineStyle.Width = 0;
                    band.LegendText = $"Compute, smallest–largest of {bin} cycles";
                }
                var line = plot.Add.ScatterLine(xs, largest);
                line.LegendText = stage.ToString();
                line.Color = palette[s];
                line.LineWidth = stage == CycleStage.Compute ? 1.5f : 1f;
            }
            var missed = Enumerable.Range(0, n).Where(i => records[i].MissedDeadline != 0).ToArray();
            if (missed.Length > 0)
            {
                var dots = plot.Add.Markers(missed.Select(i => (double)i).ToArray(), missed.Select(i => records[i].ComputeNs / 1e6).ToArray());
                dots.MarkerStyle.Shape = MarkerShape.FilledCircle;
                dots.MarkerStyle.Size = 5;
                dots.Color = Colors.Red;
                dots.LegendText = $"missed deadline ({missed.Length:N0})";
            }
        }
        var periodLine = plot.Add.HorizontalLine(period);
        periodLine.LegendText = $"period {F(period)} ms";
        periodLine.Color = Colors.Red;
        periodLine.LinePattern = LinePattern.Dashed;
        PlotFiles.IntegerTicks(plot.Axes.Bottom);
        double top = period;
        foreach (var r in records)
            top = Math.Max(top, r.ComputeNs / 1e6);
        plot.Axes.SetLimits(0, Math.Max(n - 1, 1), 0, top * 1.08);
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    /// <summary>Writes <c>prefix-histogram.png/.svg</c> and <c>prefix-timeline.png/.svg</c>.</summary>
    /// <returns>The four paths written.</returns>
    public static IReadOnlyList<string> WriteFiles(RunLog log, string prefix)
    {
        var (hp, hs) = PlotFiles.Save(Histogram(log), prefix + "-histogram", Width, Height);
        var (tp, ts) = PlotFiles.Save(Timeline(log), prefix + "-timeline", Width, Height);
        return [hp, hs, tp, ts];
    }

    private static string F(double value) => value.ToString(Math.Abs(value) >= 100 ? "0" : "0.###", CultureInfo.InvariantCulture);
}
