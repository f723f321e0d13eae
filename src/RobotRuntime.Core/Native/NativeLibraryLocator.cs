using System.Runtime.InteropServices;

namespace RobotRuntime.Native;

/// <summary>
/// The one place that finds and loads RobotRuntime's native libraries. Every binding project
/// (ONNX Runtime, libzmq, the MuJoCo and OpenCV shims) loads through it, so a missing library
/// always surfaces as a <see cref="NativeDependencyMissingException"/> that says what to run.
/// </summary>
/// <remarks>
/// Search order for a library: the folders in <see cref="SearchDirectories"/> (by default the
/// <c>RR_NATIVE_DIR</c> folder if that variable is set, otherwise the application's folder and the
/// repository's <c>.native/lib</c>), then, for <see cref="NativeDependencyOrigin.System"/>
/// libraries, the system loader path. Setup only; thread-safe; a loaded handle is cached for the
/// life of the process (native libraries are never unloaded).
/// </remarks>
public sealed class NativeLibraryLocator
{
    /// <summary>Environment variable naming the only folder to search for project-provided libraries.</summary>
    public const string NativeDirVariable = "RR_NATIVE_DIR";

    /// <summary>The phrase used in messages for the system loader's own search path.</summary>
    public const string SystemLoaderPath = "the system loader path (ld.so.cache, /usr/lib)";

    private readonly Dictionary<string, nint> _loaded = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Creates a locator that searches <paramref name="searchDirectories"/>, then (if allowed) the system loader path.</summary>
    /// <param name="searchDirectories">Folders to search, in order.</param>
    /// <param name="useSystemLoaderPath">Whether <see cref="NativeDependencyOrigin.System"/> libraries may come from the system loader path.</param>
    public NativeLibraryLocator(IReadOnlyList<string> searchDirectories, bool useSystemLoaderPath = true)
    {
        SearchDirectories = searchDirectories;
        UseSystemLoaderPath = useSystemLoaderPath;
    }

    /// <summary>The locator every binding uses unless given another one.</summary>
    public static NativeLibraryLocator Default { get; } = new(DefaultSearchDirectories());

    /// <summary>Folders searched, in order.</summary>
    public IReadOnlyList<string> SearchDirectories { get; }

    /// <summary>Whether system libraries may come from the system loader path.</summary>
    public bool UseSystemLoaderPath { get; }

    /// <summary>
    /// The default folders: <c>$RR_NATIVE_DIR</c> alone when set; otherwise the application's
    /// folder and the <c>.native/lib</c> folder of the repository that contains the application.
    /// </summary>
    public static IReadOnlyList<string> DefaultSearchDirectories()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(NativeDirVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
            return [Path.GetFullPath(fromEnvironment)];

        var directories = new List<string> { Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory) };
        var repository = FindRepositoryRoot(AppContext.BaseDirectory);
        if (repository is not null)
            directories.Add(Path.Combine(repository, ".native", "lib"));
        return directories;
    }

    /// <summary>The nearest folder at or above <paramref name="start"/> that holds <c>RobotRuntime.sln</c>, or null.</summary>
    public static string? FindRepositoryRoot(string start)
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "RobotRuntime.sln")))
                return directory.FullName;
        }
        return null;
    }

    /// <summary>Loads <paramref name="dependency"/> or throws a <see cref="NativeDependencyMissingException"/>.</summary>
    /// <returns>The handle from <see cref="NativeLibrary.Load(string)"/>; valid for the life of the process.</returns>
    public nint Load(NativeDependency dependency)
    {
        if (TryLoad(dependency, out var handle, out var failure))
            return handle;
        throw failure!;
    }

    /// <summary>Loads <paramref name="dependency"/>, reporting failure instead of throwing.</summary>
    public bool TryLoad(NativeDependency dependency, out nint handle, out NativeDependencyMissingException? failure)
    {
        lock (_gate)
        {
            if (_loaded.TryGetValue(dependency.FileName, out handle))
            {
                failure = null;
                return true;
            }

            var searched = new List<string>();
            string? loaderError = null;
            foreach (var directory in SearchDirectories)
            {
                searched.Add(directory);
                var candidate = Path.Combine(directory, dependency.FileName);
                if (!File.Exists(candidate))
                    continue;
                if (TryLoadPath(candidate, out handle, out var error))
                    return Remember(dependency, handle, out failure);
                loaderError ??= error;
            }

            if (dependency.Origin == NativeDependencyOrigin.System && UseSystemLoaderPath)
            {
                searched.Add(SystemLoaderPath);
                if (NativeLibrary.TryLoad(dependency.FileName, out handle))
                    return Remember(dependency, handle, out failure);
            }

            handle = 0;
            failure = new NativeDependencyMissingException(dependency, searched, loaderError);
            return false;
        }
    }

    /// <summary>
    /// The file a loaded library was mapped from, read from <c>/proc/self/maps</c>; null if the
    /// library is not mapped into this process. A soname such as <c>libzmq.so.5</c> also matches
    /// the versioned file it links to (<c>libzmq.so.5.2.5</c>).
    /// </summary>
    public static string? MappedPathOf(string fileName)
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
            return null;
        foreach (var line in File.ReadLines(maps))
        {
            var slash = line.IndexOf('/');
            if (slash < 0)
                continue;
            var path = line[slash..];
            var name = Path.GetFileName(path.AsSpan());
            if (name.SequenceEqual(fileName) || (name.StartsWith(fileName, StringComparison.Ordinal) && name[fileName.Length] == '.'))
                return path;
        }
        return null;
    }

    private bool Remember(NativeDependency dependency, nint handle, out NativeDependencyMissingException? failure)
    {
        _loaded[dependency.FileName] = handle;
        failure = null;
        return true;
    }

    private static bool TryLoadPath(string path, out nint handle, out string? error)
    {
        try
        {
            handle = NativeLibrary.Load(path);
            error = null;
            return true;
        }
        catch (DllNotFoundException e)
        {
            // The runtime's message carries dlerror(), e.g. a missing dependency of the library.
            handle = 0;
            error = e.Message;
            return false;
        }
        catch (BadImageFormatException e)
        {
            handle = 0;
            error = e.Message;
            return false;
        }
    }
}
