using RobotRuntime.Kinematics;
using Xunit.Abstractions;
using static RobotRuntime.Core.Tests.Kinematics.KinematicsTestData;

namespace RobotRuntime.Core.Tests.Kinematics;

/// <summary>
/// IK checks. Every solution is judged without the solver's own error figures: Forward of the
/// solution against the target, position by subtraction and angle from the trace (see
/// <see cref="KinematicsTestData.Errors"/>), against the default tolerances 1e-4 m and 1e-3 rad.
/// </summary>
public class InverseKinematicsTests(ITestOutputHelper output)
{
    private const double PositionTolerance = 1e-4;
    private const double OrientationTolerance = 1e-3;

    private static KinematicChain Ur5e => ArmKinematicsLibrary.Get("ur5e");

    /// <summary>
    /// The UR5e's usual home with the tool pointing down: shoulder lifted a quarter turn, elbow bent
    /// back, wrist_2 turning the tool under. By hand from the DH table (as in KinematicChainTests):
    /// the upper arm goes up to z = 0.1625 + 0.425 = 0.5875, the forearm back 0.3922 along DH −x,
    /// wrist_1's offset 0.1333 along DH −y, wrist_2's 0.0997 along DH −x, and the flange (0.0996) and
    /// tool (0.15) straight down: (−0.4919, −0.1333, 0.3379) in DH frame 0, (0.4919, 0.1333, 0.3379)
    /// after the base turn, tool z along world −z and tool x along world −y.
    /// </summary>
    internal static readonly double[] Home = [0, -Math.PI / 2, Math.PI / 2, -Math.PI / 2, -Math.PI / 2, 0];

    /// <summary>Tool pointing straight down (tool z = world −z), tool x along world −y as at <see cref="Home"/>, turned by <paramref name="yaw"/> about world z.</summary>
    internal static Pose DownAt(double x, double y, double z, double yaw) =>
        Pose.Multiply(Pose.FromXyzRpy(x, y, z, 0, 0, yaw), Matrix(0, 0, 0, new double[,] { { 0, -1, 0 }, { -1, 0, 0 }, { 0, 0, -1 } }));

    [Fact]
    public void HomeIsAboveTheTableWithTheToolPointingDown()
    {
        Ur5e.Forward(Home, out var tool);
        AssertPoseEqual(DownAt(0.4919, 0.1333, 0.3379, 0), tool, 1e-12);
    }

    /// <summary>
    /// Smallest singular value of J below which a configuration counts as near-singular: about 20%
    /// of uniform UR5e draws. There the solve crawls (a solution that needs large joint motion for a
    /// small pose change); over 50,000 draws with ±0.3 rad seed noise, 10 missed the tolerances after
    /// 50 steps, all with σ_min ≤ 0.022, and none of the draws with σ_min ≥ 0.03 did.
    /// </summary>
    private const double NearSingular = 0.03;

    /// <summary>
    /// 500 random configurations 0.3 rad inside the limits and not near-singular (σ_min ≥ 0.03;
    /// seeded); target = Forward(q*), seed = q* plus uniform noise of ±0.3 rad per joint. Every one
    /// must converge.
    /// </summary>
    [Fact]
    public void Ur5eRoundTripFromANoisySeedConverges()
    {
        var chain = Ur5e;
        var solver = new InverseKinematics(chain);
        var random = new Random(41);
        var solution = new double[6];
        var iterations = 0;
        for (var trial = 0; trial < 500; trial++)
        {
            double[] reference;
            do
                reference = RandomConfiguration(random, chain, 0.3);
            while (SmallestSingularValue(chain, reference) < NearSingular);
            var seed = reference.Select(v => v + Uniform(random, -0.3, 0.3)).ToArray();
            chain.Forward(reference, out var target);

            var result = solver.Solve(target, seed, solution);

            Assert.True(result.Status == IkStatus.Converged, $"trial {trial}: {result}, q* = [{string.Join(", ", reference)}]");
            AssertReaches(chain, solution, target, $"trial {trial}");
            iterations += result.Iterations;
        }
        output.WriteLine($"ur5e round trip (σ_min ≥ {NearSingular}): 500/500 converged, {iterations / 500.0:F2} iterations on average");
    }

    /// <summary>
    /// The same round trip without leaving out near-singular configurations: at least 99% converge,
    /// and every miss is near-singular. The rate is written to the test output.
    /// </summary>
    [Fact]
    public void Ur5eRoundTripMissesOnlyNearSingularConfigurations()
    {
        var chain = Ur5e;
        var solver = new InverseKinematics(chain);
        var random = new Random(44);
        var solution = new double[6];
        const int Trials = 1000;
        var converged = 0;
        for (var trial = 0; trial < Trials; trial++)
        {
            var reference = RandomConfiguration(random, chain, 0.3);
            var seed = reference.Select(v => v + Uniform(random, -0.3, 0.3)).ToArray();
            chain.Forward(reference, out var target);

            var result = solver.Solve(target, seed, solution);

            if (result.Status == IkStatus.Converged)
            {
                converged++;
                AssertReaches(chain, solution, target, $"trial {trial}");
                continue;
            }
            var conditioning = SmallestSingularValue(chain, reference);
            output.WriteLine($"trial {trial}: {result}, σ_min {conditioning:F4}");
            Assert.True(conditioning < NearSingular, $"trial {trial} missed at a well-conditioned configuration: {result}, σ_min {conditioning}, q* = [{string.Join(", ", reference)}]");
            AssertInsideLimits(chain, solution);
        }
        output.WriteLine($"ur5e round trip, all configurations: {converged}/{Trials} converged ({converged / (double)Trials:P1})");
        Assert.True(converged >= 0.99 * Trials, $"{converged}/{Trials} converged");
    }

    /// <summary>
    /// Targets drawn uniformly (seeded) in the tabletop workspace x ∈ [0.25, 0.55], y ∈ [−0.25, 0.25],
    /// z ∈ [0.03, 0.3] m with the tool pointing straight down, each solved from <see cref="Home"/>;
    /// with a fixed tool yaw (as at home) and with a yaw drawn in ±π/2 about the vertical. At least
    /// 99% must converge; the rate is written to the test output.
    /// </summary>
    [Theory]
    [InlineData(0.0)]
    [InlineData(Math.PI / 2)]
    public void Ur5eReachesTableTargetsPointingDownFromHome(double yawRange)
    {
        var chain = Ur5e;
        var solver = new InverseKinematics(chain);
        var random = new Random(42);
        var solution = new double[6];
        const int Targets = 1000;
        int converged = 0, iterations = 0, mostIterations = 0;
        for (var trial = 0; trial < Targets; trial++)
        {
            var target = DownAt(Uniform(random, 0.25, 0.55), Uniform(random, -0.25, 0.25), Uniform(random, 0.03, 0.3), Uniform(random, -yawRange, yawRange));
            var result = solver.Solve(target, Home, solution);
            iterations += result.Iterations;
            mostIterations = Math.Max(mostIterations, result.Iterations);
            if (result.Status != IkStatus.Converged)
                continue;
            converged++;
            AssertReaches(chain, solution, target, $"target {trial}");
        }
        var rate = converged / (double)Targets;
        output.WriteLine($"ur5e from home, tool down, yaw ±{yawRange:F2} rad: {converged}/{Targets} converged ({rate:P1}), {iterations / (double)Targets:F2} iterations on average, at most {mostIterations}");
        Assert.True(rate >= 0.99, $"converged on {rate:P1} of the table targets");
    }

    [Fact]
    public void UnreachableTargetReturnsAFiniteBestEffortInsideTheLimits()
    {
        var chain = Ur5e;
        var solver = new InverseKinematics(chain);
        var solution = new double[6];
        // 2 m out; the UR5e reaches about 1 m.
        var target = DownAt(2, 0, 0.3, 0);
        chain.Forward(Home, out var start);

        var result = solver.Solve(target, Home, solution);

        Assert.Equal(IkStatus.NotConverged, result.Status);
        Assert.InRange(result.Iterations, 1, solver.Options.MaxIterations);
        AssertInsideLimits(chain, solution);
        chain.Forward(solution, out var reached);
        var (positionError, _) = Errors(reached, target);
        Assert.Equal(positionError, result.PositionError, 1e-12);
        // Best effort: stretched towards the target, closer than home was.
        Assert.True(positionError < Errors(start, target).Position, $"{positionError} m away, home was {Errors(start, target).Position} m away");
    }

    /// <summary>The toy arm has 4 joints, so position only (OrientationWeight 0): 500 round trips as for the UR5e, 0.1 rad inside the limits.</summary>
    [Fact]
    public void Toy4PositionOnlyRoundTripConverges()
    {
        var chain = ArmKinematicsLibrary.Get("toy4");
        var solver = new InverseKinematics(chain, new IkOptions(OrientationWeight: 0));
        var random = new Random(43);
        var solution = new double[4];
        for (var trial = 0; trial < 500; trial++)
        {
            var reference = RandomConfiguration(random, chain, 0.1);
            var seed = reference.Select(v => v + Uniform(random, -0.3, 0.3)).ToArray();
            chain.Forward(reference, out var target);

            var result = solver.Solve(target, seed, solution);

            Assert.True(result.Status == IkStatus.Converged, $"trial {trial}: {result}");
            chain.Forward(solution, out var reached);
            Assert.True(Errors(reached, target).Position < PositionTolerance, $"trial {trial}: {Errors(reached, target).Position} m from the target");
            AssertInsideLimits(chain, solution);
        }
    }

    [Fact]
    public void SolveMayWriteTheSolutionOverTheSeed()
    {
        var chain = Ur5e;
        var solver = new InverseKinematics(chain);
        var joints = (double[])Home.Clone();
        var target = DownAt(0.4, -0.1, 0.1, 0.3);
        var result = solver.Solve(target, joints, joints);
        Assert.Equal(IkStatus.Converged, result.Status);
        AssertReaches(chain, joints, target, "in place");
    }

    [Fact]
    public void ASeedOnTheTargetConvergesWithoutAStep()
    {
        var solver = new InverseKinematics(Ur5e);
        Ur5e.Forward(Home, out var target);
        var solution = new double[6];
        var result = solver.Solve(target, Home, solution);
        Assert.Equal((IkStatus.Converged, 0), (result.Status, result.Iterations));
        Assert.Equal(Home, solution);
    }

    [Fact]
    public void InvalidInputIsRefusedWithoutThrowingOrWriting()
    {
        var solver = new InverseKinematics(Ur5e);
        var target = DownAt(0.4, 0, 0.2, 0);
        var solution = new double[6];
        Array.Fill(solution, 7.0);
        var nanSeed = (double[])Home.Clone();
        nanSeed[3] = double.NaN;
        var nanTarget = target;
        nanTarget.R11 = double.NaN;

        Assert.Equal(IkStatus.InvalidInput, solver.Solve(target, Home.AsSpan(0, 5), solution).Status);
        Assert.Equal(IkStatus.InvalidInput, solver.Solve(target, Home, new double[7]).Status);
        Assert.Equal(IkStatus.InvalidInput, solver.Solve(target, nanSeed, solution).Status);
        Assert.Equal(IkStatus.InvalidInput, solver.Solve(nanTarget, Home, solution).Status);
        Assert.All(solution, v => Assert.Equal(7.0, v));
    }

    [Fact]
    public void SeedsOutsideTheLimitsAreClampedAndTheSolutionStaysInside()
    {
        var chain = ArmKinematicsLibrary.Get("toy4");
        var solver = new InverseKinematics(chain, new IkOptions(OrientationWeight: 0));
        var solution = new double[4];
        // A target behind the base needs yaw beyond its ±1.6 rad range; the seed is out of range too.
        var target = Pose.FromXyzRpy(-0.4, 0.05, 0.3, 0, 0, 0);
        var result = solver.Solve(target, [3, -2, 4, 0], solution);
        Assert.Equal(IkStatus.NotConverged, result.Status);
        AssertInsideLimits(chain, solution);
    }

    [Fact]
    public void DefaultOptionsAreFilledInAndBadOnesRefused()
    {
        var expected = new IkOptions(50, 1e-4, 1e-3, 0.05, 1.0, 0.3);
        Assert.Equal(expected, new IkOptions());
        Assert.Equal(expected, new InverseKinematics(Ur5e).Options);
        Assert.Equal(expected with { MaxIterations = 5 }, new InverseKinematics(Ur5e, new IkOptions { MaxIterations = 5 }).Options);
        // From default(IkOptions), a zero field takes its default, except OrientationWeight where 0 means position only.
        Assert.Equal(expected with { Damping = 0.2, OrientationWeight = 0 }, new InverseKinematics(Ur5e, default(IkOptions) with { Damping = 0.2 }).Options);

        Assert.Contains("IkOptions.Damping", Assert.Throws<ArgumentException>(() => new InverseKinematics(Ur5e, new IkOptions(Damping: -1))).Message);
        Assert.Contains("IkOptions.OrientationWeight", Assert.Throws<ArgumentException>(() => new InverseKinematics(Ur5e, new IkOptions(OrientationWeight: double.NaN))).Message);
        Assert.Contains("IkOptions.MaxIterations", Assert.Throws<ArgumentException>(() => new InverseKinematics(Ur5e, new IkOptions(MaxIterations: -3))).Message);
    }

    [Fact]
    public void MaxIterationsBoundsTheWork()
    {
        var solver = new InverseKinematics(Ur5e, new IkOptions(MaxIterations: 2));
        var result = solver.Solve(DownAt(0.3, -0.2, 0.05, 1.0), Home, new double[6]);
        Assert.Equal(IkStatus.NotConverged, result.Status);
        Assert.Equal(2, result.Iterations);
    }

    private static void AssertReaches(KinematicChain chain, double[] solution, in Pose target, string context)
    {
        chain.Forward(solution, out var reached);
        var (position, orientation) = Errors(reached, target);
        Assert.True(position < PositionTolerance && orientation < OrientationTolerance, $"{context}: {position:E2} m, {orientation:E2} rad from the target");
        AssertInsideLimits(chain, solution);
    }

    private static void AssertInsideLimits(KinematicChain chain, double[] solution)
    {
        for (var i = 0; i < solution.Length; i++)
        {
            Assert.True(double.IsFinite(solution[i]), $"joint {i} is {solution[i]}");
            Assert.InRange(solution[i], chain.Joints[i].PositionMin, chain.Joints[i].PositionMax);
        }
    }
}
