using RobotRuntime.Cli.Runtime;
using RobotRuntime.SimServer;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Cli.Tests;

/// <summary>rr run against an arm whose sockets use CURVE (the simulator's arm, in this process, over tcp).</summary>
public sealed class CurveRunTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-curve-run-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private (int Exit, string Output) Run(SimServerHost host, string? curveKey, bool withCamera = false)
    {
        var link = host.Endpoints.LinkSettings;
        var camera = withCamera
            ? $"\ncameras:\n  - {{name: front, backend: stream, endpoint: \"{host.Endpoints.Cameras["front"]}\", width: 16, height: 16, curve_public_key: \"{curveKey}\"}}\n"
            : "";
        var config = RunConfig.Parse($$"""
            rate_hz: 20
            duration: 1s
            runs_folder: {{Path.Combine(_folder, "runs")}}
            arm: {state: "{{link.StateAddress}}", command: "{{link.CommandAddress}}", control: "{{link.ControlAddress}}", key: "{{AgentCommandTests.KeyFileFor(link)}}"{{(curveKey is null ? "" : $", curve_public_key: \"{curveKey}\"")}}}
            policy: {kind: hold-still}
            safety: {max_state_age: 200ms, max_frame_age: 500ms, max_deadline_misses: 25}
            """ + camera, "curve.yaml");
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = RunCommand.Execute(config, new RuntimeHooks(), output, error, input: null);
        return (exit, output + error.ToString());
    }

    [Fact]
    public void WithTheArmsPublicKeyTheRunArmsAndWithoutItTheRunSaysWhatToCheck()
    {
        var keys = CurveKeyPair.Create();
        using var host = SimServerHost.Start(new SimServerOptions
        {
            Task = "reach", StateEndpoint = "tcp://127.0.0.1:*", CommandEndpoint = "tcp://127.0.0.1:*", ControlEndpoint = "tcp://127.0.0.1:*",
            FrontCameraEndpoint = "tcp://127.0.0.1:*", WristCameraEndpoint = "tcp://127.0.0.1:*",
            CameraRateHz = 5, CameraWidth = 16, CameraHeight = 16, WatchdogMilliseconds = 500, Quiet = true, CurveKeys = keys,
        });

        // The link and the front camera's stream, both encrypted: the run arms (fresh frames arrive).
        var secured = Run(host, keys.PublicKey, withCamera: true);
        Assert.True(secured.Exit == 0, secured.Output);
        Assert.Contains("rr: armed", secured.Output);

        var plain = Run(host, null);
        Assert.Equal(1, plain.Exit);
        Assert.Contains("An arm whose sockets use CURVE never answers a runtime without its public key: arm.curve_public_key", plain.Output);

        var wrong = Run(host, CurveKeyPair.Create().PublicKey);
        Assert.Equal(1, wrong.Exit);
        Assert.Contains("an arm with another CURVE key, or one without CURVE, never answers", wrong.Output);
    }
}
