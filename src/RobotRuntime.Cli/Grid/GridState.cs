using System.Globalization;
using System.Text.Json.Nodes;

namespace RobotRuntime.Cli.Grid;

/// <summary>
/// A cell's record, cell.json: which cell it is, its full settings, and where it stands —
/// <c>pending</c>, <c>training</c>, <c>evaluating</c>, <c>done</c> or <c>failed</c> — with the attempts
/// started, the failures among them and the last error. Written only atomically, and (after the grid
/// made it) only by the process holding the cell's lock.
/// </summary>
public sealed class GridCellState
{
    /// <summary>States a cell passes through.</summary>
    public static readonly string[] States = ["pending", "training", "evaluating", "done", "failed"];

    /// <summary>The cell.</summary>
    public required GridCell Cell { get; init; }

    /// <summary>pending, training, evaluating, done or failed.</summary>
    public string State { get; set; } = "pending";

    /// <summary>Attempts started (a killed attempt counts).</summary>
    public int Attempts { get; set; }

    /// <summary>Attempts that failed with an error.</summary>
    public int Failures { get; set; }

    /// <summary>The last failure's message; null unless failed (kept after a retry starts, until it succeeds).</summary>
    public string? Error { get; set; }

    /// <summary>The process that last ran it: "host pid".</summary>
    public string? Worker { get; set; }

    /// <summary>When it was last written (UTC, ISO 8601).</summary>
    public string Updated { get; private set; } = "";

    /// <summary>cell.json of a cell folder.</summary>
    public static string PathIn(string cellFolder) => Path.Combine(cellFolder, "cell.json");

    /// <summary>A fresh, pending record.</summary>
    public static GridCellState Pending(GridCell cell) => new() { Cell = cell };

    /// <summary>Reads a cell folder's record; null when it has none.</summary>
    /// <exception cref="InvalidDataException">The record is malformed; the message names the file and field.</exception>
    public static GridCellState? Read(string cellFolder)
    {
        string path = PathIn(cellFolder);
        if (!File.Exists(path))
        {
            return null;
        }
        var json = GridJson.Read(path);
        try
        {
            var cell = new GridCell(
                json["index"]!.GetValue<int>(), json["id"]!.GetValue<string>(), json["encoder"]!.GetValue<string>(), json["mode"]!.GetValue<string>(),
                json["task"]!.GetValue<string>(), json["train_shifts"]!.GetValue<string>(), json["seed"]!.GetValue<int>(),
                json["objective"]?.GetValue<string>() ?? "unspecified", json["settings"]!.AsObject(), json["settings_hash"]!.GetValue<string>());
            string state = json["state"]!.GetValue<string>();
            if (!States.Contains(state))
            {
                throw new InvalidDataException($"{path}: state '{state}' is not one of {string.Join(", ", States)}");
            }
            return new GridCellState
            {
                Cell = cell,
                State = state,
                Attempts = json["attempts"]?.GetValue<int>() ?? 0,
                Failures = json["failures"]?.GetValue<int>() ?? 0,
                Error = json["error"]?.GetValue<string>(),
                Worker = json["worker"]?.GetValue<string>(),
                Updated = json["updated"]?.GetValue<string>() ?? "",
            };
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: a field is missing or of the wrong kind ({e.Message})");
        }
    }

    /// <summary>Writes the record into <paramref name="cellFolder"/> atomically.</summary>
    public void Write(string cellFolder)
    {
        Directory.CreateDirectory(cellFolder);
        Updated = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        GridJson.WriteAtomically(PathIn(cellFolder), new JsonObject
        {
            ["format"] = 1,
            ["index"] = Cell.Index,
            ["id"] = Cell.Id,
            ["encoder"] = Cell.Encoder,
            ["mode"] = Cell.Mode,
            ["task"] = Cell.Task,
            ["train_shifts"] = Cell.TrainShifts,
            ["seed"] = Cell.Seed,
            ["objective"] = Cell.Objective,
            ["state"] = State,
            ["attempts"] = Attempts,
            ["failures"] = Failures,
            ["error"] = Error,
            ["worker"] = Worker,
            ["updated"] = Updated,
            ["settings_hash"] = Cell.SettingsHash,
            ["settings"] = Cell.Settings.DeepClone(),
        });
    }
}

/// <summary>
/// The lock that keeps two workers off one cell: a file created exclusively (O_EXCL) holding the owner's
/// host, pid and a token, its modification time refreshed every <see cref="Heartbeat"/> while held. A lock
/// is stale, and taken over, when its owner ran on this host and that pid is gone, or when its heartbeat
/// is older than <see cref="StaleAfter"/> (an owner on another machine, e.g. a cluster pod that died).
/// </summary>
public sealed class GridCellLock : IDisposable
{
    /// <summary>How often a held lock's file is touched.</summary>
    public static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(30);

    /// <summary>A lock not touched for this long is stale whoever holds it.</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(5);

    private readonly string _path;
    private readonly string _token;
    private readonly Timer _heartbeat;
    private bool _released;

    private GridCellLock(string path, string token)
    {
        _path = path;
        _token = token;
        _heartbeat = new Timer(_ =>
        {
            try
            {
                File.SetLastWriteTimeUtc(_path, DateTime.UtcNow);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The next beat tries again; a lock that stays untouched becomes stale, as it should.
            }
        }, null, Heartbeat, Heartbeat);
    }

    /// <summary>This host's name as locks record it.</summary>
    public static string Host => Environment.MachineName;

    /// <summary>
    /// Takes the lock file <paramref name="path"/>, or returns null with <paramref name="holder"/> describing
    /// who holds it ("pid 123 on host h since …"). A stale lock is moved aside and taken.
    /// </summary>
    public static GridCellLock? TryAcquire(string path, out string? holder)
    {
        for (int attempt = 0; attempt < 3; attempt++)
        {
            string token = Guid.NewGuid().ToString("N");
            try
            {
                using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read))
                {
                    stream.Write(System.Text.Encoding.UTF8.GetBytes($"{Host}\n{Environment.ProcessId}\n{token}\n{DateTime.UtcNow:O}\n"));
                    stream.Flush(flushToDisk: true);
                }
                holder = null;
                return new GridCellLock(path, token);
            }
            catch (IOException) when (File.Exists(path))
            {
                var (owner, stale) = Inspect(path);
                holder = owner;
                if (!stale)
                {
                    return null;
                }
                // Move the stale lock aside (atomic; of two workers that both judged it stale, one wins).
                string aside = $"{path}.stale.{Guid.NewGuid():N}";
                try
                {
                    File.Move(path, aside);
                    File.Delete(aside);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Someone else moved it first: try to create again.
                }
            }
        }
        holder = "a lock that kept reappearing";
        return null;
    }

    /// <summary>Who holds the lock at <paramref name="path"/> and whether the lock is stale.</summary>
    public static (string Holder, bool Stale) Inspect(string path)
    {
        string[] lines;
        DateTime touched;
        try
        {
            lines = File.ReadAllLines(path);
            touched = File.GetLastWriteTimeUtc(path);
        }
        catch (FileNotFoundException)
        {
            return ("nobody", true);
        }
        bool old = DateTime.UtcNow - touched > StaleAfter;
        if (lines.Length < 3 || !int.TryParse(lines[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int pid))
        {
            // Being written, or written by a process that died at once: stale only once old.
            return ($"a lock being written ({path})", old);
        }
        string holder = $"pid {pid} on {lines[0]}, last seen {touched:yyyy-MM-dd HH:mm:ss} UTC";
        bool dead = lines[0] == Host && !ProcessAlive(pid);
        return (holder, dead || old);
    }

    /// <summary>Whether a process with <paramref name="pid"/> runs on this machine.</summary>
    public static bool ProcessAlive(int pid)
    {
        if (OperatingSystem.IsLinux())
        {
            // A zombie has exited: only its parent has yet to collect it.
            try
            {
                string stat = File.ReadAllText($"/proc/{pid}/stat");
                int close = stat.LastIndexOf(')');
                return !(close > 0 && close + 2 < stat.Length && stat[close + 2] is 'Z' or 'X');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Stops the heartbeat and deletes the lock file if it is still this one.</summary>
    public void Dispose()
    {
        if (_released)
        {
            return;
        }
        _released = true;
        _heartbeat.Dispose();
        try
        {
            var lines = File.ReadAllLines(_path);
            if (lines.Length >= 3 && lines[2] == _token)
            {
                File.Delete(_path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone already, or taken over as stale by another worker: not ours to delete.
        }
    }
}
