using RobotRuntime.Cli.Grid;

namespace RobotRuntime.Cli.Tests.GridReport;

public sealed class GridReportTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-grid-report-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static readonly Dictionary<string, string> Objectives = new() { ["atc-cnn"] = "atc", ["bc-cnn"] = "bc" };

    // In-distribution success per task and seed (1, 2, 3) of the scratch rows: reach {0.7, 0.9, 1.0}, push {0.6, 0.8, 0.9}.
    private static readonly Dictionary<string, double[]> ScratchId = new() { ["reach"] = [0.7, 0.9, 1.0], ["push"] = [0.6, 0.8, 0.9] };

    /// <summary>
    /// The grid the claims are built on (2 tasks × 3 seeds per row):
    /// scratch · scratch (and trained with table shifts): ID as <see cref="ScratchId"/> — above every PVR's ID
    /// (≤ 0.55) in every task, so P(PVR > scratch) = 0 for both PVRs: claim 1 supported. Partial's hard-shift
    /// success (0.1–0.2) is below frozen's (0.5–0.6) for both encoders: P(partial > frozen) = 0, claim 2 not
    /// supported. Frozen stores 1,088 B per transition against scratch's 12,352: saving 1 − 1088/12352 = 91.2 %
    /// in every cell, claim 3 supported. atc (task-agnostic) and bc (task-specific) have the same hard-shift
    /// successes in each mode, {0.5, 0.55, 0.6} frozen and {0.1, 0.15, 0.2} partial: P = 0.5, claim 4
    /// inconclusive. No video-dynamics encoder: claim 5 not tested.
    /// </summary>
    private static List<SyntheticCell> Cells()
    {
        var cells = new List<SyntheticCell>();
        double[] seedOffset = [0.0, 0.05, 0.1];
        foreach (var task in new[] { "reach", "push" })
        {
            for (int index = 0; index < 3; index++)
            {
                int s = index, seed = index + 1; // a copy per seed: the lambdas below keep it
                cells.Add(new SyntheticCell("scratch", "scratch", task, "none", seed) { Id = ScratchId[task][s], Easy = _ => 0.5, Hard = _ => 0.2, Latents = seed == 1 });
                // Trained with table shifts: table presets (seen) 0.7 easy / 0.6 hard, the other families (held out) 0.4 / 0.1 + 0.1·s.
                cells.Add(new SyntheticCell("scratch", "scratch", task, "table", seed)
                {
                    Id = ScratchId[task][s], Easy = f => f == "table" ? 0.7 : 0.4, Hard = f => f == "table" ? 0.6 : 0.1 + 0.1 * s,
                });
                foreach (var encoder in new[] { "atc-cnn", "bc-cnn" })
                {
                    cells.Add(new SyntheticCell(encoder, "frozen", task, "none", seed)
                    {
                        Id = 0.4 + seedOffset[s], Hard = _ => 0.5 + seedOffset[s], ReplayBytes = 1088, Latents = seed == 1 && encoder == "atc-cnn",
                    });
                    cells.Add(new SyntheticCell(encoder, "partial", task, "none", seed) { Id = 0.45 + seedOffset[s], Hard = _ => 0.1 + seedOffset[s], ReplayBytes = 4160 });
                }
            }
        }
        return cells;
    }

    private static string[] TableRow(string markdown, string heading, string rowLabel)
    {
        var section = markdown[markdown.IndexOf(heading, StringComparison.Ordinal)..];
        var line = section.Split('\n').First(l => l.StartsWith($"| {rowLabel} |", StringComparison.Ordinal));
        return line.Split('|').Select(c => c.Trim()).Where(c => c.Length > 0).ToArray();
    }

    private static string[] Header(string markdown, string heading)
    {
        var section = markdown[markdown.IndexOf(heading, StringComparison.Ordinal)..];
        var line = section.Split('\n').First(l => l.StartsWith("| encoder · mode |", StringComparison.Ordinal));
        return line.Split('|').Select(c => c.Trim()).Where(c => c.Length > 0).ToArray();
    }

    private static string Column(string markdown, string heading, string rowLabel, string column)
    {
        var header = Header(markdown, heading);
        return TableRow(markdown, heading, rowLabel)[Array.IndexOf(header, column)];
    }

    [Fact]
    public void TheReportsTablesHoldTheIqmsOfTheRunsAndItsFiguresExist()
    {
        var grid = Path.Combine(_folder, "grid");
        SyntheticGrid.Write(grid, Cells(), Objectives);
        var files = Grid.GridReport.Write(grid, Path.Combine(_folder, "report.md"), new GridReportOptions { Seed = 1 });
        var markdown = File.ReadAllText(files[0]);

        // Pooled over tasks, scratch · scratch ID: sorted 0.6, 0.7, 0.8, 0.9, 0.9, 1.0; IQM over [1.5, 4.5] =
        // (0.5·0.7 + 0.8 + 0.9 + 0.5·0.9)/3 = 2.5/3 = 0.833 (the mean would be 0.817).
        Assert.StartsWith("0.833 [", Column(markdown, "## Success across tasks", "scratch · scratch", "in-distribution"));
        // Reach alone, {0.7, 0.9, 1.0}: IQM over [0.75, 2.25] = (0.25·0.7 + 0.9 + 0.25·1.0)/1.5 = 0.883. Its interval:
        // a replicate of three 0.7s (or three 1.0s) has probability 1/27 ≈ 3.7 % > 2.5 %, so the bounds are 0.7 and 1.0.
        Assert.Equal("0.883 [0.700, 1.000]", Column(markdown, "## Task: reach", "scratch · scratch", "in-distribution"));
        // Push, {0.6, 0.8, 0.9}: (0.15 + 0.8 + 0.225)/1.5 = 0.783, bounds 0.6 and 0.9 likewise.
        Assert.Equal("0.783 [0.600, 0.900]", Column(markdown, "## Task: push", "scratch · scratch", "in-distribution"));
        // Returns are 40 × success: pooled over both tasks 40·(0.7 + 0.9 + 1.0 + 0.6 + 0.8 + 0.9)/6 = 32.7; reach alone 40·(0.7 + 0.9 + 1.0)/3 = 34.7.
        Assert.Equal("32.7", Column(markdown, "## Success across tasks", "scratch · scratch", "in-distribution return"));
        Assert.Equal("34.7", Column(markdown, "## Task: reach", "scratch · scratch", "in-distribution return"));

        // Trained with table shifts: the table presets are seen (0.7 easy, 0.6 hard in every run), the other five
        // families held out (0.4 easy; hard 0.1 + 0.1·s per seed, a run's score is its mean over presets).
        const string shifted = "scratch · scratch · trained with table";
        Assert.Equal("0.700 [0.700, 0.700]", Column(markdown, "## Success across tasks", shifted, "easy shifts, seen in training"));
        Assert.Equal("0.600 [0.600, 0.600]", Column(markdown, "## Success across tasks", shifted, "hard shifts, seen in training"));
        Assert.Equal("0.400 [0.400, 0.400]", Column(markdown, "## Success across tasks", shifted, "easy shifts, held out"));
        // Hard held out, six runs {0.1, 0.2, 0.3} per task: sorted 0.1, 0.1, 0.2, 0.2, 0.3, 0.3 → (0.05 + 0.2 + 0.2 + 0.15)/3 = 0.2.
        Assert.StartsWith("0.200 [", Column(markdown, "## Success across tasks", shifted, "hard shifts, held out"));
        // A row without training shifts has no seen presets; the per-preset table marks the seen ones with †.
        Assert.Equal("—", Column(markdown, "## Success across tasks", "scratch · scratch", "easy shifts, seen in training"));
        Assert.Equal("0.700 †", Column(markdown, "## Success per shift preset", shifted, "table-easy"));
        Assert.Equal("0.400", Column(markdown, "## Success per shift preset", shifted, "lighting-easy"));

        // Steps to 50 % on reach: seeds reach it at 4,000 (0.7·4/5 = 0.56), 3,000 and 3,000 → median 3,000; to 80 %:
        // 0.7 never, 0.9 at 5,000, 1.0 at 4,000 → median of {4,000, 5,000, ∞} = 5,000, 2 of 3 reached.
        var efficiency = TableRow(markdown, "Sample efficiency (reach)", "scratch · scratch");
        Assert.StartsWith("3,000 [", efficiency[1]);
        Assert.Contains("(3/3 reached)", efficiency[1]);
        Assert.StartsWith("5,000 [", efficiency[2]);
        Assert.Contains("(2/3 reached)", efficiency[2]);
        Assert.Contains("not reached]", efficiency[2]);

        // Replay: frozen 1,088 B against scratch's 12,352 B → 1 − 1088/12352 = 91.2 %.
        Assert.Equal("91.2 % [91.2 %, 91.2 %]", Column(markdown, "## World-model analyses", "atc-cnn · frozen", "replay saving vs images"));
        Assert.Equal("1,088", Column(markdown, "## World-model analyses", "atc-cnn · frozen", "replay bytes per transition"));
        // Dormant ratio at the end: mean over networks (0.01 + 0.05 + 0.02 + 0 + 0)/5 = 0.016 in every run.
        Assert.Equal("0.016 [0.016, 0.016]", Column(markdown, "## World-model analyses", "atc-cnn · frozen", "dormant ratio"));

        // Complete grid: no partial notice. Training time: 36 cells × 100 s = 3,600 s = 1:00:00.
        Assert.DoesNotContain("Partial grid", markdown);
        Assert.Contains("1:00:00 (3,600 s)", markdown);
        Assert.Contains("**Evaluation:** 2 episode(s) per preset on 13 preset(s).", markdown);

        // Figures: learning curves and dormant ratio per task, dynamics error, UMAP maps for the cells with latents.
        var figures = files.Skip(1).ToList();
        foreach (var name in new[] { "learning-reach", "learning-push", "dormant-reach", "dynamics-error", "umap-reach-scratch-scratch-none", "umap-push-atc-cnn-frozen-none" })
        {
            Assert.Contains(figures, f => Path.GetFileName(f) == name + ".png");
            Assert.Contains(figures, f => Path.GetFileName(f) == name + ".svg");
            Assert.Contains($"](report-figures/{name}.png)", markdown);
        }
        Assert.All(files, f => Assert.True(new FileInfo(f).Length > 0, f));
        Assert.Empty(Directory.GetFiles(_folder, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void TheClaimsTableGivesTheVerdictTheDataWasBuiltFor()
    {
        var grid = Path.Combine(_folder, "grid");
        SyntheticGrid.Write(grid, Cells(), Objectives);
        var files = Grid.GridReport.Write(grid, Path.Combine(_folder, "report.md"), new GridReportOptions { Seed = 2, LatentMaps = false });
        var markdown = File.ReadAllText(files[0]);
        string[] Claim(int number) => markdown[markdown.IndexOf("## Claims", StringComparison.Ordinal)..].Split('\n')
            .First(l => l.StartsWith($"| {number} |", StringComparison.Ordinal)).Split('|').Select(c => c.Trim()).Where(c => c.Length > 0).ToArray();

        var pvr = Claim(1);
        Assert.Equal("**supported**", pvr[^1]);
        Assert.Contains("atc-cnn (partial) 0.00 [0.00, 0.00]", pvr[2]);
        Assert.Contains("bc-cnn (partial) 0.00 [0.00, 0.00]", pvr[2]);
        var partial = Claim(2);
        Assert.Equal("**not supported**", partial[^1]);
        Assert.Contains("P(partial > frozen) 0.00 [0.00, 0.00]", partial[2]);
        Assert.Contains("vs full: not in this grid", partial[2]);
        var memory = Claim(3);
        Assert.Equal("**supported**", memory[^1]);
        Assert.Contains("atc-cnn 91.2 % [91.2 %, 91.2 %] (1,088 vs 12,352 B)", memory[2]);
        var objectives = Claim(4);
        Assert.Equal("inconclusive", objectives[^1]);
        Assert.StartsWith("0.50 [", objectives[3]);
        var video = Claim(5);
        Assert.Equal("not tested", video[^1]);
        Assert.Contains("not tested by this grid: needs cells of an encoder tagged objective: video-dynamics", video[2]);

        // The report is deterministic for a seed.
        var again = Grid.GridReport.Write(grid, Path.Combine(Directory.CreateDirectory(Path.Combine(_folder, "again")).FullName, "report.md"), new GridReportOptions { Seed = 2, LatentMaps = false });
        Assert.Equal(markdown, File.ReadAllText(again[0]));
    }

    [Fact]
    public void ClaimsNeedTwoSeedsOfEachGroupAndOneSeedTestsNothing()
    {
        // The same grid with only seed 1: each comparison would rest on one run per group, whose bootstrap
        // interval collapses to a point (a first real grid with one seed per cell showed "not supported,
        // 0.00 [0.00, 0.00]"); no claim may be decided on it.
        var grid = Path.Combine(_folder, "one-seed");
        SyntheticGrid.Write(grid, Cells().Where(c => c.Seed == Cells().Min(d => d.Seed)).ToList(), Objectives);
        var markdown = File.ReadAllText(Grid.GridReport.Write(grid, Path.Combine(_folder, "one-seed.md"), new GridReportOptions { Seed = 2, LatentMaps = false })[0]);
        var claims = markdown[markdown.IndexOf("## Claims", StringComparison.Ordinal)..].Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal) && char.IsDigit(l[2])).ToList();
        Assert.Equal(5, claims.Count);
        foreach (var claim in claims.Where(c => !c.StartsWith("| 3 |", StringComparison.Ordinal)))
            Assert.EndsWith("| not tested |", claim.TrimEnd());
        Assert.Contains("at least 2 runs (seeds)", markdown);
    }

    [Fact]
    public void APartialGridSaysSoAndNamesItsFailures()
    {
        var cells = Cells();
        cells[1] = cells[1] with { State = "pending" };
        cells[2] = cells[2] with { State = "failed", Error = "rr train: the zoo has no model 'atc-cnn'\nstack..." };
        cells[3] = cells[3] with { State = "training" };
        var grid = Path.Combine(_folder, "grid");
        SyntheticGrid.Write(grid, cells, Objectives);
        var files = Grid.GridReport.Write(grid, Path.Combine(_folder, "report.md"), new GridReportOptions { LatentMaps = false, Resamples = 200 });
        var markdown = File.ReadAllText(files[0]);
        Assert.Contains("**Partial grid:** 33 of 36 cells are done (3 missing, 1 of them failed)", markdown);
        Assert.Contains("not done: 1 failed, 1 pending, 1 training.", markdown);
        Assert.Contains($"`{cells[2].Id_}` failed: rr train: the zoo has no model 'atc-cnn'", markdown);
        Assert.DoesNotContain("stack...", markdown);
        // 33 cells × 100 s.
        Assert.Contains("0:55:00 (3,300 s)", markdown);

        // Nothing done yet: the report says so and aggregates nothing.
        var empty = Path.Combine(_folder, "empty");
        SyntheticGrid.Write(empty, Cells().Select(c => c with { State = "pending" }).ToList(), Objectives);
        var nothing = File.ReadAllText(Grid.GridReport.Write(empty, Path.Combine(_folder, "empty.md"), new GridReportOptions())[0]);
        Assert.Contains("**Partial grid:** 0 of 36 cells are done (36 missing)", nothing);
        Assert.Contains("No cell is done yet: there is nothing to aggregate.", nothing);
        Assert.DoesNotContain("## Claims", nothing);
    }

    [Fact]
    public void AMalformedResultIsReportedNamingTheFileAndTheField()
    {
        var grid = Path.Combine(_folder, "grid");
        var cells = Cells();
        SyntheticGrid.Write(grid, cells, Objectives);
        var path = Path.Combine(grid, "cells", cells[4].Id_, "result.json");
        var text = File.ReadAllText(path);
        var node = System.Text.Json.Nodes.JsonNode.Parse(text)!;
        node["eval"]!["presets"]!["table-easy"]!["success_rate"] = "abc";
        File.WriteAllText(path, node.ToJsonString());

        var error = Assert.Throws<InvalidDataException>(() => Grid.GridReport.Write(grid, Path.Combine(_folder, "report.md"), new GridReportOptions { LatentMaps = false }));
        Assert.Contains(path, error.Message);
        Assert.Contains("field 'eval.presets.table-easy.success_rate' must be a number in [0, 1]; found \"abc\"", error.Message);

        // A missing field is named too.
        File.WriteAllText(path, text.Replace("\"wall_seconds\"", "\"wall_second\"", StringComparison.Ordinal));
        Assert.Contains("field 'train.wall_seconds' is missing", Assert.Throws<InvalidDataException>(() => Grid.GridReport.Write(grid, Path.Combine(_folder, "report.md"), new GridReportOptions { LatentMaps = false })).Message);

        // Asked to skip, the report leaves the cell out, lists the problem, and says the grid is partial.
        var files = Grid.GridReport.Write(grid, Path.Combine(_folder, "report.md"), new GridReportOptions { LatentMaps = false, SkipMalformedResults = true, Resamples = 200 });
        var markdown = File.ReadAllText(files[0]);
        Assert.Contains($"`{cells[4].Id_}`: result not read: {path}: field 'train.wall_seconds' is missing", markdown);
        Assert.Contains("**Partial grid:** 35 of 36 cells are done", markdown);
    }

    [Fact]
    public void MalformedLatentsAndAMissingGridAreRefusedClearly()
    {
        var grid = Path.Combine(_folder, "grid");
        var cells = Cells();
        SyntheticGrid.Write(grid, cells, Objectives);
        var latents = Path.Combine(grid, "cells", cells[0].Id_, "latents.csv");
        var lines = File.ReadAllLines(latents);
        lines[3] = lines[3].Replace(",0.1,", ",nan,", StringComparison.Ordinal).Replace(",1,", ",nan,", StringComparison.Ordinal);
        File.WriteAllLines(latents, lines);
        var error = Assert.Throws<InvalidDataException>(() => Grid.GridReport.Write(grid, Path.Combine(_folder, "report.md"), new GridReportOptions { Resamples = 100 }));
        Assert.Contains($"{latents}: line 4: column 'reward' is 'nan'; expected a finite number", error.Message);

        var missing = Assert.Throws<FileNotFoundException>(() => Grid.GridReport.Write(Path.Combine(_folder, "nowhere"), Path.Combine(_folder, "r.md"), new GridReportOptions()));
        Assert.Contains("no grid.json; expected a grid folder written by rr grid", missing.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Grid.GridReport.Write(grid, Path.Combine(_folder, "r.md"), new GridReportOptions { SuccessThresholds = [1.5] }));
    }

    [Fact]
    public void ValuesTheRunnerWritesAsNullAreLeftOutNotRefused()
    {
        // rr grid writes a number that is undefined (NaN) as null: a dynamics error at a horizon no episode reached,
        // a preset that ran no episodes, an evaluation without episodes, a network without units.
        var grid = Path.Combine(_folder, "grid");
        var cells = Cells();
        SyntheticGrid.Write(grid, cells, Objectives);
        var path = Path.Combine(grid, "cells", cells[0].Id_, "result.json");
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        node["analysis"]!["dynamics_error"] = new System.Text.Json.Nodes.JsonArray(0.01, null, null);
        node["analysis"]!["dormant"]!["q"] = null;
        node["eval"]!["presets"]!["camera-hard"]!["success_rate"] = null;
        node["eval"]!["presets"]!["camera-hard"]!["mean_return"] = null;
        node["train"]!["curve"]![2]!["success_rate"] = null;
        File.WriteAllText(path, node.ToJsonString());

        var data = GridReportData.Read(grid, skipMalformed: false);
        var result = data.Cells[0].Result!;
        Assert.Equal(12, result.Presets.Count);
        Assert.Equal([1000L, 2000L, 4000L, 5000L], result.Curve.Select(p => p.Step));
        Assert.True(double.IsNaN(result.Analysis!.DynamicsError[2]));
        Assert.DoesNotContain("q", result.Analysis.Dormant.Keys);

        var markdown = File.ReadAllText(Grid.GridReport.Write(grid, Path.Combine(_folder, "report.md"), new GridReportOptions { LatentMaps = false, Resamples = 200 })[0]);
        // h = 3 from the five other scratch · scratch runs (0.04 each); h = 1 from all six.
        Assert.Equal("0.04 [0.04, 0.04]", Column(markdown, "## World-model analyses", "scratch · scratch", "dynamics error h=3"));
        Assert.Equal("0.01 [0.01, 0.01]", Column(markdown, "## World-model analyses", "scratch · scratch", "dynamics error h=1"));
    }

    [Fact]
    public void ObjectivesComeFromTheCellsOrTheSpecAndUntaggedEncodersAreNamed()
    {
        // Tags only in spec.encoders: the same verdict as with tagged cells (claim 4 inconclusive).
        var specOnly = Path.Combine(_folder, "spec-only");
        SyntheticGrid.Write(specOnly, Cells(), Objectives, tagCells: false);
        Assert.All(GridReportData.Read(specOnly, false).Cells.Where(c => c.Encoder == "atc-cnn"), c => Assert.Equal("atc", c.Objective));
        // bc-cnn untagged: rr grid writes "unspecified", which is no tag; claim 4 then lacks a task-specific encoder.
        var untagged = Path.Combine(_folder, "untagged");
        SyntheticGrid.Write(untagged, Cells(), new Dictionary<string, string> { ["atc-cnn"] = "atc" });
        var data = GridReportData.Read(untagged, false);
        Assert.All(data.Cells.Where(c => c.Encoder == "bc-cnn"), c => Assert.Null(c.Objective));
        Assert.All(data.Cells.Where(c => c.Encoder == "scratch"), c => Assert.Equal("none", c.Objective));
        var markdown = File.ReadAllText(Grid.GridReport.Write(untagged, Path.Combine(_folder, "report.md"), new GridReportOptions { LatentMaps = false, Resamples = 200 })[0]);
        var claim = markdown.Split('\n').First(l => l.StartsWith("| 4 |", StringComparison.Ordinal));
        Assert.Contains("not tested by this grid", claim);
        Assert.Contains("encoders without an objective tag in grid.json: bc-cnn", claim);
    }
}
