using BenchmarkDotNet.Attributes;
using RobotRuntime.Tensors;

namespace RobotRuntime.Benchmarks.Tensors;

/// <summary>
/// The engine's convolution as it is now (a chunk of samples side by side in one im2col buffer and
/// one GEMM) beside the same convolution run one sample at a time (what it did before: one narrow
/// GEMM per sample), forward and forward + backward, at 1 and 2 engine threads. Shapes: the first
/// layer of a 64-px CNN at batch 128 (6 channels: two stacked RGB frames, 3 × 3 stride 2 to 32
/// channels), and a ResNet-18 layer1 3 × 3 convolution at 56 px, batch 8.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
[MedianColumn]
public class ConvolutionBenchmarks
{
    [Params("cnn64-b128", "resnet-layer1-b8")]
    public string Shape { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    private Tensor _x = null!, _weight = null!, _bias = null!;
    private Tensor[] _samples = [];
    private int _stride, _padding;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        (int n, int c, int size, int o, int stride, int padding) = Shape == "cnn64-b128" ? (128, 6, 64, 32, 2, 0) : (8, 64, 56, 64, 1, 1);
        _x = Tensor.RandomNormal(random, 1f, n, c, size, size);
        _weight = Tensor.RandomNormal(random, 0.1f, o, c, 3, 3);
        _bias = Tensor.RandomNormal(random, 0.1f, o);
        _stride = stride;
        _padding = padding;
        int per = _x.Length / n;
        _samples = Enumerable.Range(0, n).Select(s => Tensor.FromArray(_x.Span.Slice(s * per, per), 1, c, size, size)).ToArray();
        TensorEngine.ThreadCount = Threads;
    }

    /// <summary>The whole batch through Ops.Conv2d (chunks side by side).</summary>
    [Benchmark(Baseline = true)]
    public float ForwardBatched() => Ops.Conv2d(_x, _weight, _bias, _stride, _padding).Span[0];

    /// <summary>One sample at a time (the previous algorithm's GEMM shapes).</summary>
    [Benchmark]
    public float ForwardPerSample()
    {
        float sum = 0;
        foreach (var sample in _samples)
            sum += Ops.Conv2d(sample, _weight, _bias, _stride, _padding).Span[0];
        return sum;
    }

    /// <summary>Forward and backward (dX, dW, db) of the whole batch.</summary>
    [Benchmark]
    public float TrainBatched() => Train([_x]);

    /// <summary>Forward and backward one sample at a time.</summary>
    [Benchmark]
    public float TrainPerSample() => Train(_samples);

    private float Train(Tensor[] inputs)
    {
        _weight.RequiresGrad = _bias.RequiresGrad = true;
        float total = 0;
        foreach (var input in inputs)
        {
            input.RequiresGrad = true;
            using var tape = new Tape();
            using (tape.Record())
            {
                var y = Ops.Conv2d(input, _weight, _bias, _stride, _padding);
                var loss = Ops.Sum(y);
                tape.Backward(loss);
                total += loss.Span[0];
            }
            input.RequiresGrad = false;
        }
        return total;
    }
}
