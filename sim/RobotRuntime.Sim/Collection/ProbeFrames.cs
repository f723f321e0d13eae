using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Collection;

/// <summary>The frames of one visual condition: front-camera images, and the environment state of each.</summary>
/// <param name="Condition">"in-distribution", "collection" (the collection's randomisation) or a shift preset's name.</param>
/// <param name="Images">One RGB image per frame.</param>
/// <param name="States">Environment state per frame (<see cref="DatasetCollector.EnvironmentStateNames"/>).</param>
/// <param name="Episodes">The episode each frame belongs to (0-based within the set).</param>
public sealed record ProbeCondition(string Condition, IReadOnlyList<byte[]> Images, IReadOnlyList<float[]> States, IReadOnlyList<int> Episodes);

/// <summary>
/// Renders the same physical states under several visual conditions for representation probes:
/// for each episode the reset seed and the action sequence are the same in every condition, so
/// frame i of every condition shows the same arm, goal and object, only the visuals differ.
/// Seeds start at 60,000,000 (apart from training, evaluation and collection seeds).
/// </summary>
public static class ProbeFrames
{
    /// <summary>The conditions <c>rr probe</c> measures: in-distribution, the collection's randomisation, then every shift preset.</summary>
    public static IReadOnlyList<string> AllConditions { get; } = [VisualShifts.InDistribution, CollectionRandomisation.Name, .. VisualShifts.Names.Skip(1)];

    /// <summary>Renders <paramref name="episodes"/> episodes of <paramref name="steps"/> frames of <paramref name="task"/> in each condition.</summary>
    /// <exception cref="ArgumentException">Unknown task or condition.</exception>
    public static IReadOnlyList<ProbeCondition> Render(string task, IReadOnlyList<string> conditions, int episodes, int steps, int imageSize, int seed = 0)
    {
        foreach (var condition in conditions)
        {
            if (condition != CollectionRandomisation.Name)
                VisualShifts.Get(condition);
        }
        using var environment = new TabletopEnvironment(new TabletopEnvironmentOptions(task, ImageWidth: imageSize, ImageHeight: imageSize));
        var result = new List<ProbeCondition>();
        var action = new float[environment.Spec.Action.Dimension];
        var state = new float[DatasetCollector.EnvironmentStateNames.Length];
        foreach (var condition in conditions)
        {
            var images = new List<byte[]>();
            var states = new List<float[]>();
            var owners = new List<int>();
            environment.RandomiseVisuals = condition == CollectionRandomisation.Name;
            environment.Shift = condition == CollectionRandomisation.Name ? VisualShifts.InDistribution : condition;
            for (var episode = 0; episode < episodes; episode++)
            {
                var episodeSeed = 60_000_000 + seed * 100_000 + episode;
                var observation = environment.Reset(episodeSeed);
                var random = new Random(episodeSeed);
                Array.Clear(action);
                for (var step = 0; step < steps; step++)
                {
                    images.Add(observation.Cameras[0].Rgb.ToArray());
                    DatasetCollector.WriteEnvironmentState(environment, state);
                    states.Add(state.ToArray());
                    owners.Add(episode);
                    for (var i = 0; i < action.Length; i++)
                        action[i] = Math.Clamp(0.8f * action[i] + 0.5f * (float)(2 * random.NextDouble() - 1), -1f, 1f);
                    var next = environment.Step(action);
                    if (next.Done)
                        break;
                    observation = next.Observation;
                }
            }
            result.Add(new ProbeCondition(condition, images, states, owners));
        }
        return result;
    }
}
