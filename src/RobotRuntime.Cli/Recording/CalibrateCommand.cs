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
        var square = new Option<double>("--square") { Description = "The side of one square, metres.", DefaultValueFactory = _ => 0.025 };
        var views = new Option<int>("--views") { Description = "Views of the board to collect (at different angles and places in the image).", DefaultValueFactory = _ => 15 };
        var seconds = new Option<double>("--seconds") { Description = "Give up collecting after this long.", DefaultValueFactory = _ => 120 };
        var interval = new Option<double>("--interval") { Description = "At least this many seconds between two views taken (move the board meanwhile).", DefaultValueFactory = _ => 0.5 };
        var size = new Option<string>("--size") { Description = "Frame size when the camera spec sets none: N or WxH (calibrate at the size the runtime will use).", DefaultValueFactory = _ => "224" };
        var output = new Option<string>("--out") { Description = "The calibration file to write (JSON)." };
        var verb = new Command("calibrate", "Find a camera's intrinsics and lens distortion from views of a chessboard; write a calibration file for the camera's 'calibration' setting.")
        {
            camera, board, square, views, seconds, interval, size, output, writeBoard,
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
                var what = charuco is null ? $"{target!.Columns}x{target.Rows} chessboard" : $"{charuco.SquaresX}x{charuco.SquaresY} ChArUco board";
                if (result.GetValue(views) is var wanted && wanted is < 3 or > 200)
                    throw new ArgumentException($"--views must be 3–200, got {wanted}");
                var (width, height) = SimServerOptions.ParseSize("--size", result.GetValue(size)!);
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
