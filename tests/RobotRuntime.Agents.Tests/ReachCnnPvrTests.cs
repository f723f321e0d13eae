using RobotRuntime.Agents.Packaging;
using RobotRuntime.Agents.Replay;
using RobotRuntime.Cameras;
using RobotRuntime.Encoders;
using RobotRuntime.Native;
using RobotRuntime.Tensors;
using RobotRuntime.Vision.Encoders;

namespace RobotRuntime.Agents.Tests;

/// <summary>
/// models/agents/pvr/reach_cnn.onnx (made by make_reach_cnn.py from the shipped scratch agent)
/// must compute, under ONNX Runtime with its zoo preprocessing, what the agent's own CNN computes
/// in the engine when both stacked frames are the same image.
/// </summary>
[Collection("engine threads")]
public class ReachCnnPvrTests
{
    private static readonly string Repository = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)!;

    [Fact]
    public void TheZooEncoderEqualsTheScratchAgentsCnnOnARepeatedFrame()
    {
        TensorEngine.ThreadCount = 1;
        var zoo = PvrZoo.Load(Path.Combine(Repository, "models", "agents", "pvr", "reach-cnn-zoo.json"));
        var pvr = zoo.Get("reach-cnn");
        var package = AgentPackage.Load(Path.Combine(Repository, "models", "agents", "reach-scratch"), null);
        var frame = new CameraFrame(64, 64);
        var random = new Random(4);
        random.NextBytes(frame.Pixels);

        var embedding = new float[pvr.EmbeddingSize];
        using (var encoder = new OnnxPvrEncoder(pvr, zoo.ResolveFile(pvr), 1, 64, 64))
        {
            Assert.Equal(EncodeStatus.Ok, encoder.Encode([frame], embedding));
        }

        var planes = new float[2 * 3 * 64 * 64];
        BatchSampler.ImageToPlanes(frame.Pixels, 64, 0, 0, planes.AsSpan(0, 3 * 64 * 64));
        BatchSampler.ImageToPlanes(frame.Pixels, 64, 0, 0, planes.AsSpan(3 * 64 * 64));
        float[] expected;
        using (Tape.NoGrad())
        {
            expected = package.Model.Cnn!.Forward(Tensor.FromArray(planes, 1, 6, 64, 64)).Span.ToArray();
        }
        Assert.Equal(expected.Length, embedding.Length);
        // Tolerance 1e-4 absolute + 1e-4 relative: summing the first layer's halves changes the
        // float32 rounding, and ONNX Runtime's convolutions sum in another order.
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - embedding[i]) <= 1e-4 + 1e-4 * Math.Abs(expected[i]),
                $"element {i}: engine {expected[i]}, ONNX Runtime {embedding[i]}");
        }
        Assert.Contains(expected, v => v > 0.01f); // not a dead map
    }
}
