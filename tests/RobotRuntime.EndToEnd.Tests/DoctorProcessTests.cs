using RobotRuntime.Native;
using RobotRuntime.Testing;

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
        Assert.Contains("1.32.0 (NuGet Microsoft.ML.OnnxRuntime 1.32.0)", result.Output);
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
            foreach (var file in new[] { "librr_mujoco.so" })
            {
                Assert.Contains($"({file}) was not found", result.Output);
            }
            Assert.Contains($"Looked in: {empty}", result.Output);
            Assert.Contains("scripts/bootstrap", result.Output);
            Assert.Contains("\"name\": \"libzmq\",\n    \"status\": \"ok\"", result.Output);
            // ONNX Runtime comes with the build from NuGet, whatever RR_NATIVE_DIR says.
            Assert.Contains("\"name\": \"ONNX Runtime\",\n    \"status\": \"ok\"", result.Output);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    [Fact]
    public void WithOnnxRuntimesNativeLibraryGoneDoctorNamesThePackageAndHowToGetItBack()
    {
        // The build without the native library the NuGet package put under runtimes/linux-x64/native.
        var rr = RrProcess.CopyOfBuildWithout(Path.GetTempPath(), Path.Combine("runtimes", "linux-x64", "native", "libonnxruntime.so"));
        var copy = Path.GetDirectoryName(rr)!;
        try
        {
            var result = RrProcess.RunAt(rr, new Dictionary<string, string?>(), Timeout, "doctor", "--json");

            Assert.Equal(1, result.ExitCode);
            Assert.DoesNotContain("Unhandled exception", result.Error);
            Assert.Contains("ONNX Runtime (libonnxruntime.so) was not found.", result.Output);
            Assert.Contains("the NuGet package Microsoft.ML.OnnxRuntime 1.32.0", result.Output);
            Assert.Contains("Rebuild rr", result.Output);
        }
        finally
        {
            if (Directory.Exists(copy))
                Directory.Delete(copy, recursive: true);
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

    [Fact]
    public void TheRrScriptLeavesNoProcessBehindOnAMachineWithNoBuildServerRunning()
    {
        // A new machine: none of the variables that keep MSBuild from leaving a reusable node
        // behind (this workplace sets them), and a handshake salt of our own, so that no node an
        // earlier build left can be reused: whatever MSBuild the script starts is new, as on a
        // fresh clone of a fresh machine. A `dotnet run` there leaves a node holding our pipes.
        var environment = new Dictionary<string, string?>
        {
            ["MSBUILDDISABLENODEREUSE"] = null,
            ["DOTNET_CLI_USE_MSBUILD_SERVER"] = null,
            ["UseSharedCompilation"] = null,
            ["MSBUILDNODEHANDSHAKESALT"] = Guid.NewGuid().ToString("N"),
        };
        using var script = ChildProcess.Start("bash", [Path.Combine(RrProcess.Repository, "scripts", "rr"), "doctor", "--json"], environment, label: "scripts/rr doctor --json");

        var exitCode = script.WaitForExit(TimeSpan.FromMinutes(3)); // throws, naming the holders, if anything keeps its output open

        Assert.True(exitCode == 0, $"scripts/rr doctor --json exited {exitCode}:\n{script.Text}");
        Assert.StartsWith("[", script.Output.TrimStart());
        Assert.Equal("none", ChildProcess.Describe(script.FamilyIds()));
    }
}

/// <summary>The tests' process helper turns a hang into a named failure and leaves nothing running.</summary>
public sealed class ChildProcessTests
{
    [Fact]
    public void AGrandchildHoldingTheOutputIsANamedFailureNotAHang()
    {
        using var child = ChildProcess.Start("bash", ["-c", "sleep 600 & echo started"], label: "bash that leaves sleep behind");

        var failure = Assert.Throws<TimeoutException>(() => child.WaitForExit(TimeSpan.FromSeconds(30)));

        Assert.Contains("exited (0) but its output pipes were still open", failure.Message);
        Assert.Contains("sleep 600", failure.Message);
        Assert.Contains("started", failure.Message);
        Assert.Empty(child.FamilyIds());
    }

    [Fact]
    public void AProcessThatDoesNotExitInTimeIsKilledWithEverythingItStarted()
    {
        using var child = ChildProcess.Start("bash", ["-c", "sleep 600 & echo started; sleep 601"], label: "bash that sleeps");
        child.WaitForLine(line => line == "started", TimeSpan.FromSeconds(30));

        var failure = Assert.Throws<TimeoutException>(() => child.WaitForExit(TimeSpan.FromSeconds(1)));

        Assert.Contains("did not exit within 1 s", failure.Message);
        Assert.Contains("sleep 600", failure.Message);
        Assert.Empty(child.FamilyIds());
    }
}
