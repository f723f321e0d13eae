using System.Globalization;
using RobotRuntime.Agents.Analysis;
using RobotRuntime.Sim.Shifts;
using Cell = RobotRuntime.Cli.Grid.GridReportData.Cell;

namespace RobotRuntime.Cli.Grid;

/// <summary>A group of evaluation presets a cell's success is averaged over.</summary>
/// <param name="Title">Column title.</param>
/// <param name="Includes">Whether a preset (name, outcome) of a cell belongs to the group.</param>
internal sealed record PresetGroup(string Title, Func<Cell, string, GridReportData.PresetOutcome, bool> Includes)
{
    /// <summary>In distribution.</summary>
    public static PresetGroup InDistribution { get; } = new("in-distribution", (_, name, _) => name == VisualShifts.InDistribution);

    /// <summary>Easy shifts of families the cell did not train under.</summary>
    public static PresetGroup EasyHeldOut { get; } = new("easy shifts, held out", (c, _, p) => p.Severity == "easy" && !c.TrainFamilies.Contains(p.Family));

    /// <summary>Hard shifts of families the cell did not train under (the far-OOD group).</summary>
    public static PresetGroup HardHeldOut { get; } = new("hard shifts, held out", (c, _, p) => p.Severity == "hard" && !c.TrainFamilies.Contains(p.Family));

    /// <summary>Easy shifts of families randomised in the cell's training.</summary>
    public static PresetGroup EasySeen { get; } = new("easy shifts, seen in training", (c, _, p) => p.Severity == "easy" && c.TrainFamilies.Contains(p.Family));

    /// <summary>Hard shifts of families randomised in the cell's training.</summary>
    public static PresetGroup HardSeen { get; } = new("hard shifts, seen in training", (c, _, p) => p.Severity == "hard" && c.TrainFamilies.Contains(p.Family));

    /// <summary>One preset.</summary>
    public static PresetGroup Single(string preset) => new(preset, (_, name, _) => name == preset);

    /// <summary>The cell's mean success over the group's presets it was evaluated on; null when none.</summary>
    public double? Success(Cell cell) => Mean(cell, p => p.SuccessRate);

    /// <summary>The cell's mean return over the group's presets it was evaluated on; null when none.</summary>
    public double? Return(Cell cell) => Mean(cell, p => p.MeanReturn);

    private double? Mean(Cell cell, Func<GridReportData.PresetOutcome, double> value)
    {
        if (cell.Result is null)
            return null;
        double sum = 0;
        int count = 0;
        foreach (var (name, outcome) in cell.Result.Presets)
        {
            if (Includes(cell, name, outcome) && !double.IsNaN(value(outcome)))
            {
                sum += value(outcome);
                count++;
            }
        }
        return count == 0 ? null : sum / count;
    }
}

/// <summary>Aggregates of cells' scores with intervals, and their formatting.</summary>
internal static class GridScores
{
    /// <summary>
    /// The aggregate of <paramref name="score"/> over <paramref name="cells"/> (cells without a score left out)
    /// with its stratified bootstrap interval, tasks as strata; null when no cell has a score.
    /// </summary>
    public static (ConfidenceInterval Interval, int Cells)? Aggregate(IEnumerable<Cell> cells, Func<Cell, double?> score, AggregateKind kind, BootstrapOptions bootstrap)
    {
        var strata = cells.Select(c => (c.Task, Score: score(c))).Where(x => x.Score is not null)
            .GroupBy(x => x.Task, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (IReadOnlyList<double>)g.Select(x => x.Score!.Value).ToArray()).ToArray();
        int count = strata.Sum(s => s.Count);
        return count == 0 ? null : (RobustStatistics.StratifiedBootstrap(strata, kind, bootstrap), count);
    }

    /// <summary>Runs (seeds) each group needs in a stratum before a comparison uses it: one run says nothing of the spread between seeds, and its bootstrap interval would collapse to a point.</summary>
    public const int MinimumRunsPerGroup = 2;

    /// <summary>The probability of improvement P(X &gt; Y) of a score with its interval, strata given by <paramref name="stratum"/>; null when no stratum has both groups with at least <see cref="MinimumRunsPerGroup"/> runs each.</summary>
    public static ConfidenceInterval? Compare(IEnumerable<Cell> x, IEnumerable<Cell> y, Func<Cell, double?> score, Func<Cell, string> stratum, BootstrapOptions bootstrap)
    {
        var xs = Scored(x, score, stratum);
        var ys = Scored(y, score, stratum);
        var keys = xs.Keys.Intersect(ys.Keys).Where(k => xs[k].Count >= MinimumRunsPerGroup && ys[k].Count >= MinimumRunsPerGroup)
            .Order(StringComparer.Ordinal).ToArray();
        if (keys.Length == 0)
            return null;
        var strata = keys.Select(k => ((IReadOnlyList<double>)xs[k], (IReadOnlyList<double>)ys[k])).ToArray();
        return RobustStatistics.ProbabilityOfImprovementInterval(strata, bootstrap);
    }

    private static Dictionary<string, List<double>> Scored(IEnumerable<Cell> cells, Func<Cell, double?> score, Func<Cell, string> stratum)
    {
        var result = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        foreach (var cell in cells)
        {
            if (score(cell) is not { } value)
                continue;
            var key = stratum(cell);
            if (!result.TryGetValue(key, out var list))
                result[key] = list = [];
            list.Add(value);
        }
        return result;
    }

    /// <summary>A number with three decimals.</summary>
    public static string F3(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);

    /// <summary>A probability with two decimals.</summary>
    public static string F2(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>"estimate [lower, upper]" with <paramref name="format"/>.</summary>
    public static string Interval(ConfidenceInterval interval, Func<double, string> format) =>
        $"{format(interval.Estimate)} [{format(interval.Lower)}, {format(interval.Upper)}]";

    /// <summary>A percentage with one decimal ("91.8 %").</summary>
    public static string Percent(double fraction) => (fraction * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %";

    /// <summary>A step count ("12,000"), or "not reached" for +∞.</summary>
    public static string Steps(double steps) => double.IsPositiveInfinity(steps) ? "not reached" : steps.ToString("#,0", CultureInfo.InvariantCulture);

    /// <summary>A whole number with thousands separators.</summary>
    public static string Count(double value) => value.ToString("#,0", CultureInfo.InvariantCulture);

    /// <summary>A value small or large in a readable number of significant digits.</summary>
    public static string Significant(double value) =>
        value == 0 ? "0" : Math.Abs(value) >= 1000 ? value.ToString("#,0", CultureInfo.InvariantCulture) : value.ToString("G3", CultureInfo.InvariantCulture);

    /// <summary>Text safe inside a markdown table cell.</summary>
    public static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
