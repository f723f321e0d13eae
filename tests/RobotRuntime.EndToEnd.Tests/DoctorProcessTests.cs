using RobotRuntime.Native;

namespace RobotRuntime.EndToEnd.Tests;

public sealed class DoctorProcessTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public void DoctorSucceedsOnABootstrappedMachine()
    {
        var result = RrProcess.Run(new Dictionary<string, string?>(), Timeout, "doctor");

        Assert.True(result.ExitCode == 0, $"rr doctor exited {result.ExitCode}:\n{result.Output}\n{result.Error}");
        Assert.DoesNotContain("FAILED", result.Output);
        Assert.Contains("1.30.0", result.Output);
    }

    [Fact]
    public void WithTheProjectLibrariesGoneDoctorNamesEachAndSaysToRunBootstrap()
    {
        // RR_NATIVE_DIR pointing at an empty folder is what a machine without the bootstrap's
        // downloads and shims looks like to the runtime. libzmq (a Debian package) is still found.
        var empty = Path.Combine(Path.GetTempPath(), "rr-empty-native-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(empty);
        try
        {
            var result = RrProcess.Run(new Dictionary<string, string?> { [NativeLibraryLocator.NativeDirVariable] = empty }, Timeout, "doctor", "--json");

            Assert.Equal(1, result.ExitCode);
            Assert.DoesNotContain("DllNotFoundException", result.Output + result.Error);
            Assert.DoesNotContain("Unhandled exception", result.Error);
            foreach (var file in new[] { "libonnxruntime.so.1", "librr_mujoco.so", "librr_opencv.so" })
            {
                Assert.Contains($"({file}) was not found", result.Output);
            }
            Assert.Contains($"Looked in: {empty}", result.Output);
            Assert.Contains("scripts/bootstrap", result.Output);
            Assert.Contains("\"name\": \"libzmq\",\n    \"status\": \"ok\"", result.Output);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }
}

public sealed class ScriptTests
{
    [Fact]
    public void TheRrScriptTheReadmeNamesRunsDoctor()
    {
        var result = RrProcess.RunScript("scripts/rr", TimeSpan.FromMinutes(3), "doctor", "--json");

        Assert.True(result.ExitCode == 0, $"scripts/rr doctor --json exited {result.ExitCode}:\n{result.Output}\n{result.Error}");
        Assert.StartsWith("[", result.Output.TrimStart());
        Assert.Contains("\"name\": \"ONNX Runtime\"", result.Output);
    }
}
