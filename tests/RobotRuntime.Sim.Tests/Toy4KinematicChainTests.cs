using RobotRuntime.Kinematics;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Tests;

/// <summary>
/// The built-in "toy4" chain (Core) against the tabletop arm it describes: the closed-form IK of
/// <see cref="ArmKinematics"/> and MuJoCo's own forward kinematics of sim/scenes/tabletop_arm.xml.
/// Core.Tests cannot reference the simulator, so these checks live here.
/// </summary>
public sealed class Toy4KinematicChainTests
{
    private static KinematicChain Toy4 => ArmKinematicsLibrary.Get("toy4");

    /// <summary>
    /// ArmKinematics.Solve(x, y, z) then Forward lands on (x, y, z) with the tool pointing straight
    /// down, within 1e-9 (both are closed-form double arithmetic; only rounding separates them).
    /// A 5 × 5 × 4 grid over x ∈ [0.2, 0.45], y ∈ [−0.2, 0.2], z ∈ [0.02, 0.26], inside the arm's
    /// workspace (ClampToWorkspace leaves each point as it is) and reached with no joint clamped
    /// (both asserted, or the comparison would mean nothing).
    /// </summary>
    [Fact]
    public void Toy4ChainPutsTheToolWhereTheClosedFormIkAimed()
    {
        Span<double> joints = stackalloc double[4];
        var chain = Toy4;
        for (var ix = 0; ix < 5; ix++)
        {
            for (var iy = 0; iy < 5; iy++)
            {
                for (var iz = 0; iz < 4; iz++)
                {
                    double x = 0.2 + 0.0625 * ix, y = -0.2 + 0.1 * iy, z = 0.02 + 0.08 * iz;
                    Assert.Equal((x, y, z), ArmKinematics.ClampToWorkspace(x, y, z));
                    ArmKinematics.Solve(x, y, z, joints);
                    for (var i = 0; i < 4; i++)
                    {
                        Assert.True(joints[i] > ArmKinematics.JointLow[i] && joints[i] < ArmKinematics.JointHigh[i],
                            $"({x}, {y}, {z}): joint {i} = {joints[i]} sits on a limit; pick targets the closed form reaches unclamped");
                    }

                    chain.Forward(joints, out var tool);

                    var where = $"({x}, {y}, {z})";
                    Assert.True(Math.Abs(tool.X - x) < 1e-9 && Math.Abs(tool.Y - y) < 1e-9 && Math.Abs(tool.Z - z) < 1e-9, $"{where}: tool at ({tool.X}, {tool.Y}, {tool.Z})");
                    // Tool z axis (third column) straight down.
                    Assert.True(Math.Abs(tool.R02) < 1e-9 && Math.Abs(tool.R12) < 1e-9 && Math.Abs(tool.R22 + 1) < 1e-9, $"{where}: tool z = ({tool.R02}, {tool.R12}, {tool.R22})");
                }
            }
        }
    }

    /// <summary>
    /// Forward against MuJoCo's forward kinematics of the scene (the "tip" site's position and
    /// orientation matrix) over 100 random joint vectors inside the MJCF ranges; within 1e-9
    /// (MuJoCo composes the same transforms through quaternions, so only rounding differs).
    /// </summary>
    [Fact]
    public void Toy4ChainMatchesMuJoCosForwardKinematics()
    {
        using var scene = new TabletopScene("");
        var siteOrientation = scene.Data.Field<double>("site_xmat");
        var chain = Toy4;
        var random = new Random(51);
        var joints = new double[4];
        for (var trial = 0; trial < 100; trial++)
        {
            for (var i = 0; i < 4; i++)
                joints[i] = ArmKinematics.JointLow[i] + random.NextDouble() * (ArmKinematics.JointHigh[i] - ArmKinematics.JointLow[i]);
            scene.PlaceArm(joints, 0);
            scene.Data.Forward();

            chain.Forward(joints, out var tool);

            var (x, y, z) = scene.Tip;
            var m = siteOrientation.Row(scene.TipSite); // row-major 3×3, as Pose
            double[] expected = [x, y, z, m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]];
            double[] actual = [tool.X, tool.Y, tool.Z, tool.R00, tool.R01, tool.R02, tool.R10, tool.R11, tool.R12, tool.R20, tool.R21, tool.R22];
            for (var k = 0; k < expected.Length; k++)
                Assert.True(Math.Abs(expected[k] - actual[k]) < 1e-9, $"q = [{string.Join(", ", joints)}]: entry {k} is {actual[k]}, MuJoCo says {expected[k]}");
        }
    }
}
