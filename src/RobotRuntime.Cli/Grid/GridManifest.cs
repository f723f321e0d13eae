using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace RobotRuntime.Cli.Grid;

/// <summary>
/// grid.json: the spec as run (normalised) and its hash, the ordered cells
/// (<c>{index, id, encoder, mode, task, train_shifts, seed, objective, settings_hash}</c>), the
/// combinations left out and why, and the cells an accepted change removed (left on disk).
/// </summary>
public sealed class GridManifest
{
    /// <summary>Grid name.</summary>
    public required string Name { get; init; }

    /// <summary>The normalised spec.</summary>
    public required JsonObject Spec { get; init; }

    /// <summary>SHA-256 of the normalised spec.</summary>
    public string SpecHash => GridJson.Hash(Spec);

    /// <summary>Cells in order; <see cref="GridCell.Settings"/> is empty when read back (cell.json holds it).</summary>
    public required List<GridCell> Cells { get; init; }

    /// <summary>Combinations left out, with the reason.</summary>
    public required List<GridSkipped> Skipped { get; init; }

    /// <summary>Cell ids that earlier specs had and this one does not (their folders are left on disk).</summary>
    public List<string> Removed { get; init; } = [];

    /// <summary>Reads grid.json from <paramref name="grid"/>.</summary>
    /// <exception cref="InvalidDataException">Missing or malformed; the message names the file and field.</exception>
    public static GridManifest Read(string grid)
    {
        string path = GridFolder.Manifest(grid);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"'{grid}' is not a grid folder: {path} is missing (rr grid SPEC --out {grid} makes it)");
        }
        var json = GridJson.Read(path);
        try
        {
            return new GridManifest
            {
                Name = json["name"]!.GetValue<string>(),
                Spec = json["spec"]!.AsObject(),
                Cells = json["cells"]!.AsArray().Select(c => new GridCell(
                    c!["index"]!.GetValue<int>(), c["id"]!.GetValue<string>(), c["encoder"]!.GetValue<string>(), c["mode"]!.GetValue<string>(),
                    c["task"]!.GetValue<string>(), c["train_shifts"]!.GetValue<string>(), c["seed"]!.GetValue<int>(),
                    c["objective"]?.GetValue<string>() ?? "unspecified", new JsonObject(), c["settings_hash"]!.GetValue<string>())).ToList(),
                Skipped = json["skipped"]?.AsArray().Select(s => new GridSkipped(s!["encoder"]!.GetValue<string>(), s["mode"]!.GetValue<string>(), s["reason"]!.GetValue<string>())).ToList() ?? [],
                Removed = json["removed"]?.AsArray().Select(r => r!.GetValue<string>()).ToList() ?? [],
            };
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: a field is missing or of the wrong kind ({e.Message})");
        }
    }

    /// <summary>Writes grid.json atomically.</summary>
    public void Write(string grid)
    {
        Directory.CreateDirectory(grid);
        var cells = new JsonArray();
        foreach (var c in Cells)
        {
            cells.Add(new JsonObject
            {
                ["index"] = c.Index,
                ["id"] = c.Id,
                ["encoder"] = c.Encoder,
                ["mode"] = c.Mode,
                ["task"] = c.Task,
                ["train_shifts"] = c.TrainShifts,
                ["seed"] = c.Seed,
                ["objective"] = c.Objective,
                ["settings_hash"] = c.SettingsHash,
            });
        }
        GridJson.WriteAtomically(GridFolder.Manifest(grid), new JsonObject
        {
            ["format"] = 1,
            ["name"] = Name,
            ["spec_hash"] = SpecHash,
            ["spec"] = Spec.DeepClone(),
            ["cells"] = cells,
            ["skipped"] = new JsonArray([.. Skipped.Select(s => new JsonObject { ["encoder"] = s.Encoder, ["mode"] = s.Mode, ["reason"] = s.Reason })]),
            ["removed"] = new JsonArray([.. Removed.Select(r => JsonValue.Create(r))]),
        });
    }
}

/// <summary>How a spec differs from the one a grid folder was made with, setting by setting and cell by cell.</summary>
public sealed class GridChanges
{
    /// <summary>Spec settings that differ ("train.steps: 20000 → 30000").</summary>
    public List<string> Spec { get; } = [];

    /// <summary>Cells of both whose own settings differ, with those differences.</summary>
    public List<(GridCell Cell, List<string> Differences)> Changed { get; } = [];

    /// <summary>Cells the new spec adds.</summary>
    public List<GridCell> Added { get; } = [];

    /// <summary>Cell ids the new spec no longer has.</summary>
    public List<string> Removed { get; } = [];

    /// <summary>Whether anything differs.</summary>
    public bool Any => Spec.Count > 0 || Changed.Count > 0 || Added.Count > 0 || Removed.Count > 0;

    /// <summary>Compares the grid folder's record with a spec's cells.</summary>
    public static GridChanges Between(string grid, GridManifest before, JsonObject spec, IReadOnlyList<GridCell> cells)
    {
        var changes = new GridChanges();
        changes.Spec.AddRange(GridJson.Differences(GridJson.Flatten(before.Spec), GridJson.Flatten(spec)));
        var old = before.Cells.ToDictionary(c => c.Id);
        foreach (var cell in cells)
        {
            if (!old.TryGetValue(cell.Id, out var previous))
            {
                changes.Added.Add(cell);
                continue;
            }
            if (previous.SettingsHash == cell.SettingsHash)
            {
                continue;
            }
            var record = GridCellState.Read(GridFolder.Cell(grid, cell.Id));
            var differences = record is not null && record.Cell.SettingsHash == previous.SettingsHash
                ? GridJson.Differences(GridJson.Flatten(record.Cell.Settings), GridJson.Flatten(cell.Settings))
                : [$"settings_hash: {previous.SettingsHash[..12]}… → {cell.SettingsHash[..12]}…"];
            changes.Changed.Add((cell, differences));
        }
        var now = cells.Select(c => c.Id).ToHashSet();
        changes.Removed.AddRange(before.Cells.Where(c => !now.Contains(c.Id)).Select(c => c.Id));
        return changes;
    }

    /// <summary>The changes as lines: spec settings, then the cells each set of differences touches, then cells added and removed.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        if (Spec.Count > 0)
        {
            text.AppendLine("  settings changed:");
            foreach (var line in Spec)
            {
                text.AppendLine("    " + line);
            }
        }
        foreach (var group in Changed.GroupBy(c => string.Join("; ", c.Differences)))
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"  {group.Count()} cell(s) whose own settings changed ({group.Key}), reset with --accept-changes: {Ids(group.Select(g => g.Cell.Id))}"));
        }
        if (Added.Count > 0)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"  {Added.Count} cell(s) added, queued with --accept-changes: {Ids(Added.Select(c => c.Id))}"));
        }
        if (Removed.Count > 0)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"  {Removed.Count} cell(s) removed, left on disk: {Ids(Removed)}"));
        }
        if (Changed.Count == 0 && Added.Count == 0 && Removed.Count == 0)
        {
            text.AppendLine("  no cell's results depend on these settings (only grid.json changes)");
        }
        return text.ToString().TrimEnd();
    }

    private static string Ids(IEnumerable<string> ids)
    {
        var list = ids.ToList();
        return list.Count <= 8 ? string.Join(", ", list) : string.Join(", ", list.Take(8)) + $", … ({list.Count - 8} more)";
    }
}
