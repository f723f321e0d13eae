using System.Diagnostics;
using RobotRuntime.Native;

namespace RobotRuntime.Transport.Tests;

/// <summary>Paths in the repository the tests read (golden vectors, the reference endpoint).</summary>
internal static class Repository
{
    public static string Root { get; } = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)
        ?? throw new InvalidOperationException($"no RobotRuntime.sln above {AppContext.BaseDirectory}");

    public static string Vectors => Path.Combine(Root, "firmware-interfaces", "vectors");

    public static byte[] Vector(string name) => File.ReadAllBytes(Path.Combine(Vectors, name));

    /// <summary>(file, expected status name, type name) for every line of vectors/manifest.txt.</summary>
    public static IReadOnlyList<(string File, string Status, string Type)> Manifest()
    {
        var entries = new List<(string, string, string)>();
        foreach (var line in File.ReadLines(Path.Combine(Vectors, "manifest.txt")))
        {
            if (line.StartsWith('#') || string.IsNullOrWhiteSpace(line))
                continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            entries.Add((parts[0], parts[1], parts[2]));
        }
        return entries;
    }

    public static string EndpointBinary => NativeProgram("rr-arm-endpoint", "the reference arm endpoint");

    /// <summary>The bridge template (firmware-interfaces/bridge-template).</summary>
    public static string BridgeTemplateBinary => NativeProgram("rr-bridge-template", "the bridge template");

    /// <summary>The test arm with hardware trouble on request (firmware-interfaces/tests/fault_arm.c).</summary>
    public static string FaultArmBinary => NativeProgram("rrfw-test-fault-arm", "the test arm with hardware faults");

    private static string NativeProgram(string name, string what)
    {
        var path = Path.Combine(Root, ".native", "bin", name);
        return File.Exists(path) ? path
            : throw new FileNotFoundException($"{what} is not built at {path}; run scripts/bootstrap", path);
    }
}

/// <summary>Waits for conditions with a generous upper bound, so a broken behaviour fails instead of hanging.</summary>
internal static class Eventually
{
    public static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(15);

    /// <summary>Polls <paramref name="condition"/> every few ms until it holds or <see cref="HangGuard"/> passes.</summary>
    public static bool True(Func<bool> condition, TimeSpan? bound = null)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)((bound ?? HangGuard).TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (condition())
                return true;
            Thread.Sleep(5);
        }
        return condition();
    }
}

/// <summary>A unique ipc:// prefix per test, removed afterwards.</summary>
internal static class IpcPrefix
{
    public static string Create() => Path.Combine(Path.GetTempPath(), $"rrlink-{Guid.NewGuid():N}"[..20]);
}
