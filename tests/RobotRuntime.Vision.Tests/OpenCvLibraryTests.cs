using RobotRuntime.Vision.OpenCv;

namespace RobotRuntime.Vision.Tests;

public sealed class OpenCvLibraryTests
{
    [Fact]
    public void ShimReportsOpenCv4()
    {
        Assert.StartsWith("4.", OpenCvLibrary.Version);
    }

    [Fact]
    public void VideoIoHasTheBackendsTheCamerasNeed()
    {
        // V4L2 opens USB cameras, FFMPEG reads and writes video files, GSTREAMER runs pipelines.
        var backends = OpenCvLibrary.VideoIoBackends();
        Assert.Contains("V4L2", backends);
        Assert.Contains("FFMPEG", backends);
        Assert.Contains("GSTREAMER", backends);
        Assert.DoesNotContain("", backends);
    }
}
