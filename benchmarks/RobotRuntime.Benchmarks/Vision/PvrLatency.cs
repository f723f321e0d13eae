using System.Diagnostics;
using System.Globalization;
using RobotRuntime.Cameras;
using Microsoft.ML.OnnxRuntime;
using RobotRuntime.Onnx;
using RobotRuntime.Vision.Encoders;
using RobotRuntime.Vision.Preprocessing;

namespace RobotRuntime.Benchmarks.Vision;

/// <summary>
/// Encode latency of an ONNX PVR through RobotRuntime, measured three ways in one process on the
/// official binding: a plain Run on prepared values (names and values passed each call), the
/// IO-binding run the encoder uses, and the full encoder (preprocessing + run + selector). Started by benchmarks/pvr/compare.sh beside PyTorch on the same model.
/// Usage: pvr-latency &lt;model.onnx&gt; &lt;size&gt; &lt;threads&gt; &lt;iterations&gt;
/// </summary>
public static class PvrLatency
{
    public static int Run(string[] args)
    {
        var path = args[1];
        var size = int.Parse(args[2], CultureInfo.InvariantCulture);
        var threads = int.Parse(args[3], CultureInfo.InvariantCulture);
        var iterations = int.Parse(args[4], CultureInfo.InvariantCulture);

        using var session = OnnxSessions.Open(path, new OnnxSessionSettings { IntraOpThreads = threads });
        var inputName = session.InputNames[0];
        var outputName = session.OutputNames[0];
        var input = new float[3 * size * size];
        for (var i = 0; i < input.Length; i++)
            input[i] = (i % 97) / 97f - 0.5f;
        using var inValue = OrtValue.CreateTensorValueFromMemory(input, [1, 3, size, size]);
        using var runOptions = new RunOptions();
        long[] outShape;
        using (var probe = session.Run(runOptions, [inputName], [inValue], [outputName]))
            outShape = probe[0].GetTensorTypeAndShape().Shape;
        var output = new float[outShape.Aggregate(1L, (a, b) => a * b)];
        using var outValue = OrtValue.CreateTensorValueFromMemory(output, outShape);
        using var binding = session.CreateIoBinding();
        binding.BindInput(inputName, inValue);
        binding.BindOutput(outputName, outValue);

        // A plain Run on prepared values: names and values passed on every call.
        string[] inNames = [inputName], outNames = [outputName];
        OrtValue[] inValues = [inValue], outValues = [outValue];
        double Bare()
        {
            var start = Stopwatch.GetTimestamp();
            session.Run(runOptions, inNames, inValues, outNames, outValues);
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        double Binding()
        {
            var start = Stopwatch.GetTimestamp();
            session.RunWithBinding(runOptions, binding);
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        var model = new PvrModel
        {
            Id = Path.GetFileNameWithoutExtension(path), Description = "benchmark", File = path, InputName = inputName,
            Preprocess = new PreprocessSpec { Height = size, Width = size, Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f] },
            OutputName = outputName, Selector = outShape.Length == 3 ? EmbeddingSelector.Cls : EmbeddingSelector.Flatten,
            EmbeddingSize = outShape.Length == 3 ? (int)outShape[2] : (int)(output.Length), Licence = "-", Source = "-", Export = "-",
        };
        using var encoder = new OnnxPvrEncoder(model, path, 1, size, size, new OnnxSessionSettings { IntraOpThreads = threads });
        var frame = new CameraFrame(size, size);
        new Random(2).NextBytes(frame.Pixels);
        CameraFrame[] frames = [frame];
        var embedding = new float[encoder.EmbeddingSize];
        double Encode()
        {
            var start = Stopwatch.GetTimestamp();
            encoder.Encode(frames, embedding);
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        var preprocessor = new ImagePreprocessor(model.Preprocess, size, size);
        var chw = new float[preprocessor.OutputLength];
        double Preprocess()
        {
            var start = Stopwatch.GetTimestamp();
            preprocessor.Run(frame.Pixels, chw);
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        // Warm up, then interleave the ways so machine noise falls on all of them alike.
        for (var i = 0; i < 10; i++)
        {
            Bare(); Binding(); Encode(); Preprocess();
        }
        List<double> bare = new(iterations), bound = new(iterations), encoded = new(iterations), pre = new(iterations);
        for (var i = 0; i < iterations; i++)
        {
            bare.Add(Bare());
            bound.Add(Binding());
            encoded.Add(Encode());
            pre.Add(Preprocess());
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"model\": \"{model.Id}\", \"size\": {size}, \"threads\": {threads}, \"iterations\": {iterations}, " +
            $"\"bare_ms\": {Stats(bare)}, \"binding_ms\": {Stats(bound)}, \"encoder_ms\": {Stats(encoded)}, \"preprocess_ms\": {Stats(pre)}}}"));
        return 0;
    }

    private static string Stats(List<double> values)
    {
        values.Sort();
        double At(double q) => values[Math.Min(values.Count - 1, (int)(q * values.Count))];
        return string.Create(CultureInfo.InvariantCulture, $"{{\"median\": {At(0.5):F4}, \"p99\": {At(0.99):F4}, \"max\": {values[^1]:F4}}}");
    }
}
