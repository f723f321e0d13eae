using RobotRuntime.Agents.Encoders;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Packaging;
using RobotRuntime.Agents.Planning;
using RobotRuntime.Native;
using RobotRuntime.Tensors;
using RobotRuntime.Vision.Encoders;

namespace RobotRuntime.Agents.Tests;

public class PackageTests
{
    private static readonly ObservationLayout Layout = new(FeatureKind.Floats, 16, 1, 0, 3, 12, 4);

    [Fact]
    public void SaveThenLoadGivesIdenticalOutputs()
    {
        var model = new WorldModel(TestConfigs.Tiny(), Layout, 9);
        foreach (var p in model.AllParameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++)
            {
                s[i] += 0.001f * (i % 7);
            }
        }
        string folder = TestConfigs.TempFolder();
        string pvr = Path.Combine(folder, "pvr.onnx");
        File.WriteAllBytes(pvr, [1, 2, 3]);
        AgentPackage.Save(folder, model, "reach", new PvrIdentity("test-pvr", AgentPackage.Sha256(pvr)), 0.03, new Dictionary<string, string> { ["seed"] = "9" });
        var loaded = AgentPackage.Load(folder, pvr);
        Assert.Equal("reach", loaded.Task);
        Assert.True(File.Exists(Path.Combine(folder, "policy_prior.onnx")));
        Assert.True(File.Exists(Path.Combine(folder, "encoder_head.onnx")));
        foreach (var (a, b) in model.InferenceParameters().Zip(loaded.Model.InferenceParameters()))
        {
            Assert.Equal(a.Name, b.Name);
            Assert.True(a.Value.Span.SequenceEqual(b.Value.Span), a.Name);
        }
        var input = Enumerable.Range(0, model.EncoderHead.InputWidth).Select(i => MathF.Cos(i)).ToArray();
        var planA = Plan(model, input);
        var planB = Plan(loaded.Model, input);
        Assert.Equal(planA, planB);
    }

    [Fact]
    public void APartiallyFineTunedPackageRebuildsItsPvrPartAndGivesIdenticalLatents()
    {
        // tiny-resnet split at "/layer2/": the package holds layer2's trained weights; loading rebuilds layer2
        // from the PVR file and overwrites it with them.
        string repository = NativeLibraryLocator.FindRepositoryRoot(AppContext.BaseDirectory)!;
        var zoo = PvrZoo.Load(Path.Combine(repository, "models", "test", "agent-zoo.json"));
        var pvr = zoo.Get("tiny-resnet");
        string file = zoo.ResolveFile(pvr);
        var config = TestConfigs.Tiny(EncoderMode.Partial, "tiny-resnet", "/layer2/") with { ImageSize = 64 };
        var tail = PvrTail.Create(pvr, file, EncoderMode.Partial, 64);
        var layout = new ObservationLayout(FeatureKind.Floats, tail.Trunk!.EmbeddingSize, 1, 0, config.FrameStack, 12, 4);
        var model = new WorldModel(config, layout, 9, tail);
        foreach (var p in tail.Parameters())
        {
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++)
            {
                s[i] += 0.01f * (i % 5);
            }
        }
        string folder = TestConfigs.TempFolder();
        AgentPackage.Save(folder, model, "reach", new PvrIdentity("tiny-resnet", AgentPackage.Sha256(file)), 0.03);
        var missing = Assert.Throws<InvalidDataException>(() => AgentPackage.Load(folder, file));
        Assert.Contains("zoo entry", missing.Message);
        var loaded = AgentPackage.Load(folder, file, pvr);
        Assert.NotNull(loaded.Model.PvrTail);
        Assert.Equal(tail.Trunk.EmbeddingSize, loaded.Model.PvrTail!.Trunk!.EmbeddingSize);
        foreach (var (a, b) in model.InferenceParameters().Zip(loaded.Model.InferenceParameters()))
        {
            Assert.Equal(a.Name, b.Name);
            Assert.True(a.Value.Span.SequenceEqual(b.Value.Span), a.Name);
        }
        var features = Tensor.RandomNormal(new Random(2), 1f, 1, config.FrameStack * layout.FeatureLength);
        var proprioception = Tensor.RandomNormal(new Random(3), 1f, 1, 12);
        using (Tape.NoGrad())
        {
            Assert.Equal(model.Encode(features, proprioception).Span.ToArray(), loaded.Model.Encode(features, proprioception).Span.ToArray());
        }
    }

    private static float[] Plan(WorldModel model, float[] input)
    {
        var latent = new float[model.Config.LatentDim];
        model.EncoderHead.Infer(input, 1, latent, new float[4096], new float[4096]);
        var planner = new MppiPlanner(model, PlannerOptions.FromConfig(model.Config, 0.95f), new AgentRandom(4));
        var action = new float[4];
        planner.Plan(latent, action);
        return [.. latent, .. action];
    }

    [Fact]
    public void LoadingSaysWhenThePvrIsAbsentOrDiffers()
    {
        var model = new WorldModel(TestConfigs.Tiny(), Layout, 9);
        string folder = TestConfigs.TempFolder();
        string pvr = Path.Combine(folder, "pvr.onnx");
        File.WriteAllBytes(pvr, [1, 2, 3]);
        AgentPackage.Save(folder, model, "reach", new PvrIdentity("test-pvr", AgentPackage.Sha256(pvr)), 0.03);
        var absent = Assert.Throws<InvalidDataException>(() => AgentPackage.Load(folder, Path.Combine(folder, "missing.onnx")));
        Assert.Contains("test-pvr", absent.Message);
        Assert.Contains("absent", absent.Message);
        File.WriteAllBytes(pvr, [1, 2, 4]);
        var differs = Assert.Throws<InvalidDataException>(() => AgentPackage.Load(folder, pvr));
        Assert.Contains("different model", differs.Message);
        var notPackage = Assert.Throws<InvalidDataException>(() => AgentPackage.Load(TestConfigs.TempFolder(), pvr));
        Assert.Contains("manifest.json", notPackage.Message);
    }

    [Fact]
    public void APackageWhoseWeightsChangedAfterPackagingIsRefusedNamingTheFile()
    {
        var model = new WorldModel(TestConfigs.Tiny(), Layout, 9);
        string folder = TestConfigs.TempFolder();
        string pvr = Path.Combine(folder, "pvr.onnx");
        File.WriteAllBytes(pvr, [1, 2, 3]);
        AgentPackage.Save(folder, model, "reach", new PvrIdentity("test-pvr", AgentPackage.Sha256(pvr)), 0.03);
        AgentPackage.Load(folder, pvr);

        string weights = Path.Combine(folder, "weights.safetensors");
        var bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 0x40; // one bit of one float
        File.WriteAllBytes(weights, bytes);
        var changed = Assert.Throws<InvalidDataException>(() => AgentPackage.Load(folder, pvr));
        Assert.Contains("weights.safetensors has sha256", changed.Message);
        Assert.Contains("changed or damaged", changed.Message);

        string manifest = Path.Combine(folder, "manifest.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(manifest))!.AsObject();
        json.Remove("checksums");
        File.WriteAllText(manifest, json.ToJsonString());
        var unchecked_ = Assert.Throws<InvalidDataException>(() => AgentPackage.Load(folder, pvr));
        Assert.Contains("has no \"checksums\"", unchecked_.Message);
    }
}
