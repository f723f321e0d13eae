using ScottPlot;

namespace RobotRuntime.Plots;

/// <summary>Writes a plot as PNG and SVG side by side, each through a temporary file and a rename (a crash leaves the old file or the new, never half of one).</summary>
public static class PlotFiles
{
    /// <summary>The font every plot uses (DejaVu Sans ships with Debian; ScottPlot falls back to its own where it is absent).</summary>
    public const string FontName = "DejaVu Sans";

    /// <summary>Writes <c>prefix.png</c> and <c>prefix.svg</c>.</summary>
    /// <returns>The two paths.</returns>
    public static (string Png, string Svg) Save(Plot plot, string prefix, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(plot);
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);
        string png = prefix + ".png", svg = prefix + ".svg";
        plot.SavePng(png + ".tmp", width, height);
        File.Move(png + ".tmp", png, overwrite: true);
        plot.SaveSvg(svg + ".tmp", width, height);
        File.Move(svg + ".tmp", svg, overwrite: true);
        return (png, svg);
    }

    /// <summary>A plot with the project's font, a title and axis labels.</summary>
    internal static Plot New(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Font.Set(FontName);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        return plot;
    }

    /// <summary>Ticks on whole numbers only (counts, cycles, steps).</summary>
    internal static void IntegerTicks(IAxis axis) =>
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };

    /// <summary>The labels of an axis's major ticks after the plot was laid out at the given size (for tests and checks).</summary>
    internal static string[] TickLabels(Plot plot, IAxis axis, int width, int height)
    {
        plot.GetImage(width, height).Dispose();
        return axis.TickGenerator.Ticks.Where(t => t.IsMajor).Select(t => t.Label).ToArray();
    }

    /// <summary>Every legend entry's text, in order (the plottables' entries, then the manual ones).</summary>
    internal static string[] LegendTexts(Plot plot) =>
        plot.GetPlottables().SelectMany(p => p.LegendItems).Concat(plot.Legend.ManualItems)
            .Select(i => i.LabelText).Where(t => !string.IsNullOrEmpty(t)).ToArray();
}
