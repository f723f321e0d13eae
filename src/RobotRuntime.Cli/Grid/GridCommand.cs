using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;

namespace RobotRuntime.Cli.Grid;

/// <summary>
/// <c>rr grid</c>: the cross product encoder × mode × task × training-time shifts × seed as a resumable
/// queue of cells (train, then evaluate in distribution and under every shift preset) — run here by local
/// workers, or written out as a Kubernetes Indexed Job or a Slurm array; <c>rr grid cell</c> runs one
/// cell (what every worker runs), <c>rr grid collect</c> reads the results.
/// </summary>
public static class GridCommand
{
    /// <summary>Environment variable through which the local runner tells a worker its pid: a worker whose runner has gone stops (checkpointed).</summary>
    public const string ParentVariable = "RR_GRID_PARENT_PID";

    /// <summary>Builds the <c>grid</c> verb with its <c>cell</c> and <c>collect</c> subcommands.</summary>
    public static Command Create()
    {
        var spec = new Argument<string?>("spec") { Description = "The grid spec (YAML): encoders, modes, tasks, train_shifts, seeds, train, eval (docs/grid-howto.md).", Arity = ArgumentArity.ZeroOrOne };
        var output = new Option<string?>("--out") { Description = "The grid folder: grid.json, cells/<id>/ (cell.json, run/, result.json, latents.csv), results.csv. Run again to resume." };
        var workers = new Option<int>("--workers") { Description = "Cells trained at once, each in its own rr grid cell process.", DefaultValueFactory = _ => 1 };
        var noProgress = new Option<bool>("--no-progress") { Description = "A line per cell state change instead of the live table." };
        var accept = new Option<bool>("--accept-changes") { Description = "The spec changed since the folder was made: reset the cells whose own settings changed, queue added ones, leave removed ones on disk." };
        var maxFailures = new Option<int>("--max-failures") { Description = "A cell that failed this many times is not run again.", DefaultValueFactory = _ => 2 };
        var retryFailed = new Option<bool>("--retry-failed") { Description = "Forget the failures of cells that failed before, so they run again." };
        var emit = new Option<string?>("--emit") { Description = "Do not run: prepare the folder and write a cluster job that runs its cells: k8s (a Kubernetes Indexed Job, DIR/k8s-job.yaml) or slurm (an sbatch array script, DIR/slurm.sbatch)." };
        var image = new Option<string>("--image") { Description = "--emit k8s: the container image that holds rr.", DefaultValueFactory = _ => "robotruntime/rr:latest" };
        var pvc = new Option<string>("--pvc") { Description = "--emit k8s: the PersistentVolumeClaim holding the grid folder (mounted at the folder's own path).", DefaultValueFactory = _ => "rr-grid" };
        var parallelism = new Option<int>("--parallelism") { Description = "--emit: cells run at once (0: all).", DefaultValueFactory = _ => 0 };
        var command = new Option<string?>("--command") { Description = "--emit: how rr is started on the nodes, e.g. \"dotnet /opt/rr/rr.dll\" (default: rr for k8s, this rr's own path for slurm)." };
        var collect = new Option<string?>("--collect") { Description = "Read the grid folder's cells (e.g. on a cluster's shared storage), print the table and write results.csv." };
        var verb = new Command("grid", "Run a grid of training runs (encoder × mode × task × training shifts × seed) as a resumable queue, locally or on a cluster.")
        {
            spec, output, workers, noProgress, accept, maxFailures, retryFailed, emit, image, pvc, parallelism, command, collect,
        };
        verb.Subcommands.Add(CreateCell());
        verb.Subcommands.Add(CreateCollect());
        verb.SetAction(result =>
        {
            var error = result.InvocationConfiguration.Error;
            var writer = result.InvocationConfiguration.Output;
            try
            {
                if (result.GetValue(collect) is { } collectFolder)
                {
                    if (result.GetValue(spec) is not null)
                    {
                        throw new ArgumentException("--collect reads a grid folder; give it without a spec");
                    }
                    return Collect(collectFolder, writer);
                }
                string specPath = result.GetValue(spec) ?? throw new ArgumentException("give a grid spec: rr grid SPEC.yaml --out DIR (or rr grid collect DIR)");
                string grid = result.GetValue(output) ?? throw new ArgumentException("--out: the grid folder is required (rr grid SPEC.yaml --out DIR)");
                int workerCount = result.GetValue(workers);
                if (workerCount < 1)
                {
                    throw new ArgumentException($"--workers: expected at least 1, got {workerCount}");
                }
                int failures = result.GetValue(maxFailures);
                if (failures < 1)
                {
                    throw new ArgumentException($"--max-failures: expected at least 1, got {failures}");
                }
                string? emitKind = result.GetValue(emit);
                if (emitKind is not (null or "k8s" or "slurm"))
                {
                    throw new ArgumentException($"--emit '{emitKind}' is not one of k8s, slurm");
                }
                if (emitKind is null)
                {
                    foreach (var clusterOnly in new Option[] { image, pvc, parallelism, command })
                    {
                        if (result.GetResult(clusterOnly) is { Implicit: false })
                        {
                            throw new ArgumentException($"{clusterOnly.Name} is for --emit k8s|slurm");
                        }
                    }
                }
                if (result.GetValue(parallelism) < 0)
                {
                    throw new ArgumentException($"--parallelism: expected 0 (all) or more, got {result.GetValue(parallelism)}");
                }

                var gridSpec = GridSpec.Load(specPath);
                var manifest = GridPlan.Prepare(gridSpec, grid, result.GetValue(accept), writer);
                writer.WriteLine($"rr grid: {manifest.Name}: {manifest.Cells.Count} cells in {Path.GetFullPath(grid)} ({gridSpec.Encoders.Count} encoder(s) × {gridSpec.Modes.Count} mode(s) × {gridSpec.Tasks.Count} task(s) × {gridSpec.TrainShifts.Count} training-shift setting(s) × {gridSpec.Seeds.Count} seed(s), less {manifest.Skipped.Count} inapplicable encoder × mode combination(s))");
                if (manifest.Skipped.Count > 0)
                {
                    writer.WriteLine("rr grid: left out:");
                    foreach (var line in GridPlan.DescribeSkipped(manifest, gridSpec.Tasks.Count, gridSpec.TrainShifts.Count, gridSpec.Seeds.Count))
                    {
                        writer.WriteLine(line);
                    }
                }
                if (result.GetValue(retryFailed))
                {
                    RetryFailed(grid, manifest, writer);
                }
                if (manifest.Cells.Count == 0)
                {
                    writer.WriteLine("rr grid: no cell applies; nothing to run");
                    return 1;
                }
                if (emitKind is not null)
                {
                    var words = result.GetValue(command)?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    var emitOptions = new GridClusterEmit.Options(
                        words is { Length: > 0 } ? words : emitKind == "k8s" ? ["rr"] : GridLocalRunner.SelfCommand(),
                        result.GetValue(image)!, result.GetValue(pvc)!, result.GetValue(parallelism), failures);
                    string file = Path.Combine(grid, emitKind == "k8s" ? "k8s-job.yaml" : "slurm.sbatch");
                    if (emitKind == "slurm")
                    {
                        Directory.CreateDirectory(Path.Combine(grid, "slurm"));
                    }
                    GridJson.WriteAtomically(file, emitKind == "k8s" ? GridClusterEmit.Kubernetes(manifest, grid, emitOptions) : GridClusterEmit.Slurm(manifest, grid, emitOptions));
                    writer.WriteLine($"rr grid: wrote {Path.GetFullPath(file)} ({manifest.Cells.Count} cells); " + (emitKind == "k8s"
                        ? $"put {Path.GetFullPath(grid)} on the PersistentVolumeClaim '{emitOptions.Pvc}' (mounted at that path), then: kubectl apply -f {file}"
                        : $"from a node that mounts {Path.GetFullPath(grid)}: sbatch {file}"));
                    writer.WriteLine($"rr grid: afterwards: rr grid collect {grid}");
                    return 0;
                }

                bool live = !result.GetValue(noProgress) && !Console.IsOutputRedirected;
                var console = GridCollect.ConsoleFor(writer, live);
                using var stop = new CancellationTokenSource();
                using var kill = new CancellationTokenSource();
                int signals = 0;
                void OnSignal(PosixSignalContext context)
                {
                    context.Cancel = true;
                    if (Interlocked.Increment(ref signals) == 1)
                    {
                        stop.Cancel();
                    }
                    else
                    {
                        kill.Cancel();
                    }
                }
                using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
                using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
                int exit = GridLocalRunner.Run(grid, manifest, new GridLocalRunner.Options(workerCount, failures, live, GridLocalRunner.SelfCommand()), writer, console, stop.Token, kill.Token);
                var (read, cells) = GridCollect.Read(grid);
                GridCollect.Print(console, read, cells);
                writer.WriteLine($"rr grid: wrote {GridCollect.WriteResults(grid, cells)}");
                WriteReport(grid, null, writer);
                return exit;
            }
            catch (Exception failure) when (failure is GridSpecException or GridChangesRefusedException or ArgumentException)
            {
                error.WriteLine($"rr grid: {failure.Message}");
                return 2;
            }
            catch (Exception failure) when (failure is IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException)
            {
                error.WriteLine($"rr grid: {failure.Message}");
                return 1;
            }
        });
        return verb;
    }

    private static Command CreateCell()
    {
        var folder = new Argument<string>("grid") { Description = "The grid folder (made by rr grid SPEC --out DIR, or --emit)." };
        var index = new Option<int?>("--index") { Description = "The cell's index in grid.json (default: JOB_COMPLETION_INDEX, else SLURM_ARRAY_TASK_ID)." };
        var maxFailures = new Option<int>("--max-failures") { Description = "A cell that failed this many times is not run again.", DefaultValueFactory = _ => 2 };
        var verb = new Command("cell", "Run one cell of a grid: train (resuming from its checkpoint), evaluate on every preset, write result.json. What local workers, Kubernetes pods and Slurm tasks run.")
        {
            folder, index, maxFailures,
        };
        verb.SetAction(result =>
        {
            var error = result.InvocationConfiguration.Error;
            int cell;
            try
            {
                cell = result.GetValue(index) ?? GridCellRunner.IndexFromEnvironment(Environment.GetEnvironmentVariable)
                    ?? throw new ArgumentException("give --index, or run it where JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID (a Slurm array) is set");
            }
            catch (ArgumentException e)
            {
                error.WriteLine($"rr grid cell: {e.Message}");
                return GridCellRunner.ExitUsage;
            }
            if (result.GetValue(maxFailures) < 1)
            {
                error.WriteLine($"rr grid cell: --max-failures: expected at least 1, got {result.GetValue(maxFailures)}");
                return GridCellRunner.ExitUsage;
            }
            using var stop = new CancellationTokenSource();
            void OnSignal(PosixSignalContext context)
            {
                context.Cancel = true;
                stop.Cancel();
            }
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
            using var watch = WatchParent(stop);
            return GridCellRunner.Run(result.GetValue(folder)!, cell, result.GetValue(maxFailures), result.InvocationConfiguration.Output, error, stop.Token);
        });
        return verb;
    }

    private static Command CreateCollect()
    {
        var folder = new Argument<string>("grid") { Description = "The grid folder." };
        var report = new Option<string?>("--report") { Description = "Where to write the report (markdown; its figures in a folder beside it). Default: GRID/report.md." };
        var verb = new Command("collect", "Read every cell of a grid folder (e.g. from a cluster's shared storage): print the table, write results.csv and the report (IQM with bootstrap intervals, curves, analyses, claims).") { folder, report };
        verb.SetAction(result =>
        {
            try
            {
                return Collect(result.GetValue(folder)!, result.InvocationConfiguration.Output, result.GetValue(report));
            }
            catch (Exception failure) when (failure is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                result.InvocationConfiguration.Error.WriteLine($"rr grid collect: {failure.Message}");
                return 1;
            }
        });
        return verb;
    }

    private static int Collect(string grid, TextWriter writer, string? report = null)
    {
        var (manifest, cells) = GridCollect.Read(grid);
        GridCollect.Print(GridCollect.ConsoleFor(writer, interactive: !Console.IsOutputRedirected && writer == Console.Out), manifest, cells);
        writer.WriteLine($"rr grid: wrote {GridCollect.WriteResults(grid, cells)}");
        WriteReport(grid, report, writer);
        return 0;
    }

    /// <summary>The grid's report (GridReport): at <paramref name="report"/>, or GRID/report.md. A malformed cell result is left out and named in it, so one bad file on shared storage does not hide the rest.</summary>
    private static void WriteReport(string grid, string? report, TextWriter writer)
    {
        var path = report ?? Path.Combine(grid, "report.md");
        var written = GridReport.Write(grid, path, new GridReportOptions { SkipMalformedResults = true });
        writer.WriteLine($"rr grid: wrote the report {path} ({written.Count} file(s))");
    }

    // Failed cells start again with no failures counted (their attempts stay counted).
    private static void RetryFailed(string grid, GridManifest manifest, TextWriter writer)
    {
        foreach (var cell in manifest.Cells)
        {
            string folder = GridFolder.Cell(grid, cell.Id);
            using var cellLock = GridCellLock.TryAcquire(Path.Combine(folder, "lock"), out _);
            if (cellLock is not null && GridCellState.Read(folder) is { Failures: > 0 } record && record.State != "done")
            {
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rr grid: {cell.Id}: forgetting {record.Failures} failure(s) (last: {record.Error})"));
                record.Failures = 0;
                record.Write(folder);
            }
        }
    }

    // A worker started by the local runner stops (checkpointed) when the runner is gone, e.g. killed.
    private static Timer? WatchParent(CancellationTokenSource stop)
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(ParentVariable), NumberStyles.None, CultureInfo.InvariantCulture, out int parent))
        {
            return null;
        }
        return new Timer(_ =>
        {
            if (!GridCellLock.ProcessAlive(parent))
            {
                try
                {
                    stop.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The cell finished meanwhile.
                }
            }
        }, null, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2));
    }
}
