using System.Reflection;
using RobotRuntime.Native;
using RobotRuntime.Testing;

namespace RobotRuntime.EndToEnd.Tests;

/// <summary>Runs the built <c>rr</c> (or a script of the repository) as a separate process, every wait bounded.</summary>
internal static class RrProcess
{
    public sealed record Result(int ExitCode, string Output, string Error);

    /// <summary>The repository this test assembly was built in.</summary>
    public static string Repository =>
        NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)
        ?? throw new InvalidOperationException($"no RobotRuntime.sln above {AppContext.BaseDirectory}");

    /// <summary>Path of rr.dll built in the same configuration as these tests.</summary>
    public static string RrDll
    {
        get
        {
            var configuration = typeof(RrProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            var path = Path.Combine(Repository, "src", "RobotRuntime.Cli", "bin", configuration, "net10.0", "rr.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"rr.dll is not built at {path}", path);
        }
    }

    /// <summary>
    /// A copy of the build in a new folder under <paramref name="parent"/> without the files named in
    /// <paramref name="without"/> (paths relative to the build): what a broken or partial deployment looks like.
    /// rr's own files are copied (the host resolves the main assembly's symbolic link to the real build,
    /// which would bring the real folder back); everything else is a symbolic link. Returns the copy's rr.dll.
    /// </summary>
    public static string CopyOfBuildWithout(string parent, params string[] without)
    {
        var build = Path.GetDirectoryName(RrDll)!;
        var copy = Path.Combine(parent, "rr-build-" + Guid.NewGuid().ToString("N"));
        var skipped = without.Select(w => Path.GetFullPath(Path.Combine(build, w))).ToHashSet(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(build, "*", SearchOption.AllDirectories))
        {
            if (skipped.Contains(file))
                continue;
            var target = Path.Combine(copy, Path.GetRelativePath(build, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            if (Path.GetFileName(file).StartsWith("rr.", StringComparison.Ordinal))
                File.Copy(file, target);
            else
                File.CreateSymbolicLink(target, file);
        }
        return Path.Combine(copy, "rr.dll");
    }

    /// <summary>Runs an rr.dll at <paramref name="rrDll"/> (e.g. a copy of the build with a file taken away).</summary>
    public static Result RunAt(string rrDll, IReadOnlyDictionary<string, string?> environment, TimeSpan timeout, params string[] arguments) =>
        Run("dotnet", ["exec", rrDll, .. arguments], environment, timeout);

    /// <summary>Runs the built rr.dll with <paramref name="arguments"/>.</summary>
    public static Result Run(IReadOnlyDictionary<string, string?> environment, TimeSpan timeout, params string[] arguments) =>
        Run("dotnet", ["exec", RrDll, .. arguments], environment, timeout);

    /// <summary>Runs a script of the repository (e.g. scripts/rr) with bash.</summary>
    public static Result RunScript(string script, TimeSpan timeout, params string[] arguments) =>
        RunScript(script, new Dictionary<string, string?>(), timeout, arguments);

    /// <summary>Runs a script of the repository with bash and extra environment (null removes a variable).</summary>
    public static Result RunScript(string script, IReadOnlyDictionary<string, string?> environment, TimeSpan timeout, params string[] arguments) =>
        Run("bash", [Path.Combine(Repository, script), .. arguments], environment, timeout);

    private static Result Run(string program, string[] arguments, IReadOnlyDictionary<string, string?> environment, TimeSpan timeout)
    {
        using var process = ChildProcess.Start(program, arguments, environment, label: $"{program} {string.Join(' ', arguments)}");
        var exitCode = process.WaitForExit(timeout);
        return new Result(exitCode, process.Output, process.Error);
    }
}
