using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using RobotRuntime.Cli.Grid;
using RobotRuntime.Testing;

namespace RobotRuntime.Cli.Tests;

/// <summary>
/// rr grid's tests train in child processes that keep both cores busy: they run on their own, after
/// the other classes, so the timing-sensitive loop tests of this assembly do not run beside them.
/// </summary>
[CollectionDefinition("grid processes", DisableParallelization = true)]
public class GridProcessesCollection;

/// <summary>
/// rr grid end to end on tiny cells (an agent of 32 latents, a few hundred steps, 1–2 evaluation
/// episodes, one or two shift presets): the local runner and its workers are real processes of the
/// rr.dll built next to these tests.
/// </summary>
[Collection("grid processes")]
public class GridCommandTests
{
    private static readonly string Repository = Native.NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)!;
    private static readonly string RrDll = Path.Combine(AppContext.BaseDirectory, "rr.dll");
    private static readonly string AgentZoo = Path.Combine(Repository, "models", "test", "agent-zoo.json");

    private static string NewFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "rr-grid-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "agent.json"),
            "{ \"size\": \"rt-tiny\", \"latentDim\": 32, \"mlpDim\": 64, \"encoderDim\": 64, \"cnnChannels\": 8, \"batchSize\": 4, \"frameStack\": 1 }");
        return folder;
    }

    // A spec of tiny cells: random actions for 105 steps, then the policy prior acting and a few updates.
    private static string Spec(string folder, string encoders, string modes, string seeds, int steps = 120, string evalPresets = "[table-hard]", int evalEpisodes = 2, string extra = "", string name = "spec.yaml")
    {
        string path = Path.Combine(folder, name);
        File.WriteAllText(path, $$"""
            name: tiny
            encoders: {{encoders}}
            modes: {{modes}}
            tasks: [reach]
            seeds: {{seeds}}
            train: {steps: {{steps}}, config: {{Path.Combine(folder, "agent.json")}}, seed_steps: 105, pretrain_updates: 2, updates_per_step: 0.5, act: prior, eval_every: 100, eval_episodes: 1, checkpoint_every: 100}
            eval: {episodes: {{evalEpisodes}}, presets: {{evalPresets}}, planner: prior}
            {{extra}}
            """);
        return path;
    }

    private static ChildProcess StartRr(IReadOnlyDictionary<string, string?>? environment, params string[] arguments) =>
        ChildProcess.Start("dotnet", ["exec", RrDll, .. arguments], environment, label: "rr " + string.Join(' ', arguments.Take(2)));

    private static (int Exit, string Output, string Error) RunRr(TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment, params string[] arguments)
    {
        using var child = StartRr(environment, arguments);
        int exit = child.WaitForExit(timeout);
        return (exit, child.Output, child.Error);
    }

    private static JsonObject Json(string path) => (JsonObject)JsonNode.Parse(File.ReadAllText(path))!;

    private static string CellFolder(string grid, string id) => Path.Combine(grid, "cells", id);

    [Fact]
    public void ASmallGridRunsEveryCellAndWritesItsResultsThenRunsNothingAgain()
    {
        string folder = NewFolder();
        string spec = Spec(folder, $"[scratch, {{id: pool-conv, zoo: {AgentZoo}, objective: none}}]", "[scratch, frozen]", "[1, 2]");
        string grid = Path.Combine(folder, "grid");
        var run = RunRr(TimeSpan.FromMinutes(8), null, "grid", spec, "--out", grid, "--workers", "2", "--no-progress");
        Assert.True(run.Exit == 0, run.Output + run.Error);
        Assert.Contains("scratch × frozen", run.Output);
        Assert.Contains("pool-conv × scratch", run.Output);
        Assert.Contains("4 of 4 cells done", run.Output);

        string[] ids = ["reach-scratch-scratch-none-s1", "reach-pool-conv-frozen-none-s1", "reach-scratch-scratch-none-s2", "reach-pool-conv-frozen-none-s2"];
        var manifest = Json(Path.Combine(grid, "grid.json"));
        Assert.Equal(ids, manifest["cells"]!.AsArray().Select(c => c!["id"]!.GetValue<string>()));
        Assert.Equal([0, 1, 2, 3], manifest["cells"]!.AsArray().Select(c => c!["index"]!.GetValue<int>()));
        Assert.Equal(2, manifest["skipped"]!.AsArray().Count);
        Assert.Equal(64, manifest["spec_hash"]!.GetValue<string>().Length);

        foreach (var id in ids)
        {
            var result = Json(Path.Combine(CellFolder(grid, id), "result.json"));
            Assert.Equal(1, result["format"]!.GetValue<int>());
            var cell = result["cell"]!;
            Assert.Equal(id, cell["id"]!.GetValue<string>());
            Assert.Equal(Array.IndexOf(ids, id), cell["index"]!.GetValue<int>());
            Assert.Equal("none", cell["train_shifts"]!.GetValue<string>());
            Assert.Equal(id.EndsWith("s1", StringComparison.Ordinal) ? 1 : 2, cell["seed"]!.GetValue<int>());
            Assert.Equal(id.Contains("scratch", StringComparison.Ordinal) ? "scratch" : "frozen", cell["mode"]!.GetValue<string>());

            var train = result["train"]!;
            Assert.Equal(120, train["steps"]!.GetValue<long>());
            Assert.True(train["steps_done"]!.GetValue<long>() >= 120);
            Assert.True(train["wall_seconds"]!.GetValue<double>() > 0);
            // One record per transition: 64×64 RGB bytes for scratch (12,368 B) or 512 floats of pool-conv
            // (2,128 B), plus proprioception, action and bookkeeping — the figures of docs/agent.md's replay table.
            Assert.Equal(id.Contains("scratch", StringComparison.Ordinal) ? 12_368 : 2_128, train["replay_bytes_per_transition"]!.GetValue<int>());
            var curve = train["curve"]!.AsArray();
            // An evaluation at the first episode end after each 100 steps (episodes end at 100 steps, or earlier on success).
            var steps = curve.Select(p => p!["step"]!.GetValue<long>()).ToList();
            Assert.NotEmpty(steps);
            Assert.Equal(steps.Distinct().Order(), steps);
            Assert.All(steps, s => Assert.True(s >= 100, $"evaluation at step {s}"));
            Assert.All(curve, p => Assert.Equal(1, p!["episodes"]!.GetValue<int>()));
            var dormant = train["dormant"]!.AsArray();
            Assert.Equal(curve.Count, dormant.Count);
            Assert.All(dormant, d =>
            {
                Assert.Equal(0.025, d!["tau"]!.GetValue<double>());
                Assert.Equal(["encoder", "dynamics", "reward", "q0", "q1", "policy"], d["ratios"]!.AsObject().Select(kv => kv.Key));
                Assert.All(d["ratios"]!.AsObject(), kv => Assert.InRange(kv.Value!.GetValue<double>(), 0, 1));
            });

            var evaluation = result["eval"]!;
            Assert.Equal(2, evaluation["episodes_per_preset"]!.GetValue<int>());
            var presets = evaluation["presets"]!.AsObject();
            Assert.Equal(["in-distribution", "table-hard"], presets.Select(p => p.Key));
            Assert.Equal("none", presets["in-distribution"]!["family"]!.GetValue<string>());
            Assert.Equal("table", presets["table-hard"]!["family"]!.GetValue<string>());
            Assert.Equal("hard", presets["table-hard"]!["severity"]!.GetValue<string>());
            foreach (var (_, preset) in presets)
            {
                var episodes = preset!["episodes"]!.AsArray();
                Assert.Equal([1_050_000, 1_050_001], episodes.Select(e => e!["seed"]!.GetValue<int>()));
                // The means are of the episodes listed (each written to 6 significant digits).
                Assert.Equal(episodes.Count(e => e!["success"]!.GetValue<bool>()) / 2.0, preset["success_rate"]!.GetValue<double>(), 9);
                double meanReturn = episodes.Average(e => e!["return"]!.GetValue<double>());
                Assert.True(Math.Abs(meanReturn - preset["mean_return"]!.GetValue<double>()) <= 1e-5 * Math.Max(1, Math.Abs(meanReturn)), $"mean return {preset["mean_return"]} vs {meanReturn}");
            }

            var analysis = result["analysis"]!;
            Assert.Equal(3, analysis["dynamics_error"]!.AsArray().Count);
            int transitions = presets["in-distribution"]!["episodes"]!.AsArray().Sum(e => e!["length"]!.GetValue<int>());
            Assert.Equal(transitions, analysis["steps"]!.GetValue<int>());
            Assert.Contains("encoder", analysis["dormant"]!.AsObject().Select(kv => kv.Key));

            // latents.csv: one row per in-distribution step (fewer than 2,000 here), the 32 latents and the reward.
            Assert.Equal("latents.csv", result["latents"]!.GetValue<string>());
            var latents = File.ReadAllLines(Path.Combine(CellFolder(grid, id), "latents.csv"));
            Assert.Equal("episode,step,reward," + string.Join(",", Enumerable.Range(0, 32).Select(i => $"z{i}")), latents[0]);
            Assert.Equal(transitions, latents.Length - 1);
            Assert.All(latents.Skip(1), row => Assert.Equal(35, row.Split(',').Length));

            var record = Json(Path.Combine(CellFolder(grid, id), "cell.json"));
            Assert.Equal("done", record["state"]!.GetValue<string>());
            Assert.Equal(1, record["attempts"]!.GetValue<int>());
        }

        var rows = File.ReadAllLines(Path.Combine(grid, "results.csv"));
        Assert.Equal(GridCollect.Header, rows[0]);
        Assert.Equal(1 + 4 * 2, rows.Length);
        Assert.Contains(rows, r => r.StartsWith("1,reach-pool-conv-frozen-none-s1,reach,pool-conv,frozen,none,none,1,table-hard,table,hard,false,2,", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.StartsWith("0,reach-scratch-scratch-none-s1,reach,scratch,scratch,none,none,1,in-distribution,none,none,true,2,", StringComparison.Ordinal));

        // Run again: every cell is done, nothing is redone.
        var before = ids.ToDictionary(id => id, id => File.ReadAllText(Path.Combine(CellFolder(grid, id), "result.json")));
        var times = ids.ToDictionary(id => id, id => File.GetLastWriteTimeUtc(Path.Combine(CellFolder(grid, id), "result.json")));
        var again = RunRr(TimeSpan.FromMinutes(2), null, "grid", spec, "--out", grid, "--no-progress");
        Assert.True(again.Exit == 0, again.Output + again.Error);
        Assert.Contains("4 done, 0 to run", again.Output);
        foreach (var id in ids)
        {
            Assert.Equal(before[id], File.ReadAllText(Path.Combine(CellFolder(grid, id), "result.json")));
            Assert.Equal(times[id], File.GetLastWriteTimeUtc(Path.Combine(CellFolder(grid, id), "result.json")));
        }

        // rr grid collect reads the same folder (as from a cluster's shared storage).
        var collect = AgentCommandTests.Rr("grid", "collect", grid);
        Assert.True(collect.Exit == 0, collect.Error);
        Assert.Contains("tiny: 4 of 4 cells done", collect.Output);
        Assert.Equal(rows, File.ReadAllLines(Path.Combine(grid, "results.csv")));
        // ...and writes the report from them: every section, both encoders, nothing partial.
        Assert.Contains($"rr grid: wrote the report {Path.Combine(grid, "report.md")}", collect.Output);
        var report = File.ReadAllText(Path.Combine(grid, "report.md"));
        foreach (var section in new[] { "## The grid", "## Success across tasks", "## Success per shift preset", "## Task: reach", "## World-model analyses", "## Latent structure", "## Claims" })
            Assert.Contains(section, report);
        Assert.Contains("pool-conv", report);
        Assert.Contains("scratch", report);
        Assert.DoesNotContain("Partial grid", report);
        string elsewhere = Path.Combine(folder, "elsewhere", "grid.md");
        Directory.CreateDirectory(Path.GetDirectoryName(elsewhere)!);
        var placed = AgentCommandTests.Rr("grid", "collect", grid, "--report", elsewhere);
        Assert.True(placed.Exit == 0, placed.Error);
        Assert.True(File.Exists(elsewhere));
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public void AGridKilledMidCellResumesTheKilledCellFromItsCheckpointAndKeepsTheFinishedOne()
    {
        string folder = NewFolder();
        string spec = Spec(folder, "[scratch]", "[scratch]", "[1, 2]", steps: 500, evalPresets: "[camera-easy]", evalEpisodes: 1);
        string grid = Path.Combine(folder, "grid");
        string first = CellFolder(grid, "reach-scratch-scratch-none-s1");
        string second = CellFolder(grid, "reach-scratch-scratch-none-s2");
        string firstResult;
        using (var runner = StartRr(null, "grid", spec, "--out", grid, "--workers", "1", "--no-progress"))
        {
            // Wait until the first cell is done and the second has written a checkpoint, then SIGKILL the
            // runner and its worker together.
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(6);
            while (!(File.Exists(Path.Combine(first, "result.json")) && File.Exists(Path.Combine(second, "run", "checkpoint.safetensors"))))
            {
                Assert.False(runner.HasExited, "the grid finished before it could be killed:\n" + runner.Text);
                Assert.True(DateTime.UtcNow < deadline, "no checkpoint in the second cell in time:\n" + runner.Text);
                Thread.Sleep(20);
            }
            Assert.False(File.Exists(Path.Combine(second, "result.json")), "the second cell finished before the kill");
            var family = runner.FamilyIds();
            Assert.True(family.Count >= 2, $"runner and worker: {ChildProcess.Describe(family)}");
            runner.KillFamily();
            firstResult = File.ReadAllText(Path.Combine(first, "result.json"));
        }
        // The killed cell is left mid-training with the dead worker's lock.
        Assert.Equal("training", Json(Path.Combine(second, "cell.json"))["state"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(second, "lock")));
        // Stale once the killed worker's pid is gone from this host (it may take a moment to be torn down).
        var gone = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        var (holder, stale) = GridCellLock.Inspect(Path.Combine(second, "lock"));
        while (!stale && DateTime.UtcNow < gone)
        {
            Thread.Sleep(50);
            (holder, stale) = GridCellLock.Inspect(Path.Combine(second, "lock"));
        }
        Assert.True(stale, holder);

        var resumed = RunRr(TimeSpan.FromMinutes(6), null, "grid", spec, "--out", grid, "--workers", "1", "--no-progress");
        Assert.True(resumed.Exit == 0, resumed.Output + resumed.Error);
        Assert.Contains("2 cells, 1 done, 1 to run", resumed.Output);
        Assert.Equal(firstResult, File.ReadAllText(Path.Combine(first, "result.json")));
        Assert.Equal(1, Json(Path.Combine(first, "cell.json"))["attempts"]!.GetValue<int>());
        var record = Json(Path.Combine(second, "cell.json"));
        Assert.Equal("done", record["state"]!.GetValue<string>());
        Assert.Equal(2, record["attempts"]!.GetValue<int>());
        Assert.Equal(0, record["failures"]!.GetValue<int>());
        var log = File.ReadAllText(Path.Combine(second, "log.txt"));
        var resumedAt = System.Text.RegularExpressions.Regex.Match(log, @"rr train: resuming at step (\d+)");
        Assert.True(resumedAt.Success, log);
        Assert.True(int.Parse(resumedAt.Groups[1].Value, CultureInfo.InvariantCulture) >= 100, log);
        Assert.False(File.Exists(Path.Combine(second, "lock")), "the lock was not released");
        // Its training curve has each evaluation once, though the cell ran twice.
        var curve = Json(Path.Combine(second, "result.json"))["train"]!["curve"]!.AsArray().Select(p => p!["step"]!.GetValue<long>()).ToList();
        Assert.Equal(curve.Distinct().Order(), curve);
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public void SigtermToTheRunnerStopsItsWorkerWhichLeavesTheCellResumable()
    {
        string folder = NewFolder();
        string spec = Spec(folder, "[scratch]", "[scratch]", "[1]", steps: 800, evalPresets: "[camera-easy]", evalEpisodes: 1);
        string grid = Path.Combine(folder, "grid");
        string cell = CellFolder(grid, "reach-scratch-scratch-none-s1");
        using var runner = StartRr(null, "grid", spec, "--out", grid, "--workers", "1", "--no-progress");
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
        while (!File.Exists(Path.Combine(cell, "run", "checkpoint.safetensors")))
        {
            Assert.False(runner.HasExited, runner.Text);
            Assert.True(DateTime.UtcNow < deadline, "no checkpoint in time:\n" + runner.Text);
            Thread.Sleep(20);
        }
        runner.Signal("TERM");
        Assert.Equal(GridCellRunner.ExitInterrupted, runner.WaitForExit(TimeSpan.FromMinutes(2)));
        Assert.Empty(runner.FamilyIds());
        Assert.Contains("rr grid: stopping; waiting for 1 worker(s) to checkpoint", runner.Output);
        Assert.Contains("stopped: resumes from its checkpoint", runner.Output);
        var record = GridCellState.Read(cell)!;
        Assert.Equal("pending", record.State);
        Assert.Equal(0, record.Failures);
        Assert.False(File.Exists(Path.Combine(cell, "lock")), "the worker left its lock");
        Assert.Contains("stopped; its training resumes from the last checkpoint", File.ReadAllText(Path.Combine(cell, "log.txt")));
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public void AFailingCellIsRecordedRetriedOnTheNextRunAndLeftOutAfterMaxFailures()
    {
        string folder = NewFolder();
        string spec = Spec(folder, "[scratch]", "[scratch]", "[1]", evalPresets: "[camera-easy]", evalEpisodes: 1);
        string grid = Path.Combine(folder, "grid");
        string cell = CellFolder(grid, "reach-scratch-scratch-none-s1");
        Assert.Equal(0, AgentCommandTests.Rr("grid", spec, "--out", grid, "--emit", "slurm").Exit);
        // A file where the cell's run folder goes: training cannot start.
        File.WriteAllText(Path.Combine(cell, "run"), "in the way");
        for (int attempt = 1; attempt <= 2; attempt++)
        {
            var failed = RunRr(TimeSpan.FromMinutes(2), null, "grid", spec, "--out", grid, "--no-progress");
            Assert.Equal(1, failed.Exit);
            Assert.Contains("cell 0 reach-scratch-scratch-none-s1: failed: IOException", failed.Output);
            var record = GridCellState.Read(cell)!;
            Assert.Equal(("failed", attempt, attempt), (record.State, record.Attempts, record.Failures));
            Assert.Contains(Path.Combine(cell, "run"), record.Error);
        }
        var givenUp = RunRr(TimeSpan.FromMinutes(2), null, "grid", spec, "--out", grid, "--no-progress");
        Assert.Equal(1, givenUp.Exit);
        Assert.Contains("0 to run, 1 given up after 2 failures", givenUp.Output);
        Assert.Equal(2, GridCellState.Read(cell)!.Attempts);

        File.Delete(Path.Combine(cell, "run"));
        var retried = RunRr(TimeSpan.FromMinutes(4), null, "grid", spec, "--out", grid, "--no-progress", "--retry-failed");
        Assert.True(retried.Exit == 0, retried.Output + retried.Error);
        Assert.Contains("forgetting 2 failure(s)", retried.Output);
        var done = GridCellState.Read(cell)!;
        Assert.Equal(("done", 3, 0), (done.State, done.Attempts, done.Failures));
        Assert.Null(done.Error);
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public void AChangedSpecIsRefusedNamingTheSettingsAndCellsAndAcceptedChangesResetOnlyThoseCells()
    {
        string folder = NewFolder();
        string grid = Path.Combine(folder, "grid");
        string specA = Spec(folder, $"[scratch, {{id: pool-conv, zoo: {AgentZoo}, trainable_from: pooled}}]", "[scratch, partial]", "[1, 2]", name: "a.yaml");
        var prepared = AgentCommandTests.Rr("grid", specA, "--out", grid, "--emit", "slurm");
        Assert.True(prepared.Exit == 0, prepared.Error);
        // Two cells of seed 1 as if they had finished.
        foreach (var id in new[] { "reach-scratch-scratch-none-s1", "reach-pool-conv-partial-none-s1" })
        {
            var state = GridCellState.Read(CellFolder(grid, id))!;
            state.State = "done";
            state.Write(CellFolder(grid, id));
            File.WriteAllText(Path.Combine(CellFolder(grid, id), "result.json"), "{\"format\": 1}");
        }

        // Another split for pool-conv and seed 2 replaced by seed 3.
        string specB = Spec(folder, $"[scratch, {{id: pool-conv, zoo: {AgentZoo}, trainable_from: /conv/}}]", "[scratch, partial]", "[1, 3]", name: "b.yaml");
        var refused = AgentCommandTests.Rr("grid", specB, "--out", grid, "--emit", "slurm");
        Assert.Equal(2, refused.Exit);
        Assert.Contains("was made from another spec", refused.Error);
        Assert.Contains("encoders[pool-conv].trainable_from: \"pooled\" → \"/conv/\"", refused.Error);
        Assert.Contains("seeds: [1,2] → [1,3]", refused.Error);
        Assert.Contains("1 cell(s) whose own settings changed (agent.trainableFrom: \"pooled\" → \"/conv/\"; encoder.trainable_from: \"pooled\" → \"/conv/\"), reset with --accept-changes: reach-pool-conv-partial-none-s1", refused.Error);
        Assert.Contains("2 cell(s) added, queued with --accept-changes: reach-scratch-scratch-none-s3, reach-pool-conv-partial-none-s3", refused.Error);
        Assert.Contains("2 cell(s) removed, left on disk: reach-scratch-scratch-none-s2, reach-pool-conv-partial-none-s2", refused.Error);
        Assert.Equal("done", GridCellState.Read(CellFolder(grid, "reach-pool-conv-partial-none-s1"))!.State);

        var accepted = AgentCommandTests.Rr("grid", specB, "--out", grid, "--emit", "slurm", "--accept-changes");
        Assert.True(accepted.Exit == 0, accepted.Error);
        Assert.Equal("done", GridCellState.Read(CellFolder(grid, "reach-scratch-scratch-none-s1"))!.State);
        Assert.True(File.Exists(Path.Combine(CellFolder(grid, "reach-scratch-scratch-none-s1"), "result.json")));
        var reset = GridCellState.Read(CellFolder(grid, "reach-pool-conv-partial-none-s1"))!;
        Assert.Equal("pending", reset.State);
        Assert.Equal("/conv/", reset.Cell.Settings["agent"]!["trainableFrom"]!.GetValue<string>());
        Assert.False(File.Exists(Path.Combine(CellFolder(grid, "reach-pool-conv-partial-none-s1"), "result.json")));
        Assert.Equal("pending", GridCellState.Read(CellFolder(grid, "reach-pool-conv-partial-none-s3"))!.State);
        Assert.True(Directory.Exists(CellFolder(grid, "reach-scratch-scratch-none-s2")), "a removed cell's folder was deleted");
        var manifest = GridManifest.Read(grid);
        Assert.Equal(["reach-pool-conv-partial-none-s2", "reach-scratch-scratch-none-s2"], manifest.Removed);
        Assert.Equal(["reach-scratch-scratch-none-s1", "reach-pool-conv-partial-none-s1", "reach-scratch-scratch-none-s3", "reach-pool-conv-partial-none-s3"], manifest.Cells.Select(c => c.Id));

        // A tag the results do not depend on still counts as a change, and says it touches no cell.
        string specC = Spec(folder, $"[scratch, {{id: pool-conv, zoo: {AgentZoo}, trainable_from: /conv/, objective: bc}}]", "[scratch, partial]", "[1, 3]", name: "c.yaml");
        var tagged = AgentCommandTests.Rr("grid", specC, "--out", grid, "--emit", "slurm");
        Assert.Equal(2, tagged.Exit);
        Assert.Contains("encoders[pool-conv].objective: \"unspecified\" → \"bc\"", tagged.Error);
        Assert.Contains("no cell's results depend on these settings", tagged.Error);
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public void InapplicableCombinationsAreListedWithTheirReasons()
    {
        string folder = NewFolder();
        string spec = Spec(folder, $"[scratch, {{id: pool-conv, zoo: {AgentZoo}}}, {{id: pool-trunk, zoo: {AgentZoo}}}, {{id: tiny-vit, zoo: {AgentZoo}}}]",
            "[scratch, frozen, partial, full]", "[1, 2]", extra: "train_shifts: [none, [lighting, table]]");
        string grid = Path.Combine(folder, "grid");
        var emitted = AgentCommandTests.Rr("grid", spec, "--out", grid, "--emit", "slurm");
        Assert.True(emitted.Exit == 0, emitted.Error);
        // scratch: scratch only; pool-conv: frozen, partial, full; pool-trunk: frozen, full (no split);
        // tiny-vit: frozen, partial (it takes 32 px, the agent's images are 64). 8 × 2 shift settings × 2 seeds.
        Assert.Contains("32 cells", emitted.Output);
        foreach (var mode in new[] { "frozen", "partial", "full" })
        {
            Assert.Contains($"  scratch × {mode} (× 1 task(s) × 2 shift setting(s) × 2 seed(s)): the scratch encoder is a CNN learned with the agent", emitted.Output);
        }
        Assert.Contains("pool-conv × scratch (× 1 task(s) × 2 shift setting(s) × 2 seed(s)): scratch mode learns its own CNN and would not use pool-conv", emitted.Output);
        Assert.Contains("pool-trunk × partial (× 1 task(s) × 2 shift setting(s) × 2 seed(s)): zoo entry pool-trunk has no trainableFrom", emitted.Output);
        Assert.Contains("tiny-vit × full (× 1 task(s) × 2 shift setting(s) × 2 seed(s)): the engine cannot train tiny-vit whole: full fine-tuning feeds the simulator's images straight into PVR 'tiny-vit', which takes 32×32", emitted.Output);
        var manifest = GridManifest.Read(grid);
        Assert.Equal(8, manifest.Skipped.Count);
        Assert.Equal(32, manifest.Cells.Count);
        Assert.Contains(manifest.Cells, c => c.Id == "reach-pool-conv-full-table+lighting-s2");
        Assert.Equal(manifest.Cells.Select(c => c.Id).Distinct().Count(), manifest.Cells.Count);
        // The PVRs are copied into the grid, each with a manifest of its own.
        Assert.True(File.Exists(Path.Combine(grid, "encoders", "pool-conv", "pool_conv.onnx")));
        Assert.Equal("pool_conv.onnx", Json(Path.Combine(grid, "encoders", "pool-conv", "zoo.json"))["models"]![0]!["file"]!.GetValue<string>());
        Directory.Delete(folder, recursive: true);
    }

    [Theory]
    [InlineData("trian: {steps: 10}\n", 8, "unknown key 'trian'; expected one of name, arm, encoders")]
    [InlineData("", 6, "unknown key 'train.stpes'", "stpes")]
    [InlineData("", 3, "'modes': 'frozn' is not one of scratch, frozen, partial, full", "frozn")]
    [InlineData("train_shifts: [none, [table, lightning]]\n", 8, "'train_shifts': 'lightning' is not a shift family")]
    [InlineData("", 5, "'seeds' lists 1 twice", "dup-seed")]
    [InlineData("", 7, "'eval.presets': unknown preset 'table-hardd'", "preset")]
    [InlineData("", 2, "encoder 'pool-conv' needs 'zoo'", "no-zoo")]
    public void SpecTyposAreRefusedWithFileAndLine(string extra, int line, string message, string typo = "")
    {
        string folder = NewFolder();
        string encoders = typo == "no-zoo" ? "[scratch, {id: pool-conv}]" : "[scratch]";
        string modes = typo == "frozn" ? "[scratch, frozn]" : "[scratch]";
        string seeds = typo == "dup-seed" ? "[1, 1]" : "[1]";
        string spec = Spec(folder, encoders, modes, seeds, evalPresets: typo == "preset" ? "[table-hardd]" : "[table-hard]", extra: extra);
        if (typo == "stpes")
        {
            File.WriteAllText(spec, File.ReadAllText(spec).Replace("train: {steps:", "train: {stpes:", StringComparison.Ordinal));
        }
        var refused = AgentCommandTests.Rr("grid", spec, "--out", Path.Combine(folder, "grid"));
        Assert.Equal(2, refused.Exit);
        Assert.Contains($"rr grid: {spec}:{line}: {message}", refused.Error);
        Assert.False(Directory.Exists(Path.Combine(folder, "grid")), "a grid folder was made for a refused spec");
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public void TheEmittedKubernetesJobIsAnIndexedJobOverEveryCell()
    {
        string folder = NewFolder();
        string spec = Spec(folder, $"[scratch, {{id: pool-conv, zoo: {AgentZoo}}}]", "[scratch, frozen]", "[1, 2]");
        string grid = Path.Combine(folder, "grid");
        var emitted = AgentCommandTests.Rr("grid", spec, "--out", grid, "--emit", "k8s", "--image", "registry.example/rr:1.2", "--pvc", "grids", "--parallelism", "3", "--max-failures", "3");
        Assert.True(emitted.Exit == 0, emitted.Error);
        var job = KubernetesYaml.Deserialize<V1Job>(File.ReadAllText(Path.Combine(grid, "k8s-job.yaml")));
        Assert.Equal("batch/v1", job.ApiVersion);
        Assert.Equal("Job", job.Kind);
        Assert.Matches("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", job.Metadata.Name);
        Assert.Equal("rr-grid-tiny", job.Metadata.Name);
        Assert.Equal("Indexed", job.Spec.CompletionMode);
        Assert.Equal(4, job.Spec.Completions);
        Assert.Equal(3, job.Spec.Parallelism);
        Assert.Equal(3, job.Spec.BackoffLimitPerIndex);
        Assert.Equal("Never", job.Spec.Template.Spec.RestartPolicy);
        var rules = job.Spec.PodFailurePolicy.Rules;
        Assert.Equal(["Ignore", "Ignore", "FailIndex"], rules.Select(r => r.Action));
        Assert.Equal([130], rules[1].OnExitCodes.Values);
        Assert.Equal([2], rules[2].OnExitCodes.Values);
        var container = Assert.Single(job.Spec.Template.Spec.Containers);
        Assert.Equal("registry.example/rr:1.2", container.Image);
        Assert.Equal(["rr"], container.Command);
        string path = Path.GetFullPath(grid);
        Assert.Equal(["grid", "cell", path, "--max-failures", "3"], container.Args);
        Assert.Equal("2", container.Resources.Requests["cpu"].ToString());
        var mount = Assert.Single(container.VolumeMounts);
        Assert.Equal(path, mount.MountPath);
        var volume = Assert.Single(job.Spec.Template.Spec.Volumes);
        Assert.Equal(mount.Name, volume.Name);
        Assert.Equal("grids", volume.PersistentVolumeClaim.ClaimName);
        // grid.json and every cell's record are there for the pods.
        Assert.Equal(4, GridManifest.Read(grid).Cells.Count);
        Assert.All(GridManifest.Read(grid).Cells, c => Assert.Equal("pending", GridCellState.Read(CellFolder(grid, c.Id))!.State));

        // Options for the cluster only are refused without --emit.
        var stray = AgentCommandTests.Rr("grid", spec, "--out", grid, "--pvc", "grids");
        Assert.Equal(2, stray.Exit);
        Assert.Contains("--pvc is for --emit k8s|slurm", stray.Error);
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public void TheEmittedSlurmScriptIsAnArrayOverEveryCell()
    {
        string folder = NewFolder();
        string spec = Spec(folder, "[scratch]", "[scratch]", "[1, 2, 3, 4, 5]");
        string grid = Path.Combine(folder, "grid");
        var emitted = AgentCommandTests.Rr("grid", spec, "--out", grid, "--emit", "slurm", "--parallelism", "2", "--command", "dotnet /opt/rr/rr.dll");
        Assert.True(emitted.Exit == 0, emitted.Error);
        string file = Path.Combine(grid, "slurm.sbatch");
        string script = File.ReadAllText(file);
        var directives = GridClusterEmit.SbatchDirectives(script);
        Assert.Equal("0-4%2", directives["--array"]);
        Assert.Equal("2", directives["--cpus-per-task"]);
        Assert.Equal("rr-grid-tiny", directives["--job-name"]);
        string path = Path.GetFullPath(grid);
        Assert.Equal($"{path}/slurm/%x-%A_%a.out", directives["--output"]);
        Assert.True(Directory.Exists(Path.Combine(grid, "slurm")));
        Assert.Contains($"exec dotnet /opt/rr/rr.dll grid cell {path} --index \"$SLURM_ARRAY_TASK_ID\" --max-failures 2", script);
        // The script is valid bash.
        var check = RunChecked("bash", "-n", file);
        Assert.True(check.Exit == 0, check.Error);
        Directory.Delete(folder, recursive: true);
    }

    private static (int Exit, string Error) RunChecked(string program, params string[] arguments)
    {
        using var child = ChildProcess.Start(program, arguments);
        int exit = child.WaitForExit(TimeSpan.FromSeconds(30));
        return (exit, child.Error);
    }

    [Fact]
    public void TheCellIndexComesFromTheOptionOrTheSchedulersVariables()
    {
        Assert.Null(GridCellRunner.IndexFromEnvironment(_ => null));
        Assert.Equal(4, GridCellRunner.IndexFromEnvironment(name => name == "JOB_COMPLETION_INDEX" ? "4" : null));
        Assert.Equal(7, GridCellRunner.IndexFromEnvironment(name => name == "SLURM_ARRAY_TASK_ID" ? "7" : null));
        // Kubernetes' variable first when (oddly) both are set.
        Assert.Equal(1, GridCellRunner.IndexFromEnvironment(name => name == "JOB_COMPLETION_INDEX" ? "1" : "9"));
        var bad = Assert.Throws<ArgumentException>(() => GridCellRunner.IndexFromEnvironment(name => name == "SLURM_ARRAY_TASK_ID" ? "x1" : null));
        Assert.Contains("SLURM_ARRAY_TASK_ID is 'x1'", bad.Message);
    }

    [Fact]
    public void ThePerCellCommandRunsTheCellItsSchedulerNamesAndRespectsTheLock()
    {
        string folder = NewFolder();
        string spec = Spec(folder, "[scratch]", "[scratch]", "[1, 2, 3]", evalPresets: "[lighting-hard]", evalEpisodes: 1);
        string grid = Path.Combine(folder, "grid");
        var emitted = AgentCommandTests.Rr("grid", spec, "--out", grid, "--emit", "k8s");
        Assert.True(emitted.Exit == 0, emitted.Error);
        string[] ids = ["reach-scratch-scratch-none-s1", "reach-scratch-scratch-none-s2", "reach-scratch-scratch-none-s3"];
        string State(int i) => GridCellState.Read(CellFolder(grid, ids[i]))!.State;

        // A Kubernetes pod: the index from JOB_COMPLETION_INDEX.
        var pod = RunRr(TimeSpan.FromMinutes(4), new Dictionary<string, string?> { ["JOB_COMPLETION_INDEX"] = "2", ["SLURM_ARRAY_TASK_ID"] = null }, "grid", "cell", grid);
        Assert.True(pod.Exit == 0, pod.Output + pod.Error);
        Assert.Equal(["pending", "pending", "done"], new[] { State(0), State(1), State(2) });
        Assert.Contains("rr grid cell: reach-scratch-scratch-none-s3 (cell 2 of 3)", pod.Output);
        Assert.Contains("lighting-hard,1,", pod.Output);

        // A Slurm task: SLURM_ARRAY_TASK_ID. The cell is locked by a live process (this test's): refused.
        string lockFile = Path.Combine(CellFolder(grid, ids[0]), "lock");
        File.WriteAllText(lockFile, $"{Environment.MachineName}\n{Environment.ProcessId}\nsomeone-else\n{DateTime.UtcNow:O}\n");
        var slurm = new Dictionary<string, string?> { ["SLURM_ARRAY_TASK_ID"] = "0", ["JOB_COMPLETION_INDEX"] = null };
        var busy = RunRr(TimeSpan.FromMinutes(1), slurm, "grid", "cell", grid);
        Assert.Equal(GridCellRunner.ExitBusy, busy.Exit);
        Assert.Contains($"rr grid cell: {ids[0]} is being run by pid {Environment.ProcessId} on {Environment.MachineName}", busy.Error);
        Assert.Equal("pending", State(0));

        // The same lock left by a process that has exited on this host is stale: taken over, the cell runs.
        using (var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!)
        {
            gone.WaitForExit();
            File.WriteAllText(lockFile, $"{Environment.MachineName}\n{gone.Id}\nsomeone-else\n{DateTime.UtcNow:O}\n");
        }
        var task = RunRr(TimeSpan.FromMinutes(4), slurm, "grid", "cell", grid);
        Assert.True(task.Exit == 0, task.Output + task.Error);
        Assert.Equal(["done", "pending", "done"], new[] { State(0), State(1), State(2) });
        Assert.False(File.Exists(lockFile));

        // Done cells are not redone; an index outside the grid and a missing index are refused.
        var again = RunRr(TimeSpan.FromMinutes(1), new Dictionary<string, string?> { ["JOB_COMPLETION_INDEX"] = "2" }, "grid", "cell", grid);
        Assert.Equal(0, again.Exit);
        Assert.Contains("is done already", again.Output);
        var outside = AgentCommandTests.Rr("grid", "cell", grid, "--index", "3");
        Assert.Equal(GridCellRunner.ExitUsage, outside.Exit);
        Assert.Contains("index 3 is out of range", outside.Error);
        var none = RunRr(TimeSpan.FromMinutes(1), new Dictionary<string, string?> { ["JOB_COMPLETION_INDEX"] = null, ["SLURM_ARRAY_TASK_ID"] = null }, "grid", "cell", grid);
        Assert.Equal(GridCellRunner.ExitUsage, none.Exit);
        Assert.Contains("give --index, or run it where JOB_COMPLETION_INDEX", none.Error);
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public void TrainShiftsAreReproducibleRecordedAndARunWithOtherShiftsIsNotResumed()
    {
        string folder = NewFolder();
        string config = Path.Combine(folder, "agent.json");
        string[] Train(string run, string shifts, int steps) =>
            ["train", "--task", "reach", "--mode", "scratch", "--config", config, "--seed", "3", "--steps", steps.ToString(CultureInfo.InvariantCulture),
             "--seed-steps", "1000", "--pretrain-updates", "0", "--eval-every", "1000000", "--act", "prior", "--checkpoint-every", "100",
             "--train-shifts", shifts, "--run", run, "--no-progress"];
        List<string> Shifts(string run) => File.ReadLines(Path.Combine(run, "metrics.jsonl"))
            .Select(line => JsonNode.Parse(line)!)
            .Where(e => e["kind"]!.GetValue<string>() == "episode")
            .Select(e => e["shift"]!.GetValue<string>())
            .ToList();

        string a = Path.Combine(folder, "a"), b = Path.Combine(folder, "b");
        var first = AgentCommandTests.Rr(Train(a, "lighting,table", 400));
        Assert.True(first.Exit == 0, first.Error);
        Assert.Contains("training under shifts table+lighting", first.Output);
        var second = AgentCommandTests.Rr(Train(b, "table,lighting", 400));
        Assert.True(second.Exit == 0, second.Error);
        var drawn = Shifts(a);
        Assert.Equal(4, drawn.Count);
        Assert.Equal(drawn, Shifts(b));
        Assert.Equal(Enumerable.Range(0, 4).Select(e => RobotRuntime.Agents.Training.Trainer.TrainingShift(3, e, ["table", "lighting"])), drawn);
        Assert.Equal(["table", "lighting"], Json(Path.Combine(a, "run.json"))["trainer"]!["TrainShifts"]!.AsArray().Select(s => s!.GetValue<string>()));

        var other = AgentCommandTests.Rr(Train(a, "none", 600));
        Assert.Equal(1, other.Exit);
        Assert.Contains("was trained with training-time shifts table+lighting; this run asks for none", other.Error);
        var unknown = AgentCommandTests.Rr(Train(Path.Combine(folder, "c"), "table,fog", 100));
        Assert.Equal(2, unknown.Exit);
        Assert.Contains("--train-shifts: 'fog' is not a shift family; expected none or a comma-separated list of table, lighting, object-colour, distractors, camera, background", unknown.Error);

        // rr eval --json: every episode per preset and the analyses, as a grid cell's result.json has them.
        string json = Path.Combine(folder, "eval.json");
        var eval = AgentCommandTests.Rr("eval", a, "--episodes", "2", "--planner", "prior", "--shifts", "background-easy", "--json", json);
        Assert.True(eval.Exit == 0, eval.Error);
        var written = Json(json);
        Assert.Equal(["in-distribution", "background-easy"], written["eval"]!["presets"]!.AsObject().Select(p => p.Key));
        Assert.Equal("background", written["eval"]!["presets"]!["background-easy"]!["family"]!.GetValue<string>());
        Assert.Equal(2, written["eval"]!["presets"]!["background-easy"]!["episodes"]!.AsArray().Count);
        Assert.Equal(3, written["analysis"]!["dynamics_error"]!.AsArray().Count);
        Directory.Delete(folder, recursive: true);
    }
}
