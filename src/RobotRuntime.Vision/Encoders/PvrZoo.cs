using System.Text.Json;
using RobotRuntime.Vision.Preprocessing;

namespace RobotRuntime.Vision.Encoders;

/// <summary>Which part of a model's output is the embedding.</summary>
public enum EmbeddingSelector
{
    /// <summary>The output is already [batch, D]: use it as is ("embedding").</summary>
    Embedding,
    /// <summary>Tokens [batch, T, D]: the first (CLS) token ("cls").</summary>
    Cls,
    /// <summary>Tokens [batch, T, D]: the CLS token followed by the register tokens, concatenated ("cls+registers").</summary>
    ClsAndRegisters,
    /// <summary>Tokens [batch, T, D]: the mean of the patch tokens, after CLS and registers ("mean-patch").</summary>
    MeanPatch,
    /// <summary>Any [batch, ...] output, e.g. an early feature map [batch, C, H, W], flattened ("flatten").</summary>
    Flatten,
}

/// <summary>One PVR of the zoo manifest.</summary>
public sealed record PvrModel
{
    /// <summary>The id used in configs and commands, e.g. "dinov2-vits14".</summary>
    public required string Id { get; init; }

    /// <summary>What it is, in a sentence.</summary>
    public required string Description { get; init; }

    /// <summary>The .onnx file, relative to the manifest's folder.</summary>
    public required string File { get; init; }

    /// <summary>The model's input name.</summary>
    public required string InputName { get; init; }

    /// <summary>Input size, colour order, fitting and normalisation.</summary>
    public required PreprocessSpec Preprocess { get; init; }

    /// <summary>The output that carries the embedding.</summary>
    public required string OutputName { get; init; }

    /// <summary>How the embedding is taken from that output.</summary>
    public required EmbeddingSelector Selector { get; init; }

    /// <summary>Register tokens after CLS (DINOv2 with registers: 4).</summary>
    public int Registers { get; init; }

    /// <summary>Floats per image the selector yields; checked against the model when it is loaded.</summary>
    public required int EmbeddingSize { get; init; }

    /// <summary>The weights' licence.</summary>
    public required string Licence { get; init; }

    /// <summary>Where the weights come from.</summary>
    public required string Source { get; init; }

    /// <summary>The command that produces <see cref="File"/>.</summary>
    public required string Export { get; init; }

    /// <summary>
    /// Where partial fine-tuning splits the model ("" when the zoo does not say): a node-name prefix
    /// such as "/layer2/" (the trainable part starts at the first node with it), or the name of the
    /// value the trainable part reads. Everything before runs frozen on ONNX Runtime.
    /// </summary>
    public string TrainableFrom { get; init; } = "";
}

/// <summary>
/// The PVR zoo: a JSON manifest (<c>models/pvr-zoo.json</c>) describing each supported
/// pre-trained visual representation. Loading validates every entry and rejects unknown keys,
/// so a typo is an error naming the model and the key.
/// </summary>
/// <remarks>Setup only.</remarks>
public sealed class PvrZoo
{
    private static readonly string[] ModelKeys = ["id", "description", "file", "input", "output", "embeddingSize", "licence", "source", "export", "trainableFrom"];
    private static readonly string[] InputKeys = ["name", "height", "width", "colorOrder", "resize", "scale", "mean", "std"];
    private static readonly string[] OutputKeys = ["name", "selector", "registers"];
    private static readonly Dictionary<string, EmbeddingSelector> Selectors = new(StringComparer.Ordinal)
    {
        ["embedding"] = EmbeddingSelector.Embedding,
        ["cls"] = EmbeddingSelector.Cls,
        ["cls+registers"] = EmbeddingSelector.ClsAndRegisters,
        ["mean-patch"] = EmbeddingSelector.MeanPatch,
        ["flatten"] = EmbeddingSelector.Flatten,
    };

    private readonly Dictionary<string, PvrModel> _models;

    private PvrZoo(string manifestPath, List<PvrModel> models)
    {
        ManifestPath = manifestPath;
        Models = models;
        _models = models.ToDictionary(m => m.Id, StringComparer.Ordinal);
    }

    /// <summary>The manifest file.</summary>
    public string ManifestPath { get; }

    /// <summary>Every model, in manifest order.</summary>
    public IReadOnlyList<PvrModel> Models { get; }

    /// <summary>The manifest shipped with the repository, <c>models/pvr-zoo.json</c>.</summary>
    public static string DefaultManifestPath() =>
        Path.Combine(Native.NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory) ?? AppContext.BaseDirectory, "models", "pvr-zoo.json");

    /// <summary>The manifests shipped with the repository, in the order they are searched: <c>models/pvr-zoo.json</c> (public PVRs), <c>models/pretrained/zoo.json</c> (the project's own).</summary>
    public static IReadOnlyList<string> ShippedManifestPaths()
    {
        var models = Path.GetDirectoryName(DefaultManifestPath())!;
        return [Path.Combine(models, "pvr-zoo.json"), Path.Combine(models, "pretrained", "zoo.json")];
    }

    /// <summary>
    /// The first shipped manifest (<see cref="ShippedManifestPaths"/>) that has <paramref name="id"/>; the
    /// default one when none has (its <see cref="Get(string)"/> then names what it has).
    /// </summary>
    public static PvrZoo LoadShippedContaining(string id)
    {
        foreach (var path in ShippedManifestPaths())
        {
            if (!File.Exists(path))
                continue;
            var zoo = Load(path);
            if (zoo.Models.Any(m => m.Id == id))
                return zoo;
        }
        return Load(DefaultManifestPath());
    }

    /// <summary>Loads and validates a manifest.</summary>
    /// <exception cref="FileNotFoundException">No manifest at <paramref name="manifestPath"/>.</exception>
    /// <exception cref="InvalidDataException">The manifest is malformed; the message names the model and key.</exception>
    public static PvrZoo Load(string manifestPath)
    {
        var full = Path.GetFullPath(manifestPath);
        if (!System.IO.File.Exists(full))
            throw new FileNotFoundException($"PVR zoo manifest not found: {full}", full);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(System.IO.File.ReadAllText(full), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{full} is not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            var root = document.RootElement;
            Expect(root.ValueKind == JsonValueKind.Object, full, "the top level must be an object with \"version\" and \"models\"");
            Expect(root.TryGetProperty("version", out var version) && version.ValueKind == JsonValueKind.Number && version.GetInt32() == 1,
                full, "\"version\" must be 1");
            Expect(root.TryGetProperty("models", out var list) && list.ValueKind == JsonValueKind.Array, full, "\"models\" must be an array");
            var models = new List<PvrModel>();
            var index = 0;
            foreach (var entry in list.EnumerateArray())
            {
                var model = ReadModel(full, index++, entry);
                if (models.Any(m => m.Id == model.Id))
                    throw new InvalidDataException($"{full}: model id '{model.Id}' appears twice.");
                models.Add(model);
            }
            return new PvrZoo(full, models);
        }
    }

    /// <summary>The model with id <paramref name="id"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such id; the message lists the known ones.</exception>
    public PvrModel Get(string id) =>
        _models.TryGetValue(id, out var model)
            ? model
            : throw new KeyNotFoundException($"unknown PVR '{id}'; the zoo ({ManifestPath}) has: {string.Join(", ", _models.Keys)}.");

    /// <summary>
    /// The full path of <paramref name="model"/>'s file.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file is not there; the message gives the export command.</exception>
    public string ResolveFile(PvrModel model)
    {
        var path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(ManifestPath)!, model.File));
        if (!System.IO.File.Exists(path))
            throw new FileNotFoundException(
                $"PVR '{model.Id}' needs {path}, which is not there. Its weights ({model.Source}; licence: {model.Licence}) " +
                $"are exported by `{model.Export}` on a machine that can download them (see models/export/README.md); copy the .onnx file to that path.",
                path);
        return path;
    }

    private static PvrModel ReadModel(string file, int index, JsonElement entry)
    {
        var where = $"{file}: models[{index}]";
        Expect(entry.ValueKind == JsonValueKind.Object, where, "each model must be an object");
        var id = String(entry, "id", where);
        where = $"{file}: model '{id}'";
        RejectUnknown(entry, ModelKeys, where);
        var input = Object(entry, "input", where);
        RejectUnknown(input, InputKeys, where + " input");
        var output = Object(entry, "output", where);
        RejectUnknown(output, OutputKeys, where + " output");

        var selectorText = String(output, "selector", where + " output");
        if (!Selectors.TryGetValue(selectorText, out var selector))
            throw new InvalidDataException($"{where}: unknown output selector '{selectorText}'; known selectors: {string.Join(", ", Selectors.Keys)}.");
        var registers = output.TryGetProperty("registers", out var r) ? r.GetInt32() : 0;
        Expect(registers >= 0, where, "output registers must be 0 or more");

        var spec = new PreprocessSpec
        {
            Height = Int(input, "height", where + " input"),
            Width = Int(input, "width", where + " input"),
            ColorOrder = String(input, "colorOrder", where + " input") switch
            {
                "RGB" => ColorOrder.Rgb,
                "BGR" => ColorOrder.Bgr,
                var other => throw new InvalidDataException($"{where} input: colorOrder must be \"RGB\" or \"BGR\", got \"{other}\"."),
            },
            Resize = String(input, "resize", where + " input") switch
            {
                "center-crop" => ResizeMode.CenterCrop,
                "stretch" => ResizeMode.Stretch,
                var other => throw new InvalidDataException($"{where} input: resize must be \"center-crop\" or \"stretch\", got \"{other}\"."),
            },
            Scale = (float)Number(input, "scale", where + " input"),
            Mean = Floats(input, "mean", where + " input"),
            Std = Floats(input, "std", where + " input"),
        };
        try
        {
            spec.Validate(where);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(e.Message, e);
        }

        return new PvrModel
        {
            Id = id,
            Description = String(entry, "description", where),
            File = String(entry, "file", where),
            InputName = String(input, "name", where + " input"),
            Preprocess = spec,
            OutputName = String(output, "name", where + " output"),
            Selector = selector,
            Registers = registers,
            EmbeddingSize = Int(entry, "embeddingSize", where),
            Licence = String(entry, "licence", where),
            Source = String(entry, "source", where),
            Export = String(entry, "export", where),
            TrainableFrom = entry.TryGetProperty("trainableFrom", out var trainableFrom)
                ? trainableFrom.ValueKind == JsonValueKind.String && trainableFrom.GetString()!.Length > 0
                    ? trainableFrom.GetString()!
                    : throw new InvalidDataException($"{where}: trainableFrom must be a non-empty string (a node-name prefix such as \"/layer2/\" or a value name).")
                : "",
        };
    }

    private static void Expect(bool condition, string where, string what)
    {
        if (!condition)
            throw new InvalidDataException($"{where}: {what}.");
    }

    private static void RejectUnknown(JsonElement element, string[] known, string where)
    {
        foreach (var property in element.EnumerateObject())
            if (!known.Contains(property.Name))
                throw new InvalidDataException($"{where}: unknown key '{property.Name}'; expected one of {string.Join(", ", known)}.");
    }

    private static JsonElement Get(JsonElement element, string key, string where, JsonValueKind kind, string expected)
    {
        if (!element.TryGetProperty(key, out var value))
            throw new InvalidDataException($"{where}: missing '{key}' ({expected}).");
        if (value.ValueKind != kind)
            throw new InvalidDataException($"{where}: '{key}' must be {expected}, got {value.ValueKind.ToString().ToLowerInvariant()} {value.GetRawText()}.");
        return value;
    }

    private static string String(JsonElement e, string key, string where)
    {
        var text = Get(e, key, where, JsonValueKind.String, "a string").GetString()!;
        return text.Length > 0 ? text : throw new InvalidDataException($"{where}: '{key}' must not be empty.");
    }

    private static JsonElement Object(JsonElement e, string key, string where) => Get(e, key, where, JsonValueKind.Object, "an object");

    private static double Number(JsonElement e, string key, string where) => Get(e, key, where, JsonValueKind.Number, "a number").GetDouble();

    private static int Int(JsonElement e, string key, string where)
    {
        var value = Get(e, key, where, JsonValueKind.Number, "a positive integer");
        return value.TryGetInt32(out var n) && n > 0 ? n : throw new InvalidDataException($"{where}: '{key}' must be a positive integer, got {value.GetRawText()}.");
    }

    private static float[] Floats(JsonElement e, string key, string where) =>
        Get(e, key, where, JsonValueKind.Array, "an array of 3 numbers").EnumerateArray().Select(v =>
            v.ValueKind == JsonValueKind.Number ? (float)v.GetDouble() : throw new InvalidDataException($"{where}: '{key}' must hold numbers, got {v.GetRawText()}.")).ToArray();
}
