using System.Text.Json;
using System.Text.Json.Nodes;
using RobotRuntime.Cli.Runtime;

namespace RobotRuntime.Cli.Recording;

/// <summary>
/// The configuration of each run recorded into a dataset, kept in its <c>meta/rr-runs/</c>:
/// <c>&lt;run&gt;.yaml</c>, the run's YAML as it was given (for people), and <c>&lt;run&gt;.json</c>
/// (<c>{"run", "working_directory", "yaml", "overrides"}</c>), from which <c>rr replay</c> rebuilds the
/// run's config — the file, then its <c>--set</c> overrides — and so its encoder and policy.
/// </summary>
internal static class RecordedRun
{
    /// <summary>The folder under a dataset that holds the runs' configs.</summary>
    public static string FolderOf(string dataset) => Path.Combine(dataset, "meta", "rr-runs");

    /// <summary>Stores <paramref name="config"/> as run <paramref name="run"/>'s (written atomically).</summary>
    public static void Write(string dataset, string run, RunConfig config, string runFolder, Arm.ArmDescription arm)
    {
        var folder = FolderOf(dataset);
        Directory.CreateDirectory(folder);
        var yaml = $"# rr run --record: the configuration of run {run} (run folder {runFolder}, working directory {Environment.CurrentDirectory})\n" +
            (config.Overrides.Count == 0 ? "" : "# --set overrides applied after this file: " + string.Join(" ", config.Overrides) + "\n") +
            (config.SourceText ?? "# (no config file: every setting its default)\n");
        Datasets.EpisodeDataset.WriteAtomically(Path.Combine(folder, run + ".yaml"), yaml);
        var json = new JsonObject
        {
            ["run"] = run,
            ["run_folder"] = runFolder,
            ["working_directory"] = Environment.CurrentDirectory,
            ["yaml"] = config.SourceText,
            ["overrides"] = new JsonArray(config.Overrides.Select(o => (JsonNode?)o).ToArray()),
            ["arm"] = new JsonObject
            {
                ["session"] = arm.Session,
                ["protocol_version"] = arm.ProtocolVersion,
                ["joints"] = new JsonArray(arm.Joints.Select(j => (JsonNode?)new JsonArray(j.PositionMin, j.PositionMax, j.VelocityMax, j.EffortMax)).ToArray()),
                ["modes"] = new JsonArray(arm.SupportedModes.Order().Select(m => (JsonNode?)m.ToString()).ToArray()),
                ["gripper"] = arm.HasGripper,
                ["state_rate_hz"] = arm.StateRateHz,
                ["watchdog_ms"] = arm.WatchdogMilliseconds,
                ["end_effector_max_translation"] = arm.EndEffectorMaxTranslation,
                ["end_effector_max_rotation"] = arm.EndEffectorMaxRotation,
            },
        };
        Datasets.EpisodeDataset.WriteAtomically(Path.Combine(folder, run + ".json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Run <paramref name="run"/>'s config as the recording stored it.</summary>
    /// <exception cref="InvalidDataException">The dataset has no config for the run, or it does not read; the message names the file.</exception>
    /// <exception cref="ConfigException">The stored config is no longer valid (a key this version refuses).</exception>
    public static (RunConfig Config, Arm.ArmDescription Arm, string WorkingDirectory) Read(string dataset, string run)
    {
        var path = Path.Combine(FolderOf(dataset), run + ".json");
        if (!File.Exists(path))
            throw new InvalidDataException($"{path} is missing: the recording does not say how run '{run}' was configured");
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path))!;
            var yaml = node["yaml"]?.GetValue<string>();
            var config = yaml is null ? new RunConfig() : RunConfig.Parse(yaml, path);
            foreach (var assignment in node["overrides"]!.AsArray())
                config = config.WithOverride(assignment!.GetValue<string>());
            var a = node["arm"]!;
            var arm = new Arm.ArmDescription(
                a["session"]!.GetValue<uint>(),
                a["protocol_version"]!.GetValue<int>(),
                a["joints"]!.AsArray().Select(j => new Arm.JointLimits(j![0]!.GetValue<double>(), j[1]!.GetValue<double>(), j[2]!.GetValue<double>(), j[3]!.GetValue<double>())).ToList(),
                a["modes"]!.AsArray().Select(m => Enum.Parse<Arm.ArmCommandMode>(m!.GetValue<string>())).ToHashSet(),
                a["state_rate_hz"]!.GetValue<int>(),
                a["watchdog_ms"]!.GetValue<int>(),
                a["end_effector_max_translation"]!.GetValue<double>(),
                a["end_effector_max_rotation"]!.GetValue<double>())
            {
                // Recorded before descriptions said whether the arm has a gripper: the runtime took every arm to have one.
                HasGripper = a["gripper"]?.GetValue<bool>() ?? true,
            };
            return (config, arm, node["working_directory"]?.GetValue<string>() ?? "");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or ArgumentException or YamlDotNet.Core.YamlException)
        {
            throw new InvalidDataException($"{path}: not a readable run config ({e.Message})");
        }
    }
}
