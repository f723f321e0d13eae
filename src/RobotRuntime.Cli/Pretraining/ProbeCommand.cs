using System.CommandLine;
using System.Globalization;
using System.Text;
using RobotRuntime.Cameras;
using RobotRuntime.Encoders;
using RobotRuntime.Native;
using RobotRuntime.Onnx;
using RobotRuntime.Pretraining;
using RobotRuntime.Sim;
using RobotRuntime.Sim.Collection;
using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;
using RobotRuntime.Vision.Encoders;

namespace RobotRuntime.Cli.Pretraining;

/// <summary><c>rr probe</c>: compares frozen representations without RL — linear probes to task state and invariance, in distribution and under every shift.</summary>
public static class ProbeCommand
{
    private static readonly (string Name, int[] Indices)[] Groups = [("tip", [0, 1, 2]), ("goal", [3, 4, 5]), ("object", [6, 7, 8])];

    /// <summary>Builds the <c>probe</c> verb.</summary>
    public static Command Create()
    {
        var encoders = new Option<string[]>("--encoder")
        {
            Description = "An encoder to probe: a pre-training run folder (its zoo.json), or ZOO.json:ID. Repeat to compare several.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var tasks = new Option<string>("--tasks") { Description = "Comma-separated tasks to probe on.", DefaultValueFactory = _ => "reach,push" };
        var episodes = new Option<int>("--episodes") { Description = "Episodes per task and condition (the first 70 % fit the probe, the rest test it).", DefaultValueFactory = _ => 100 };
        var steps = new Option<int>("--steps") { Description = "Frames per episode.", DefaultValueFactory = _ => 20 };
        var conditions = new Option<string>("--conditions") { Description = "Comma-separated conditions (first = where the probe is fitted), or 'all'.", DefaultValueFactory = _ => "all" };
        var output = new Option<string?>("--csv") { Description = "Also write the table as CSV here." };
        var verb = new Command("probe", "Linear probes (task state from the frozen embedding) and invariance of representations, in distribution and under every visual shift.")
        {
            encoders, tasks, episodes, steps, conditions, output,
        };
        verb.SetAction(result =>
        {
            var error = result.InvocationConfiguration.Error;
            var console = result.InvocationConfiguration.Output;
            try
            {
                var conditionList = result.GetValue(conditions) == "all"
                    ? ProbeFrames.AllConditions
                    : result.GetValue(conditions)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var taskList = result.GetValue(tasks)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                foreach (var task in taskList)
                {
                    if (!TabletopTask.Names.Contains(task))
                        throw new ArgumentException($"--tasks: unknown task '{task}'; expected some of {string.Join(", ", TabletopTask.Names)}");
                }
                if (result.GetValue(episodes) < 5)
                    throw new ArgumentException($"--episodes must be at least 5 (fit, validation and test episodes), got {result.GetValue(episodes)}");
                if (result.GetValue(steps) < 1)
                    throw new ArgumentException($"--steps must be at least 1, got {result.GetValue(steps)}");
                var models = result.GetValue(encoders)!.Select(Resolve).ToList();
                var sizes = models.Select(m => m.Model.Preprocess.Width).Distinct().ToList();
                var csv = new StringBuilder("encoder,task,condition,r2_tip,r2_goal,r2_object,invariance\n");
                foreach (var task in taskList)
                {
                    var framesBySize = new Dictionary<int, IReadOnlyList<ProbeCondition>>();
                    foreach (var (model, file, label) in models)
                    {
                        var size = model.Preprocess.Width;
                        if (!framesBySize.TryGetValue(size, out var frames))
                            framesBySize[size] = frames = ProbeFrames.Render(task, conditionList, result.GetValue(episodes), result.GetValue(steps), size);
                        using var encoder = new OnnxPvrEncoder(model, file, 1, size, size);
                        var samples = frames.Select(c => new ProbeSamples(c.Condition, Embed(encoder, c.Images, size), c.States, c.Episodes)).ToList();
                        var probe = RepresentationProbe.Run(samples, Groups);
                        console.WriteLine($"{label} · {task} (probe fitted on {conditionList[0]}, {frames[0].Images.Count} frames per condition)");
                        console.WriteLine($"  {"condition",-22} {"R² tip",8} {"R² goal",8} {"R² object",10} {"invariance",11}");
                        foreach (var row in probe)
                        {
                            string R(string g) => row.R2.TryGetValue(g, out var v) ? v.ToString("F3", CultureInfo.InvariantCulture) : "—";
                            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {row.Condition,-22} {R("tip"),8} {R("goal"),8} {R("object"),10} {row.Invariance,11:F3}"));
                            csv.Append(CultureInfo.InvariantCulture, $"{label},{task},{row.Condition},{R("tip").Replace("—", "")},{R("goal").Replace("—", "")},{R("object").Replace("—", "")},{row.Invariance:F4}\n");
                        }
                    }
                }
                if (result.GetValue(output) is { } path)
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
                    File.WriteAllText(path, csv.ToString());
                    console.WriteLine($"rr probe: wrote {Path.GetFullPath(path)}");
                }
                return 0;
            }
            catch (Exception failure) when (failure is ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException
                or SimulatorException or NativeDependencyMissingException or OnnxModelException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException or KeyNotFoundException or InvalidOperationException)
            {
                error.WriteLine($"rr probe: {failure.Message}");
                return 1;
            }
        });
        return verb;
    }

    private static (PvrModel Model, string File, string Label) Resolve(string argument)
    {
        if (Directory.Exists(argument))
        {
            var manifest = Path.Combine(argument, "zoo.json");
            if (!File.Exists(manifest))
                throw new ArgumentException($"--encoder {argument}: the folder has no zoo.json (is the pre-training run finished? rr pretrain exports it at the end)");
            var zoo = PvrZoo.Load(manifest);
            var model = zoo.Models[0];
            return (model, zoo.ResolveFile(model), model.Id);
        }
        var colon = argument.LastIndexOf(':');
        if (colon <= 0)
            throw new ArgumentException($"--encoder {argument}: expected a pre-training run folder or ZOO.json:ID");
        var manifestPath = argument[..colon];
        var loaded = PvrZoo.Load(manifestPath);
        var entry = loaded.Get(argument[(colon + 1)..]);
        return (entry, loaded.ResolveFile(entry), entry.Id);
    }

    private static List<float[]> Embed(IEncoder encoder, IReadOnlyList<byte[]> images, int size)
    {
        var frame = new CameraFrame(size, size);
        var frames = new[] { frame };
        var embeddings = new List<float[]>(images.Count);
        foreach (var image in images)
        {
            image.CopyTo(frame.Pixels, 0);
            var embedding = new float[encoder.EmbeddingSize];
            var status = encoder.Encode(frames, embedding);
            if (status != EncodeStatus.Ok)
                throw new InvalidOperationException($"encoder {encoder.Name} returned {status}: {encoder.LastError}");
            embeddings.Add(embedding);
        }
        return embeddings;
    }
}
