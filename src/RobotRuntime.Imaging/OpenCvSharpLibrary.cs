using System.Reflection;
using OpenCvSharp;
using RobotRuntime.Native;

namespace RobotRuntime.Imaging;

/// <summary>
/// Facts about the OpenCV that OpenCvSharp4's native library carries: package and OpenCV versions,
/// the video I/O backends compiled in. The first use loads the native library; one that is missing
/// (or a Debian library it links against) is a <see cref="NativeDependencyMissingException"/> naming
/// it, never a bare DllNotFoundException.
/// </summary>
/// <remarks>Setup only; thread-safe.</remarks>
public static class OpenCvSharpLibrary
{
    private static readonly Lazy<string> Loaded = new(Load);
    private static readonly Lazy<string> BuildInfo = new(() => { _ = Loaded.Value; return Cv2.GetBuildInformation(); });

    /// <summary>OpenCV's version, e.g. "4.13.0" (loads the native library).</summary>
    /// <exception cref="NativeDependencyMissingException">The native library or one it links against is missing.</exception>
    public static string Version => Loaded.Value;

    /// <summary>The OpenCvSharp4 package version, e.g. "4.13.0.20261107".</summary>
    public static string PackageVersion
    {
        get
        {
            var assembly = typeof(Cv2).Assembly;
            var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                ?? assembly.GetName().Version?.ToString() ?? "unknown";
            var plus = version.IndexOf('+');
            return plus < 0 ? version : version[..plus];
        }
    }

    /// <summary>Where the native library is expected: the application's runtimes/linux-x64/native folder.</summary>
    public static string NativeLibraryPath =>
        Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", NativeDependency.OpenCvSharp.FileName);

    /// <summary>OpenCV's build information (modules, video I/O backends, codecs).</summary>
    public static string BuildInformation => BuildInfo.Value;

    /// <summary>
    /// The video I/O backends this OpenCV was built with, as its build information names them
    /// (e.g. FFMPEG, V4L2; no GStreamer in OpenCvSharp4's official Linux runtime).
    /// </summary>
    public static IReadOnlyList<string> VideoIoBackends()
    {
        var backends = new List<string>();
        var inVideoIo = false;
        foreach (var raw in BuildInformation.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("Video I/O:", StringComparison.Ordinal))
            {
                inVideoIo = true;
                continue;
            }
            if (!inVideoIo)
                continue;
            if (line.Length == 0 || !raw.StartsWith("    ", StringComparison.Ordinal))
                break;
            var colon = line.IndexOf(':');
            if (colon <= 0)
                continue;
            var value = line[(colon + 1)..].Trim();
            if (value.StartsWith("YES", StringComparison.Ordinal) || value.StartsWith("(", StringComparison.Ordinal) || char.IsDigit(value.FirstOrDefault()))
                backends.Add(line[..colon].Trim() switch
                {
                    "v4l/v4l2" => "V4L2",
                    var name => name.ToUpperInvariant(),
                });
        }
        return backends;
    }

    private static string Load()
    {
        try
        {
            return Cv2.GetVersionString() ?? "unknown";
        }
        catch (Exception error) when (error is DllNotFoundException or TypeInitializationException or BadImageFormatException or EntryPointNotFoundException)
        {
            var reason = error is TypeInitializationException { InnerException: { } inner } ? inner.Message : error.Message;
            throw new NativeDependencyMissingException(NativeDependency.OpenCvSharp,
                [Path.GetDirectoryName(NativeLibraryPath)!, "system loader path"], File.Exists(NativeLibraryPath) ? reason : null);
        }
    }
}
