using System.Runtime.CompilerServices;
using System.Text;
using BenchmarkDotNet.Attributes;
using RobotRuntime.Onnx;
using RobotRuntime.Sim.MuJoCo;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Benchmarks.Interop;

/// <summary>
/// What one call into each binding style costs, beside a managed call in the same run: the
/// floor every per-cycle native call (zmq_msg_recv, OrtRun, mj_step) pays on top of its work.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 5, iterationCount: 20)]
[MedianColumn]
public unsafe class InteropCallBenchmarks
{
    private nint _status;

    [GlobalSetup]
    public void Setup()
    {
        // Load every library before measuring; create one status to read back.
        _ = ZmqLibrary.Version;
        _ = MuJoCoLibrary.VersionNumber;
        var api = OrtApi.Default;
        var message = Encoding.UTF8.GetBytes("benchmark\0");
        fixed (byte* m = message)
            _status = api.CreateStatus(1, m);
    }

    [GlobalCleanup]
    public void Cleanup() => OrtApi.Default.ReleaseStatus(_status);

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

    /// <summary>A function pointer read from ONNX Runtime's OrtApi table (GetErrorCode on a live status).</summary>
    [Benchmark]
    public int FunctionPointerOrtApi() => OrtApi.Default.GetErrorCode(_status);
}
