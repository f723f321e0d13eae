using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

[assembly: InternalsVisibleTo("RobotRuntime.Core.Tests")]

namespace RobotRuntime.Runtime;

/// <summary>
/// The libc scheduling calls the runtime uses (glibc, always present on Linux; not a project native
/// dependency). All P/Invoke of RobotRuntime.Core lives here. Pid 0 means the calling thread.
/// </summary>
/// <remarks>
/// Declared with <c>DllImport</c> and blittable signatures rather than <c>LibraryImport</c>: the
/// source generator needs <c>AllowUnsafeBlocks</c>, which RobotRuntime.Core (no native code) does not set.
/// </remarks>
internal static class LinuxScheduling
{
    private const string LibC = "libc";

    /// <summary>SCHED_OTHER: the default time-sharing policy.</summary>
    public const int SchedOther = 0;

    /// <summary>SCHED_FIFO: fixed-priority real-time, first in first out.</summary>
    public const int SchedFifo = 1;

    /// <summary>Bits in the CPU mask passed to the kernel (glibc's CPU_SETSIZE).</summary>
    public const int CpuSetBits = 1024;

    /// <summary>struct sched_param { int sched_priority; }.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SchedParam
    {
        public int Priority;
    }

    // int sched_setscheduler(pid_t pid, int policy, const struct sched_param *param);
    [DllImport(LibC, EntryPoint = "sched_setscheduler", SetLastError = true)]
    public static extern int SetScheduler(int pid, int policy, ref SchedParam param);

    // int sched_getscheduler(pid_t pid);
    [DllImport(LibC, EntryPoint = "sched_getscheduler", SetLastError = true)]
    public static extern int GetScheduler(int pid);

    // int sched_getparam(pid_t pid, struct sched_param *param);
    [DllImport(LibC, EntryPoint = "sched_getparam", SetLastError = true)]
    public static extern int GetParam(int pid, ref SchedParam param);

    // int sched_setaffinity(pid_t pid, size_t cpusetsize, const cpu_set_t *mask);
    [DllImport(LibC, EntryPoint = "sched_setaffinity", SetLastError = true)]
    public static extern int SetAffinity(int pid, nuint cpuSetSize, ulong[] mask);

    // int sched_getaffinity(pid_t pid, size_t cpusetsize, cpu_set_t *mask);
    [DllImport(LibC, EntryPoint = "sched_getaffinity", SetLastError = true)]
    public static extern int GetAffinity(int pid, nuint cpuSetSize, [Out] ulong[] mask);

    /// <summary>The CPUs the calling thread may run on, or null with the errno when the call fails.</summary>
    public static int[]? CurrentAffinity(out int errno)
    {
        var mask = new ulong[CpuSetBits / 64];
        if (GetAffinity(0, (nuint)(mask.Length * sizeof(ulong)), mask) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }
        errno = 0;
        var cpus = new List<int>();
        for (int cpu = 0; cpu < CpuSetBits; cpu++)
            if ((mask[cpu / 64] & (1UL << (cpu % 64))) != 0) cpus.Add(cpu);
        return [.. cpus];
    }
}
