using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RobotRuntime.Agents;
using RobotRuntime.Agents.Analysis;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Training;
using RobotRuntime.Cli.AgentCommands;
using RobotRuntime.Tensors;

namespace RobotRuntime.Cli.Grid;

/// <summary>
/// Runs one cell of a grid in this process (<c>rr grid cell DIR --index I</c>; the local workers, Kubernetes
/// and Slurm all run this): under the cell's lock, training with the same <see cref="Trainer"/> as
/// <c>rr train</c> into cells/&lt;id&gt;/run (resuming from its checkpoint), then the evaluation of
/// <c>rr eval</c> on every preset of the spec, then result.json and latents.csv. cell.json follows it
/// through pending → training → evaluating → done, or failed with the error.
/// </summary>
public static class GridCellRunner
{
    /// <summary>Exit code: the cell is done (now or before).</summary>
    public const int ExitDone = 0;

    /// <summary>Exit code: the cell failed (recorded in cell.json), or it gave up after too many failures.</summary>
    public const int ExitFailed = 1;

    /// <summary>Exit code: the command or the grid folder is unusable (no such index, no grid.json…).</summary>
    public const int ExitUsage = 2;

    /// <summary>Exit code: another live worker holds the cell.</summary>
    public const int ExitBusy = 3;

    /// <summary>Exit code: stopped by a signal; the cell is pending again and resumes from its checkpoint.</summary>
    public const int ExitInterrupted = 130;

    /// <summary>Most rows latents.csv keeps.</summary>
    public const int MaxLatentRows = 2000;

    /// <summary>
    /// The cell index a cluster gives: <c>JOB_COMPLETION_INDEX</c> (a Kubernetes Indexed Job), else
    /// <c>SLURM_ARRAY_TASK_ID</c> (a Slurm array); null when neither is set.
    /// </summary>
    /// <exception cref="ArgumentException">The variable is set but not a whole number ≥ 0.</exception>
    public static int? IndexFromEnvironment(Func<string, string?> variable)
    {
        foreach (var name in new[] { "JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID" })
        {
            if (variable(name) is { Length: > 0 } text)
            {
                return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int index)
                    ? index
                    : throw new ArgumentException($"{name} is '{text}'; expected a cell index (a whole number ≥ 0)");
            }
        }
        return null;
    }

    /// <summary>Runs cell <paramref name="index"/> of <paramref name="grid"/>; returns one of the exit codes above.</summary>
    /// <param name="grid">The grid folder.</param>
    /// <param name="index">Cell index.</param>
    /// <param name="maxFailures">A cell that has failed this many times is not run again.</param>
    /// <param name="output">Progress lines (also appended to the cell's log.txt).</param>
    /// <param name="error">Why it could not run.</param>
    /// <param name="cancel">Stops training at the next episode boundary (checkpointed) or evaluation at the next preset.</param>
    public static int Run(string grid, int index, int maxFailures, TextWriter output, TextWriter error, CancellationToken cancel)
    {
        GridManifest manifest;
        try
        {
            manifest = GridManifest.Read(grid);
        }
        catch (InvalidDataException e)
        {
            error.WriteLine($"rr grid cell: {e.Message}");
            return ExitUsage;
        }
        if (index < 0 || index >= manifest.Cells.Count)
        {
            error.WriteLine($"rr grid cell: index {index} is out of range: {GridFolder.Manifest(grid)} has {manifest.Cells.Count} cells (0–{manifest.Cells.Count - 1})");
            return ExitUsage;
        }
        var cell = manifest.Cells[index];
        string folder = GridFolder.Cell(grid, cell.Id);
        Directory.CreateDirectory(folder);
        using var cellLock = GridCellLock.TryAcquire(Path.Combine(folder, "lock"), out var holder);
        if (cellLock is null)
        {
            error.WriteLine($"rr grid cell: {cell.Id} is being run by {holder}");
            return ExitBusy;
        }
        GridCellState? record;
        try
        {
            record = GridCellState.Read(folder);
        }
        catch (InvalidDataException e)
        {
            error.WriteLine($"rr grid cell: {e.Message}");
            return ExitUsage;
        }
        if (record is null || record.Cell.SettingsHash != cell.SettingsHash)
        {
            error.WriteLine($"rr grid cell: {GridCellState.PathIn(folder)} {(record is null ? "is missing" : "holds other settings than grid.json")}; run rr grid SPEC --out {grid} (with --accept-changes if the spec changed) to prepare the folder");
            return ExitUsage;
        }
        if (record.State == "done" && File.Exists(Path.Combine(folder, "result.json")))
        {
            output.WriteLine($"rr grid cell: {cell.Id} is done already");
            return ExitDone;
        }
        if (record.Failures >= maxFailures)
        {
            error.WriteLine($"rr grid cell: {cell.Id} failed {record.Failures} time(s) (the limit is {maxFailures}); last error: {record.Error}");
            return ExitFailed;
        }
        using var log = new CellLog(Path.Combine(folder, "log.txt"), output);
        record.Attempts++;
        record.State = "training";
        record.Worker = $"{GridCellLock.Host} {Environment.ProcessId}";
        record.Write(folder);
        log.WriteLine($"rr grid cell: {cell.Id} (cell {index} of {manifest.Cells.Count}), attempt {record.Attempts} on {record.Worker}, {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC");
        try
        {
            RunCell(grid, folder, record, log, cancel);
            record.State = "done";
            record.Error = null;
            record.Write(folder);
            log.WriteLine($"rr grid cell: {cell.Id} done");
            return ExitDone;
        }
        catch (OperationCanceledException)
        {
            record.State = "pending";
            record.Write(folder);
            log.WriteLine($"rr grid cell: {cell.Id} stopped; its training resumes from the last checkpoint, its evaluation is redone");
            return ExitInterrupted;
        }
        catch (Exception failure)
        {
            // Any error is the cell's: recorded, and the next rr grid run retries it (up to maxFailures).
            record.Failures++;
            record.State = "failed";
            record.Error = $"{failure.GetType().Name}: {failure.Message}";
            record.Write(folder);
            log.WriteLine($"rr grid cell: {cell.Id} failed ({record.Failures} of at most {maxFailures}): {record.Error}");
            log.WriteLine(failure.ToString());
            return ExitFailed;
        }
    }

    private static void RunCell(string grid, string folder, GridCellState record, TextWriter log, CancellationToken cancel)
    {
        var cell = record.Cell;
        var settings = cell.Settings;
        var agent = AgentConfig.FromJson(settings["agent"]!.ToJsonString(), $"{GridCellState.PathIn(folder)} settings.agent");
        var train = GridTrainSettings.FromJson(settings["train"]!.AsObject());
        var eval = GridEvalSettings.FromJson(settings["eval"]!.AsObject());
        string arm = settings["arm"]!.GetValue<string>();
        string? zoo = agent.Mode == EncoderMode.Scratch ? null : Path.Combine(grid, GridFolder.EncoderManifest(cell.Encoder));
        TensorEngine.ThreadCount = train.Threads;
        (agent, var features, var identity, var tail) = AgentSetup.CreateFeatures(agent, zoo);
        using var ownedFeatures = features;
        string run = Path.Combine(folder, "run");
        var progress = new ProgressFile(Path.Combine(folder, "progress.json"));

        // Training: rr train's Trainer, resuming from the run folder's checkpoint if it has one.
        var options = train.Options(cell.Task, arm, cell.Seed, cell.TrainShiftFamilies, TrainCommand.ReplayCapacityFor(run, train.Steps));
        long steps;
        double wallSeconds;
        int replayBytes;
        long parameters;
        using (var environment = AgentSetup.CreateEnvironment(cell.Task, agent, arm: arm))
        using (var trainer = new Trainer(run, agent, options, environment, features, identity, tail))
        {
            log.WriteLine($"rr train: {(trainer.Resumed ? $"resuming at step {trainer.Step}" : "new run")} · {cell.Task} on {arm} · {cell.Mode} {cell.Encoder} · {agent.Size} ({trainer.Model.TrainableParameterCount():N0} parameters) · replay {trainer.Replay.RecordBytes:N0} B/transition · seed steps {trainer.SeedSteps} · training shifts {cell.TrainShifts}");
            int evaluations = trainer.Evaluations.Count;
            progress.Training(trainer.Step, train.Steps, trainer.Evaluations.Count > 0 ? trainer.Evaluations[^1].Success : double.NaN, force: true);
            trainer.Run(p =>
            {
                if (trainer.Evaluations.Count != evaluations)
                {
                    evaluations = trainer.Evaluations.Count;
                    var e = trainer.Evaluations[^1];
                    string dormant = trainer.LastAnalysis is { } a ? " · dormant " + string.Join(", ", a.DormantRatio.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:P0}"))) : "";
                    log.WriteLine($"step {e.Step} · {e.Seconds:F0} s · eval success {e.Success:P0} · return {e.Return:F1} · updates {p.Updates}{dormant}");
                    progress.Training(p.Step, p.Steps, e.Success, force: true);
                }
                else
                {
                    progress.Training(p.Step, p.Steps, p.LastEvalSuccess, force: false);
                }
            }, cancel: cancel);
            // The evaluation at the end of the last episode comes after the last progress call.
            foreach (var e in trainer.Evaluations.Skip(evaluations))
            {
                log.WriteLine($"step {e.Step} · {e.Seconds:F0} s · eval success {e.Success:P0} · return {e.Return:F1}");
            }
            cancel.ThrowIfCancellationRequested();
            steps = trainer.Step;
            wallSeconds = trainer.ElapsedSeconds;
            replayBytes = trainer.Replay.RecordBytes;
            parameters = trainer.Model.TrainableParameterCount();
            progress.Training(trainer.Step, train.Steps, trainer.Evaluations.Count > 0 ? trainer.Evaluations[^1].Success : double.NaN, force: true);
        }

        // Evaluation: rr eval's sweep on the last checkpoint, redone from the start if it was interrupted.
        record.State = "evaluating";
        record.Write(folder);
        var evaluationClock = Stopwatch.StartNew();
        log.WriteLine($"rr grid cell: evaluating on {eval.Presets.Length} preset(s), {eval.Episodes} episode(s) each");
        int done = 0;
        progress.Evaluating(0, eval.Presets.Length);
        var sweep = EvaluationSweep.Run(eval.Sweep(cell.Task, arm, agent), features,
            model: environment =>
            {
                var model = new WorldModel(agent, Trainer.LayoutFor(features, agent, environment.Spec), seed: 0, tail);
                Trainer.LoadWeights(run, model);
                return model;
            },
            presetDone: (preset, r, _) =>
            {
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{preset},{r.Episodes},{r.SuccessRate:F3},{r.MeanReturn:F3},{r.MeanLength:F1}"));
                progress.Evaluating(++done, eval.Presets.Length);
            },
            cancel: cancel);

        bool latents = WriteLatents(Path.Combine(folder, "latents.csv"), sweep.InDistributionTraces);
        WriteResult(Path.Combine(folder, "result.json"), record, run, steps, train.Steps, wallSeconds, evaluationClock.Elapsed.TotalSeconds, replayBytes, parameters, sweep, eval.Episodes, latents);
    }

    /// <summary>
    /// latents.csv: <c>episode,step,reward,z0,z1,…</c>, one row per acting step of the in-distribution episodes
    /// (the latent of the observation acted on, the reward that step received), at most <see cref="MaxLatentRows"/>
    /// rows evenly spaced over all steps (row i of n keeps step ⌊i·N/n⌋). False when there were no steps.
    /// </summary>
    internal static bool WriteLatents(string path, IReadOnlyList<EpisodeTrace> traces)
    {
        var all = new List<(int Episode, int Step, float Reward, float[] Latent)>();
        for (int e = 0; e < traces.Count; e++)
        {
            for (int t = 0; t < traces[e].Rewards.Count; t++)
            {
                all.Add((e, t, traces[e].Rewards[t], traces[e].Latents[t]));
            }
        }
        if (all.Count == 0)
        {
            return false;
        }
        int rows = Math.Min(MaxLatentRows, all.Count);
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder("episode,step,reward," + string.Join(",", Enumerable.Range(0, all[0].Latent.Length).Select(i => $"z{i}")) + "\n");
        for (int i = 0; i < rows; i++)
        {
            var (episode, step, reward, latent) = all[(int)((long)i * all.Count / rows)];
            text.Append(string.Create(c, $"{episode},{step},{reward:G6}"));
            foreach (var z in latent)
            {
                text.Append(',').Append(z.ToString("G6", c));
            }
            text.Append('\n');
        }
        GridJson.WriteAtomically(path, text.ToString());
        return true;
    }

    private static void WriteResult(string path, GridCellState record, string run, long stepsDone, long steps, double wallSeconds, double evalSeconds,
        int replayBytes, long parameters, EvaluationSweep.Outcome sweep, int episodesPerPreset, bool latents)
    {
        var cell = record.Cell;
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, EvaluationSweep.WriterOptions))
        {
            json.WriteStartObject();
            json.WriteNumber("format", 1);
            json.WriteStartObject("cell");
            json.WriteNumber("index", cell.Index);
            json.WriteString("id", cell.Id);
            json.WriteString("encoder", cell.Encoder);
            json.WriteString("mode", cell.Mode);
            json.WriteString("task", cell.Task);
            json.WriteString("train_shifts", cell.TrainShifts);
            json.WriteNumber("seed", cell.Seed);
            json.WriteString("objective", cell.Objective);
            json.WriteString("settings_hash", cell.SettingsHash);
            json.WriteEndObject();

            json.WriteStartObject("train");
            json.WriteNumber("steps", steps);
            json.WriteNumber("steps_done", stepsDone);
            EvaluationSweep.WriteNumber(json, "wall_seconds", Math.Round(wallSeconds, 1));
            json.WriteNumber("attempts", record.Attempts);
            json.WriteNumber("parameters", parameters);
            json.WriteStartArray("curve");
            foreach (var row in ReadCsv(Path.Combine(run, "eval.csv")))
            {
                json.WriteStartObject();
                json.WriteNumber("step", long.Parse(row.Get("step"), CultureInfo.InvariantCulture));
                EvaluationSweep.WriteNumber(json, "success_rate", Parse(row.Get("success_rate")));
                EvaluationSweep.WriteNumber(json, "mean_return", Parse(row.Get("mean_return")));
                json.WriteNumber("episodes", int.Parse(row.Get("episodes"), CultureInfo.InvariantCulture));
                EvaluationSweep.WriteNumber(json, "wall_seconds", Parse(row.Get("wall_seconds")));
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("dormant");
            foreach (var row in ReadCsv(Path.Combine(run, "analysis.csv")))
            {
                json.WriteStartObject();
                json.WriteNumber("step", long.Parse(row.Get("step"), CultureInfo.InvariantCulture));
                EvaluationSweep.WriteNumber(json, "tau", Parse(row.Get("tau")));
                json.WriteStartObject("ratios");
                foreach (var (column, value) in row.Where(kv => kv.Key.StartsWith("dormant_", StringComparison.Ordinal)))
                {
                    EvaluationSweep.WriteNumber(json, column["dormant_".Length..], Parse(value));
                }
                json.WriteEndObject();
                json.WriteStartArray("dynamics_error");
                foreach (var (_, value) in row.Where(kv => kv.Key.StartsWith("dynamics_error_h", StringComparison.Ordinal)))
                {
                    EvaluationSweep.WriteNumber(json, null, Parse(value));
                }
                json.WriteEndArray();
                EvaluationSweep.WriteNumber(json, "reward_mae", Parse(row.Get("reward_mae")));
                EvaluationSweep.WriteNumber(json, "reward_mean", Parse(row.Get("reward_mean")));
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteNumber("replay_bytes_per_transition", replayBytes);
            json.WriteEndObject();

            json.WritePropertyName("eval");
            EvaluationSweep.WriteEval(json, sweep, episodesPerPreset);
            json.WritePropertyName("analysis");
            EvaluationSweep.WriteAnalysis(json, sweep.Analysis);
            EvaluationSweep.WriteNumber(json, "eval_wall_seconds", Math.Round(evalSeconds, 1));
            if (latents)
            {
                json.WriteString("latents", "latents.csv");
            }
            else
            {
                json.WriteNull("latents");
            }
            json.WriteEndObject();
        }
        GridJson.WriteAtomically(path, Encoding.UTF8.GetString(buffer.ToArray()) + "\n");
    }

    private static double Parse(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) ? value : double.NaN;

    // Rows of a CSV with a header, as column → text; empty when the file is not there.
    private static IEnumerable<List<KeyValuePair<string, string>>> ReadCsv(string path)
    {
        if (!File.Exists(path))
        {
            yield break;
        }
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0)
        {
            yield break;
        }
        var header = lines[0].Split(',');
        foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
        {
            var fields = line.Split(',');
            yield return header.Zip(fields, KeyValuePair.Create).ToList();
        }
    }

    private static string Get(this List<KeyValuePair<string, string>> row, string column) =>
        row.FirstOrDefault(kv => kv.Key == column).Value ?? throw new InvalidDataException($"column '{column}' is missing");

    /// <summary>The cell's progress.json: what a progress view shows (phase, step of steps, last evaluation's success, presets done), written atomically at most about once a second.</summary>
    private sealed class ProgressFile(string path)
    {
        private long _lastWrite = long.MinValue;

        public void Training(long step, long steps, double lastEvalSuccess, bool force) =>
            Write(force, new JsonObject { ["phase"] = "training", ["step"] = step, ["steps"] = steps, ["last_eval_success"] = double.IsFinite(lastEvalSuccess) ? lastEvalSuccess : null });

        public void Evaluating(int presetsDone, int presets) =>
            Write(true, new JsonObject { ["phase"] = "evaluating", ["presets_done"] = presetsDone, ["presets"] = presets });

        private void Write(bool force, JsonObject json)
        {
            long now = Stopwatch.GetTimestamp();
            if (!force && _lastWrite != long.MinValue && Stopwatch.GetElapsedTime(_lastWrite, now) < TimeSpan.FromSeconds(1))
            {
                return;
            }
            _lastWrite = now;
            json["updated"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture);
            GridJson.WriteAtomically(path, json);
        }
    }

    /// <summary>Writes each line to the cell's log.txt (appended, flushed) and to the console, which may have gone (a runner that died): then to the log alone.</summary>
    private sealed class CellLog : TextWriter
    {
        private readonly StreamWriter _file;
        private TextWriter? _console;

        public CellLog(string path, TextWriter console)
        {
            _file = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false)) { AutoFlush = true };
            _console = console;
        }

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value) => Write(value.ToString());

        public override void Write(string? value)
        {
            lock (_file)
            {
                _file.Write(value);
                try
                {
                    _console?.Write(value);
                    _console?.Flush();
                }
                catch (IOException)
                {
                    _console = null;
                }
            }
        }

        public override void WriteLine(string? value) => Write(value + "\n");

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _file.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
