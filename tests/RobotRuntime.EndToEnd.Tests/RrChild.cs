using RobotRuntime.Testing;

namespace RobotRuntime.EndToEnd.Tests;

/// <summary>
/// rr running as a child process that the test talks to: stdin open for operator commands, stdout
/// and stderr collected line by line and waitable, killed (with everything it started) on dispose.
/// Every wait is bounded.
/// </summary>
internal sealed class RrChild : IDisposable
{
    private readonly ChildProcess _process;

    private RrChild(ChildProcess process) => _process = process;

    /// <summary>Starts <c>rr &lt;arguments&gt;</c>.</summary>
    public static RrChild Start(params string[] arguments) =>
        new(ChildProcess.Start("dotnet", ["exec", RrProcess.RrDll, .. arguments], redirectInput: true,
            label: "rr " + string.Join(' ', arguments.Take(1))));

    /// <summary>Process id.</summary>
    public int Id => _process.Id;

    /// <summary>Whether it has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Exit code, once it has exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything printed so far (stdout and stderr interleaved as received).</summary>
    public string Text => _process.Text;

    /// <summary>Lines printed so far.</summary>
    public IReadOnlyList<string> Lines => _process.Lines;

    /// <summary>Waits for a line (after the first <paramref name="skip"/> lines) that satisfies <paramref name="match"/>.</summary>
    public string WaitFor(Func<string, bool> match, TimeSpan timeout, int skip = 0) => _process.WaitForLine(match, timeout, skip);

    /// <summary>Number of lines printed so far (to wait only for lines after now).</summary>
    public int LineCount => _process.LineCount;

    /// <summary>Polls <paramref name="condition"/> until it holds; fails naming <paramref name="what"/> and the output if the process exits first or <paramref name="timeout"/> passes.</summary>
    public void WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (HasExited)
                Assert.Fail($"rr exited {ExitCode} before {what}:\n{Text}");
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"timed out after {timeout.TotalSeconds:F0} s waiting for {what}:\n{Text}");
            Thread.Sleep(20);
        }
    }

    /// <summary>Writes one line to its stdin (an operator command).</summary>
    public void Type(string line) => _process.Type(line);

    /// <summary>Sends a signal by name (INT, TERM, ...).</summary>
    public void Signal(string signal) => _process.Signal(signal);

    /// <summary>Waits for it to exit (and its output to close); returns the exit code.</summary>
    public int WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    /// <summary>SIGKILL, no chance to clean up (a crash or power loss, as far as files are concerned).</summary>
    public void KillHard() => _process.KillFamily();

    public void Dispose() => _process.Dispose();
}
