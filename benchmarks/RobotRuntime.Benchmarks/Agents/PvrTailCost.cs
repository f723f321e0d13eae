using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using RobotRuntime.Onnx;
using RobotRuntime.Tensors;
using RobotRuntime.Tensors.Onnx;

namespace RobotRuntime.Benchmarks.Agents;

/// <summary>
/// What partial and full fine-tuning of a PVR cost per batch, side by side in one run: ONNX Runtime on
/// the whole model and on the trunk written out of it, the engine's tail (inference and forward +
/// backward) and the engine's whole model (full mode), plus how far the engine's tail on ONNX
/// Runtime's trunk is from ONNX Runtime's whole model.
/// Usage: pvr-tail MODEL.onnx SIZE SPLIT [BATCH=8] [THREADS=1] [ITERATIONS=10]
/// </summary>
public static class PvrTailCost
{
    public const string Verb = "pvr-tail";

    public static int Run(string[] args)
    {
        if (args.Length < 3)
        {
            Console.Error.WriteLine("usage: pvr-tail MODEL.onnx SIZE SPLIT [BATCH=8] [THREADS=1] [ITERATIONS=10]   (SPLIT: node-name prefix such as /layer4/, or a value name)");
            return 2;
        }
        string path = args[0];
        int size = int.Parse(args[1]);
        string splitAt = args[2];
        int batch = args.Length > 3 ? int.Parse(args[3]) : 8;
        int threads = args.Length > 4 ? int.Parse(args[4]) : 1;
        int iterations = args.Length > 5 ? int.Parse(args[5]) : 10;
        TensorEngine.ThreadCount = threads;

        var graph = OnnxGraph.Load(path);
        string input = graph.Inputs[0].Name, output = graph.Outputs[0].Name;
        string split = graph.Producer(splitAt) is not null ? splitAt : graph.StageInput(splitAt);
        string trunkPath = Path.Combine(Path.GetTempPath(), $"rr-bench-trunk-{Guid.NewGuid():N}.onnx");
        graph.WritePrefix(split, "trunk", null, trunkPath);
        try
        {
            var tail = OnnxGraphModule.Create(graph, split);
            OnnxGraphModule? whole = null;
            string wholeNote = "";
            try
            {
                whole = OnnxGraphModule.Create(graph);
            }
            catch (NotSupportedException e)
            {
                wholeNote = e.Message;
            }
            var pixels = Tensor.RandomNormal(new Random(1), 1f, batch, 3, size, size);
            var settings = new OnnxSessionSettings { IntraOpThreads = threads, AllowSpinning = true };
            using var wholeSession = OnnxSessions.Open(path, settings);
            using var trunkSession = OnnxSessions.Open(trunkPath, settings);
            using var runOptions = new RunOptions();
            float[] RunOrt(InferenceSession session, out long[] shape)
            {
                using var value = OrtValue.CreateTensorValueFromMemory(pixels.Span.ToArray(), [batch, 3, size, size]);
                using var outputs = session.Run(runOptions, [input], [value], [session.OutputNames[0]]);
                shape = outputs[0].GetTensorTypeAndShape().Shape;
                return outputs[0].GetTensorDataAsSpan<float>().ToArray();
            }
            var reference = RunOrt(wholeSession, out _);
            var trunkOut = RunOrt(trunkSession, out var trunkShape);
            var trunkTensor = Tensor.FromArray(trunkOut, trunkShape.Select(d => (int)d).ToArray());
            Tensor tailOut;
            using (Tape.NoGrad())
            {
                tailOut = tail.Forward(trunkTensor);
            }
            double maxDiff = 0, maxRef = 0;
            for (int i = 0; i < reference.Length; i++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(reference[i] - tailOut.Span[i]));
                maxRef = Math.Max(maxRef, Math.Abs(reference[i]));
            }

            var results = new Dictionary<string, double>
            {
                ["ort_whole_ms"] = Median(iterations, () => RunOrt(wholeSession, out _)),
                ["ort_trunk_ms"] = Median(iterations, () => RunOrt(trunkSession, out _)),
                ["engine_tail_forward_ms"] = Median(iterations, () => Forward(tail, trunkTensor)),
                ["engine_tail_train_ms"] = Median(iterations, () => Backward(tail, trunkTensor)),
            };
            if (whole is not null)
            {
                results["engine_whole_forward_ms"] = Median(iterations, () => Forward(whole, pixels));
                results["engine_whole_train_ms"] = Median(iterations, () => Backward(whole, pixels));
            }
            tail.ProfileOps = true;
            Forward(tail, trunkTensor);
            string profile = string.Join(", ", tail.OpTimes.OrderByDescending(kv => kv.Value).Take(6).Select(kv => $"{kv.Key} {kv.Value.TotalMilliseconds:F1} ms"));
            tail.ProfileOps = false;
            long tailParameters = tail.Parameters().Sum(p => (long)p.Value.Length);
            long wholeParameters = whole?.Parameters().Sum(p => (long)p.Value.Length) ?? 0;
            Console.WriteLine($"{Path.GetFileName(path)} @{size}px, batch {batch}, {threads} thread(s), split at '{split}' (trunk output [{string.Join(", ", trunkShape)}])");
            Console.WriteLine($"  tail: {tail.OpTypes.Count} nodes, {tailParameters:N0} parameters; whole: {(whole is null ? "not run by the engine: " + wholeNote : $"{whole.OpTypes.Count} nodes, {wholeParameters:N0} parameters")}");
            Console.WriteLine($"  engine tail forward by operator (one run, after the timings): {profile}");
            Console.WriteLine($"  engine tail on ORT trunk vs ORT whole model: max |diff| {maxDiff:g3} (max |y| {maxRef:g3})");
            foreach (var (name, ms) in results)
            {
                Console.WriteLine($"  {name,-26} {ms,9:F2} ms  ({ms / batch:F2} ms/image)");
            }
            return 0;
        }
        finally
        {
            File.Delete(trunkPath);
        }
    }

    // Inference as the agent acts: no recording, op outputs lent by a tape's pool (reused call to call).
    private static readonly Tape InferenceTape = new();

    private static void Forward(RobotRuntime.Tensors.Modules.Module module, Tensor x)
    {
        using (InferenceTape.Record())
        using (Tape.NoGrad())
        {
            module.Forward(x);
        }
        InferenceTape.Reset();
    }

    // A training pass as the learner runs one: forward and backward on a tape reused from step to step.
    private static readonly Tape TrainingTape = new();

    private static void Backward(RobotRuntime.Tensors.Modules.Module module, Tensor x)
    {
        using (TrainingTape.Record())
        {
            TrainingTape.Backward(Ops.Mean(Ops.Square(module.Forward(x))));
        }
        foreach (var p in module.Parameters())
        {
            p.Value.ZeroGrad();
        }
        TrainingTape.Reset();
    }

    private static double Median(int iterations, Action action) => 1000 * Timing.MedianSeconds(iterations, action, warmups: 1);
}
