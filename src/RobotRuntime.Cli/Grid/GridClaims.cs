using RobotRuntime.Agents.Analysis;
using static RobotRuntime.Cli.Grid.GridScores;
using Cell = RobotRuntime.Cli.Grid.GridReportData.Cell;

namespace RobotRuntime.Cli.Grid;

/// <summary>What the grid says about a claim.</summary>
internal enum ClaimVerdict
{
    /// <summary>The interval lies on the claim's side of the comparison.</summary>
    Supported,
    /// <summary>The interval lies on the other side.</summary>
    NotSupported,
    /// <summary>The interval crosses the comparison (or a needed part of the comparison is missing).</summary>
    Inconclusive,
    /// <summary>The grid lacks the cells the claim needs.</summary>
    NotTested,
}

/// <summary>One row of the claims table.</summary>
/// <param name="Number">1–5.</param>
/// <param name="Claim">The claim, as the research states it.</param>
/// <param name="Shows">What this grid shows, every number from the data.</param>
/// <param name="Interval">The deciding interval, formatted; empty when not tested.</param>
/// <param name="Verdict">The verdict.</param>
internal sealed record ClaimResult(int Number, string Claim, string Shows, string Interval, ClaimVerdict Verdict);

/// <summary>
/// The research claims checked against a grid. Group comparisons use the probability of improvement
/// P(X &gt; Y) with its stratified bootstrap interval, against 0.5 (no difference): X better when the whole
/// interval is above 0.5, worse when below, inconclusive when it contains 0.5. The memory claim compares the
/// saving's interval with 90 %.
/// </summary>
internal static class GridClaims
{
    /// <summary>Objectives counted as task-agnostic (seed 003).</summary>
    public static readonly IReadOnlySet<string> TaskAgnostic = new HashSet<string>(["curl", "atc", "mae", "siammae"], StringComparer.Ordinal);

    /// <summary>Objectives counted as task-specific (seed 003).</summary>
    public static readonly IReadOnlySet<string> TaskSpecific = new HashSet<string>(["bc", "spr", "idm"], StringComparer.Ordinal);

    /// <summary>The objective tag of video-dynamics pre-training (rr pretrain --objective video-dynamics).</summary>
    public const string VideoDynamics = "video-dynamics";

    private enum Side { Above, Below, Crosses }

    private static Side Against(ConfidenceInterval interval, double comparison) =>
        interval.Lower > comparison ? Side.Above : interval.Upper < comparison ? Side.Below : Side.Crosses;

    private static string P(ConfidenceInterval interval) => Interval(interval, F2);

    /// <summary>Evaluates the five claims on the done cells (grid order).</summary>
    public static IReadOnlyList<ClaimResult> Evaluate(IReadOnlyList<Cell> done, BootstrapOptions bootstrap) =>
    [
        PvrsNoBetterThanScratch(done, bootstrap),
        PartialBestUnderHardShifts(done, bootstrap),
        EmbeddingsSaveReplayMemory(done, bootstrap),
        TaskAgnosticGeneraliseFurthest(done, bootstrap),
        VideoDynamicsHelps(done, bootstrap),
    ];

    private static IEnumerable<Cell> Scratch(IEnumerable<Cell> done) =>
        done.Where(c => c.Encoder == "scratch" && c.Mode == "scratch" && c.TrainShifts == "none");

    /// <summary>The cells of an encoder's mode with the highest in-distribution IQM (ties: the mode first in grid order); trained without shifts.</summary>
    private static (string Mode, Cell[] Cells) BestMode(IEnumerable<Cell> encoderCells)
    {
        var best = (Mode: "", Cells: Array.Empty<Cell>(), Iqm: double.NegativeInfinity);
        foreach (var group in encoderCells.Where(c => c.TrainShifts == "none").GroupBy(c => c.Mode))
        {
            var cells = group.ToArray();
            var scores = cells.Select(c => PresetGroup.InDistribution.Success(c)).OfType<double>().ToArray();
            if (scores.Length == 0)
                continue;
            double iqm = RobustStatistics.InterquartileMean(scores);
            if (iqm > best.Iqm)
                best = (group.Key, cells, iqm);
        }
        return (best.Mode, best.Cells);
    }

    private static ClaimResult PvrsNoBetterThanScratch(IReadOnlyList<Cell> done, BootstrapOptions bootstrap)
    {
        const string claim = "Pre-trained visual representations are no better than a scratch encoder for model-based RL in distribution.";
        var scratch = Scratch(done).ToArray();
        var comparisons = new List<(string Label, ConfidenceInterval P)>();
        foreach (var encoder in done.Where(c => c.Encoder != "scratch" && c.TrainShifts == "none").GroupBy(c => c.Encoder))
        {
            var (mode, cells) = BestMode(encoder);
            if (Compare(cells, scratch, PresetGroup.InDistribution.Success, c => c.Task, bootstrap) is { } p)
                comparisons.Add(($"{encoder.Key} ({mode})", p));
        }
        if (comparisons.Count == 0)
            return new(1, claim, "not tested by this grid: needs scratch cells and cells of at least one pre-trained encoder, trained without shifts on the same task", "", ClaimVerdict.NotTested);
        var shows = "P(the PVR's best mode > scratch), in-distribution success, per task then averaged: "
            + string.Join("; ", comparisons.Select(c => $"{c.Label} {P(c.P)}"))
            + ". The best mode is picked on the same data, which favours the PVR.";
        var better = comparisons.Where(c => Against(c.P, 0.5) == Side.Above).ToArray();
        if (better.Length > 0)
            return new(1, claim, shows, $"{better[0].Label}: {P(better[0].P)}", ClaimVerdict.NotSupported);
        var deciding = comparisons.MaxBy(c => c.P.Upper);
        return comparisons.All(c => Against(c.P, 0.5) == Side.Below)
            ? new(1, claim, shows, $"{deciding.Label}: {P(deciding.P)}", ClaimVerdict.Supported)
            : new(1, claim, shows + " Where an interval contains 0.5 the grid cannot tell the PVR from scratch.", $"{deciding.Label}: {P(deciding.P)}", ClaimVerdict.Inconclusive);
    }

    private static ClaimResult PartialBestUnderHardShifts(IReadOnlyList<Cell> done, BootstrapOptions bootstrap)
    {
        const string claim = "Partial fine-tuning gives the best success under hard visual shifts (better than frozen and than full fine-tuning).";
        var partial = done.Where(c => c.Mode == "partial").ToArray();
        static string Stratum(Cell c) => $"{c.Encoder}|{c.Task}|{c.TrainShifts}";
        var vsFrozen = Compare(partial, done.Where(c => c.Mode == "frozen"), PresetGroup.HardHeldOut.Success, Stratum, bootstrap);
        var vsFull = Compare(partial, done.Where(c => c.Mode == "full"), PresetGroup.HardHeldOut.Success, Stratum, bootstrap);
        if (vsFrozen is null && vsFull is null)
            return new(2, claim, "not tested by this grid: needs partial-mode cells and frozen- or full-mode cells of the same encoder and task, evaluated on hard shift presets", "", ClaimVerdict.NotTested);
        var parts = new List<string>();
        var available = new List<(string Label, ConfidenceInterval P)>();
        foreach (var (label, p) in new[] { ("vs frozen", vsFrozen), ("vs full", vsFull) })
        {
            if (p is { } value)
            {
                parts.Add($"P(partial > {label[3..]}) {P(value)}");
                available.Add((label, value));
            }
            else
            {
                parts.Add($"{label}: not in this grid (needs {label[3..]}-mode cells of the same encoders)");
            }
        }
        var shows = "Success on the hard shift presets not seen in training, per encoder × task × training shifts then averaged: " + string.Join("; ", parts) + ".";
        var worse = available.Where(c => Against(c.P, 0.5) == Side.Below).ToArray();
        if (worse.Length > 0)
            return new(2, claim, shows, $"{worse[0].Label}: {P(worse[0].P)}", ClaimVerdict.NotSupported);
        var deciding = available.MinBy(c => c.P.Lower);
        bool allBetter = available.All(c => Against(c.P, 0.5) == Side.Above);
        if (allBetter && available.Count == 2)
            return new(2, claim, shows, $"{deciding.Label}: {P(deciding.P)}", ClaimVerdict.Supported);
        return new(2, claim, shows + (allBetter ? " Only one of the two comparisons the claim needs is in the grid." : ""), $"{deciding.Label}: {P(deciding.P)}", ClaimVerdict.Inconclusive);
    }

    private static ClaimResult EmbeddingsSaveReplayMemory(IReadOnlyList<Cell> done, BootstrapOptions bootstrap)
    {
        const string claim = "Storing embeddings instead of images saves more than 90 % of replay memory.";
        var imageBytes = done.Where(c => c.Mode == "scratch" && c.Result!.ReplayBytesPerTransition is not null)
            .GroupBy(c => c.Task).ToDictionary(g => g.Key, g => g.Average(c => c.Result!.ReplayBytesPerTransition!.Value));
        var results = new List<(string Encoder, ConfidenceInterval Saving, double Bytes, double Image)>();
        foreach (var encoder in done.Where(c => c.Mode == "frozen" && c.Result!.ReplayBytesPerTransition is not null && imageBytes.ContainsKey(c.Task)).GroupBy(c => c.Encoder))
        {
            var cells = encoder.ToArray();
            double Saving(Cell c) => 1 - c.Result!.ReplayBytesPerTransition!.Value / imageBytes[c.Task];
            if (Aggregate(cells, c => imageBytes[c.Task] > 0 ? Saving(c) : null, AggregateKind.Mean, bootstrap) is not { } saving)
                continue;
            results.Add((encoder.Key, saving.Interval, cells.Average(c => c.Result!.ReplayBytesPerTransition!.Value), cells.Average(c => imageBytes[c.Task])));
        }
        if (results.Count == 0)
            return new(3, claim, "not tested by this grid: needs frozen-mode cells and scratch cells that report replay_bytes_per_transition on the same task", "", ClaimVerdict.NotTested);
        var shows = "Saving of replay bytes per transition, frozen (embeddings) vs scratch (images) on the same task: "
            + string.Join("; ", results.Select(r => $"{r.Encoder} {Interval(r.Saving, Percent)} ({Count(r.Bytes)} vs {Count(r.Image)} B)")) + ".";
        string Deciding((string Encoder, ConfidenceInterval Saving, double, double) r) => $"{r.Encoder}: {Interval(r.Saving, Percent)}";
        var fails = results.Where(r => r.Saving.Upper <= 0.9).ToArray();
        if (fails.Length > 0)
            return new(3, claim, shows, Deciding(fails[0]), ClaimVerdict.NotSupported);
        var lowest = results.MinBy(r => r.Saving.Lower);
        return results.All(r => r.Saving.Lower > 0.9)
            ? new(3, claim, shows, Deciding(lowest), ClaimVerdict.Supported)
            : new(3, claim, shows, Deciding(lowest), ClaimVerdict.Inconclusive);
    }

    private static ClaimResult TaskAgnosticGeneraliseFurthest(IReadOnlyList<Cell> done, BootstrapOptions bootstrap)
    {
        const string claim = "Task-agnostic pre-training objectives (CURL, ATC, MAE, SiamMAE) generalise furthest: better under hard shifts than task-specific ones (BC, SPR, IDM).";
        var agnostic = done.Where(c => c.Objective is { } o && TaskAgnostic.Contains(o)).ToArray();
        var specific = done.Where(c => c.Objective is { } o && TaskSpecific.Contains(o)).ToArray();
        static string Stratum(Cell c) => $"{c.Task}|{c.Mode}|{c.TrainShifts}";
        var p = Compare(agnostic, specific, PresetGroup.HardHeldOut.Success, Stratum, bootstrap);
        if (p is not { } value)
        {
            var untagged = done.Where(c => c.Objective is null).Select(c => c.Encoder).Distinct().ToArray();
            return new(4, claim, "not tested by this grid: needs encoders tagged with a task-agnostic objective (curl, atc, mae, siammae) and with a task-specific one (bc, spr, idm), in the same mode and task"
                + (untagged.Length > 0 ? $"; encoders without an objective tag in grid.json: {string.Join(", ", untagged)}" : ""), "", ClaimVerdict.NotTested);
        }
        string Encoders(IEnumerable<Cell> cells) => string.Join(", ", cells.Select(c => $"{c.Encoder} ({c.Objective})").Distinct());
        var shows = $"P(task-agnostic > task-specific), success on the hard shift presets not seen in training, per task × mode × training shifts then averaged: {P(value)}; "
            + $"task-agnostic: {Encoders(agnostic)}; task-specific: {Encoders(specific)}.";
        return Against(value, 0.5) switch
        {
            Side.Above => new(4, claim, shows, P(value), ClaimVerdict.Supported),
            Side.Below => new(4, claim, shows, P(value), ClaimVerdict.NotSupported),
            _ => new(4, claim, shows, P(value), ClaimVerdict.Inconclusive),
        };
    }

    private static ClaimResult VideoDynamicsHelps(IReadOnlyList<Cell> done, BootstrapOptions bootstrap)
    {
        const string claim = "Video-dynamics pre-training helps: better in-distribution success than learning the encoder from scratch.";
        var scratch = Scratch(done).ToArray();
        var video = new List<Cell>();
        var modes = new List<string>();
        foreach (var encoder in done.Where(c => c.Objective == VideoDynamics).GroupBy(c => c.Encoder))
        {
            var (mode, cells) = BestMode(encoder);
            video.AddRange(cells);
            if (cells.Length > 0)
                modes.Add($"{encoder.Key} ({mode})");
        }
        var p = Compare(video, scratch, PresetGroup.InDistribution.Success, c => c.Task, bootstrap);
        if (p is not { } value)
            return new(5, claim, "not tested by this grid: needs cells of an encoder tagged objective: video-dynamics and scratch cells, trained without shifts on the same task", "", ClaimVerdict.NotTested);
        var others = Compare(done.Where(c => c.Objective == VideoDynamics), done.Where(c => c.Encoder != "scratch" && c.Objective != VideoDynamics),
            PresetGroup.InDistribution.Success, c => $"{c.Task}|{c.Mode}|{c.TrainShifts}", bootstrap);
        var shows = $"P(video-dynamics > scratch), in-distribution success, per task then averaged: {P(value)} ({string.Join(", ", modes)}; best mode picked on the same data)"
            + (others is { } o ? $"; against the other pre-trained encoders in the same mode: {P(o)}" : "") + ".";
        return Against(value, 0.5) switch
        {
            Side.Above => new(5, claim, shows, P(value), ClaimVerdict.Supported),
            Side.Below => new(5, claim, shows, P(value), ClaimVerdict.NotSupported),
            _ => new(5, claim, shows, P(value), ClaimVerdict.Inconclusive),
        };
    }
}
