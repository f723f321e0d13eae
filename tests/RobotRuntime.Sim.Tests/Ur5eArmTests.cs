using RobotRuntime.Arm;
using RobotRuntime.Environments;
using RobotRuntime.Kinematics;
using RobotRuntime.Sim.Tabletop;
using Xunit.Abstractions;

namespace RobotRuntime.Sim.Tests;

/// <summary>The UR5e-class arm: MuJoCo 2.2.2 loads it, its kinematics equal the runtime's model, it holds still and tracks.</summary>
public sealed class Ur5eArmTests(ITestOutputHelper output)
{
    private static readonly SimArm Arm = SimArm.Get("ur5e");

    [Fact]
    public void MuJoCoPutsTheTipWhereTheRuntimesKinematicModelSays()
    {
        // Reference: the "ur5e" chain of RobotRuntime.Kinematics (UR's published DH table); MuJoCo's
        // forward kinematics of sim/scenes/arm_ur5e.xml must agree to rounding (1e-9 m and rad).
        using var scene = new TabletopScene("", Arm);
        var random = new Random(5);
        var q = new double[6];
        for (var trial = 0; trial < 50; trial++)
        {
            for (var j = 0; j < 6; j++)
                q[j] = (2 * random.NextDouble() - 1) * Math.PI;
            scene.PlaceArm(q, 0);
            scene.Data.Forward();
            Arm.Chain.Forward(q, out var expected);
            var (x, y, z) = scene.Tip;
            Assert.Equal(expected.X, x, 1e-9);
            Assert.Equal(expected.Y, y, 1e-9);
            Assert.Equal(expected.Z, z, 1e-9);
            var m = scene.SiteXmat.Row(scene.TipSite);
            double[] rotation = [expected.R00, expected.R01, expected.R02, expected.R10, expected.R11, expected.R12, expected.R20, expected.R21, expected.R22];
            for (var k = 0; k < 9; k++)
                Assert.Equal(rotation[k], m[k], 1e-9);
        }
    }

    [Fact]
    public void AResetPutsTheTipAtItsStartPointingDownAndTheArmHoldsStillThere()
    {
        using var environment = new TabletopEnvironment(new TabletopEnvironmentOptions("reach", RenderImages: false, Arm: "ur5e"));
        Assert.Equal(20, environment.Spec.ProprioceptionNames.Count);
        Assert.Equal(["dx", "dy", "dz", "gripper"], environment.Spec.Action.Names);
        for (var seed = 0; seed < 5; seed++)
        {
            var observation = environment.Reset(seed);
            var start = environment.Setpoint;
            var (x, y, z) = environment.Scene.Tip;
            Assert.True(Distance(start, (x, y, z)) < 1e-4, $"seed {seed}: tip {x:0.####},{y:0.####},{z:0.####} vs start {start}");
            // Pointing down: the tip's z axis is the world's −z (third column of the rotation).
            var m = environment.Scene.SiteXmat.Row(environment.Scene.TipSite);
            Assert.True(m[8] < -0.9999, $"seed {seed}: tool z·world z = {m[8]}");
            var joints = observation.Proprioception[..6].ToArray();
            // Zero translation, gripper open, for 2 s (50 steps): gravity is compensated, the servos hold.
            StepResult result = default!;
            for (var step = 0; step < 50; step++)
                result = environment.Step([0, 0, 0, -1]);
            var after = result.Observation.Proprioception;
            var drift = 0.0;
            for (var j = 0; j < 6; j++)
                drift = Math.Max(drift, Math.Abs(after[j] - joints[j]));
            var (x2, y2, z2) = environment.Scene.Tip;
            output.WriteLine($"seed {seed}: joint drift {drift:E2} rad, tip moved {Distance(start, (x2, y2, z2)) * 1000:0.###} mm");
            // Tolerances: 2 mrad and 2 mm — a UR5e repeats to ±0.03 mm; the simulated servos settle within these.
            Assert.True(drift < 2e-3, $"seed {seed}: joints drifted {drift} rad while holding");
            Assert.True(Distance(start, (x2, y2, z2)) < 2e-3, $"seed {seed}: the tip sagged {Distance(start, (x2, y2, z2))} m while holding");
        }
    }

    [Theory]
    [InlineData("reach")]
    [InlineData("push")]
    [InlineData("pick-place")]
    public void TheScriptedControllerSolvesTheTaskOnTheUr5eThroughTheRuntimesInverseKinematics(string task)
    {
        using var environment = new TabletopEnvironment(new TabletopEnvironmentOptions(task, RenderImages: false, Arm: "ur5e"));
        var action = new float[4];
        var solved = 0;
        const int Episodes = 5;
        for (var seed = 0; seed < Episodes; seed++)
        {
            environment.Reset(seed);
            StepResult result;
            do
            {
                ScriptedController.Act(environment, action);
                result = environment.Step(action);
            }
            while (!result.Done);
            output.WriteLine($"{task} seed {seed}: {(result.Terminated ? "solved" : "not solved")} in {result.Info.EpisodeStep} steps, goal distance {result.Info.GoalDistance:0.###} m");
            if (result.Terminated)
                solved++;
            if (environment.Task is PickPlaceTask pick)
                Assert.True(pick.Cube(environment.Scene).Z > 0.06, $"seed {seed}: the cube should have been carried up to the marker, it is at z {pick.Cube(environment.Scene).Z:0.###} m");
        }
        Assert.Equal(Episodes, solved);
    }

    private static double Distance((double X, double Y, double Z) a, (double X, double Y, double Z) b) =>
        Math.Sqrt((a.X - b.X) * (a.X - b.X) + (a.Y - b.Y) * (a.Y - b.Y) + (a.Z - b.Z) * (a.Z - b.Z));
}
