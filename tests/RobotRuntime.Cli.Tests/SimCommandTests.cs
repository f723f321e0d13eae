using System.CommandLine;

namespace RobotRuntime.Cli.Tests;

public sealed class SimCommandTests
{
    [Fact]
    public void PreviewWithATooSmallCellSizeFailsWithTheAllowedRangeAndWritesNothing()
    {
        var path = Path.Combine(Path.GetTempPath(), $"rr-preview-{Guid.NewGuid():N}.png");
        var error = new StringWriter();
        var exit = RrCommand.Create().Parse(["sim", "preview", "--out", path, "--size", "8"])
            .Invoke(new InvocationConfiguration { Output = new StringWriter(), Error = error });
        Assert.Equal(1, exit);
        Assert.Contains("rr sim preview: cell size must be 16..256 pixels, got 8", error.ToString());
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void PreviewWithoutAnOutputFileIsAUsageError()
    {
        var error = new StringWriter();
        var exit = RrCommand.Create().Parse(["sim", "preview"]).Invoke(new InvocationConfiguration { Output = new StringWriter(), Error = error });
        Assert.NotEqual(0, exit);
        Assert.Contains("--out", error.ToString());
    }
}
