using System.CommandLine;
using System.Globalization;
using RobotRuntime.Cameras;
using RobotRuntime.Imaging;
using RobotRuntime.Native;
using RobotRuntime.SimServer;
using RobotRuntime.Vision;
using RobotRuntime.Vision.Cameras;

namespace RobotRuntime.Cli.Recording;

/// <summary>
/// <c>rr calibrate</c>: a camera's intrinsics and lens distortion from a chessboard held in front of
/// it (a live camera, a video file or a recording: any camera backend), written as a calibration
/// file that a camera's <c>calibration</c> setting applies.
/// </summary>
public static class CalibrateCommand
{
    /// <summary>Hand-eye calibration: the gripper poses of a CSV paired with the board's pose in the listed frames.</summary>
    private static int HandEyeFromPoses(string cameraSpec, int width, int height, Chessboard board, string posesFile, string intrinsicsFile, string output,
        TextWriter stdout, TextWriter stderr)
    {
        CameraCalibration camera;
        try
        {
            camera = CameraCalibration.Load(intrinsicsFile);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new ArgumentException("--intrinsics: " + e.Message);
        }
        var poses = new Dictionary<int, RigidPose>();
        var lines = File.ReadAllLines(posesFile);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#') || line.StartsWith("frame", StringComparison.Ordinal))
                continue;
            var f = line.Split(',');
            double[] v = new double[6];
            if (f.Length != 7 || !int.TryParse(f[0], CultureInfo.InvariantCulture, out var frameIndex) || frameIndex < 0
                || !Enumerable.Range(0, 6).All(k => double.TryParse(f[k + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out v[k])))
                throw new ArgumentException($"--hand-eye {posesFile}:{i + 1}: expected frame,x,y,z,rx,ry,rz (a frame index, metres, a rotation vector in radians), got '{line}'");
            poses[frameIndex] = new RigidPose([v[3], v[4], v[5]], [v[0], v[1], v[2]]);
        }
        var settings = CameraSpec.Parse(cameraSpec, width, height);
        if (settings.Width != camera.Width || settings.Height != camera.Height)
            throw new ArgumentException($"--intrinsics {intrinsicsFile} is for {camera.Width}×{camera.Height}, the camera delivers {settings.Width}×{settings.Height}");
        var gripper = new List<RigidPose>();
        var boardViews = new List<RigidPose>();
        using (var source = CameraFactory.Create(settings with { Calibration = null }))
        {
            source.Start();
            var frame = new CameraFrame(source.Width, source.Height);
            var last = poses.Keys.Max();
            var quiet = 0;
            while (true)
            {
                // Frames are numbered by capture (the frame's sequence − 1), so a frame the reader
                // missed costs its view, never the pairing of the others.
                var status = source.Read(frame, TimeSpan.FromSeconds(2));
                if (status == CameraReadStatus.Lost || (status != CameraReadStatus.Ok && ++quiet > 2))
                    break;
                if (status != CameraReadStatus.Ok)
                    continue;
                var index = (int)frame.Sequence - 1;
                if (index > last)
                    break;
                if (!poses.TryGetValue(index, out var pose))
                    continue;
                if (Calibrator.FindCorners(frame.Pixels, source.Width, source.Height, board) is not { } corners)
                {
                    stdout.WriteLine($"rr calibrate: frame {index}: the board is not (wholly) in view; skipped");
                    continue;
                }
                gripper.Add(pose);
                boardViews.Add(HandEye.BoardInCamera(corners, board, camera));
            }
        }
        if (gripper.Count < 3)
        {
            stderr.WriteLine($"rr calibrate: the board was found in {gripper.Count} of the {poses.Count} frames the poses name; hand-eye calibration needs at least 3 (with different gripper orientations)");
            return 1;
        }
        var result = HandEye.Calibrate(gripper, boardViews);
        result.Save(output);
        var t = result.CameraToGripper.Translation;
        var r = result.CameraToGripper.Rotation;
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"rr calibrate: camera on the gripper at ({t[0]:F4}, {t[1]:F4}, {t[2]:F4}) m, rotation vector ({r[0]:F4}, {r[1]:F4}, {r[2]:F4}) rad, from {result.Views} views; the board's position in the base frame agrees across views to {result.SpreadMetres * 1000:F1} mm"));
        stdout.WriteLine($"rr calibrate: wrote {Path.GetFullPath(output)}");
        return 0;
    }

    /// <summary>Builds the <c>calibrate</c> verb.</summary>
    public static Command Create()
    {
        var camera = new Option<string>("--camera")
        {
            Description = "The camera: NAME=BACKEND[,KEY=VALUE]... as rr record takes it (e.g. wrist=device,device=0,size=640x480, or a recording: wrist=replay,path=recordings/cal,size=224).",
        };
        var board = new Option<string>("--board")
        {
            Description = "The target: a chessboard's inner corners COLUMNSxROWS (a board of 10×7 squares is 9x6; with --square), or a ChArUco board charuco:SQUARESxSQUARES:SQUARE_M:MARKER_M[:DICT_4X4_50] (partial views work).",
            DefaultValueFactory = _ => "9x6",
        };
        var writeBoard = new Option<string?>("--write-board") { Description = "Write the ChArUco --board as a PNG to print (100 pixels per square) and stop." };
        var handEye = new Option<string?>("--hand-eye")
        {
            Description = "Hand-eye calibration of a wrist camera instead: a CSV of the gripper's pose in the arm's base frame for frames of the camera's stream (frame,x,y,z,rx,ry,rz: 0-based frame index, metres, rotation vector in radians), the chessboard fixed in view; needs --intrinsics. Writes the camera's pose on the gripper.",
        };
        var intrinsics = new Option<string?>("--intrinsics") { Description = "The camera's calibration file (rr calibrate) for --hand-eye." };
        var square = new Option<double>("--square") { Description = "The side of one square, metres.", DefaultValueFactory = _ => 0.025 };
        var views = new Option<int>("--views") { Description = "Views of the board to collect (at different angles and places in the image).", DefaultValueFactory = _ => 15 };
        var seconds = new Option<double>("--seconds") { Description = "Give up collecting after this long.", DefaultValueFactory = _ => 120 };
        var interval = new Option<double>("--interval") { Description = "At least this many seconds between two views taken (move the board meanwhile).", DefaultValueFactory = _ => 0.5 };
        var size = new Option<string>("--size") { Description = "Frame size when the camera spec sets none: N or WxH (calibrate at the size the runtime will use).", DefaultValueFactory = _ => "224" };
        var output = new Option<string>("--out") { Description = "The calibration file to write (JSON)." };
        var verb = new Command("calibrate", "Find a camera's intrinsics and lens distortion from views of a chessboard; write a calibration file for the camera's 'calibration' setting.")
        {
            camera, board, square, views, seconds, interval, size, output, writeBoard, handEye, intrinsics,
        };
        verb.SetAction(result =>
        {
            var stdout = result.InvocationConfiguration.Output;
            var stderr = result.InvocationConfiguration.Error;
            try
            {
                var boardText = result.GetValue(board)!;
                var charuco = boardText.StartsWith("charuco:", StringComparison.Ordinal) ? CharucoTarget.Parse(boardText) : null;
                var target = charuco is null ? Chessboard.Parse(boardText, result.GetValue(square)) : null;
                if (result.GetValue(writeBoard) is { } png)
                {
                    if (charuco is null)
                        throw new ArgumentException("--write-board writes ChArUco boards; give --board charuco:...");
                    using var image = charuco.Image(100);
                    OpenCvSharp.Cv2.ImWrite(png, image);
                    stdout.WriteLine($"rr calibrate: wrote {Path.GetFullPath(png)} ({charuco.SquaresX}×{charuco.SquaresY} squares; print it so that a square is {charuco.SquareMetres.ToString(CultureInfo.InvariantCulture)} m)");
                    return 0;
                }
                if (result.GetValue(camera) is null || result.GetValue(output) is null)
                    throw new ArgumentException("--camera and --out are needed (or --write-board to print a ChArUco board)");
                if (result.GetValue(handEye) is { } posesFile)
                    return HandEyeFromPoses(result.GetValue(camera)!, RobotRuntime.Timing.SettingText.ParseSize("--size", result.GetValue(size)!).Width, RobotRuntime.Timing.SettingText.ParseSize("--size", result.GetValue(size)!).Height, target ?? throw new ArgumentException("--hand-eye takes a chessboard --board (COLUMNSxROWS)"),
                        posesFile, result.GetValue(intrinsics) ?? throw new ArgumentException("--hand-eye needs --intrinsics (the camera's calibration file)"),
                        result.GetValue(output)!, stdout, stderr);
                var what = charuco is null ? $"{target!.Columns}x{target.Rows} chessboard" : $"{charuco.SquaresX}x{charuco.SquaresY} ChArUco board";
                if (result.GetValue(views) is var wanted && wanted is < 3 or > 200)
                    throw new ArgumentException($"--views must be 3–200, got {wanted}");
                var (width, height) = RobotRuntime.Timing.SettingText.ParseSize("--size", result.GetValue(size)!);
                var settings = CameraSpec.Parse(result.GetValue(camera)!, width, height);
                var collected = new List<OpenCvSharp.Point2f[]>();
                var collectedCharuco = new List<(int[] Ids, OpenCvSharp.Point2f[] Corners)>();
                var frames = 0;
                using (var source = CameraFactory.Create(settings with { Calibration = null }))
                {
                    source.Start();
                    var frame = new CameraFrame(source.Width, source.Height);
                    var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(result.GetValue(seconds));
                    var lastTaken = DateTime.MinValue;
                    var gap = TimeSpan.FromSeconds(Math.Max(0, result.GetValue(interval)));
                    stdout.WriteLine($"rr calibrate: camera '{source.Name}' at {source.Width}×{source.Height}; show the {what} at different angles and places; {wanted} views wanted");
                    while (collected.Count + collectedCharuco.Count < wanted && DateTime.UtcNow < deadline)
                    {
                        var status = source.Read(frame, TimeSpan.FromSeconds(2));
                        if (status == CameraReadStatus.Lost)
                        {
                            stdout.WriteLine($"rr calibrate: the camera's stream ended ({source.Health.Reason})");
                            break;
                        }
                        if (status != CameraReadStatus.Ok)
                            continue;
                        frames++;
                        if (DateTime.UtcNow - lastTaken < gap)
                            continue;
                        if (charuco is not null)
                        {
                            if (charuco.Find(frame.Pixels, source.Width, source.Height) is not { } seen)
                                continue;
                            collectedCharuco.Add(seen);
                            stdout.WriteLine($"rr calibrate: view {collectedCharuco.Count} of {wanted} (frame {frames}, {seen.Ids.Length} of {charuco.CornerCount} corners)");
                        }
                        else
                        {
                            var corners = Calibrator.FindCorners(frame.Pixels, source.Width, source.Height, target!);
                            if (corners is null)
                                continue;
                            collected.Add(corners);
                            stdout.WriteLine($"rr calibrate: view {collected.Count} of {wanted} (frame {frames})");
                        }
                        lastTaken = DateTime.UtcNow;
                    }
                }
                var count = collected.Count + collectedCharuco.Count;
                if (count < 3)
                {
                    stderr.WriteLine(charuco is null
                        ? $"rr calibrate: the board ({target!.Columns}x{target.Rows} inner corners) was found in {count} of {frames} frames; at least 3 views are needed. Check --board counts inner corners, the whole board is in the image, and it is lit evenly."
                        : $"rr calibrate: the ChArUco board was found in {count} of {frames} frames; at least 3 views are needed. Check its squares, marker size and dictionary (--board), and that it is lit evenly.");
                    return 1;
                }
                var calibration = charuco is null
                    ? Calibrator.Calibrate(collected, target!, settings.Width, settings.Height,
                        $"chessboard {target!.Columns}x{target.Rows}, {target.SquareMetres.ToString(CultureInfo.InvariantCulture)} m, camera {settings.Name} ({result.GetValue(camera)})")
                    : CharucoCalibrator.Calibrate(collectedCharuco, charuco, settings.Width, settings.Height,
                        $"ChArUco {charuco.SquaresX}x{charuco.SquaresY}, {charuco.SquareMetres.ToString(CultureInfo.InvariantCulture)} m squares, {charuco.Dictionary}, camera {settings.Name} ({result.GetValue(camera)})");
                var file = result.GetValue(output)!;
                calibration.Save(file);
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"rr calibrate: fx {calibration.Fx:F2} fy {calibration.Fy:F2} cx {calibration.Cx:F2} cy {calibration.Cy:F2} px; distortion k1 {calibration.Distortion[0]:F4} k2 {calibration.Distortion[1]:F4} p1 {calibration.Distortion[2]:F4} p2 {calibration.Distortion[3]:F4} k3 {calibration.Distortion[4]:F4}; reprojection RMS {calibration.RmsPixels:F3} px over {calibration.Views} views"));
                stdout.WriteLine($"rr calibrate: wrote {Path.GetFullPath(file)}; use it with calibration: {file} in the camera's settings (rr run's YAML) or calibration={file} in a camera spec");
                if (calibration.RmsPixels > 1)
                    stdout.WriteLine("rr calibrate: warning: an RMS above 1 px usually means a blurred or bent board, or views that are too alike");
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or VisionException or IOException or NativeDependencyMissingException)
            {
                stderr.WriteLine($"rr calibrate: {e.Message}");
                return e is ArgumentException ? 2 : 1;
            }
        });
        return verb;
    }
}
