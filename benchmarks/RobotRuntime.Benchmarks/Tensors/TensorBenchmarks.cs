using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using RobotRuntime.Tensors;

namespace RobotRuntime.Benchmarks.Tensors;

/// <summary>The machine's single-core FMA peak: 20 independent Vector512 FMA chains, 2·16 flops each per instruction.</summary>
public class FmaPeakBenchmarks
{
    public const long Iterations = 1_000_000;

    /// <summary>20·16·2 flops per iteration: GFLOP/s = 640 · Iterations / time.</summary>
    [Benchmark]
    public float FmaLoopOneCore() => FmaPeak.Run(Iterations).ToScalar();
}

public static class FmaPeak
{
    public const int FlopsPerIteration = 20 * 16 * 2;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static Vector512<float> Run(long iterations)
    {
        var a = Vector512.Create(0.9999f);
        var b = Vector512.Create(1e-7f);
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default;
        Vector512<float> c7 = default, c8 = default, c9 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c14 = default, c15 = default, c16 = default, c17 = default, c18 = default, c19 = default;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(a, b, c0); c1 = Vector512.FusedMultiplyAdd(a, b, c1);
            c2 = Vector512.FusedMultiplyAdd(a, b, c2); c3 = Vector512.FusedMultiplyAdd(a, b, c3);
            c4 = Vector512.FusedMultiplyAdd(a, b, c4); c5 = Vector512.FusedMultiplyAdd(a, b, c5);
            c6 = Vector512.FusedMultiplyAdd(a, b, c6); c7 = Vector512.FusedMultiplyAdd(a, b, c7);
            c8 = Vector512.FusedMultiplyAdd(a, b, c8); c9 = Vector512.FusedMultiplyAdd(a, b, c9);
            c10 = Vector512.FusedMultiplyAdd(a, b, c10); c11 = Vector512.FusedMultiplyAdd(a, b, c11);
            c12 = Vector512.FusedMultiplyAdd(a, b, c12); c13 = Vector512.FusedMultiplyAdd(a, b, c13);
            c14 = Vector512.FusedMultiplyAdd(a, b, c14); c15 = Vector512.FusedMultiplyAdd(a, b, c15);
            c16 = Vector512.FusedMultiplyAdd(a, b, c16); c17 = Vector512.FusedMultiplyAdd(a, b, c17);
            c18 = Vector512.FusedMultiplyAdd(a, b, c18); c19 = Vector512.FusedMultiplyAdd(a, b, c19);
        }
        return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 + c14 + c15 + c16 + c17 + c18 + c19;
    }
}

/// <summary>y = x·Wᵀ (Linear without bias) at the world model's shapes; GFLOP/s = 2·M·N·K / time.</summary>
public class MatMulBenchmarks
{
    private Tensor _x = null!, _w = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [Params("512x512x512", "256x135x512", "512x135x512")]
    public string Shape { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        TensorEngine.ThreadCount = Threads;
        var (m, k, n) = Parse(Shape);
        _x = Tensor.RandomNormal(new Random(1), 1f, m, k);
        _w = Tensor.RandomNormal(new Random(2), 1f, n, k);
    }

    public static (int M, int K, int N) Parse(string shape)
    {
        var p = shape.Split('x').Select(int.Parse).ToArray();
        return (p[0], p[1], p[2]);
    }

    [Benchmark]
    public Tensor Linear() => Ops.Linear(_x, _w, null);
}

/// <summary>One world-model update (forward + backward + clip + Adam); see <see cref="WorldModelStep"/>.</summary>
[MemoryDiagnoser]
public class TrainingStepBenchmarks
{
    private WorldModelStep _step = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        TensorEngine.ThreadCount = Threads;
        _step = new WorldModelStep();
        _step.Step();
    }

    [Benchmark]
    public float WorldModelTrainingStep() => _step.Step();
}
