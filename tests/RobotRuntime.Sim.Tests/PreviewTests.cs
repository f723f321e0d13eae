using RobotRuntime.Sim.Preview;
using RobotRuntime.Sim.Shifts;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Sim.Tests;

public sealed class PreviewTests
{
    [Fact]
    public void PreviewGridHasARowPerPresetAndAGroupPerTaskFilledWithRenderedFrames()
    {
        var options = new PreviewOptions(CellSize: 16, Seed: 2, FrameSteps: [0, 1]);
        var (width, height, rgb) = ShiftPreview.Render(options);
        Assert.Equal(width * height * 3, rgb.Length);
        // Rows: a header plus one per preset; columns: labels plus (2 front + 1 wrist) per task.
        Assert.True(height > VisualShifts.Names.Count * 16 && height < VisualShifts.Names.Count * 16 + 60, $"height {height}");
        Assert.True(width > TabletopTask.Names.Count * 3 * 16, $"width {width}");
        // The bottom-right cell (the wrist camera of the last task under the last preset) holds a rendered image, not the background.
        var x = width - 10;
        var y = height - 10;
        var i = (y * width + x) * 3;
        Assert.NotEqual((24, 24, 28), (rgb[i], rgb[i + 1], rgb[i + 2]));
    }
}
