using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using RobotRuntime.Onnx;
using RobotRuntime.Tensors;
using RobotRuntime.Tensors.Modules;
using RobotRuntime.Tensors.Onnx;

namespace RobotRuntime.Benchmarks.Tensors;

/// <summary>
/// `tensors-compare --threads N`: the engine's side of benchmarks/tensors_vs_pytorch.py. Prints
/// one line per measurement, "name median_ms [extra]", with medians of repeated runs.
/// </summary>
public static class TensorComparison
{
    /// <summary>Training steps run before any is timed, on both sides (tensors_vs_pytorch.py uses the same count).</summary>
    public const int WarmUpSteps = 100;

    public static int Run(string[] args)
    {
        int threads = args.Length >= 2 && args[0] == "--threads" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1;
        TensorEngine.ThreadCount = threads;
        var inv = CultureInfo.InvariantCulture;

        FmaPeak.Run(10_000);
        double peak = Median(15, () => FmaPeak.Run(2_000_000));
        Console.WriteLine(string.Create(inv, $"fma_peak_1core {peak * 1e3:F4} gflops={FmaPeak.FlopsPerIteration * 2_000_000 / peak / 1e9:F1}"));

        foreach (var shape in new[] { "512x512x512", "256x135x512", "512x135x512" })
        {
            var (m, k, n) = MatMulBenchmarks.Parse(shape);
            var x = Tensor.RandomNormal(new Random(1), 1f, m, k);
            var w = Tensor.RandomNormal(new Random(2), 1f, n, k);
            var y = Tensor.Zeros(m, n);
            for (int i = 0; i < 10; i++)
            {
                Ops.LinearInto(x, w, null, y);
            }
            double tInto = Median(60, () => Ops.LinearInto(x, w, null, y));
            Console.WriteLine(string.Create(inv, $"matmul_{shape} {tInto * 1e3:F4} gflops={2.0 * m * n * k / tInto / 1e9:F1}"));
            for (int i = 0; i < 10; i++)
            {
                Ops.Linear(x, w, null);
            }
            double t = Median(60, () => Ops.Linear(x, w, null));
            Console.WriteLine(string.Create(inv, $"linear_{shape} {t * 1e3:F4} gflops={2.0 * m * n * k / t / 1e9:F1}"));
        }

        var step = new WorldModelStep();
        // Steady state: tiered compilation promotes the once-per-step methods (the optimizer, the
        // backward nodes) after about 30 calls plus a background delay; the first ~80 steps run
        // partly unoptimized code (measured: 63-70 ms per step before, 57-59 ms after).
        for (int i = 0; i < WarmUpSteps; i++)
        {
            step.Step();
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        const int counted = 10;
        for (int i = 0; i < counted; i++)
        {
            step.Step();
        }
        long bytesPerStep = (GC.GetAllocatedBytesForCurrentThread() - before) / counted;
        double stepTime = Median(30, () => step.Step());
        Console.WriteLine(string.Create(inv, $"training_step {stepTime * 1e3:F4} bytes_per_step={bytesPerStep} parameters={step.ParameterCount}"));

        var (engineForward, ortForward, intoForward, intoBytes) = MlpForwardAgainstOnnxRuntime(threads);
        Console.WriteLine(string.Create(inv, $"mlp_forward_engine {engineForward * 1e3:F4} ort_ms={ortForward * 1e3:F4} ort/engine={ortForward / engineForward:F2}"));
        Console.WriteLine(string.Create(inv, $"mlp_forward_into {intoForward * 1e3:F4} bytes_per_call={intoBytes} ort/into={ortForward / intoForward:F2}"));
        return 0;
    }

    /// <summary>
    /// MLP forward, batch 512, three 512-wide Linear → LayerNorm → Mish layers: the engine (under
    /// NoGrad on a warm tape) against ONNX Runtime running the engine's exported model with
    /// <paramref name="threads"/> intra-op threads, spinning off, in this process; and the same
    /// layers through the preallocated inference ops (LinearInto, LayerNormInto, MishInto) with
    /// the bytes one such forward allocates.
    /// </summary>
    private static (double Engine, double OnnxRuntime, double Into, long IntoBytes) MlpForwardAgainstOnnxRuntime(int threads)
    {
        var random = new Random(3);
        var layers = new List<Module>();
        for (int i = 0; i < 3; i++)
        {
            layers.Add(new RobotRuntime.Tensors.Modules.Linear($"mlp.{i}.linear", 512, 512, random));
            layers.Add(new RobotRuntime.Tensors.Modules.LayerNorm($"mlp.{i}.norm", 512));
            layers.Add(new Activation(ActivationKind.Mish));
        }
        var mlp = new Sequential([.. layers]);
        var x = Tensor.RandomNormal(random, 1f, 512, 512);
        string path = Path.Combine(Path.GetTempPath(), $"rr-mlp-forward-{Environment.ProcessId}.onnx");
        OnnxModelFile.Export(mlp, x, path);
        try
        {
            using var tape = new Tape();
            double engine = Median(60, () =>
            {
                using (tape.Record())
                using (Tape.NoGrad())
                {
                    mlp.Forward(x);
                }
                tape.Reset();
            });
            var buffers = new[] { Tensor.Zeros(512, 512), Tensor.Zeros(512, 512), Tensor.Zeros(512, 512) };
            void ForwardInto()
            {
                var h = x;
                for (int i = 0; i < 3; i++)
                {
                    var linear = (RobotRuntime.Tensors.Modules.Linear)layers[3 * i];
                    var norm = (RobotRuntime.Tensors.Modules.LayerNorm)layers[3 * i + 1];
                    Ops.LinearInto(h, linear.Weight.Value, linear.Bias?.Value, buffers[i]);
                    Ops.LayerNormInto(buffers[i], norm.Weight.Value, norm.Bias.Value, buffers[i], norm.Eps);
                    Ops.MishInto(buffers[i], buffers[i]);
                    h = buffers[i];
                }
            }
            for (int i = 0; i < 5; i++)
            {
                ForwardInto();
            }
            long before = GC.GetAllocatedBytesForCurrentThread();
            ForwardInto();
            long intoBytes = GC.GetAllocatedBytesForCurrentThread() - before;
            double into = Median(60, ForwardInto);
            using var session = OnnxSessions.Open(path, new OnnxSessionSettings { IntraOpThreads = threads });
            using var runOptions = new RunOptions();
            var outputBuffer = new float[512 * 512];
            using var input = OrtValue.CreateTensorValueFromMemory(x.Span.ToArray(), [512L, 512L]);
            using var output = OrtValue.CreateTensorValueFromMemory(outputBuffer, [512L, 512L]);
            string[] inputNames = ["input"], outputNames = ["output"];
            OrtValue[] inputs = [input], outputs = [output];
            for (int i = 0; i < 10; i++)
            {
                session.Run(runOptions, inputNames, inputs, outputNames, outputs);
            }
            double ort = Median(60, () => session.Run(runOptions, inputNames, inputs, outputNames, outputs));
            return (engine, ort, into, intoBytes);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static double Median(int repetitions, Action action) => Timing.MedianSeconds(repetitions, action);

    private static double Median(int repetitions, Func<object> action) => Median(repetitions, () => { action(); });

    private static double Median<T>(int repetitions, Func<T> action) where T : struct => Median(repetitions, () => { action(); });
}
