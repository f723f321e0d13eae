using System.Diagnostics;
using System.Runtime.InteropServices;
using RobotRuntime.Native;
using RobotRuntime.Runtime;
using RobotRuntime.Onnx;
using RobotRuntime.Sim.MuJoCo;
using RobotRuntime.Transport.Zmq;
using RobotRuntime.Vision.Cameras;
using RobotRuntime.Vision.Encoders;
using RobotRuntime.Imaging;

namespace RobotRuntime.Cli.Doctor;

/// <summary>The checks <c>rr doctor</c> runs: every native dependency and shim, and the cameras.</summary>
public static class DoctorChecks
{
    private static readonly string InstallFix =
        $"run `{NativeDependency.InstallCommand}` from the repository root (the README's test command runs it too)";

    /// <summary>Runs every check. Never throws: a failure becomes a <see cref="CheckStatus.Failed"/> line.</summary>
    public static IReadOnlyList<DoctorCheck> RunAll(string? armControl = null, string? armState = null) =>
    [
        .. RunNative(),
        CheckRealTime(),
        CheckArmKey(Transport.Firmware.ArmKeyFile.DefaultPath),
        .. armControl is null ? Array.Empty<DoctorCheck>() : [CheckArm(armControl, armState)],
    ];

    private static IReadOnlyList<DoctorCheck> RunNative() =>
    [
        new(".NET runtime", CheckStatus.Ok, $"{RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription} ({RuntimeInformation.ProcessArchitecture}), {Environment.ProcessorCount} cores"),
        Guard("ONNX Runtime", OnnxRuntimeLibrary.Dependency, CheckOnnxRuntime),
        Guard("ONNX Runtime GPU (CUDA, TensorRT)", OnnxRuntimeLibrary.Dependency, CheckGpu),
        Guard("libzmq", NativeDependency.ZeroMq, CheckZeroMq),
        Guard("MuJoCo", NativeDependency.MuJoCoShim, CheckMuJoCo),
        Guard("Offscreen rendering (OSMesa)", NativeDependency.MuJoCoShim, CheckOffscreenRendering),
        Guard("OpenCV (OpenCvSharp4)", NativeDependency.OpenCvSharp, CheckOpenCv),
        CheckGStreamer(),
        CheckGpio(),
        Guard("Datasets (Parquet.Net)", NativeDependency.OpenCvSharp, CheckDatasets),
        CheckPackages(),
        CheckCameras(),
        CheckPvrZoo(PvrZoo.DefaultManifestPath()),
    ];

    /// <summary>
    /// Whether the control loop can have what <c>rr run</c> asks for: SCHED_FIFO and CPU pinning, tried
    /// on a short-lived thread of this process (nothing else changes), with the fix when refused.
    /// </summary>
    public static DoctorCheck CheckRealTime()
    {
        const string name = "Real-time scheduling";
        RealTimeReport? report = null;
        var probe = new Thread(() => report = RealTimeSetup.ConfigureCurrentThread(new RealTimeRequest(FifoPriority: 1, Cpus: [0], LowLatencyGc: false)))
        { IsBackground = true, Name = "rr doctor real-time probe" };
        probe.Start();
        if (!probe.Join(TimeSpan.FromSeconds(5)) || report is null)
            return new DoctorCheck(name, CheckStatus.Warning, "the probe thread did not finish");
        var detail = string.Join("; ", report.Outcomes.Select(o => $"{o.Setting}: {(o.Applied ? "ok" : o.Detail)}"));
        return report.AllApplied
            ? new DoctorCheck(name, CheckStatus.Ok, detail)
            : new DoctorCheck(name, CheckStatus.Warning, detail, null,
                "for SCHED_FIFO run rr as root, or grant it: `sudo setcap cap_sys_nice+ep $(readlink -f $(which dotnet))`, or raise `ulimit -r` (rtprio in /etc/security/limits.conf); without it the loop runs at normal priority and reports so");
    }

    /// <summary>The secret this machine's rr run shares with its arm (protocol version 2): there, readable only by its owner, well formed.</summary>
    public static DoctorCheck CheckArmKey(string path)
    {
        const string name = "Arm key";
        if (!File.Exists(path))
            return new DoctorCheck(name, CheckStatus.Info, "no arm key yet: rr run cannot claim an arm until it has the secret the arm was given", path,
                "`rr keygen` makes one here (give the arm the same file); `rr sim-server` makes it by itself");
        try
        {
            Transport.Firmware.ArmKeyFile.Read(path);
            return new DoctorCheck(name, CheckStatus.Ok, "present, mode 600: rr run claims the arm with it", path);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return new DoctorCheck(name, CheckStatus.Failed, e.Message, path, $"`chmod 600 {path}`, or make a new key with `rr keygen` (and give it to the arm)");
        }
    }

    /// <summary>Whether an arm (or rr sim-server) answers at the given endpoints: handshake and a state.</summary>
    public static DoctorCheck CheckArm(string controlEndpoint, string? stateEndpoint)
    {
        const string name = "Arm";
        try
        {
            var settings = new Transport.Firmware.ZmqArmLinkSettings
            {
                ControlAddress = controlEndpoint,
                StateAddress = stateEndpoint ?? new Transport.Firmware.ZmqArmLinkSettings().StateAddress,
            };
            using var link = new Transport.Firmware.ZmqArmLink(settings);
            var hello = link.Handshake(TimeSpan.FromSeconds(2));
            if (!hello.Succeeded)
                return new DoctorCheck(name, CheckStatus.Failed, $"no answer at {controlEndpoint}: {hello.Detail}", controlEndpoint,
                    "start the arm's firmware bridge (or `rr sim-server`) and check the control endpoint");
            var arm = link.Description!;
            if (!SpinWait.SpinUntil(() => link.Health.Status == Arm.ArmLinkStatus.Up, TimeSpan.FromSeconds(2)))
                return new DoctorCheck(name, CheckStatus.Failed, $"handshake ok (session {arm.Session:X8}) but no state on {settings.StateAddress} within 2 s", settings.StateAddress,
                    "check the state endpoint (--arm-state)");
            return new DoctorCheck(name, CheckStatus.Ok,
                $"session {arm.Session:X8}, protocol {arm.ProtocolVersion}, {arm.JointCount} joints, modes {string.Join("/", arm.SupportedModes)}, " +
                $"{(arm.HasGripper ? "gripper" : "no gripper")}, state {arm.StateRateHz} Hz, watchdog {arm.WatchdogMilliseconds} ms",
                controlEndpoint);
        }
        catch (NativeDependencyMissingException e)
        {
            return new DoctorCheck(name, CheckStatus.Failed, e.Message, null, InstallFix);
        }
    }

    private static DoctorCheck Guard(string name, NativeDependency dependency, Func<string, DoctorCheck> check)
    {
        try
        {
            return check(name);
        }
        catch (NativeDependencyMissingException e)
        {
            return new DoctorCheck(name, CheckStatus.Failed, e.Message, null, InstallFix);
        }
        catch (Exception e)
        {
            return new DoctorCheck(name, CheckStatus.Failed, $"{e.GetType().Name}: {e.Message}",
                NativeLibraryLocator.MappedPathOf(dependency.FileName), InstallFix);
        }
    }

    /// <summary>The NuGet packages rr is built on, each with the version its assembly states (what a bug report needs).</summary>
    public static DoctorCheck CheckPackages()
    {
        (string Package, System.Reflection.Assembly Assembly)[] packages =
        [
            (OnnxRuntimeLibrary.PackageName, typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly),
            ("OpenCvSharp4", typeof(OpenCvSharp.Cv2).Assembly),
            ("Parquet.Net", typeof(Parquet.ParquetWriter).Assembly),
            ("ScottPlot", typeof(ScottPlot.Plot).Assembly),
            ("SkiaSharp", typeof(SkiaSharp.SKBitmap).Assembly),
            ("prometheus-net", typeof(Prometheus.Metrics).Assembly),
            ("System.Device.Gpio", typeof(System.Device.Gpio.GpioController).Assembly),
            ("YamlDotNet", typeof(YamlDotNet.Serialization.Deserializer).Assembly),
        ];
        return new DoctorCheck("NuGet packages", CheckStatus.Ok, string.Join("; ", packages.Select(p => $"{p.Package} {PackageVersion(p.Assembly)}")));
    }

    /// <summary>The episode datasets' Parquet library (their PNG images go through OpenCV, checked on its own line).</summary>
    private static DoctorCheck CheckDatasets(string name) =>
        new(name, CheckStatus.Ok, $"Parquet.Net {PackageVersion(typeof(Parquet.ParquetWriter).Assembly)} (rr collect, rr pretrain, rr probe)", typeof(Parquet.ParquetWriter).Assembly.Location);

    /// <summary>A NuGet package's version as its assembly states it (informational version without a source hash).</summary>
    private static string PackageVersion(System.Reflection.Assembly assembly)
    {
        var version = System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(assembly)?.InformationalVersion
            ?? (assembly.Location.Length > 0 ? FileVersionInfo.GetVersionInfo(assembly.Location).FileVersion : null)
            ?? assembly.GetName().Version?.ToString() ?? "unknown";
        var plus = version.IndexOf('+');
        return plus < 0 ? version : version[..plus];
    }

    private static DoctorCheck CheckOnnxRuntime(string name)
    {
        var version = OnnxRuntimeLibrary.Version;
        var providers = string.Join(", ", OnnxRuntimeLibrary.GetAvailableProviders());
        var detail = $"{version} (NuGet {OnnxRuntimeLibrary.PackageName} {OnnxRuntimeLibrary.BindingVersion}); providers: {providers}";
        return version == OnnxRuntimeLibrary.BindingVersion
            ? new DoctorCheck(name, CheckStatus.Ok, detail, OnnxRuntimeLibrary.LoadedFrom)
            : new DoctorCheck(name, CheckStatus.Warning, detail + ": the native library's version is not the binding's", OnnxRuntimeLibrary.LoadedFrom,
                "a libonnxruntime.so of another version was loaded first (LD_PRELOAD or LD_LIBRARY_PATH?); unset it, or rebuild rr");
    }

    /// <summary>
    /// Whether a GPU can run the encoder: the build's package (CPU or GPU), the providers its library
    /// lists, and which CUDA/cuDNN/TensorRT libraries the loader can open.
    /// </summary>
    public static DoctorCheck CheckGpu(string name)
    {
        var providers = OnnxRuntimeLibrary.GetAvailableProviders();
        var missingCuda = ExecutionProviderUnavailableException.Unloadable(ExecutionProviderUnavailableException.CudaLibraries);
        var missingTrt = ExecutionProviderUnavailableException.Unloadable(ExecutionProviderUnavailableException.TensorRtLibraries);
        var gpus = Directory.Exists("/proc/driver/nvidia/gpus") ? Directory.GetDirectories("/proc/driver/nvidia/gpus").Length : 0;
        var hardware = gpus == 0 ? "no NVIDIA GPU visible (/proc/driver/nvidia/gpus)" : $"{gpus} NVIDIA GPU(s)";
        if (!providers.Contains(OnnxRuntimeLibrary.CudaProvider))
            return new DoctorCheck(name, CheckStatus.Info,
                $"CPU build ({OnnxRuntimeLibrary.PackageName}); {hardware}; encoders run on the CPU", null,
                gpus == 0 ? null : $"for the GPU, build with -p:{OnnxRuntimeLibrary.GpuBuildProperty}=true and install CUDA 13 + cuDNN 9 (docs/runtime.md, \"Execution providers\")");
        var cuda = missingCuda.Count == 0 ? "CUDA 13 + cuDNN 9 libraries found" : $"missing {string.Join(", ", missingCuda)}";
        var trt = missingTrt.Count == 0 ? "TensorRT found" : "no TensorRT";
        var ready = gpus > 0 && missingCuda.Count == 0;
        return new DoctorCheck(name, ready ? CheckStatus.Ok : CheckStatus.Warning,
            $"GPU build ({OnnxRuntimeLibrary.PackageName}), providers {string.Join(", ", providers)}; {hardware}; {cuda}; {trt}", null,
            ready ? null : "install the NVIDIA driver, CUDA 13 and cuDNN 9 (on the loader path), or run with device cpu");
    }

    private static DoctorCheck CheckZeroMq(string name)
    {
        var version = ZmqLibrary.Version;
        var where = NativeLibraryLocator.MappedPathOf(NativeDependency.ZeroMq.FileName);
        return version >= new Version(4, 3)
            ? new DoctorCheck(name, CheckStatus.Ok, version.ToString(), where)
            : new DoctorCheck(name, CheckStatus.Failed, $"{version} found, 4.3 or later needed", where, InstallFix);
    }

    private static DoctorCheck CheckMuJoCo(string name)
    {
        var library = MuJoCoLibrary.VersionNumber;
        var header = MuJoCoLibrary.HeaderVersionNumber;
        var shim = NativeLibraryLocator.MappedPathOf(NativeDependency.MuJoCoShim.FileName);
        var mujoco = NativeLibraryLocator.MappedPathOf("libmujoco.so.2.2.2") ?? "libmujoco";
        if (library != header)
            return new DoctorCheck(name, CheckStatus.Failed,
                $"the shim was built against mujoco.h {header} but the library is {library}", shim,
                $"rebuild the shim: delete .native/build and {InstallFix}");
        return new DoctorCheck(name, CheckStatus.Ok, $"{MuJoCoLibrary.Version} (shim {shim}, library {mujoco})", shim);
    }

    private static DoctorCheck CheckOffscreenRendering(string name)
    {
        const int size = 64;
        var clock = Stopwatch.StartNew();
        var image = MuJoCoLibrary.RenderSelfTest(size, size);
        var elapsed = clock.Elapsed.TotalMilliseconds;
        var where = NativeLibraryLocator.MappedPathOf("libOSMesa.so.8");
        var distinct = new HashSet<int>();
        for (var i = 0; i < image.Pixels.Length; i += 3)
            distinct.Add(image.Pixels[i] << 16 | image.Pixels[i + 1] << 8 | image.Pixels[i + 2]);
        return distinct.Count > 1
            ? new DoctorCheck(name, CheckStatus.Ok, $"{size}×{size} test scene rendered in {elapsed:F0} ms (incl. GL context creation)", where)
            : new DoctorCheck(name, CheckStatus.Failed, $"the {size}×{size} test frame is one flat colour: rendering produced no image", where,
                $"check libosmesa6 is installed; {InstallFix}");
    }

    private static DoctorCheck CheckOpenCv(string name)
    {
        var version = OpenCvSharpLibrary.Version;
        var backends = OpenCvSharpLibrary.VideoIoBackends();
        var where = NativeLibraryLocator.MappedPathOf(NativeDependency.OpenCvSharp.FileName) ?? OpenCvSharpLibrary.NativeLibraryPath;
        var detail = $"{version} (NuGet OpenCvSharp4 {OpenCvSharpLibrary.PackageVersion}); video I/O: {string.Join(", ", backends)}";
        return backends.Contains("V4L2") && backends.Contains("FFMPEG")
            ? new DoctorCheck(name, CheckStatus.Ok, detail, where)
            : new DoctorCheck(name, CheckStatus.Warning, detail + " (USB cameras need V4L2, files and network streams FFMPEG)", where,
                "rebuild rr so that the NuGet package OpenCvSharp4.official.runtime.linux-x64 is restored");
    }

    /// <summary>The GPIO chips a hardware e-stop or enable line can be on, and whether libgpiod loads.</summary>
    public static DoctorCheck CheckGpio()
    {
        const string name = "GPIO (e-stop, enable line)";
        var chips = Directory.Exists("/dev") ? Directory.GetFiles("/dev", "gpiochip*").Order(StringComparer.Ordinal).ToArray() : [];
        var libgpiod = NativeLibrary.TryLoad("libgpiod.so.2", out var handle);
        if (libgpiod)
            NativeLibrary.Free(handle);
        var library = libgpiod ? "libgpiod.so.2 loads" : "libgpiod.so.2 missing";
        if (chips.Length == 0)
            return new DoctorCheck(name, CheckStatus.Info, $"no /dev/gpiochip* on this machine ({library}); safety.estop_gpio and safety.enable_gpio need one", null,
                libgpiod ? null : "apt-get install libgpiod2 (scripts/bootstrap installs it)");
        return new DoctorCheck(name, libgpiod ? CheckStatus.Ok : CheckStatus.Warning, $"{string.Join(", ", chips)}; {library}", chips[0],
            libgpiod ? null : "apt-get install libgpiod2 (scripts/bootstrap installs it)");
    }

    /// <summary>Whether gst-launch-1.0 is there for GStreamer cameras (OpenCvSharp4's OpenCV has no GStreamer backend).</summary>
    public static DoctorCheck CheckGStreamer()
    {
        const string name = "GStreamer cameras (gst-launch-1.0)";
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, GStreamerCameraSource.Launcher)).FirstOrDefault(File.Exists);
        return path is not null
            ? new DoctorCheck(name, CheckStatus.Ok, "present: cameras with backend gstreamer run their pipeline in it", path)
            : new DoctorCheck(name, CheckStatus.Info, "not installed: only cameras with backend gstreamer need it", null,
                "apt-get install gstreamer1.0-tools (scripts/bootstrap installs it)");
    }

    /// <summary>Which PVRs of the zoo manifest have their ONNX file in place.</summary>
    public static DoctorCheck CheckPvrZoo(string manifestPath)
    {
        const string name = "PVR zoo";
        PvrZoo zoo;
        try
        {
            zoo = PvrZoo.Load(manifestPath);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
        {
            return new DoctorCheck(name, CheckStatus.Failed, e.Message, manifestPath, "restore models/pvr-zoo.json from the repository");
        }
        var present = zoo.Models.Where(m => File.Exists(Path.Combine(Path.GetDirectoryName(zoo.ManifestPath)!, m.File))).Select(m => m.Id).ToList();
        var detail = present.Count == 0
            ? $"none of {zoo.Models.Count} PVRs exported yet ({string.Join(", ", zoo.Models.Select(m => m.Id))})"
            : $"{present.Count} of {zoo.Models.Count} exported: {string.Join(", ", present)}";
        return new DoctorCheck(name, present.Count == 0 ? CheckStatus.Info : CheckStatus.Ok, detail, zoo.ManifestPath,
            present.Count == zoo.Models.Count ? null : "export a PVR with `python3 models/export/export_pvr.py <id>` where its weights can be downloaded (models/export/README.md)");
    }

    private static DoctorCheck CheckCameras()
    {
        var devices = VideoDevices.List();
        if (devices.Count == 0)
            return new DoctorCheck("Cameras", CheckStatus.Info,
                "no /dev/video* devices (normal on a CI machine; the simulator's cameras need none)");
        var list = string.Join("; ", devices.Select(d => d.Name.Length > 0 ? $"{d.Path} ({d.Name})" : d.Path));
        return new DoctorCheck("Cameras", CheckStatus.Ok, $"{devices.Count} found: {list}");
    }
}
