using System.Globalization;
using RobotRuntime.Agents;
using RobotRuntime.Agents.Training;
using RobotRuntime.Datasets;
using RobotRuntime.Environments;
using RobotRuntime.Sim.Collection;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Cli.AgentCommands;

/// <summary>
/// <c>rr eval --record</c>: every evaluated episode of one preset into an episode dataset (LeRobot v2.1
/// layout, <see cref="DatasetCollector.Layout(EnvironmentSpec, string, IReadOnlyList{string}, int, IReadOnlyList{string})"/>):
/// the agent's cameras at its image size, the proprioception as "observation.state", the agent's
/// normalised action as "action", the simulator's reward, done and success, and the environment state
/// (tip, goal, object positions), written with <see cref="EpisodeCapture"/> as <c>rr collect</c> writes its episodes.
/// </summary>
internal sealed class EvaluationRecording : IEvaluationRecorder
{
    private readonly EpisodeCapture _capture;
    private readonly Dictionary<string, string> _extra;

    private EvaluationRecording(EpisodeDataset dataset, EpisodeCapture capture, Dictionary<string, string> extra)
    {
        Dataset = dataset;
        _capture = capture;
        _extra = extra;
    }

    /// <summary>The dataset written.</summary>
    public EpisodeDataset Dataset { get; }

    /// <summary>Creates the dataset in <paramref name="folder"/> (which must not hold episodes yet).</summary>
    /// <exception cref="IOException">The folder already holds a dataset with episodes.</exception>
    public static EvaluationRecording Start(string folder, TabletopEnvironment environment, AgentConfig config, string preset, string agent, string encoder)
    {
        var layout = DatasetCollector.Layout(environment.Spec, environment.Arm.RobotType, config.Cameras, config.ImageSize, [environment.Task.Name]);
        var dataset = EpisodeDataset.OpenOrCreate(folder, layout);
        if (dataset.Episodes.Count > 0)
            throw new IOException($"--record: {dataset.Folder} already holds {dataset.Episodes.Count} episode(s); record into a new folder (an evaluation starts again from its first seed)");
        var extra = new Dictionary<string, string>
        {
            ["source"] = "rr eval --record",
            ["agent"] = Path.GetFullPath(agent),
            ["encoder"] = encoder,
            ["visuals"] = preset,
            ["arm"] = environment.Arm.Name,
        };
        return new EvaluationRecording(dataset, new EpisodeCapture(environment, layout), extra);
    }

    /// <inheritdoc />
    public void BeginEpisode(int seed)
    {
        var episode = _capture.Begin(Dataset.Episodes.Count);
        foreach (var (key, value) in _extra)
            episode.Extra[key] = value;
        episode.Extra["seed"] = seed.ToString(CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    public void BeforeStep(Observation observation, ReadOnlySpan<float> action) => _capture.Before(observation, action);

    /// <inheritdoc />
    public void AfterStep(in StepResult result) => _capture.After(in result);

    /// <inheritdoc />
    public void EndEpisode(bool success)
    {
        var episode = _capture.Episode!;
        episode.Extra["success"] = success ? "true" : "false";
        Dataset.Append(episode);
    }
}
