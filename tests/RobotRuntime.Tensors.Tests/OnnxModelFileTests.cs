using System.Text.Json;
using RobotRuntime.Tensors.Modules;
using RobotRuntime.Tensors.Onnx;

namespace RobotRuntime.Tensors.Tests;

public class OnnxModelFileTests
{
    private static string Reference(string file) => Path.Combine(AppContext.BaseDirectory, "reference", file);

    private static Sequential TorchMlp()
    {
        var random = new Random(0);
        return new Sequential(
            new Linear("l0", 10, 32, random), new LayerNorm("n0", 32), new Activation(ActivationKind.Mish),
            new Linear("l1", 32, 32, random), new LayerNorm("n1", 32), new Activation(ActivationKind.Mish),
            new Linear("l2", 32, 5, random));
    }

    /// <summary>
    /// reference/mlp_torch_export.onnx came from torch.onnx.export (PyTorch 1.13.1, opset 17). Its
    /// initializers load into the engine's MLP by name, and the MLP then reproduces PyTorch's
    /// output within 1e-5 + 1e-4·|y|. PyTorch stored n1's weight and bias (equal to n0's) as
    /// Identity nodes instead of initializers, so those two keep their default values (the same).
    /// </summary>
    [Fact]
    public void InitializersOfATorchExportLoadByNameAndReproduceItsOutput()
    {
        var model = TorchMlp();
        int loaded = OnnxModelFile.LoadInitializersInto(Reference("mlp_torch_export.onnx"), model.Parameters(), strict: false);
        Assert.Equal(8, loaded);
        using var doc = TestSupport.LoadReference("mlp_torch_export.json");
        var parameters = doc.RootElement.GetProperty("parameters");
        foreach (var p in model.Parameters())
        {
            Assert.Equal(TestSupport.ToTensor(parameters.GetProperty(p.Name)).Span.ToArray(), p.Value.Span.ToArray());
        }
        var y = model.Forward(TestSupport.ToTensor(doc.RootElement.GetProperty("input")));
        TestSupport.AssertClose(TestSupport.ToTensor(doc.RootElement.GetProperty("output")).Span, y.Span, 1e-5, 1e-4, "output");
    }

    [Fact]
    public void StrictImportNamesTheMissingInitializer()
    {
        var error = Assert.Throws<InvalidDataException>(() => OnnxModelFile.LoadInitializersInto(Reference("mlp_torch_export.onnx"), TorchMlp().Parameters()));
        Assert.Contains("n1.weight", error.Message);
    }

    [Fact]
    public void ImportRejectsAFileThatIsNotOnnx()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rr-not-onnx-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, [0xff, 0xff, 0xff, 0xff, 0x0f]);
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => OnnxModelFile.ReadInitializers(path));
            Assert.Contains(path, error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static IEnumerable<object[]> ExportedModels()
    {
        var random = new Random(11);
        var mlp = new Sequential(
            new Linear("enc.0", 12, 32, random), new LayerNorm("enc.1", 32), new Activation(ActivationKind.Mish),
            new Linear("enc.2", 32, 32, random), new Activation(ActivationKind.Gelu),
            new Linear("enc.3", 32, 24, random), new Activation(ActivationKind.Elu),
            new Linear("enc.4", 24, 16, random), new Activation(ActivationKind.Tanh), new SimNorm(8));
        var bn = new BatchNorm("cnn.1", 4) { Training = false };
        Tensor.RandomUniform(random, -0.2f, 0.2f, 4).Span.CopyTo(bn.RunningMean.Span);
        Tensor.RandomUniform(random, 0.5f, 1.5f, 4).Span.CopyTo(bn.RunningVariance.Span);
        var cnn = new Sequential(
            new Conv2d("cnn.0", 3, 4, 3, random, stride: 2, padding: 1), bn, new Activation(ActivationKind.Relu),
            new Pool2d(true, 2, 2), new Conv2d("cnn.2", 4, 6, 2, random), new Activation(ActivationKind.Sigmoid),
            new Pool2d(false, 1, 1), new Flatten(), new Linear("cnn.3", 24, 5, random));
        yield return ["mlp", mlp, TestSupport.Random(random, 3, 12)];
        yield return ["cnn", cnn, TestSupport.Random(random, 2, 3, 12, 12)];
        yield return ["vit", TinyVisionTransformer(random), TestSupport.Random(random, 2, 3, 16, 16)];
    }

    /// <summary>
    /// A vision transformer in miniature, as rr pretrain builds "vit-tiny": 4×4 patches of a 16-px image
    /// (16 tokens, width 16), two pre-norm blocks of 2 heads, a final LayerNorm and the token mean.
    /// </summary>
    public static Sequential TinyVisionTransformer(Random random) => new(
        new PatchEmbedding("vit.patches", 3, 16, 4, 16, random),
        TransformerBlocks.PreNorm("vit.block0", 16, 2, 2, random),
        TransformerBlocks.PreNorm("vit.block1", 16, 2, 2, random),
        new LayerNorm("vit.norm", 16, 1e-6f),
        new TokenMean());

    /// <summary>
    /// Exports, then reads the file back with the importer. The exported file, the input and the
    /// engine's output are left in the test output folder under onnx-export/ so that
    /// tests/RobotRuntime.Tensors.Tests/reference/verify_onnx_export.py (development step, Debian
    /// python3-onnx 1.12) can run onnx.checker and evaluate the graph independently.
    /// </summary>
    [Theory]
    [MemberData(nameof(ExportedModels))]
    public void ExportedGraphHoldsEveryParameterAsANamedInitializer(string name, Module model, Tensor input)
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "onnx-export");
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, name + ".onnx");
        OnnxModelFile.Export(model, input, path);
        var initializers = OnnxModelFile.ReadInitializers(path);
        foreach (var p in model.Parameters())
        {
            Assert.Equal(p.Value.Shape.ToArray(), initializers[p.Name].Shape.ToArray());
            Assert.Equal(p.Value.Span.ToArray(), initializers[p.Name].Span.ToArray());
        }
        var output = model.Forward(input);
        File.WriteAllText(Path.Combine(folder, name + ".json"), JsonSerializer.Serialize(new
        {
            input = new { shape = input.Shape.ToArray(), data = input.Span.ToArray() },
            output = new { shape = output.Shape.ToArray(), data = output.Span.ToArray() },
        }));
    }

    [Fact]
    public void ExportOfABatchNormInTrainingModeIsRefused()
    {
        var model = new Sequential(new BatchNorm("bn", 2));
        var error = Assert.Throws<NotSupportedException>(() =>
            OnnxModelFile.Export(model, Tensor.Zeros(2, 2, 3, 3), Path.Combine(Path.GetTempPath(), $"rr-{Guid.NewGuid():N}.onnx")));
        Assert.Contains("training mode", error.Message);
    }
}
