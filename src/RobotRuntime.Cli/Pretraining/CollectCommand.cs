using System.CommandLine;
using System.Globalization;
using RobotRuntime.Native;
using RobotRuntime.Sim;
using RobotRuntime.Sim.Collection;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Cli.Pretraining;

/// <summary><c>rr collect</c>: a domain-randomised episode dataset from the simulator for pre-training visual representations.</summary>
public static class CollectCommand
{
    /// <summary>Builds the <c>collect</c> verb.</summary>
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Dataset folder (LeRobot v2.1 layout). Collecting again into it continues where it stopped.", Required = true };
        var episodes = new Option<int>("--episodes") { Description = "Episodes the dataset should hold when done.", DefaultValueFactory = _ => 1000 };
        var tasks = new Option<string>("--tasks") { Description = $"Comma-separated tasks taken in turn: {string.Join(", ", TabletopTask.Names)}.", DefaultValueFactory = _ => string.Join(",", TabletopTask.Names) };
        var size = new Option<int>("--size") { Description = "Side of both cameras' images in pixels (16..256).", DefaultValueFactory = _ => 64 };
        var seed = new Option<int>("--seed") { Description = "Collection seed (0..99).", DefaultValueFactory = _ => 1 };
        var workers = new Option<int>("--workers") { Description = "Simulator threads (default: one per core).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var scripted = new Option<double>("--scripted-share") { Description = "Share of episodes played by the scripted controller with noise; the rest are smoothed random play.", DefaultValueFactory = _ => 0.5 };
        var randomised = new Option<double>("--randomised-share") { Description = "Share of episodes with visual randomisation; the rest show the default scene.", DefaultValueFactory = _ => 0.75 };
        var verb = new Command("collect", "Collect a domain-randomised image dataset (both cameras, actions, proprioception, rewards, task state) from the simulator.")
        {
            output, episodes, tasks, size, seed, workers, scripted, randomised,
        };
        verb.SetAction((result, cancellation) =>
        {
            var error = result.InvocationConfiguration.Error;
            var console = result.InvocationConfiguration.Output;
            try
            {
                var options = new CollectOptions(
                    result.GetValue(episodes),
                    result.GetValue(tasks)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                    result.GetValue(size),
                    result.GetValue(seed),
                    result.GetValue(workers),
                    result.GetValue(scripted),
                    result.GetValue(randomised));
                var folder = result.GetValue(output)!;
                var lastPrint = -1.0;
                var dataset = DatasetCollector.Collect(folder, options, progress =>
                {
                    if (progress.Seconds - lastPrint < 5 && progress.Episodes < options.Episodes)
                        return;
                    lastPrint = progress.Seconds;
                    console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"rr collect: {progress.Episodes}/{options.Episodes} episodes, {progress.Frames} frames; {progress.CollectedThisRun / Math.Max(progress.Seconds, 1e-9):F0} frames/s"));
                }, cancellation);
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"rr collect: {dataset.Folder} holds {dataset.Episodes.Count} episodes, {dataset.TotalFrames} frames ({string.Join(", ", options.Tasks)}; {options.ImageSize}x{options.ImageSize}, cameras {string.Join(", ", dataset.Layout.Cameras)})"));
                return Task.FromResult(0);
            }
            catch (OperationCanceledException)
            {
                error.WriteLine("rr collect: stopped; every stored episode is whole. Run the same command again to continue.");
                return Task.FromResult(130);
            }
            catch (Exception failure) when (failure is ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException
                or SimulatorException or NativeDependencyMissingException or InvalidOperationException)
            {
                error.WriteLine($"rr collect: {failure.Message}");
                return Task.FromResult(1);
            }
        });
        return verb;
    }
}
