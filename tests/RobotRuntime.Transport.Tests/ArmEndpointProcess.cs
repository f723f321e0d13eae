using RobotRuntime.Testing;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.Transport.Tests;

/// <summary>A C arm program of firmware-interfaces, built to .native/bin, and the options it is started with beyond the arm's own.</summary>
/// <param name="Path">The executable.</param>
/// <param name="Label">Its name in messages.</param>
/// <param name="Arguments">Options of its own, before the socket, key and timing options every arm program takes.</param>
internal sealed record ArmProgram(string Path, string Label, IReadOnlyList<string> Arguments)
{
    /// <summary>The reference arm (firmware-interfaces/endpoint).</summary>
    public static ArmProgram ReferenceArm => new(Repository.EndpointBinary, "rr-arm-endpoint", []);

    /// <summary>The reference arm without a gripper (<c>--no-gripper</c>): its DESCRIPTION's gripper bit is clear.</summary>
    public static ArmProgram ReferenceArmWithoutGripper => ReferenceArm with { Arguments = ["--no-gripper"] };

    /// <summary>The bridge template (firmware-interfaces/bridge-template) with its loopback backend: no arm, the reference arm's simulated joints.</summary>
    public static ArmProgram BridgeTemplateLoopback => new(Repository.BridgeTemplateBinary, "rr-bridge-template", ["--backend", "loopback"]);

    /// <summary>The reference arm's joints with hardware trouble typed on its stdin (firmware-interfaces/tests/fault_arm.c).</summary>
    public static ArmProgram FaultArm => new(Repository.FaultArmBinary, "rrfw-test-fault-arm", []);
}

/// <summary>An arm program (the reference arm unless told otherwise) as a child process, bounded in time.</summary>
internal sealed class ArmEndpointProcess : IDisposable
{
    private readonly ChildProcess _process;

    public ArmEndpointProcess(string prefix, int watchdogMilliseconds = 100, int rateHz = 250, int joints = 6, int claimLeaseMilliseconds = 2000,
        byte[]? secret = null, string? curveKeysFile = null, ArmProgram? program = null)
    {
        program ??= ArmProgram.ReferenceArm;
        Prefix = prefix;
        KeyFile = prefix + "-arm.key";
        File.Delete(KeyFile);
        Secret = ArmKeyFile.Create(KeyFile);
        if (secret is not null)
        {
            // The same secret as an earlier endpoint (an arm restarted): written over the new file.
            File.WriteAllText(KeyFile, Convert.ToHexStringLower(secret));
            Secret = secret;
        }
        _process = ChildProcess.Start(program.Path,
        [
            .. program.Arguments,
            "--key", KeyFile, "--claim-lease-ms", claimLeaseMilliseconds.ToString(),
            "--state", $"ipc://{prefix}-state", "--command", $"ipc://{prefix}-command",
            "--control", $"ipc://{prefix}-control", "--watchdog-ms", watchdogMilliseconds.ToString(),
            "--rate", rateHz.ToString(), "--joints", joints.ToString(),
            .. (curveKeysFile is null ? Array.Empty<string>() : ["--curve-keys", curveKeysFile]),
        ], redirectInput: true, label: program.Label);
        try
        {
            ReadyLine = _process.WaitForLine(l => l.Contains("ready", StringComparison.Ordinal), TimeSpan.FromSeconds(10), onError: false);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            _process.Dispose();
            throw new InvalidOperationException($"{program.Label} did not report ready: {e.Message}", e);
        }
    }

    public string Prefix { get; }

    public string ReadyLine { get; }

    /// <summary>The shared secret the endpoint was started with (its key file: <see cref="KeyFile"/>, mode 600).</summary>
    public byte[] Secret { get; }

    public string KeyFile { get; }

    /// <summary>Settings for a link that holds the secret (and may claim the arm).</summary>
    public ZmqArmLinkSettings LinkSettings => ZmqArmLinkSettings.Ipc(Prefix) with { Secret = Secret };

    /// <summary>Lines the endpoint wrote to stderr so far.</summary>
    public IReadOnlyCollection<string> ErrorLines => _process.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public bool Logged(string fragment) => _process.Error.Contains(fragment, StringComparison.Ordinal);

    /// <summary>Writes one line to the program's stdin (<see cref="ArmProgram.FaultArm"/> reads it; the others do not).</summary>
    public void Type(string line) => _process.Type(line);

    /// <summary>Kills the process at once (SIGKILL: no clean shutdown, like a crash or power loss).</summary>
    public void Kill() => _process.KillFamily();

    public void Dispose()
    {
        _process.Dispose();
        foreach (var suffix in new[] { "-state", "-command", "-control", "-arm.key" })
            File.Delete(Prefix + suffix);
    }
}
