using System.Globalization;
using ScottPlot;

namespace RobotRuntime.Plots;

/// <summary>Learning curves, loss curves and out-of-distribution bars.</summary>
public static class CurvePlots
{
    /// <summary>Size of the written images, pixels.</summary>
    public const int Width = 800, Height = 440;

    /// <summary>
    /// An agent's learning curve: evaluation success rate (left axis, 0–1) and mean episode return
    /// (right axis) against environment steps. With <paramref name="spread"/> (per-step
    /// lower and upper success, e.g. over seeds) the success line gets a shaded band.
    /// </summary>
    public static Plot LearningCurve(IReadOnlyList<(long Step, double Success, double Return)> points, string title,
        IReadOnlyList<(double Lower, double Upper)>? spread = null)
    {
        ArgumentNullException.ThrowIfNull(points);
        var plot = PlotFiles.New(title, "environment steps", "success rate");
        var xs = points.Select(p => (double)p.Step).ToArray();
        if (spread is not null && spread.Count == points.Count && points.Count > 0)
        {
            var band = plot.Add.FillY(xs, spread.Select(s => s.Lower).ToArray(), spread.Select(s => s.Upper).ToArray());
            band.FillStyle.Color = Colors.C0.WithAlpha(0.2);
            band.LineStyle.Width = 0;
            band.LegendText = "success, range over seeds";
        }
        if (points.Count > 0)
        {
            var success = plot.Add.Scatter(xs, points.Select(p => p.Success).ToArray());
            success.LegendText = "success rate";
            success.Color = Colors.C0;
            var returns = plot.Add.Scatter(xs, points.Select(p => p.Return).ToArray());
            returns.LegendText = "mean return (right axis)";
            returns.Color = Colors.C1;
            returns.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "mean episode return";
        }
        PlotFiles.IntegerTicks(plot.Axes.Bottom);
        plot.Axes.SetLimitsY(0, 1.05, plot.Axes.Left);
        if (points.Count > 0)
            plot.Axes.SetLimitsX(0, Math.Max(1, points.Max(p => p.Step)) * 1.02);
        plot.ShowLegend(Alignment.LowerRight);
        return plot;
    }

    /// <summary>Training losses (one line per named series) against update steps.</summary>
    public static Plot Losses(IReadOnlyList<long> steps, IReadOnlyDictionary<string, double[]> series, string title)
    {
        ArgumentNullException.ThrowIfNull(steps);
        ArgumentNullException.ThrowIfNull(series);
        var plot = PlotFiles.New(title, "update", "loss");
        var xs = steps.Select(s => (double)s).ToArray();
        Color[] palette = [Colors.C0, Colors.C1, Colors.C2, Colors.C3, Colors.C4, Colors.C5];
        var index = 0;
        foreach (var (name, values) in series)
        {
            if (values.Length != xs.Length || xs.Length == 0)
                continue;
            var line = plot.Add.ScatterLine(xs, values);
            line.LegendText = name;
            line.Color = palette[index++ % palette.Length];
        }
        PlotFiles.IntegerTicks(plot.Axes.Bottom);
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    /// <summary>Success rate per evaluation condition (in distribution first, then each shift), as bars with the episode count in the label.</summary>
    public static Plot SuccessBars(IReadOnlyList<(string Condition, double Success, int Episodes)> rows, string title)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var plot = PlotFiles.New(title, "", "success rate");
        var bars = new List<Bar>();
        for (var i = 0; i < rows.Count; i++)
        {
            bars.Add(new Bar
            {
                Position = i,
                Value = rows[i].Success,
                FillColor = i == 0 ? Colors.C0 : Colors.C1,
                Label = rows[i].Success.ToString("0.00", CultureInfo.InvariantCulture),
            });
        }
        var plottable = plot.Add.Bars(bars);
        plottable.ValueLabelStyle.FontSize = 11;
        var ticks = rows.Select((r, i) => new Tick(i, $"{r.Condition}\n({r.Episodes} ep.)")).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.SetLimits(-0.6, Math.Max(rows.Count - 0.4, 0.6), 0, 1.1);
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "in distribution", FillColor = Colors.C0 });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "visual shift", FillColor = Colors.C1 });
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }
}
