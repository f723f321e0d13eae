using RobotRuntime.Testing;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.Transport.Tests;

/// <summary>The reference arm endpoint (firmware-interfaces/endpoint) as a child process, bounded in time.</summary>
internal sealed class ArmEndpointProcess : IDisposable
{
    private readonly ChildProcess _process;

    public ArmEndpointProcess(string prefix, int watchdogMilliseconds = 100, int rateHz = 250, int joints = 6)
    {
        Prefix = prefix;
        _process = ChildProcess.Start(Repository.EndpointBinary,
        [
            "--state", $"ipc://{prefix}-state", "--command", $"ipc://{prefix}-command",
            "--control", $"ipc://{prefix}-control", "--watchdog-ms", watchdogMilliseconds.ToString(),
            "--rate", rateHz.ToString(), "--joints", joints.ToString(),
        ], label: "rr-arm-endpoint");
        try
        {
            ReadyLine = _process.WaitForLine(l => l.Contains("ready", StringComparison.Ordinal), TimeSpan.FromSeconds(10), onError: false);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            _process.Dispose();
            throw new InvalidOperationException($"rr-arm-endpoint did not report ready: {e.Message}", e);
        }
    }

    public string Prefix { get; }

    public string ReadyLine { get; }

    public ZmqArmLinkSettings LinkSettings => ZmqArmLinkSettings.Ipc(Prefix);

    /// <summary>Lines the endpoint wrote to stderr so far.</summary>
    public IReadOnlyCollection<string> ErrorLines => _process.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public bool Logged(string fragment) => _process.Error.Contains(fragment, StringComparison.Ordinal);

    /// <summary>Kills the process at once (SIGKILL: no clean shutdown, like a crash or power loss).</summary>
    public void Kill() => _process.KillFamily();

    public void Dispose()
    {
        _process.Dispose();
        foreach (var suffix in new[] { "-state", "-command", "-control" })
            File.Delete(Prefix + suffix);
    }
}
