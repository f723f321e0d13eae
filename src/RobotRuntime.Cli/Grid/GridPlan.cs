using System.Globalization;

namespace RobotRuntime.Cli.Grid;

/// <summary>A spec differs from the grid folder's and the changes were not accepted; the message says what and which cells.</summary>
public sealed class GridChangesRefusedException(string message) : Exception(message);

/// <summary>
/// Makes a grid folder agree with a spec before anything runs: the first time it writes grid.json, a
/// pending cell.json per cell and the PVR copies; later, if the spec changed, it names what changed and
/// which cells that touches and refuses unless the changes are accepted — then only the cells whose own
/// settings changed are reset (their folder emptied, pending again), added cells are queued, removed
/// cells are left on disk and listed. Finished cells are never touched.
/// </summary>
public static class GridPlan
{
    /// <summary>Prepares <paramref name="grid"/> for <paramref name="spec"/>; returns its record.</summary>
    /// <exception cref="GridChangesRefusedException">The spec changed and <paramref name="acceptChanges"/> is false.</exception>
    /// <exception cref="IOException">Another rr grid is preparing the folder, or a cell to reset is being run.</exception>
    public static GridManifest Prepare(GridSpec spec, string grid, bool acceptChanges, TextWriter output)
    {
        Directory.CreateDirectory(Path.Combine(grid, "cells"));
        using var gridLock = GridCellLock.TryAcquire(Path.Combine(grid, "grid.lock"), out var holder)
            ?? throw new IOException($"another rr grid is preparing {grid} ({holder}); wait for it or stop it");
        var (cells, skipped) = spec.Cells();
        var normalised = spec.Normalised();
        var manifest = new GridManifest { Name = spec.Name, Spec = normalised, Cells = cells, Skipped = skipped };
        var reset = new HashSet<string>();
        if (File.Exists(GridFolder.Manifest(grid)))
        {
            var before = GridManifest.Read(grid);
            var changes = GridChanges.Between(grid, before, normalised, cells);
            if (changes.Any)
            {
                if (!acceptChanges)
                {
                    throw new GridChangesRefusedException(
                        $"{GridFolder.Manifest(grid)} was made from another spec:\n{changes.Describe()}\n" +
                        "run again with --accept-changes to reset the changed cells and queue the added ones (finished cells whose settings did not change are kept), or use another --out folder");
                }
                output.WriteLine($"rr grid: accepting changes to {GridFolder.Manifest(grid)}:\n{changes.Describe()}");
                reset.UnionWith(changes.Changed.Select(c => c.Cell.Id));
            }
            manifest = new GridManifest
            {
                Name = spec.Name,
                Spec = normalised,
                Cells = cells,
                Skipped = skipped,
                Removed = [.. before.Removed.Union(changes.Removed).Except(cells.Select(c => c.Id)).Order(StringComparer.Ordinal)],
            };
        }
        GridFolder.CopyEncoders(grid, spec);
        foreach (var cell in cells)
        {
            string folder = GridFolder.Cell(grid, cell.Id);
            var record = GridCellState.Read(folder);
            if (record is not null && record.Cell.SettingsHash != cell.SettingsHash && !reset.Contains(cell.Id))
            {
                // grid.json and this cell.json disagree (a run stopped while accepting changes): grid.json is the record.
                output.WriteLine($"rr grid: cell {cell.Id} was made with other settings than grid.json says; starting it again");
                reset.Add(cell.Id);
            }
            if (reset.Contains(cell.Id))
            {
                Reset(folder, cell);
            }
            else if (record is null)
            {
                GridCellState.Pending(cell).Write(folder);
            }
            else if (record.Cell.Index != cell.Index || record.Cell.Objective != cell.Objective)
            {
                // Same settings, a new position (cells were added or removed before it) or objective tag: keep its state.
                var moved = new GridCellState { Cell = cell, State = record.State, Attempts = record.Attempts, Failures = record.Failures, Error = record.Error, Worker = record.Worker };
                moved.Write(folder);
            }
        }
        manifest.Write(grid);
        return manifest;
    }

    /// <summary>Lines naming the combinations the grid leaves out, each with its reason.</summary>
    public static IEnumerable<string> DescribeSkipped(GridManifest manifest, int tasks, int shifts, int seeds)
    {
        foreach (var s in manifest.Skipped)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"  {s.Encoder} × {s.Mode} (× {tasks} task(s) × {shifts} shift setting(s) × {seeds} seed(s)): {s.Reason}");
        }
    }

    // Empties a cell whose settings changed and makes it pending; refuses while a worker holds it.
    private static void Reset(string folder, GridCell cell)
    {
        Directory.CreateDirectory(folder);
        using var cellLock = GridCellLock.TryAcquire(Path.Combine(folder, "lock"), out var holder)
            ?? throw new IOException($"cell {cell.Id} is being run ({holder}); stop it before accepting changes that reset it");
        foreach (var entry in Directory.EnumerateFileSystemEntries(folder))
        {
            if (Path.GetFileName(entry) == "lock")
            {
                continue;
            }
            if (Directory.Exists(entry))
            {
                Directory.Delete(entry, recursive: true);
            }
            else
            {
                File.Delete(entry);
            }
        }
        GridCellState.Pending(cell).Write(folder);
    }
}
