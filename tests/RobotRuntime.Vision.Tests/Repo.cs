using RobotRuntime.Native;

namespace RobotRuntime.Vision.Tests;

internal static class Repo
{
    public static string Root { get; } = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)
        ?? throw new InvalidOperationException($"no RobotRuntime.sln above {AppContext.BaseDirectory}");

    public static string TestModels => Path.Combine(Root, "models", "test");
}
