using Microsoft.ML.OnnxRuntime;
using RobotRuntime.Onnx;
using RobotRuntime.Tensors.Modules;
using RobotRuntime.Tensors.Onnx;

namespace RobotRuntime.Tensors.Tests;

/// <summary>
/// The exported inference graphs run under ONNX Runtime 1.30 (the project's binding, CPU) and give
/// the engine's outputs. Tolerance 1e-5 + 1e-4·|y|: different kernels and summation orders
/// (ONNX Runtime's Erf, Softplus and LayerNormalization against the engine's own).
/// </summary>
public class OnnxRuntimeAgreementTests
{
    [Theory]
    [MemberData(nameof(OnnxModelFileTests.ExportedModels), MemberType = typeof(OnnxModelFileTests))]
    public void ExportedModelGivesTheEngineOutputUnderOnnxRuntime(string name, Module model, Tensor input)
    {
        string path = Path.Combine(Path.GetTempPath(), $"rr-export-{name}-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxModelFile.Export(model, input, path);
            var expected = model.Forward(input);
            using var session = OnnxSessions.Open(path);
            using var value = OrtValue.CreateTensorValueFromMemory(input.Span.ToArray(), input.Shape.ToArray().Select(d => (long)d).ToArray());
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, ["input"], [value], session.OutputNames);
            var output = Assert.Single(outputs);
            Assert.Equal(expected.Shape.ToArray().Select(d => (long)d).ToArray(), output.GetTensorTypeAndShape().Shape);
            TestSupport.AssertClose(expected.Span, output.GetTensorDataAsSpan<float>(), 1e-5, 1e-4, $"{name} under ONNX Runtime");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
