using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using RobotRuntime.Cli.Runtime;
using RobotRuntime.Native;

namespace RobotRuntime.Cli.Tests;

/// <summary>rr run's mistakes that can be known before anything is created or contacted are named before then.</summary>
public sealed class RunPreflightTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-preflight-").FullName;
    private static readonly string TestZoo = Path.Combine(NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)!, "models", "test", "test-zoo.json");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private RunConfig Config() => new() { RunsFolder = Path.Combine(_folder, "runs"), ArmControl = "tcp://127.0.0.1:1" };

    private static string RunExpectingNothing(RunConfig config)
    {
        var output = new StringWriter();
        var error = Assert.Throws<ConfigException>(() => RuntimeSession.Run(config, new RuntimeHooks(), output, null, CancellationToken.None));
        Assert.False(Directory.Exists(config.RunsFolder), "a run folder was made before the mistake was found");
        Assert.Equal("", output.ToString()); // nothing was started or contacted
        return error.Message;
    }

    [Fact]
    public void AnUnknownEncoderIdIsNamedWithTheIdsTheZooHas()
    {
        var message = RunExpectingNothing(Config() with { EncoderZoo = TestZoo, EncoderId = "nope" });
        Assert.StartsWith("encoder.id: unknown PVR 'nope'", message);
        Assert.Contains("test-conv", message);
    }

    [Fact]
    public void AZooEntryWhoseFileIsNotOnnxIsNamed()
    {
        var zoo = JsonNode.Parse(File.ReadAllText(TestZoo))!;
        var fake = Path.Combine(_folder, "weights.onnx");
        File.WriteAllText(fake, "these are not ONNX weights");
        zoo["models"]![0]!["file"] = fake;
        var id = (string)zoo["models"]![0]!["id"]!;
        var zooPath = Path.Combine(_folder, "zoo.json");
        File.WriteAllText(zooPath, zoo.ToJsonString());

        var message = RunExpectingNothing(Config() with { EncoderZoo = zooPath, EncoderId = id });

        Assert.Contains($"PVR '{id}' points at {fake}, which is not a readable ONNX model", message);
    }

    [Fact]
    public void AGpuEncoderDeviceThatIsNotHereIsNamedBeforeTheArmIsContacted()
    {
        // The CPU build on a machine without CUDA.
        var id = (string)JsonNode.Parse(File.ReadAllText(TestZoo))!["models"]![0]!["id"]!;
        var message = RunExpectingNothing(Config() with { EncoderZoo = TestZoo, EncoderId = id, EncoderDevice = Onnx.OnnxDevice.Cuda });
        Assert.StartsWith("encoder.device: Device 'cuda' needs ONNX Runtime's CUDAExecutionProvider", message);
        Assert.Contains("-p:RrOnnxRuntimeGpu=true", message);
        Assert.Contains("libcudnn.so.9", message);
    }

    [Fact]
    public void AGpioChipThatIsNotThereIsNamedBeforeTheArmIsContacted()
    {
        var message = RunExpectingNothing(Config() with { EmergencyStopGpio = new Safety.Gpio.GpioLine(7, 17, ActiveLow: true) });
        Assert.StartsWith("safety.estop_gpio: /dev/gpiochip7 is not there (", message);
        Assert.Contains("gpiodetect", message);
    }

    [Fact]
    public void AMissingCameraDeviceIsNamed()
    {
        var message = RunExpectingNothing(Config() with { Cameras = [new RobotRuntime.Vision.Cameras.CameraSettings { Name = "wrist", Backend = "device", Device = 231, Width = 64, Height = 64, Fps = 30 }] });
        Assert.StartsWith("cameras[0] ('wrist'): device 231 (/dev/video231) is not there", message);
    }

    [Fact]
    public void ALivePagePortInUseIsNamed()
    {
        var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        try
        {
            int port = ((IPEndPoint)taken.LocalEndpoint).Port;
            var message = RunExpectingNothing(Config() with { LivePort = port });
            Assert.StartsWith($"live_port: 127.0.0.1:{port} cannot be used", message);
        }
        finally
        {
            taken.Stop();
        }
    }
}
