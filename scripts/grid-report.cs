#!/usr/bin/env -S dotnet run --file
// Writes the report of a grid folder without the rr command: GridReport.Write, as `rr grid --collect` calls it.
// A .NET 10 file-based program (the first run builds rr's projects, later runs start at once).
// Usage: scripts/grid-report.cs GRID_FOLDER REPORT.md [--seed N] [--resamples N] [--confidence C]
//        [--thresholds 0.5,0.8] [--title TEXT] [--no-latent-maps] [--skip-malformed]
// Prints the files written; exit code 1 with the reason on a bad folder, result or option, 2 on bad usage.
#:project ../src/RobotRuntime.Cli/RobotRuntime.Cli.csproj
#:property PublishAot=false
using System.Globalization;
using RobotRuntime.Cli.Grid;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: scripts/grid-report.cs GRID_FOLDER REPORT.md [--seed N] [--resamples N] [--confidence C] [--thresholds 0.5,0.8] [--title TEXT] [--no-latent-maps] [--skip-malformed]");
    return 2;
}
try
{
    var options = new GridReportOptions();
    for (int i = 2; i < args.Length; i++)
    {
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        static double Number(string text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        options = args[i] switch
        {
            "--seed" => options with { Seed = int.Parse(Value(), CultureInfo.InvariantCulture) },
            "--resamples" => options with { Resamples = int.Parse(Value(), CultureInfo.InvariantCulture) },
            "--confidence" => options with { Confidence = Number(Value()) },
            "--thresholds" => options with { SuccessThresholds = Value().Split(',').Select(Number).ToArray() },
            "--title" => options with { Title = Value() },
            "--no-latent-maps" => options with { LatentMaps = false },
            "--skip-malformed" => options with { SkipMalformedResults = true },
            var other => throw new ArgumentException($"unknown option '{other}'"),
        };
    }
    foreach (var file in GridReport.Write(args[0], args[1], options))
        Console.WriteLine(file);
    return 0;
}
catch (Exception problem) when (problem is IOException or InvalidDataException or ArgumentException or FormatException)
{
    Console.Error.WriteLine($"grid-report: {problem.Message}");
    return 1;
}
