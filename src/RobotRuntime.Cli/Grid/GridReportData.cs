using System.Globalization;
using System.Text.Json;
using RobotRuntime.Sim.Shifts;

namespace RobotRuntime.Cli.Grid;

/// <summary>
/// A grid folder as the report reads it: <c>grid.json</c>'s cells, each cell's state from <c>cell.json</c>
/// and, for done cells, its <c>result.json</c> (format 1), checked field by field. Nothing else is read;
/// <c>latents.csv</c> is read on demand (<see cref="ReadLatents"/>).
/// </summary>
internal sealed class GridReportData
{
    /// <summary>The result format this reader understands.</summary>
    public const int ResultFormat = 1;

    /// <summary>The grid folder.</summary>
    public required string Folder { get; init; }

    /// <summary>The grid's name (the spec's <c>name</c>), if it has one.</summary>
    public string? Name { get; init; }

    /// <summary>The spec's hash as grid.json records it, if it does.</summary>
    public string? SpecHash { get; init; }

    /// <summary>Every cell of grid.json, in its order.</summary>
    public required IReadOnlyList<Cell> Cells { get; init; }

    /// <summary>Result files that could not be read (only when the caller asked to skip them): the cell and the message.</summary>
    public required IReadOnlyList<(Cell Cell, string Problem)> Unreadable { get; init; }

    /// <summary>The cells with a result.</summary>
    public IEnumerable<Cell> Done => Cells.Where(c => c.Result is not null);

    /// <summary>One cell of the grid.</summary>
    public sealed record Cell
    {
        /// <summary>Position in grid.json.</summary>
        public required int Index { get; init; }
        /// <summary>Folder name under cells/.</summary>
        public required string Id { get; init; }
        /// <summary>Encoder id ("scratch" or a zoo id).</summary>
        public required string Encoder { get; init; }
        /// <summary>scratch, frozen, partial or full.</summary>
        public required string Mode { get; init; }
        /// <summary>Task name.</summary>
        public required string Task { get; init; }
        /// <summary>"none" or the families randomised in training, joined with '+'.</summary>
        public required string TrainShifts { get; init; }
        /// <summary>The families of <see cref="TrainShifts"/> (empty for none).</summary>
        public required IReadOnlySet<string> TrainFamilies { get; init; }
        /// <summary>Training seed.</summary>
        public required int Seed { get; init; }
        /// <summary>The encoder's pre-training objective tag (atc, mae, curl, siammae, bc, spr, idm, video-dynamics, none), if grid.json gives one (cells[].objective, else the spec's encoders[].objective); null when it does not or says "unspecified".</summary>
        public string? Objective { get; init; }
        /// <summary>cell.json's state (pending, training, evaluating, done, failed), or "pending" when there is no cell.json.</summary>
        public required string State { get; init; }
        /// <summary>cell.json's error, for a failed cell.</summary>
        public string? Error { get; init; }
        /// <summary>True when the cell has a result.json but its cell.json says it is not done (left over from before a reset; not read).</summary>
        public bool StaleResult { get; init; }
        /// <summary>The result, when the cell is done and its result.json was read.</summary>
        public Result? Result { get; init; }
    }

    /// <summary>A done cell's result.json.</summary>
    public sealed record Result
    {
        /// <summary>Training steps.</summary>
        public required long Steps { get; init; }
        /// <summary>Training wall time, seconds.</summary>
        public required double WallSeconds { get; init; }
        /// <summary>Evaluations during training.</summary>
        public required IReadOnlyList<CurvePoint> Curve { get; init; }
        /// <summary>Dormant ratios during training.</summary>
        public required IReadOnlyList<DormantPoint> Dormant { get; init; }
        /// <summary>Replay bytes per transition, if reported.</summary>
        public double? ReplayBytesPerTransition { get; init; }
        /// <summary>Evaluation episodes per preset.</summary>
        public int EpisodesPerPreset { get; init; }
        /// <summary>Per preset outcome, by preset name.</summary>
        public required IReadOnlyDictionary<string, PresetOutcome> Presets { get; init; }
        /// <summary>In-distribution analyses, if reported.</summary>
        public Analysis? Analysis { get; init; }
        /// <summary>Full path of latents.csv, if the cell wrote one.</summary>
        public string? LatentsPath { get; init; }
    }

    /// <summary>One training-time evaluation.</summary>
    public readonly record struct CurvePoint(long Step, double SuccessRate, double MeanReturn, int Episodes);

    /// <summary>Dormant ratios per network at one training step.</summary>
    public sealed record DormantPoint(long Step, double Tau, IReadOnlyDictionary<string, double> Ratios);

    /// <summary>One preset's evaluation.</summary>
    public sealed record PresetOutcome(string Family, string Severity, double SuccessRate, double MeanReturn, int Episodes);

    /// <summary>The in-distribution analyses (WorldModelAnalysis).</summary>
    public sealed record Analysis(double Tau, IReadOnlyList<double> DynamicsError, double RewardMae, double RewardMean, IReadOnlyDictionary<string, double> Dormant, int Steps);

    /// <summary>Visited latents and true rewards of one cell.</summary>
    public sealed record Latents(IReadOnlyList<double[]> Points, IReadOnlyList<double> Rewards);

    /// <summary>Family and severity of a preset name, from the simulator's presets ("table-hard" → table, hard).</summary>
    public static (string Family, string Severity) Describe(VisualShift preset)
    {
        if (preset.Name == VisualShifts.InDistribution)
            return ("none", "none");
        int cut = preset.Name.LastIndexOf('-');
        return (preset.Name[..cut], preset.Name[(cut + 1)..]);
    }

    /// <summary>Reads <paramref name="folder"/>.</summary>
    /// <param name="folder">The grid folder (holds grid.json).</param>
    /// <param name="skipMalformed">When true a result.json that cannot be read leaves its cell without a result and is listed in <see cref="Unreadable"/>; when false it throws.</param>
    /// <exception cref="FileNotFoundException">No grid.json.</exception>
    /// <exception cref="InvalidDataException">grid.json, cell.json or (unless skipped) a result.json is malformed; the message names the file and the field.</exception>
    public static GridReportData Read(string folder, bool skipMalformed)
    {
        var gridPath = Path.Combine(folder, "grid.json");
        if (!File.Exists(gridPath))
            throw new FileNotFoundException($"{gridPath}: no grid.json; expected a grid folder written by rr grid", gridPath);
        using var gridDocument = Parse(gridPath);
        var root = new Field(gridPath, "", gridDocument.RootElement);
        var spec = root.Optional("spec");
        string? name = (spec?.Optional("name") ?? root.Optional("name"))?.String();
        string? hash = (root.Optional("spec_hash") ?? root.Optional("hash") ?? spec?.Optional("hash"))?.String();
        var objectives = EncoderObjectives(root, spec);
        var cells = new List<Cell>();
        var unreadable = new List<(Cell, string)>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in root.Required("cells").Items())
        {
            var id = entry.Required("id").String();
            if (id.Length == 0 || id.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || id is "." or "..")
                throw entry.Required("id").Problem("must be a folder name");
            if (!ids.Add(id))
                throw entry.Required("id").Problem($"repeats the cell id '{id}'");
            var shiftsField = entry.Required("train_shifts");
            string[] families = shiftsField.Kind == JsonValueKind.Array
                ? shiftsField.Items().Select(f => f.String()).ToArray()
                : shiftsField.String().Split('+', StringSplitOptions.RemoveEmptyEntries);
            if (families is ["none"])
                families = [];
            foreach (var family in families)
            {
                if (!VisualShifts.Presets.Any(p => p.Name == family + "-easy"))
                    throw shiftsField.Problem($"names the shift family '{family}'; expected none or families among table, lighting, object-colour, distractors, camera, background");
            }
            var encoder = entry.Required("encoder").String();
            var cell = new Cell
            {
                Index = entry.Required("index").Int(),
                Id = id,
                Encoder = encoder,
                Mode = entry.Required("mode").String(),
                Task = entry.Required("task").String(),
                TrainShifts = families.Length == 0 ? "none" : string.Join('+', families),
                TrainFamilies = families.ToHashSet(StringComparer.Ordinal),
                Seed = entry.Required("seed").Int(),
                Objective = Tag(entry.Optional("objective")?.StringOrNull()) ?? (objectives.TryGetValue(encoder, out var tag) ? Tag(tag) : encoder == "scratch" ? "none" : null),
                State = "pending",
            };
            var cellFolder = Path.Combine(folder, "cells", id);
            var statePath = Path.Combine(cellFolder, "cell.json");
            if (File.Exists(statePath))
            {
                using var stateDocument = Parse(statePath);
                var state = new Field(statePath, "", stateDocument.RootElement);
                cell = cell with { State = state.Optional("state")?.String() ?? "pending", Error = state.Optional("error")?.StringOrNull() };
            }
            var resultPath = Path.Combine(cellFolder, "result.json");
            // A result.json under a cell whose cell.json says it is not done is left over from before a reset: not read.
            if (File.Exists(resultPath) && cell.State == "done" || File.Exists(resultPath) && !File.Exists(statePath))
            {
                try
                {
                    cell = cell with { Result = ReadResult(resultPath, cell), State = "done" };
                }
                catch (InvalidDataException problem) when (skipMalformed)
                {
                    unreadable.Add((cell, problem.Message));
                }
            }
            else if (File.Exists(resultPath))
            {
                cell = cell with { StaleResult = true };
            }
            cells.Add(cell);
        }
        return new GridReportData { Folder = folder, Name = name, SpecHash = hash, Cells = cells, Unreadable = unreadable };
    }

    /// <summary>An objective tag, or null for none given ("unspecified" is how rr grid writes a missing tag).</summary>
    private static string? Tag(string? objective) => objective is null or "" or "unspecified" ? null : objective;

    /// <summary>
    /// Objective tags of the encoders: grid.json's <c>encoders</c> (top level or under <c>spec</c>), each an
    /// object with <c>id</c> and <c>objective</c> (a plain string entry has no tag, except "scratch": none).
    /// </summary>
    private static Dictionary<string, string> EncoderObjectives(Field root, Field? spec)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var list in new[] { spec?.Optional("encoders"), root.Optional("encoders") })
        {
            if (list is null || list.Kind != JsonValueKind.Array)
                continue;
            foreach (var encoder in list.Items())
            {
                if (encoder.Kind != JsonValueKind.Object)
                    continue;
                var id = encoder.Optional("id")?.StringOrNull();
                var objective = encoder.Optional("objective")?.StringOrNull();
                if (id is not null && objective is not null)
                    tags.TryAdd(id, objective);
            }
        }
        return tags;
    }

    private static Result ReadResult(string path, Cell cell)
    {
        using var document = Parse(path);
        var root = new Field(path, "", document.RootElement);
        var format = root.Required("format");
        if (format.Int() != ResultFormat)
            throw format.Problem($"must be {ResultFormat} (the result format this report reads)");
        var identity = root.Required("cell");
        var id = identity.Required("id");
        if (id.String() != cell.Id)
            throw id.Problem($"must be '{cell.Id}', the id grid.json gives this cell's folder");

        var train = root.Required("train");
        // An evaluation without a success rate (null: no episodes) is left out of the curve.
        var curve = train.Required("curve").Items()
            .Select(point => (Step: point.Required("step").Long(), Success: point.Required("success_rate").FractionOrNaN(), Point: point))
            .Where(p => !double.IsNaN(p.Success))
            .Select(p => new CurvePoint(p.Step, p.Success, p.Point.Required("mean_return").NumberOrNaN(), p.Point.Optional("episodes")?.Int() ?? 0)).ToArray();
        RequireDistinctSteps(train.Required("curve"), curve.Select(p => p.Step));
        var dormantField = train.Optional("dormant");
        var dormant = dormantField is null || dormantField.Kind == JsonValueKind.Null
            ? []
            : dormantField.Items().Select(point => new DormantPoint(point.Required("step").Long(), point.Required("tau").NumberOrNaN(), Ratios(point.Required("ratios")))).ToArray();
        var replay = train.Optional("replay_bytes_per_transition");

        var evaluation = root.Required("eval");
        var presetsField = evaluation.Required("presets");
        var presets = new Dictionary<string, PresetOutcome>(StringComparer.Ordinal);
        foreach (var (name, preset) in presetsField.Properties())
        {
            var known = VisualShifts.Presets.FirstOrDefault(p => p.Name == name)
                ?? throw preset.Problem($"is not a simulator preset; expected one of {string.Join(", ", VisualShifts.Names)}");
            var (family, severity) = Describe(known);
            var familyField = preset.Optional("family");
            if (familyField is not null && familyField.String() != family)
                throw familyField.Problem($"must be '{family}' for preset {name}");
            var severityField = preset.Optional("severity");
            if (severityField is not null && severityField.String() != severity)
                throw severityField.Problem($"must be '{severity}' for preset {name}");
            var episodes = preset.Optional("episodes");
            int count = episodes is null || episodes.Kind == JsonValueKind.Null ? 0 : episodes.Items().Count();
            // A preset without a success rate (null: no episodes ran) counts as not evaluated.
            double success = preset.Required("success_rate").FractionOrNaN();
            if (!double.IsNaN(success))
                presets[name] = new PresetOutcome(family, severity, success, preset.Required("mean_return").NumberOrNaN(), count);
        }
        if (!presetsField.Properties().Any(p => p.Name == VisualShifts.InDistribution))
            throw presetsField.Problem($"must hold the '{VisualShifts.InDistribution}' preset");

        Analysis? analysis = null;
        var analysisField = root.Optional("analysis");
        if (analysisField is not null && analysisField.Kind != JsonValueKind.Null)
        {
            // Undefined values (null, e.g. an error at a horizon no episode reached) are NaN and left out downstream.
            analysis = new Analysis(
                analysisField.Required("tau").NumberOrNaN(),
                analysisField.Required("dynamics_error").Items().Select(e => e.NonNegativeOrNaN()).ToArray(),
                analysisField.Required("reward_mae").NonNegativeOrNaN(),
                analysisField.Required("reward_mean").NumberOrNaN(),
                Ratios(analysisField.Required("dormant")),
                analysisField.Optional("steps")?.Int() ?? 0);
        }

        string? latents = null;
        var latentsField = root.Optional("latents");
        if (latentsField is not null && latentsField.Kind != JsonValueKind.Null)
        {
            var relative = latentsField.String();
            if (Path.IsPathRooted(relative) || relative.Split('/', '\\').Contains(".."))
                throw latentsField.Problem("must be a file name inside the cell folder (e.g. latents.csv)");
            latents = Path.Combine(Path.GetDirectoryName(path)!, relative);
        }

        return new Result
        {
            Steps = train.Required("steps").Long(),
            WallSeconds = train.Required("wall_seconds").NonNegative(),
            Curve = curve.OrderBy(p => p.Step).ToArray(),
            Dormant = dormant.OrderBy(p => p.Step).ToArray(),
            ReplayBytesPerTransition = replay is null || replay.Kind == JsonValueKind.Null ? null : replay.NonNegative(),
            EpisodesPerPreset = evaluation.Optional("episodes_per_preset")?.Int() ?? 0,
            Presets = presets,
            Analysis = analysis,
            LatentsPath = latents,
        };
    }

    private static void RequireDistinctSteps(Field field, IEnumerable<long> steps)
    {
        var seen = new HashSet<long>();
        foreach (var step in steps)
        {
            if (!seen.Add(step))
                throw field.Problem($"reports step {step} twice");
        }
    }

    private static Dictionary<string, double> Ratios(Field field)
    {
        var ratios = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (network, value) in field.Properties())
        {
            // null: the network had no units to measure; left out.
            if (value.Kind != JsonValueKind.Null)
                ratios[network] = value.Fraction();
        }
        return ratios;
    }

    /// <summary>
    /// Reads a cell's latents.csv: header <c>episode,step,reward,z0,z1,…</c>, one row per visited state.
    /// </summary>
    /// <exception cref="InvalidDataException">A wrong header, a short row or a value that is not a finite number; the message names the file, the line and the column.</exception>
    public static Latents ReadLatents(string path)
    {
        using var reader = new StreamReader(path);
        var header = reader.ReadLine() ?? throw new InvalidDataException($"{path}: empty; expected the header episode,step,reward,z0,z1,…");
        var columns = header.Split(',');
        if (columns.Length < 4 || columns[0] != "episode" || columns[1] != "step" || columns[2] != "reward"
            || columns.Skip(3).Select((c, i) => c == $"z{i}").Any(ok => !ok))
            throw new InvalidDataException($"{path}: line 1: the header must be episode,step,reward,z0,z1,… ; found '{Shorten(header)}'");
        int dimension = columns.Length - 3;
        var points = new List<double[]>();
        var rewards = new List<double>();
        int line = 1;
        while (reader.ReadLine() is { } text)
        {
            line++;
            if (text.Length == 0)
                continue;
            var values = text.Split(',');
            if (values.Length != columns.Length)
                throw new InvalidDataException($"{path}: line {line}: {values.Length} columns; the header has {columns.Length}");
            var z = new double[dimension];
            for (int c = 2; c < values.Length; c++)
            {
                if (!double.TryParse(values[c], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
                    throw new InvalidDataException($"{path}: line {line}: column '{columns[c]}' is '{Shorten(values[c])}'; expected a finite number");
                if (c == 2)
                    rewards.Add(value);
                else
                    z[c - 3] = value;
            }
            points.Add(z);
        }
        return new Latents(points, rewards);
    }

    private static JsonDocument Parse(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException problem)
        {
            throw new InvalidDataException($"{path}: not valid JSON (line {problem.LineNumber + 1}): {problem.Message}", problem);
        }
    }

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";

    /// <summary>A JSON value with the file and the field path it came from, for messages that name both.</summary>
    private sealed class Field(string file, string path, JsonElement element)
    {
        public JsonValueKind Kind => element.ValueKind;

        public InvalidDataException Problem(string expectation)
        {
            var found = element.ValueKind switch
            {
                JsonValueKind.String => $"\"{Shorten(element.GetString()!)}\"",
                JsonValueKind.Object => "an object",
                JsonValueKind.Array => "a list",
                JsonValueKind.Undefined => "nothing",
                _ => Shorten(element.GetRawText()),
            };
            return new InvalidDataException($"{file}: field '{(path.Length == 0 ? "(root)" : path)}' {expectation}; found {found}");
        }

        public Field? Optional(string name)
        {
            if (element.ValueKind != JsonValueKind.Object)
                throw Problem("must be an object");
            return element.TryGetProperty(name, out var value) ? new Field(file, Join(name), value) : null;
        }

        public Field Required(string name)
        {
            if (element.ValueKind != JsonValueKind.Object)
                throw Problem("must be an object");
            if (!element.TryGetProperty(name, out var value))
                throw new InvalidDataException($"{file}: field '{Join(name)}' is missing");
            return new Field(file, Join(name), value);
        }

        public IEnumerable<Field> Items()
        {
            if (element.ValueKind != JsonValueKind.Array)
                throw Problem("must be a list");
            return element.EnumerateArray().Select((item, i) => new Field(file, $"{path}[{i}]", item)).ToArray();
        }

        public IEnumerable<(string Name, Field Value)> Properties()
        {
            if (element.ValueKind != JsonValueKind.Object)
                throw Problem("must be an object");
            return element.EnumerateObject().Select(p => (p.Name, new Field(file, Join(p.Name), p.Value))).ToArray();
        }

        public string String() => element.ValueKind == JsonValueKind.String ? element.GetString()! : throw Problem("must be a string");

        public string? StringOrNull() => element.ValueKind == JsonValueKind.Null ? null : String();

        public double Number()
        {
            if (element.ValueKind != JsonValueKind.Number || !element.TryGetDouble(out var value) || !double.IsFinite(value))
                throw Problem("must be a finite number");
            return value;
        }

        public double NumberOrNaN() => element.ValueKind == JsonValueKind.Null ? double.NaN : Number();

        public double FractionOrNaN() => element.ValueKind == JsonValueKind.Null ? double.NaN : Fraction();

        public double NonNegativeOrNaN() => element.ValueKind == JsonValueKind.Null ? double.NaN : NonNegative();

        public double NonNegative()
        {
            var value = element.ValueKind == JsonValueKind.Number ? Number() : throw Problem("must be a number ≥ 0");
            return value >= 0 ? value : throw Problem("must be a number ≥ 0");
        }

        public double Fraction()
        {
            var value = element.ValueKind == JsonValueKind.Number ? Number() : throw Problem("must be a number in [0, 1]");
            return value is >= 0 and <= 1 ? value : throw Problem("must be a number in [0, 1]");
        }

        public long Long() => element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out var value) && value >= 0 ? value : throw Problem("must be a whole number ≥ 0");

        public int Int() => element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out var value) ? value : throw Problem("must be a whole number");

        private string Join(string name) => path.Length == 0 ? name : $"{path}.{name}";
    }
}
