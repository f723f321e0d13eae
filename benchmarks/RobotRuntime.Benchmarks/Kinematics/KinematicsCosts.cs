using System.Diagnostics;
using System.Globalization;
using RobotRuntime.Kinematics;

namespace RobotRuntime.Benchmarks.Kinematics;

/// <summary>
/// What the arm kinematics cost on one core: UR5e Forward and Jacobian (timed in batches of 100
/// calls, the Stopwatch read costing about as much as one call), and InverseKinematics.Solve in the
/// control-loop case: the tool, pointing down, tracks a circle of radius 0.1 m at z = 0.2 m, moving
/// 1 cm per call, each solve seeded with the previous solution; then the same for the toy4 arm
/// (position only), and cold solves from the UR5e's home to random tabletop targets. Medians and p99
/// per call, bytes allocated per call, IK iterations and the converged share. The cases run
/// interleaved in 10 rounds after a warm-up of a second each, so that a busy machine slows them alike.
/// Usage: kinematics [calls]
/// </summary>
public static class KinematicsCosts
{
    public const string Verb = "kinematics";

    private const int Batch = 100;
    private const int Rounds = 10;

    public static int Run(string[] args)
    {
        var calls = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20_000;
        var ur5e = ArmKinematicsLibrary.Get("ur5e");
        double[] home = [0, -Math.PI / 2, Math.PI / 2, -Math.PI / 2, -Math.PI / 2, 0];
        var jacobian = new double[36];

        var cases = new List<Case>
        {
            new("ur5e Forward", calls, Batch, () => ur5e.Forward(home, out _), null),
            new("ur5e Jacobian", calls, Batch, () => ur5e.Jacobian(home, jacobian), null),
        };

        // Tool pointing down, tool x along world −y: the home pose's orientation.
        var down = new Pose { R01 = -1, R10 = -1, R22 = -1 };
        var ur5eSolver = new InverseKinematics(ur5e);
        var joints = (double[])home.Clone();
        var step = 0;
        var stats = new SolveStats();
        // Move onto the circle first, so that every timed call is a 1 cm step.
        ur5eSolver.Solve(CirclePoint(down, 0), joints, joints);
        cases.Add(new("ur5e Solve, tracking 1 cm/call", calls, 1, () =>
        {
            step++;
            stats.Add(ur5eSolver.Solve(CirclePoint(down, step), joints, joints));
        }, stats));

        var toy4 = ArmKinematicsLibrary.Get("toy4");
        var toySolver = new InverseKinematics(toy4, new IkOptions(OrientationWeight: 0));
        var toyJoints = new double[4];
        Span<double> start = [0, 0.8, 1.2, 1.1];
        start.CopyTo(toyJoints);
        var toyStep = 0;
        var toyStats = new SolveStats();
        toySolver.Solve(CirclePoint(Pose.Identity, 0), toyJoints, toyJoints);
        cases.Add(new("toy4 Solve (position only), tracking 1 cm/call", calls, 1, () =>
        {
            toyStep++;
            toyStats.Add(toySolver.Solve(CirclePoint(Pose.Identity, toyStep), toyJoints, toyJoints));
        }, toyStats));

        var random = new Random(7);
        var targets = new Pose[1024];
        for (var i = 0; i < targets.Length; i++)
        {
            var target = down;
            target.X = 0.25 + 0.3 * random.NextDouble();
            target.Y = -0.25 + 0.5 * random.NextDouble();
            target.Z = 0.03 + 0.27 * random.NextDouble();
            targets[i] = target;
        }
        var solution = new double[6];
        var cold = 0;
        var coldStats = new SolveStats();
        cases.Add(new("ur5e Solve, cold from home to a table target", calls / 4, 1, () =>
        {
            coldStats.Add(ur5eSolver.Solve(targets[cold++ % targets.Length], home, solution));
        }, coldStats));

        foreach (var each in cases)
            each.WarmUp();
        for (var round = 0; round < Rounds; round++)
        {
            foreach (var each in cases)
                each.RunRound(round);
        }
        foreach (var each in cases)
            Console.WriteLine(each.Summary());
        return 0;
    }

    /// <summary>A point on the circle of radius 0.1 m around (0.45, 0, 0.2), 0.1 rad (1 cm) per step.</summary>
    private static Pose CirclePoint(Pose orientation, int step)
    {
        var angle = 0.1 * step;
        orientation.X = 0.45 + 0.1 * Math.Cos(angle);
        orientation.Y = 0.1 * Math.Sin(angle);
        orientation.Z = 0.2;
        return orientation;
    }

    private sealed class SolveStats
    {
        public int Calls, Converged;
        public long Iterations;

        public void Add(IkResult result)
        {
            Calls++;
            Iterations += result.Iterations;
            if (result.Status == IkStatus.Converged)
                Converged++;
        }

        public void Reset() => (Calls, Converged, Iterations) = (0, 0, 0);

        public string Text() => string.Create(CultureInfo.InvariantCulture,
            $", \"iterations_mean\": {Iterations / (double)Calls:F2}, \"converged\": {Converged / (double)Calls:F4}");
    }

    /// <summary>One timed operation: samples of <c>batch</c> calls each, taken over the rounds.</summary>
    private sealed class Case(string what, int calls, int batch, Action operation, SolveStats? stats)
    {
        private readonly double[] _samples = new double[Math.Max(Rounds, calls / batch / Rounds * Rounds)];
        private long _allocated;

        /// <summary>
        /// Calls the operation for a second: long enough for tiered compilation to replace the
        /// tier-0 code (2,000 calls were not; the first rounds then timed the solve at 8 µs, not 1.5).
        /// </summary>
        public void WarmUp()
        {
            var started = Stopwatch.GetTimestamp();
            while (Stopwatch.GetElapsedTime(started).TotalSeconds < 1)
            {
                for (var i = 0; i < 100; i++)
                    operation();
            }
            stats?.Reset(); // the warm-up's calls stay out of the IK figures
        }

        public void RunRound(int round)
        {
            var perRound = _samples.Length / Rounds;
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var s = round * perRound; s < (round + 1) * perRound; s++)
            {
                var started = Stopwatch.GetTimestamp();
                for (var i = 0; i < batch; i++)
                    operation();
                // Raw ticks: a TimeSpan would round to 0.1 µs.
                _samples[s] = (Stopwatch.GetTimestamp() - started) * 1e6 / Stopwatch.Frequency / batch;
            }
            _allocated += GC.GetAllocatedBytesForCurrentThread() - before;
        }

        public string Summary()
        {
            Array.Sort(_samples);
            var timed = _samples.Length * batch;
            return string.Create(CultureInfo.InvariantCulture,
                $"{{\"what\": \"{what}\", \"calls\": {timed}, \"median_us\": {_samples[_samples.Length / 2]:F3}, \"p99_us\": {_samples[(int)(_samples.Length * 0.99)]:F3}, \"bytes_per_call\": {_allocated / (double)timed:F1}{stats?.Text()}}}");
        }
    }
}
