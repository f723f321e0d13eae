using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using RobotRuntime.Native;
using Spectre.Console;

namespace RobotRuntime.Cli.Doctor;

/// <summary><c>rr doctor</c>: what is installed, what works, and what to run to fix the rest.</summary>
public static class DoctorCommand
{
    /// <summary>Builds the <c>doctor</c> verb.</summary>
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print the report as JSON instead of a table." };
        var arm = new Option<string?>("--arm") { Description = "Also check that an arm (or rr sim-server) answers at this control endpoint, e.g. tcp://10.0.0.2:5603." };
        var armState = new Option<string?>("--arm-state") { Description = "The arm's state endpoint for --arm (default tcp://127.0.0.1:5601)." };
        var command = new Command("doctor", "Check native libraries, shims, cameras, GPU support, real-time permissions and (with --arm) the arm, and say what to fix.") { json, arm, armState };
        command.SetAction(result =>
        {
            var checks = DoctorChecks.RunAll(result.GetValue(arm), result.GetValue(armState));
            var output = result.InvocationConfiguration.Output;
            if (result.GetValue(json))
                WriteJson(checks, output);
            else
                WriteTable(checks, output);
            return ExitCode(checks);
        });
        return command;
    }

    /// <summary>0 when nothing failed, 1 when something needed is missing or broken.</summary>
    public static int ExitCode(IReadOnlyList<DoctorCheck> checks) =>
        checks.Any(c => c.Status == CheckStatus.Failed) ? 1 : 0;

    private static void WriteJson(IReadOnlyList<DoctorCheck> checks, TextWriter output)
    {
        var options = new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        };
        output.WriteLine(JsonSerializer.Serialize(checks, options));
    }

    private static void WriteTable(IReadOnlyList<DoctorCheck> checks, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = output == Console.Out && !Console.IsOutputRedirected ? AnsiSupport.Detect : AnsiSupport.No,
        });
        if (output != Console.Out || Console.IsOutputRedirected)
            console.Profile.Width = 160;

        var table = new Table().Border(TableBorder.Rounded).Title("rr doctor");
        table.AddColumn("Check");
        table.AddColumn("Status");
        table.AddColumn("Details");
        table.AddColumn("Where");
        foreach (var check in checks)
            table.AddRow(
                Markup.Escape(check.Name),
                StatusMarkup(check.Status),
                Markup.Escape(check.Detail),
                Markup.Escape(check.Location ?? ""));
        console.Write(table);

        var fixes = checks.Where(c => c.Fix is not null).ToList();
        if (fixes.Count == 0)
        {
            console.MarkupLine("[green]Everything RobotRuntime needs is installed and working.[/]");
            return;
        }
        console.WriteLine();
        console.MarkupLine("[bold]What to do:[/]");
        foreach (var check in fixes)
            console.MarkupLine($"  {StatusMarkup(check.Status)} {Markup.Escape(check.Name)}: {Markup.Escape(check.Fix!)}");
        var repository = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory);
        if (repository is not null && checks.Any(c => c.Status == CheckStatus.Failed))
            console.MarkupLine($"  Repository root: {Markup.Escape(repository)}");
    }

    private static string StatusMarkup(CheckStatus status) => status switch
    {
        CheckStatus.Ok => "[green]ok[/]",
        CheckStatus.Info => "[blue]info[/]",
        CheckStatus.Warning => "[yellow]warning[/]",
        _ => "[red]FAILED[/]",
    };
}
