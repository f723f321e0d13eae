namespace RobotRuntime.Native;

/// <summary>Where a native library comes from, which decides where it is searched for.</summary>
public enum NativeDependencyOrigin
{
    /// <summary>Downloaded or built by <c>scripts/bootstrap</c> into the project's <c>.native/lib</c> folder.</summary>
    Project,

    /// <summary>A Debian package; found through the system loader path (it may also be placed in the project folder).</summary>
    System,

    /// <summary>A NuGet package restored with the build; .NET loads it from the application's <c>runtimes/linux-x64/native</c> folder.</summary>
    NuGet,
}

/// <summary>
/// One native library RobotRuntime loads: its file name, what provides it, and how to install it.
/// </summary>
/// <param name="DisplayName">What a person calls it, e.g. "libzmq".</param>
/// <param name="FileName">The file the loader opens, e.g. <c>libzmq.so.5</c>.</param>
/// <param name="Origin">Whether the project's bootstrap or a Debian package provides it.</param>
/// <param name="ProvidedBy">What installs it, e.g. "Debian package libzmq5".</param>
public sealed record NativeDependency(string DisplayName, string FileName, NativeDependencyOrigin Origin, string ProvidedBy)
{
    /// <summary>The README command that installs every native dependency.</summary>
    public const string InstallCommand = "scripts/bootstrap";

    /// <summary>libzmq 4.3 from Debian's libzmq5.</summary>
    public static NativeDependency ZeroMq { get; } = new(
        "libzmq", "libzmq.so.5", NativeDependencyOrigin.System, "Debian package libzmq5");

    /// <summary>The project's MuJoCo shim (built from <c>sim/native</c>; needs Debian's libmujoco2.2.2 and libosmesa6).</summary>
    public static NativeDependency MuJoCoShim { get; } = new(
        "MuJoCo shim", "librr_mujoco.so", NativeDependencyOrigin.Project,
        "sim/native, built by scripts/bootstrap against Debian's libmujoco-dev and libosmesa6-dev");

    /// <summary>
    /// OpenCvSharp4's native library (NuGet OpenCvSharp4.official.runtime.linux-x64, copied next to the
    /// application); it links against Debian's GTK 3, libdrm and libatomic, which scripts/bootstrap installs.
    /// Every image operation goes through it: camera capture, resizing, JPEG and PNG.
    /// </summary>
    public static NativeDependency OpenCvSharp { get; } = new(
        "OpenCvSharp4 native library", "libOpenCvSharpExtern.so", NativeDependencyOrigin.NuGet,
        "the NuGet package OpenCvSharp4.official.runtime.linux-x64 (restored with the build), with Debian's libgtk-3-0, libdrm2 and libatomic1");

}
