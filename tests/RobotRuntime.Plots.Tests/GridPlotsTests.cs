namespace RobotRuntime.Plots.Tests;

public sealed class GridPlotsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-grid-plots-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void BandsNameEachSeriesOnceAndSkipUnboundedBands()
    {
        var scratch = new BandSeries("scratch / scratch", [(0, 0.1, 0.0, 0.2), (1000, 0.5, 0.4, 0.6), (2000, 0.9, 0.8, 1.0)]);
        var frozen = new BandSeries("bc-cnn / frozen", [(0, 0.0, 0.0, 0.0), (1000, 0.2, double.NegativeInfinity, double.PositiveInfinity), (2000, 0.3, 0.2, 0.4)]);
        var plot = GridPlots.Bands([scratch, frozen], "reach", "environment steps", "success rate (IQM)", yLimits: (0, 1.05));
        // Bands carry no legend entry; the lines do, in order.
        Assert.Equal(["scratch / scratch", "bc-cnn / frozen"], PlotFiles.LegendTexts(plot));
        var ticks = PlotFiles.TickLabels(plot, plot.Axes.Bottom, GridPlots.Width, GridPlots.Height);
        Assert.All(ticks, t => Assert.True(int.TryParse(t.Replace(",", ""), out _), $"step tick '{t}'"));
        var (png, svg) = PlotFiles.Save(plot, Path.Combine(_folder, "bands"), GridPlots.Width, GridPlots.Height);
        Assert.True(new FileInfo(png).Length > 0 && new FileInfo(svg).Length > 0);
    }

    [Fact]
    public void ALatentMapColoursPointsByTheirValuesBinAndHasAColourBar()
    {
        // Values 0, 0.5 and 1 on [0, 1] with 24 bins: bins 0, 12 and 23 (the top value closes the last bin).
        Assert.Equal(0, GridPlots.BinOf(0, 0, 1));
        Assert.Equal(12, GridPlots.BinOf(0.5, 0, 1));
        Assert.Equal(GridPlots.ColourBins - 1, GridPlots.BinOf(1, 0, 1));
        var points = Enumerable.Range(0, 50).Select(i => ((double)i, Math.Sin(i))).ToArray();
        var values = Enumerable.Range(0, 50).Select(i => i / 49.0).ToArray();
        var plot = GridPlots.LatentMap(points, values, "reach · scratch", "true reward");
        Assert.Single(plot.Axes.GetPanels().OfType<ScottPlot.Panels.ColorBar>());
        // 50 evenly spread values fill every one of the 24 bins: one marker set per bin.
        Assert.Equal(GridPlots.ColourBins, plot.GetPlottables().OfType<ScottPlot.Plottables.Markers>().Count());
        var (png, _) = PlotFiles.Save(plot, Path.Combine(_folder, "map"), GridPlots.Width, GridPlots.Height);
        Assert.True(new FileInfo(png).Length > 0);
        Assert.Contains("3 colour values for 2 points", Assert.Throws<ArgumentException>(() => GridPlots.LatentMap([(0, 0), (1, 1)], [1, 2, 3], "t", "r")).Message);
    }
}
