using System.Globalization;

namespace RobotRuntime.Sim.Tabletop;

/// <summary>
/// The delays a deployed loop has and the simulator's step does not, in physics steps (2 ms each in
/// the tabletop scenes), each drawn per episode uniformly from its inclusive range:
/// <list type="bullet">
/// <item><description><b>Camera</b>: how long before the control decision the camera frame was taken.
/// The image of an observation is rendered that many physics steps before the end of the previous
/// control period, while proprioception is measured at its end (a real loop reads the arm's state a few
/// milliseconds old and the newest camera frame tens of milliseconds old).</description></item>
/// <item><description><b>Command</b>: how long after the decision the arm starts following the new
/// command; until then it keeps following the previous one (compute, transport and the firmware's
/// servo tick).</description></item>
/// </list>
/// Both are at most one control period (<see cref="TabletopScene.PhysicsStepsPerControlStep"/> steps).
/// <see cref="None"/> reproduces the undelayed environment exactly.
/// </summary>
/// <param name="CameraMin">Fewest physics steps of camera latency.</param>
/// <param name="CameraMax">Most physics steps of camera latency.</param>
/// <param name="CommandMin">Fewest physics steps of command latency.</param>
/// <param name="CommandMax">Most physics steps of command latency.</param>
public sealed record ControlLatency(int CameraMin, int CameraMax, int CommandMin, int CommandMax)
{
    /// <summary>The tabletop scenes' physics step, s (their MJCF's <c>timestep</c>; a test holds them equal).</summary>
    public const double StepSeconds = 0.002;

    /// <summary>No latency: images and commands as the environment always had them.</summary>
    public static ControlLatency None { get; } = new(0, 0, 0, 0);

    /// <summary>True when every range is [0, 0].</summary>
    public bool IsNone => CameraMax == 0 && CommandMax == 0;

    /// <summary>Checks the ranges.</summary>
    /// <exception cref="ArgumentException">A range is negative, reversed, or longer than one control period.</exception>
    public ControlLatency Validate()
    {
        Check("camera", CameraMin, CameraMax);
        Check("command", CommandMin, CommandMax);
        return this;
    }

    /// <summary>Draws an episode's latencies (camera, command) from <paramref name="random"/>.</summary>
    public (int Camera, int Command) Draw(Random random) =>
        (random.Next(CameraMin, CameraMax + 1), random.Next(CommandMin, CommandMax + 1));

    /// <summary>
    /// Reads the command line's form: <c>CAMERA[,COMMAND]</c>, each a duration <c>20ms</c> or a range
    /// <c>0..40ms</c> (milliseconds, rounded to whole physics steps of <paramref name="timestepSeconds"/>);
    /// <c>none</c> or <c>0</c> is no latency.
    /// </summary>
    /// <exception cref="ArgumentException">Malformed, naming <paramref name="what"/> and the expected form.</exception>
    public static ControlLatency Parse(string text, string what, double timestepSeconds = StepSeconds)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        if (trimmed is "none" or "0" or "0ms")
            return None;
        var parts = trimmed.Split(',');
        if (parts.Length > 2)
            throw new ArgumentException($"{what}: '{text}' has {parts.Length} parts; expected CAMERA[,COMMAND], each like 20ms or 0..40ms");
        var (cameraMin, cameraMax) = Range(parts[0], timestepSeconds, what, text);
        var (commandMin, commandMax) = parts.Length == 2 ? Range(parts[1], timestepSeconds, what, text) : (0, 0);
        try
        {
            return new ControlLatency(cameraMin, cameraMax, commandMin, commandMax).Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{what}: '{text}': {e.Message}");
        }
    }

    /// <summary>The command line's form of these ranges, in milliseconds at <paramref name="timestepSeconds"/> per step.</summary>
    public string Describe(double timestepSeconds = StepSeconds)
    {
        if (IsNone)
            return "none";
        string Ms(int steps) => (steps * timestepSeconds * 1000).ToString("0.##", CultureInfo.InvariantCulture);
        string Span(int min, int max) => min == max ? $"{Ms(min)}ms" : $"{Ms(min)}..{Ms(max)}ms";
        return $"{Span(CameraMin, CameraMax)},{Span(CommandMin, CommandMax)}";
    }

    private static (int Min, int Max) Range(string part, double timestep, string what, string text)
    {
        var p = part.Trim();
        if (!p.EndsWith("ms", StringComparison.Ordinal))
            throw new ArgumentException($"{what}: '{text}': '{p}' has no unit; expected milliseconds like 20ms or 0..40ms");
        p = p[..^2];
        var bounds = p.Split("..");
        if (bounds.Length > 2)
            throw new ArgumentException($"{what}: '{text}': '{part.Trim()}' is not a duration or a range like 0..40ms");
        var values = new int[bounds.Length];
        for (var i = 0; i < bounds.Length; i++)
        {
            if (!double.TryParse(bounds[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) || ms < 0 || !double.IsFinite(ms))
                throw new ArgumentException($"{what}: '{text}': '{bounds[i].Trim()}' is not a non-negative number of milliseconds");
            values[i] = (int)Math.Round(ms / 1000 / timestep);
        }
        return bounds.Length == 1 ? (values[0], values[0]) : (values[0], values[1]);
    }

    private static void Check(string name, int min, int max)
    {
        if (min < 0 || max < min)
            throw new ArgumentException($"{name} latency range [{min}, {max}] physics steps is negative or reversed");
        if (max > TabletopScene.PhysicsStepsPerControlStep)
            throw new ArgumentException($"{name} latency of {max} physics steps is longer than one control period ({TabletopScene.PhysicsStepsPerControlStep} steps); at most one period is modelled");
    }
}
