using System.CommandLine;
using RobotRuntime.Onnx;

namespace RobotRuntime.Cli.Runtime;

/// <summary>
/// <c>--device</c> and <c>--device-id</c>: where a verb's ONNX encoder runs (cpu, cuda, tensorrt), as
/// <c>encoder.device</c> / <c>encoder.device_id</c> do in rr run's YAML. The GPU ones need the GPU build;
/// without it the verb stops with a message naming the build property and the missing libraries.
/// </summary>
public sealed class DeviceOption
{
    /// <summary>The device name option.</summary>
    public Option<string> Device { get; } = new("--device")
    {
        Description = "Where the ONNX encoder runs: cpu, cuda or tensorrt (GPU ones need a build with -p:RrOnnxRuntimeGpu=true, CUDA 13 and cuDNN 9).",
        DefaultValueFactory = _ => "cpu",
    };

    /// <summary>The CUDA device ordinal option.</summary>
    public Option<int> DeviceId { get; } = new("--device-id") { Description = "CUDA device ordinal for --device cuda/tensorrt.", DefaultValueFactory = _ => 0 };

    /// <summary>Both options, to add to a command.</summary>
    public IEnumerable<Option> All => [Device, DeviceId];

    /// <summary>The session settings the parse result asks for.</summary>
    /// <exception cref="ArgumentException">An unknown device name or a negative ordinal.</exception>
    public OnnxSessionSettings Settings(ParseResult result, int intraOpThreads = 1)
    {
        var id = result.GetValue(DeviceId);
        if (id < 0)
            throw new ArgumentException($"--device-id must be 0 or more, got {id}");
        return new OnnxSessionSettings
        {
            IntraOpThreads = intraOpThreads,
            Device = OnnxSessionSettings.ParseDevice(result.GetValue(Device)!, "--device"),
            DeviceId = id,
        };
    }
}
