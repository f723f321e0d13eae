using System.Globalization;
using System.Text;
using System.Text.Json;

namespace RobotRuntime.Kinematics;

// The chain's JSON file format: reading (Load, Parse) and writing (ToJson). Setup only.
public sealed partial class KinematicChain
{
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>
    /// Reads a chain from a JSON file (format: <see cref="Parse"/>).
    /// </summary>
    /// <param name="path">The file; error messages name it as given.</param>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is malformed; the message names the file, the JSON path and what was expected.</exception>
    /// <remarks>Setup only.</remarks>
    public static KinematicChain Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Kinematic chain file not found: {path}", path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>
    /// Reads a chain from JSON text, in one of two forms (lengths in m, angles in rad; comments and
    /// trailing commas allowed; "base", "tool", "xyz" and "rpy" may be left out for identity/zero):
    /// <code>
    /// {"name": "arm", "base": {"xyz": [0, 0, 0], "rpy": [0, 0, 0]},
    ///  "joints": [{"name": "j1", "type": "revolute", "xyz": [0, 0, 0.1], "rpy": [0, 0, 0], "axis": [0, 0, 1], "min": -3.14, "max": 3.14}],
    ///  "tool": {"xyz": [0, 0, 0.1], "rpy": [0, 0, 0]}}
    /// </code>
    /// where each joint's xyz/rpy is its origin in the previous link's frame (URDF's
    /// <c>&lt;origin&gt;</c>, rpy as in <see cref="Pose.FromXyzRpy"/>) and "type" is "revolute" or
    /// "prismatic"; or a Denavit–Hartenberg table (see <see cref="FromDenavitHartenberg"/>):
    /// <code>
    /// {"name": "arm", "dh": {"d": [..], "a": [..], "alpha": [..]}, "jointNames": [..], "min": [..], "max": [..], "base": {..}, "tool": {..}}
    /// </code>
    /// </summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="source">What the text came from (a file path), put at the start of every error message.</param>
    /// <exception cref="InvalidDataException">
    /// Malformed input. The message names the source, the JSON path and what was expected, e.g.
    /// "arm.json: joints[2].axis: expected 3 numbers, got 2".
    /// </exception>
    /// <remarks>Setup only.</remarks>
    public static KinematicChain Parse(string json, string source)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(source);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            var reader = new ChainJsonReader(source);
            try
            {
                return reader.ReadChain(document.RootElement);
            }
            catch (ArgumentException e)
            {
                // The chain's own checks (a zero axis, a non-orthonormal pose...) name the joint already;
                // the parameter name ArgumentException appends means nothing to the file's author.
                var message = e.ParamName is { } parameter ? e.Message.Replace($" (Parameter '{parameter}')", "") : e.Message;
                throw new InvalidDataException($"{source}: {message}", e);
            }
        }
    }

    /// <summary>
    /// This chain as JSON that <see cref="Parse"/> reads back into the same chain: the DH form for a
    /// chain made by <see cref="FromDenavitHartenberg"/> (or a DH file), the joint list otherwise.
    /// Numbers are written in their shortest round-trip form; rotations as roll, pitch, yaw.
    /// </summary>
    /// <remarks>Setup only.</remarks>
    public string ToJson()
    {
        var json = new StringBuilder();
        json.Append("{\n  \"name\": ").Append(Quoted(Name)).Append(",\n");
        json.Append("  \"base\": ");
        AppendPose(json, _baseFrame);
        json.Append(",\n");
        if (_denavitHartenberg is { } table)
        {
            json.Append("  \"dh\": {\n");
            json.Append("    \"d\": ");
            AppendNumbers(json, table.D);
            json.Append(",\n    \"a\": ");
            AppendNumbers(json, table.A);
            json.Append(",\n    \"alpha\": ");
            AppendNumbers(json, table.Alpha);
            json.Append("\n  },\n  \"jointNames\": [");
            for (var i = 0; i < _joints.Length; i++)
                json.Append(i == 0 ? "" : ", ").Append(Quoted(_joints[i].Name));
            json.Append("],\n  \"min\": ");
            AppendNumbers(json, _positionMin);
            json.Append(",\n  \"max\": ");
            AppendNumbers(json, _positionMax);
            json.Append(",\n  \"tool\": ");
            AppendPose(json, table.FlangeTool);
        }
        else
        {
            json.Append("  \"joints\": [\n");
            for (var i = 0; i < _joints.Length; i++)
            {
                var joint = _joints[i];
                var origin = joint.Origin;
                origin.ToRpy(out var roll, out var pitch, out var yaw);
                json.Append("    {\"name\": ").Append(Quoted(joint.Name))
                    .Append(", \"type\": ").Append(joint.Type == JointType.Prismatic ? "\"prismatic\"" : "\"revolute\"")
                    .Append(", \"xyz\": ");
                AppendNumbers(json, [origin.X, origin.Y, origin.Z]);
                json.Append(", \"rpy\": ");
                AppendNumbers(json, [roll, pitch, yaw]);
                json.Append(", \"axis\": ");
                AppendNumbers(json, [joint.AxisX, joint.AxisY, joint.AxisZ]);
                json.Append(", \"min\": ").Append(Number(joint.PositionMin))
                    .Append(", \"max\": ").Append(Number(joint.PositionMax))
                    .Append(i + 1 < _joints.Length ? "},\n" : "}\n");
            }
            json.Append("  ],\n  \"tool\": ");
            AppendPose(json, _tool);
        }
        json.Append("\n}\n");
        return json.ToString();
    }

    private static string Quoted(string text) => "\"" + JsonEncodedText.Encode(text).ToString() + "\"";

    // + 0.0 writes −0 (atan2 of a −0 entry) as 0.
    private static string Number(double value) => (value + 0.0).ToString("R", CultureInfo.InvariantCulture);

    private static void AppendNumbers(StringBuilder json, ReadOnlySpan<double> values)
    {
        json.Append('[');
        for (var i = 0; i < values.Length; i++)
            json.Append(i == 0 ? "" : ", ").Append(Number(values[i]));
        json.Append(']');
    }

    private static void AppendPose(StringBuilder json, in Pose pose)
    {
        pose.ToRpy(out var roll, out var pitch, out var yaw);
        json.Append("{\"xyz\": ");
        AppendNumbers(json, [pose.X, pose.Y, pose.Z]);
        json.Append(", \"rpy\": ");
        AppendNumbers(json, [roll, pitch, yaw]);
        json.Append('}');
    }

    /// <summary>Walks a parsed chain document, naming the source and the JSON path in every error.</summary>
    private sealed class ChainJsonReader(string source)
    {
        private static readonly string[] RootKeys = ["name", "base", "joints", "tool", "dh", "jointNames", "min", "max"];
        private static readonly string[] PoseKeys = ["xyz", "rpy"];
        private static readonly string[] JointKeys = ["name", "type", "xyz", "rpy", "axis", "min", "max"];
        private static readonly string[] DenavitHartenbergKeys = ["d", "a", "alpha"];

        public KinematicChain ReadChain(JsonElement root)
        {
            ExpectObject(root, "$", RootKeys);
            var name = ReadString(Required(root, "name", "$"), "name");
            var baseFrame = OptionalPose(root, "base");
            var tool = OptionalPose(root, "tool");
            var hasJoints = root.TryGetProperty("joints", out var joints);
            var hasTable = root.TryGetProperty("dh", out var table);
            if (hasJoints && hasTable)
                throw Error("$", "expected either \"joints\" or \"dh\", got both");
            if (hasTable)
                return ReadDenavitHartenberg(root, table, name, baseFrame, tool);
            if (!hasJoints)
                throw Error("$", "expected \"joints\" (a list of joints) or \"dh\" (a Denavit–Hartenberg table)");
            foreach (var key in (ReadOnlySpan<string>)["jointNames", "min", "max"])
            {
                if (root.TryGetProperty(key, out _))
                    throw Error(key, "belongs to the \"dh\" form; a \"joints\" entry carries its own name, min and max");
            }
            return new KinematicChain(name, baseFrame, ReadJoints(joints), tool);
        }

        private List<KinematicJoint> ReadJoints(JsonElement joints)
        {
            if (joints.ValueKind != JsonValueKind.Array)
                throw Error("joints", $"expected a list of joints, got {Kind(joints)}");
            if (joints.GetArrayLength() is < 1 or > MaxJoints)
                throw Error("joints", $"expected 1 to {MaxJoints} joints, got {joints.GetArrayLength()}");
            var list = new List<KinematicJoint>();
            var index = 0;
            foreach (var joint in joints.EnumerateArray())
            {
                var path = $"joints[{index++}]";
                ExpectObject(joint, path, JointKeys);
                var name = ReadString(Required(joint, "name", path), $"{path}.name");
                var typeText = ReadString(Required(joint, "type", path), $"{path}.type");
                var type = typeText switch
                {
                    "revolute" => JointType.Revolute,
                    "prismatic" => JointType.Prismatic,
                    _ => throw Error($"{path}.type", $"expected \"revolute\" or \"prismatic\", got \"{typeText}\""),
                };
                var origin = ReadPose(joint, path);
                var axis = ReadNumbers(Required(joint, "axis", path), $"{path}.axis", 3);
                var min = ReadNumber(Required(joint, "min", path), $"{path}.min");
                var max = ReadNumber(Required(joint, "max", path), $"{path}.max");
                if (min > max)
                    throw Error(path, $"min {Text(min)} is above max {Text(max)}");
                list.Add(new KinematicJoint(name, type, origin, axis[0], axis[1], axis[2], min, max));
            }
            return list;
        }

        private KinematicChain ReadDenavitHartenberg(JsonElement root, JsonElement table, string name, Pose baseFrame, Pose tool)
        {
            ExpectObject(table, "dh", DenavitHartenbergKeys);
            var d = ReadNumbers(Required(table, "d", "dh"), "dh.d", null);
            if (d.Length is < 1 or > MaxJoints)
                throw Error("dh.d", $"expected 1 to {MaxJoints} rows, got {d.Length}");
            var a = ReadNumbers(Required(table, "a", "dh"), "dh.a", d.Length);
            var alpha = ReadNumbers(Required(table, "alpha", "dh"), "dh.alpha", d.Length);
            var namesElement = Required(root, "jointNames", "$");
            if (namesElement.ValueKind != JsonValueKind.Array || namesElement.GetArrayLength() != d.Length)
                throw Error("jointNames", $"expected one name per row of dh.d ({d.Length}), got {Describe(namesElement)}");
            var names = new List<string>();
            var index = 0;
            foreach (var element in namesElement.EnumerateArray())
                names.Add(ReadString(element, $"jointNames[{index++}]"));
            var min = ReadNumbers(Required(root, "min", "$"), "min", d.Length);
            var max = ReadNumbers(Required(root, "max", "$"), "max", d.Length);
            for (var i = 0; i < d.Length; i++)
            {
                if (min[i] > max[i])
                    throw Error($"min[{i}]", $"{Text(min[i])} is above max[{i}] {Text(max[i])}");
            }
            return FromDenavitHartenberg(name, baseFrame, d, a, alpha, names, min, max, tool);
        }

        private Pose OptionalPose(JsonElement parent, string key)
        {
            if (!parent.TryGetProperty(key, out var element))
                return Pose.Identity;
            ExpectObject(element, key, PoseKeys);
            return ReadPose(element, key);
        }

        /// <summary>The "xyz" and "rpy" members of <paramref name="element"/> (each optional, zero when absent).</summary>
        private Pose ReadPose(JsonElement element, string path)
        {
            double[] xyz = element.TryGetProperty("xyz", out var xyzElement) ? ReadNumbers(xyzElement, $"{path}.xyz", 3) : [0, 0, 0];
            double[] rpy = element.TryGetProperty("rpy", out var rpyElement) ? ReadNumbers(rpyElement, $"{path}.rpy", 3) : [0, 0, 0];
            return Pose.FromXyzRpy(xyz[0], xyz[1], xyz[2], rpy[0], rpy[1], rpy[2]);
        }

        private JsonElement Required(JsonElement parent, string key, string parentPath)
        {
            if (parent.TryGetProperty(key, out var element))
                return element;
            throw Error(parentPath == "$" ? key : $"{parentPath}.{key}", "missing");
        }

        private void ExpectObject(JsonElement element, string path, string[] knownKeys)
        {
            if (element.ValueKind != JsonValueKind.Object)
                throw Error(path, $"expected an object, got {Kind(element)}");
            foreach (var property in element.EnumerateObject())
            {
                if (Array.IndexOf(knownKeys, property.Name) < 0)
                {
                    var where = path == "$" ? property.Name : $"{path}.{property.Name}";
                    throw Error(where, $"unknown key; expected one of {string.Join(", ", knownKeys)}");
                }
            }
        }

        private string ReadString(JsonElement element, string path)
        {
            if (element.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(element.GetString()))
                throw Error(path, $"expected a non-empty string, got {Describe(element)}");
            return element.GetString()!;
        }

        private double ReadNumber(JsonElement element, string path)
        {
            if (element.ValueKind != JsonValueKind.Number || !element.TryGetDouble(out var value) || !double.IsFinite(value))
                throw Error(path, $"expected a number, got {Describe(element)}");
            return value;
        }

        /// <summary>A list of numbers; <paramref name="count"/> null accepts any length.</summary>
        private double[] ReadNumbers(JsonElement element, string path, int? count)
        {
            var expected = count is { } n ? $"{n} numbers" : "a list of numbers";
            if (element.ValueKind != JsonValueKind.Array)
                throw Error(path, $"expected {expected}, got {Describe(element)}");
            var length = element.GetArrayLength();
            if (count is { } wanted && length != wanted)
                throw Error(path, $"expected {expected}, got {length}");
            var values = new double[length];
            var index = 0;
            foreach (var item in element.EnumerateArray())
            {
                values[index] = ReadNumber(item, $"{path}[{index}]");
                index++;
            }
            return values;
        }

        private InvalidDataException Error(string path, string what) => new($"{source}: {path}: {what}.");

        private static string Kind(JsonElement element) => element.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "a list",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            JsonValueKind.Null => "null",
            _ => element.ValueKind.ToString(),
        };

        private static string Describe(JsonElement element) => element.ValueKind switch
        {
            JsonValueKind.Array => $"a list of {element.GetArrayLength()}",
            JsonValueKind.String or JsonValueKind.Number => $"{Kind(element)} ({element.GetRawText()})",
            _ => Kind(element),
        };
    }
}
