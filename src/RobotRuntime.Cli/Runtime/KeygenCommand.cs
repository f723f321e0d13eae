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
        var curve = new Option<string?>("--curve") { Description = "Instead: write a CURVE key pair for an arm reached over a network to this file (mode 600; rr sim-server --curve-keys) and print its public key for rr run (arm.curve_public_key)." };
        var verb = new Command("keygen", "Make a new 32-byte secret for an arm and the runtime that drives it: give the arm's firmware (rr-arm-endpoint --key, rr sim-server --key) and rr run (arm.key) the same file. With --curve, an arm's CURVE key pair instead.")
        {
            output, curve,
        };
        verb.SetAction(result =>
        {
            if (result.GetValue(curve) is { } curvePath)
            {
                if (File.Exists(curvePath))
                {
                    result.InvocationConfiguration.Error.WriteLine($"rr keygen: {Path.GetFullPath(curvePath)} already exists; keys are never overwritten");
                    return 1;
                }
                var pair = Transport.Zmq.CurveKeyPair.Create();
                pair.Save(curvePath);
                result.InvocationConfiguration.Output.WriteLine($"rr keygen: wrote the arm's CURVE key pair to {Path.GetFullPath(curvePath)} (mode 600; keep it on the arm).");
                result.InvocationConfiguration.Output.WriteLine($"arm.curve_public_key: {pair.PublicKey}");
                return 0;
            }
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
