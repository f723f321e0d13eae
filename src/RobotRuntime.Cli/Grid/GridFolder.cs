using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RobotRuntime.Agents.Packaging;

namespace RobotRuntime.Cli.Grid;

/// <summary>JSON helpers of the grid folder: canonical hashes, crash-safe writes, flattening for diffs.</summary>
public static class GridJson
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>SHA-256 (hex) of <paramref name="node"/>'s compact JSON (keys in the order written, which this code fixes).</summary>
    public static string Hash(JsonNode node) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(node.ToJsonString())));

    /// <summary>Writes <paramref name="node"/> indented to <paramref name="path"/> so a kill at any point leaves the old file or the new one: a temporary file, flushed to disk, then renamed over.</summary>
    public static void WriteAtomically(string path, JsonNode node) => WriteAtomically(path, node.ToJsonString(Indented) + "\n");

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> through a flushed temporary file and a rename.</summary>
    public static void WriteAtomically(string path, string text)
    {
        string temporary = $"{path}.{Environment.ProcessId}.tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encoding.UTF8.GetBytes(text));
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads a JSON object file; the message names the file when it is missing or malformed.</summary>
    /// <exception cref="InvalidDataException">Missing, not JSON, or not an object.</exception>
    public static JsonObject Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{path} does not exist");
        }
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not valid JSON: {e.Message}");
        }
    }

    /// <summary>Every leaf of <paramref name="node"/> as path → compact JSON value ("train.steps" → "20000"; arrays of scalars stay whole).</summary>
    public static Dictionary<string, string> Flatten(JsonNode? node, string prefix = "")
    {
        var leaves = new Dictionary<string, string>(StringComparer.Ordinal);
        Walk(node, prefix, leaves);
        return leaves;

        static void Walk(JsonNode? node, string path, Dictionary<string, string> leaves)
        {
            switch (node)
            {
                case JsonObject obj:
                    foreach (var (key, value) in obj)
                    {
                        Walk(value, path.Length == 0 ? key : $"{path}.{key}", leaves);
                    }
                    break;
                case JsonArray array when array.Any(item => item is JsonObject or JsonArray):
                    for (int i = 0; i < array.Count; i++)
                    {
                        string label = array[i] is JsonObject { } item && item["id"] is JsonValue id ? id.ToString() : i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                        Walk(array[i], $"{path}[{label}]", leaves);
                    }
                    break;
                default:
                    leaves[path] = node?.ToJsonString() ?? "null";
                    break;
            }
        }
    }

    /// <summary>"key: a → b" for every leaf that differs ("(none)" for a side that lacks it), in key order.</summary>
    public static List<string> Differences(Dictionary<string, string> before, Dictionary<string, string> after) =>
        before.Keys.Union(after.Keys).Order(StringComparer.Ordinal)
            .Where(k => !before.TryGetValue(k, out var a) || !after.TryGetValue(k, out var b) || a != b)
            .Select(k => $"{k}: {before.GetValueOrDefault(k, "(none)")} → {after.GetValueOrDefault(k, "(none)")}")
            .ToList();
}

/// <summary>Where things are in a grid folder.</summary>
public static class GridFolder
{
    /// <summary>The grid's record: grid.json.</summary>
    public static string Manifest(string grid) => Path.Combine(grid, "grid.json");

    /// <summary>A cell's folder: cells/&lt;id&gt;.</summary>
    public static string Cell(string grid, string id) => Path.Combine(grid, "cells", id);

    /// <summary>A PVR's zoo manifest copied into the grid, relative to the grid folder.</summary>
    public static string EncoderManifest(string id) => $"encoders/{id}/zoo.json";

    /// <summary>
    /// Copies each PVR of <paramref name="spec"/> into the grid folder (encoders/&lt;id&gt;/: its ONNX file and
    /// a zoo manifest listing only it), so the grid holds everything its cells read and runs the same on
    /// another machine that mounts it (a cluster's shared volume). A copy already there with the same
    /// SHA-256 is kept.
    /// </summary>
    public static void CopyEncoders(string grid, GridSpec spec)
    {
        foreach (var encoder in spec.Encoders.Where(e => !e.IsScratch))
        {
            string folder = Path.Combine(grid, "encoders", encoder.Id);
            Directory.CreateDirectory(folder);
            string fileName = Path.GetFileName(encoder.File!);
            string target = Path.Combine(folder, fileName);
            if (!File.Exists(target) || AgentPackage.Sha256(target) != encoder.Sha256)
            {
                string temporary = $"{target}.{Environment.ProcessId}.tmp";
                File.Copy(encoder.File!, temporary, overwrite: true);
                using (var stream = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite))
                {
                    stream.Flush(flushToDisk: true);
                }
                File.Move(temporary, target, overwrite: true);
            }
            // The entry as its own manifest had it, pointing at the copy.
            var source = JsonNode.Parse(File.ReadAllText(encoder.Zoo!), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!;
            var entry = source["models"]!.AsArray().First(m => m!["id"]!.GetValue<string>() == encoder.Id)!.DeepClone().AsObject();
            entry["file"] = fileName;
            GridJson.WriteAtomically(Path.Combine(folder, "zoo.json"), new JsonObject { ["version"] = 1, ["models"] = new JsonArray(entry) });
        }
    }
}
