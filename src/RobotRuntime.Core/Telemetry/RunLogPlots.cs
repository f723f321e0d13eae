using System.Globalization;
using System.Text;
using System.Xml;
using RobotRuntime.Safety;

namespace RobotRuntime.Telemetry;

/// <summary>
/// Plots of a run log as SVG: a histogram of cycle compute time and a per-cycle timeline of the
/// stage durations with missed deadlines and holds marked. Series are SVG groups with ids
/// <c>series-&lt;stage&gt;</c> (lower case), so tools and tests can find them.
/// </summary>
public static class RunLogPlots
{
    private const double Width = 900, Height = 420, Left = 60, Right = 160, Top = 40, Bottom = 50;
    private const int MaxTimelinePoints = 2000;
    private static readonly CycleStage[] TimelineStages =
        [CycleStage.Preprocess, CycleStage.Encode, CycleStage.Plan, CycleStage.Safety, CycleStage.Send, CycleStage.Compute];
    private static readonly string[] Colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#d62728"];

    /// <summary>Writes the histogram of per-cycle compute time (ms), with the p50, p99 and the period marked.</summary>
    /// <remarks>Setup only.</remarks>
    public static void WriteLatencyHistogram(RunLog log, TextWriter output, int bins = 40)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        var summary = RunLogSummary.Compute(log);
        double period = 1000.0 / log.Metadata.RateHz;
        var compute = summary[CycleStage.Compute];
        double top = Math.Max(Math.Max(compute.Max, period) * 1.05, 1e-3);
        var counts = new int[bins];
        foreach (var r in log.Records)
            counts[Math.Clamp((int)(r.ComputeNs / 1e6 / top * bins), 0, bins - 1)]++;
        int highest = Math.Max(1, counts.Max());

        using var svg = Begin(output, $"Cycle compute time, {log.Records.Count} cycles at {F(log.Metadata.RateHz)} Hz");
        Axes(svg, $"compute time (ms)", "cycles", 0, top, 0, highest);
        svg.WriteStartElement("g");
        svg.WriteAttributeString("id", "series-compute");
        svg.WriteAttributeString("fill", Colours[^1]);
        double plotWidth = Width - Left - Right, plotHeight = Height - Top - Bottom, barWidth = plotWidth / bins;
        for (int i = 0; i < bins; i++)
        {
            if (counts[i] == 0) continue;
            double h = counts[i] / (double)highest * plotHeight;
            svg.WriteStartElement("rect");
            svg.WriteAttributeString("class", "bar");
            svg.WriteAttributeString("x", F(Left + i * barWidth));
            svg.WriteAttributeString("y", F(Top + plotHeight - h));
            svg.WriteAttributeString("width", F(Math.Max(barWidth - 1, 0.5)));
            svg.WriteAttributeString("height", F(h));
            svg.WriteElementString("title", $"{F(i * top / bins)}–{F((i + 1) * top / bins)} ms: {counts[i]} cycles");
            svg.WriteEndElement();
        }
        svg.WriteEndElement();
        VerticalMarker(svg, "marker-p50", compute.P50 / top, $"p50 {F(compute.P50)} ms", "#555");
        VerticalMarker(svg, "marker-p99", compute.P99 / top, $"p99 {F(compute.P99)} ms", "#000");
        VerticalMarker(svg, "marker-period", period / top, $"period {F(period)} ms", "#d00");
        End(svg);
    }

    /// <summary>Writes the per-cycle timeline: one line per stage (ms), the period, missed deadlines (red dots) and holds (shaded).</summary>
    /// <remarks>Setup only. Long runs are reduced to at most 2,000 points per line, keeping each bucket's largest value so spikes stay visible.</remarks>
    public static void WriteTimeline(RunLog log, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(output);
        var records = log.Records;
        int n = records.Count;
        double period = 1000.0 / log.Metadata.RateHz;
        double top = period;
        foreach (var r in records) top = Math.Max(top, r.ComputeNs / 1e6);
        top *= 1.05;
        double plotWidth = Width - Left - Right, plotHeight = Height - Top - Bottom;
        double X(int i) => Left + (n <= 1 ? 0 : i / (double)(n - 1) * plotWidth);
        double Y(double ms) => Top + plotHeight - Math.Clamp(ms / top, 0, 1) * plotHeight;

        using var svg = Begin(output, $"Cycle timeline, {n} cycles at {F(log.Metadata.RateHz)} Hz");
        Axes(svg, "cycle", "duration (ms)", 0, Math.Max(n - 1, 1), 0, top);

        // Holds first, so the lines draw over them.
        svg.WriteStartElement("g");
        svg.WriteAttributeString("id", "holds");
        svg.WriteAttributeString("fill", "#f4c7c3");
        for (int i = 0; i < n;)
        {
            if (records[i].Safety != SafetyStatus.Hold) { i++; continue; }
            int start = i;
            var reason = records[i].HoldReason;
            while (i < n && records[i].Safety == SafetyStatus.Hold) i++;
            svg.WriteStartElement("rect");
            svg.WriteAttributeString("class", "hold");
            svg.WriteAttributeString("x", F(X(start)));
            svg.WriteAttributeString("y", F(Top));
            svg.WriteAttributeString("width", F(Math.Max(X(i - 1) - X(start), 1)));
            svg.WriteAttributeString("height", F(plotHeight));
            svg.WriteElementString("title", $"hold {reason}: cycles {records[start].CycleIndex}–{records[i - 1].CycleIndex}");
            svg.WriteEndElement();
        }
        svg.WriteEndElement();

        int bucket = Math.Max(1, (n + MaxTimelinePoints - 1) / MaxTimelinePoints);
        for (int s = 0; s < TimelineStages.Length; s++)
        {
            var stage = TimelineStages[s];
            var points = new StringBuilder();
            for (int i = 0; i < n; i += bucket)
            {
                long largest = 0;
                int end = Math.Min(n, i + bucket);
                for (int j = i; j < end; j++) largest = Math.Max(largest, RunLogSummary.StageNanoseconds(records[j], stage));
                points.Append(F(X(i))).Append(',').Append(F(Y(largest / 1e6))).Append(' ');
            }
            svg.WriteStartElement("g");
            svg.WriteAttributeString("id", "series-" + stage.ToString().ToLowerInvariant());
            svg.WriteStartElement("polyline");
            svg.WriteAttributeString("fill", "none");
            svg.WriteAttributeString("stroke", Colours[s]);
            svg.WriteAttributeString("stroke-width", "1");
            svg.WriteAttributeString("points", points.ToString().TrimEnd());
            svg.WriteEndElement();
            svg.WriteEndElement();
            Legend(svg, s, stage.ToString(), Colours[s]);
        }

        svg.WriteStartElement("g");
        svg.WriteAttributeString("id", "missed-deadlines");
        svg.WriteAttributeString("fill", "#d00");
        for (int i = 0; i < n; i++)
        {
            if (records[i].MissedDeadline == 0) continue;
            svg.WriteStartElement("circle");
            svg.WriteAttributeString("class", "missed");
            svg.WriteAttributeString("cx", F(X(i)));
            svg.WriteAttributeString("cy", F(Y(records[i].ComputeNs / 1e6)));
            svg.WriteAttributeString("r", "3");
            svg.WriteElementString("title", $"cycle {records[i].CycleIndex} missed its deadline ({F(records[i].ComputeNs / 1e6)} ms)");
            svg.WriteEndElement();
        }
        svg.WriteEndElement();

        svg.WriteStartElement("line");
        svg.WriteAttributeString("id", "marker-period");
        svg.WriteAttributeString("x1", F(Left));
        svg.WriteAttributeString("x2", F(Left + plotWidth));
        svg.WriteAttributeString("y1", F(Y(period)));
        svg.WriteAttributeString("y2", F(Y(period)));
        svg.WriteAttributeString("stroke", "#d00");
        svg.WriteAttributeString("stroke-dasharray", "4 3");
        svg.WriteEndElement();
        End(svg);
    }

    /// <summary>Writes both plots next to each other: <c>&lt;prefix&gt;-histogram.svg</c> and <c>&lt;prefix&gt;-timeline.svg</c>.</summary>
    /// <returns>The two paths written.</returns>
    /// <remarks>Setup only.</remarks>
    public static (string Histogram, string Timeline) WriteFiles(RunLog log, string pathPrefix)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathPrefix);
        string histogram = pathPrefix + "-histogram.svg", timeline = pathPrefix + "-timeline.svg";
        using (var writer = new StreamWriter(histogram, false, new UTF8Encoding(false))) WriteLatencyHistogram(log, writer);
        using (var writer = new StreamWriter(timeline, false, new UTF8Encoding(false))) WriteTimeline(log, writer);
        return (histogram, timeline);
    }

    private static XmlWriter Begin(TextWriter output, string title)
    {
        var svg = XmlWriter.Create(output, new XmlWriterSettings { Indent = false, OmitXmlDeclaration = true, CloseOutput = false });
        svg.WriteStartElement("svg", "http://www.w3.org/2000/svg");
        svg.WriteAttributeString("width", F(Width));
        svg.WriteAttributeString("height", F(Height));
        svg.WriteAttributeString("viewBox", $"0 0 {F(Width)} {F(Height)}");
        svg.WriteAttributeString("font-family", "sans-serif");
        svg.WriteAttributeString("font-size", "12");
        svg.WriteElementString("title", title);
        Text(svg, Width / 2, 22, title, "middle", "15");
        return svg;
    }

    private static void End(XmlWriter svg)
    {
        svg.WriteEndElement();
        svg.Flush();
    }

    private static void Axes(XmlWriter svg, string xLabel, string yLabel, double xMin, double xMax, double yMin, double yMax)
    {
        double plotWidth = Width - Left - Right, plotHeight = Height - Top - Bottom;
        svg.WriteStartElement("g");
        svg.WriteAttributeString("id", "axes");
        svg.WriteAttributeString("stroke", "#000");
        Line(svg, Left, Top + plotHeight, Left + plotWidth, Top + plotHeight);
        Line(svg, Left, Top, Left, Top + plotHeight);
        svg.WriteEndElement();
        for (int t = 0; t <= 4; t++)
        {
            double fx = xMin + (xMax - xMin) * t / 4, fy = yMin + (yMax - yMin) * t / 4;
            Text(svg, Left + plotWidth * t / 4, Top + plotHeight + 16, Tick(fx), "middle", "11");
            Text(svg, Left - 6, Top + plotHeight - plotHeight * t / 4 + 4, Tick(fy), "end", "11");
        }
        Text(svg, Left + plotWidth / 2, Height - 12, xLabel, "middle", "12");
        svg.WriteStartElement("text");
        svg.WriteAttributeString("transform", $"translate(16 {F(Top + plotHeight / 2)}) rotate(-90)");
        svg.WriteAttributeString("text-anchor", "middle");
        svg.WriteString(yLabel);
        svg.WriteEndElement();
    }

    private static void VerticalMarker(XmlWriter svg, string id, double fraction, string label, string colour)
    {
        double plotWidth = Width - Left - Right, plotHeight = Height - Top - Bottom;
        double x = Left + Math.Clamp(fraction, 0, 1) * plotWidth;
        svg.WriteStartElement("g");
        svg.WriteAttributeString("id", id);
        svg.WriteAttributeString("stroke", colour);
        svg.WriteAttributeString("stroke-dasharray", "4 3");
        Line(svg, x, Top, x, Top + plotHeight);
        svg.WriteEndElement();
        int index = id switch { "marker-p50" => 0, "marker-p99" => 1, _ => 2 };
        Text(svg, Left + plotWidth + 10, Top + 16 + 18 * index, label, "start", "11");
    }

    private static void Legend(XmlWriter svg, int index, string label, string colour)
    {
        double x = Width - Right + 10, y = Top + 10 + 18 * index;
        svg.WriteStartElement("line");
        svg.WriteAttributeString("x1", F(x));
        svg.WriteAttributeString("x2", F(x + 16));
        svg.WriteAttributeString("y1", F(y));
        svg.WriteAttributeString("y2", F(y));
        svg.WriteAttributeString("stroke", colour);
        svg.WriteAttributeString("stroke-width", "2");
        svg.WriteEndElement();
        Text(svg, x + 22, y + 4, label, "start", "11");
    }

    private static void Line(XmlWriter svg, double x1, double y1, double x2, double y2)
    {
        svg.WriteStartElement("line");
        svg.WriteAttributeString("x1", F(x1));
        svg.WriteAttributeString("y1", F(y1));
        svg.WriteAttributeString("x2", F(x2));
        svg.WriteAttributeString("y2", F(y2));
        svg.WriteEndElement();
    }

    private static void Text(XmlWriter svg, double x, double y, string text, string anchor, string size)
    {
        svg.WriteStartElement("text");
        svg.WriteAttributeString("x", F(x));
        svg.WriteAttributeString("y", F(y));
        svg.WriteAttributeString("text-anchor", anchor);
        svg.WriteAttributeString("font-size", size);
        svg.WriteString(text);
        svg.WriteEndElement();
    }

    private static string Tick(double value) => value.ToString(Math.Abs(value) >= 100 ? "0" : "0.##", CultureInfo.InvariantCulture);

    private static string F(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
