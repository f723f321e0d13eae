using ScottPlot;

namespace RobotRuntime.Plots;

/// <summary>One line with a shaded interval: (x, value, lower, upper) per point, in x order.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="Points">The points; lower ≤ value ≤ upper is not required (an aggregate may sit outside a percentile band), but each bound must be finite to be drawn.</param>
public sealed record BandSeries(string Label, IReadOnlyList<(double X, double Value, double Lower, double Upper)> Points);

/// <summary>The experiment grid's figures: lines with confidence bands (learning curves, dynamics error, dormant ratio) and 2-D latent maps coloured by a value.</summary>
public static class GridPlots
{
    /// <summary>Size of the written images, pixels.</summary>
    public const int Width = 900, Height = 500;

    /// <summary>Colour bins of a latent map: points are drawn in this many colours along the colour scale.</summary>
    public const int ColourBins = 24;

    private static readonly Color[] Palette =
        [Colors.C0, Colors.C1, Colors.C2, Colors.C3, Colors.C4, Colors.C5, Colors.C6, Colors.C7, Colors.C8, Colors.C9];

    /// <summary>
    /// Lines with shaded bands, one colour per series (the band the line's colour at 20 % opacity). Points
    /// whose bounds are not finite get no band. <paramref name="integerX"/> puts ticks on whole numbers
    /// (steps, horizon); <paramref name="yLimits"/> fixes the value axis (e.g. 0–1.05 for success).
    /// </summary>
    public static Plot Bands(IReadOnlyList<BandSeries> series, string title, string xLabel, string yLabel, bool integerX = true, (double Low, double High)? yLimits = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        var plot = PlotFiles.New(title, xLabel, yLabel);
        for (int s = 0; s < series.Count; s++)
        {
            var points = series[s].Points;
            if (points.Count == 0)
                continue;
            var colour = Palette[s % Palette.Length];
            var banded = points.Where(p => double.IsFinite(p.Lower) && double.IsFinite(p.Upper)).ToArray();
            if (banded.Length > 1)
            {
                var band = plot.Add.FillY(banded.Select(p => p.X).ToArray(), banded.Select(p => p.Lower).ToArray(), banded.Select(p => p.Upper).ToArray());
                band.FillStyle.Color = colour.WithAlpha(0.2);
                band.LineStyle.Width = 0;
            }
            var drawn = points.Where(p => double.IsFinite(p.Value)).ToArray();
            var line = plot.Add.Scatter(drawn.Select(p => p.X).ToArray(), drawn.Select(p => p.Value).ToArray());
            line.LegendText = series[s].Label;
            line.Color = colour;
            line.MarkerSize = 4;
        }
        if (integerX)
            PlotFiles.IntegerTicks(plot.Axes.Bottom);
        if (yLimits is { } limits)
            plot.Axes.SetLimitsY(limits.Low, limits.High);
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    /// <summary>
    /// A 2-D map of points (e.g. a UMAP of latents) coloured by <paramref name="values"/> on the Viridis scale,
    /// with a colour bar labelled <paramref name="colourLabel"/>. Each point is drawn in the colour of its
    /// value's bin (<see cref="ColourBins"/> equal bins from the smallest to the largest value).
    /// </summary>
    public static Plot LatentMap(IReadOnlyList<(double X, double Y)> points, IReadOnlyList<double> values, string title, string colourLabel)
    {
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(values);
        if (points.Count != values.Count)
            throw new ArgumentException($"{values.Count} colour values for {points.Count} points", nameof(values));
        var plot = PlotFiles.New(title, "UMAP 1", "UMAP 2");
        var colormap = new ScottPlot.Colormaps.Viridis();
        double low = values.Count == 0 ? 0 : values.Min(), high = values.Count == 0 ? 1 : values.Max();
        if (!(high > low))
            high = low + 1;
        var bins = new List<(double X, double Y)>[ColourBins];
        for (int b = 0; b < ColourBins; b++)
            bins[b] = [];
        for (int i = 0; i < points.Count; i++)
            bins[BinOf(values[i], low, high)].Add(points[i]);
        for (int b = 0; b < ColourBins; b++)
        {
            if (bins[b].Count == 0)
                continue;
            var markers = plot.Add.Markers(bins[b].Select(p => p.X).ToArray(), bins[b].Select(p => p.Y).ToArray(), MarkerShape.FilledCircle, 4,
                colormap.GetColor((b + 0.5) / ColourBins).WithAlpha(0.85));
            markers.LegendText = "";
        }
        var bar = plot.Add.ColorBar(new ColourScale(colormap, new ScottPlot.Range(low, high)), Edge.Right);
        bar.Label = colourLabel;
        plot.HideLegend();
        return plot;
    }

    /// <summary>The colour bin of <paramref name="value"/> on [low, high] (the top value falls in the last bin).</summary>
    public static int BinOf(double value, double low, double high) =>
        Math.Clamp((int)((value - low) / (high - low) * ColourBins), 0, ColourBins - 1);

    private sealed class ColourScale(IColormap colormap, ScottPlot.Range range) : IHasColorAxis
    {
        public IColormap Colormap { get; } = colormap;

        public ScottPlot.Range GetRange() => range;
    }
}
