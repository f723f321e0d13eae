using RobotRuntime.Cameras;
using RobotRuntime.Imaging;
using RobotRuntime.Vision.Cameras;
using RobotRuntime.Vision.Recording;

namespace RobotRuntime.Cli.Tests;

/// <summary>
/// rr calibrate on a video of chessboards rendered with known intrinsics and distortion
/// (SyntheticChessboard; stored as Motion-JPEG at quality 95, so corners carry JPEG's loss), and the
/// calibration applied to a camera through its settings.
/// </summary>
public sealed class CalibrateCommandTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-calibrate-").FullName;
    private static readonly Chessboard Board = new(9, 6, 0.025);
    private static readonly CameraCalibration Truth = new()
    {
        Width = 320, Height = 240, Fx = 300, Fy = 296, Cx = 158, Cy = 123, Distortion = [-0.22, 0.06, 0, 0, 0],
    };

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string RecordBoards()
    {
        var recording = Path.Combine(_folder, "boards");
        var random = new Random(11);
        using (var recorder = new CameraRecorder(recording, "cal", 320, 240, framesPerSecond: 30, jpegQuality: 95))
        {
            for (var i = 0; i < 14; i++)
            {
                double[] rotation = [(random.NextDouble() - 0.5) * 0.8, (random.NextDouble() - 0.5) * 0.8, (random.NextDouble() - 0.5) * 0.4];
                double[] translation = [-0.1 + (random.NextDouble() - 0.5) * 0.08, -0.065 + (random.NextDouble() - 0.5) * 0.06, 0.3 + random.NextDouble() * 0.1];
                var frame = new CameraFrame(320, 240) { Sequence = i + 1 };
                SyntheticChessboard.Render(Board, Truth, rotation, translation).CopyTo(frame.Pixels, 0);
                recorder.Write(frame);
            }
        }
        return Recordings.VideoPath(recording, "cal");
    }

    [Fact]
    public void CalibratingFromAVideoOfTheBoardFindsTheIntrinsicsItWasRenderedWith()
    {
        var video = RecordBoards();
        var file = Path.Combine(_folder, "cal.json");

        var run = AgentCommandTests.Rr("calibrate", "--camera", $"cal=file,path={video},size=320x240", "--views", "12", "--interval", "0", "--seconds", "60", "--out", file);

        Assert.True(run.Exit == 0, run.Error + run.Output);
        Assert.Contains("rr calibrate: view 12 of 12", run.Output);
        var found = CameraCalibration.Load(file);
        // JPEG at quality 95 moves corners by a fraction of a pixel: 3 % on the focal lengths, 4 px on the centre.
        Assert.InRange(Math.Abs(found.Fx / Truth.Fx - 1), 0, 0.03);
        Assert.InRange(Math.Abs(found.Fy / Truth.Fy - 1), 0, 0.03);
        Assert.InRange(Math.Abs(found.Cx - Truth.Cx), 0, 4);
        Assert.InRange(Math.Abs(found.Cy - Truth.Cy), 0, 4);
        Assert.InRange(found.Distortion[0], Truth.Distortion[0] - 0.06, Truth.Distortion[0] + 0.06);
        Assert.InRange(found.RmsPixels, 0, 1);
        Assert.Contains("chessboard 9x6, 0.025 m, camera cal", found.Source);
    }

    [Fact]
    public void AChArUcoBoardPrintsAndCalibratesFromPartialViews()
    {
        var png = Path.Combine(_folder, "board.png");
        var print = AgentCommandTests.Rr("calibrate", "--board", "charuco:7x5:0.03:0.022", "--write-board", png);
        Assert.True(print.Exit == 0, print.Error);
        var (_, width, height) = ImageCodecs.Decode(File.ReadAllBytes(png), png);
        Assert.Equal((700, 500), (width, height));

        var target = CharucoTarget.Parse("charuco:7x5:0.03:0.022");
        using var texture = target.Image(60);
        var recording = Path.Combine(_folder, "charuco");
        var random = new Random(3);
        using (var recorder = new CameraRecorder(recording, "wrist", 320, 240, framesPerSecond: 30, jpegQuality: 95))
        {
            for (var i = 0; i < 14; i++)
            {
                double[] rotation = [(random.NextDouble() - 0.5) * 0.8, (random.NextDouble() - 0.5) * 0.8, (random.NextDouble() - 0.5) * 0.4];
                double[] translation = [-0.105 + (i % 2 == 0 ? 0 : 0.06) + (random.NextDouble() - 0.5) * 0.04, -0.075 + (random.NextDouble() - 0.5) * 0.04, 0.3 + random.NextDouble() * 0.08];
                var frame = new CameraFrame(320, 240) { Sequence = i + 1 };
                SyntheticView.Render(texture, 7 * 0.03, Truth, rotation, translation).CopyTo(frame.Pixels, 0);
                recorder.Write(frame);
            }
        }
        var file = Path.Combine(_folder, "wrist.json");

        var run = AgentCommandTests.Rr("calibrate", "--camera", $"wrist=file,path={Recordings.VideoPath(recording, "wrist")},size=320x240",
            "--board", "charuco:7x5:0.03:0.022", "--views", "10", "--interval", "0", "--out", file);

        Assert.True(run.Exit == 0, run.Error + run.Output);
        Assert.Matches(@"view 10 of 10 \(frame \d+, \d+ of 24 corners\)", run.Output);
        var found = CameraCalibration.Load(file);
        Assert.InRange(Math.Abs(found.Fx / Truth.Fx - 1), 0, 0.04);
        Assert.InRange(Math.Abs(found.Cx - Truth.Cx), 0, 5);
        Assert.Contains("ChArUco 7x5", found.Source);
    }

    [Fact]
    public void HandEyeFromARecordingAndItsGripperPosesFindsTheCamerasMounting()
    {
        // The board fixed in the base frame; the camera at a chosen pose on the gripper; each view's
        // gripper pose is what puts the camera where the view was rendered from.
        var cameraToGripper = new RigidPose([0.1, -0.2, 0.05], [0.03, -0.02, 0.08]);
        var boardInBase = new RigidPose([0.2, 0.1, -0.3], [0.5, 0.1, 0.0]);
        var recording = Path.Combine(_folder, "hand-eye");
        var csv = new List<string> { "frame,x,y,z,rx,ry,rz" };
        var random = new Random(9);
        using (var recorder = new CameraRecorder(recording, "wrist", 320, 240, framesPerSecond: 30, jpegQuality: 95))
        {
            for (var i = 0; i < 12; i++)
            {
                var boardInCamera = new RigidPose(
                    [(random.NextDouble() - 0.5) * 0.9, (random.NextDouble() - 0.5) * 0.9, (random.NextDouble() - 0.5) * 0.8],
                    [-0.1 + (random.NextDouble() - 0.5) * 0.06, -0.065 + (random.NextDouble() - 0.5) * 0.05, 0.3 + random.NextDouble() * 0.1]);
                var frame = new CameraFrame(320, 240) { Sequence = i + 1 };
                SyntheticChessboard.Render(Board, Truth, boardInCamera.Rotation, boardInCamera.Translation).CopyTo(frame.Pixels, 0);
                recorder.Write(frame);
                var gripper = boardInBase.Then(boardInCamera.Inverse()).Then(cameraToGripper.Inverse());
                csv.Add(string.Join(",", new[] { (double)i }.Concat(gripper.Translation).Concat(gripper.Rotation).Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
            }
        }
        var poses = Path.Combine(_folder, "poses.csv");
        File.WriteAllLines(poses, csv);
        var intrinsics = Path.Combine(_folder, "wrist.json");
        Truth.Save(intrinsics);
        var output = Path.Combine(_folder, "hand-eye.json");

        var run = AgentCommandTests.Rr("calibrate", "--camera", $"wrist=file,path={Recordings.VideoPath(recording, "wrist")},size=320x240",
            "--hand-eye", poses, "--intrinsics", intrinsics, "--board", "9x6", "--square", "0.025", "--out", output);

        Assert.True(run.Exit == 0, run.Error + run.Output);
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(output));
        var translation = json.RootElement.GetProperty("cameraToGripper").GetProperty("translation").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        // Through Motion-JPEG at quality 95: within 5 mm of the mounting the views were rendered with.
        Assert.InRange(Math.Sqrt(translation.Zip(cameraToGripper.Translation, (a, b) => (a - b) * (a - b)).Sum()), 0, 0.005);
        Assert.Contains("camera on the gripper at (", run.Output);

        var badPoses = Path.Combine(_folder, "bad.csv");
        File.WriteAllText(badPoses, "frame,x,y,z,rx,ry,rz\n0,1,2,3\n");
        var bad = AgentCommandTests.Rr("calibrate", "--camera", $"wrist=file,path={Recordings.VideoPath(recording, "wrist")},size=320x240",
            "--hand-eye", badPoses, "--intrinsics", intrinsics, "--out", output);
        Assert.Equal(2, bad.Exit);
        Assert.Contains($"{badPoses}:2: expected frame,x,y,z,rx,ry,rz", bad.Error);
    }

    [Fact]
    public void ACameraWithACalibrationDeliversUndistortedFramesAndAWrongSizeIsNamed()
    {
        var file = Path.Combine(_folder, "truth.json");
        Truth.Save(file);
        using var camera = CameraFactory.Create(new CameraSettings { Name = "wrist", Backend = "synthetic", Width = 320, Height = 240, Fps = 100, Calibration = file });
        var undistorted = Assert.IsType<UndistortedCameraSource>(camera);
        Assert.Equal(Truth.Fx, undistorted.Calibration.Fx);

        var wrongSize = Assert.Throws<ArgumentException>(() => CameraFactory.Create(new CameraSettings { Name = "wrist", Backend = "synthetic", Width = 64, Height = 64, Calibration = file }));
        Assert.Contains("is for 320×240 images, the camera delivers 64×64", wrongSize.Message);
        var missing = Assert.Throws<ArgumentException>(() => CameraFactory.Create(new CameraSettings { Name = "wrist", Backend = "synthetic", Calibration = Path.Combine(_folder, "none.json") }));
        Assert.Contains("calibration file not found", missing.Message);
    }

    [Fact]
    public void ABoardThatIsNeverSeenSaysWhatToCheck()
    {
        var run = AgentCommandTests.Rr("calibrate", "--camera", "c=synthetic,size=64,fps=200", "--views", "5", "--interval", "0", "--seconds", "1", "--out", Path.Combine(_folder, "x.json"));
        Assert.Equal(1, run.Exit);
        Assert.Contains("at least 3 views are needed. Check --board counts inner corners", run.Error);
        Assert.False(File.Exists(Path.Combine(_folder, "x.json")));
    }
}
