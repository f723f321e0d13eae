using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace RobotRuntime.Telemetry;

/// <summary>
/// Appends <see cref="CycleRecord"/>s to a run log with one positional write per record and no
/// user-space buffering, so every record handed over is in the kernel when
/// <see cref="TryAppend"/> returns: the log is complete up to the last cycle even if the process
/// is killed (kill -9) or crashes. There is no footer and nothing to finalise.
/// </summary>
/// <remarks>Threading: one writer thread (the control loop's). The file is shared for reading,
/// so a live reader may follow it.</remarks>
public sealed class RunLogWriter : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly long _headerSize;
    private long _recordsWritten;
    private long _writeFailures;

    private RunLogWriter(string path, SafeFileHandle handle, long headerSize)
    {
        Path = path;
        _handle = handle;
        _headerSize = headerSize;
    }

    /// <summary>Creates a new run log at <paramref name="path"/> and writes its header.</summary>
    /// <exception cref="IOException">The file exists already or cannot be created (the message names it).</exception>
    /// <remarks>Setup only.</remarks>
    public static RunLogWriter Create(string path, RunLogMetadata metadata)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        byte[] header = RunLogFormat.BuildHeader(metadata);
        string fullPath = System.IO.Path.GetFullPath(path);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(fullPath, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
        }
        catch (IOException error)
        {
            throw new IOException($"run log {fullPath}: cannot create a new file ({error.Message}); expected a path where no file exists yet", error);
        }
        try
        {
            RandomAccess.Write(handle, header, 0);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        return new RunLogWriter(fullPath, handle, header.Length);
    }

    /// <summary>The log's full path.</summary>
    public string Path { get; }

    /// <summary>Records written so far.</summary>
    public long RecordsWritten => Volatile.Read(ref _recordsWritten);

    /// <summary>Records that could not be written (disk full, I/O error, writer disposed).</summary>
    public long WriteFailures => Volatile.Read(ref _writeFailures);

    /// <summary>Appends one record with one positional write.</summary>
    /// <returns>False if the write failed (counted in <see cref="WriteFailures"/>); the record is then missing from the log.</returns>
    /// <remarks>Real-time: no allocation, no throw; one write system call (to the page cache, not to the disk).</remarks>
    public bool TryAppend(in CycleRecord record)
    {
        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<CycleRecord>(in record));
        long offset = _headerSize + _recordsWritten * bytes.Length;
        try
        {
            RandomAccess.Write(_handle, bytes, offset);
        }
        catch (Exception error) when (error is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
            Interlocked.Increment(ref _writeFailures);
            return false;
        }
        Volatile.Write(ref _recordsWritten, _recordsWritten + 1);
        return true;
    }

    /// <summary>Forces written records to the disk (survives a power loss, not only a process kill).</summary>
    /// <remarks>Not real-time: waits for the disk. Call at the end of a run or from outside the loop.</remarks>
    public void Flush() => RandomAccess.FlushToDisk(_handle);

    /// <summary>Closes the file. Nothing else needs doing: the log is already complete.</summary>
    public void Dispose() => _handle.Dispose();
}
