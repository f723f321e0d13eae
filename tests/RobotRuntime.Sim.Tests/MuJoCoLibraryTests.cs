using RobotRuntime.Sim.MuJoCo;

namespace RobotRuntime.Sim.Tests;

public sealed class MuJoCoLibraryTests
{
    [Fact]
    public void ShimWasBuiltAgainstTheInstalledMuJoCo()
    {
        Assert.Equal(222, MuJoCoLibrary.VersionNumber);
        Assert.Equal(MuJoCoLibrary.VersionNumber, MuJoCoLibrary.HeaderVersionNumber);
        Assert.Equal("2.2.2", MuJoCoLibrary.Version);
    }

    [Fact]
    public void OffscreenRenderShowsTheRedBoxInTheMiddleAndTheGreyFloorBelowIt()
    {
        var image = MuJoCoLibrary.RenderSelfTest(64, 48);

        Assert.Equal(64 * 48 * 3, image.Pixels.Length);
        // The camera looks down at a red box at the origin: the centre is red-dominant.
        var (r, g, b) = image[32, 24];
        Assert.True(r > 2 * g && r > 2 * b && r > 60, $"centre pixel should be red, was ({r},{g},{b})");
        // The bottom row is floor in front of the box: a lit grey (channels within 20 of each other, not black).
        var (fr, fg, fb) = image[32, 47];
        Assert.True(Math.Abs(fr - fg) < 20 && Math.Abs(fg - fb) < 20 && fr > 30, $"bottom pixel should be grey floor, was ({fr},{fg},{fb})");
    }

    [Fact]
    public void ImagesAreReturnedTopRowFirst()
    {
        // Square render: the floor fills the bottom rows, the box the middle; the top row is
        // farther floor or sky, so it must differ from the bottom row (OpenGL gives rows bottom-up).
        var image = MuJoCoLibrary.RenderSelfTest(32, 32);
        var top = image.Pixels.AsSpan(0, 32 * 3).ToArray();
        var bottom = image.Pixels.AsSpan(31 * 32 * 3, 32 * 3).ToArray();
        Assert.NotEqual(top, bottom);
        var (br, _, _) = image[16, 31];
        var (tr, _, _) = image[16, 0];
        Assert.True(br >= tr, $"the near floor at the bottom ({br}) should be at least as bright as the far view at the top ({tr})");
    }

    [Fact]
    public void OversizedRenderIsRefusedWithTheShimsMessageAndTheProcessLivesOn()
    {
        var error = Assert.Throws<SimulatorException>(() => MuJoCoLibrary.RenderSelfTest(5000, 10));
        Assert.Contains("width and height must be in 1..4096, got 5000x10", error.Message);
        // The shim is still usable afterwards.
        Assert.Equal(222, MuJoCoLibrary.VersionNumber);
    }
}
