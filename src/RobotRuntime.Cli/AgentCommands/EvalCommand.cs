using System.CommandLine;
using System.Globalization;
using RobotRuntime.Agents;
using RobotRuntime.Agents.Analysis;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Packaging;
using RobotRuntime.Agents.Planning;
using RobotRuntime.Agents.Training;
using RobotRuntime.Native;
using RobotRuntime.Sim;
using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;
using RobotRuntime.Vision.Encoders;
using Spectre.Console;

namespace RobotRuntime.Cli.AgentCommands;

/// <summary><c>rr eval</c>: success and return of a trained run in distribution and under visual shifts.</summary>
public static class EvalCommand
{
    /// <summary>Builds the <c>eval</c> verb.</summary>
    public static Command Create()
    {
        var run = new Argument<string>("run") { Description = "Run folder written by rr train, or an agent package (rr eval --package; e.g. models/agents/reach-scratch)." };
        var shifts = new Option<string>("--shifts") { Description = "all, or a comma-separated list of shift presets (in-distribution is always included).", DefaultValueFactory = _ => "in-distribution" };
        var episodes = new Option<int>("--episodes") { Description = "Episodes per preset.", DefaultValueFactory = _ => 10 };
        var zoo = new Option<string?>("--zoo") { Description = "PVR zoo manifest (default models/pvr-zoo.json)." };
        var planner = new Option<string>("--planner") { Description = "A registered planner: mppi (latent MPPI) or prior (the policy prior alone).", DefaultValueFactory = _ => "mppi" };
        var planSamples = new Option<int>("--plan-samples") { Description = "MPPI samples (0: the config's).", DefaultValueFactory = _ => 0 };
        var planIterations = new Option<int>("--plan-iterations") { Description = "MPPI iterations (0: the config's).", DefaultValueFactory = _ => 0 };
        var package = new Option<string?>("--package") { Description = "Also write the run's agent as a package into this folder." };
        var csv = new Option<string?>("--csv") { Description = "Also write the table as CSV here." };
        var plot = new Option<string?>("--plot") { Description = "Also write the success rate per preset as bars: PREFIX.png and PREFIX.svg." };
        var record = new Option<string?>("--record") { Description = "Also write every evaluated episode into an episode dataset per preset, DIR/<preset> (the agent's cameras at its image size, proprioception, normalised action, reward, success, environment state): data for rr train --from-dataset." };
        var json = new Option<string?>("--json") { Description = "Also write every episode's seed, success, return and length per preset, and the analyses, as JSON here (the format of a grid cell's result.json \"eval\" and \"analysis\")." };
        var firstSeed = new Option<int>("--first-seed") { Description = "Seed of the first episode of each preset (episode k uses first + k). The default is rr eval's evaluation seeds; record data for adaptation on others (e.g. 2000000).", DefaultValueFactory = _ => Trainer.EvaluationSeedBase + 50_000 };
        var latency = new Option<string>("--latency") { Description = "Delays of a deployed loop to evaluate under: CAMERA[,COMMAND], each a duration or range in ms (e.g. 20ms,4ms or 0..40ms,0..8ms): the image is that old when the agent decides, and the arm follows the previous command that long after it; drawn per episode. none: the simulator's undelayed step.", DefaultValueFactory = _ => "none" };
        var device = new Runtime.DeviceOption();
        var verb = new Command("eval", "Evaluate a trained agent in distribution and under the simulator's visual shift presets.")
        {
            run, shifts, episodes, zoo, planner, planSamples, planIterations, package, csv, json, plot, record, firstSeed, latency,
        };
        foreach (var option in device.All)
            verb.Options.Add(option);
        verb.SetAction(result =>
        {
            var error = result.InvocationConfiguration.Error;
            var output = result.InvocationConfiguration.Output;
            try
            {
                string folder = result.GetValue(run)!;
                var delays = RobotRuntime.Sim.Tabletop.ControlLatency.Parse(result.GetValue(latency)!, "--latency");
                if (!delays.IsNone)
                {
                    output.WriteLine($"rr eval: under loop delays (camera,command) {delays.Describe()}, drawn per episode");
                }
                // An agent package (manifest.json, no run.json) is evaluated with its own weights,
                // checked against their recorded hashes; a run folder with its newest checkpoint.
                AgentPackage.Loaded? packaged = null;
                string task, identity, armName;
                RobotRuntime.Arm.ArmLayout? packagedLayout = null;
                AgentConfig config;
                if (File.Exists(Path.Combine(folder, "manifest.json")) && !File.Exists(Path.Combine(folder, "run.json")))
                {
                    if (result.GetValue(package) is not null)
                    {
                        throw new ArgumentException($"--package: '{folder}' is already an agent package");
                    }
                    var packagedConfig = AgentPackage.ReadConfig(folder);
                    PvrModel? pvrModel = null;
                    string? pvrFile = null;
                    if (packagedConfig.Mode != EncoderMode.Scratch)
                    {
                        // A package names its PVR by id and hash: without --zoo, the repository's manifests are searched.
                        var pvrZoo = result.GetValue(zoo) is { } given ? PvrZoo.Load(given) : PvrZoo.LoadShippedContaining(packagedConfig.Encoder);
                        pvrModel = pvrZoo.Get(packagedConfig.Encoder);
                        pvrFile = pvrZoo.ResolveFile(pvrModel);
                    }
                    packaged = AgentPackage.Load(folder, pvrFile, pvrModel);
                    task = packaged.Task;
                    armName = packaged.ArmName;
                    packagedLayout = packaged.ArmLayout;
                    config = packaged.Model.Config;
                    identity = packaged.Pvr.Id == "scratch" ? "scratch" : $"{packaged.Pvr.Id} sha256:{packaged.Pvr.Sha256}";
                    output.WriteLine($"rr eval: agent package {Path.GetFullPath(folder)} (task {task}, weights checked against the manifest's sha256)");
                }
                else
                {
                    (task, identity, config) = Trainer.ReadRun(folder);
                    armName = Trainer.ReadRunArm(folder);
                    if (Trainer.ReadRunLatency(folder) is var trained && trained != "none" && result.GetResult(latency) is null or { Implicit: true })
                    {
                        output.WriteLine($"rr eval: this run trained under loop delays {trained}; evaluating without them (--latency {trained} evaluates under them)");
                    }
                }
                var (_, features, actualIdentity, tail) = AgentSetup.CreateFeatures(config, result.GetValue(zoo), device.Settings(result));
                using var ownedFeatures = features;
                if (actualIdentity != identity)
                {
                    throw new InvalidDataException($"run '{folder}' was trained with encoder '{identity}' but this machine's is '{actualIdentity}'");
                }
                var presets = EvaluationSweep.Presets(result.GetValue(shifts)!);
                string mode = result.GetValue(planner)!;
                if (!Planners.Contains(mode))
                {
                    throw new ArgumentException($"--planner '{mode}' is not one of {string.Join(", ", Planners.Names)}");
                }
                PvrIdentity pvr = PvrIdentity.Parse(identity);
                var table = new Table().AddColumns("preset", "success", "return", "length");
                var rows = new List<string> { "preset,episodes,success_rate,mean_return,mean_length" };
                var bars = new List<(string Condition, double Success, int Episodes)>();
                var settings = new EvaluationSweep.Settings
                {
                    Task = task,
                    Arm = armName,
                    Config = config,
                    Presets = presets,
                    Episodes = result.GetValue(episodes),
                    FirstSeed = result.GetValue(firstSeed),
                    Planner = mode,
                    PlanSamples = result.GetValue(planSamples),
                    PlanIterations = result.GetValue(planIterations),
                    Latency = delays,
                };
                var sweep = EvaluationSweep.Run(settings, features,
                    model: environment =>
                    {
                        if (packaged is not null)
                        {
                            return packaged.Model;
                        }
                        var fresh = new WorldModel(config, Trainer.LayoutFor(features, config, environment.Spec), seed: 0, tail);
                        Trainer.LoadWeights(folder, fresh);
                        return fresh;
                    },
                    check: environment =>
                    {
                        if (packagedLayout is not null && !packagedLayout.SameAs(environment.Layout))
                        {
                            throw new InvalidDataException($"agent package '{folder}' was trained on arm '{armName}' seen as {packagedLayout.Describe()}; this simulator's '{armName}' is seen as {environment.Layout.Describe()}");
                        }
                    },
                    recorder: result.GetValue(record) is { } recordFolder
                        ? (preset, environment) => EvaluationRecording.Start(Path.Combine(recordFolder, preset), environment, config, preset, folder, identity)
                        : null,
                    presetDone: (preset, r, recorder) =>
                    {
                        if (recorder is EvaluationRecording recording)
                        {
                            output.WriteLine($"rr eval: recorded {recording.Dataset.Episodes.Count} episode(s), {recording.Dataset.TotalFrames} frames into {recording.Dataset.Folder}");
                        }
                        table.AddRow(preset, r.SuccessRate.ToString("P0", CultureInfo.InvariantCulture), r.MeanReturn.ToString("F2", CultureInfo.InvariantCulture), r.MeanLength.ToString("F1", CultureInfo.InvariantCulture));
                        rows.Add(string.Create(CultureInfo.InvariantCulture, $"{preset},{r.Episodes},{r.SuccessRate:F3},{r.MeanReturn:F3},{r.MeanLength:F1}"));
                        bars.Add((preset, r.SuccessRate, r.Episodes));
                        output.WriteLine(rows[^1]);
                    });
                var model = sweep.Model;
                var analysis = sweep.Analysis;
                var armLayout = sweep.ArmLayout;
                double controlRate = sweep.ControlRate;
                int episodeSteps = sweep.EpisodeSteps;
                AnsiConsole.Write(table);
                if (analysis is not null)
                {
                    var lines = new List<string>
                    {
                        $"analyses (in-distribution, {analysis.Steps} transitions):",
                        "  dynamics latent MSE along the horizon: " + string.Join(", ", analysis.DynamicsError.Select((e, k) => string.Create(CultureInfo.InvariantCulture, $"h={k + 1} {e:G3}"))),
                        string.Create(CultureInfo.InvariantCulture, $"  reward prediction mean |error|: {analysis.RewardMeanAbsoluteError:F4} (mean reward {analysis.RewardMean:F4})"),
                        string.Create(CultureInfo.InvariantCulture, $"  dormant ratio (tau = {analysis.Tau}): ") + string.Join(", ", analysis.DormantRatio.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:P1}"))),
                    };
                    foreach (var line in lines)
                    {
                        output.WriteLine(line);
                    }
                    rows.AddRange(lines.Select(line => "# " + line.Trim()));
                }
                if (result.GetValue(csv) is { } csvPath)
                {
                    File.WriteAllLines(csvPath, rows);
                }
                if (result.GetValue(json) is { } jsonPath)
                {
                    using (var stream = File.Create(jsonPath + ".tmp"))
                    using (var writer = new System.Text.Json.Utf8JsonWriter(stream, EvaluationSweep.WriterOptions))
                    {
                        EvaluationSweep.WriteJson(writer, sweep, result.GetValue(episodes));
                        writer.Flush();
                        stream.Flush(flushToDisk: true);
                    }
                    File.Move(jsonPath + ".tmp", jsonPath, overwrite: true);
                    output.WriteLine($"rr eval: wrote {jsonPath}");
                }
                if (result.GetValue(plot) is { } plotPrefix)
                {
                    var chart = Plots.CurvePlots.SuccessBars(bars, $"{task}: {identity.Split(' ')[0]}, {config.Mode.ToString().ToLowerInvariant()}, planner {mode}");
                    var (png, svg) = Plots.PlotFiles.Save(chart, plotPrefix, Plots.CurvePlots.Width, Plots.CurvePlots.Height);
                    output.WriteLine($"rr eval: wrote {png} and {svg}");
                }
                if (result.GetValue(package) is { } packageFolder && model is not null)
                {
                    // An offline adaptation run names its parents (the package and the datasets) in its record.
                    var parents = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "run.json")))?["parents"] is System.Text.Json.Nodes.JsonArray list
                        ? list.Select(p => p!.AsObject()).ToList() : null;
                    AgentPackage.Save(packageFolder, model, task, pvr, armLayout!, armName, new Dictionary<string, string>
                    {
                        [AgentPackage.TrainingKeys.Run] = Path.GetFullPath(folder),
                        [AgentPackage.TrainingKeys.RunRecord] = File.ReadAllText(Path.Combine(folder, "run.json")),
                        [AgentPackage.TrainingKeys.Evaluation] = string.Join("\n", rows),
                        // What the runtime needs to act as in training: one action per control period, the same discount.
                        [AgentPackage.TrainingKeys.ControlRateHz] = controlRate.ToString("R", CultureInfo.InvariantCulture),
                        [AgentPackage.TrainingKeys.EpisodeSteps] = episodeSteps.ToString(CultureInfo.InvariantCulture),
                    }, parents);
                    output.WriteLine($"rr eval: wrote agent package {Path.GetFullPath(packageFolder)}");
                }
                return 0;
            }
            catch (Exception failure) when (failure is ArgumentException or InvalidDataException or IOException or SimulatorException or NativeDependencyMissingException or InvalidOperationException or KeyNotFoundException or Onnx.ExecutionProviderUnavailableException or Onnx.OnnxModelException)
            {
                error.WriteLine($"rr eval: {failure.Message}");
                return failure is ArgumentException or KeyNotFoundException ? 2 : 1;
            }
        });
        return verb;
    }
}
