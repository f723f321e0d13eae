using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RobotRuntime.Native;

namespace RobotRuntime.Transport.Zmq;

/// <summary>libzmq's C functions. The library is found by <see cref="NativeLibraryLocator"/>.</summary>
internal static partial class ZmqNative
{
    private const string Library = "zmq";

    // Every P/Invoke of this assembly is in this class, so its static constructor runs before the
    // first one and routes the library name to the project's locator (one resolver per assembly).
    static ZmqNative() =>
        NativeLibrary.SetDllImportResolver(typeof(ZmqNative).Assembly, Resolve);

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == Library ? NativeLibraryLocator.Default.Load(NativeDependency.ZeroMq) : 0;

    // void zmq_version(int* major, int* minor, int* patch)
    [LibraryImport(Library, EntryPoint = "zmq_version")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void Version(out int major, out int minor, out int patch);
}
