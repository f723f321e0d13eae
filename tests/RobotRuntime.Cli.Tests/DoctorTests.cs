using System.CommandLine;
using System.Text.Json;
using RobotRuntime.Cli.Doctor;

namespace RobotRuntime.Cli.Tests;

public sealed class DoctorTests
{
    [Fact]
    public void OnABootstrappedMachineNothingFailsAndEveryNativePieceSaysWhereItIs()
    {
        var checks = DoctorChecks.RunAll();

        Assert.All(checks, c => Assert.True(c.Status != CheckStatus.Failed, $"{c.Name} failed: {c.Detail}"));
        foreach (var name in new[] { "ONNX Runtime", "libzmq", "MuJoCo", "OpenCV (OpenCvSharp4)", "Offscreen rendering (OSMesa)", "Datasets (Parquet.Net)" })
        {
            var check = Assert.Single(checks, c => c.Name == name);
            Assert.Equal(CheckStatus.Ok, check.Status);
            Assert.False(string.IsNullOrEmpty(check.Location), $"{name} has no location");
            Assert.True(File.Exists(check.Location), $"{name} location {check.Location} does not exist");
        }
        Assert.Equal(0, DoctorCommand.ExitCode(checks));
    }

    [Fact]
    public void TheArmCheckReportsAnArmThatAnswersAndNamesTheEndpointOfOneThatDoesNot()
    {
        using (var host = SimServer.SimServerHost.Start(new SimServer.SimServerOptions
        {
            StateEndpoint = "tcp://127.0.0.1:*", CommandEndpoint = "tcp://127.0.0.1:*", ControlEndpoint = "tcp://127.0.0.1:*", CameraRateHz = 0, Quiet = true,
        }))
        {
            var ok = DoctorChecks.CheckArm(host.Endpoints.Control, host.Endpoints.State);
            Assert.True(ok.Status == CheckStatus.Ok, ok.Detail);
            Assert.Contains("4 joints", ok.Detail);
            Assert.Contains("JointPosition/EndEffectorDelta, gripper, state", ok.Detail); // the DESCRIPTION's gripper bit
            Assert.Contains($"session {host.Endpoints.Session:X8}", ok.Detail);
        }
        // Nothing listens on this port (bound and released just now).
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var missing = DoctorChecks.CheckArm($"tcp://127.0.0.1:{port}", null);
        Assert.Equal(CheckStatus.Failed, missing.Status);
        Assert.Contains($"no answer at tcp://127.0.0.1:{port}", missing.Detail);
        Assert.NotNull(missing.Fix);
    }

    [Fact]
    public void TheRealTimeCheckSaysWhetherSchedFifoAndPinningAreAllowedAndHowToGetThem()
    {
        var check = DoctorChecks.CheckRealTime();
        Assert.Contains("SCHED_FIFO", check.Detail);
        Assert.Contains("affinity", check.Detail);
        if (check.Status == CheckStatus.Warning)
            Assert.Contains("cap_sys_nice", check.Fix);
        else
            Assert.Equal(CheckStatus.Ok, check.Status);
    }

    [Fact]
    public void OnTheCpuBuildTheGpuLineSaysSoAndWhetherAGpuIsVisible()
    {
        // This machine has the CPU package and no GPU: an information line, nothing to fix.
        var checks = DoctorChecks.RunAll();
        var gpu = Assert.Single(checks, c => c.Name == "ONNX Runtime GPU (CUDA, TensorRT)");
        Assert.Equal(CheckStatus.Info, gpu.Status);
        Assert.Contains("CPU build (Microsoft.ML.OnnxRuntime)", gpu.Detail);
        Assert.Contains("no NVIDIA GPU visible", gpu.Detail);
        Assert.Null(gpu.Fix);
        var ort = Assert.Single(checks, c => c.Name == "ONNX Runtime");
        Assert.Equal(CheckStatus.Ok, ort.Status);
        Assert.StartsWith("1.32.0 (NuGet Microsoft.ML.OnnxRuntime 1.32.0); providers: CPUExecutionProvider", ort.Detail);
        Assert.EndsWith(Path.Combine("runtimes", "linux-x64", "native", "libonnxruntime.so"), ort.Location);
    }

    [Fact]
    public void ThePackagesLineGivesEachPackagesVersion()
    {
        var packages = DoctorChecks.CheckPackages();
        Assert.Equal(CheckStatus.Ok, packages.Status);
        foreach (var expected in new[] { "Microsoft.ML.OnnxRuntime 1.32.0", "OpenCvSharp4 4.13.0.20261107", "Parquet.Net 6.1.0", "ScottPlot 5.1.59", "SkiaSharp 3.119.0", "System.Device.Gpio 4.2.0" })
            Assert.Contains(expected, packages.Detail);
        Assert.Matches(@"prometheus-net 8\.2\.1", packages.Detail);
    }

    [Fact]
    public void AnyFailedCheckMakesTheExitCodeOne()
    {
        DoctorCheck[] checks =
        [
            new("a", CheckStatus.Ok, ""),
            new("b", CheckStatus.Warning, "", Fix: "x"),
            new("c", CheckStatus.Info, ""),
        ];
        Assert.Equal(0, DoctorCommand.ExitCode(checks));
        Assert.Equal(1, DoctorCommand.ExitCode([.. checks, new("d", CheckStatus.Failed, "gone", Fix: "y")]));
    }

    [Fact]
    public void JsonReportListsEveryCheckWithItsStatus()
    {
        var output = new StringWriter();
        var exit = RrCommand.Create().Parse(["doctor", "--json"]).Invoke(new InvocationConfiguration { Output = output });

        Assert.Equal(0, exit);
        using var document = JsonDocument.Parse(output.ToString());
        var names = document.RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
        Assert.Contains("ONNX Runtime", names);
        Assert.Contains("Cameras", names);
        Assert.All(document.RootElement.EnumerateArray(),
            e => Assert.Contains(e.GetProperty("status").GetString(), new[] { "ok", "info", "warning", "failed" }));
    }

    [Fact]
    public void TableReportEndsWithWhatToDo()
    {
        var output = new StringWriter();
        RrCommand.Create().Parse(["doctor"]).Invoke(new InvocationConfiguration { Output = output });

        var text = output.ToString();
        Assert.Contains("rr doctor", text);
        Assert.Contains("libzmq", text);
        Assert.Contains("What to do:", text); // the GPU warning always has a fix on this machine
    }

    [Fact]
    public void ThePvrZooLineCountsExportedModelsAndSaysHowToExportTheRest()
    {
        var folder = Path.Combine(Path.GetTempPath(), "rr-doctor-zoo-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var manifest = Path.Combine(folder, "zoo.json");
            File.WriteAllText(manifest, File.ReadAllText(RobotRuntime.Vision.Encoders.PvrZoo.DefaultManifestPath()));
            var none = DoctorChecks.CheckPvrZoo(manifest);
            Assert.Equal(CheckStatus.Info, none.Status);
            Assert.StartsWith("none of 9 PVRs exported yet", none.Detail);
            Assert.Contains("models/export/export_pvr.py", none.Fix);

            Directory.CreateDirectory(Path.Combine(folder, "pvr"));
            File.WriteAllBytes(Path.Combine(folder, "pvr", "resnet18-pieg.onnx"), [0]);
            var one = DoctorChecks.CheckPvrZoo(manifest);
            Assert.Equal(CheckStatus.Ok, one.Status);
            Assert.Equal("1 of 9 exported: resnet18-pieg", one.Detail);

            File.WriteAllText(manifest, "{ \"version\": 2 }");
            Assert.Equal(CheckStatus.Failed, DoctorChecks.CheckPvrZoo(manifest).Status);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void UnknownVerbIsAnErrorNamingIt()
    {
        var error = new StringWriter();
        var exit = RrCommand.Create().Parse(["doctr"]).Invoke(new InvocationConfiguration { Output = new StringWriter(), Error = error });
        Assert.NotEqual(0, exit);
        Assert.Contains("doctr", error.ToString());
    }

    [Fact]
    public void TheArmKeyCheckSaysWhetherTheKeyIsThereAndOnlyItsOwnerCanReadIt()
    {
        var folder = Directory.CreateTempSubdirectory("rr-doctor-key-").FullName;
        try
        {
            var path = Path.Combine(folder, "arm.key");
            var missing = RobotRuntime.Cli.Doctor.DoctorChecks.CheckArmKey(path);
            Assert.Equal(RobotRuntime.Cli.Doctor.CheckStatus.Info, missing.Status);
            Assert.Contains("rr keygen", missing.Fix);

            RobotRuntime.Transport.Firmware.ArmKeyFile.Create(path);
            Assert.Equal(RobotRuntime.Cli.Doctor.CheckStatus.Ok, RobotRuntime.Cli.Doctor.DoctorChecks.CheckArmKey(path).Status);
            Assert.Throws<IOException>(() => RobotRuntime.Transport.Firmware.ArmKeyFile.Create(path)); // never over an existing key
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            Assert.Equal(Path.Combine(home, ".config", "x.key"), RobotRuntime.Transport.Firmware.ArmKeyFile.ExpandHome("~/.config/x.key"));
            Assert.Equal("/etc/x.key", RobotRuntime.Transport.Firmware.ArmKeyFile.ExpandHome("/etc/x.key"));

            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
            var exposed = RobotRuntime.Cli.Doctor.DoctorChecks.CheckArmKey(path);
            Assert.Equal(RobotRuntime.Cli.Doctor.CheckStatus.Failed, exposed.Status);
            Assert.Contains("can be read or written by others (mode 604)", exposed.Detail);
            Assert.Contains("chmod 600", exposed.Fix);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
