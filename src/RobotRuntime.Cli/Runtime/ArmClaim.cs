using System.Text;

namespace RobotRuntime.Cli.Runtime;

/// <summary>
/// One <c>rr run</c> (or <c>rr demo</c>) per arm on this machine: an exclusive lock on a file named
/// after the arm's control endpoint, held for the whole run and released by the operating system
/// when the process ends, however it ends. A second run against the same arm is refused before it
/// contacts the arm. This guards against two terminals on one workstation; it cannot stop a process
/// that ignores it, nor a controller on another machine — that is the firmware protocol's job.
/// </summary>
internal sealed class ArmClaim : IDisposable
{
    /// <summary>Where the lock files live: shared by every user, like /tmp itself.</summary>
    public static string Folder => Environment.GetEnvironmentVariable("RR_ARM_LOCK_DIR") is { Length: > 0 } folder
        ? folder
        : Path.Combine(Path.GetTempPath(), "robotruntime-arms");

    private readonly FileStream _lock;

    private ArmClaim(FileStream lockFile) => _lock = lockFile;

    /// <summary>Takes the arm at <paramref name="controlEndpoint"/> for this process.</summary>
    /// <exception cref="ConfigException">Another run on this machine holds it; the message names the endpoint.</exception>
    public static ArmClaim Take(string controlEndpoint)
    {
        Directory.CreateDirectory(Folder);
        if (OperatingSystem.IsLinux() && (File.GetUnixFileMode(Folder) & UnixFileMode.OtherWrite) == 0)
        {
            try
            {
                File.SetUnixFileMode(Folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                    UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
                    UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute | UnixFileMode.StickyBit);
            }
            catch (UnauthorizedAccessException)
            {
                // Another user made it; it is theirs to open up.
            }
        }
        string path = Path.Combine(Folder, FileName(controlEndpoint));
        if (!File.Exists(path))
        {
            try
            {
                using (File.Create(path)) { }
                if (OperatingSystem.IsLinux())
                    File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }
            catch (IOException)
            {
                // made by a run starting at the same moment: the lock below decides
            }
        }
        try
        {
            // On Unix, FileShare.None takes an exclusive advisory lock (flock) that every other
            // run's open of the same file fails on until this process ends.
            return new ArmClaim(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None));
        }
        catch (IOException)
        {
            throw new ConfigException($"arm.control: another rr run on this machine is driving the arm at {controlEndpoint} (lock {path}); stop it first — one controller per arm");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ConfigException($"arm.control: cannot open the arm's lock {path}: {e.Message}");
        }
    }

    /// <summary>A file name for an endpoint: "localhost" and "127.0.0.1" name the same arm.</summary>
    internal static string FileName(string endpoint)
    {
        var normal = endpoint.Trim().Replace("//localhost:", "//127.0.0.1:", StringComparison.OrdinalIgnoreCase);
        var name = new StringBuilder("arm-");
        foreach (var c in normal)
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_');
        return name.Append(".lock").ToString();
    }

    public void Dispose() => _lock.Dispose();
}
