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
            Required = true,
        };
        var board = new Option<string>("--board") { Description = "The chessboard's inner corners COLUMNSxROWS (a board of 10×7 squares is 9x6).", DefaultValueFactory = _ => "9x6" };
        var square = new Option<double>("--square") { Description = "The side of one square, metres.", DefaultValueFactory = _ => 0.025 };
        var views = new Option<int>("--views") { Description = "Views of the board to collect (at different angles and places in the image).", DefaultValueFactory = _ => 15 };
        var seconds = new Option<double>("--seconds") { Description = "Give up collecting after this long.", DefaultValueFactory = _ => 120 };
        var interval = new Option<double>("--interval") { Description = "At least this many seconds between two views taken (move the board meanwhile).", DefaultValueFactory = _ => 0.5 };
        var size = new Option<string>("--size") { Description = "Frame size when the camera spec sets none: N or WxH (calibrate at the size the runtime will use).", DefaultValueFactory = _ => "224" };
        var output = new Option<string>("--out") { Description = "The calibration file to write (JSON).", Required = true };
        var verb = new Command("calibrate", "Find a camera's intrinsics and lens distortion from views of a chessboard; write a calibration file for the camera's 'calibration' setting.")
        {
            camera, board, square, views, seconds, interval, size, output,
        };
        verb.SetAction(result =>
        {
            var stdout = result.InvocationConfiguration.Output;
            var stderr = result.InvocationConfiguration.Error;
            try
            {
                var target = Chessboard.Parse(result.GetValue(board)!, result.GetValue(square));
                if (result.GetValue(views) is var wanted && wanted is < 3 or > 200)
                    throw new ArgumentException($"--views must be 3–200, got {wanted}");
                var (width, height) = SimServerOptions.ParseSize("--size", result.GetValue(size)!);
                var settings = CameraSpec.Parse(result.GetValue(camera)!, width, height);
                var collected = new List<OpenCvSharp.Point2f[]>();
                var frames = 0;
                using (var source = CameraFactory.Create(settings with { Calibration = null }))
                {
                    source.Start();
                    var frame = new CameraFrame(source.Width, source.Height);
                    var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(result.GetValue(seconds));
                    var lastTaken = DateTime.MinValue;
                    var gap = TimeSpan.FromSeconds(Math.Max(0, result.GetValue(interval)));
                    stdout.WriteLine($"rr calibrate: camera '{source.Name}' at {source.Width}×{source.Height}; show the {target.Columns}x{target.Rows} board at different angles and places; {wanted} views wanted");
                    while (collected.Count < wanted && DateTime.UtcNow < deadline)
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
                        var corners = Calibrator.FindCorners(frame.Pixels, source.Width, source.Height, target);
                        if (corners is null)
                            continue;
                        collected.Add(corners);
                        lastTaken = DateTime.UtcNow;
                        stdout.WriteLine($"rr calibrate: view {collected.Count} of {wanted} (frame {frames})");
                    }
                }
                if (collected.Count < 3)
                {
                    stderr.WriteLine($"rr calibrate: the board ({target.Columns}x{target.Rows} inner corners) was found in {collected.Count} of {frames} frames; at least 3 views are needed. Check --board counts inner corners, the whole board is in the image, and it is lit evenly.");
                    return 1;
                }
                var calibration = Calibrator.Calibrate(collected, target, settings.Width, settings.Height,
                    $"chessboard {target.Columns}x{target.Rows}, {target.SquareMetres.ToString(CultureInfo.InvariantCulture)} m, camera {settings.Name} ({result.GetValue(camera)})");
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
