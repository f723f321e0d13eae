using System.Security.Cryptography;

namespace RobotRuntime.Transport.Firmware;

/// <summary>
/// The secret an arm shares with its operator's runtime (protocol version 2): 32 random bytes kept
/// as 64 hex digits in a file that only its owner may read (mode 600), like an SSH key. The arm
/// (<c>rr-arm-endpoint --key</c>, <c>rr sim-server --key</c>) and the runtime (<c>arm.key</c> in
/// <c>rr run</c>'s configuration) are given the same file; <c>rr keygen</c> makes one.
/// </summary>
public static class ArmKeyFile
{
    /// <summary>Where the key is looked for when none is named: <c>~/.config/robotruntime/arm.key</c> (or under <c>$XDG_CONFIG_HOME</c>).</summary>
    public static string DefaultPath =>
        Path.Combine(Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } config
            ? config
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config"), "robotruntime", "arm.key");

    /// <summary><paramref name="path"/> with a leading <c>~/</c> replaced by the user's home folder (as a shell would; config files are not expanded by one).</summary>
    public static string ExpandHome(string path) =>
        path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[2..])
            : path;

    /// <summary>Reads a key file (a leading <c>~/</c> means the home folder).</summary>
    /// <exception cref="InvalidDataException">The file is missing, readable by others, or not 64 hex digits; the message names it and what to do.</exception>
    public static byte[] Read(string path)
    {
        path = ExpandHome(path);
        if (!File.Exists(path))
            throw new InvalidDataException($"the arm key {path} is not there: make one with `rr keygen --out {path}` and give the arm the same file");
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
                UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
            if ((mode & others) != 0)
                throw new InvalidDataException($"the arm key {path} can be read or written by others (mode {Convert.ToString((int)mode & 0x1FF, 8)}): `chmod 600 {path}`");
        }
        var text = File.ReadAllText(path).Trim();
        if (text.Length != 2 * FirmwareCodec.KeySize || !text.All(Uri.IsHexDigit))
            throw new InvalidDataException($"the arm key {path} must hold {2 * FirmwareCodec.KeySize} hex digits (a {FirmwareCodec.KeySize}-byte secret) and nothing else");
        return Convert.FromHexString(text);
    }

    /// <summary>Writes a new random key to <paramref name="path"/> with mode 600, never over an existing file; returns the key.</summary>
    /// <exception cref="IOException">The file exists already (the message says so).</exception>
    public static byte[] Create(string path)
    {
        path = ExpandHome(path);
        var key = RandomNumberGenerator.GetBytes(FirmwareCodec.KeySize);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(folder);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            using var stream = new FileStream(path, options);
            using var writer = new StreamWriter(stream);
            writer.Write(Convert.ToHexStringLower(key) + "\n");
        }
        catch (IOException) when (File.Exists(path))
        {
            throw new IOException($"{path} exists already: a key is never overwritten (the arm and the runtime that share it would stop agreeing); remove it first if you mean to replace it");
        }
        return key;
    }

    /// <summary>Reads the key at <paramref name="path"/>, making it first when it is not there; <paramref name="created"/> says which.</summary>
    public static byte[] ReadOrCreate(string path, out bool created)
    {
        path = ExpandHome(path);
        created = false;
        if (!File.Exists(path))
        {
            try
            {
                Create(path);
                created = true;
            }
            catch (IOException) when (File.Exists(path))
            {
                // made by another process at the same moment: read theirs
            }
        }
        return Read(path);
    }
}
