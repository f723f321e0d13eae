using System.Collections.Concurrent;
using System.Diagnostics;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.Transport.Tests;

/// <summary>The reference arm endpoint (firmware-interfaces/endpoint) as a child process, bounded in time.</summary>
internal sealed class ArmEndpointProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _errors = new();

    public ArmEndpointProcess(string prefix, int watchdogMilliseconds = 100, int rateHz = 250, int joints = 6)
    {
        Prefix = prefix;
        var start = new ProcessStartInfo(Repository.EndpointBinary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
                 {
                     "--state", $"ipc://{prefix}-state", "--command", $"ipc://{prefix}-command",
                     "--control", $"ipc://{prefix}-control", "--watchdog-ms", watchdogMilliseconds.ToString(),
                     "--rate", rateHz.ToString(), "--joints", joints.ToString(),
                 })
            start.ArgumentList.Add(argument);
        _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {Repository.EndpointBinary}");
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                _errors.Enqueue(e.Data);
        };
        _process.BeginErrorReadLine();
        var ready = _process.StandardOutput.ReadLineAsync();
        if (!ready.Wait(TimeSpan.FromSeconds(10)) || ready.Result is null || !ready.Result.Contains("ready", StringComparison.Ordinal))
        {
            Kill();
            throw new InvalidOperationException($"rr-arm-endpoint did not report ready; stderr: {string.Join(" | ", _errors)}");
        }
        ReadyLine = ready.Result;
    }

    public string Prefix { get; }

    public string ReadyLine { get; }

    public ZmqArmLinkSettings LinkSettings => ZmqArmLinkSettings.Ipc(Prefix);

    /// <summary>Lines the endpoint wrote to stderr so far.</summary>
    public IReadOnlyCollection<string> ErrorLines => _errors.ToArray();

    public bool Logged(string fragment) => _errors.Any(line => line.Contains(fragment, StringComparison.Ordinal));

    /// <summary>Kills the process at once (SIGKILL: no clean shutdown, like a crash or power loss).</summary>
    public void Kill()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        foreach (var suffix in new[] { "-state", "-command", "-control" })
            File.Delete(Prefix + suffix);
    }
}
