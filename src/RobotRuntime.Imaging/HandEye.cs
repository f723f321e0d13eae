using System.Text.Json;
using OpenCvSharp;

namespace RobotRuntime.Imaging;

/// <summary>A rigid transform: a rotation (Rodrigues vector, radians) and a translation (metres).</summary>
/// <param name="Rotation">Rotation vector (axis × angle).</param>
/// <param name="Translation">Translation, metres.</param>
public sealed record RigidPose(double[] Rotation, double[] Translation)
{
    /// <summary>The 4×4 homogeneous matrix.</summary>
    public double[,] Matrix()
    {
        using var vector = Mat.FromArray(Rotation);
        using var rotation = new Mat();
        Cv2.Rodrigues(vector, rotation);
        var m = new double[4, 4];
        for (var r = 0; r < 3; r++)
        {
            for (var c = 0; c < 3; c++)
                m[r, c] = rotation.At<double>(r, c);
            m[r, 3] = Translation[r];
        }
        m[3, 3] = 1;
        return m;
    }

    /// <summary>The pose of a 4×4 homogeneous matrix.</summary>
    public static RigidPose FromMatrix(double[,] m)
    {
        using var rotation = new Mat(3, 3, MatType.CV_64FC1);
        for (var r = 0; r < 3; r++)
            for (var c = 0; c < 3; c++)
                rotation.Set(r, c, m[r, c]);
        using var vector = new Mat();
        Cv2.Rodrigues(rotation, vector);
        return new RigidPose([vector.At<double>(0), vector.At<double>(1), vector.At<double>(2)], [m[0, 3], m[1, 3], m[2, 3]]);
    }

    /// <summary>This pose followed by <paramref name="next"/> (this · next).</summary>
    public RigidPose Then(RigidPose next) => FromMatrix(Multiply(Matrix(), next.Matrix()));

    /// <summary>The inverse transform.</summary>
    public RigidPose Inverse()
    {
        var m = Matrix();
        var inverse = new double[4, 4];
        for (var r = 0; r < 3; r++)
        {
            for (var c = 0; c < 3; c++)
                inverse[r, c] = m[c, r];
            inverse[r, 3] = -(m[0, r] * m[0, 3] + m[1, r] * m[1, 3] + m[2, r] * m[2, 3]);
        }
        inverse[3, 3] = 1;
        return FromMatrix(inverse);
    }

    private static double[,] Multiply(double[,] a, double[,] b)
    {
        var m = new double[4, 4];
        for (var r = 0; r < 4; r++)
            for (var c = 0; c < 4; c++)
                for (var k = 0; k < 4; k++)
                    m[r, c] += a[r, k] * b[k, c];
        return m;
    }
}

/// <summary>Where a wrist camera sits on the gripper: the camera's pose in the gripper's frame, from <see cref="HandEye.Calibrate"/>.</summary>
public sealed record HandEyeCalibration
{
    /// <summary>The camera's pose in the gripper frame (camera → gripper).</summary>
    public required RigidPose CameraToGripper { get; init; }

    /// <summary>Views used.</summary>
    public int Views { get; init; }

    /// <summary>How far apart the board's position in the arm's base frame comes out across views (largest distance from their mean), metres: 0 for perfect data.</summary>
    public double SpreadMetres { get; init; }

    /// <summary>Saves as JSON (temporary file, then rename).</summary>
    public void Save(string path)
    {
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
        File.Move(path + ".tmp", path, overwrite: true);
    }
}

/// <summary>
/// Hand-eye calibration of a wrist camera (OpenCV's <c>calibrateHandEye</c>, Tsai's method): from the
/// gripper's pose in the arm's base frame and the board's pose in the camera frame at several views,
/// the camera's pose on the gripper.
/// </summary>
public static class HandEye
{
    /// <summary>The board's pose in the camera frame from its corners in a view (solvePnP with the camera's intrinsics).</summary>
    public static RigidPose BoardInCamera(Point2f[] corners, Chessboard board, CameraCalibration camera)
    {
        var matrix = camera.CameraMatrix();
        var rotation = new double[3];
        var translation = new double[3];
        Cv2.SolvePnP(board.Corners(), corners, matrix, camera.Distortion, ref rotation, ref translation);
        return new RigidPose(rotation, translation);
    }

    /// <summary>The camera's pose on the gripper from paired views.</summary>
    /// <exception cref="ArgumentException">Fewer than 3 views, or lists of different lengths.</exception>
    public static HandEyeCalibration Calibrate(IReadOnlyList<RigidPose> gripperInBase, IReadOnlyList<RigidPose> boardInCamera)
    {
        if (gripperInBase.Count != boardInCamera.Count)
            throw new ArgumentException($"{gripperInBase.Count} gripper poses for {boardInCamera.Count} board views; each view needs both");
        if (gripperInBase.Count < 3)
            throw new ArgumentException($"hand-eye calibration needs at least 3 views with different gripper orientations, got {gripperInBase.Count}");
        Mat RotationOf(RigidPose p)
        {
            using var vector = Mat.FromArray(p.Rotation);
            var rotation = new Mat();
            Cv2.Rodrigues(vector, rotation);
            return rotation;
        }
        var rg = gripperInBase.Select(RotationOf).ToList();
        var tg = gripperInBase.Select(p => Mat.FromArray(p.Translation)).ToList();
        var rc = boardInCamera.Select(RotationOf).ToList();
        var tc = boardInCamera.Select(p => Mat.FromArray(p.Translation)).ToList();
        try
        {
            using var rotation = new Mat();
            using var translation = new Mat();
            Cv2.CalibrateHandEye(rg, tg, rc, tc, rotation, translation, HandEyeCalibrationMethod.TSAI);
            var m = new double[4, 4];
            for (var r = 0; r < 3; r++)
            {
                for (var c = 0; c < 3; c++)
                    m[r, c] = rotation.At<double>(r, c);
                m[r, 3] = translation.At<double>(r);
            }
            m[3, 3] = 1;
            var cameraToGripper = RigidPose.FromMatrix(m);
            // The board does not move: its position in the base frame should agree across views.
            var boardPositions = gripperInBase.Zip(boardInCamera, (g, b) => g.Then(cameraToGripper).Then(b).Translation).ToList();
            var mean = Enumerable.Range(0, 3).Select(i => boardPositions.Average(p => p[i])).ToArray();
            var spread = boardPositions.Max(p => Math.Sqrt(Enumerable.Range(0, 3).Sum(i => (p[i] - mean[i]) * (p[i] - mean[i]))));
            return new HandEyeCalibration { CameraToGripper = cameraToGripper, Views = gripperInBase.Count, SpreadMetres = spread };
        }
        finally
        {
            foreach (var mat in rg.Concat(tg).Concat(rc).Concat(tc))
                mat.Dispose();
        }
    }
}
