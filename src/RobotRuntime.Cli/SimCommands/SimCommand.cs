using System.CommandLine;
using RobotRuntime.Native;
using RobotRuntime.Sim;
using RobotRuntime.Sim.Preview;

namespace RobotRuntime.Cli.SimCommands;

/// <summary><c>rr sim</c>: the MuJoCo simulator's tools.</summary>
public static class SimCommand
{
    /// <summary>Builds the <c>sim</c> verb with its <c>preview</c> subcommand.</summary>
    public static Command Create()
    {
        var output = new Option<FileInfo>("--out") { Description = "PNG file to write.", Required = true };
        var size = new Option<int>("--size") { Description = "Camera image side in pixels (16..256).", DefaultValueFactory = _ => 64 };
        var seed = new Option<int>("--seed") { Description = "Episode seed for every task and shift.", DefaultValueFactory = _ => 1 };
        var preview = new Command("preview", "Render a short clip of each task under each visual shift preset into a PNG grid.") { output, size, seed };
        preview.SetAction(result =>
        {
            var file = result.GetValue(output)!;
            try
            {
                var (width, height, rgb) = ShiftPreview.Render(new PreviewOptions(result.GetValue(size), result.GetValue(seed)));
                file.Directory?.Create();
                var png = RobotRuntime.Imaging.ImageCodecs.EncodePng(rgb, width, height, compression: 6);
                File.WriteAllBytes(file.FullName, png);
                result.InvocationConfiguration.Output.WriteLine($"wrote {file.FullName}: {width}x{height}, {png.Length / 1024} KiB");
                return 0;
            }
            catch (Exception error) when (error is ArgumentException or SimulatorException or NativeDependencyMissingException or IOException or UnauthorizedAccessException)
            {
                result.InvocationConfiguration.Error.WriteLine($"rr sim preview: {error.Message}");
                return 1;
            }
        });
        return new Command("sim", "MuJoCo simulator tools.") { preview };
    }
}
