using System.Runtime.InteropServices;

namespace RobotRuntime.Sim.MuJoCo;

/// <summary>Facts about the loaded MuJoCo, and a check that offscreen rendering works.</summary>
/// <remarks>Setup only. The first call loads the shim and throws
/// <see cref="RobotRuntime.Native.NativeDependencyMissingException"/> if it (or MuJoCo/OSMesa) is absent.</remarks>
public static class MuJoCoLibrary
{
    /// <summary>MuJoCo's version number as <c>mj_version()</c> gives it (222 for 2.2.2).</summary>
    public static int VersionNumber => MuJoCoNative.Version();

    /// <summary>The version of <c>mujoco.h</c> the shim was compiled against; must equal <see cref="VersionNumber"/>.</summary>
    public static int HeaderVersionNumber => MuJoCoNative.HeaderVersion();

    /// <summary>MuJoCo's version as text, e.g. "2.2.2".</summary>
    public static unsafe string Version => Marshal.PtrToStringUTF8((nint)MuJoCoNative.VersionString()) ?? "";

    /// <summary>
    /// Renders the shim's built-in scene (a red box on a grey floor) offscreen on the calling
    /// thread with its own OSMesa context and returns the RGB image, top row first.
    /// </summary>
    /// <param name="width">Image width in pixels, 1..4096.</param>
    /// <param name="height">Image height in pixels, 1..4096.</param>
    /// <exception cref="SimulatorException">GL context creation, model loading or rendering failed.</exception>
    public static unsafe RgbImage RenderSelfTest(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        var pixels = new byte[checked(width * height * 3)];
        fixed (byte* rgb = pixels)
            MuJoCoNative.Check(MuJoCoNative.RenderSelfTest(width, height, rgb, pixels.Length), "MuJoCo offscreen render self-test");
        return new RgbImage(width, height, pixels);
    }
}

/// <summary>An 8-bit RGB image, rows top first, 3 bytes a pixel.</summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Pixels">Width × Height × 3 bytes.</param>
public sealed record RgbImage(int Width, int Height, byte[] Pixels)
{
    /// <summary>The (R, G, B) of pixel (<paramref name="x"/>, <paramref name="y"/>), y counted from the top.</summary>
    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            var i = (y * Width + x) * 3;
            return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }
}
