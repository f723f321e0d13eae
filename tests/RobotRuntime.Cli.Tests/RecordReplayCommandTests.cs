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

    [Theory]
    [InlineData(new[] { "--fps", "10" }, "rr record: --fps: only with --dataset")]
    [InlineData(new[] { "--episode-length", "20s", "--task", "push" }, "rr record: --episode-length, --task: only with --dataset")]
    [InlineData(new[] { "--dataset", "--fps", "0" }, "rr record: --fps must be in (0, 1000], got 0.")]
    [InlineData(new[] { "--dataset", "--episode-length", "soon" }, "rr record: --episode-length: 'soon' is not a duration")]
    [InlineData(new[] { "--dataset", "--episode-length", "2.5" }, "rr record: --episode-length: '2.5' is neither a whole number of frames (e.g. 200) nor a duration with its unit (e.g. 20s, 500ms).")]
    [InlineData(new[] { "--dataset", "--episode-length", "0" }, "rr record: --episode-length must be at least 1 frame, got '0'.")]
    [InlineData(new[] { "--dataset", "--fps", "10", "--episode-length", "10ms" }, "rr record: --episode-length 10ms is less than one frame at 10 fps.")]
    [InlineData(new[] { "--dataset", "--episodes", "0" }, "rr record: --episodes must be at least 1, got 0.")]
    [InlineData(new[] { "--dataset", "--camera", "wrist=synthetic,size=16" }, "rr record: --dataset: every camera must deliver one size (a frame holds one image per camera, all of one size); got front 32x32, wrist 16x16")]
    [InlineData(new[] { "--dataset", "--camera", "side.left=synthetic" }, "rr record: dataset layout: camera name 'side.left' may hold only letters, digits, '_' and '-'")]
    public void RecordingADatasetRejectsBadInputWithExitCode2BeforeAnyCameraStarts(string[] options, string expected)
    {
        var folder = Path.Combine(Path.GetTempPath(), "rr-never-" + Guid.NewGuid().ToString("N"));
        var (exit, _, error) = Run(["record", "--camera", "front=synthetic", "--size", "32", "--out", folder, .. options]);
        Assert.True(exit == 2, error);
        Assert.Contains(expected, error);
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void VideosAndADatasetNeverShareAFolder()
    {
        var root = Directory.CreateTempSubdirectory("rr-record-share-").FullName;
        try
        {
            var dataset = Path.Combine(root, "dataset");
            RobotRuntime.Datasets.EpisodeDataset.OpenOrCreate(dataset, RobotRuntime.Datasets.Recording.CameraDatasetLayout.Create(["front"], 32, 32, 10, "unlabelled"));
            var videos = Run("record", "--camera", "front=synthetic", "--out", dataset, "--duration", "1s");
            Assert.Equal(2, videos.Exit);
            Assert.Contains($"rr record: {dataset} holds an episode dataset; record videos into a folder of their own (or add --dataset to add episodes to it).", videos.Error);
            Assert.Empty(Directory.GetFiles(dataset, "*.avi"));

            var recording = Directory.CreateDirectory(Path.Combine(root, "videos")).FullName;
            File.WriteAllText(Path.Combine(recording, RobotRuntime.Vision.Recording.RecordingManifest.FileName), "{}");
            var rows = Run("record", "--camera", "front=synthetic", "--out", recording, "--dataset", "--duration", "1s");
            Assert.Equal(2, rows.Exit);
            Assert.Contains($"rr record: {recording} holds a recording of videos (rr record without --dataset); a dataset goes in a folder of its own.", rows.Error);
            Assert.False(Directory.Exists(Path.Combine(recording, "meta")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
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
