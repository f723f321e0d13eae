using RobotRuntime.Cameras;
using RobotRuntime.Vision.Cameras;

namespace RobotRuntime.Cli.Tests.Extending;

/// <summary>
/// docs/extending.md, "A camera": a camera backend with a key of its own. CapturingCameraSource runs
/// the capture thread and the latest-frame hand-off; the backend only opens, captures and closes.
/// </summary>
public sealed class GradientCamera(string name, int width, int height, double fps) : CapturingCameraSource(name, width, height, null)
{
    private long _drawn;

    /// <summary>The one registration: <c>backend: gradient</c>, with its own key <c>fps_scale</c>.</summary>
    public static void Register() => CameraFactory.Register("gradient", new CameraBackend(
        s => new GradientCamera(s.Name, s.Width, s.Height,
            (s.Fps > 0 ? s.Fps : 30) * double.Parse(s.Options.GetValueOrDefault("fps_scale", "1"), System.Globalization.CultureInfo.InvariantCulture)),
        Keys: ["fps_scale"]));

    protected override void Open() => _drawn = 0;

    protected override CaptureOutcome Capture(CameraFrame frame, out string? failure)
    {
        failure = null;
        Thread.Sleep(TimeSpan.FromSeconds(1 / fps));
        var shade = (byte)(++_drawn * 5);
        for (var i = 0; i < frame.Pixels.Length; i += 3)
        {
            frame.Pixels[i] = shade;
            frame.Pixels[i + 1] = (byte)(i / 3 % frame.Width * 255 / Math.Max(1, frame.Width - 1));
            frame.Pixels[i + 2] = 0;
        }
        return CaptureOutcome.Frame;
    }

    protected override void Close() { }
}
