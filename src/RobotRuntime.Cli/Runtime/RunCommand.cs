using System.CommandLine;
using System.Runtime.InteropServices;
using RobotRuntime.Native;
using RobotRuntime.SimServer;

namespace RobotRuntime.Cli.Runtime;

/// <summary><c>rr run</c>: deploy — cameras, encoder, policy and safety layer driving an arm over ZeroMQ.</summary>
public static class RunCommand
{
    /// <summary>Builds the <c>run</c> verb.</summary>
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "YAML configuration (see docs/runtime.md). Without it, every setting is its default." };
        var set = new Option<string[]>("--set") { Description = "Override a setting: key.path=value (YAML value), e.g. --set rate_hz=50 --set policy.goal=[0.3,0,0.1]. Repeatable.", AllowMultipleArgumentsPerToken = false };
        var duration = new Option<string?>("--duration") { Description = "Stop after this long (e.g. 30s); default: until Ctrl-C or 'stop'." };
        var livePort = new Option<int?>("--live-port") { Description = "Serve the live page (cameras, stage timings, safety state, e-stop/reset) on this localhost port; 0 picks a free one." };
        var takeover = new Option<bool>("--takeover") { Description = "Take the arm over from another controller that holds it (it is disabled; its commands are refused from then on)." };
        var record = new Option<string?>("--record") { Description = "Record every cycle (camera frames, arm state, the policy's and the sent command, safety verdict, timings) into an episode dataset in this folder (LeRobot v2.1 layout, crash-safe); overrides record.folder. Replay it with rr replay DIR --policy." };
        var verb = new Command("run", "Run the control loop against an arm (or rr sim-server): cameras → encoder → policy → safety → arm, " +
            "with a run log, a summary and plots at the end. Type 'reset', 'estop' or 'stop' while it runs; Ctrl-C stops it holding the arm.")
        {
            config, set, duration, livePort, takeover, record,
        };
        verb.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            RunConfig settings;
            try
            {
                settings = result.GetValue(config) is { } path ? RunConfig.Load(path) : new RunConfig();
                foreach (var assignment in result.GetValue(set) ?? [])
                    settings = settings.WithOverride(assignment);
                if (result.GetValue(duration) is { } text)
                    settings = settings with { Duration = RobotRuntime.Timing.SettingText.ParseDuration("--duration", text) };
                if (result.GetValue(takeover))
                    settings = settings with { Takeover = true };
                if (result.GetValue(record) is { } recordFolder)
                    settings = settings with { Record = (settings.Record ?? new RecordSettings()) with { Folder = recordFolder } };
                if (result.GetValue(livePort) is { } port)
                    settings = settings with { LivePort = port is >= 0 and <= 65535 ? port : throw new ArgumentException($"--live-port must be 0..65535, got {port}") };
            }
            catch (Exception e) when (e is ConfigException or ArgumentException)
            {
                error.WriteLine($"rr run: {e.Message}");
                return 2;
            }
            return Execute(settings, new RuntimeHooks(), output, error, Console.In);
        });
        return verb;
    }

    /// <summary>Runs a session with Ctrl-C and SIGTERM wired to a clean stop; maps setup failures to exit codes.</summary>
    internal static int Execute(RunConfig settings, RuntimeHooks hooks, TextWriter output, TextWriter error, TextReader? input)
    {
        using var stop = new CancellationTokenSource();
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        try
        {
            return RuntimeSession.Run(settings, hooks, output, input, stop.Token);
        }
        catch (Exception e) when (e is ConfigException or ArgumentException or InvalidDataException or FileNotFoundException or NativeDependencyMissingException
                                       or Onnx.ExecutionProviderUnavailableException or Onnx.OnnxModelException or Safety.Gpio.GpioSafetyException or Metrics.MetricsEndpointException)
        {
            error.WriteLine($"rr: {e.Message}");
            return e is NativeDependencyMissingException or Onnx.ExecutionProviderUnavailableException or Safety.Gpio.GpioSafetyException ? 3 : 2;
        }

        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }
}
