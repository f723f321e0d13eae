// Side-by-side convolution benchmark: the project's managed tensor engine (RobotRuntime.Tensors)
// against libtorch 2.10 through TorchSharp, alternated in one process (engine, torch, engine,
// torch ...). See README.md in this folder; start it through run.sh.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using RobotRuntime.Pretraining;
using RobotRuntime.Tensors;
using RobotRuntime.Tensors.Modules;
using TorchSharp;
using F = TorchSharp.torch.nn.functional;
using TT = TorchSharp.torch.Tensor;

namespace RobotRuntime.Benchmarks.TorchCompare;

internal static class Program
{
    private static int Main(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Options.Usage);
            return 2;
        }
        if (options.Help)
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }

        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        string loadBefore = LoadAverage();
        var started = DateTime.Now;

        torch.InitializeDeviceType(DeviceType.CPU);
        torch.random.manual_seed(1);
        Console.WriteLine($"# Tensor engine vs libtorch (TorchSharp) — convolution");
        Console.WriteLine();
        Console.WriteLine($"- started {started:yyyy-MM-dd HH:mm:ss zzz}, load average {loadBefore}");
        Console.WriteLine($"- .NET {Environment.Version}, {Environment.ProcessorCount} processors, TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch {TorchInfo(-1)}");
        Console.WriteLine($"- libtorch CPU capability: {TorchInfo(2)}; {TorchInfo(3)}; {TorchInfo(4)}");
        Console.WriteLine($"- rounds {options.Rounds}, threads {string.Join(",", options.Threads)}, ~{options.BlockSeconds:0.##} s per block, warm-up {options.WarmupSeconds:0.##} s per case and side");
        var env = new[] { "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS", "MKL_ENABLE_INSTRUCTIONS", "GLIBC_TUNABLES", "DOTNET_TieredPGO", "DOTNET_TieredCompilation" }
            .Where(v => Environment.GetEnvironmentVariable(v) is not null)
            .Select(v => $"{v}={Environment.GetEnvironmentVariable(v)}").ToArray();
        Console.WriteLine($"- environment: {(env.Length == 0 ? "(no thread/ISA/allocator variables set)" : string.Join(", ", env))}");
        Console.WriteLine();
        var cases = Cases.Build(options).Where(c => options.CaseFilter.Length == 0
            || options.CaseFilter.Any(f => c.Name.Contains(f, StringComparison.OrdinalIgnoreCase))).ToList();
        if (cases.Count == 0)
        {
            Console.Error.WriteLine("no case matches --cases");
            return 2;
        }

        if (options.Check)
        {
            TensorEngine.ThreadCount = options.Threads[0];
            torch.set_num_threads(options.Threads[0]);
            if (!NumericalCheck.Run(options.Smoke ? 8 : 64))
                return 1;
        }
        if (options.CheckOnly)
            return 0;

        if (options.Probe)
        {
            // One call of each torch case: with ONEDNN_VERBOSE=1 / MKL_VERBOSE=1 set by the caller
            // this shows which kernels libtorch takes.
            foreach (var c in cases)
            {
                Console.WriteLine($"probe: {c.Name}");
                Console.Out.Flush();
                c.TorchStep();
                Console.Out.Flush();
            }
            return 0;
        }

        var results = new List<Result>();
        foreach (int threads in options.Threads)
        {
            TensorEngine.ThreadCount = threads;
            torch.set_num_threads(threads);
            Console.Error.WriteLine($"threads {threads}: engine ThreadCount {TensorEngine.ThreadCount}, torch.get_num_threads() {torch.get_num_threads()}");
            results.AddRange(Measure(cases, threads, options));
        }

        string loadAfter = LoadAverage();
        Console.WriteLine(Report.Table(results));
        Console.WriteLine();
        Console.WriteLine(Report.Rounds(results));
        Console.WriteLine();
        Console.WriteLine($"- finished {DateTime.Now:yyyy-MM-dd HH:mm:ss zzz} ({(DateTime.Now - started).TotalMinutes:0.0} min), load average {loadAfter}");
        foreach (var c in cases)
            c.Dispose();
        return 0;
    }

    // Warm-up, then rounds: in each round every case is measured on the engine, then on torch.
    private static List<Result> Measure(IReadOnlyList<Case> cases, int threads, Options options)
    {
        var iterations = new int[cases.Count];
        for (int i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            double e = WarmUp(c.EngineStep, options.WarmupSeconds);
            double t = WarmUp(c.TorchStep, options.WarmupSeconds);
            iterations[i] = Math.Clamp((int)(options.BlockSeconds * 1000 / Math.Max(e, t)), options.MinIterations, 500);
            Console.Error.WriteLine($"  warm-up {c.Name,-22} threads {threads}: engine {e,8:0.00} ms, torch {t,8:0.00} ms → {iterations[i]} iterations per block");
        }
        var engine = new List<double>[cases.Count];
        var torchTimes = new List<double>[cases.Count];
        for (int i = 0; i < cases.Count; i++)
        {
            engine[i] = [];
            torchTimes[i] = [];
        }
        for (int r = 0; r < options.Rounds; r++)
        {
            for (int i = 0; i < cases.Count; i++)
            {
                var c = cases[i];
                engine[i].Add(Block(c.EngineStep, iterations[i]));
                torchTimes[i].Add(Block(c.TorchStep, iterations[i]));
            }
            Console.Error.WriteLine($"  round {r + 1}/{options.Rounds} done (threads {threads}), load {LoadAverage()}");
        }
        var results = new List<Result>();
        for (int i = 0; i < cases.Count; i++)
            results.Add(new Result(cases[i], threads, iterations[i], engine[i], torchTimes[i]));
        return results;
    }

    // Runs step until seconds have passed (and at least 10 times); returns the median of the last calls, ms.
    private static double WarmUp(Action step, double seconds)
    {
        Settle();
        var clock = Stopwatch.StartNew();
        var times = new List<double>();
        while (times.Count < 10 || clock.Elapsed.TotalSeconds < seconds)
        {
            long t0 = Stopwatch.GetTimestamp();
            step();
            times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        return Stats.Median(times.Skip(times.Count / 2));
    }

    // One block: iterations calls timed one by one; returns their median, ms.
    private static double Block(Action step, int iterations)
    {
        Settle();
        var times = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            step();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        return Stats.Median(times);
    }

    // Between blocks: collect garbage (so one side's collections do not land in the other's block)
    // and let the other side's spinning worker threads go to sleep.
    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Thread.Sleep(50);
    }

    internal static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"{parts[0]} {parts[1]} {parts[2]}";
        }
        catch (IOException)
        {
            return "?";
        }
    }

    [DllImport("libtorchcompare_diag.so", EntryPoint = "rr_torch_info")]
    private static extern int RrTorchInfo(int which, byte[]? buffer, int length);

    // libtorch build facts through the small diag library run.sh builds (which: 0 show_config,
    // 1 parallel info, 2 CPU capability, 3 MKL version, 4 oneDNN version; -1 the version from show_config).
    internal static string TorchInfo(int which)
    {
        try
        {
            int w = which < 0 ? 0 : which;
            int n = RrTorchInfo(w, null, 0);
            var buffer = new byte[n + 1];
            RrTorchInfo(w, buffer, buffer.Length);
            string s = Encoding.UTF8.GetString(buffer, 0, n).Trim();
            if (which < 0)
            {
                int at = s.IndexOf("TORCH_VERSION=", StringComparison.Ordinal);
                return at < 0 ? "?" : s[(at + 14)..].Split(',')[0];
            }
            return s;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "(diag library not found)";
        }
    }
}

internal sealed record Options
{
    public int Rounds { get; init; } = 5;
    public int[] Threads { get; init; } = [1, 2];
    public double BlockSeconds { get; init; } = 1.0;
    public double WarmupSeconds { get; init; } = 2.0;
    public int MinIterations { get; init; } = 5;
    public bool Smoke { get; init; }
    public bool Check { get; init; } = true;
    public bool CheckOnly { get; init; }
    public bool Probe { get; init; }
    public bool Help { get; init; }
    public string[] CaseFilter { get; init; } = [];

    public const string Usage =
        "usage: TorchCompare [--rounds N] [--threads 1,2] [--block-seconds S] [--warmup-seconds S] [--min-iterations N]\n" +
        "                    [--cases SUBSTRING,...] [--smoke] [--no-check] [--check-only] [--probe] [--config]\n" +
        "  --cases       only the cases whose name contains one of these (e.g. resnet,cnn b64)\n" +
        "  --smoke       small batches (cnn 8/16, resnet 8, conv batch 2), short blocks: a correctness run\n" +
        "  --check-only  only the numerical check (engine vs torch on the same weights and input)\n" +
        "  --probe       one torch call per case (set ONEDNN_VERBOSE=1 / MKL_VERBOSE=1 to see kernels)\n" +
        "  --config      print libtorch's show_config() and parallel info, then exit";

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            o = args[i] switch
            {
                "--rounds" => o with { Rounds = PositiveInt(Next(), "--rounds") },
                "--threads" => o with { Threads = Next().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(t => PositiveInt(t, "--threads")).ToArray() },
                "--block-seconds" => o with { BlockSeconds = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--warmup-seconds" => o with { WarmupSeconds = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--min-iterations" => o with { MinIterations = PositiveInt(Next(), "--min-iterations") },
                "--cases" => o with { CaseFilter = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) },
                "--smoke" => o with { Smoke = true },
                "--no-check" => o with { Check = false },
                "--check-only" => o with { CheckOnly = true, Check = true },
                "--probe" => o with { Probe = true, Check = false },
                "--config" => PrintConfig(o),
                "-h" or "--help" => o with { Help = true },
                _ => throw new ArgumentException($"unknown argument {args[i]}"),
            };
        }
        if (o.Threads.Length == 0)
            throw new ArgumentException("--threads needs at least one count");
        if (o.Smoke)
            o = o with { BlockSeconds = Math.Min(o.BlockSeconds, 0.2), WarmupSeconds = Math.Min(o.WarmupSeconds, 0.3), MinIterations = Math.Min(o.MinIterations, 3) };
        return o;
    }

    private static Options PrintConfig(Options o)
    {
        torch.InitializeDeviceType(DeviceType.CPU);
        Console.WriteLine(Program.TorchInfo(0));
        Console.WriteLine(Program.TorchInfo(1));
        Environment.Exit(0);
        return o;
    }

    private static int PositiveInt(string s, string name) =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0
            ? v : throw new ArgumentException($"{name}: expected a positive integer, got '{s}'");
}

/// <summary>One network in both engines, with the same weights: the engine's modules and a torch function over copies of its parameters.</summary>
internal sealed class Twin : IDisposable
{
    private readonly List<TT> _owned = [];

    public Twin(Module engine)
    {
        Engine = engine;
        Parameters = engine.Parameters().ToArray();
        TorchParameters = Parameters.Select(p => Own(ToTorch(p.Value, requiresGrad: true))).ToArray();
        Torch = TorchWith(TorchParameters);
    }

    /// <summary>The torch function over <paramref name="parameters"/> (one per engine parameter, in order; e.g. float64 copies).</summary>
    public Func<TT, TT> TorchWith(TT[] parameters)
    {
        var map = Parameters.Select((p, i) => (p.Value, parameters[i])).ToDictionary(t => t.Value, t => t.Item2);
        return Translate(Engine, map);
    }

    public Module Engine { get; }

    public Parameter[] Parameters { get; }

    public TT[] TorchParameters { get; }

    public Func<TT, TT> Torch { get; }

    public TT Own(TT t)
    {
        _owned.Add(t);
        return t;
    }

    public static TT ToTorch(RobotRuntime.Tensors.Tensor t, bool requiresGrad)
    {
        var shape = t.Shape.ToArray().Select(d => (long)d).ToArray();
        var r = torch.tensor(t.Span.ToArray(), shape, dtype: torch.ScalarType.Float32);
        if (requiresGrad)
            r.requires_grad_(true);
        return r;
    }

    public static float[] ToArray(TT t) => t.contiguous().data<float>().ToArray();

    // The torch function computing what the engine module computes, layer by layer.
    private static Func<TT, TT> Translate(Module m, Dictionary<RobotRuntime.Tensors.Tensor, TT> map)
    {
        switch (m)
        {
            case Sequential s:
                {
                    var layers = s.Layers.Select(l => Translate(l, map)).ToArray();
                    return x =>
                    {
                        foreach (var f in layers)
                            x = f(x);
                        return x;
                    };
                }
            case RobotRuntime.Tensors.Modules.Conv2d c:
                {
                    var w = map[c.Weight.Value];
                    var b = c.Bias is null ? null : map[c.Bias.Value];
                    long[] stride = [c.Stride, c.Stride];
                    long[] padding = [c.Padding, c.Padding];
                    return x => F.conv2d(x, w, b, strides: stride, padding: padding);
                }
            case Activation { Kind: ActivationKind.Relu }:
                return x => F.relu(x);
            case Residual r:
                {
                    var inner = Translate(r.Inner, map);
                    return x => x + inner(x);
                }
            case Flatten:
                return x => x.flatten(1);
            default:
                throw new NotSupportedException($"no torch translation for {m.GetType().Name}");
        }
    }

    public void Dispose()
    {
        foreach (var t in _owned)
            t.Dispose();
        _owned.Clear();
    }
}

/// <summary>One measured case: a network, a batch, forward or forward+backward, on both sides.</summary>
internal sealed class Case : IDisposable
{
    private readonly Tape _tape = new();
    private readonly Twin _twin;
    private readonly RobotRuntime.Tensors.Tensor _x;
    private readonly TT _xt;
    private readonly TT[] _gradInputs;

    public Case(string name, Twin twin, int[] inputShape, bool backward, double forwardFlops, bool images, int seed)
    {
        Name = name;
        _twin = twin;
        Backward = backward;
        Batch = inputShape[0];
        Images = images;
        // Forward + backward: the weight, bias and input gradients (3× the forward's multiply-adds).
        Flops = backward ? 3 * forwardFlops : forwardFlops;
        _x = RobotRuntime.Tensors.Tensor.RandomUniform(new Random(seed), -0.5f, 0.5f, inputShape);
        _x.RequiresGrad = backward;
        _xt = twin.Own(Twin.ToTorch(_x, requiresGrad: backward));
        _gradInputs = [.. twin.TorchParameters, _xt];
    }

    public string Name { get; }

    public bool Backward { get; }

    public int Batch { get; }

    public bool Images { get; }

    public double Flops { get; }

    public void EngineStep()
    {
        if (Backward)
        {
            foreach (var p in _twin.Parameters)
                p.Value.ZeroGrad();
            _x.ZeroGrad();
            using (_tape.Record())
            {
                var y = _twin.Engine.Forward(_x);
                _tape.Backward(Ops.Sum(y));
            }
        }
        else
        {
            using (_tape.Record())
            using (Tape.NoGrad())
            {
                _twin.Engine.Forward(_x);
            }
        }
        _tape.Reset();
    }

    public void TorchStep()
    {
        using var scope = torch.NewDisposeScope();
        if (Backward)
        {
            // torch.autograd.grad: fresh gradients each call, as backward() after zero_grad(set_to_none=True).
            var loss = _twin.Torch(_xt).sum();
            torch.autograd.grad([loss], _gradInputs);
        }
        else
        {
            using var noGrad = torch.no_grad();
            _twin.Torch(_xt);
        }
    }

    public void Dispose() => _tape.Dispose();
}

internal static class Cases
{
    public static List<Case> Build(Options options)
    {
        bool smoke = options.Smoke;
        int cnnSmall = smoke ? 8 : 64, cnnLarge = smoke ? 16 : 128, resnetBatch = smoke ? 8 : 64, convBatch = smoke ? 2 : 8;
        var cnn = new Twin(EncoderArchitectures.Build("cnn", 64, new Random(11)));
        var resnet = new Twin(EncoderArchitectures.Build("resnet", 64, new Random(12)));
        var conv = new Twin(new Sequential(new RobotRuntime.Tensors.Modules.Conv2d("layer1.0.conv1", 64, 64, 3, new Random(13), stride: 1, padding: 1, bias: false)));
        double cnnFlops = EncoderFlops([32, 64, 64, 32], resnetBlocks: false);
        double resnetFlops = EncoderFlops([32, 48, 64, 32], resnetBlocks: true);
        double convFlops = 2.0 * 64 * 64 * 9 * 56 * 56;
        return
        [
            new Case($"cnn b{cnnSmall} fwd", cnn, [cnnSmall, 3, 64, 64], false, cnnFlops * cnnSmall, true, 21),
            new Case($"cnn b{cnnSmall} fwd+bwd", cnn, [cnnSmall, 3, 64, 64], true, cnnFlops * cnnSmall, true, 22),
            new Case($"cnn b{cnnLarge} fwd", cnn, [cnnLarge, 3, 64, 64], false, cnnFlops * cnnLarge, true, 23),
            new Case($"cnn b{cnnLarge} fwd+bwd", cnn, [cnnLarge, 3, 64, 64], true, cnnFlops * cnnLarge, true, 24),
            new Case($"resnet b{resnetBatch} fwd", resnet, [resnetBatch, 3, 64, 64], false, resnetFlops * resnetBatch, true, 25),
            new Case($"resnet b{resnetBatch} fwd+bwd", resnet, [resnetBatch, 3, 64, 64], true, resnetFlops * resnetBatch, true, 26),
            new Case($"r18-layer1 conv b{convBatch} fwd", conv, [convBatch, 64, 56, 56], false, convFlops * convBatch, false, 27),
            new Case($"r18-layer1 conv b{convBatch} fwd+bwd", conv, [convBatch, 64, 56, 56], true, convFlops * convBatch, false, 28),
        ];
    }

    // Multiply-adds × 2 of the convolutions of one 64-px image through an EncoderArchitectures network.
    private static double EncoderFlops(int[] channels, bool resnetBlocks)
    {
        double flops = 0;
        int c = 3, side = 64;
        for (int i = 0; i < channels.Length; i++)
        {
            side /= 2;
            flops += 2.0 * channels[i] * c * 9 * side * side;
            if (resnetBlocks && i is 1 or 2)
                flops += 2 * 2.0 * channels[i] * channels[i] * 9 * side * side;
            c = channels[i];
        }
        return flops;
    }
}

/// <summary>
/// Engine and torch on the same weights and input: outputs and every gradient (loss = sum of the
/// output), each also against torch in float64 (which does not go through oneDNN) as the reference.
/// </summary>
internal static class NumericalCheck
{
    private const double Tolerance = 1e-3;

    /// <summary>Prints the table; false when the engine (not torch) misses the float64 reference.</summary>
    public static bool Run(int batch)
    {
        Console.WriteLine($"## Numerical check (loss = sum of the output; max |a − b| / max |float64 value|; tolerance {Tolerance:0e0})");
        Console.WriteLine();
        Console.WriteLine("The float64 reference is torch's own convolution in double (oneDNN has no f64 convolution, so a different code path).");
        Console.WriteLine();
        Console.WriteLine("| network | tensor | shape | max abs f64 | engine vs torch f32 | engine vs f64 | torch f32 vs f64 | verdict |");
        Console.WriteLine("| --- | --- | --- | ---: | ---: | ---: | ---: | --- |");
        var tally = new Tally();
        CheckOne("cnn", EncoderArchitectures.Build("cnn", 64, new Random(5)), [batch, 3, 64, 64], tally);
        CheckOne("resnet", EncoderArchitectures.Build("resnet", 64, new Random(6)), [Math.Max(2, batch / 4), 3, 64, 64], tally);
        CheckOne("r18-layer1 conv", new Sequential(new RobotRuntime.Tensors.Modules.Conv2d("layer1.0.conv1", 64, 64, 3, new Random(8), padding: 1, bias: false)), [2, 64, 56, 56], tally);
        CheckOne("conv 48→64 s2 16×16", new Sequential(new RobotRuntime.Tensors.Modules.Conv2d("c", 48, 64, 3, new Random(9), stride: 2, padding: 1)), [2, 48, 16, 16], tally);
        Console.WriteLine();
        Console.WriteLine($"numerical check: engine {(tally.EngineBad == 0 ? "PASS" : "FAIL")} ({tally.Rows - tally.EngineBad}/{tally.Rows} tensors within tolerance of float64); " +
            $"torch f32 {(tally.TorchBad == 0 ? "PASS" : "FAIL")} ({tally.Rows - tally.TorchBad}/{tally.Rows}); engine vs torch f32 agree on {tally.Rows - tally.Disagree}/{tally.Rows}");
        Console.WriteLine();
        return tally.EngineBad == 0;
    }

    /// <summary>Networks whose torch float32 gradients missed the float64 reference (marked in the timing table).</summary>
    public static HashSet<string> TorchWrong { get; } = [];

    private sealed class Tally
    {
        public int Rows, EngineBad, TorchBad, Disagree;
    }

    private static void CheckOne(string network, Module module, int[] inputShape, Tally tally)
    {
        using var twin = new Twin(module);
        var x = RobotRuntime.Tensors.Tensor.RandomUniform(new Random(7), -0.5f, 0.5f, inputShape);
        x.RequiresGrad = true;
        var xt = twin.Own(Twin.ToTorch(x, requiresGrad: true));

        using var tape = new Tape();
        float[] engineOut;
        using (tape.Record())
        {
            var y = twin.Engine.Forward(x);
            engineOut = y.Span.ToArray();
            tape.Backward(Ops.Sum(y));
        }
        var engine = twin.Parameters.Select(p => p.Grad!.Span.ToArray()).Append(x.Grad!.Span.ToArray()).Prepend(engineOut).ToArray();
        tape.Reset();

        float[][] torch32, torch64;
        using (torch.NewDisposeScope())
        {
            var y = twin.Torch(xt);
            var grads = torch.autograd.grad([y.sum()], [.. twin.TorchParameters, xt]);
            torch32 = grads.Prepend(y).Select(Twin.ToArray).ToArray();

            var p64 = twin.TorchParameters.Select(p => p.detach().to(torch.ScalarType.Float64).requires_grad_(true)).ToArray();
            var x64 = xt.detach().to(torch.ScalarType.Float64).requires_grad_(true);
            var y64 = twin.TorchWith(p64)(x64);
            var grads64 = torch.autograd.grad([y64.sum()], [.. p64, x64]);
            torch64 = grads64.Prepend(y64).Select(t => Twin.ToArray(t.to(torch.ScalarType.Float32))).ToArray();
        }

        var names = twin.Parameters.Select(p => p.Name + " grad").Append("input grad").Prepend("forward output").ToArray();
        var shapes = twin.Parameters.Select(p => p.Value.ShapeString).Append(x.ShapeString).Prepend($"[{inputShape[0]}, {engineOut.Length / inputShape[0]}]").ToArray();
        for (int i = 0; i < names.Length; i++)
            Row(network, names[i], shapes[i], engine[i], torch32[i], torch64[i], tally);
    }

    private static (double Relative, double MaxReference) Compare(float[] a, float[] reference)
    {
        if (a.Length != reference.Length)
            return (double.NaN, double.NaN);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = Math.Abs((double)a[i] - reference[i]);
            maxDiff = double.IsNaN(d) ? double.NaN : Math.Max(maxDiff, d);
            maxRef = Math.Max(maxRef, Math.Abs((double)reference[i]));
        }
        return (maxDiff / Math.Max(maxRef, 1e-30), maxRef);
    }

    private static void Row(string network, string name, string shape, float[] engine, float[] torch32, float[] torch64, Tally tally)
    {
        var (engineTorch, _) = Compare(engine, torch32);
        var (engine64, maxRef) = Compare(engine, torch64);
        var (torch3264, _) = Compare(torch32, torch64);
        bool Ok(double r) => r <= Tolerance;
        tally.Rows++;
        if (!Ok(engine64))
            tally.EngineBad++;
        if (!Ok(torch3264))
        {
            tally.TorchBad++;
            TorchWrong.Add(network);
        }
        if (!Ok(engineTorch))
            tally.Disagree++;
        string verdict = (Ok(engine64), Ok(torch3264)) switch
        {
            (true, true) => Ok(engineTorch) ? "ok" : "both near f64 but apart?",
            (true, false) => "**torch f32 wrong**",
            (false, true) => "**engine wrong**",
            _ => "**both wrong**",
        };
        string R(double r) => double.IsNaN(r) ? "NaN" : r.ToString("0.0e0", CultureInfo.InvariantCulture);
        Console.WriteLine($"| {network} | {name} | {shape} | {maxRef:0.000e0} | {R(engineTorch)} | {R(engine64)} | {R(torch3264)} | {verdict} |");
    }
}

internal sealed record Result(Case Case, int Threads, int Iterations, List<double> Engine, List<double> Torch)
{
    public double EngineMs => Stats.Median(Engine);

    public double TorchMs => Stats.Median(Torch);
}

internal static class Stats
{
    public static double Median(IEnumerable<double> values)
    {
        var a = values.OrderBy(v => v).ToArray();
        if (a.Length == 0)
            return double.NaN;
        return a.Length % 2 == 1 ? a[a.Length / 2] : 0.5 * (a[a.Length / 2 - 1] + a[a.Length / 2]);
    }
}

internal static class Report
{
    public static string Table(IEnumerable<Result> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("## Results (median over rounds of each block's median call time; ratio = torch / engine, > 1: the engine is faster)");
        sb.AppendLine();
        sb.AppendLine("| case | threads | engine ms | torch ms | torch/engine | engine img/s | torch img/s | engine GFLOP/s | torch GFLOP/s |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            double e = r.EngineMs, t = r.TorchMs;
            string Img(double ms) => r.Case.Images ? (r.Case.Batch / (ms / 1000)).ToString("0", CultureInfo.InvariantCulture) : "";
            string Gf(double ms) => (r.Case.Flops / (ms / 1000) / 1e9).ToString("0.0", CultureInfo.InvariantCulture);
            bool wrong = r.Case.Backward && NumericalCheck.TorchWrong.Any(n => r.Case.Name.StartsWith(n + " ", StringComparison.Ordinal));
            string mark = wrong ? " †" : "";
            sb.AppendLine($"| {r.Case.Name} | {r.Threads} | {e:0.00} | {t:0.00}{mark} | {t / e:0.00} | {Img(e)} | {Img(t)} | {Gf(e)} | {Gf(t)} |");
        }
        if (results.Any(r => r.Case.Backward && NumericalCheck.TorchWrong.Any(n => r.Case.Name.StartsWith(n + " ", StringComparison.Ordinal))))
        {
            sb.AppendLine();
            sb.AppendLine("† torch's gradients for this network are wrong in this process (numerical check above: a oneDNN kernel returns wrong input gradients); the time is of that kernel.");
        }
        return sb.ToString().TrimEnd();
    }

    public static string Rounds(IEnumerable<Result> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("<details><summary>per-round block medians, ms (engine | torch), iterations per block</summary>");
        sb.AppendLine();
        foreach (var r in results)
        {
            string Join(List<double> v) => string.Join(" ", v.Select(x => x.ToString("0.00", CultureInfo.InvariantCulture)));
            sb.AppendLine($"- {r.Case.Name}, {r.Threads} thr, {r.Iterations} it: {Join(r.Engine)} | {Join(r.Torch)}");
        }
        sb.AppendLine();
        sb.Append("</details>");
        return sb.ToString();
    }
}
