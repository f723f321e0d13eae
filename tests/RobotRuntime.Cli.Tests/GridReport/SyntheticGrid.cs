using System.Globalization;
using System.Text;
using System.Text.Json;
using RobotRuntime.Sim.Shifts;

namespace RobotRuntime.Cli.Tests.GridReport;

/// <summary>One cell of a synthetic grid: who it is and the outcomes it reports.</summary>
internal sealed record SyntheticCell(string Encoder, string Mode, string Task, string TrainShifts, int Seed)
{
    /// <summary>Final in-distribution success; the training curve ramps linearly to it: success(step) = Id · step / 5000 at steps 1000 … 5000.</summary>
    public double Id { get; init; }
    /// <summary>Success on an easy preset of the given family.</summary>
    public Func<string, double> Easy { get; init; } = _ => 0.5;
    /// <summary>Success on a hard preset of the given family.</summary>
    public Func<string, double> Hard { get; init; } = _ => 0.2;
    /// <summary>Replay bytes per transition.</summary>
    public double ReplayBytes { get; init; } = 12_352;
    /// <summary>cell.json's state; only "done" cells get a result.json.</summary>
    public string State { get; init; } = "done";
    /// <summary>The error of a failed cell.</summary>
    public string? Error { get; init; }
    /// <summary>Write 80 visited latents (8-d, two reward levels) into latents.csv.</summary>
    public bool Latents { get; init; }
    /// <summary>Training wall time, seconds.</summary>
    public double WallSeconds { get; init; } = 100;

    /// <summary>The contract's cell id, task-encoder-mode-trainshifts-sSEED.</summary>
    public string Id_ => $"{Task}-{Encoder}-{Mode}-{TrainShifts}-s{Seed}";
}

/// <summary>Writes grid folders per the grid's on-disk contract (grid.json, cells/&lt;id&gt;/cell.json, result.json, latents.csv).</summary>
internal static class SyntheticGrid
{
    public static readonly long[] CurveSteps = [1000, 2000, 3000, 4000, 5000];

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>
    /// Writes the grid. <paramref name="objectives"/> tags encoders: in spec.encoders (id and objective) and, as rr grid
    /// does, in every cell of grid.json ("none" for scratch, "unspecified" for an untagged encoder) unless
    /// <paramref name="tagCells"/> is false.
    /// </summary>
    public static void Write(string folder, IReadOnlyList<SyntheticCell> cells, IReadOnlyDictionary<string, string> objectives, string name = "synthetic", bool tagCells = true)
    {
        Directory.CreateDirectory(folder);
        var encoders = cells.Select(c => c.Encoder).Distinct().Select(e => e == "scratch"
            ? (object)"scratch"
            : new Dictionary<string, object?> { ["id"] = e, ["zoo"] = "models/pretrained/zoo.json", ["objective"] = objectives.GetValueOrDefault(e) }).ToArray();
        var grid = new Dictionary<string, object?>
        {
            ["spec"] = new Dictionary<string, object?>
            {
                ["name"] = name,
                ["encoders"] = encoders,
                ["tasks"] = cells.Select(c => c.Task).Distinct().ToArray(),
                ["seeds"] = cells.Select(c => c.Seed).Distinct().ToArray(),
            },
            ["spec_hash"] = "sha256:0123abcd",
            ["cells"] = cells.Select((c, i) => new Dictionary<string, object?>
            {
                ["index"] = i, ["id"] = c.Id_, ["encoder"] = c.Encoder, ["mode"] = c.Mode, ["task"] = c.Task,
                ["train_shifts"] = c.TrainShifts, ["seed"] = c.Seed, ["settings_hash"] = $"h{i}",
                ["objective"] = tagCells ? (c.Encoder == "scratch" ? "none" : objectives.GetValueOrDefault(c.Encoder, "unspecified")) : null,
            }).ToArray(),
        };
        File.WriteAllText(Path.Combine(folder, "grid.json"), JsonSerializer.Serialize(grid, Indented));
        for (int i = 0; i < cells.Count; i++)
        {
            var cell = cells[i];
            var cellFolder = Path.Combine(folder, "cells", cell.Id_);
            Directory.CreateDirectory(cellFolder);
            var state = new Dictionary<string, object?> { ["state"] = cell.State, ["attempts"] = 1, ["error"] = cell.Error };
            File.WriteAllText(Path.Combine(cellFolder, "cell.json"), JsonSerializer.Serialize(state, Indented));
            if (cell.State != "done")
                continue;
            File.WriteAllText(Path.Combine(cellFolder, "result.json"), JsonSerializer.Serialize(Result(cell, i), Indented));
            if (cell.Latents)
                File.WriteAllText(Path.Combine(cellFolder, "latents.csv"), LatentsCsv(cell));
        }
    }

    private static Dictionary<string, object?> Result(SyntheticCell cell, int index)
    {
        var presets = new Dictionary<string, object?>();
        foreach (var preset in VisualShifts.Presets)
        {
            string family = preset.Family == ShiftFamily.None ? "none" : preset.Name[..preset.Name.LastIndexOf('-')];
            string severity = preset.Severity.ToString().ToLowerInvariant();
            double success = preset.Severity switch
            {
                ShiftSeverity.None => cell.Id,
                ShiftSeverity.Easy => cell.Easy(family),
                _ => cell.Hard(family),
            };
            presets[preset.Name] = new Dictionary<string, object?>
            {
                ["family"] = family, ["severity"] = severity,
                ["episodes"] = Enumerable.Range(0, 2).Select(e => new Dictionary<string, object?> { ["seed"] = 1_050_000 + e, ["success"] = e == 0, ["return"] = 10.0, ["length"] = 50 }).ToArray(),
                ["success_rate"] = success, ["mean_return"] = Math.Round(40 * success, 4),
            };
        }
        return new Dictionary<string, object?>
        {
            ["format"] = 1,
            ["cell"] = new Dictionary<string, object?> { ["index"] = index, ["id"] = cell.Id_, ["encoder"] = cell.Encoder, ["mode"] = cell.Mode, ["task"] = cell.Task, ["train_shifts"] = cell.TrainShifts, ["seed"] = cell.Seed },
            ["train"] = new Dictionary<string, object?>
            {
                ["steps"] = 5000, ["wall_seconds"] = cell.WallSeconds,
                ["curve"] = CurveSteps.Select(s => new Dictionary<string, object?> { ["step"] = s, ["success_rate"] = Math.Round(cell.Id * s / 5000, 4), ["mean_return"] = Math.Round(40 * cell.Id * s / 5000, 4), ["episodes"] = 10 }).ToArray(),
                ["dormant"] = CurveSteps.Select(s => new Dictionary<string, object?>
                {
                    ["step"] = s, ["tau"] = 0.025,
                    ["ratios"] = new Dictionary<string, double> { ["encoder"] = 0.01, ["dynamics"] = Math.Round(0.05 * s / 5000, 4), ["reward"] = 0.02, ["q"] = 0.0, ["policy"] = 0.0 },
                }).ToArray(),
                ["replay_bytes_per_transition"] = cell.ReplayBytes,
            },
            ["eval"] = new Dictionary<string, object?> { ["episodes_per_preset"] = 2, ["presets"] = presets },
            ["analysis"] = new Dictionary<string, object?>
            {
                ["tau"] = 0.025, ["dynamics_error"] = new[] { 0.01, 0.02, 0.04 }, ["reward_mae"] = 0.03, ["reward_mean"] = 0.4,
                ["dormant"] = new Dictionary<string, double> { ["encoder"] = 0.01, ["dynamics"] = 0.05, ["reward"] = 0.02, ["q"] = 0.0, ["policy"] = 0.0 }, ["steps"] = 100,
            },
            ["latents"] = cell.Latents ? "latents.csv" : null,
        };
    }

    private static string LatentsCsv(SyntheticCell cell)
    {
        var random = new Random(cell.Seed * 31 + cell.Task.Length);
        var text = new StringBuilder("episode,step,reward");
        for (int j = 0; j < 8; j++)
            text.Append(",z").Append(j);
        text.Append('\n');
        for (int row = 0; row < 80; row++)
        {
            bool rewarded = row % 2 == 0;
            text.Append(row / 20).Append(',').Append(row % 20).Append(',').Append(rewarded ? "1" : "0.1");
            for (int j = 0; j < 8; j++)
                text.Append(',').Append(((rewarded ? 3.0 : -3.0) * (j % 2 == 0 ? 1 : -1) + random.NextDouble()).ToString("0.####", CultureInfo.InvariantCulture));
            text.Append('\n');
        }
        return text.ToString();
    }
}
