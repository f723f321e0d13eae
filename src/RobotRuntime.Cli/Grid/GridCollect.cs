using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using RobotRuntime.Sim.Shifts;
using Spectre.Console;

namespace RobotRuntime.Cli.Grid;

/// <summary>
/// Reads every cell of a grid folder as it stands (a laptop's or a cluster's shared storage), prints a
/// table per cell and writes results.csv: one row per done cell × evaluated preset.
/// </summary>
public static class GridCollect
{
    /// <summary>One cell as found.</summary>
    /// <param name="Cell">The cell (from grid.json).</param>
    /// <param name="State">Its cell.json state ("missing" without one).</param>
    /// <param name="Result">Its result.json when done.</param>
    /// <param name="Problem">Why its record or result could not be read, or its last error.</param>
    public sealed record CellFound(GridCell Cell, string State, JsonObject? Result, string? Problem);

    /// <summary>The columns of results.csv.</summary>
    public const string Header = "index,id,task,encoder,mode,objective,train_shifts,seed,preset,family,severity,seen_in_training,episodes,success_rate,mean_return";

    /// <summary>Reads grid.json and every cell's cell.json and result.json.</summary>
    /// <exception cref="InvalidDataException">grid.json is missing or malformed.</exception>
    public static (GridManifest Manifest, List<CellFound> Cells) Read(string grid)
    {
        var manifest = GridManifest.Read(grid);
        var cells = new List<CellFound>();
        foreach (var cell in manifest.Cells)
        {
            string folder = GridFolder.Cell(grid, cell.Id);
            try
            {
                var record = GridCellState.Read(folder);
                if (record is null)
                {
                    cells.Add(new CellFound(cell, "missing", null, null));
                    continue;
                }
                JsonObject? result = null;
                string resultPath = Path.Combine(folder, "result.json");
                if (record.State == "done")
                {
                    result = GridJson.Read(resultPath);
                    CheckResult(resultPath, result);
                }
                cells.Add(new CellFound(cell, record.State, result, record.State == "failed" ? record.Error : null));
            }
            catch (InvalidDataException e)
            {
                cells.Add(new CellFound(cell, "unreadable", null, e.Message));
            }
        }
        return (manifest, cells);
    }

    /// <summary>The rows of results.csv for the done cells: one per cell × preset.</summary>
    public static List<string> Rows(IEnumerable<CellFound> cells)
    {
        var c = CultureInfo.InvariantCulture;
        var rows = new List<string> { Header };
        foreach (var found in cells.Where(f => f.Result is not null))
        {
            var cell = found.Cell;
            var seen = cell.TrainShiftFamilies;
            foreach (var (preset, node) in found.Result!["eval"]!["presets"]!.AsObject())
            {
                string family = node!["family"]!.GetValue<string>();
                bool seenInTraining = family == "none" || seen.Contains(family);
                rows.Add(string.Join(",",
                    cell.Index.ToString(c), cell.Id, cell.Task, cell.Encoder, cell.Mode, cell.Objective, cell.TrainShifts, cell.Seed.ToString(c),
                    preset, family, node["severity"]!.GetValue<string>(), seenInTraining ? "true" : "false",
                    node["episodes"]!.AsArray().Count.ToString(c),
                    Number(node["success_rate"]), Number(node["mean_return"])));
            }
        }
        return rows;
    }

    /// <summary>Writes results.csv into the grid folder (atomically) and returns its path.</summary>
    public static string WriteResults(string grid, IEnumerable<CellFound> cells)
    {
        string path = Path.Combine(grid, "results.csv");
        GridJson.WriteAtomically(path, string.Join("\n", Rows(cells)) + "\n");
        return path;
    }

    /// <summary>
    /// Prints a table of the cells (state, steps, training wall time, success in distribution, mean success
    /// over the easy and the hard shift presets) and a line of totals naming the cells not done.
    /// </summary>
    public static void Print(IAnsiConsole console, GridManifest manifest, IReadOnlyList<CellFound> cells)
    {
        var c = CultureInfo.InvariantCulture;
        var table = new Table().Border(TableBorder.Simple).AddColumns("#", "cell", "state", "steps", "train s", "in-dist.", "easy shifts", "hard shifts");
        foreach (var found in cells)
        {
            var r = found.Result;
            string Mean(string severity)
            {
                var values = r!["eval"]!["presets"]!.AsObject().Where(p => p.Value!["severity"]!.GetValue<string>() == severity)
                    .Select(p => p.Value!["success_rate"]?.GetValue<double>() ?? double.NaN).Where(double.IsFinite).ToList();
                return values.Count > 0 ? values.Average().ToString("P0", c) : "";
            }
            table.AddRow(
                found.Cell.Index.ToString(c),
                Markup.Escape(found.Cell.Id),
                Markup.Escape(found.State),
                r is null ? "" : r["train"]!["steps_done"]?.GetValue<long>().ToString("N0", c) ?? "",
                r is null ? "" : (r["train"]!["wall_seconds"]?.GetValue<double>() ?? double.NaN).ToString("F0", c),
                r?["eval"]?["presets"]?[VisualShifts.InDistribution]?["success_rate"]?.GetValue<double>().ToString("P0", c) ?? "",
                r is null ? "" : Mean("easy"),
                r is null ? "" : Mean("hard"));
        }
        console.Write(table);
        int done = cells.Count(f => f.Result is not null);
        console.WriteLine(string.Create(c, $"{manifest.Name}: {done} of {cells.Count} cells done, {cells.Count(f => f.State == "failed")} failed, {cells.Count(f => f.State is "pending" or "training" or "evaluating" or "missing")} not done yet"));
        foreach (var found in cells.Where(f => f.Problem is not null))
        {
            console.WriteLine($"  {found.Cell.Id}: {found.Problem}");
        }
    }

    // The fields results.csv and the table read, named with the file when missing.
    private static void CheckResult(string path, JsonObject result)
    {
        if (result["eval"]?["presets"] is not JsonObject presets)
        {
            throw new InvalidDataException($"{path}: 'eval.presets' is missing or not an object");
        }
        foreach (var (preset, node) in presets)
        {
            foreach (var field in new[] { "family", "severity", "episodes", "success_rate", "mean_return" })
            {
                if (node?[field] is null && field is not ("success_rate" or "mean_return"))
                {
                    throw new InvalidDataException($"{path}: 'eval.presets.{preset}.{field}' is missing");
                }
            }
        }
        if (result["train"] is not JsonObject)
        {
            throw new InvalidDataException($"{path}: 'train' is missing or not an object");
        }
    }

    private static string Number(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<double>(out double number) ? number.ToString("G6", CultureInfo.InvariantCulture) : "";

    /// <summary>An <see cref="IAnsiConsole"/> writing to <paramref name="writer"/> (so tables go where the command's output goes).</summary>
    public static IAnsiConsole ConsoleFor(TextWriter writer, bool interactive)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!interactive)
        {
            // A file or a pipe has no width: wide enough that cell ids stay on one line.
            console.Profile.Width = 160;
        }
        return console;
    }
}
