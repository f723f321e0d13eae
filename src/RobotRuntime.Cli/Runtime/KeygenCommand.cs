using System.CommandLine;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.Cli.Runtime;

/// <summary><c>rr keygen</c>: a new secret for an arm and its operator's runtime (protocol version 2).</summary>
public static class KeygenCommand
{
    /// <summary>Builds the <c>keygen</c> verb.</summary>
    public static Command Create()
    {
        var output = new Option<string?>("--out") { Description = $"Where to write it (mode 600; never over an existing file). Default {ArmKeyFile.DefaultPath}." };
        var verb = new Command("keygen", "Make a new 32-byte secret for an arm and the runtime that drives it: give the arm's firmware (rr-arm-endpoint --key, rr sim-server --key) and rr run (arm.key) the same file.")
        {
            output,
        };
        verb.SetAction(result =>
        {
            var path = result.GetValue(output) ?? ArmKeyFile.DefaultPath;
            try
            {
                ArmKeyFile.Create(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                result.InvocationConfiguration.Error.WriteLine($"rr keygen: {e.Message}");
                return 1;
            }
            result.InvocationConfiguration.Output.WriteLine($"rr keygen: wrote {Path.GetFullPath(path)} (mode 600). Give the arm's firmware and rr run (arm.key) this file; keep it off shared folders.");
            return 0;
        });
        return verb;
    }
}
