using RobotRuntime.Environments;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Tests;

public sealed class ScriptedControllerTests
{
    [Theory]
    [InlineData("reach")]
    [InlineData("push")]
    [InlineData("peek")]
    public void ScriptedControllerSolvesTheTaskForSeveralSeedsAndTheRewardRisesAsItGetsCloser(string task)
    {
        using var environment = new TabletopEnvironment(new TabletopEnvironmentOptions(task, RenderImages: false));
        var action = new float[4];
        var solved = 0;
        const int Episodes = 5;
        for (var seed = 0; seed < Episodes; seed++)
        {
            environment.Reset(seed);
            StepResult result;
            double firstReward = double.NaN;
            do
            {
                ScriptedController.Act(environment, action);
                result = environment.Step(action);
                if (double.IsNaN(firstReward))
                    firstReward = result.Reward;
            }
            while (!result.Done);
            if (result.Terminated)
            {
                Assert.True(result.Info.IsSuccess);
                Assert.True(result.Reward > firstReward, $"seed {seed}: final reward {result.Reward} should beat the first {firstReward}");
                solved++;
            }
        }
        Assert.Equal(Episodes, solved);
    }
}
