namespace RobotRuntime.Testing;

/// <summary>Counts what a piece of code allocates on the calling thread.</summary>
internal static class ThreadAllocations
{
    /// <summary>
    /// Bytes allocated on this thread while <paramref name="action"/> runs, counted from an empty
    /// allocation buffer: a blocking gen-0 collection first takes the thread's partly used buffer
    /// back. Without it, a background GC that runs meanwhile and abandons the unused rest of that
    /// buffer makes <see cref="GC.GetAllocatedBytesForCurrentThread"/> count the rest as allocated:
    /// 600–6,000 B "allocated" by loop cycles that allocate nothing, seen only on a loaded machine
    /// with other threads allocating, and never with <c>DOTNET_gcConcurrent=0</c>.
    /// </summary>
    public static long During(Action action)
    {
        GC.Collect(0, GCCollectionMode.Forced, blocking: true);
        long before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
