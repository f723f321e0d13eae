using System.CommandLine;

namespace RobotRuntime.Cli.Tests;

public sealed class RecordReplayCommandTests
{
    private static (int Exit, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = RrCommand.Create().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void RecordWithoutACameraIsAUsageErrorNamingTheOption()
    {
        var (exit, _, error) = Run("record", "--out", Path.Combine(Path.GetTempPath(), "rr-never-" + Guid.NewGuid().ToString("N")));
        Assert.NotEqual(0, exit);
        Assert.Contains("--camera", error);
    }

    [Theory]
    [InlineData("front=webcam", "--size", "64", "rr record: camera 'front=webcam': unknown backend 'webcam'")]
    [InlineData("front=synthetic", "--quality", "0", "rr record: --quality must be 1..100, got 0.")]
    [InlineData("front=synthetic", "--duration", "soon", "rr record: --duration: 'soon' is not a duration")]
    [InlineData("front=synthetic", "--size", "big", "rr record: --size: 'big' is not a size")]
    public void RecordRejectsBadInputWithExitCode2AndWritesNothing(string camera, string option, string value, string expected)
    {
        var folder = Path.Combine(Path.GetTempPath(), "rr-never-" + Guid.NewGuid().ToString("N"));
        var (exit, _, error) = Run("record", "--camera", camera, option, value, "--out", folder);
        Assert.Equal(2, exit);
        Assert.Contains(expected, error);
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void RecordFromAMissingVideoFileFailsNamingIt()
    {
        var folder = Path.Combine(Path.GetTempPath(), "rr-never-" + Guid.NewGuid().ToString("N"));
        var (exit, _, error) = Run("record", "--camera", "clip=file,path=/nonexistent/clip.mp4", "--out", folder);
        Assert.Equal(1, exit);
        Assert.Contains("/nonexistent/clip.mp4", error);
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void ReplayWithARunLogButNoLivePageSaysWhy()
    {
        var (exit, _, error) = Run("replay", Path.GetTempPath(), "--run-log", "run.log");
        Assert.Equal(2, exit);
        Assert.Contains("--run-log is shown on the live page: give --live-port too.", error);
    }
}
