using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace RobotRuntime.Testing;

/// <summary>
/// A process a test starts, with every wait bounded. Its stdout and stderr are read line by line
/// as they come. Every process it starts, and everything those start (a build server a script
/// leaves behind, a browser's helpers), carries a marker in its environment, so that on a timeout
/// or on dispose the whole family is found in /proc and killed, orphans included, and a failure
/// names which of them was still running. A process that exits but leaves a descendant holding
/// its output pipes is a named failure within <see cref="StreamBound"/>, never a hang.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    /// <summary>Environment variable that marks every process started through this class.</summary>
    public const string MarkerVariable = "RR_TEST_PROCESS_GROUP";

    /// <summary>How long the output pipes may stay open after the process itself has exited.</summary>
    public static readonly TimeSpan StreamBound = TimeSpan.FromSeconds(15);

    private readonly Process _process;
    private readonly string _marker;
    private readonly List<(bool Error, string Line)> _lines = [];
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _errorClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _disposed;

    private ChildProcess(Process process, string marker, string label)
    {
        _process = process;
        _marker = marker;
        Label = label;
    }

    /// <summary>
    /// Starts <paramref name="program"/> with <paramref name="arguments"/>; <paramref name="environment"/>
    /// entries are set (a null value removes the variable). <paramref name="onLine"/> sees every line
    /// as it arrives (true for stderr) on a reader thread.
    /// </summary>
    public static ChildProcess Start(
        string program,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        bool redirectInput = false,
        string? label = null,
        Action<string, bool>? onLine = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = redirectInput,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var argumentList = arguments.ToList();
        foreach (var argument in argumentList)
            start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
                start.Environment.Remove(key);
            else
                start.Environment[key] = value;
        }
        var marker = Guid.NewGuid().ToString("N");
        start.Environment[MarkerVariable] = marker;

        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var child = new ChildProcess(process, marker, label ?? program + " " + string.Join(' ', argumentList.Take(3)));
        process.OutputDataReceived += (_, e) => child.Receive(e.Data, error: false, onLine);
        process.ErrorDataReceived += (_, e) => child.Receive(e.Data, error: true, onLine);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    private void Receive(string? line, bool error, Action<string, bool>? onLine)
    {
        if (line is null)
        {
            (error ? _errorClosed : _outputClosed).TrySetResult();
            return;
        }
        lock (_gate)
            _lines.Add((error, line));
        onLine?.Invoke(line, error);
    }

    /// <summary>What the failure messages call it.</summary>
    public string Label { get; }

    /// <summary>Process id.</summary>
    public int Id => _process.Id;

    /// <summary>Whether the process itself has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Exit code; only after the process has exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Completes when both output pipes have reached end of file.</summary>
    public Task StreamsClosed => Task.WhenAll(_outputClosed.Task, _errorClosed.Task);

    /// <summary>Everything printed so far, stdout and stderr interleaved as received.</summary>
    public string Text => Join(null);

    /// <summary>What it printed on stdout so far.</summary>
    public string Output => Join(false);

    /// <summary>What it printed on stderr so far.</summary>
    public string Error => Join(true);

    /// <summary>Lines printed so far on both streams.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
                return [.. _lines.Select(l => l.Line)];
        }
    }

    /// <summary>Number of lines printed so far (to wait only for lines after now).</summary>
    public int LineCount
    {
        get
        {
            lock (_gate)
                return _lines.Count;
        }
    }

    private string Join(bool? error)
    {
        lock (_gate)
            return new StringBuilder().AppendJoin('\n', _lines.Where(l => error is null || l.Error == error).Select(l => l.Line)).ToString();
    }

    /// <summary>
    /// Waits for a line (after the first <paramref name="skip"/> lines; on stderr only, stdout only, or
    /// either when <paramref name="onError"/> is null) that satisfies <paramref name="match"/>. Throws,
    /// with what it printed, if the process exits first or the line does not come in time.
    /// </summary>
    public string WaitForLine(Func<string, bool> match, TimeSpan timeout, int skip = 0, bool? onError = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (Find(match, skip, onError) is { } found)
                return found;
            if (_process.HasExited)
            {
                StreamsClosed.Wait(TimeSpan.FromSeconds(2)); // let the last lines arrive
                return Find(match, skip, onError)
                    ?? throw new InvalidOperationException($"{Label} exited ({_process.ExitCode}) before the expected line; it printed:\n{Text}");
            }
            if (DateTime.UtcNow >= deadline)
                throw new TimeoutException($"{Label}: the expected line did not come within {timeout.TotalSeconds} s; it printed:\n{Text}");
            Thread.Sleep(20);
        }
    }

    private string? Find(Func<string, bool> match, int skip, bool? onError)
    {
        lock (_gate)
        {
            for (var i = skip; i < _lines.Count; i++)
                if ((onError is null || _lines[i].Error == onError) && match(_lines[i].Line))
                    return _lines[i].Line;
        }
        return null;
    }

    /// <summary>Writes one line to its stdin.</summary>
    public void Type(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Closes its stdin (end of file for a program reading it).</summary>
    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Sends a signal by name (TERM, INT, USR1, ...) to the process itself.</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(CultureInfo.InvariantCulture)])!;
        if (!kill.WaitForExit(5000))
            throw new TimeoutException($"kill -{signal} {_process.Id} did not return within 5 s");
    }

    /// <summary>
    /// Waits for the process to exit and for its output pipes to close, and returns its exit code.
    /// If it does not exit in <paramref name="timeout"/>, or exits but something it started still
    /// holds its output after <see cref="StreamBound"/>, every process of its family is killed and a
    /// <see cref="TimeoutException"/> says which were still running and what it printed.
    /// </summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            var running = Describe(FamilyIds());
            KillFamily();
            throw new TimeoutException($"{Label} did not exit within {timeout.TotalSeconds} s (killed: {running}); it printed:\n{Text}");
        }
        if (!StreamsClosed.Wait(StreamBound))
        {
            var holders = FamilyIds();
            var described = Describe(holders);
            KillFamily();
            throw new TimeoutException(
                $"{Label} exited ({_process.ExitCode}) but its output pipes were still open {StreamBound.TotalSeconds} s later, " +
                $"held by processes it started: {described} (killed); it printed:\n{Text}");
        }
        _process.WaitForExit(); // flushes the line events
        return _process.ExitCode;
    }

    /// <summary>The ids of the live processes of this family (the process and everything it started).</summary>
    public IReadOnlyList<int> FamilyIds()
    {
        var ids = new List<int>();
        var needle = Encoding.ASCII.GetBytes($"{MarkerVariable}={_marker}\0");
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                continue;
            try
            {
                var environ = File.ReadAllBytes(Path.Combine(folder, "environ"));
                if (environ.AsSpan().IndexOf(needle) >= 0 && !IsZombie(folder))
                    ids.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone, or not ours to read
            }
        }
        return ids;
    }

    private static bool IsZombie(string folder)
    {
        try
        {
            var stat = File.ReadAllText(Path.Combine(folder, "stat"));
            var close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z';
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>"pid (command line)" for each id, for failure messages.</summary>
    public static string Describe(IReadOnlyList<int> ids)
    {
        if (ids.Count == 0)
            return "none";
        return string.Join("; ", ids.Select(id =>
        {
            try
            {
                var commandLine = File.ReadAllText($"/proc/{id}/cmdline").Replace('\0', ' ').Trim();
                return $"{id} ({(commandLine.Length > 160 ? commandLine[..160] + "…" : commandLine)})";
            }
            catch (IOException)
            {
                return $"{id} (gone)";
            }
        }));
    }

    /// <summary>SIGKILL to the process and every process of its family, orphans included; waits (bounded) for them to go.</summary>
    public void KillFamily()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // exited meanwhile
        }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var left = FamilyIds();
            if (left.Count == 0 || DateTime.UtcNow >= deadline)
                break;
            foreach (var id in left)
            {
                try
                {
                    using var other = Process.GetProcessById(id);
                    other.Kill();
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // already gone
                }
            }
            Thread.Sleep(50);
        }
        _process.WaitForExit(10_000);
    }

    /// <summary>Kills the whole family if anything of it still runs.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        KillFamily();
        _process.Dispose();
    }
}
