namespace RobotRuntime.Vision.Cameras;

/// <summary>A Video4Linux device node, e.g. <c>/dev/video0</c>, and the name its driver reports.</summary>
/// <param name="Path">The device node.</param>
/// <param name="Index">The N of <c>/dev/videoN</c>, the index OpenCV's V4L2 backend opens.</param>
/// <param name="Name">The driver's name for the device, or "" if the system does not say.</param>
public sealed record VideoDevice(string Path, int Index, string Name);

/// <summary>Lists the cameras Linux exposes, without opening them.</summary>
public static class VideoDevices
{
    /// <summary>The <c>/dev/videoN</c> nodes present, by index, with names from <c>/sys/class/video4linux</c>.</summary>
    /// <param name="deviceDirectory">Where device nodes live; <c>/dev</c> unless testing.</param>
    /// <param name="sysfsDirectory">Where their descriptions live; <c>/sys/class/video4linux</c> unless testing.</param>
    public static IReadOnlyList<VideoDevice> List(string deviceDirectory = "/dev", string sysfsDirectory = "/sys/class/video4linux")
    {
        if (!Directory.Exists(deviceDirectory))
            return [];
        var devices = new List<VideoDevice>();
        foreach (var path in Directory.EnumerateFileSystemEntries(deviceDirectory, "video*"))
        {
            var node = System.IO.Path.GetFileName(path);
            if (!int.TryParse(node.AsSpan("video".Length), out var index))
                continue;
            var nameFile = System.IO.Path.Combine(sysfsDirectory, node, "name");
            var name = File.Exists(nameFile) ? File.ReadAllText(nameFile).Trim() : "";
            devices.Add(new VideoDevice(path, index, name));
        }
        devices.Sort((a, b) => a.Index.CompareTo(b.Index));
        return devices;
    }
}
