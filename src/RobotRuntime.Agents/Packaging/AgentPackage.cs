using RobotRuntime.Arm;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using RobotRuntime.Agents.Encoders;
using RobotRuntime.Agents.Model;
using RobotRuntime.Tensors;
using RobotRuntime.Tensors.Onnx;
using RobotRuntime.Tensors.Serialization;
using RobotRuntime.Vision.Encoders;

namespace RobotRuntime.Agents.Packaging;

/// <summary>The frozen encoder a package needs: zoo id, file name and SHA-256 of the ONNX file.</summary>
/// <param name="Id">PVR zoo id, or "scratch".</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the PVR's ONNX file ("" for scratch).</param>
public sealed record PvrIdentity(string Id, string Sha256)
{
    /// <summary>The identity of a scratch agent (no PVR).</summary>
    public static PvrIdentity Scratch { get; } = new("scratch", "");

    /// <summary>Parses "id sha256:hex" (the trainer's identity string) or "scratch".</summary>
    public static PvrIdentity Parse(string text)
    {
        var parts = text.Split(' ', 2);
        return parts.Length == 2 && parts[1].StartsWith("sha256:", StringComparison.Ordinal)
            ? new PvrIdentity(parts[0], parts[1]["sha256:".Length..])
            : new PvrIdentity(parts[0], "");
    }
}

/// <summary>
/// An agent package: a folder with <c>manifest.json</c> (format, versions, task, agent config,
/// observation layout, the PVR's identity and hash, how it was trained), <c>weights.safetensors</c>
/// (every parameter acting needs; the target Qs are training state and left out), <c>encoder_head.onnx</c> and <c>policy_prior.onnx</c>
/// (ONNX exports of the encoder head MLP and the policy prior, for tools outside the runtime).
/// The manifest's <c>checksums</c> give the SHA-256 of every file it lists; loading checks them, so a
/// changed or damaged weights file is refused by name instead of driving an arm.
/// </summary>
public static class AgentPackage
{
    /// <summary>The manifest's format name.</summary>
    public const string Format = "robotruntime-agent";

    /// <summary>Manifest format version.</summary>
    public const int FormatVersion = 1;

    /// <summary>Writes a package of <paramref name="model"/> into <paramref name="folder"/> (created; files replaced atomically).</summary>
    /// <param name="folder">Package folder.</param>
    /// <param name="model">The trained model.</param>
    /// <param name="task">Task it was trained on.</param>
    /// <param name="pvr">The frozen encoder it needs.</param>
    /// <param name="maxEndEffectorStepMetres">Metres per action unit.</param>
    /// <param name="training">How it was made: command line, seed, steps, results (free-form strings).</param>
    public static void Save(string folder, WorldModel model, string task, PvrIdentity pvr, double maxEndEffectorStepMetres, IReadOnlyDictionary<string, string>? training = null) =>
        Save(folder, model, task, pvr, ArmLayout.Toy4 with { TranslationStep = maxEndEffectorStepMetres }, "toy4", training);

    /// <summary>Writes a package of <paramref name="model"/>, trained on the arm <paramref name="armName"/> seen through <paramref name="armLayout"/>, into <paramref name="folder"/>.</summary>
    /// <param name="folder">Package folder.</param>
    /// <param name="model">The trained model.</param>
    /// <param name="task">Task it was trained on.</param>
    /// <param name="pvr">The frozen encoder it needs.</param>
    /// <param name="armLayout">How the agent observes the arm and what its actions mean (checked against an arm's description before it drives it).</param>
    /// <param name="armName">The arm it was trained on (e.g. the simulator's "ur5e"); for the operator.</param>
    /// <param name="training">How it was made: command line, seed, steps, results (free-form strings).</param>
    /// <param name="parents">Packages this one was made from (offline adaptation), recorded as given.</param>
    public static void Save(string folder, WorldModel model, string task, PvrIdentity pvr, ArmLayout armLayout, string armName,
        IReadOnlyDictionary<string, string>? training = null, IReadOnlyList<JsonObject>? parents = null)
    {
        ArgumentNullException.ThrowIfNull(armLayout);
        armLayout.Validate();
        if (model.Layout.ProprioceptionLength != 0 && model.Layout.ProprioceptionLength != armLayout.ProprioceptionLength)
            throw new ArgumentException($"the model takes {model.Layout.ProprioceptionLength} proprioception values; arm layout {armLayout.Describe()} gives {armLayout.ProprioceptionLength}", nameof(armLayout));
        if (model.Layout.ActionDim != armLayout.ActionDimension)
            throw new ArgumentException($"the model acts with {model.Layout.ActionDim} values; arm layout {armLayout.Describe()} has {armLayout.ActionDimension}", nameof(armLayout));
        Directory.CreateDirectory(folder);
        SafeTensors.Save(Path.Combine(folder, "weights.safetensors"), model.InferenceParameters());
        var layout = model.Layout;
        if (layout.Kind == FeatureKind.Floats)
        {
            OnnxModelFile.Export(model.EncoderHead.ToSequential(), Tensor.Zeros(1, model.EncoderHead.InputWidth), Path.Combine(folder, "encoder_head.onnx"));
        }
        OnnxModelFile.Export(model.Policy.ToSequential(), Tensor.Zeros(1, model.Config.LatentDim), Path.Combine(folder, "policy_prior.onnx"));
        var manifest = new JsonObject
        {
            ["format"] = Format,
            ["formatVersion"] = FormatVersion,
            ["robotRuntimeVersion"] = typeof(AgentPackage).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown",
            ["created"] = DateTime.UtcNow.ToString("O"),
            ["task"] = task,
            ["actionMode"] = armLayout.ActionSpace == ActionSpaceKind.EndEffectorDelta ? "EndEffectorDelta" : armLayout.ActionSpace.ToString(),
            ["maxEndEffectorStepMetres"] = armLayout.TranslationStep,
            ["arm"] = new JsonObject { ["name"] = armName, ["layout"] = armLayout.ToJson() },
            ["parents"] = parents is null ? null : new JsonArray(parents.Select(p => (JsonNode?)p.DeepClone()).ToArray()),
            ["layout"] = new JsonObject
            {
                ["kind"] = layout.Kind.ToString(),
                ["featureLength"] = layout.FeatureLength,
                ["cameras"] = layout.Cameras,
                ["imageSize"] = layout.ImageSize,
                ["frameStack"] = layout.FrameStack,
                ["proprioceptionLength"] = layout.ProprioceptionLength,
                ["actionDim"] = layout.ActionDim,
            },
            ["pvr"] = new JsonObject { ["id"] = pvr.Id, ["sha256"] = pvr.Sha256 },
            ["files"] = new JsonObject
            {
                ["weights"] = "weights.safetensors",
                ["encoderHead"] = layout.Kind == FeatureKind.Floats ? "encoder_head.onnx" : null,
                ["policyPrior"] = "policy_prior.onnx",
            },
            ["checksums"] = Checksums(folder, layout.Kind == FeatureKind.Floats
                ? ["weights.safetensors", "encoder_head.onnx", "policy_prior.onnx"]
                : ["weights.safetensors", "policy_prior.onnx"]),
            ["agent"] = JsonNode.Parse(model.Config.ToJson()),
            ["training"] = training is null ? null : new JsonObject(training.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        };
        string path = Path.Combine(folder, "manifest.json");
        File.WriteAllText(path + ".tmp", manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>The agent configuration a package records (its encoder id and mode say which PVR loading it needs).</summary>
    /// <exception cref="InvalidDataException">Not a package, or its manifest is malformed; the message names it.</exception>
    public static AgentConfig ReadConfig(string folder)
    {
        string manifestPath = Path.Combine(folder, "manifest.json");
        if (!File.Exists(manifestPath))
        {
            throw new InvalidDataException($"'{folder}' is not an agent package: {manifestPath} is missing");
        }
        try
        {
            var agent = JsonNode.Parse(File.ReadAllText(manifestPath))?["agent"] ?? throw new InvalidDataException($"{manifestPath} lacks \"agent\"");
            return AgentConfig.FromJson(agent.ToJsonString(), manifestPath + " agent");
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new InvalidDataException($"{manifestPath}: {e.Message}", e);
        }
    }

    /// <summary>A loaded package.</summary>
    /// <param name="Model">The world model with the package's weights.</param>
    /// <param name="Task">Task name.</param>
    /// <param name="Pvr">The PVR it needs.</param>
    /// <param name="MaxEndEffectorStepMetres">Metres per action unit.</param>
    /// <param name="Manifest">The manifest as read.</param>
    /// <param name="ArmName">The arm it was trained on ("toy4" for packages from before arms were recorded).</param>
    /// <param name="ArmLayout">How it observes the arm and what its actions mean.</param>
    public sealed record Loaded(WorldModel Model, string Task, PvrIdentity Pvr, double MaxEndEffectorStepMetres, JsonObject Manifest, string ArmName, ArmLayout ArmLayout)
    {
        /// <summary>The control rate the agent acted at in training (<see cref="TrainingKeys.ControlRateHz"/>); null if not recorded.</summary>
        public double? ControlRateHz => TrainingValue(Manifest, TrainingKeys.ControlRateHz);

        /// <summary>Steps of a training episode (<see cref="TrainingKeys.EpisodeSteps"/>); null if not recorded.</summary>
        public int? EpisodeSteps => TrainingValue(Manifest, TrainingKeys.EpisodeSteps) is { } steps ? (int)steps : null;
    }

    /// <summary>The keys of the manifest's <c>training</c> object that the runtime reads (the rest is a free-form record).</summary>
    public static class TrainingKeys
    {
        /// <summary>One action per control period at this rate, Hz (the runtime warns when a run's rate differs).</summary>
        public const string ControlRateHz = "controlRateHz";

        /// <summary>Steps of a training episode (the planner's discount follows from it).</summary>
        public const string EpisodeSteps = "episodeSteps";

        /// <summary>The training run's folder.</summary>
        public const string Run = "run";

        /// <summary>The training run's run.json.</summary>
        public const string RunRecord = "runRecord";

        /// <summary>The evaluation table's rows.</summary>
        public const string Evaluation = "evaluation";
    }

    /// <summary>The control rate recorded in the package in <paramref name="folder"/>, without loading its model; null when absent or unreadable.</summary>
    public static double? ReadControlRate(string folder)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "manifest.json"))) is JsonObject manifest
                ? TrainingValue(manifest, TrainingKeys.ControlRateHz) : null;
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or InvalidOperationException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static double? TrainingValue(JsonObject manifest, string key) =>
        double.TryParse(manifest["training"]?[key]?.GetValue<string>(), System.Globalization.NumberStyles.Float,
            System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>
    /// Loads a package. <paramref name="pvrFile"/> is the ONNX file the runtime will encode with (null for
    /// scratch agents); it must exist and hash to the manifest's SHA-256. Partially and fully fine-tuned
    /// agents also need the PVR's zoo entry (<paramref name="pvrModel"/>): their trained part of the PVR is
    /// rebuilt from that file (<see cref="PvrTail"/>) and takes the package's weights; the model's
    /// <see cref="WorldModel.PvrTail"/> then names the trunk a partial agent's encoder must run.
    /// </summary>
    /// <exception cref="InvalidDataException">A missing or malformed file, another format, a PVR that is absent or differs; the message names it.</exception>
    public static Loaded Load(string folder, string? pvrFile, PvrModel? pvrModel = null)
    {
        string manifestPath = Path.Combine(folder, "manifest.json");
        if (!File.Exists(manifestPath))
        {
            throw new InvalidDataException($"'{folder}' is not an agent package: {manifestPath} is missing");
        }
        JsonObject manifest;
        try
        {
            manifest = JsonNode.Parse(File.ReadAllText(manifestPath))?.AsObject() ?? throw new InvalidDataException($"{manifestPath} is empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{manifestPath} is not valid JSON: {e.Message}");
        }
        string Text(string key) => manifest[key]?.GetValue<string>() ?? throw new InvalidDataException($"{manifestPath} lacks \"{key}\"");
        if (Text("format") != Format || manifest["formatVersion"]?.GetValue<int>() != FormatVersion)
        {
            throw new InvalidDataException($"{manifestPath} is format '{manifest["format"]}' version {manifest["formatVersion"]}; expected '{Format}' version {FormatVersion}");
        }
        VerifyChecksums(folder, manifestPath, manifest);
        AgentConfig config;
        try
        {
            config = AgentConfig.FromJson(manifest["agent"]?.ToJsonString() ?? throw new InvalidDataException($"{manifestPath} lacks \"agent\""), manifestPath + " agent");
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
        var l = manifest["layout"]?.AsObject() ?? throw new InvalidDataException($"{manifestPath} lacks \"layout\"");
        var layout = new ObservationLayout(Enum.Parse<FeatureKind>(l["kind"]!.GetValue<string>()), l["featureLength"]!.GetValue<int>(), l["cameras"]!.GetValue<int>(),
            l["imageSize"]!.GetValue<int>(), l["frameStack"]!.GetValue<int>(), l["proprioceptionLength"]!.GetValue<int>(), l["actionDim"]!.GetValue<int>());
        var pvrNode = manifest["pvr"]?.AsObject() ?? throw new InvalidDataException($"{manifestPath} lacks \"pvr\"");
        var pvr = new PvrIdentity(pvrNode["id"]!.GetValue<string>(), pvrNode["sha256"]?.GetValue<string>() ?? "");
        if (pvr.Id != "scratch")
        {
            if (pvrFile is null || !File.Exists(pvrFile))
            {
                throw new InvalidDataException($"agent package '{folder}' needs PVR '{pvr.Id}' (sha256 {pvr.Sha256}) but {(pvrFile is null ? "no PVR file was given" : $"{pvrFile} is absent")}; export or copy that PVR first");
            }
            string actual = Sha256(pvrFile);
            if (!string.Equals(actual, pvr.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidDataException($"agent package '{folder}' was trained with PVR '{pvr.Id}' sha256 {pvr.Sha256}, but {pvrFile} has sha256 {actual}: a different model; use the PVR file it was trained with");
            }
        }
        PvrTail? tail = null;
        if (config.Mode is EncoderMode.Partial or EncoderMode.Full)
        {
            if (pvrModel is null)
            {
                throw new InvalidDataException($"agent package '{folder}' fine-tuned PVR '{pvr.Id}' ({config.Mode.ToString().ToLowerInvariant()} mode); loading it needs that PVR's zoo entry");
            }
            try
            {
                tail = PvrTail.Create(pvrModel, pvrFile!, config.Mode, config.ImageSize, config.TrainableFrom);
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException)
            {
                throw new InvalidDataException($"agent package '{folder}': {e.Message}", e);
            }
        }
        var model = new WorldModel(config, layout, seed: 0, tail);
        string weights = Path.Combine(folder, "weights.safetensors");
        if (!File.Exists(weights))
        {
            throw new InvalidDataException($"agent package '{folder}' lacks weights.safetensors");
        }
        SafeTensors.LoadInto(weights, model.InferenceParameters(), strict: true);
        model.SyncTargets(1f);
        var maxStep = manifest["maxEndEffectorStepMetres"]?.GetValue<double>() ?? 0.03;
        // Packages from before arms were recorded were all trained on the simulator's 4-joint arm.
        var armName = manifest["arm"]?["name"]?.GetValue<string>() ?? "toy4";
        var armLayout = manifest["arm"]?["layout"] is { } armNode
            ? ArmLayout.FromJson(armNode, manifestPath + " arm.layout")
            : ArmLayout.Toy4 with { TranslationStep = maxStep };
        if (layout.ProprioceptionLength != 0 && layout.ProprioceptionLength != armLayout.ProprioceptionLength || layout.ActionDim != armLayout.ActionDimension)
            throw new InvalidDataException($"{manifestPath}: the model's layout ({layout.ProprioceptionLength} proprioception values, {layout.ActionDim} actions) does not fit its arm layout ({armLayout.ProprioceptionLength}, {armLayout.ActionDimension}): {armLayout.Describe()}");
        return new Loaded(model, Text("task"), pvr, maxStep, manifest, armName, armLayout);
    }

    private static JsonObject Checksums(string folder, IEnumerable<string> files) =>
        new(files.Select(file => KeyValuePair.Create(file, (JsonNode?)JsonValue.Create(Sha256(Path.Combine(folder, file))))));

    /// <summary>Every file the manifest's <c>checksums</c> name must be there with that SHA-256; the weights must be among them.</summary>
    private static void VerifyChecksums(string folder, string manifestPath, JsonObject manifest)
    {
        var checksums = manifest["checksums"] as JsonObject
            ?? throw new InvalidDataException($"{manifestPath} has no \"checksums\" (a package made before they were recorded, or edited by hand): its weights cannot be checked; make the package again with `rr eval RUN --package FOLDER`");
        if (!checksums.ContainsKey("weights.safetensors"))
            throw new InvalidDataException($"{manifestPath}: \"checksums\" does not cover weights.safetensors");
        foreach (var (file, value) in checksums)
        {
            string expected = value?.GetValue<string>() ?? "";
            if (file.Contains('/') || file.Contains('\\') || file.StartsWith('.'))
                throw new InvalidDataException($"{manifestPath}: \"checksums\" names '{file}', which is not a file of the package folder");
            string path = Path.Combine(folder, file);
            if (!File.Exists(path))
                throw new InvalidDataException($"agent package '{folder}' lacks {file}, which its manifest lists");
            string actual = Sha256(path);
            if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException($"agent package '{folder}': {file} has sha256 {actual}, its manifest says {expected}: the file was changed or damaged after packaging; use the package as it was made");
        }
    }

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
    }
}
