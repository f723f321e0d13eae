using System.Diagnostics;
using System.Reflection;
using RobotRuntime.Native;

namespace RobotRuntime.EndToEnd.Tests;

/// <summary>Runs the built <c>rr</c> as a separate process, bounded in time.</summary>
internal static class RrProcess
{
    public sealed record Result(int ExitCode, string Output, string Error);

    /// <summary>Path of rr.dll built in the same configuration as these tests.</summary>
    public static string RrDll
    {
        get
        {
            var repository = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)
                ?? throw new InvalidOperationException($"no RobotRuntime.sln above {AppContext.BaseDirectory}");
            var configuration = typeof(RrProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            var path = Path.Combine(repository, "src", "RobotRuntime.Cli", "bin", configuration, "net10.0", "rr.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"rr.dll is not built at {path}", path);
        }
    }

    /// <summary>Runs the built rr.dll with <paramref name="arguments"/>.</summary>
    public static Result Run(IReadOnlyDictionary<string, string?> environment, TimeSpan timeout, params string[] arguments) =>
        Start("dotnet", ["exec", RrDll, .. arguments], environment, timeout);

    /// <summary>Runs a script of the repository (e.g. scripts/rr) with bash.</summary>
    public static Result RunScript(string script, TimeSpan timeout, params string[] arguments)
    {
        var repository = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)!;
        return Start("bash", [Path.Combine(repository, script), .. arguments], new Dictionary<string, string?>(), timeout);
    }

    private static Result Start(string program, string[] arguments, IReadOnlyDictionary<string, string?> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment)
            start.Environment[key] = value;

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish in {timeout.TotalSeconds} s");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, output.Result, error.Result);
    }
}
