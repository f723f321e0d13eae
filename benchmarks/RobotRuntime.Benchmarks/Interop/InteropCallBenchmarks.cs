using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using RobotRuntime.Sim.MuJoCo;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Benchmarks.Interop;

/// <summary>
/// What one call into each binding style costs, beside a managed call in the same run: the
/// floor every per-cycle native call (zmq_msg_recv, mj_step) pays on top of its work. (ONNX Runtime
/// is now called through its official binding; PvrLatency measures its run beside the encoder.)
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 5, iterationCount: 20)]
[MedianColumn]
public class InteropCallBenchmarks
{
    [GlobalSetup]
    public void Setup()
    {
        // Load every library before measuring.
        _ = ZmqLibrary.Version;
        _ = MuJoCoLibrary.VersionNumber;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int ManagedCallee(int x) => x + 1;

    /// <summary>A non-inlined managed call: the peer every native call is compared to.</summary>
    [Benchmark(Baseline = true)]
    public int ManagedCall() => ManagedCallee(41);

    /// <summary>[LibraryImport] into libzmq with three out parameters (zmq_version).</summary>
    [Benchmark]
    public int LibraryImportLibzmq()
    {
        ZmqNative.Version(out var major, out var minor, out var patch);
        return major + minor + patch;
    }

    /// <summary>[LibraryImport] into the project's MuJoCo shim, which calls MuJoCo (rrmj_version → mj_version).</summary>
    [Benchmark]
    public int LibraryImportMuJoCoShim() => MuJoCoLibrary.VersionNumber;
}
