using System.Globalization;
using System.Text;
using System.Text.Json;

namespace RobotRuntime.Cli.Grid;

/// <summary>
/// Job files that run a prepared grid's cells on a cluster with the per-cell command
/// (<c>rr grid cell DIR</c>, the index from the scheduler): a Kubernetes Indexed Job and a Slurm array.
/// The grid folder must be on storage every node mounts at the same path.
/// </summary>
public static class GridClusterEmit
{
    /// <summary>What the job files need.</summary>
    /// <param name="Command">Program and leading arguments of rr inside the container or on the nodes.</param>
    /// <param name="Image">Kubernetes: the container image holding rr.</param>
    /// <param name="Pvc">Kubernetes: the PersistentVolumeClaim that holds the grid folder.</param>
    /// <param name="Parallelism">Cells run at once (0: all).</param>
    /// <param name="MaxFailures">A cell that failed this many times is not run again.</param>
    /// <param name="Cpus">CPUs requested per cell.</param>
    /// <param name="Memory">Memory requested per cell (Kubernetes quantity, e.g. 4Gi; Slurm takes it as 4G).</param>
    public sealed record Options(IReadOnlyList<string> Command, string Image, string Pvc, int Parallelism, int MaxFailures, int Cpus = 2, string Memory = "4Gi");

    /// <summary>A Kubernetes-valid name (DNS-1123 label, at most 63 characters) for a grid's job.</summary>
    public static string JobName(string gridName)
    {
        var name = new StringBuilder("rr-grid-");
        foreach (char c in gridName.ToLowerInvariant())
        {
            name.Append(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) ? c : '-');
        }
        string text = name.ToString();
        text = text.Length > 63 ? text[..63] : text;
        return text.TrimEnd('-');
    }

    /// <summary>
    /// A Kubernetes Indexed Job (batch/v1): <c>completions</c> = cells, <c>completionMode: Indexed</c>, each pod
    /// running the per-cell command, which takes its cell from <c>JOB_COMPLETION_INDEX</c>; the grid folder is a
    /// PersistentVolumeClaim mounted at the grid's own path; 2 CPUs requested per cell; a failed index retried
    /// up to <see cref="Options.MaxFailures"/> times (<c>backoffLimitPerIndex</c>), evictions and pods stopped
    /// by SIGTERM (which checkpoint) not counted, a grid folder the command cannot use failing the index at once.
    /// </summary>
    public static string Kubernetes(GridManifest manifest, string grid, Options options)
    {
        string path = Path.GetFullPath(grid);
        string name = JobName(manifest.Name);
        int cells = manifest.Cells.Count;
        int parallelism = options.Parallelism > 0 ? Math.Min(options.Parallelism, cells) : cells;
        var c = CultureInfo.InvariantCulture;
        var args = new List<string>(options.Command.Skip(1)) { "grid", "cell", path, "--max-failures", options.MaxFailures.ToString(c) };
        var yaml = new StringBuilder();
        yaml.AppendLine($"# Written by rr grid --emit k8s: one pod per cell of {path}/grid.json ({cells} cells, spec {manifest.SpecHash[..12]}).");
        yaml.AppendLine("# Each pod runs the per-cell command; it takes its cell from JOB_COMPLETION_INDEX. Apply with: kubectl apply -f <this file>");
        yaml.AppendLine("apiVersion: batch/v1");
        yaml.AppendLine("kind: Job");
        yaml.AppendLine("metadata:");
        yaml.AppendLine($"  name: {Quote(name)}");
        yaml.AppendLine("  labels:");
        yaml.AppendLine("    app.kubernetes.io/name: rr-grid");
        yaml.AppendLine($"    robotruntime.io/grid: {Quote(name)}");
        yaml.AppendLine("spec:");
        yaml.AppendLine("  completionMode: Indexed");
        yaml.AppendLine(string.Create(c, $"  completions: {cells}"));
        yaml.AppendLine(string.Create(c, $"  parallelism: {parallelism}"));
        yaml.AppendLine(string.Create(c, $"  backoffLimitPerIndex: {options.MaxFailures}"));
        yaml.AppendLine(string.Create(c, $"  maxFailedIndexes: {cells}"));
        yaml.AppendLine("  podFailurePolicy:");
        yaml.AppendLine("    rules:");
        yaml.AppendLine("      - action: Ignore        # evicted or preempted: the cell resumes from its checkpoint");
        yaml.AppendLine("        onPodConditions:");
        yaml.AppendLine("          - type: DisruptionTarget");
        yaml.AppendLine("      - action: Ignore        # stopped by SIGTERM after checkpointing");
        yaml.AppendLine("        onExitCodes:");
        yaml.AppendLine("          containerName: cell");
        yaml.AppendLine("          operator: In");
        yaml.AppendLine(string.Create(c, $"          values: [{GridCellRunner.ExitInterrupted}]"));
        yaml.AppendLine("      - action: FailIndex     # the grid folder is unusable for this cell: retrying cannot help");
        yaml.AppendLine("        onExitCodes:");
        yaml.AppendLine("          containerName: cell");
        yaml.AppendLine("          operator: In");
        yaml.AppendLine(string.Create(c, $"          values: [{GridCellRunner.ExitUsage}]"));
        yaml.AppendLine("  template:");
        yaml.AppendLine("    metadata:");
        yaml.AppendLine("      labels:");
        yaml.AppendLine("        app.kubernetes.io/name: rr-grid");
        yaml.AppendLine($"        robotruntime.io/grid: {Quote(name)}");
        yaml.AppendLine("    spec:");
        yaml.AppendLine("      restartPolicy: Never");
        yaml.AppendLine("      terminationGracePeriodSeconds: 120");
        yaml.AppendLine("      containers:");
        yaml.AppendLine("        - name: cell");
        yaml.AppendLine($"          image: {Quote(options.Image)}");
        yaml.AppendLine($"          command: [{Quote(options.Command[0])}]");
        yaml.AppendLine($"          args: [{string.Join(", ", args.Select(Quote))}]");
        yaml.AppendLine("          env:");
        yaml.AppendLine("            - name: RR_CACHE_DIR");
        yaml.AppendLine($"              value: {Quote(path + "/.cache")}");
        yaml.AppendLine("          resources:");
        yaml.AppendLine("            requests:");
        yaml.AppendLine($"              cpu: {Quote(options.Cpus.ToString(c))}");
        yaml.AppendLine($"              memory: {Quote(options.Memory)}");
        yaml.AppendLine("          volumeMounts:");
        yaml.AppendLine("            - name: grid");
        yaml.AppendLine($"              mountPath: {Quote(path)}");
        yaml.AppendLine("      volumes:");
        yaml.AppendLine("        - name: grid");
        yaml.AppendLine("          persistentVolumeClaim:");
        yaml.AppendLine($"            claimName: {Quote(options.Pvc)}");
        return yaml.ToString();
    }

    /// <summary>
    /// A Slurm batch script: an array of one task per cell (<c>#SBATCH --array=0-(N−1)</c>, at most
    /// <see cref="Options.Parallelism"/> at once), each running the per-cell command with
    /// <c>$SLURM_ARRAY_TASK_ID</c>; output per task under the grid's slurm/ folder.
    /// </summary>
    public static string Slurm(GridManifest manifest, string grid, Options options)
    {
        string path = Path.GetFullPath(grid);
        int cells = manifest.Cells.Count;
        var c = CultureInfo.InvariantCulture;
        string array = $"0-{cells - 1}" + (options.Parallelism > 0 && options.Parallelism < cells ? $"%{options.Parallelism}" : "");
        string memory = options.Memory.EndsWith("i", StringComparison.Ordinal) ? options.Memory[..^1] : options.Memory;
        var script = new StringBuilder();
        script.AppendLine("#!/bin/bash");
        script.AppendLine($"# Written by rr grid --emit slurm: one array task per cell of {path}/grid.json ({cells} cells, spec {manifest.SpecHash[..12]}).");
        script.AppendLine("# Submit with: sbatch <this file>. A task stopped by Slurm (SIGTERM) checkpoints; submitting again runs what is not done.");
        script.AppendLine($"#SBATCH --job-name={JobName(manifest.Name)}");
        script.AppendLine($"#SBATCH --array={array}");
        script.AppendLine(string.Create(c, $"#SBATCH --cpus-per-task={options.Cpus}"));
        script.AppendLine($"#SBATCH --mem={memory}");
        script.AppendLine($"#SBATCH --output={path}/slurm/%x-%A_%a.out");
        script.AppendLine("set -euo pipefail");
        script.AppendLine($"export RR_CACHE_DIR=\"${{RR_CACHE_DIR:-{path}/.cache}}\"");
        var command = options.Command.Concat(["grid", "cell", path, "--index"]).Select(ShellQuote);
        script.AppendLine($"exec {string.Join(" ", command)} \"$SLURM_ARRAY_TASK_ID\" --max-failures {options.MaxFailures.ToString(c)}");
        return script.ToString();
    }

    /// <summary>Reads the <c>#SBATCH</c> directives of a batch script (option → value; a flag without value maps to "").</summary>
    public static Dictionary<string, string> SbatchDirectives(string script)
    {
        var directives = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in script.Split('\n'))
        {
            if (!line.StartsWith("#SBATCH ", StringComparison.Ordinal))
            {
                continue;
            }
            string option = line["#SBATCH ".Length..].Trim();
            int equals = option.IndexOf('=', StringComparison.Ordinal);
            directives[equals < 0 ? option : option[..equals]] = equals < 0 ? "" : option[(equals + 1)..];
        }
        return directives;
    }

    // A YAML double-quoted scalar (JSON's string escapes are YAML's).
    private static string Quote(string text) => JsonSerializer.Serialize(text, QuoteOptions);

    private static readonly JsonSerializerOptions QuoteOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string ShellQuote(string text) =>
        text.Length > 0 && text.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '/' or '.' or '-' or '_' or '+' or '=' or ':')
            ? text
            : "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
