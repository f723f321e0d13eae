using System.CommandLine;
using RobotRuntime.Telemetry;

namespace RobotRuntime.Cli.Runtime;

/// <summary><c>rr log</c>: the summary of a run log (a run folder or a <c>run.rrlog</c>), and its CSV and plots on request.</summary>
public static class LogCommand
{
    /// <summary>Builds the <c>log</c> verb.</summary>
    public static Command Create()
    {
        var path = new Argument<string>("log") { Description = "A run.rrlog, or the run folder holding one (even a run still being written, or one killed mid-write)." };
        var csv = new Option<string?>("--csv") { Description = "Also write every cycle as CSV to this file." };
        var plots = new Option<string?>("--plots") { Description = "Also write the latency histogram and the timeline as PNG and SVG: PREFIX-histogram.png/.svg and PREFIX-timeline.png/.svg." };
        var verb = new Command("log", "Summarise a run log (per-stage p50/p95/p99/max, missed deadlines, holds by reason) and export it as CSV or SVG plots.")
        {
            path, csv, plots,
        };
        verb.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            string given = result.GetValue(path)!;
            string file = Directory.Exists(given) ? Path.Combine(given, "run.rrlog") : given;
            if (!File.Exists(file))
            {
                error.WriteLine(Directory.Exists(given)
                    ? $"rr log: the folder {given} has no run.rrlog; give a run folder written by rr run or rr demo, or the log file itself"
                    : $"rr log: {given} is not there; give a run.rrlog or a run folder");
                return 2;
            }
            RunLog log;
            try
            {
                log = RunLog.Read(file);
            }
            catch (Exception e) when (e is InvalidDataException or IOException)
            {
                error.WriteLine($"rr log: {file} is not a readable run log: {e.Message}");
                return 1;
            }
            output.WriteLine($"{file}: {log.Records.Count} cycles");
            output.Write(RunLogSummary.Compute(log).ToText());
            if (result.GetValue(csv) is { } csvPath)
            {
                RunLogCsv.Write(log, csvPath);
                output.WriteLine($"rr log: wrote {csvPath}");
            }
            if (result.GetValue(plots) is { } prefix)
            {
                var written = Plots.RunPlots.WriteFiles(log, prefix);
                output.WriteLine($"rr log: wrote {string.Join(", ", written)}");
            }
            return 0;
        });
        return verb;
    }
}
