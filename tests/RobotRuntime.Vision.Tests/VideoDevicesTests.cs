using RobotRuntime.Vision.Cameras;

namespace RobotRuntime.Vision.Tests;

public sealed class VideoDevicesTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "rr-v4l-" + Guid.NewGuid().ToString("N"));

    public VideoDevicesTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "dev"));
        Directory.CreateDirectory(Path.Combine(_root, "sys"));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void AddDevice(string node, string? name)
    {
        File.WriteAllText(Path.Combine(_root, "dev", node), "");
        if (name is null)
            return;
        Directory.CreateDirectory(Path.Combine(_root, "sys", node));
        File.WriteAllText(Path.Combine(_root, "sys", node, "name"), name + "\n");
    }

    [Fact]
    public void DevicesAreListedByIndexWithTheirDriverNames()
    {
        AddDevice("video10", "Wrist cam");
        AddDevice("video2", null);
        AddDevice("video0", "Logitech C920");
        AddDevice("video-loopback", "not a numbered node");
        File.WriteAllText(Path.Combine(_root, "dev", "null"), "");

        var devices = VideoDevices.List(Path.Combine(_root, "dev"), Path.Combine(_root, "sys"));

        Assert.Equal([0, 2, 10], devices.Select(d => d.Index));
        Assert.Equal(["Logitech C920", "", "Wrist cam"], devices.Select(d => d.Name));
        Assert.Equal(Path.Combine(_root, "dev", "video0"), devices[0].Path);
    }

    [Fact]
    public void NoDeviceFolderMeansNoCameras() =>
        Assert.Empty(VideoDevices.List(Path.Combine(_root, "absent"), Path.Combine(_root, "sys")));
}
