using System.Globalization;

namespace RobotRuntime.Timing;

/// <summary>
/// Durations and frame sizes as people write them in config files and on command lines ("150ms",
/// "0.5s", "84", "112x84"), parsed the same way by every command and config section.
/// </summary>
public static class SettingText
{
    /// <summary>
    /// A duration: a number with <c>ms</c>, <c>us</c> (or <c>µs</c>) or <c>s</c>; a bare number is
    /// milliseconds. Negative durations are refused.
    /// </summary>
    /// <param name="setting">The option or key, named in the error.</param>
    /// <param name="text">What was written.</param>
    /// <exception cref="ArgumentException">Not a duration (the message names <paramref name="setting"/> and the forms expected).</exception>
    public static TimeSpan ParseDuration(string setting, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim();
        (string Suffix, double Scale)[] units = [("ms", 1e-3), ("us", 1e-6), ("µs", 1e-6), ("s", 1.0)];
        var scale = 1e-3;
        foreach (var (suffix, unitScale) in units)
        {
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                t = t[..^suffix.Length];
                scale = unitScale;
                break;
            }
        }
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            throw new ArgumentException($"{setting}: '{text}' is not a duration; expected a number with ms, us or s (e.g. 15ms, 0.5s)", setting);
        if (value < 0)
            throw new ArgumentException($"{setting}: duration must not be negative, got '{text}'", setting);
        return TimeSpan.FromTicks((long)Math.Round(value * scale * TimeSpan.TicksPerSecond));
    }

    /// <summary>A frame size: <c>84</c> (square) or <c>112x84</c> (width x height).</summary>
    /// <exception cref="ArgumentException">Not a size (the message names <paramref name="setting"/>).</exception>
    public static (int Width, int Height) ParseSize(string setting, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Trim().ToLowerInvariant().Split('x');
        if (parts.Length is 1 or 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var width))
        {
            if (parts.Length == 1)
                return (width, width);
            if (int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var height))
                return (width, height);
        }
        throw new ArgumentException($"{setting}: '{text}' is not a size; expected N (square) or WxH, e.g. 84 or 112x84", setting);
    }
}
