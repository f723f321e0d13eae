namespace RobotRuntime.Plots.Tests;

public sealed class CurvePlotsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-curves-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void ALearningCurveHasSuccessAndReturnInItsLegendAndWholeStepTicks()
    {
        var points = new List<(long, double, double)> { (2000, 0.1, 12.5), (4000, 0.4, 30.1), (6000, 0.9, 61.0) };
        var plot = CurvePlots.LearningCurve(points, "reach · frozen · bc-cnn-s1 · seed 1", spread: [(0.0, 0.2), (0.3, 0.5), (0.8, 1.0)]);
        Assert.Equal(["success, range over seeds", "success rate", "mean return (right axis)"], PlotFiles.LegendTexts(plot));
        var ticks = PlotFiles.TickLabels(plot, plot.Axes.Bottom, CurvePlots.Width, CurvePlots.Height);
        Assert.All(ticks, t => Assert.True(int.TryParse(t.Replace(",", ""), out _), $"step tick '{t}'"));
        var (png, svg) = PlotFiles.Save(plot, Path.Combine(_folder, "curve"), CurvePlots.Width, CurvePlots.Height);
        Assert.True(File.Exists(png) && File.Exists(svg));
        Assert.False(File.Exists(png + ".tmp"));
    }

    [Fact]
    public void SuccessBarsLabelEachConditionWithItsEpisodes()
    {
        var plot = CurvePlots.SuccessBars([("in-distribution", 0.9, 30), ("table-texture", 0.5, 30), ("lighting-hard", 0.1, 30)], "reach-frozen-pvr");
        Assert.Equal(["in distribution", "visual shift"], PlotFiles.LegendTexts(plot));
        var ticks = PlotFiles.TickLabels(plot, plot.Axes.Bottom, CurvePlots.Width, CurvePlots.Height);
        Assert.Equal(["in-distribution\n(30 ep.)", "table-texture\n(30 ep.)", "lighting-hard\n(30 ep.)"], ticks);
    }

    [Fact]
    public void LossCurvesNameEachSeries()
    {
        var plot = CurvePlots.Losses([10, 20, 30], new Dictionary<string, double[]> { ["loss"] = [3, 2, 1.5], ["kl"] = [0.5, 0.4, 0.3] }, "atc");
        Assert.Equal(["loss", "kl"], PlotFiles.LegendTexts(plot));
    }
}
