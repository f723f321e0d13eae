using RobotRuntime.Kinematics;
using static RobotRuntime.Core.Tests.Kinematics.KinematicsTestData;

namespace RobotRuntime.Core.Tests.Kinematics;

public class PoseTests
{
    // Matrices here are written out by hand from Rx, Ry, Rz; exact up to sin/cos rounding, so 1e-15.
    private const double Exact = 1e-15;

    public static TheoryData<double, double, double, double[,]> RpyCases => new()
    {
        // Rx(π/2): y → z, z → −y.
        { Math.PI / 2, 0, 0, new double[,] { { 1, 0, 0 }, { 0, 0, -1 }, { 0, 1, 0 } } },
        // Ry(π/2): z → x, x → −z.
        { 0, Math.PI / 2, 0, new double[,] { { 0, 0, 1 }, { 0, 1, 0 }, { -1, 0, 0 } } },
        // Rz(π/2): x → y, y → −x.
        { 0, 0, Math.PI / 2, new double[,] { { 0, -1, 0 }, { 1, 0, 0 }, { 0, 0, 1 } } },
        // Rz(π/2)·Rx(π/2) = [[0,-1,0],[1,0,0],[0,0,1]]·[[1,0,0],[0,0,-1],[0,1,0]].
        { Math.PI / 2, 0, Math.PI / 2, new double[,] { { 0, 0, 1 }, { 1, 0, 0 }, { 0, 1, 0 } } },
        // Ry(π/2)·Rx(π/2) = [[0,0,1],[0,1,0],[-1,0,0]]·[[1,0,0],[0,0,-1],[0,1,0]]; the other order, Rx·Ry, would give [[0,0,1],[1,0,0],[0,1,0]].
        { Math.PI / 2, Math.PI / 2, 0, new double[,] { { 0, 1, 0 }, { 0, 0, -1 }, { -1, 0, 0 } } },
        // Rx(0.3) alone, with c = cos 0.3, s = sin 0.3: [[1,0,0],[0,c,-s],[0,s,c]].
        { 0.3, 0, 0, new double[,] { { 1, 0, 0 }, { 0, Math.Cos(0.3), -Math.Sin(0.3) }, { 0, Math.Sin(0.3), Math.Cos(0.3) } } },
    };

    [Theory]
    [MemberData(nameof(RpyCases))]
    public void FromXyzRpyMatchesHandComputedMatrices(double roll, double pitch, double yaw, double[,] rotation)
    {
        var pose = Pose.FromXyzRpy(0.1, -0.2, 0.3, roll, pitch, yaw);
        AssertPoseEqual(Matrix(0.1, -0.2, 0.3, rotation), pose, Exact);
    }

    [Fact]
    public void ToRpyInvertsFromXyzRpyIncludingGimbalLock()
    {
        var random = new Random(11);
        for (var i = 0; i < 200; i++)
        {
            double roll = Uniform(random, -3, 3), pitch = Uniform(random, -1.5, 1.5), yaw = Uniform(random, -3, 3);
            var pose = Pose.FromXyzRpy(0, 0, 0, roll, pitch, yaw);
            pose.ToRpy(out var r, out var p, out var y);
            Assert.Equal(roll, r, 1e-12);
            Assert.Equal(pitch, p, 1e-12);
            Assert.Equal(yaw, y, 1e-12);
        }
        // At pitch = π/2 only roll − yaw is defined; the rebuilt matrix must still be the same.
        var locked = Pose.FromXyzRpy(0, 0, 0, 0.4, Math.PI / 2, -0.7);
        locked.ToRpy(out var lockedRoll, out var lockedPitch, out var lockedYaw);
        AssertPoseEqual(locked, Pose.FromXyzRpy(0, 0, 0, lockedRoll, lockedPitch, lockedYaw), 1e-12);
    }

    [Fact]
    public void QuaternionOfAQuarterTurnAboutZIsTheHandWrittenMatrix()
    {
        // q = (cos π/4, 0, 0, sin π/4) is Rz(π/2); scaled by 3 to check the normalisation.
        var s = Math.Sqrt(0.5) * 3;
        var pose = Pose.FromQuaternion(1, 2, 3, s, 0, 0, s);
        AssertPoseEqual(Matrix(1, 2, 3, new double[,] { { 0, -1, 0 }, { 1, 0, 0 }, { 0, 0, 1 } }), pose, Exact);
    }

    [Fact]
    public void QuaternionRoundTripsThroughTheMatrixWithPositiveW()
    {
        var random = new Random(12);
        for (var i = 0; i < 2000; i++)
        {
            double w = Gaussian(random), x = Gaussian(random), y = Gaussian(random), z = Gaussian(random);
            if (i % 4 == 0)
                w *= 1e-3; // near a half turn, where the trace is about −1 and Shepperd's other branches are taken
            var norm = Math.Sqrt(w * w + x * x + y * y + z * z);
            var sign = w < 0 ? -1 : 1;
            var pose = Pose.FromQuaternion(0, 0, 0, w, x, y, z);
            pose.ToQuaternion(out var qw, out var qx, out var qy, out var qz);
            Assert.True(qw >= 0);
            // Tolerance 1e-12: a dozen roundings of numbers of order 1.
            Assert.Equal(sign * w / norm, qw, 1e-12);
            Assert.Equal(sign * x / norm, qx, 1e-12);
            Assert.Equal(sign * y / norm, qy, 1e-12);
            Assert.Equal(sign * z / norm, qz, 1e-12);
        }
    }

    [Fact]
    public void ZeroQuaternionGivesNaNInsteadOfThrowing()
    {
        var pose = Pose.FromQuaternion(0, 0, 0, 0, 0, 0, 0);
        Assert.False(pose.IsFinite());
    }

    [Fact]
    public void MultiplyAndInverseSatisfyTheGroupIdentities()
    {
        var random = new Random(13);
        for (var i = 0; i < 200; i++)
        {
            var a = RandomPose(random);
            var b = RandomPose(random);
            AssertPoseEqual(Pose.Identity, Pose.Multiply(a, a.Inverse()), 1e-14, "a·a⁻¹");
            AssertPoseEqual(Pose.Identity, Pose.Multiply(a.Inverse(), a), 1e-14, "a⁻¹·a");
            AssertPoseEqual(a, Pose.Multiply(Pose.Identity, a), 0, "I·a");
            AssertPoseEqual(a, Pose.Multiply(a, Pose.Identity), 0, "a·I");
            AssertPoseEqual(Pose.Multiply(a, b).Inverse(), Pose.Multiply(b.Inverse(), a.Inverse()), 1e-14, "(a·b)⁻¹");
        }
    }

    [Fact]
    public void MultiplyAppliesTheRightPoseFirst()
    {
        // a = translate (1, 0, 0), b = Rz(π/2) with translation (0, 2, 0): a·b puts b's origin at (1, 2, 0);
        // b·a rotates a's offset (1, 0, 0) to (0, 1, 0) and adds (0, 2, 0): (0, 3, 0).
        var a = Pose.FromXyzRpy(1, 0, 0, 0, 0, 0);
        var b = Pose.FromXyzRpy(0, 2, 0, 0, 0, Math.PI / 2);
        var ab = Pose.Multiply(a, b);
        var ba = Pose.Multiply(b, a);
        Assert.Equal((1.0, 2.0, 0.0), (ab.X, ab.Y, ab.Z));
        Assert.Equal(0, ba.X, Exact);
        Assert.Equal(3, ba.Y, Exact);
    }

    [Fact]
    public void ApplyDeltaAndDifferenceUndoEachOther()
    {
        var random = new Random(14);
        Span<double> six = stackalloc double[6];
        for (var i = 0; i < 1000; i++)
        {
            var a = RandomPose(random);
            var b = RandomPose(random);
            Pose.Difference(a, b, six);
            AssertPoseEqual(b, Pose.ApplyDelta(a, six[0], six[1], six[2], six[3], six[4], six[5]), 1e-12, "ApplyDelta(a, b − a)");

            // A delta with angle up to 3.1 rad (below π, where the rotation vector is unique),
            // and every 5th one tiny, where Exp and Log switch to their series.
            var angle = i % 5 == 0 ? 1e-9 : Uniform(random, 0, 3.1);
            double ax = Gaussian(random), ay = Gaussian(random), az = Gaussian(random);
            var scale = angle / Math.Sqrt(ax * ax + ay * ay + az * az);
            double[] delta = [Uniform(random, -1, 1), Uniform(random, -1, 1), Uniform(random, -1, 1), ax * scale, ay * scale, az * scale];
            var moved = Pose.ApplyDelta(a, delta[0], delta[1], delta[2], delta[3], delta[4], delta[5]);
            Pose.Difference(a, moved, six);
            for (var k = 0; k < 6; k++)
                Assert.True(Math.Abs(delta[k] - six[k]) < 1e-10, $"Difference(a, ApplyDelta(a, δ))[{k}] = {six[k]}, δ = {delta[k]}");
        }
    }

    [Fact]
    public void DifferenceAndApplyDeltaTurnAboutBaseFrameAxes()
    {
        // a's orientation is Rx(π/2) (its own z axis points along world −y). Turning it by 0.2 rad
        // about WORLD z must read back as (0, 0, 0.2); a body-frame delta would read (0, 0.2, 0).
        var a = Pose.FromXyzRpy(0, 0, 0, Math.PI / 2, 0, 0);
        var b = Pose.Multiply(Pose.FromXyzRpy(0, 0, 0, 0, 0, 0.2), a);
        Span<double> six = stackalloc double[6];
        Pose.Difference(a, b, six);
        double[] expected = [0, 0, 0, 0, 0, 0.2];
        for (var k = 0; k < 6; k++)
            Assert.Equal(expected[k], six[k], 1e-14);
        AssertPoseEqual(b, Pose.ApplyDelta(a, 0, 0, 0, 0, 0, 0.2), Exact);
    }

    [Fact]
    public void DifferenceOfAHalfTurnHasAngleπ()
    {
        var a = Pose.Identity;
        var b = Pose.FromXyzRpy(0, 0, 0, Math.PI, 0, 0);
        Span<double> six = stackalloc double[6];
        Pose.Difference(a, b, six);
        Assert.Equal(Math.PI, Math.Abs(six[3]), 1e-12);
        Assert.Equal(0, six[4], 1e-12);
        Assert.Equal(0, six[5], 1e-12);
    }
}
