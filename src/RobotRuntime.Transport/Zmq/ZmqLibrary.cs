namespace RobotRuntime.Transport.Zmq;

/// <summary>Facts about the loaded libzmq.</summary>
/// <remarks>Setup only; thread-safe. The first call loads the library and throws
/// <see cref="RobotRuntime.Native.NativeDependencyMissingException"/> if it is absent.</remarks>
public static class ZmqLibrary
{
    /// <summary>libzmq's version (<c>zmq_version</c>), e.g. 4.3.4.</summary>
    public static Version Version
    {
        get
        {
            ZmqNative.Version(out var major, out var minor, out var patch);
            return new Version(major, minor, patch);
        }
    }
}
