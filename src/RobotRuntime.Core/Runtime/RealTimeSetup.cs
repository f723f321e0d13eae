using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;

namespace RobotRuntime.Runtime;

/// <summary>What the control thread should get where the OS permits it.</summary>
/// <param name="FifoPriority">SCHED_FIFO priority, 1 (lowest) to 99; null: leave the scheduling policy alone.</param>
/// <param name="Cpus">CPUs (0-based) to pin the thread to; null: leave the affinity alone.</param>
/// <param name="LowLatencyGc">Whether to put the GC in <see cref="GCLatencyMode.SustainedLowLatency"/> (process-wide).</param>
public sealed record RealTimeRequest(int? FifoPriority, IReadOnlyList<int>? Cpus, bool LowLatencyGc);

/// <summary>One requested setting and whether it took effect.</summary>
/// <param name="Setting">What was asked ("SCHED_FIFO 80", "CPU affinity 1", "GC SustainedLowLatency").</param>
/// <param name="Applied">Whether it is in effect now (checked by reading it back).</param>
/// <param name="Detail">What happened; when refused, why and how to allow it.</param>
public readonly record struct RealTimeOutcome(string Setting, bool Applied, string Detail);

/// <summary>What <see cref="RealTimeSetup.ConfigureCurrentThread"/> did, setting by setting.</summary>
/// <param name="Outcomes">One entry per requested setting, in the order scheduling, affinity, GC.</param>
/// <param name="PreviousGcLatencyMode">The GC latency mode before the call, to restore it at the end of a run.</param>
public sealed record RealTimeReport(IReadOnlyList<RealTimeOutcome> Outcomes, GCLatencyMode PreviousGcLatencyMode)
{
    /// <summary>Whether every requested setting took effect.</summary>
    public bool AllApplied => Outcomes.All(o => o.Applied);

    /// <summary>One line per setting, "ok" or "not applied", with the detail.</summary>
    public string ToText()
    {
        var text = new StringBuilder();
        foreach (var o in Outcomes)
            text.Append(o.Applied ? "ok           " : "not applied  ").Append(o.Setting).Append(": ").Append(o.Detail).Append('\n');
        return text.ToString();
    }
}

/// <summary>
/// Gives the calling thread what a control loop wants — SCHED_FIFO priority, CPU affinity — and
/// the GC its low-latency mode, where the OS permits it, and reports what was and was not
/// permitted instead of throwing.
/// </summary>
public static class RealTimeSetup
{
    private const int EPERM = 1, ESRCH = 3, EINVAL = 22;

    /// <summary>Applies <paramref name="request"/> to the calling thread (and the GC) and reports each setting.</summary>
    /// <exception cref="ArgumentException">A priority outside 1–99, an empty CPU list or a CPU outside 0–1023 (bad input, not a refusal).</exception>
    /// <remarks>Setup only: call once on the control loop's own thread before its first cycle.</remarks>
    public static RealTimeReport ConfigureCurrentThread(RealTimeRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.FifoPriority is { } p && (p < 1 || p > 99))
            throw new ArgumentException($"FifoPriority: expected 1 to 99, got {p}", nameof(request));
        if (request.Cpus is { } cpus)
        {
            if (cpus.Count == 0)
                throw new ArgumentException("Cpus: expected at least one CPU, or null to leave the affinity alone", nameof(request));
            foreach (int cpu in cpus)
                if (cpu < 0 || cpu >= LinuxScheduling.CpuSetBits)
                    throw new ArgumentException($"Cpus: expected CPU numbers 0 to {LinuxScheduling.CpuSetBits - 1}, got {cpu}", nameof(request));
        }

        var outcomes = new List<RealTimeOutcome>();
        if (request.FifoPriority is { } priority) outcomes.Add(SetFifo(priority));
        if (request.Cpus is { } requested) outcomes.Add(SetAffinity(requested));
        var previous = GCSettings.LatencyMode;
        if (request.LowLatencyGc) outcomes.Add(SetLowLatencyGc());
        return new RealTimeReport(outcomes, previous);
    }

    private static RealTimeOutcome SetFifo(int priority)
    {
        string setting = $"SCHED_FIFO {priority}";
        if (!OperatingSystem.IsLinux())
            return new(setting, false, "not attempted: real-time scheduling is only set up on Linux");
        var param = new LinuxScheduling.SchedParam { Priority = priority };
        if (LinuxScheduling.SetScheduler(0, LinuxScheduling.SchedFifo, ref param) != 0)
            return new(setting, false, "refused: " + DescribeSchedulingError(Marshal.GetLastPInvokeError()));
        var check = new LinuxScheduling.SchedParam();
        int policy = LinuxScheduling.GetScheduler(0);
        if (policy != LinuxScheduling.SchedFifo || LinuxScheduling.GetParam(0, ref check) != 0 || check.Priority != priority)
            return new(setting, false, $"the call succeeded but reading back gives policy {policy}, priority {check.Priority}");
        return new(setting, true, "the thread runs SCHED_FIFO");
    }

    private static RealTimeOutcome SetAffinity(IReadOnlyList<int> cpus)
    {
        string setting = "CPU affinity " + string.Join(',', cpus);
        if (!OperatingSystem.IsLinux())
            return new(setting, false, "not attempted: CPU affinity is only set up on Linux");
        var mask = new ulong[LinuxScheduling.CpuSetBits / 64];
        foreach (int cpu in cpus) mask[cpu / 64] |= 1UL << (cpu % 64);
        if (LinuxScheduling.SetAffinity(0, (nuint)(mask.Length * sizeof(ulong)), mask) != 0)
            return new(setting, false, "refused: " + DescribeAffinityError(Marshal.GetLastPInvokeError()));
        int[]? now = LinuxScheduling.CurrentAffinity(out int errno);
        if (now is null)
            return new(setting, false, $"set, but reading it back failed: {ErrnoName(errno)}");
        if (!now.SequenceEqual(cpus.Distinct().Order()))
            return new(setting, false, $"the kernel narrowed it to CPUs {string.Join(',', now)} (the process's cpuset does not allow the rest)");
        return new(setting, true, "the thread runs only on these CPUs");
    }

    private static RealTimeOutcome SetLowLatencyGc()
    {
        const string setting = "GC SustainedLowLatency";
        GCSettings.LatencyMode = GCLatencyMode.SustainedLowLatency;
        var mode = GCSettings.LatencyMode;
        return mode == GCLatencyMode.SustainedLowLatency
            ? new(setting, true, "blocking gen-2 collections are avoided while the loop runs")
            : new(setting, false, $"the GC stays in {mode}: SustainedLowLatency needs concurrent (background) GC; set <ConcurrentGarbageCollection>true</ConcurrentGarbageCollection> or DOTNET_gcConcurrent=1");
    }

    /// <summary>Explains a failed sched_setscheduler call and what to do about it.</summary>
    internal static string DescribeSchedulingError(int errno) => errno switch
    {
        EPERM => "EPERM — not permitted: run as root, or grant CAP_SYS_NICE (setcap cap_sys_nice+ep on the executable), " +
                 "or an rtprio limit in /etc/security/limits.conf (e.g. \"@realtime - rtprio 90\"); in a container add --cap-add=SYS_NICE " +
                 "and a real-time budget (kernel.sched_rt_runtime_us, the cgroup's cpu.rt_runtime_us)",
        EINVAL => "EINVAL — the priority is not valid for SCHED_FIFO on this kernel",
        ESRCH => "ESRCH — the thread was not found",
        _ => ErrnoName(errno),
    };

    /// <summary>Explains a failed sched_setaffinity call and what to do about it.</summary>
    internal static string DescribeAffinityError(int errno) => errno switch
    {
        EINVAL => "EINVAL — none of the requested CPUs exists or is allowed to this process (check nproc and the cpuset)",
        EPERM => "EPERM — not permitted to change this thread's affinity (needs CAP_SYS_NICE)",
        ESRCH => "ESRCH — the thread was not found",
        _ => ErrnoName(errno),
    };

    private static string ErrnoName(int errno) => $"errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)})";
}
