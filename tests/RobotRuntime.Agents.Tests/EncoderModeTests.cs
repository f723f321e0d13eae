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

    private static readonly string Cache = Path.Combine(Path.GetTempPath(), $"rr-trunks-{Guid.NewGuid():N}");

    private static PvrTail Tail(EncoderMode mode, string id = "pool-conv")
    {
        var pvr = Zoo.Get(id);
        return PvrTail.Create(pvr, Zoo.ResolveFile(pvr), mode, 64, cacheFolder: Cache);
    }

    private static float[] OrtEmbedding(PvrModel pvr, string file, PointReachEnvironment env, int seed, int size = 64)
    {
        using var encoder = new OnnxPvrEncoder(pvr, file, 1, size, size);
        using var features = new EncoderFeatureExtractor(encoder, ["front"], ownsEncoder: false);
        var bytes = new byte[pvr.EmbeddingSize * 4];
        features.Extract(env.Reset(seed), bytes);
        return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }

    // Element by element within 1e-4 (ONNX Runtime against the engine: different kernels and summation order).
    private static void AssertMatches(float[] expected, Tensor output)
    {
        Assert.Equal(expected.Length, output.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], output.Span[i], 1e-4f);
        }
    }

    private static float[] OrtEmbedding(string id, PointReachEnvironment env, int seed) => OrtEmbedding(Zoo.Get(id), Zoo.ResolveFile(Zoo.Get(id)), env, seed);

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
        AssertMatches(expected, output);
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
        AssertMatches(expected, output);
    }

    [Fact]
    public void PartialModeTrainsTheLastStageWithItsOwnRate()
    {
        var tail = Tail(EncoderMode.Partial);
        using var trunk = new OnnxPvrEncoder(tail.Trunk!, tail.TrunkFile!, 1, 64, 64);
        using var features = new EncoderFeatureExtractor(trunk, ["front"], ownsEncoder: false);
        using var env = new PointReachEnvironment(64);
        var initial = tail.Parameters().First().Value.Span.ToArray();
        var config = TestConfigs.Tiny(EncoderMode.Partial, "pool-conv", "pooled") with { BatchSize = 8 };
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

    [Theory]
    [InlineData(EncoderMode.Partial)]
    [InlineData(EncoderMode.Full)]
    public void TheLoopsEncoderAndTheAgentPolicyReproduceTheTrainingForward(EncoderMode mode)
    {
        // Deployed, the PVR's trained part runs as the loop's encoder (after the ONNX trunk in partial
        // mode) and the policy stacks its per-frame embeddings; in training, WorldModel.Encode runs the
        // tail over the stacked frames. Reference: the training forward; tolerance 1e-4 (the head's span
        // forward and the tape's sum in different orders; ONNX trunk identical on both sides).
        using var env = new PointReachEnvironment(64);
        var tail = Tail(mode);
        var partial = mode == EncoderMode.Partial;
        var config = TestConfigs.Tiny(mode, "pool-conv", partial ? "pooled" : "") with { FrameStack = 2, ImageSize = 64 };
        var layout = partial
            ? new ObservationLayout(FeatureKind.Floats, 768, 1, 0, 2, 12, 4)
            : new ObservationLayout(FeatureKind.Images, 64 * 64 * 3, 1, 64, 2, 12, 4);
        var model = new WorldModel(config, layout, 3, tail);
        var trunk = partial ? new OnnxPvrEncoder(tail.Trunk!, tail.TrunkFile!, 1, 64, 64) : null;
        using var encoder = AgentVisionEncoders.Create(model, trunk);
        using var policy = new Packaging.AgentPolicy(model, Planning.PlannerOptions.FromConfig(config, 0.95f) with { Kind = Planning.Planners.Prior }, 0.03);
        Assert.Equal(encoder.EmbeddingSize, policy.EmbeddingSize);

        var frames = new[] { new Cameras.CameraFrame(64, 64) };
        var observation = new Policies.PolicyObservation(encoder.EmbeddingSize, frames) { HasArmState = true };
        observation.ArmState.JointCount = 4;
        var command = default(Arm.ArmCommand);
        var inputs = new List<float[]>();
        foreach (var seed in new[] { 4, 5 })
        {
            var image = env.Reset(seed).Camera("front");
            image.Rgb.AsSpan(0, 64 * 64 * 3).CopyTo(frames[0].Pixels);
            Assert.Equal(RobotRuntime.Encoders.EncodeStatus.Ok, encoder.Encode(frames, observation.Embedding));
            Assert.Equal(RobotRuntime.Policies.PolicyStatus.Ok, policy.Act(observation, ref command));
            if (partial)
            {
                var trunkOut = new float[768];
                using var reference = new OnnxPvrEncoder(tail.Trunk!, tail.TrunkFile!, 1, 64, 64);
                reference.Encode(frames, trunkOut);
                inputs.Add(trunkOut);
            }
            else
            {
                var planes = new float[3 * 64 * 64];
                BatchSampler.ImageToPlanes(frames[0].Pixels.AsSpan(0, 64 * 64 * 3), 64, 0, 0, planes);
                inputs.Add(planes);
            }
        }
        var proprio = new float[12];
        RobotRuntime.Arm.ArmLayout.Toy4.FillProprioception(in observation.ArmState, proprio);
        float[] expected;
        using (Tape.NoGrad())
        {
            var stacked = inputs.SelectMany(x => x).ToArray();
            var x = partial ? Tensor.FromArray(stacked, 1, 2 * 768) : Tensor.FromArray(stacked, 1, 6, 64, 64);
            expected = model.Encode(x, Tensor.FromArray(proprio, 1, 12)).Span.ToArray();
        }
        var latent = policy.LastLatent.ToArray();
        for (int i = 0; i < latent.Length; i++)
        {
            Assert.Equal(expected[i], latent[i], 1e-4f);
        }
    }

    [Fact]
    public void TheTrunkWrittenOutOfThePvrFileGivesTheHandWrittenTrunksOutput()
    {
        // pool-trunk was written by make_agent_encoders.py; the derived trunk is pool-conv's file cut at "pooled".
        using var env = new PointReachEnvironment(64);
        var tail = Tail(EncoderMode.Partial);
        Assert.Equal([3, 16, 16], tail.InputShape);
        Assert.Equal(768, tail.Trunk!.EmbeddingSize);
        var derived = OrtEmbedding(tail.Trunk, tail.TrunkFile!, env, 9);
        Assert.Equal(OrtEmbedding("pool-trunk", env, 9), derived);
    }

    [Fact]
    public void PartialResNetLayer2OnTheOrtTrunkReproducesTheWholePvr()
    {
        // tiny-resnet (a PyTorch export: folded BatchNorms, padded max pool, residual adds) split at "/layer2/":
        // ORT runs stem + layer1, the engine runs layer2. Reference: ORT on the whole file; tolerance 1e-4.
        using var env = new PointReachEnvironment(64);
        var tail = Tail(EncoderMode.Partial, "tiny-resnet");
        Assert.Equal([8, 16, 16], tail.InputShape);
        var trunk = OrtEmbedding(tail.Trunk!, tail.TrunkFile!, env, 5);
        Tensor output;
        using (Tape.NoGrad())
        {
            output = tail.Forward(Tensor.FromArray(trunk, 1, 8, 16, 16));
        }
        var expected = OrtEmbedding("tiny-resnet", env, 5);
        AssertMatches(expected, output);
        Assert.Equal(6, tail.Parameters().Count());
    }

    [Fact]
    public void FullResNetInTheEngineReproducesOnnxRuntimeFromPixels()
    {
        // Per-channel ImageNet normalisation, then the whole graph, from the batch sampler's planes. Tolerance 1e-4.
        using var env = new PointReachEnvironment(64);
        var observation = env.Reset(7);
        var planes = new float[3 * 64 * 64];
        BatchSampler.ImageToPlanes(observation.Cameras[0].Rgb, 64, 0, 0, planes);
        Tensor output;
        using (Tape.NoGrad())
        {
            output = Tail(EncoderMode.Full, "tiny-resnet").Forward(Tensor.FromArray(planes, 1, 3, 64, 64));
        }
        var expected = OrtEmbedding("tiny-resnet", env, 7);
        AssertMatches(expected, output);
    }

    [Fact]
    public void PartialResNetTrainsLayer2()
    {
        var tail = Tail(EncoderMode.Partial, "tiny-resnet");
        using var trunk = new OnnxPvrEncoder(tail.Trunk!, tail.TrunkFile!, 1, 64, 64);
        using var features = new EncoderFeatureExtractor(trunk, ["front"], ownsEncoder: false);
        using var env = new PointReachEnvironment(64);
        var initial = tail.Parameters().Select(p => p.Value.Span.ToArray()).ToList();
        var config = TestConfigs.Tiny(EncoderMode.Partial, "tiny-resnet", "/layer2/") with { BatchSize = 4 };
        using var trainer = new Trainer(TestConfigs.TempFolder(), config, TestConfigs.Trainer(70), env, features, "tiny-resnet", tail);
        trainer.Run();
        Assert.Equal(8 * 16 * 16, trainer.Layout.FeatureLength);
        Assert.True(trainer.Learner.Updates > 0);
        Assert.All(tail.Parameters().Zip(initial), pair => Assert.False(pair.Second.AsSpan().SequenceEqual(pair.First.Value.Span), $"{pair.First.Name} did not train"));
    }

    [Fact]
    public void PartialViTLastLayerOnTheOrtTrunkReproducesTheClsEmbedding()
    {
        // tiny-vit split at its last encoder layer; the zoo's "cls" selector picks token 0 of the engine's output.
        // Reference: ORT on the whole file through the same zoo entry; tolerance 1e-4.
        using var env = new PointReachEnvironment(32);
        var pvr = Zoo.Get("tiny-vit");
        var tail = PvrTail.Create(pvr, Zoo.ResolveFile(pvr), EncoderMode.Partial, 32, cacheFolder: Cache);
        Assert.Equal([17, 16], tail.InputShape);
        var trunk = OrtEmbedding(tail.Trunk!, tail.TrunkFile!, env, 3, 32);
        Tensor output;
        using (Tape.NoGrad())
        {
            output = tail.Forward(Tensor.FromArray(trunk, 1, 17, 16));
        }
        var e = OrtEmbedding(pvr, Zoo.ResolveFile(pvr), env, 3, 32);
        Assert.Equal(16, output.Length);
        AssertMatches(e, output);
    }

    [Fact]
    public void FullViTInTheEngineReproducesTheClsEmbeddingFromPixels()
    {
        // The whole tiny-vit from the batch sampler's planes at its 32 px input. Reference: ORT; tolerance 1e-4.
        using var env = new PointReachEnvironment(32);
        var pvr = Zoo.Get("tiny-vit");
        var tail = PvrTail.Create(pvr, Zoo.ResolveFile(pvr), EncoderMode.Full, 32, cacheFolder: Cache);
        var planes = new float[3 * 32 * 32];
        BatchSampler.ImageToPlanes(env.Reset(4).Cameras[0].Rgb, 32, 0, 0, planes);
        Tensor output;
        using (Tape.NoGrad())
        {
            output = tail.Forward(Tensor.FromArray(planes, 1, 3, 32, 32));
        }
        var e = OrtEmbedding(pvr, Zoo.ResolveFile(pvr), env, 4, 32);
        Assert.Equal(16, output.Length);
        AssertMatches(e, output);
    }

    [Fact]
    public void PartialModeNamesWhatIsMissing()
    {
        var pvr = Zoo.Get("pool-trunk");
        var e = Assert.Throws<ArgumentException>(() => PvrTail.Create(pvr, Zoo.ResolveFile(pvr), EncoderMode.Partial, 64, cacheFolder: Cache));
        Assert.Contains("trainableFrom", e.Message);
        var resnet = Zoo.Get("tiny-resnet");
        var full = Assert.Throws<ArgumentException>(() => PvrTail.Create(resnet, Zoo.ResolveFile(resnet), EncoderMode.Full, 48, cacheFolder: Cache));
        Assert.Contains("set the agent's imageSize to 64", full.Message);
    }
}
