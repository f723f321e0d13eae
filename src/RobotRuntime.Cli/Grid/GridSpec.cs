using System.Globalization;
using System.Text.Json.Nodes;
using RobotRuntime.Agents;
using RobotRuntime.Agents.Encoders;
using RobotRuntime.Agents.Packaging;
using RobotRuntime.Agents.Planning;
using RobotRuntime.Agents.Training;
using RobotRuntime.Cli.AgentCommands;
using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;
using RobotRuntime.Vision.Encoders;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RobotRuntime.Cli.Grid;

/// <summary>A grid spec that cannot be used; the message starts with "file:line:" where a line is known.</summary>
public sealed class GridSpecException(string message) : Exception(message);

/// <summary>One encoder of a grid: "scratch", or a PVR zoo entry.</summary>
/// <param name="Id">"scratch" or the zoo id.</param>
/// <param name="Zoo">The zoo manifest it came from (full path; null for scratch).</param>
/// <param name="Objective">What it was pre-trained with (the spec's <c>objective</c>; "none" for scratch, "unspecified" when not given), for the report.</param>
/// <param name="TrainableFrom">Where partial mode splits it: the spec's <c>trainable_from</c>, else the zoo entry's (empty: partial is not applicable).</param>
/// <param name="Sha256">SHA-256 of the PVR's ONNX file (empty for scratch).</param>
/// <param name="Model">The zoo entry (null for scratch).</param>
/// <param name="File">The PVR's ONNX file (null for scratch).</param>
/// <param name="Line">Line of the spec that names it (for messages).</param>
public sealed record GridEncoder(string Id, string? Zoo, string Objective, string TrainableFrom, string Sha256, PvrModel? Model, string? File, int Line)
{
    /// <summary>Whether this is the CNN learned from scratch.</summary>
    public bool IsScratch => Id == "scratch";
}

/// <summary>One cell of a grid: a training run and its evaluation.</summary>
/// <param name="Index">Position in the grid's cell order (0-based; the per-cell command's index).</param>
/// <param name="Id"><c>task-encoder-mode-trainshifts-sSEED</c>, the cell's folder name.</param>
/// <param name="Encoder">Encoder id.</param>
/// <param name="Mode">scratch, frozen, partial or full.</param>
/// <param name="Task">Task name.</param>
/// <param name="TrainShifts">"none" or the families randomised in training joined with '+'.</param>
/// <param name="Seed">Run seed.</param>
/// <param name="Objective">The encoder's pre-training objective tag.</param>
/// <param name="Settings">Everything that decides the cell's results (the normalised JSON in cell.json).</param>
/// <param name="SettingsHash">SHA-256 of <paramref name="Settings"/>' canonical JSON.</param>
public sealed record GridCell(int Index, string Id, string Encoder, string Mode, string Task, string TrainShifts, int Seed, string Objective, JsonObject Settings, string SettingsHash)
{
    /// <summary>The training-time shift families (empty for "none").</summary>
    public string[] TrainShiftFamilies => TrainShifts == "none" ? [] : TrainShifts.Split('+');
}

/// <summary>An encoder × mode combination the grid leaves out, and why (it holds for every task, shift setting and seed).</summary>
/// <param name="Encoder">Encoder id.</param>
/// <param name="Mode">Mode.</param>
/// <param name="Reason">Why it does not apply.</param>
public sealed record GridSkipped(string Encoder, string Mode, string Reason);

/// <summary>
/// An <c>rr grid</c> spec: encoders × modes × tasks × training-time shifts × seeds, and how every
/// cell trains and is evaluated. Read from YAML; every key is checked, unknown ones refused with
/// file:line. <see cref="Normalised"/> is the spec as run (the agent config resolved, presets listed,
/// PVR files identified by SHA-256), which grid.json keeps and later runs compare against.
/// </summary>
public sealed class GridSpec
{
    /// <summary>The modes in order.</summary>
    public static readonly string[] ModeNames = ["scratch", "frozen", "partial", "full"];

    private static readonly Dictionary<string, string[]> Schema = new()
    {
        [""] = ["name", "arm", "encoders", "modes", "tasks", "train_shifts", "seeds", "train", "eval"],
        ["encoders[]"] = ["id", "zoo", "objective", "trainable_from"],
        ["train"] = ["steps", "size", "config", "seed_steps", "pretrain_updates", "updates_per_step", "batch_size", "eval_every", "eval_episodes", "checkpoint_every", "act", "plan_samples", "plan_iterations", "threads"],
        ["eval"] = ["episodes", "presets", "planner", "plan_samples", "plan_iterations", "first_seed"],
    };

    private GridSpec() { }

    /// <summary>Grid name (default: the spec file's name).</summary>
    public string Name { get; private set; } = "";

    /// <summary>The simulated arm.</summary>
    public string Arm { get; private set; } = "toy4";

    /// <summary>Encoders in spec order.</summary>
    public List<GridEncoder> Encoders { get; } = [];

    /// <summary>Modes in spec order.</summary>
    public List<string> Modes { get; } = [];

    /// <summary>Tasks in spec order.</summary>
    public List<string> Tasks { get; } = [];

    /// <summary>Training-time shift settings in spec order: "none" or families joined with '+' (in the presets' family order).</summary>
    public List<string> TrainShifts { get; } = [];

    /// <summary>Seeds in spec order.</summary>
    public List<int> Seeds { get; } = [];

    /// <summary>The agent config every cell starts from (mode and encoder set per cell).</summary>
    public AgentConfig Agent { get; private set; } = AgentConfig.Preset("rt-small");

    /// <summary>Training settings: steps, evaluation and checkpoint periods, planner, threads…</summary>
    public GridTrainSettings Train { get; private set; } = new();

    /// <summary>Final evaluation settings.</summary>
    public GridEvalSettings Eval { get; private set; } = new();

    /// <summary>Reads a spec file.</summary>
    /// <exception cref="GridSpecException">The file is missing, not YAML, or a key is unknown or out of range; the message names file:line.</exception>
    public static GridSpec Load(string path)
    {
        if (!System.IO.File.Exists(path))
        {
            throw new GridSpecException($"grid spec '{path}' does not exist");
        }
        try
        {
            return Parse(System.IO.File.ReadAllText(path), path, Path.GetFileNameWithoutExtension(path));
        }
        catch (YamlException error)
        {
            throw new GridSpecException($"{path}:{error.Start.Line}: not valid YAML: {error.InnerException?.Message ?? error.Message}");
        }
    }

    /// <summary>Parses spec text; <paramref name="source"/> names it in messages, relative paths are taken from the current directory.</summary>
    /// <exception cref="GridSpecException">A key is unknown, missing or out of range; the message names source:line.</exception>
    public static GridSpec Parse(string yaml, string source, string defaultName = "grid")
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new GridSpecException($"{source}: a grid spec is a mapping of keys ({string.Join(", ", Schema[""])})");
        }
        var spec = new GridSpec { Name = defaultName };
        var seen = new Dictionary<string, YamlNode>();
        foreach (var (keyNode, value) in root.Children)
        {
            string key = Key(keyNode);
            if (!Schema[""].Contains(key))
            {
                throw new GridSpecException($"{source}:{keyNode.Start.Line}: unknown key '{key}'; expected one of {string.Join(", ", Schema[""])}");
            }
            seen[key] = value;
        }
        foreach (var required in new[] { "encoders", "modes", "tasks", "seeds" })
        {
            if (!seen.ContainsKey(required))
            {
                throw new GridSpecException($"{source}: missing '{required}' (a list)");
            }
        }
        if (seen.TryGetValue("name", out var name))
        {
            spec.Name = Text(source, "name", name);
            if (spec.Name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            {
                throw new GridSpecException($"{source}:{name.Start.Line}: 'name' may hold letters, digits, '-', '_' and '.' only (it names the cluster job), got '{spec.Name}'");
            }
        }
        if (seen.TryGetValue("arm", out var arm))
        {
            spec.Arm = OneOf(source, "arm", arm, SimArm.Names);
        }
        foreach (var item in List(source, "modes", seen["modes"]))
        {
            Add(spec.Modes, OneOf(source, "modes", item, ModeNames), source, "modes", item);
        }
        foreach (var item in List(source, "tasks", seen["tasks"]))
        {
            Add(spec.Tasks, OneOf(source, "tasks", item, TabletopTask.Names), source, "tasks", item);
        }
        foreach (var item in List(source, "seeds", seen["seeds"]))
        {
            int seed = Integer(source, "seeds", item, 0, int.MaxValue / 100_003);
            Add(spec.Seeds, seed, source, "seeds", item);
        }
        if (seen.TryGetValue("train_shifts", out var shifts))
        {
            foreach (var item in List(source, "train_shifts", shifts))
            {
                Add(spec.TrainShifts, ShiftSetting(source, item), source, "train_shifts", item);
            }
        }
        else
        {
            spec.TrainShifts.Add("none");
        }
        spec.ReadTrain(source, seen.GetValueOrDefault("train"));
        spec.ReadEval(source, seen.GetValueOrDefault("eval"));
        foreach (var item in List(source, "encoders", seen["encoders"]))
        {
            var encoder = ReadEncoder(source, item);
            if (spec.Encoders.Any(e => e.Id == encoder.Id))
            {
                throw new GridSpecException($"{source}:{item.Start.Line}: encoder '{encoder.Id}' is listed twice");
            }
            spec.Encoders.Add(encoder);
        }
        return spec;
    }

    private void ReadTrain(string source, YamlNode? node)
    {
        var train = new GridTrainSettings();
        string? size = null, config = null;
        int sizeLine = 0;
        if (node is not null)
        {
            foreach (var (keyNode, value) in Mapping(source, "train", node).Children)
            {
                string key = Key(keyNode);
                string where = "train." + key;
                train = key switch
                {
                    "steps" => train with { Steps = Long(source, where, value, 1) },
                    "size" => train,
                    "config" => train,
                    "seed_steps" => train with { SeedSteps = Integer(source, where, value, 0, int.MaxValue) },
                    "pretrain_updates" => train with { PretrainUpdates = Integer(source, where, value, -1, int.MaxValue) },
                    "updates_per_step" => train with { UpdatesPerStep = Number(source, where, value, 0) },
                    "batch_size" => train with { BatchSize = Integer(source, where, value, 0, 1 << 20) },
                    "eval_every" => train with { EvalEvery = Long(source, where, value, 1) },
                    "eval_episodes" => train with { EvalEpisodes = Integer(source, where, value, 1, 100_000) },
                    "checkpoint_every" => train with { CheckpointEvery = Long(source, where, value, 1) },
                    "act" => train with { Act = OneOf(source, where, value, ["mppi", "prior"]) },
                    "plan_samples" => train with { PlanSamples = Integer(source, where, value, 0, 1 << 20) },
                    "plan_iterations" => train with { PlanIterations = Integer(source, where, value, 0, 1000) },
                    "threads" => train with { Threads = Integer(source, where, value, 1, 1024) },
                    _ => throw new GridSpecException($"{source}:{keyNode.Start.Line}: unknown key '{where}'; expected one of {string.Join(", ", Schema["train"])}"),
                };
                if (key == "size")
                {
                    size = OneOf(source, where, value, AgentConfig.PresetNames);
                    sizeLine = (int)value.Start.Line;
                }
                else if (key == "config")
                {
                    config = Text(source, where, value);
                    if (!System.IO.File.Exists(config))
                    {
                        throw new GridSpecException($"{source}:{value.Start.Line}: 'train.config': agent config '{config}' does not exist");
                    }
                }
            }
        }
        if (size is not null && config is not null)
        {
            throw new GridSpecException($"{source}:{sizeLine}: give 'train.size' (a preset) or 'train.config' (an agent config JSON, whose own \"size\" picks the preset), not both");
        }
        try
        {
            Agent = config is not null ? AgentConfig.FromJson(System.IO.File.ReadAllText(config), config) : AgentConfig.Preset(size ?? "rt-small");
            if (train.BatchSize > 0)
            {
                Agent = Agent with { BatchSize = train.BatchSize };
            }
            Agent.Validate();
        }
        catch (ArgumentException e)
        {
            throw new GridSpecException($"{source}: train: {e.Message}");
        }
        Train = train;
    }

    private void ReadEval(string source, YamlNode? node)
    {
        var eval = new GridEvalSettings { PlanSamples = Train.PlanSamples, PlanIterations = Train.PlanIterations };
        if (node is not null)
        {
            foreach (var (keyNode, value) in Mapping(source, "eval", node).Children)
            {
                string key = Key(keyNode);
                string where = "eval." + key;
                eval = key switch
                {
                    "episodes" => eval with { Episodes = Integer(source, where, value, 1, 100_000) },
                    "presets" => eval with { Presets = Presets(source, value) },
                    "planner" => eval with { Planner = OneOf(source, where, value, Planners.Names) },
                    "plan_samples" => eval with { PlanSamples = Integer(source, where, value, 0, 1 << 20) },
                    "plan_iterations" => eval with { PlanIterations = Integer(source, where, value, 0, 1000) },
                    "first_seed" => eval with { FirstSeed = Integer(source, where, value, 0, int.MaxValue - 1_000_000) },
                    _ => throw new GridSpecException($"{source}:{keyNode.Start.Line}: unknown key '{where}'; expected one of {string.Join(", ", Schema["eval"])}"),
                };
            }
        }
        Eval = eval;
    }

    private static string[] Presets(string source, YamlNode node)
    {
        if (node is YamlScalarNode { Value: "all" })
        {
            return [.. VisualShifts.Names];
        }
        var names = new List<string>();
        foreach (var item in List(source, "eval.presets", node))
        {
            string text = Text(source, "eval.presets", item);
            string name;
            try
            {
                name = VisualShifts.Get(text).Name;
            }
            catch (ArgumentException)
            {
                throw new GridSpecException($"{source}:{item.Start.Line}: 'eval.presets': unknown preset '{text}'; expected all or a list of {string.Join(", ", VisualShifts.Names)}");
            }
            Add(names, name, source, "eval.presets", item);
        }
        // In distribution always, first; the rest in the simulator's preset order.
        return [VisualShifts.InDistribution, .. VisualShifts.Names.Where(n => n != VisualShifts.InDistribution && names.Contains(n))];
    }

    private static string ShiftSetting(string source, YamlNode item)
    {
        var families = new List<string>();
        IEnumerable<YamlNode> parts = item is YamlSequenceNode list ? list.Children : [item];
        foreach (var part in parts)
        {
            string text = Text(source, "train_shifts", part);
            if (text == "none" && item is YamlScalarNode)
            {
                return "none";
            }
            if (!VisualShifts.FamilyNames.Contains(text))
            {
                throw new GridSpecException($"{source}:{part.Start.Line}: 'train_shifts': '{text}' is not a shift family; an entry is none, a family or a list of families ({string.Join(", ", VisualShifts.FamilyNames)})");
            }
            Add(families, text, source, "train_shifts", part);
        }
        if (families.Count == 0)
        {
            throw new GridSpecException($"{source}:{item.Start.Line}: 'train_shifts': an empty list; write none for no training-time shifts");
        }
        return string.Join("+", VisualShifts.FamilyNames.Where(families.Contains));
    }

    private static GridEncoder ReadEncoder(string source, YamlNode item)
    {
        int line = (int)item.Start.Line;
        if (item is YamlScalarNode scalar)
        {
            return scalar.Value == "scratch"
                ? new GridEncoder("scratch", null, "none", "", "", null, null, line)
                : throw new GridSpecException($"{source}:{line}: encoder '{scalar.Value}': write scratch, or a zoo entry as {{id: {scalar.Value}, zoo: path/to/zoo.json}}");
        }
        var mapping = Mapping(source, "encoders[]", item);
        string? id = null, zoo = null, objective = null, trainableFrom = null;
        int zooLine = line;
        foreach (var (keyNode, value) in mapping.Children)
        {
            string key = Key(keyNode);
            switch (key)
            {
                case "id": id = Text(source, "encoders[].id", value); break;
                case "zoo": zoo = Text(source, "encoders[].zoo", value); zooLine = (int)value.Start.Line; break;
                case "objective": objective = Text(source, "encoders[].objective", value); break;
                case "trainable_from": trainableFrom = Text(source, "encoders[].trainable_from", value); break;
                default: throw new GridSpecException($"{source}:{keyNode.Start.Line}: unknown key 'encoders[].{key}'; expected one of {string.Join(", ", Schema["encoders[]"])}");
            }
        }
        if (id is null)
        {
            throw new GridSpecException($"{source}:{line}: an encoder entry needs 'id' (scratch or a zoo id)");
        }
        if (id.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            throw new GridSpecException($"{source}:{line}: encoder id '{id}' may hold letters, digits, '-', '_' and '.' only (it is part of cell folder names)");
        }
        if (id == "scratch")
        {
            if (zoo is not null || trainableFrom is not null)
            {
                throw new GridSpecException($"{source}:{line}: the scratch encoder has no zoo entry; give it as plain scratch");
            }
            return new GridEncoder("scratch", null, objective ?? "none", "", "", null, null, line);
        }
        if (zoo is null)
        {
            throw new GridSpecException($"{source}:{line}: encoder '{id}' needs 'zoo': the PVR zoo manifest that lists it");
        }
        PvrModel model;
        string file;
        string manifest;
        try
        {
            var loaded = PvrZoo.Load(zoo);
            manifest = loaded.ManifestPath;
            model = loaded.Get(id);
            file = loaded.ResolveFile(model);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or KeyNotFoundException)
        {
            throw new GridSpecException($"{source}:{zooLine}: encoder '{id}': {e.Message}");
        }
        return new GridEncoder(id, manifest, objective ?? "unspecified", trainableFrom ?? model.TrainableFrom, AgentPackage.Sha256(file), model, file, line);
    }

    /// <summary>
    /// Whether <paramref name="mode"/> applies to <paramref name="encoder"/>: null if so, else the reason.
    /// Scratch is the scratch encoder's only mode; partial needs a split (<c>trainableFrom</c>); full needs a
    /// PVR the engine can import and train at the agent's image size (checked by building its tail).
    /// </summary>
    public string? Inapplicable(GridEncoder encoder, string mode)
    {
        if (encoder.IsScratch)
        {
            return mode == "scratch" ? null : $"the scratch encoder is a CNN learned with the agent; there is no pre-trained encoder to run {mode}";
        }
        switch (mode)
        {
            case "scratch":
                return $"scratch mode learns its own CNN and would not use {encoder.Id}: that is the scratch encoder's cell";
            case "partial" when encoder.TrainableFrom.Length == 0:
                return $"zoo entry {encoder.Id} has no trainableFrom (where the frozen trunk ends and the trained tail starts); add trainable_from: to the encoder in the spec";
            case "full":
                try
                {
                    PvrTail.Create(encoder.Model!, encoder.File!, EncoderMode.Full, Agent.ImageSize);
                    return null;
                }
                catch (Exception e) when (e is ArgumentException or NotSupportedException or InvalidDataException)
                {
                    return $"the engine cannot train {encoder.Id} whole: {e.Message}";
                }
            default:
                return null;
        }
    }

    /// <summary>
    /// The cells in their fixed order — seed, then task, encoder, mode, training-time shifts, each in spec
    /// order (so the first cells of a grid cover every setting once) — and the combinations left out.
    /// </summary>
    public (List<GridCell> Cells, List<GridSkipped> Skipped) Cells()
    {
        var skipped = new List<GridSkipped>();
        var applicable = new List<(GridEncoder Encoder, string Mode)>();
        foreach (var encoder in Encoders)
        {
            foreach (var mode in Modes)
            {
                if (Inapplicable(encoder, mode) is { } reason)
                {
                    skipped.Add(new GridSkipped(encoder.Id, mode, reason));
                }
                else
                {
                    applicable.Add((encoder, mode));
                }
            }
        }
        var cells = new List<GridCell>();
        foreach (var seed in Seeds)
        {
            foreach (var task in Tasks)
            {
                foreach (var (encoder, mode) in applicable)
                {
                    foreach (var shifts in TrainShifts)
                    {
                        var settings = CellSettings(encoder, mode, task, shifts, seed);
                        cells.Add(new GridCell(cells.Count, $"{task}-{encoder.Id}-{mode}-{shifts}-s{seed}", encoder.Id, mode, task, shifts, seed,
                            encoder.Objective, settings, GridJson.Hash(settings)));
                    }
                }
            }
        }
        return (cells, skipped);
    }

    /// <summary>The agent config of a cell: the spec's, with the cell's mode, encoder and partial split.</summary>
    public AgentConfig AgentFor(GridEncoder encoder, string mode) => Agent with
    {
        Mode = Enum.Parse<EncoderMode>(mode, ignoreCase: true),
        Encoder = encoder.Id,
        TrainableFrom = mode == "partial" ? encoder.TrainableFrom : "",
    };

    private JsonObject CellSettings(GridEncoder encoder, string mode, string task, string shifts, int seed) => new()
    {
        ["task"] = task,
        ["arm"] = Arm,
        ["encoder"] = new JsonObject
        {
            ["id"] = encoder.Id,
            ["sha256"] = encoder.Sha256,
            ["trainable_from"] = mode == "partial" ? encoder.TrainableFrom : "",
        },
        ["mode"] = mode,
        ["train_shifts"] = shifts,
        ["seed"] = seed,
        ["agent"] = JsonNode.Parse(AgentFor(encoder, mode).ToJson()),
        ["train"] = Train.ToJson(),
        ["eval"] = Eval.ToJson(),
    };

    /// <summary>The spec as run: every default filled in, the agent config resolved, PVRs identified by file hash.</summary>
    public JsonObject Normalised()
    {
        var encoders = new JsonArray();
        foreach (var e in Encoders)
        {
            var entry = new JsonObject { ["id"] = e.Id, ["objective"] = e.Objective };
            if (!e.IsScratch)
            {
                entry["zoo"] = GridFolder.EncoderManifest(e.Id);
                entry["sha256"] = e.Sha256;
                entry["trainable_from"] = e.TrainableFrom;
            }
            encoders.Add(entry);
        }
        return new JsonObject
        {
            ["name"] = Name,
            ["arm"] = Arm,
            ["encoders"] = encoders,
            ["modes"] = new JsonArray([.. Modes.Select(m => JsonValue.Create(m))]),
            ["tasks"] = new JsonArray([.. Tasks.Select(t => JsonValue.Create(t))]),
            ["train_shifts"] = new JsonArray([.. TrainShifts.Select(t => JsonValue.Create(t))]),
            ["seeds"] = new JsonArray([.. Seeds.Select(s => JsonValue.Create(s))]),
            ["train"] = Train.ToJson(),
            ["agent"] = JsonNode.Parse(Agent.ToJson()),
            ["eval"] = Eval.ToJson(),
        };
    }

    private static void Add<T>(List<T> list, T value, string source, string where, YamlNode node)
    {
        if (list.Contains(value))
        {
            throw new GridSpecException($"{source}:{node.Start.Line}: '{where}' lists {value} twice");
        }
        list.Add(value);
    }

    private static string Key(YamlNode node) => node is YamlScalarNode { Value: { } text } ? text : node.ToString();

    private static YamlMappingNode Mapping(string source, string where, YamlNode node) =>
        node as YamlMappingNode ?? throw new GridSpecException($"{source}:{node.Start.Line}: '{where}' must be a mapping of keys ({string.Join(", ", Schema.GetValueOrDefault(where) ?? [])})");

    private static IEnumerable<YamlNode> List(string source, string where, YamlNode node) =>
        node is YamlSequenceNode { Children.Count: > 0 } list
            ? list.Children
            : throw new GridSpecException($"{source}:{node.Start.Line}: '{where}' must be a non-empty list, e.g. {where}: [a, b]");

    private static string Text(string source, string where, YamlNode node) =>
        node is YamlScalarNode { Value: { Length: > 0 } text } ? text : throw new GridSpecException($"{source}:{node.Start.Line}: '{where}' must be a non-empty text value");

    private static string OneOf(string source, string where, YamlNode node, IReadOnlyList<string> allowed)
    {
        string text = Text(source, where, node);
        return allowed.Contains(text) ? text : throw new GridSpecException($"{source}:{node.Start.Line}: '{where}': '{text}' is not one of {string.Join(", ", allowed)}");
    }

    private static int Integer(string source, string where, YamlNode node, int min, int max) =>
        node is YamlScalarNode { Value: { } text } && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max
            ? value
            : throw new GridSpecException($"{source}:{node.Start.Line}: '{where}' must be a whole number from {min} to {max}, got '{(node as YamlScalarNode)?.Value ?? node.ToString()}'");

    private static long Long(string source, string where, YamlNode node, long min) =>
        node is YamlScalarNode { Value: { } text } && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) && value >= min
            ? value
            : throw new GridSpecException($"{source}:{node.Start.Line}: '{where}' must be a whole number of at least {min}, got '{(node as YamlScalarNode)?.Value ?? node.ToString()}'");

    private static double Number(string source, string where, YamlNode node, double min) =>
        node is YamlScalarNode { Value: { } text } && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value) && value >= min
            ? value
            : throw new GridSpecException($"{source}:{node.Start.Line}: '{where}' must be a number of at least {min}, got '{(node as YamlScalarNode)?.Value ?? node.ToString()}'");
}

/// <summary>How every cell trains (<c>rr train</c>'s options of the same names).</summary>
public sealed record GridTrainSettings
{
    /// <summary>Environment steps.</summary>
    public long Steps { get; init; } = 20_000;

    /// <summary>Random-action steps before planning (0: TD-MPC2's default).</summary>
    public int SeedSteps { get; init; }

    /// <summary>Updates after the seed steps (−1: as many as seed steps).</summary>
    public int PretrainUpdates { get; init; } = -1;

    /// <summary>Updates per environment step.</summary>
    public double UpdatesPerStep { get; init; } = 1.0;

    /// <summary>Batch size (0: the agent config's).</summary>
    public int BatchSize { get; init; }

    /// <summary>Steps between evaluations during training.</summary>
    public long EvalEvery { get; init; } = 2000;

    /// <summary>Episodes per evaluation during training.</summary>
    public int EvalEpisodes { get; init; } = 10;

    /// <summary>Steps between checkpoints.</summary>
    public long CheckpointEvery { get; init; } = 2000;

    /// <summary>Acting while training: mppi or prior.</summary>
    public string Act { get; init; } = "mppi";

    /// <summary>MPPI samples while training (0: the config's).</summary>
    public int PlanSamples { get; init; }

    /// <summary>MPPI iterations while training (0: the config's).</summary>
    public int PlanIterations { get; init; }

    /// <summary>Engine threads per cell (1 is bit-reproducible).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>The trainer options of a cell.</summary>
    public TrainerOptions Options(string task, string arm, int seed, string[] trainShifts, long replayCapacity) => new TrainerOptions
    {
        Task = task,
        Arm = arm,
        Seed = seed,
        Steps = Steps,
        SeedSteps = SeedSteps,
        PretrainUpdates = PretrainUpdates,
        UpdatesPerStep = UpdatesPerStep,
        EvalEvery = EvalEvery,
        EvalEpisodes = EvalEpisodes,
        CheckpointEvery = CheckpointEvery,
        ReplayCapacity = replayCapacity,
        PlanWhileTraining = Act == "mppi",
        PlanSamples = PlanSamples,
        PlanIterations = PlanIterations,
        TrainShifts = trainShifts,
    }.Validate();

    /// <summary>As grid.json keeps it.</summary>
    public JsonObject ToJson() => new()
    {
        ["steps"] = Steps,
        ["seed_steps"] = SeedSteps,
        ["pretrain_updates"] = PretrainUpdates,
        ["updates_per_step"] = UpdatesPerStep,
        ["batch_size"] = BatchSize,
        ["eval_every"] = EvalEvery,
        ["eval_episodes"] = EvalEpisodes,
        ["checkpoint_every"] = CheckpointEvery,
        ["act"] = Act,
        ["plan_samples"] = PlanSamples,
        ["plan_iterations"] = PlanIterations,
        ["threads"] = Threads,
    };

    /// <summary>Reads <see cref="ToJson"/>'s form.</summary>
    public static GridTrainSettings FromJson(JsonObject json) => new()
    {
        Steps = json["steps"]!.GetValue<long>(),
        SeedSteps = json["seed_steps"]!.GetValue<int>(),
        PretrainUpdates = json["pretrain_updates"]!.GetValue<int>(),
        UpdatesPerStep = json["updates_per_step"]!.GetValue<double>(),
        BatchSize = json["batch_size"]!.GetValue<int>(),
        EvalEvery = json["eval_every"]!.GetValue<long>(),
        EvalEpisodes = json["eval_episodes"]!.GetValue<int>(),
        CheckpointEvery = json["checkpoint_every"]!.GetValue<long>(),
        Act = json["act"]!.GetValue<string>(),
        PlanSamples = json["plan_samples"]!.GetValue<int>(),
        PlanIterations = json["plan_iterations"]!.GetValue<int>(),
        Threads = json["threads"]!.GetValue<int>(),
    };
}

/// <summary>How every cell's final evaluation runs (<c>rr eval</c>'s options of the same names).</summary>
public sealed record GridEvalSettings
{
    /// <summary>Episodes per preset.</summary>
    public int Episodes { get; init; } = 30;

    /// <summary>Presets, in-distribution first.</summary>
    public string[] Presets { get; init; } = [.. VisualShifts.Names];

    /// <summary>Planner (mppi, prior).</summary>
    public string Planner { get; init; } = Planners.Mppi;

    /// <summary>MPPI samples (0: the config's; default: training's).</summary>
    public int PlanSamples { get; init; }

    /// <summary>MPPI iterations (0: the config's; default: training's).</summary>
    public int PlanIterations { get; init; }

    /// <summary>Seed of each preset's first episode (default: rr eval's).</summary>
    public int FirstSeed { get; init; } = Trainer.EvaluationSeedBase + 50_000;

    /// <summary>The sweep settings of a cell.</summary>
    internal EvaluationSweep.Settings Sweep(string task, string arm, AgentConfig config) => new()
    {
        Task = task,
        Arm = arm,
        Config = config,
        Presets = Presets,
        Episodes = Episodes,
        FirstSeed = FirstSeed,
        Planner = Planner,
        PlanSamples = PlanSamples,
        PlanIterations = PlanIterations,
    };

    /// <summary>As grid.json keeps it.</summary>
    public JsonObject ToJson() => new()
    {
        ["episodes"] = Episodes,
        ["presets"] = new JsonArray([.. Presets.Select(p => JsonValue.Create(p))]),
        ["planner"] = Planner,
        ["plan_samples"] = PlanSamples,
        ["plan_iterations"] = PlanIterations,
        ["first_seed"] = FirstSeed,
    };

    /// <summary>Reads <see cref="ToJson"/>'s form.</summary>
    public static GridEvalSettings FromJson(JsonObject json) => new()
    {
        Episodes = json["episodes"]!.GetValue<int>(),
        Presets = json["presets"]!.AsArray().Select(p => p!.GetValue<string>()).ToArray(),
        Planner = json["planner"]!.GetValue<string>(),
        PlanSamples = json["plan_samples"]!.GetValue<int>(),
        PlanIterations = json["plan_iterations"]!.GetValue<int>(),
        FirstSeed = json["first_seed"]!.GetValue<int>(),
    };
}
