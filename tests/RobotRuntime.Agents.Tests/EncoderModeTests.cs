using System.Runtime.InteropServices;
using RobotRuntime.Agents.Encoders;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Replay;
using RobotRuntime.Agents.Training;
using RobotRuntime.Native;
using RobotRuntime.Tensors;
using RobotRuntime.Vision.Encoders;

namespace RobotRuntime.Agents.Tests;

[Collection("engine threads")]
public class EncoderModeTests
{
    private static readonly string Repository = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)!;
    private static readonly PvrZoo Zoo = PvrZoo.Load(Path.Combine(Repository, "models", "test", "agent-zoo.json"));

    public EncoderModeTests() => TensorEngine.ThreadCount = 1;

    private static PvrTail Tail(EncoderMode mode)
    {
        var pvr = Zoo.Get("pool-conv");
        return PvrTail.Create("pool-conv", mode, Zoo.ResolveFile(pvr), pvr.Preprocess.Mean, pvr.Preprocess.Std);
    }

    private static float[] OrtEmbedding(string id, PointReachEnvironment env, int seed)
    {
        var pvr = Zoo.Get(id);
        using var encoder = new OnnxPvrEncoder(pvr, Zoo.ResolveFile(pvr), 1, 64, 64);
        using var features = new EncoderFeatureExtractor(encoder, ["front"], ownsEncoder: false);
        var bytes = new byte[pvr.EmbeddingSize * 4];
        features.Extract(env.Reset(seed), bytes);
        return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }

    [Fact]
    public void PartialTailOnTheOrtTrunkReproducesTheWholePvr()
    {
        // Reference: ONNX Runtime running the whole pool-conv file; ours: ORT trunk (pool-trunk) then the
        // engine's copy of the last stage initialised from pool-conv's initializers. Tolerance 1e-4.
        using var env = new PointReachEnvironment(64);
        var expected = OrtEmbedding("pool-conv", env, 4);
        var trunk = OrtEmbedding("pool-trunk", env, 4);
        var tail = Tail(EncoderMode.Partial);
        Tensor output;
        using (Tape.NoGrad())
        {
            output = tail.Forward(Tensor.FromArray(trunk, 1, 3, 16, 16));
        }
        Assert.Equal(expected.Length, output.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], output.Span[i], 1e-4f);
        }
    }

    [Fact]
    public void FullPvrInTheEngineReproducesOnnxRuntimeFromPixels()
    {
        // Same reference; the engine runs normalisation, pooling and the stage from the image planes the
        // batch sampler makes. Tolerance 1e-4.
        using var env = new PointReachEnvironment(64);
        var expected = OrtEmbedding("pool-conv", env, 6);
        var observation = env.Reset(6);
        var planes = new float[3 * 64 * 64];
        BatchSampler.ImageToPlanes(observation.Cameras[0].Rgb, 64, 0, 0, planes);
        Tensor output;
        using (Tape.NoGrad())
        {
            output = Tail(EncoderMode.Full).Forward(Tensor.FromArray(planes, 1, 3, 64, 64));
        }
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], output.Span[i], 1e-4f);
        }
    }

    [Fact]
    public void PartialModeTrainsTheLastStageWithItsOwnRate()
    {
        var pvr = Zoo.Get("pool-trunk");
        using var trunk = new OnnxPvrEncoder(pvr, Zoo.ResolveFile(pvr), 1, 64, 64);
        using var features = new EncoderFeatureExtractor(trunk, ["front"], ownsEncoder: false);
        using var env = new PointReachEnvironment(64);
        var tail = Tail(EncoderMode.Partial);
        var initial = tail.Parameters().First().Value.Span.ToArray();
        var config = TestConfigs.Tiny(EncoderMode.Partial, "pool-conv", "pool-trunk") with { BatchSize = 8 };
        using var trainer = new Trainer(TestConfigs.TempFolder(), config, TestConfigs.Trainer(80), env, features, "pool-conv", tail);
        trainer.Run();
        Assert.Equal(768, trainer.Layout.FeatureLength);
        Assert.True(trainer.Learner.Updates > 0);
        Assert.False(initial.AsSpan().SequenceEqual(tail.Parameters().First().Value.Span), "the PVR stage did not train");
    }

    [Fact]
    public void FullModeTrainsThePvrFromImages()
    {
        using var env = new PointReachEnvironment(64);
        using var features = new ImageFeatureExtractor(["front"], 64);
        var tail = Tail(EncoderMode.Full);
        var initial = tail.Parameters().First().Value.Span.ToArray();
        var config = TestConfigs.Tiny(EncoderMode.Full, "pool-conv") with { BatchSize = 4, ImageSize = 64 };
        using var trainer = new Trainer(TestConfigs.TempFolder(), config, TestConfigs.Trainer(80), env, features, "pool-conv", tail);
        trainer.Run();
        Assert.Equal(FeatureKind.Images, trainer.Layout.Kind);
        Assert.Null(trainer.Model.Cnn);
        Assert.True(trainer.Learner.Updates > 0);
        Assert.False(initial.AsSpan().SequenceEqual(tail.Parameters().First().Value.Span), "the PVR did not train");
    }
}
