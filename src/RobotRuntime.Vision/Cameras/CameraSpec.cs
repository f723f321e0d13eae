using System.Globalization;

namespace RobotRuntime.Vision.Cameras;

/// <summary>
/// Parses a camera written on one command-line argument into <see cref="CameraSettings"/>:
/// <c>NAME=BACKEND[,KEY=VALUE]...</c>, e.g. <c>front=synthetic,fps=30</c>,
/// <c>wrist=stream,endpoint=tcp://127.0.0.1:5611</c>, <c>usb=device,device=0,size=640x480,fps=30</c>,
/// <c>clip=file,path=run.mp4,loop=true</c>, <c>old=replay,path=recordings/a,camera=front</c>.
/// </summary>
/// <remarks>Keys: <c>size</c> (N or WxH), <c>width</c>, <c>height</c>, <c>fps</c>, <c>device</c>, <c>path</c>,
/// <c>camera</c> (the name inside a recording), <c>endpoint</c>, <c>pipeline</c> (the rest of the argument,
/// commas included, so put it last), <c>loop</c>. Setup only.</remarks>
public static class CameraSpec
{
    /// <summary>The keys a spec may set.</summary>
    public static readonly IReadOnlyList<string> Keys = ["size", "width", "height", "fps", "device", "path", "camera", "endpoint", "pipeline", "loop", "calibration", "curve_public_key"];

    /// <summary>Parses <paramref name="spec"/>; sizes not given default to <paramref name="defaultWidth"/> × <paramref name="defaultHeight"/>.</summary>
    /// <exception cref="ArgumentException">The spec is malformed, names an unknown backend or key, or a value does not parse; the message quotes the spec and says what was expected.</exception>
    public static CameraSettings Parse(string spec, int defaultWidth = 224, int defaultHeight = 224)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var equals = spec.IndexOf('=');
        if (equals <= 0)
            throw Bad(spec, "expected NAME=BACKEND[,KEY=VALUE]..., e.g. front=synthetic,fps=30");
        var name = spec[..equals].Trim();
        var rest = spec[(equals + 1)..];
        var pipelineAt = rest.IndexOf(",pipeline=", StringComparison.Ordinal);
        string? pipeline = null;
        if (pipelineAt >= 0)
        {
            pipeline = rest[(pipelineAt + ",pipeline=".Length)..];
            rest = rest[..pipelineAt];
        }
        var parts = rest.Split(',');
        var backend = parts[0].Trim();
        if (!CameraFactory.Backends.Contains(backend))
            throw Bad(spec, $"unknown backend '{backend}'; known backends: {string.Join(", ", CameraFactory.Backends)}");
        var settings = new CameraSettings { Name = name, Backend = backend, Width = defaultWidth, Height = defaultHeight, Pipeline = pipeline };
        foreach (var part in parts.Skip(1))
        {
            var at = part.IndexOf('=');
            if (at <= 0)
                throw Bad(spec, $"'{part}' is not KEY=VALUE");
            var key = part[..at].Trim();
            var value = part[(at + 1)..].Trim();
            settings = key switch
            {
                "size" => WithSize(settings, spec, value),
                "width" => settings with { Width = Positive(spec, key, value) },
                "height" => settings with { Height = Positive(spec, key, value) },
                "fps" => settings with { Fps = Rate(spec, value) },
                "device" => settings with { Device = NonNegative(spec, key, value) },
                "path" => settings with { Path = value },
                "camera" => settings with { RecordedCamera = value },
                "endpoint" => settings with { Endpoint = value },
                "loop" => settings with { Loop = Flag(spec, value) },
                "calibration" => settings with { Calibration = value },
                "curve_public_key" => settings with { CurvePublicKey = value },
                _ => throw Bad(spec, $"unknown key '{key}'; keys: {string.Join(", ", Keys)}"),
            };
        }
        if (name.Length == 0 || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains(' '))
            throw Bad(spec, $"camera name '{name}' cannot name a file; use letters, digits, '-' or '_'");
        return settings;
    }

    private static CameraSettings WithSize(CameraSettings settings, string spec, string value)
    {
        var parts = value.ToLowerInvariant().Split('x');
        if (parts.Length is 1 or 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var width) && width > 0)
        {
            if (parts.Length == 1)
                return settings with { Width = width, Height = width };
            if (int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var height) && height > 0)
                return settings with { Width = width, Height = height };
        }
        throw Bad(spec, $"size '{value}' is not N or WxH (e.g. 224 or 640x480)");
    }

    private static int Positive(string spec, string key, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0
            ? number
            : throw Bad(spec, $"{key} '{value}' is not a positive whole number");

    private static int NonNegative(string spec, string key, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw Bad(spec, $"{key} '{value}' is not a whole number ≥ 0");

    private static double Rate(string spec, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var fps) && double.IsFinite(fps) && fps > 0 && fps <= 1000
            ? fps
            : throw Bad(spec, $"fps '{value}' is not a rate in (0, 1000]");

    private static bool Flag(string spec, string value) => value switch
    {
        "true" or "1" or "yes" => true,
        "false" or "0" or "no" => false,
        _ => throw Bad(spec, $"loop '{value}' is not true or false"),
    };

    private static ArgumentException Bad(string spec, string what) => new($"camera '{spec}': {what}.");
}
