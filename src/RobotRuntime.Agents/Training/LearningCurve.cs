using System.Globalization;
using System.Text;

namespace RobotRuntime.Agents.Training;

/// <summary>Writes evaluation success (and normalised return) against environment steps as a small SVG.</summary>
public static class LearningCurve
{
    /// <summary>Writes the curve to <paramref name="path"/> (temporary file, then rename).</summary>
    public static void Write(string path, IReadOnlyList<(long Step, double Seconds, double Success, double Return)> points, string title)
    {
        const int width = 640, height = 360, left = 60, right = 20, top = 40, bottom = 50;
        double maxStep = Math.Max(1, points.Count == 0 ? 1 : points.Max(p => p.Step));
        double maxReturn = Math.Max(1e-9, points.Count == 0 ? 1 : points.Max(p => Math.Abs(p.Return)));
        string X(double step) => (left + step / maxStep * (width - left - right)).ToString("F1", CultureInfo.InvariantCulture);
        string Y(double v) => (top + (1 - Math.Clamp(v, 0, 1)) * (height - top - bottom)).ToString("F1", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"20\" font-size=\"14\">{System.Security.SecurityElement.Escape(title)}</text>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{height - bottom}\" x2=\"{width - right}\" y2=\"{height - bottom}\" stroke=\"black\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{height - bottom}\" stroke=\"black\"/>\n");
        for (int i = 0; i <= 4; i++)
        {
            double v = i / 4.0;
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 8}\" y=\"{Y(v)}\" text-anchor=\"end\">{v:F2}</text>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{Y(v)}\" x2=\"{width - right}\" y2=\"{Y(v)}\" stroke=\"#ddd\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{X(maxStep * v)}\" y=\"{height - bottom + 16}\" text-anchor=\"middle\">{maxStep * v:F0}</text>\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{(left + width - right) / 2}\" y=\"{height - 10}\" text-anchor=\"middle\">environment steps</text>\n");
        void Series(Func<(long Step, double Seconds, double Success, double Return), double> value, string colour)
        {
            if (points.Count == 0)
            {
                return;
            }
            sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"");
            foreach (var p in points)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{X(p.Step)},{Y(value(p))} ");
            }
            sb.Append("\"/>\n");
        }
        Series(p => p.Success, "#1f77b4");
        Series(p => p.Return / maxReturn, "#ff7f0e");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{width - right - 4}\" y=\"{top + 14}\" text-anchor=\"end\" fill=\"#1f77b4\">success rate</text>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{width - right - 4}\" y=\"{top + 30}\" text-anchor=\"end\" fill=\"#ff7f0e\">return / {maxReturn:F1}</text>\n");
        sb.Append("</svg>\n");
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, sb.ToString());
        File.Move(temporary, path, overwrite: true);
    }
}
