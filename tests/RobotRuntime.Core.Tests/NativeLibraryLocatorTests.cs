using RobotRuntime.Native;

namespace RobotRuntime.Core.Tests;

public sealed class NativeLibraryLocatorTests
{
    [Fact]
    public void MissingLibraryMessageNamesTheLibraryWhereItLookedAndTheInstallCommand()
    {
        using var empty = new TemporaryDirectory();
        var locator = new NativeLibraryLocator([empty.Path], useSystemLoaderPath: false);

        var error = Assert.Throws<NativeDependencyMissingException>(() => locator.Load(NativeDependency.MuJoCoShim));

        Assert.Same(NativeDependency.MuJoCoShim, error.Dependency);
        Assert.StartsWith("MuJoCo shim (librr_mujoco.so) was not found.", error.Message);
        Assert.Contains($"Looked in: {empty.Path}.", error.Message);
        Assert.Contains("`scripts/bootstrap`", error.Message);
        Assert.Contains("RR_NATIVE_DIR", error.Message);
        Assert.Contains("sim/native", error.Message);
        Assert.Null(error.LoaderError);
    }

    [Fact]
    public void MissingSystemLibraryListsTheSystemLoaderPathAmongThePlacesSearched()
    {
        using var empty = new TemporaryDirectory();
        var locator = new NativeLibraryLocator([empty.Path]);
        var absent = new NativeDependency("Absent library", "librr-absent-for-test.so.9", NativeDependencyOrigin.System, "Debian package none");

        var error = Assert.Throws<NativeDependencyMissingException>(() => locator.Load(absent));

        Assert.Equal([empty.Path, NativeLibraryLocator.SystemLoaderPath], error.Searched);
        Assert.Contains("Absent library (librr-absent-for-test.so.9) was not found.", error.Message);
    }

    [Fact]
    public void ProjectLibrariesAreNotTakenFromTheSystemLoaderPath()
    {
        using var empty = new TemporaryDirectory();
        var locator = new NativeLibraryLocator([empty.Path]);

        var error = Assert.Throws<NativeDependencyMissingException>(() => locator.Load(NativeDependency.MuJoCoShim));

        Assert.Equal([empty.Path], error.Searched);
    }

    [Fact]
    public void CorruptLibraryFileIsReportedWithTheLoadersReason()
    {
        using var folder = new TemporaryDirectory();
        var path = Path.Combine(folder.Path, NativeDependency.MuJoCoShim.FileName);
        File.WriteAllText(path, "this is not an ELF file");
        var locator = new NativeLibraryLocator([folder.Path], useSystemLoaderPath: false);

        Assert.False(locator.TryLoad(NativeDependency.MuJoCoShim, out var handle, out var error));

        Assert.Equal(0, handle);
        Assert.NotNull(error);
        Assert.NotNull(error.LoaderError);
        Assert.StartsWith("MuJoCo shim (librr_mujoco.so) was found but could not be loaded:", error.Message);
        Assert.Contains(path, error.Message);
        Assert.Contains("`scripts/bootstrap`", error.Message);
    }

    [Fact]
    public void LibraryInASearchFolderIsLoadedFromThatFolderAndCached()
    {
        var systemCopy = new[] { "/usr/lib/x86_64-linux-gnu/libzmq.so.5", "/usr/lib/aarch64-linux-gnu/libzmq.so.5" }.First(File.Exists);
        using var folder = new TemporaryDirectory();
        File.Copy(systemCopy, Path.Combine(folder.Path, "libzmq.so.5"));
        var locator = new NativeLibraryLocator([folder.Path], useSystemLoaderPath: false);

        var first = locator.Load(NativeDependency.ZeroMq);
        var second = locator.Load(NativeDependency.ZeroMq);

        Assert.NotEqual(0, first);
        Assert.Equal(first, second);
        Assert.Equal(Path.Combine(folder.Path, "libzmq.so.5"), NativeLibraryLocator.MappedPathOf("libzmq.so.5"));
    }

    [Fact]
    public void MappedPathOfAnUnloadedLibraryIsNull() =>
        Assert.Null(NativeLibraryLocator.MappedPathOf("librr-never-loaded.so"));

    [Fact]
    public void RrNativeDirReplacesTheDefaultSearchFolders()
    {
        var before = Environment.GetEnvironmentVariable(NativeLibraryLocator.NativeDirVariable);
        try
        {
            Environment.SetEnvironmentVariable(NativeLibraryLocator.NativeDirVariable, "/opt/robot/native");
            Assert.Equal(["/opt/robot/native"], NativeLibraryLocator.DefaultSearchDirectories());
        }
        finally
        {
            Environment.SetEnvironmentVariable(NativeLibraryLocator.NativeDirVariable, before);
        }
    }

    [Fact]
    public void WithoutRrNativeDirTheRepositoryNativeFolderIsSearched()
    {
        var before = Environment.GetEnvironmentVariable(NativeLibraryLocator.NativeDirVariable);
        try
        {
            Environment.SetEnvironmentVariable(NativeLibraryLocator.NativeDirVariable, null);
            var repository = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory);
            Assert.NotNull(repository);
            Assert.True(File.Exists(Path.Combine(repository, "RobotRuntime.sln")));
            Assert.Contains(Path.Combine(repository, ".native", "lib"), NativeLibraryLocator.DefaultSearchDirectories());
        }
        finally
        {
            Environment.SetEnvironmentVariable(NativeLibraryLocator.NativeDirVariable, before);
        }
    }
}
