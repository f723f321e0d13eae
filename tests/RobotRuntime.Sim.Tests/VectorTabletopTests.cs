using RobotRuntime.Environments;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Tests;

public sealed class VectorTabletopTests
{
    [Fact]
    public void AVectorOfTabletopEnvironmentsOnWorkerThreadsMatchesTheSameEnvironmentsSteppedAlone()
    {
        var options = new TabletopEnvironmentOptions("push", ImageWidth: 24, ImageHeight: 24, Shift: "lighting-hard");
        using var vector = new VectorEnvironment(Enumerable.Repeat<Func<IEnvironment>>(() => new TabletopEnvironment(options), 3).ToArray());
        var observations = new Observation[3];
        vector.Reset(20, observations);
        var results = new StepResult[3];
        var actions = new float[3 * 4];
        var random = new Random(9);
        var history = new List<float[]>();
        for (var step = 0; step < 8; step++)
        {
            for (var i = 0; i < actions.Length; i++)
                actions[i] = (float)(2 * random.NextDouble() - 1);
            history.Add(actions.ToArray());
            vector.Step(actions, results);
        }

        for (var i = 0; i < 3; i++)
        {
            using var alone = new TabletopEnvironment(options);
            alone.Reset(20 + i);
            StepResult last = default;
            foreach (var row in history)
                last = alone.Step(row.AsSpan(i * 4, 4));
            Assert.Equal(last.Reward, results[i].Reward);
            TabletopEnvironmentTests.AssertSame(last.Observation, results[i].Observation);
        }
    }
}
