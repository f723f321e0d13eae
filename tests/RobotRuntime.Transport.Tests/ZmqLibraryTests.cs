using RobotRuntime.Native;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Transport.Tests;

public sealed class ZmqLibraryTests
{
    [Fact]
    public void LibzmqIsVersion43OrLater()
    {
        // Debian 12 ships 4.3.4; the link relies on 4.3 socket options (e.g. ZMQ_CONFLATE with PUB/SUB).
        var version = ZmqLibrary.Version;
        Assert.True(version >= new Version(4, 3), $"libzmq {version} found, 4.3 or later needed");
    }

    [Fact]
    public void LibzmqIsLoadedThroughTheProjectLocator()
    {
        _ = ZmqLibrary.Version;
        var mapped = NativeLibraryLocator.MappedPathOf(NativeDependency.ZeroMq.FileName);
        Assert.NotNull(mapped);
        Assert.StartsWith("libzmq.so.5", Path.GetFileName(mapped));
    }
}
