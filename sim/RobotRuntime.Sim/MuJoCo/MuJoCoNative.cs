using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RobotRuntime.Native;

namespace RobotRuntime.Sim.MuJoCo;

/// <summary>The functions of <c>librr_mujoco.so</c> (see <c>sim/native/rr_mujoco.h</c>).</summary>
internal static unsafe partial class MuJoCoNative
{
    private const string Library = "rr_mujoco";

    // Every P/Invoke of this assembly is in this class, so its static constructor runs before the
    // first one and routes the library name to the project's locator (one resolver per assembly).
    static MuJoCoNative() =>
        NativeLibrary.SetDllImportResolver(typeof(MuJoCoNative).Assembly, Resolve);

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == Library ? NativeLibraryLocator.Default.Load(NativeDependency.MuJoCoShim) : 0;

    [LibraryImport(Library, EntryPoint = "rrmj_version")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int Version();

    [LibraryImport(Library, EntryPoint = "rrmj_version_string")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* VersionString();

    [LibraryImport(Library, EntryPoint = "rrmj_header_version")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int HeaderVersion();

    [LibraryImport(Library, EntryPoint = "rrmj_last_error")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* LastError();

    [LibraryImport(Library, EntryPoint = "rrmj_render_selftest")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int RenderSelfTest(int width, int height, byte* rgb, int rgbCapacity);

    /// <summary>Turns a negative shim result into a <see cref="SimulatorException"/> carrying the shim's message.</summary>
    internal static void Check(int result, string operation)
    {
        if (result >= 0)
            return;
        var message = Marshal.PtrToStringUTF8((nint)LastError());
        throw new SimulatorException($"{operation} failed (code {result}): {(string.IsNullOrEmpty(message) ? "no message" : message)}");
    }
}
