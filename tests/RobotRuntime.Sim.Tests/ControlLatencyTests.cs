using RobotRuntime.Environments;
using RobotRuntime.Sim.MuJoCo;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Tests;

/// <summary>
/// The environment's model of a deployed loop's delays (<see cref="ControlLatency"/>): images taken
/// before the decision, commands followed after it. Each is checked bit-exactly against the undelayed
/// environment stepped with the equivalent shifted schedule: rendering does not touch the physics, and
/// a command delayed by a whole period is the previous period's command.
/// </summary>
public sealed class ControlLatencyTests
{
    private static readonly float[][] Actions =
    [
        [1f, 0.5f, -0.5f, 1f], [0.2f, -1f, 0.3f, 1f], [-0.7f, 0.1f, 1f, 1f], [0.4f, 0.4f, -1f, 1f], [1f, -0.3f, 0f, 1f],
    ];

    private static TabletopEnvironment Make(bool images = true) =>
        new(new TabletopEnvironmentOptions("reach", ActionMode.EndEffectorDelta, 32, 32, RenderImages: images));

    [Fact]
    public void TheTabletopScenesStepAsTheLatencyUnitsAssume()
    {
        using var environment = Make(images: false);
        Assert.Equal(ControlLatency.StepSeconds, environment.Scene.Model.Timestep);
    }

    [Fact]
    public void NoLatencyIsTheUndelayedEnvironmentBitForBit()
    {
        using var plain = Make();
        using var none = Make();
        none.Latency = ControlLatency.None;
        var a = plain.Reset(5);
        var b = none.Reset(5);
        foreach (var action in Actions)
        {
            plain.Step(action);
            none.Step(action);
            Assert.Equal(a.Proprioception, b.Proprioception);
            Assert.Equal(a.Cameras[0].Rgb, b.Cameras[0].Rgb);
        }
    }

    [Fact]
    public void AFullPeriodOfCameraLatencyShowsThePreviousStepsImageWithTodaysProprioception()
    {
        using var plain = Make();
        using var late = Make();
        late.Latency = new ControlLatency(20, 20, 0, 0);
        var a = plain.Reset(7);
        var b = late.Reset(7);
        Assert.Equal((20, 0), late.EpisodeLatency);
        var previousImage = a.Cameras[0].Rgb.ToArray();
        int changed = 0;
        foreach (var action in Actions)
        {
            plain.Step(action);
            late.Step(action);
            // The physics is untouched by when images are rendered, so proprioception agrees exactly...
            Assert.Equal(a.Proprioception, b.Proprioception);
            // ...and the delayed image is the one the undelayed environment showed a step earlier.
            Assert.Equal(previousImage, b.Cameras[0].Rgb);
            changed += previousImage.AsSpan().SequenceEqual(a.Cameras[0].Rgb) ? 0 : 1;
            previousImage = a.Cameras[0].Rgb.ToArray();
        }
        Assert.True(changed >= 3, "the arm moved too little for the test to tell images apart");
    }

    [Fact]
    public void APartialCameraLatencyShowsAnImageBetweenTheTwoSteps()
    {
        using var plain = Make();
        using var late = Make();
        late.Latency = new ControlLatency(10, 10, 0, 0);
        var a = plain.Reset(7);
        var b = late.Reset(7);
        var before = a.Cameras[0].Rgb.ToArray();
        plain.Step(Actions[0]);
        late.Step(Actions[0]);
        Assert.Equal(a.Proprioception, b.Proprioception);
        Assert.NotEqual(before, b.Cameras[0].Rgb);
        Assert.NotEqual(a.Cameras[0].Rgb, b.Cameras[0].Rgb);
        Assert.Equal(b.Cameras[0].TimestampSeconds + 10 * ControlLatency.StepSeconds, a.Cameras[0].TimestampSeconds, 9);
    }

    [Fact]
    public void AFullPeriodOfCommandLatencyActsAsThePreviousCommand()
    {
        // With the whole period delayed, the arm follows the previous command: the delayed run under
        // actions (a1, a2, …) is the undelayed run under (hold, a1, a2, …) — hold being a zero
        // end-effector step with the gripper as the reset left it (open: gripper action 1).
        using var plain = Make(images: false);
        using var late = Make(images: false);
        late.Latency = new ControlLatency(0, 0, 20, 20);
        var a = plain.Reset(11);
        var b = late.Reset(11);
        plain.Step([0f, 0f, 0f, 1f]);
        foreach (var action in Actions)
        {
            late.Step(action);
            Assert.Equal(a.Proprioception, b.Proprioception);
            plain.Step(action);
        }
    }

    [Fact]
    public void EpisodeLatenciesAreDrawnFromTheRangesReproduciblyPerSeed()
    {
        using var environment = Make(images: false);
        environment.Latency = new ControlLatency(2, 12, 1, 4);
        var seen = new HashSet<(int, int)>();
        for (int seed = 0; seed < 40; seed++)
        {
            environment.Reset(seed);
            var drawn = environment.EpisodeLatency;
            Assert.InRange(drawn.Camera, 2, 12);
            Assert.InRange(drawn.Command, 1, 4);
            seen.Add(drawn);
            environment.Reset(seed);
            Assert.Equal(drawn, environment.EpisodeLatency);
        }
        Assert.True(seen.Count > 10, $"only {seen.Count} distinct draws in 40 episodes");
    }

    [Theory]
    [InlineData("20ms", 10, 10, 0, 0)]
    [InlineData("0..40ms,0..8ms", 0, 20, 0, 4)]
    [InlineData("none", 0, 0, 0, 0)]
    [InlineData("30ms,4ms", 15, 15, 2, 2)]
    public void TheCommandLineFormReadsMillisecondsAsPhysicsSteps(string text, int cameraMin, int cameraMax, int commandMin, int commandMax)
    {
        Assert.Equal(new ControlLatency(cameraMin, cameraMax, commandMin, commandMax), ControlLatency.Parse(text, "--latency"));
    }

    [Theory]
    [InlineData("20", "no unit")]
    [InlineData("50ms", "longer than one control period")]
    [InlineData("30..10ms", "negative or reversed")]
    [InlineData("1ms,2ms,3ms", "expected CAMERA[,COMMAND]")]
    [InlineData("fast", "no unit")]
    public void BadLatenciesAreRefusedNamingTheOptionAndTheForm(string text, string expected)
    {
        var message = Assert.Throws<ArgumentException>(() => ControlLatency.Parse(text, "--latency")).Message;
        Assert.StartsWith("--latency: ", message);
        Assert.Contains(expected, message);
    }
}
