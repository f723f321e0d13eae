namespace RobotRuntime.Native;

/// <summary>
/// A native library RobotRuntime needs could not be found or loaded. The message names the
/// library, every place searched, the loader's own reason when the file was there, and the
/// command that installs it.
/// </summary>
public sealed class NativeDependencyMissingException : Exception
{
    /// <summary>Creates the exception for <paramref name="dependency"/>.</summary>
    public NativeDependencyMissingException(NativeDependency dependency, IReadOnlyList<string> searched, string? loaderError)
        : base(Describe(dependency, searched, loaderError))
    {
        Dependency = dependency;
        Searched = searched;
        LoaderError = loaderError;
    }

    /// <summary>The library that could not be had.</summary>
    public NativeDependency Dependency { get; }

    /// <summary>The places searched, in order (folders, or "system loader path").</summary>
    public IReadOnlyList<string> Searched { get; }

    /// <summary>The dynamic loader's message when a file was found but would not load; otherwise null.</summary>
    public string? LoaderError { get; }

    private static string Describe(NativeDependency dependency, IReadOnlyList<string> searched, string? loaderError)
    {
        var what = $"{dependency.DisplayName} ({dependency.FileName})";
        var head = loaderError is null
            ? $"{what} was not found."
            : $"{what} was found but could not be loaded: {loaderError.TrimEnd('.', ' ')}.";
        if (dependency.Origin == NativeDependencyOrigin.NuGet)
            return $"{head} Looked in: {string.Join(", ", searched)}. " +
                   $"It comes from {dependency.ProvidedBy}. " +
                   "Rebuild rr (`scripts/rr` or `dotnet build` restores the package and copies its native library next to the application), " +
                   $"and run `{NativeDependency.InstallCommand}` for the Debian libraries it links against.";
        return $"{head} Looked in: {string.Join(", ", searched)}. " +
               $"It comes from {dependency.ProvidedBy}. " +
               $"Install it by running `{NativeDependency.InstallCommand}` from the repository root " +
               $"(the README's test command runs it for you), or set {NativeLibraryLocator.NativeDirVariable} " +
               $"to a folder that contains {dependency.FileName}.";
    }
}
