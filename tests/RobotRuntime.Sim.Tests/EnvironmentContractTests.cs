using RobotRuntime.Environments;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Tests;

/// <summary>What every <see cref="IEnvironment"/> must do, run against each implementation by a subclass.</summary>
public abstract class EnvironmentContractTests
{
    protected abstract IEnvironment Create();

    [Fact]
    public void ResetGivesAnObservationShapedAsTheSpecSays()
    {
        using var environment = Create();
        var spec = environment.Spec;
        var observation = environment.Reset(1);
        Assert.Equal(spec.CameraNames, observation.Cameras.Select(c => c.Name));
        Assert.All(observation.Cameras, c => Assert.Equal(spec.ImageWidth * spec.ImageHeight * 3, c.Rgb.Length));
        Assert.Equal(spec.ProprioceptionNames.Count, observation.Proprioception.Length);
        Assert.Equal(spec.Action.Names.Count, spec.Action.Dimension);
        Assert.True(spec.ControlPeriodSeconds > 0 && spec.MaxEpisodeSteps > 0);
    }

    [Fact]
    public void StepBeforeResetAndAWrongActionLengthAreRefused()
    {
        using var environment = Create();
        Assert.Throws<InvalidOperationException>(() => environment.Step(new float[environment.Spec.Action.Dimension]));
        environment.Reset(1);
        Assert.Throws<ArgumentException>(() => environment.Step(new float[environment.Spec.Action.Dimension + 1]));
    }

    [Fact]
    public void StepsAdvanceTimeByTheControlPeriodAndCountTheEpisodeStep()
    {
        using var environment = Create();
        var start = environment.Reset(2).TimestampSeconds;
        var action = new float[environment.Spec.Action.Dimension];
        var result = environment.Step(action);
        result = environment.Step(action);
        Assert.Equal(start + 2 * environment.Spec.ControlPeriodSeconds, result.Observation.TimestampSeconds, 9);
        Assert.Equal(2, result.Info.EpisodeStep);
    }

    [Fact]
    public void TheSameSeedGivesTheSameFirstObservation()
    {
        using var environment = Create();
        var first = environment.Reset(5).Clone();
        environment.Reset(6);
        var again = environment.Reset(5);
        Assert.Equal(first.Proprioception, again.Proprioception);
        for (var i = 0; i < first.Cameras.Count; i++)
            Assert.Equal(first.Cameras[i].Rgb, again.Cameras[i].Rgb);
    }

    [Fact]
    public void OutOfRangeActionsAreClippedNotRejected()
    {
        using var environment = Create();
        environment.Reset(3);
        var huge = Enumerable.Repeat(50f, environment.Spec.Action.Dimension).ToArray();
        var result = environment.Step(huge);
        Assert.True(double.IsFinite(result.Reward));
        Assert.All(result.Observation.Proprioception, v => Assert.True(float.IsFinite(v)));
    }
}

public sealed class ReachEndEffectorContractTests : EnvironmentContractTests
{
    protected override IEnvironment Create() => new TabletopEnvironment(new TabletopEnvironmentOptions("reach", ActionMode.EndEffectorDelta, 16, 16));
}

public sealed class PushJointTargetsContractTests : EnvironmentContractTests
{
    protected override IEnvironment Create() => new TabletopEnvironment(new TabletopEnvironmentOptions("push", ActionMode.JointPositionTargets, 16, 12, "lighting-easy"));
}

public sealed class PeekEndEffectorContractTests : EnvironmentContractTests
{
    protected override IEnvironment Create() => new TabletopEnvironment(new TabletopEnvironmentOptions("peek", ActionMode.EndEffectorDelta, 12, 16, "background-hard"));
}
