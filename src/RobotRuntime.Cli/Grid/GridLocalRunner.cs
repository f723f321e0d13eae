using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace RobotRuntime.Cli.Grid;

/// <summary>
/// Runs a grid on this machine: up to N child processes at a time, each the per-cell command
/// (<c>rr grid cell DIR --index I</c>) of this same executable — the code path a cluster runs — over the
/// cells not done yet, in order. Shows the whole grid live (each cell's state, training step, last
/// evaluation's success; totals and elapsed time), or a line per state change. Stopping (Ctrl-C,
/// SIGTERM) passes SIGTERM to the workers, which checkpoint and leave their cells resumable.
/// </summary>
public static class GridLocalRunner
{
    /// <summary>How the runner runs.</summary>
    /// <param name="Workers">Child processes at a time.</param>
    /// <param name="MaxFailures">Cells that failed this many times are left out.</param>
    /// <param name="Live">A live table (Spectre.Console) instead of a line per state change.</param>
    /// <param name="WorkerCommand">Program and leading arguments that start this rr (<see cref="SelfCommand"/>).</param>
    public sealed record Options(int Workers, int MaxFailures, bool Live, IReadOnlyList<string> WorkerCommand);

    /// <summary>
    /// The command that runs this same rr: <see cref="Environment.ProcessPath"/>, followed by the entry
    /// assembly when the process is the dotnet host (<c>dotnet rr.dll</c>) rather than rr's own launcher.
    /// </summary>
    public static IReadOnlyList<string> SelfCommand()
    {
        string process = Environment.ProcessPath ?? throw new InvalidOperationException("this process's executable path is unknown; cannot start workers");
        string? entry = Assembly.GetEntryAssembly()?.Location;
        return entry is { Length: > 0 } && !string.Equals(Path.GetFileNameWithoutExtension(process), Path.GetFileNameWithoutExtension(entry), StringComparison.OrdinalIgnoreCase)
            ? [process, entry]
            : [process];
    }

    private sealed class Worker
    {
        public required GridCell Cell { get; init; }
        public required Process Process { get; init; }
        public Queue<string> ErrorTail { get; } = new();
    }

    private sealed class View
    {
        public string State = "pending";
        public int Attempts, Failures;
        public string Detail = "";
        public long Step, Steps;
        public double LastEval = double.NaN;
        public string? Error;
    }

    /// <summary>Runs the cells of <paramref name="manifest"/> not done yet; returns 0 when every cell is done, 1 when some are not, 130 when stopped.</summary>
    /// <param name="grid">The grid folder (prepared by <see cref="GridPlan.Prepare"/>).</param>
    /// <param name="manifest">Its record.</param>
    /// <param name="options">Workers and display.</param>
    /// <param name="output">Lines (state changes, summary).</param>
    /// <param name="console">Where the live view draws.</param>
    /// <param name="stop">First request: SIGTERM to the workers, wait for them.</param>
    /// <param name="kill">Second request: SIGKILL to the workers (cells stay resumable from their last checkpoint).</param>
    public static int Run(string grid, GridManifest manifest, Options options, TextWriter output, IAnsiConsole console, CancellationToken stop, CancellationToken kill)
    {
        var clock = Stopwatch.StartNew();
        var views = new Dictionary<int, View>();
        var queue = new Queue<GridCell>();
        foreach (var cell in manifest.Cells)
        {
            var view = Refresh(grid, cell, new View());
            views[cell.Index] = view;
            if (view.State == "done")
            {
                continue;
            }
            if (view.Failures >= options.MaxFailures)
            {
                view.State = "gave up";
                view.Detail = $"failed {view.Failures}×: {view.Error}";
                continue;
            }
            queue.Enqueue(cell);
        }
        int done = views.Values.Count(v => v.State == "done");
        output.WriteLine($"rr grid: {manifest.Name}: {manifest.Cells.Count} cells, {done} done, {queue.Count} to run, {views.Values.Count(v => v.State == "gave up")} given up after {options.MaxFailures} failures; {options.Workers} worker(s)");
        var running = new Dictionary<int, Worker>();
        bool stopping = false, killed = false;
        void Step()
        {
            if (stop.IsCancellationRequested && !stopping)
            {
                stopping = true;
                output.WriteLine($"rr grid: stopping; waiting for {running.Count} worker(s) to checkpoint (again to kill them)");
                foreach (var w in running.Values)
                {
                    Signal(w.Process, "TERM");
                }
            }
            if (kill.IsCancellationRequested && !killed)
            {
                killed = true;
                foreach (var w in running.Values)
                {
                    try
                    {
                        w.Process.Kill(entireProcessTree: true);
                    }
                    catch (InvalidOperationException)
                    {
                        // exited meanwhile
                    }
                }
            }
            while (!stopping && running.Count < options.Workers && queue.Count > 0)
            {
                var cell = queue.Dequeue();
                running[cell.Index] = Launch(grid, cell, options);
                Report(output, options, cell, views[cell.Index], "started", clock);
            }
            foreach (var (index, worker) in running.ToList())
            {
                var view = views[index];
                string before = view.State;
                Refresh(grid, worker.Cell, view);
                if (!worker.Process.HasExited)
                {
                    if (view.State != before)
                    {
                        Report(output, options, worker.Cell, view, view.State, clock);
                    }
                    continue;
                }
                worker.Process.WaitForExit();
                running.Remove(index);
                Finished(grid, worker, view, stopping, options);
                Report(output, options, worker.Cell, view, view.State, clock);
                worker.Process.Dispose();
            }
        }
        if (options.Live)
        {
            console.Live(Render(manifest, views, clock, options)).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).Cropping(VerticalOverflowCropping.Bottom)
                .Start(context =>
                {
                    while (running.Count > 0 || (queue.Count > 0 && !stopping))
                    {
                        Step();
                        context.UpdateTarget(Render(manifest, views, clock, options));
                        WaitHandle.WaitAny([stop.WaitHandle], TimeSpan.FromMilliseconds(stopping ? 250 : 500));
                    }
                    context.UpdateTarget(Render(manifest, views, clock, options));
                });
        }
        else
        {
            while (running.Count > 0 || (queue.Count > 0 && !stopping))
            {
                Step();
                WaitHandle.WaitAny([stop.WaitHandle], TimeSpan.FromMilliseconds(250));
            }
        }
        var counts = views.Values.GroupBy(v => v.State).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"rr grid: {manifest.Name}: {counts.GetValueOrDefault("done")} of {manifest.Cells.Count} cells done, {counts.GetValueOrDefault("failed")} failed, {counts.GetValueOrDefault("gave up")} given up, {counts.GetValueOrDefault("elsewhere")} run by another worker, {counts.GetValueOrDefault("pending") + counts.GetValueOrDefault("stopped")} left · {clock.Elapsed:hh\\:mm\\:ss}"));
        if (stopping)
        {
            return GridCellRunner.ExitInterrupted;
        }
        return counts.GetValueOrDefault("done") == manifest.Cells.Count ? 0 : 1;
    }

    private static Worker Launch(string grid, GridCell cell, Options options)
    {
        var start = new ProcessStartInfo(options.WorkerCommand[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        foreach (var argument in options.WorkerCommand.Skip(1).Concat(["grid", "cell", Path.GetFullPath(grid), "--index", cell.Index.ToString(CultureInfo.InvariantCulture),
            "--max-failures", options.MaxFailures.ToString(CultureInfo.InvariantCulture)]))
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment[GridCommand.ParentVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        start.Environment.Remove("JOB_COMPLETION_INDEX");
        start.Environment.Remove("SLURM_ARRAY_TASK_ID");
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {options.WorkerCommand[0]}");
        var worker = new Worker { Cell = cell, Process = process };
        // The worker keeps its own log (cells/<id>/log.txt); its console output is drained, the last error lines kept.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                lock (worker.ErrorTail)
                {
                    worker.ErrorTail.Enqueue(line);
                    if (worker.ErrorTail.Count > 5)
                    {
                        worker.ErrorTail.Dequeue();
                    }
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return worker;
    }

    // After a worker exits: what its exit code and the cell's record say.
    private static void Finished(string grid, Worker worker, View view, bool stopping, Options options)
    {
        Refresh(grid, worker.Cell, view);
        int code = worker.Process.ExitCode;
        string tail;
        lock (worker.ErrorTail)
        {
            tail = string.Join(" / ", worker.ErrorTail);
        }
        switch (code)
        {
            case GridCellRunner.ExitDone when view.State == "done":
                return;
            case GridCellRunner.ExitBusy:
                view.State = "elsewhere";
                view.Detail = tail;
                return;
            case GridCellRunner.ExitInterrupted:
                view.State = "stopped";
                view.Detail = "resumes from its checkpoint";
                return;
            case GridCellRunner.ExitFailed when view.State == "failed":
                view.Detail = view.Error ?? tail;
                return;
        }
        if (stopping && view.State is "pending" or "training" or "evaluating")
        {
            view.State = "stopped";
            view.Detail = $"worker exited ({code}); resumes from its checkpoint";
            return;
        }
        // The worker ended without recording why (killed, crashed, or refused to start): the cell failed.
        string folder = GridFolder.Cell(grid, worker.Cell.Id);
        using var cellLock = GridCellLock.TryAcquire(Path.Combine(folder, "lock"), out _);
        var record = GridCellState.Read(folder);
        if (cellLock is not null && record is not null && record.State != "done")
        {
            record.Failures++;
            record.State = "failed";
            record.Error = $"the worker exited with code {code} without recording an error{(tail.Length > 0 ? $"; it said: {tail}" : "")} (see {Path.Combine(folder, "log.txt")})";
            record.Write(folder);
        }
        Refresh(grid, worker.Cell, view);
        view.Detail = view.Error ?? tail;
    }

    private static View Refresh(string grid, GridCell cell, View view)
    {
        string folder = GridFolder.Cell(grid, cell.Id);
        try
        {
            if (GridCellState.Read(folder) is { } record)
            {
                view.State = record.State == "done" && !File.Exists(Path.Combine(folder, "result.json")) ? "pending" : record.State;
                view.Attempts = record.Attempts;
                view.Failures = record.Failures;
                view.Error = record.Error;
            }
            string progress = Path.Combine(folder, "progress.json");
            if (File.Exists(progress) && JsonNode.Parse(File.ReadAllText(progress)) is JsonObject p)
            {
                if (p["phase"]?.GetValue<string>() == "training")
                {
                    view.Step = p["step"]?.GetValue<long>() ?? 0;
                    view.Steps = p["steps"]?.GetValue<long>() ?? 0;
                    view.LastEval = p["last_eval_success"]?.GetValue<double>() ?? double.NaN;
                    view.Detail = "";
                }
                else if (p["phase"]?.GetValue<string>() == "evaluating")
                {
                    view.Detail = $"preset {p["presets_done"]} of {p["presets"]}";
                }
            }
            if (view.State == "done" && File.Exists(Path.Combine(folder, "result.json")))
            {
                var result = GridJson.Read(Path.Combine(folder, "result.json"));
                if (result["eval"]?["presets"]?["in-distribution"]?["success_rate"] is JsonValue success)
                {
                    view.Detail = string.Create(CultureInfo.InvariantCulture, $"in-distribution success {success.GetValue<double>():P0}");
                }
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            // A file being replaced or half-written by hand: the next look sees it whole.
        }
        return view;
    }

    private static void Report(TextWriter output, Options options, GridCell cell, View view, string what, Stopwatch clock)
    {
        if (options.Live)
        {
            return;
        }
        string detail = what switch
        {
            "started" => $"started (attempt {view.Attempts + 1})",
            "training" => view.Steps > 0 ? $"training (step {view.Step} of {view.Steps})" : "training",
            _ => view.Detail.Length > 0 ? $"{what}: {view.Detail}" : what,
        };
        output.WriteLine($"[{clock.Elapsed:hh\\:mm\\:ss}] cell {cell.Index} {cell.Id}: {detail}");
    }

    private static IRenderable Render(GridManifest manifest, Dictionary<int, View> views, Stopwatch clock, Options options)
    {
        var counts = views.Values.GroupBy(v => v.State).ToDictionary(g => g.Key, g => g.Count());
        var table = new Table().Border(TableBorder.Simple).AddColumns("#", "cell", "state", "step", "last eval", "attempts", "");
        foreach (var cell in manifest.Cells)
        {
            var v = views[cell.Index];
            string colour = v.State switch { "done" => "green", "failed" or "gave up" => "red", "training" or "evaluating" => "yellow", _ => "grey" };
            table.AddRow(
                cell.Index.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(cell.Id),
                $"[{colour}]{Markup.Escape(v.State)}[/]",
                v.Steps > 0 ? string.Create(CultureInfo.InvariantCulture, $"{v.Step:N0} / {v.Steps:N0}") : "",
                double.IsFinite(v.LastEval) ? v.LastEval.ToString("P0", CultureInfo.InvariantCulture) : "",
                v.Attempts.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(v.Detail.Length > 60 ? v.Detail[..60] + "…" : v.Detail));
        }
        var header = new Markup(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"rr grid {manifest.Name}: {counts.GetValueOrDefault("done")}/{manifest.Cells.Count} done · {counts.GetValueOrDefault("training") + counts.GetValueOrDefault("evaluating")} running · {counts.GetValueOrDefault("pending")} pending · {counts.GetValueOrDefault("failed") + counts.GetValueOrDefault("gave up")} failed · {options.Workers} worker(s) · elapsed {clock.Elapsed:hh\\:mm\\:ss}")));
        return new Rows(header, table);
    }

    private static void Signal(Process process, string signal)
    {
        try
        {
            if (process.HasExited)
            {
                return;
            }
            using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + signal, process.Id.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false });
            kill?.WaitForExit(5000);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Exited meanwhile, or no kill(1): the worker also watches that its runner is alive.
        }
    }
}
