using RobotRuntime.Kinematics;

namespace RobotRuntime.Core.Tests.Kinematics;

/// <summary>Random poses and configurations (seeded) and pose comparisons for the kinematics tests.</summary>
internal static class KinematicsTestData
{
    /// <summary>A uniformly random rotation (normalised Gaussian quaternion) at a position in [−1, 1]³.</summary>
    public static Pose RandomPose(Random random)
    {
        double w = Gaussian(random), x = Gaussian(random), y = Gaussian(random), z = Gaussian(random);
        return Pose.FromQuaternion(Uniform(random, -1, 1), Uniform(random, -1, 1), Uniform(random, -1, 1), w, x, y, z);
    }

    /// <summary>Joint positions uniformly inside each joint's range shrunk by <paramref name="margin"/> at both ends.</summary>
    public static double[] RandomConfiguration(Random random, KinematicChain chain, double margin)
    {
        var q = new double[chain.JointCount];
        for (var i = 0; i < q.Length; i++)
            q[i] = Uniform(random, chain.Joints[i].PositionMin + margin, chain.Joints[i].PositionMax - margin);
        return q;
    }

    public static double Uniform(Random random, double low, double high) => low + (high - low) * random.NextDouble();

    public static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    public static double[] Entries(in Pose p) => [p.X, p.Y, p.Z, p.R00, p.R01, p.R02, p.R10, p.R11, p.R12, p.R20, p.R21, p.R22];

    /// <summary>Largest absolute difference over the twelve numbers.</summary>
    public static double MaxDifference(in Pose a, in Pose b)
    {
        var x = Entries(a);
        var y = Entries(b);
        var worst = 0.0;
        for (var i = 0; i < x.Length; i++)
            worst = Math.Max(worst, Math.Abs(x[i] - y[i]));
        return worst;
    }

    public static void AssertPoseEqual(in Pose expected, in Pose actual, double tolerance, string context = "")
    {
        var difference = MaxDifference(expected, actual);
        Assert.True(difference <= tolerance, $"{context} poses differ by {difference:E3} (> {tolerance:E1}):\n expected {expected}\n actual   {actual}");
    }

    /// <summary>A pose from a position and a rotation given row by row.</summary>
    public static Pose Matrix(double x, double y, double z, double[,] r) => new()
    {
        X = x, Y = y, Z = z,
        R00 = r[0, 0], R01 = r[0, 1], R02 = r[0, 2],
        R10 = r[1, 0], R11 = r[1, 1], R12 = r[1, 2],
        R20 = r[2, 0], R21 = r[2, 1], R22 = r[2, 2],
    };

    /// <summary>
    /// Translation error (m) and rotation angle (rad) between two poses, computed without the code
    /// under test: the angle from the trace of Rtarget·Rᵀ (cos θ = (trace − 1)/2, good to ~1e-8 rad
    /// near 0, enough for the 1e-3 rad tolerance).
    /// </summary>
    public static (double Position, double Orientation) Errors(in Pose actual, in Pose target)
    {
        double dx = target.X - actual.X, dy = target.Y - actual.Y, dz = target.Z - actual.Z;
        // trace(A·Bᵀ) is the sum of the element-wise products.
        var trace = target.R00 * actual.R00 + target.R01 * actual.R01 + target.R02 * actual.R02
            + target.R10 * actual.R10 + target.R11 * actual.R11 + target.R12 * actual.R12
            + target.R20 * actual.R20 + target.R21 * actual.R21 + target.R22 * actual.R22;
        return (Math.Sqrt(dx * dx + dy * dy + dz * dz), Math.Acos(Math.Clamp((trace - 1) / 2, -1, 1)));
    }

    /// <summary>
    /// Smallest singular value of the 6×N Jacobian at <paramref name="q"/> (rows in m and rad): the
    /// square root of the smallest eigenvalue of JᵀJ, by cyclic Jacobi rotations. Near 0 at a singular
    /// configuration (UR5e: elbow straight, wrist_2 at 0 or ±π, wrist centre over the base axis).
    /// </summary>
    public static double SmallestSingularValue(KinematicChain chain, ReadOnlySpan<double> q)
    {
        var n = chain.JointCount;
        var jacobian = new double[6 * n];
        chain.Jacobian(q, jacobian);
        var a = new double[n, n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                for (var r = 0; r < 6; r++)
                    a[i, j] += jacobian[r * n + i] * jacobian[r * n + j];
            }
        }
        for (var sweep = 0; sweep < 100; sweep++)
        {
            var off = 0.0;
            for (var i = 0; i < n; i++)
            {
                for (var j = i + 1; j < n; j++)
                    off += a[i, j] * a[i, j];
            }
            if (off < 1e-30)
                break;
            for (var p = 0; p < n; p++)
            {
                for (var r = p + 1; r < n; r++)
                {
                    if (a[p, r] == 0)
                        continue;
                    // The rotation that zeroes a[p, r] (Golub & Van Loan, symmetric Schur decomposition).
                    var theta = (a[r, r] - a[p, p]) / (2 * a[p, r]);
                    var t = (theta >= 0 ? 1 : -1) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    var c = 1 / Math.Sqrt(t * t + 1);
                    var s = t * c;
                    for (var k = 0; k < n; k++)
                    {
                        double kp = a[k, p], kr = a[k, r];
                        a[k, p] = c * kp - s * kr;
                        a[k, r] = s * kp + c * kr;
                    }
                    for (var k = 0; k < n; k++)
                    {
                        double pk = a[p, k], rk = a[r, k];
                        a[p, k] = c * pk - s * rk;
                        a[r, k] = s * pk + c * rk;
                    }
                }
            }
        }
        var smallest = double.PositiveInfinity;
        for (var i = 0; i < n; i++)
            smallest = Math.Min(smallest, a[i, i]);
        return Math.Sqrt(Math.Max(0, smallest));
    }
}
