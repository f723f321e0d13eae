using RobotRuntime.Kinematics;
using static RobotRuntime.Core.Tests.Kinematics.KinematicsTestData;

namespace RobotRuntime.Core.Tests.Kinematics;

public class KinematicChainTests
{
    private static KinematicChain Ur5e => ArmKinematicsLibrary.Get("ur5e");

    private static KinematicChain Toy4 => ArmKinematicsLibrary.Get("toy4");

    /// <summary>
    /// A chain with every feature the UR5e and the toy arm lack: a prismatic joint, origins with
    /// rotations and offsets on all axes, a skewed (and unnormalised) axis, a rotated base and tool.
    /// </summary>
    internal static KinematicChain Mixed() => new("mixed", Pose.FromXyzRpy(0.1, -0.2, 0.05, 0.1, -0.2, 0.3),
    [
        new KinematicJoint("turn", JointType.Revolute, Pose.FromXyzRpy(0, 0, 0.1, 0, 0, 0), 0, 0, 1, -3, 3),
        new KinematicJoint("slide", JointType.Prismatic, Pose.FromXyzRpy(0.05, 0.02, 0.2, 0.3, 0.1, -0.4), 1, 0, 0, -0.2, 0.4),
        new KinematicJoint("skew", JointType.Revolute, Pose.FromXyzRpy(0.2, -0.1, 0.03, -0.5, 0.6, 0.2), 1, 2, 2, -2.5, 2.5),
        new KinematicJoint("bend", JointType.Revolute, Pose.FromXyzRpy(0.25, 0, 0, 0, 0.7, 0), 0, 1, 0, -2, 2),
    ], Pose.FromXyzRpy(0.05, 0.01, 0.12, 0.2, 0.3, -0.1));

    // Hand derivation from the UR5e's DH table (T_i = Rz(θ_i)·Tz(d_i)·Tx(a_i)·Rx(α_i)), all θ = 0,
    // in DH frame 0, then the base Rz(π):
    //   frame 1: Tz(0.1625)·Rx(π/2)           origin (0, 0, 0.1625);  axes x=(1,0,0) y=(0,0,1) z=(0,−1,0)
    //   frame 2: Tx(−0.425)                    origin (−0.425, 0, 0.1625)
    //   frame 3: Tx(−0.3922)                   origin (−0.8172, 0, 0.1625)
    //   frame 4: Tz(0.1333) along z3=(0,−1,0), then Rx(π/2)
    //                                          origin (−0.8172, −0.1333, 0.1625); axes y=(0,−1,0) z=(0,0,−1)
    //   frame 5: Tz(0.0997) along z4=(0,0,−1), then Rx(−π/2)
    //                                          origin (−0.8172, −0.1333, 0.0628); axes y=(0,0,−1) z=(0,−1,0)
    //   frame 6: Tz(0.0996) along z5           origin (−0.8172, −0.2329, 0.0628); axes as frame 5 (= Rx(π/2))
    //   tool:    0.15 along z6=(0,−1,0)        (−0.8172, −0.3829, 0.0628)
    // Base Rz(π) negates x and y: tool at (0.425 + 0.3922, 0.1333 + 0.0996 + 0.15, 0.1625 − 0.0997)
    // = (0.8172, 0.3829, 0.0628), rotation Rz(π)·Rx(π/2) = [[−1,0,0],[0,0,1],[0,1,0]] (tool z along world +y).
    [Fact]
    public void Ur5eToolAtZeroIsWhereTheDhTableAndBaseTurnPutIt()
    {
        Ur5e.Forward(new double[6], out var tool);
        AssertPoseEqual(Matrix(0.8172, 0.3829, 0.0628, new double[,] { { -1, 0, 0 }, { 0, 0, 1 }, { 0, 1, 0 } }), tool, 1e-15);
    }

    // q = (0, −π/2, 0, −π/2, 0, 0), the UR "upright" pose, by hand in DH frame 0:
    //   frame 1 as at zero: origin (0, 0, 0.1625), x=(1,0,0) y=(0,0,1) z=(0,−1,0)
    //   joint 2 turns −π/2 about z1: x → −y1 = (0,0,−1), y → x1 = (1,0,0); Tx(−0.425) along (0,0,−1): origin (0, 0, 0.5875)
    //   frame 3: Tx(−0.3922) along the same x: origin (0, 0, 0.9797)
    //   joint 4 turns −π/2: x → −y3 = (−1,0,0), y → x3 = (0,0,−1); Tz(0.1333) along z=(0,−1,0): origin (0, −0.1333, 0.9797);
    //     Rx(π/2): y → z = (0,−1,0), z → −y = (0,0,1)
    //   frame 5: Tz(0.0997) along (0,0,1): origin (0, −0.1333, 1.0794); Rx(−π/2): y → −z = (0,0,−1), z → y = (0,−1,0)
    //   frame 6: Tz(0.0996): origin (0, −0.2329, 1.0794); tool 0.15 further along (0,−1,0): (0, −0.3829, 1.0794)
    // Base Rz(π): (0, 0.3829, 1.0794) = height 0.1625 + 0.425 + 0.3922 + 0.0997; axes x=(1,0,0) y=(0,0,−1) z=(0,1,0).
    [Fact]
    public void Ur5eUprightPoseIsWhereTheHandDerivationPutsIt()
    {
        Ur5e.Forward([0, -Math.PI / 2, 0, -Math.PI / 2, 0, 0], out var tool);
        AssertPoseEqual(Matrix(0, 0.3829, 1.0794, new double[,] { { 1, 0, 0 }, { 0, 0, 1 }, { 0, -1, 0 } }), tool, 1e-15);
    }

    // Turning shoulder_pan by π/2 turns the zero pose's tool point about world z: (0.8172, 0.3829) → (−0.3829, 0.8172).
    [Fact]
    public void Ur5eShoulderPanTurnsTheWholeArmAboutTheVertical()
    {
        Ur5e.Forward([Math.PI / 2, 0, 0, 0, 0, 0], out var tool);
        Assert.Equal(-0.3829, tool.X, 1e-15);
        Assert.Equal(0.8172, tool.Y, 1e-15);
        Assert.Equal(0.0628, tool.Z, 1e-15);
    }

    // The toy arm from sim/scenes/tabletop_arm.xml: straight up at zero, 0.12 + 0.3 + 0.3 + 0.1 = 0.82 m;
    // shoulder at +π/2 (about +y, which turns +z towards +x) lays the arm along +x at the shoulder's height.
    [Fact]
    public void Toy4IsStraightUpAtZeroAndHorizontalWithTheShoulderAtAQuarterTurn()
    {
        Toy4.Forward([0, 0, 0, 0], out var up);
        AssertPoseEqual(Pose.FromXyzRpy(0, 0, 0.82, 0, 0, 0), up, 1e-15);
        Toy4.Forward([0, Math.PI / 2, 0, 0], out var forward);
        Assert.Equal(0.7, forward.X, 1e-15);
        Assert.Equal(0, forward.Y, 1e-15);
        Assert.Equal(0.12, forward.Z, 1e-15);
    }

    /// <summary>
    /// Against an independent product of exponentials, T(q) = Π exp([Sᵢ]qᵢ) · M, with the screw axes
    /// read off the hand derivation above (world frame, after the base turn): joint axes ωᵢ through
    /// points pᵢ at q = 0, and M the tool pose at q = 0. 200 random configurations over the full
    /// limits; tolerance 1e-12 (both sides round a few dozen products of numbers of order 1).
    /// </summary>
    [Fact]
    public void Ur5eMatchesAnIndependentProductOfExponentials()
    {
        double[][] axes = [[0, 0, 1], [0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 0, -1], [0, 1, 0]];
        double[][] points = [[0, 0, 0], [0, 0, 0.1625], [0.425, 0, 0.1625], [0.8172, 0, 0.1625], [0.8172, 0.1333, 0.1625], [0.8172, 0.1333, 0.0628]];
        var home = new double[,] { { -1, 0, 0, 0.8172 }, { 0, 0, 1, 0.3829 }, { 0, 1, 0, 0.0628 }, { 0, 0, 0, 1 } };

        var random = new Random(21);
        for (var trial = 0; trial < 200; trial++)
        {
            var q = RandomConfiguration(random, Ur5e, 0);
            var product = Identity4();
            for (var i = 0; i < 6; i++)
                product = Multiply4(product, ScrewExponential(axes[i], points[i], q[i]));
            product = Multiply4(product, home);

            Ur5e.Forward(q, out var tool);
            var expected = Matrix(product[0, 3], product[1, 3], product[2, 3], product);
            AssertPoseEqual(expected, tool, 1e-12, $"q = [{string.Join(", ", q)}]");
        }
    }

    public static TheoryData<string> ChainNames => ["ur5e", "toy4", "mixed"];

    private static KinematicChain Chain(string name) => name == "mixed" ? Mixed() : ArmKinematicsLibrary.Get(name);

    /// <summary>
    /// Every column of the Jacobian against central differences of Forward with h = 1e-6: the
    /// position rows against (p(q + h) − p(q − h)) / 2h, the orientation rows against
    /// Difference(T(q − h), T(q + h)) / 2h. Truncation error is O(h²) ≈ 1e-12 and rounding about
    /// 1e-16 / h = 1e-10, so 1e-6 leaves a wide margin and still catches a wrong sign, frame or point.
    /// </summary>
    [Theory]
    [MemberData(nameof(ChainNames))]
    public void JacobianMatchesCentralDifferencesOfForward(string name)
    {
        const double H = 1e-6;
        var chain = Chain(name);
        var n = chain.JointCount;
        var random = new Random(22);
        var jacobian = new double[6 * n];
        Span<double> six = stackalloc double[6];
        for (var trial = 0; trial < 50; trial++)
        {
            var q = RandomConfiguration(random, chain, 0.01);
            chain.Jacobian(q, jacobian);
            chain.Jacobian(q, new double[6 * n], out var toolWithJacobian);
            chain.Forward(q, out var tool);
            AssertPoseEqual(tool, toolWithJacobian, 0, "the Jacobian's tool pose");
            for (var i = 0; i < n; i++)
            {
                var plus = (double[])q.Clone();
                var minus = (double[])q.Clone();
                plus[i] += H;
                minus[i] -= H;
                chain.Forward(plus, out var after);
                chain.Forward(minus, out var before);
                Pose.Difference(before, after, six);
                for (var row = 0; row < 6; row++)
                {
                    var numeric = six[row] / (2 * H);
                    var analytic = jacobian[row * n + i];
                    Assert.True(Math.Abs(numeric - analytic) < 1e-6,
                        $"{name}: J[{row},{i}] = {analytic}, central difference {numeric}, q = [{string.Join(", ", q)}]");
                }
            }
        }
    }

    [Fact]
    public void AxesAreNormalisedAndAScaledAxisMovesTheSame()
    {
        var unit = new KinematicChain("unit", Pose.Identity, [new KinematicJoint("j", JointType.Revolute, Pose.Identity, 0, 0.6, 0.8, -1, 1)], Pose.FromXyzRpy(0.3, 0, 0, 0, 0, 0));
        var scaled = new KinematicChain("scaled", Pose.Identity, [new KinematicJoint("j", JointType.Revolute, Pose.Identity, 0, 3, 4, -1, 1)], Pose.FromXyzRpy(0.3, 0, 0, 0, 0, 0));
        Assert.Equal((0.0, 0.6, 0.8), (scaled.Joints[0].AxisX, scaled.Joints[0].AxisY, scaled.Joints[0].AxisZ));
        unit.Forward([0.7], out var a);
        scaled.Forward([0.7], out var b);
        AssertPoseEqual(a, b, 1e-15);
    }

    [Theory]
    [MemberData(nameof(ChainNames))]
    public void AChainRebuiltFromItsJointsAndToolIsTheSameArm(string name)
    {
        // For a DH chain this checks that Tool carries the flange (the last DH row's fixed part).
        var chain = Chain(name);
        var rebuilt = new KinematicChain(chain.Name, chain.BaseFrame, chain.Joints, chain.Tool);
        var random = new Random(23);
        for (var trial = 0; trial < 20; trial++)
        {
            var q = RandomConfiguration(random, chain, 0);
            chain.Forward(q, out var expected);
            rebuilt.Forward(q, out var actual);
            AssertPoseEqual(expected, actual, 0);
        }
    }

    public static TheoryData<string, string> BadChains => new()
    {
        { "zero axis", "joints[1] (b): axis (0, 0, 0) has zero length" },
        { "NaN axis", "joints[1] (b): axis (NaN, 0, 1) is not finite" },
        { "min above max", "joints[1] (b): PositionMin 1 is above PositionMax -1" },
        { "infinite limit", "joints[1] (b): PositionMin -Infinity and PositionMax 1 must be finite" },
        { "NaN origin", "joints[1] (b): Origin" },
        { "skewed origin", "joints[1] (b): Origin: the rotation is not orthonormal" },
        { "duplicate name", "joints[1] (a): Name appears twice" },
        { "empty name", "joints[1]: Name must not be empty" },
        { "no joints", "expected 1 to 16 joints, got 0" },
        { "17 joints", "expected 1 to 16 joints, got 17" },
        { "NaN tool", "Kinematic chain 'arm': tool" },
    };

    [Theory]
    [MemberData(nameof(BadChains))]
    public void BadChainsAreRefusedNamingTheJointAndTheField(string problem, string message)
    {
        var good = new KinematicJoint("a", JointType.Revolute, Pose.Identity, 0, 0, 1, -1, 1);
        var second = good with { Name = "b", Origin = Pose.FromXyzRpy(0, 0, 0.1, 0, 0, 0) };
        var tool = Pose.Identity;
        var skewed = second.Origin;
        skewed.R01 = 0.5;
        var nanOrigin = second.Origin;
        nanOrigin.X = double.NaN;
        second = problem switch
        {
            "zero axis" => second with { AxisZ = 0 },
            "NaN axis" => second with { AxisX = double.NaN },
            "min above max" => second with { PositionMin = 1, PositionMax = -1 },
            "infinite limit" => second with { PositionMin = double.NegativeInfinity },
            "NaN origin" => second with { Origin = nanOrigin },
            "skewed origin" => second with { Origin = skewed },
            "duplicate name" => second with { Name = "a" },
            "empty name" => second with { Name = " " },
            _ => second,
        };
        if (problem == "NaN tool")
            tool.Z = double.NaN;
        List<KinematicJoint> joints = problem switch
        {
            "no joints" => [],
            "17 joints" => Enumerable.Range(0, 17).Select(i => good with { Name = $"j{i}" }).ToList(),
            _ => [good, second],
        };
        var error = Assert.Throws<ArgumentException>(() => new KinematicChain("arm", Pose.Identity, joints, tool));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void DenavitHartenbergRowsOfDifferentLengthsAreRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => KinematicChain.FromDenavitHartenberg(
            "arm", Pose.Identity, [0.1, 0.2], [0.3], [0, 0], ["a", "b"], [-1, -1], [1, 1], Pose.Identity));
        Assert.Contains("got d 2, a 1, alpha 2", error.Message);
    }

    [Fact]
    public void LibraryListsItsChainsAndRefusesUnknownNamesListingThem()
    {
        Assert.Equal(["toy4", "ur5e"], ArmKinematicsLibrary.Names);
        Assert.Equal(6, Ur5e.JointCount);
        Assert.Equal(["shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3"], Ur5e.Joints.Select(j => j.Name));
        Assert.Equal(["yaw", "shoulder", "elbow", "wrist"], Toy4.Joints.Select(j => j.Name));
        // Limits as the MJCF's joint ranges (toy4) and ±2π / elbow ±π (ur5e).
        Assert.Equal([-1.6, -0.6, -0.2, -1.0], Toy4.Joints.Select(j => j.PositionMin));
        Assert.Equal([1.6, 2.2, 2.7, 2.6], Toy4.Joints.Select(j => j.PositionMax));
        Assert.Equal(Math.PI, Ur5e.Joints[2].PositionMax);
        Assert.Equal(2 * Math.PI, Ur5e.Joints[0].PositionMax);
        var error = Assert.Throws<ArgumentException>(() => ArmKinematicsLibrary.Get("ur10"));
        Assert.Contains("toy4, ur5e", error.Message);
    }

    private static double[,] Identity4() => new double[,] { { 1, 0, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 1, 0 }, { 0, 0, 0, 1 } };

    private static double[,] Multiply4(double[,] a, double[,] b)
    {
        var c = new double[4, 4];
        for (var r = 0; r < 4; r++)
        {
            for (var k = 0; k < 4; k++)
            {
                for (var j = 0; j < 4; j++)
                    c[r, j] += a[r, k] * b[k, j];
            }
        }
        return c;
    }

    /// <summary>
    /// exp([S]θ) for the screw of a unit axis ω through point p (v = −ω × p), as in Lynch &amp; Park,
    /// Modern Robotics, eq. 3.88: R = I + sin θ [ω] + (1 − cos θ)[ω]², t = (Iθ + (1 − cos θ)[ω] + (θ − sin θ)[ω]²) v.
    /// </summary>
    private static double[,] ScrewExponential(double[] w, double[] p, double theta)
    {
        double[] v = [-(w[1] * p[2] - w[2] * p[1]), -(w[2] * p[0] - w[0] * p[2]), -(w[0] * p[1] - w[1] * p[0])];
        var skew = new double[,] { { 0, -w[2], w[1] }, { w[2], 0, -w[0] }, { -w[1], w[0], 0 } };
        var skew2 = new double[3, 3];
        for (var r = 0; r < 3; r++)
        {
            for (var c = 0; c < 3; c++)
            {
                for (var k = 0; k < 3; k++)
                    skew2[r, c] += skew[r, k] * skew[k, c];
            }
        }
        double s = Math.Sin(theta), c1 = 1 - Math.Cos(theta);
        var result = Identity4();
        for (var r = 0; r < 3; r++)
        {
            var t = 0.0;
            for (var c = 0; c < 3; c++)
            {
                result[r, c] = (r == c ? 1 : 0) + s * skew[r, c] + c1 * skew2[r, c];
                t += ((r == c ? theta : 0) + c1 * skew[r, c] + (theta - s) * skew2[r, c]) * v[c];
            }
            result[r, 3] = t;
        }
        return result;
    }
}
