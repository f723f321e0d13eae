using System.Text.Json;
using RobotRuntime.Tensors;

namespace RobotRuntime.Tensors.Tests;

internal static class TestSupport
{
    public static Tensor Random(Random random, params int[] shape) => Tensor.RandomNormal(random, 1f, shape);

    /// <summary>Asserts |actual − expected| ≤ absolute + relative·|expected| element by element.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double absolute, double relative, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            double allowed = absolute + relative * Math.Abs(e);
            if (!(Math.Abs(a - e) <= allowed))
            {
                Assert.Fail($"{what}: element {i} is {a}, expected {e} (allowed difference {allowed:g3}).");
            }
        }
    }

    public static JsonDocument LoadReference(string file) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "reference", file)));

    public static Tensor ToTensor(JsonElement element)
    {
        var shape = element.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var data = element.GetProperty("data").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        return Tensor.FromArray(data, shape);
    }
}
