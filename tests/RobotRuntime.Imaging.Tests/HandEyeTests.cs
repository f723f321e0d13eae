namespace RobotRuntime.Imaging.Tests;

/// <summary>
/// Hand-eye calibration on views rendered from a known camera mounting: the board is fixed in the
/// arm's base frame, the camera sits at a chosen pose on the gripper, and for each view the gripper
/// pose is what puts the camera where the rendered view was taken from. The mounting found must be
/// the chosen one: within 3 mm and 0.5° (corners carry the renderer's sub-pixel error).
/// </summary>
public sealed class HandEyeTests
{
    private static readonly Chessboard Board = new(9, 6, 0.025);
    private static readonly CameraCalibration Camera = new()
    {
        Width = 320, Height = 240, Fx = 300, Fy = 296, Cx = 158, Cy = 123, Distortion = [-0.22, 0.06, 0, 0, 0],
    };

    private static double Distance(double[] a, double[] b) => Math.Sqrt(Enumerable.Range(0, 3).Sum(i => (a[i] - b[i]) * (a[i] - b[i])));

    [Fact]
    public void TheCameraMountingFoundIsTheOneTheViewsWereRenderedWith()
    {
        var cameraToGripper = new RigidPose([0.1, -0.2, 0.05], [0.03, -0.02, 0.08]);
        var boardInBase = new RigidPose([0.2, 0.1, -0.3], [0.5, 0.1, 0.0]);
        var random = new Random(9);
        var gripperPoses = new List<RigidPose>();
        var boardViews = new List<RigidPose>();
        for (var i = 0; i < 12; i++)
        {
            var boardInCamera = new RigidPose(
                [(random.NextDouble() - 0.5) * 0.9, (random.NextDouble() - 0.5) * 0.9, (random.NextDouble() - 0.5) * 0.8],
                [-0.1 + (random.NextDouble() - 0.5) * 0.06, -0.065 + (random.NextDouble() - 0.5) * 0.05, 0.3 + random.NextDouble() * 0.1]);
            var image = SyntheticChessboard.Render(Board, Camera, boardInCamera.Rotation, boardInCamera.Translation);
            if (Calibrator.FindCorners(image, Camera.Width, Camera.Height, Board) is not { } corners)
                continue;
            // base ← board = (base ← gripper)(gripper ← camera)(camera ← board): the gripper pose of this view.
            gripperPoses.Add(boardInBase.Then(boardInCamera.Inverse()).Then(cameraToGripper.Inverse()));
            boardViews.Add(HandEye.BoardInCamera(corners, Board, Camera));
        }
        Assert.True(gripperPoses.Count >= 9, $"the board was found in {gripperPoses.Count} of 12 views");

        var found = HandEye.Calibrate(gripperPoses, boardViews);

        Assert.InRange(Distance(found.CameraToGripper.Translation, cameraToGripper.Translation), 0, 0.003);
        var rotationError = found.CameraToGripper.Inverse().Then(cameraToGripper).Rotation;
        Assert.InRange(Math.Sqrt(rotationError.Sum(r => r * r)) * 180 / Math.PI, 0, 0.5);
        Assert.InRange(found.SpreadMetres, 0, 0.005);
        Assert.Equal(gripperPoses.Count, found.Views);
    }

    [Fact]
    public void PosesComposeAndInvertAsRigidTransforms()
    {
        var a = new RigidPose([0.3, -0.1, 0.2], [0.1, 0.2, 0.3]);
        var identity = a.Then(a.Inverse());
        Assert.InRange(Math.Sqrt(identity.Rotation.Sum(r => r * r)), 0, 1e-9);
        Assert.InRange(Math.Sqrt(identity.Translation.Sum(t => t * t)), 0, 1e-9);
        Assert.Contains("at least 3 views", Assert.Throws<ArgumentException>(() => HandEye.Calibrate([a, a], [a, a])).Message);
    }
}
