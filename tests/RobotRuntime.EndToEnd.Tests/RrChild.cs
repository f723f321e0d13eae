using System.Diagnostics;
using System.Text;

namespace RobotRuntime.EndToEnd.Tests;

/// <summary>
/// rr running as a child process that the test talks to: stdin open for operator commands, stdout
/// and stderr collected line by line and waitable, killed (whole tree) on dispose. Every wait is
/// bounded.
/// </summary>
internal sealed class RrChild : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly Lock _gate = new();
    private readonly string _label;

    private RrChild(Process process, string label)
    {
        _process = process;
        _label = label;
    }

    /// <summary>Starts <c>rr &lt;arguments&gt;</c>.</summary>
    public static RrChild Start(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(RrProcess.RrDll);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        var child = new RrChild(Process.Start(start)!, "rr " + string.Join(' ', arguments.Take(1)));
        child._process.OutputDataReceived += (_, e) => child.Add(e.Data);
        child._process.ErrorDataReceived += (_, e) => child.Add(e.Data);
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        return child;
    }

    private void Add(string? line)
    {
        if (line is null)
            return;
        lock (_gate)
            _lines.Add(line);
    }

    /// <summary>Process id.</summary>
    public int Id => _process.Id;

    /// <summary>Everything printed so far (stdout and stderr interleaved as received).</summary>
    public string Text
    {
        get
        {
            lock (_gate)
                return new StringBuilder().AppendJoin('\n', _lines).ToString();
        }
    }

    /// <summary>Lines printed so far.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
                return [.. _lines];
        }
    }

    /// <summary>Waits for a line (after the first <paramref name="skip"/> lines) that satisfies <paramref name="match"/>.</summary>
    public string WaitFor(Func<string, bool> match, TimeSpan timeout, int skip = 0)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            lock (_gate)
            {
                for (var i = skip; i < _lines.Count; i++)
                    if (match(_lines[i]))
                        return _lines[i];
            }
            if (_process.HasExited)
            {
                Thread.Sleep(200); // let the last lines arrive
                lock (_gate)
                {
                    for (var i = skip; i < _lines.Count; i++)
                        if (match(_lines[i]))
                            return _lines[i];
                }
                throw new InvalidOperationException($"{_label} exited ({_process.ExitCode}) before the expected line; it printed:\n{Text}");
            }
            Thread.Sleep(20);
        }
        throw new TimeoutException($"{_label}: the expected line did not come within {timeout.TotalSeconds} s; it printed:\n{Text}");
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

    /// <summary>Writes one line to its stdin (an operator command).</summary>
    public void Type(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Waits for it to exit; returns the exit code.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
            throw new TimeoutException($"{_label} did not exit within {timeout.TotalSeconds} s; it printed:\n{Text}");
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>SIGKILL, no chance to clean up (a crash or power loss, as far as files are concerned).</summary>
    public void KillHard()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (!_process.HasExited)
            KillHard();
        _process.Dispose();
    }
}
