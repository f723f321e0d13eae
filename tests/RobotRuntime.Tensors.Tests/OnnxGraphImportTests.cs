using Microsoft.ML.OnnxRuntime;
using RobotRuntime.Onnx;
using RobotRuntime.Tensors.Modules;
using RobotRuntime.Tensors.Onnx;

namespace RobotRuntime.Tensors.Tests;

/// <summary>
/// The engine runs ONNX graphs it did not write: models/test/tiny_resnet.onnx is a PyTorch export of a
/// ResNet in miniature (BatchNorms folded into the convolutions, padded max pool, residual adds, a
/// strided 1×1 downsample, zero biases shared through Identity nodes). Reference: ONNX Runtime 1.30
/// (CPU) on the same file; tolerance 1e-5 + 1e-4·|y| (different convolution kernels and summation order).
/// </summary>
public class OnnxGraphImportTests
{
    private static readonly string TinyResNet = Path.Combine(AppContext.BaseDirectory, "models", "tiny_resnet.onnx");

    private static Tensor Pixels(int seed, int batch = 2) => Tensor.RandomNormal(new Random(seed), 1f, batch, 3, 64, 64);

    private static float[] RunOrt(string path, string inputName, Tensor input, out long[] shape)
    {
        using var session = OnnxSessions.Open(path);
        using var value = OrtValue.CreateTensorValueFromMemory(input.Span.ToArray(), input.Shape.ToArray().Select(d => (long)d).ToArray());
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [inputName], [value], [session.OutputNames[0]]);
        shape = outputs[0].GetTensorTypeAndShape().Shape;
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void WholeGraphMatchesOnnxRuntime()
    {
        var graph = OnnxGraph.Load(TinyResNet);
        var module = OnnxGraphModule.Create(graph);
        var x = Pixels(1);
        var expected = RunOrt(TinyResNet, "pixels", x, out var shape);
        Tensor y;
        using (Tape.NoGrad())
        {
            y = module.Forward(x);
        }
        Assert.Equal(shape, y.Shape.ToArray().Select(d => (long)d).ToArray());
        TestSupport.AssertClose(expected, y.Span, 1e-5, 1e-4, "tiny-resnet in the engine");
        Assert.Contains("MaxPool", module.OpTypes);
        Assert.Contains("Add", module.OpTypes);
    }

    [Fact]
    public void StageSplitGivesTheSameOutputAsTheWholeModel()
    {
        // ORT runs the prefix written out of the file; the engine runs layer2 on its output.
        var graph = OnnxGraph.Load(TinyResNet);
        string split = graph.StageInput("/layer2/");
        Assert.Equal("/layer1/layer1.0/relu_1/Relu_output_0", split);
        string trunk = Path.Combine(Path.GetTempPath(), $"rr-trunk-{Guid.NewGuid():N}.onnx");
        try
        {
            graph.WritePrefix(split, "trunk", null, trunk);
            var x = Pixels(2);
            var trunkOut = RunOrt(trunk, "pixels", x, out var trunkShape);
            Assert.Equal(new long[] { 2, 8, 16, 16 }, trunkShape);
            var tail = OnnxGraphModule.Create(graph, split);
            Assert.DoesNotContain("MaxPool", tail.OpTypes);
            Tensor y;
            using (Tape.NoGrad())
            {
                y = tail.Forward(Tensor.FromArray(trunkOut, 2, 8, 16, 16));
            }
            TestSupport.AssertClose(RunOrt(TinyResNet, "pixels", x, out _), y.Span, 1e-5, 1e-4, "ORT trunk + engine layer2");
        }
        finally
        {
            File.Delete(trunk);
        }
    }

    [Fact]
    public void ConstantsSharedThroughIdentityBecomeSeparateWeights()
    {
        // PyTorch's exporter gives layer1's two folded convolutions one zero bias: the first reads the
        // initializer, the second an Identity copy of it.
        var graph = OnnxGraph.Load(TinyResNet);
        var identity = Assert.Single(graph.Nodes, n => n.OpType == "Identity" && graph.FloatInitializers.ContainsKey(n.Inputs[0]));
        var module = OnnxGraphModule.Create(graph);
        var parameters = module.Parameters().ToDictionary(p => p.Name);
        var copies = new[] { parameters[identity.Inputs[0]], parameters[identity.Outputs[0]] };
        Assert.NotSame(copies[0].Value, copies[1].Value);
        Assert.True(copies[0].Value.Span.SequenceEqual(copies[1].Value.Span));

        using var gradients = new Tape();
        using (gradients.Record())
        {
            gradients.Backward(Ops.Mean(Ops.Square(module.Forward(Pixels(3, 1)))));
        }
        // Each copy gets the gradient of its own use; tied weights would get one sum.
        Assert.All(copies, p => Assert.NotNull(p.Grad));
        Assert.False(copies[0].Grad!.Span.SequenceEqual(copies[1].Grad!.Span));
    }

    [Fact]
    public void ATrainingStepOnTheImportedGraphLowersTheLoss()
    {
        var module = OnnxGraphModule.Create(OnnxGraph.Load(TinyResNet));
        var x = Pixels(4, 4);
        var target = Tensor.RandomNormal(new Random(5), 0.1f, 4, 1024);
        var optimizer = new Optim.Adam([new ParameterGroup(module.Parameters(), 1e-3f)]);
        using var tape = new Tape();
        float Loss(bool step)
        {
            optimizer.ZeroGrad();
            float value;
            using (tape.Record())
            {
                var loss = Ops.MseLoss(module.Forward(x), target);
                value = loss.Item();
                if (step)
                {
                    tape.Backward(loss);
                }
            }
            if (step)
            {
                optimizer.Step();
            }
            tape.Reset();
            return value;
        }
        float before = Loss(step: true);
        for (int i = 0; i < 9; i++)
        {
            Loss(step: true);
        }
        Assert.True(Loss(step: false) < 0.9f * before, $"loss {before} did not fall by 10% in 10 Adam steps");
    }

    [Fact]
    public void ASplitThatTwoValuesCrossIsRefusedNamingThem()
    {
        // From layer1's second convolution on, the nodes also read the block's input (the residual).
        var graph = OnnxGraph.Load(TinyResNet);
        var e = Assert.Throws<ArgumentException>(() => graph.StageInput("/layer1/layer1.0/conv2/"));
        Assert.Contains("2 values computed before them", e.Message);
        Assert.Contains("/maxpool/MaxPool_output_0", e.Message);
    }

    [Fact]
    public void AnUnknownPrefixIsRefusedWithExampleNodeNames()
    {
        var e = Assert.Throws<ArgumentException>(() => OnnxGraph.Load(TinyResNet).StageInput("/layer9/"));
        Assert.Contains("no node whose name starts with '/layer9/'", e.Message);
        Assert.Contains("/conv1/Conv", e.Message);
    }

    [Fact]
    public void AnUnsupportedOperatorIsRefusedNamingTheNode()
    {
        // The engine's own exporter writes Elu, which the import does not run.
        string path = Path.Combine(Path.GetTempPath(), $"rr-elu-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxModelFile.Export(new Sequential(new Linear("fc", 4, 6, new Random(1)), new Activation(ActivationKind.Elu)), Tensor.Zeros(1, 4), path);
            var e = Assert.Throws<NotSupportedException>(() => OnnxGraphModule.Create(OnnxGraph.Load(path)));
            Assert.Contains("Elu", e.Message);
            Assert.Contains("supported:", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TheImportCheckAndTheForwardReadOneOperatorTable()
    {
        // What Create accepts, what it lists when it refuses, and what Forward runs are the entries of one table.
        var table = OnnxGraphModule.Operators;
        Assert.Equal(table.Keys.Order(), OnnxGraphModule.SupportedOperators);
        Assert.All(table, entry => Assert.NotNull(entry.Value.Forward));
        string path = Path.Combine(Path.GetTempPath(), $"rr-elu-list-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxModelFile.Export(new Sequential(new Linear("fc", 4, 6, new Random(1)), new Activation(ActivationKind.Elu)), Tensor.Zeros(1, 4), path);
            var e = Assert.Throws<NotSupportedException>(() => OnnxGraphModule.Create(OnnxGraph.Load(path)));
            Assert.Contains("(Elu)", e.Message);
            const string marker = "supported: ";
            Assert.Equal(OnnxGraphModule.SupportedOperators, e.Message[(e.Message.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..].Split(", "));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TheEnginesOwnExportOfLayerNormAndGeluImportsBackToTheSameFunction()
    {
        // Export writes LayerNormalization, Gemm and GELU as Div/Erf/Add/Mul; the import runs them. Tolerance 1e-5 + 1e-4·|y|.
        string path = Path.Combine(Path.GetTempPath(), $"rr-ln-{Guid.NewGuid():N}.onnx");
        try
        {
            var random = new Random(3);
            var model = new Sequential(new Linear("fc", 5, 7, random), new LayerNorm("ln", 7), new Activation(ActivationKind.Gelu), new Linear("out", 7, 3, random));
            var x = Tensor.RandomNormal(new Random(4), 1f, 4, 5);
            OnnxModelFile.Export(model, x, path);
            var imported = OnnxGraphModule.Create(OnnxGraph.Load(path));
            Assert.Contains("Erf", imported.OpTypes);
            using (Tape.NoGrad())
            {
                TestSupport.AssertClose(model.Forward(x).Span, imported.Forward(x).Span, 1e-5, 1e-4, "engine → ONNX → engine");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TheWholeViTRunsInTheEngine()
    {
        // Patch embedding (Conv 8×8/8), class token expanded over the batch (ConstantOfShape/Equal/Where/Expand),
        // token concat on axis 1, position embedding, both layers. Reference: ORT; tolerance 1e-5 + 1e-4·|y|.
        string path = Path.Combine(AppContext.BaseDirectory, "models", "tiny_vit.onnx");
        var module = OnnxGraphModule.Create(OnnxGraph.Load(path));
        Assert.Contains("Expand", module.OpTypes);
        var x = Tensor.RandomNormal(new Random(9), 1f, 2, 3, 32, 32);
        Tensor y;
        using (Tape.NoGrad())
        {
            y = module.Forward(x);
        }
        Assert.Equal([2, 17, 16], y.Shape.ToArray());
        TestSupport.AssertClose(RunOrt(path, "pixels", x, out _), y.Span, 1e-5, 1e-4, "tiny-vit in the engine");
    }

    [Fact]
    public void TheLastViTLayerOnTheOrtTrunkReproducesTheWholeModel()
    {
        // tiny_vit.onnx: torchvision's VisionTransformer exported by PyTorch (attention as Transpose/MatMul/Softmax with
        // int64 shape arithmetic, GELU as Erf). ORT runs the patch embedding and layer 0; the engine runs layer 1 and the
        // final LayerNorm. Reference: ORT on the whole file; tolerance 1e-5 + 1e-4·|y|.
        string path = Path.Combine(AppContext.BaseDirectory, "models", "tiny_vit.onnx");
        var graph = OnnxGraph.Load(path);
        string split = graph.StageInput("/encoder/layers/encoder_layer_1/");
        string trunk = Path.Combine(Path.GetTempPath(), $"rr-vit-trunk-{Guid.NewGuid():N}.onnx");
        try
        {
            graph.WritePrefix(split, "trunk", null, trunk);
            var x = Tensor.RandomNormal(new Random(8), 1f, 3, 3, 32, 32);
            var tokens = RunOrt(trunk, "pixels", x, out var trunkShape);
            Assert.Equal(new long[] { 3, 17, 16 }, trunkShape);
            var tail = OnnxGraphModule.Create(graph, split);
            Assert.Contains("LayerNormalization", tail.OpTypes);
            Assert.Contains("Transpose", tail.OpTypes);
            Tensor y;
            using (Tape.NoGrad())
            {
                y = tail.Forward(Tensor.FromArray(tokens, 3, 17, 16));
            }
            TestSupport.AssertClose(RunOrt(path, "pixels", x, out _), y.Span, 1e-5, 1e-4, "ORT layer 0 + engine layer 1");
            // Every weight of the layer is trainable: two LayerNorms (2 each), attention in/out (2 + 2), MLP (2 + 2), final LayerNorm (2).
            Assert.Equal(14, tail.Parameters().Count());
        }
        finally
        {
            File.Delete(trunk);
        }
    }

    [Fact]
    public void AnExportedViTRunsInTheEngineWholeAndFromItsLastBlockOnTheOrtTrunk()
    {
        // The exporter's own ViT (OnnxModelFileTests.TinyVisionTransformer): attention as MatMul on rank-4 heads,
        // the token mean as ReduceMean. The whole graph in the engine, then ORT up to the last block (the value the
        // block's first LayerNormalization reads: the third from the end) and the engine from there, as partial
        // fine-tuning splits it. Reference: ORT on the whole file; tolerance 1e-5 + 1e-4·|y|.
        var vit = OnnxModelFileTests.TinyVisionTransformer(new Random(21));
        string path = Path.Combine(Path.GetTempPath(), $"rr-own-vit-{Guid.NewGuid():N}.onnx");
        string trunk = Path.Combine(Path.GetTempPath(), $"rr-own-vit-trunk-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxModelFile.Export(vit, Tensor.Zeros(1, 3, 16, 16), path);
            var graph = OnnxGraph.Load(path);
            var x = Tensor.RandomNormal(new Random(5), 0.3f, 3, 3, 16, 16);
            var expected = RunOrt(path, "input", x, out var shape);
            Assert.Equal(new long[] { 3, 16 }, shape);

            var whole = OnnxGraphModule.Create(graph);
            Assert.Contains("ReduceMean", whole.OpTypes);
            Tensor y;
            using (Tape.NoGrad())
            {
                y = whole.Forward(x);
            }
            TestSupport.AssertClose(expected, y.Span, 1e-5, 1e-4, "exported ViT in the engine");

            string split = graph.Nodes.Where(n => n.OpType == "LayerNormalization").SkipLast(2).Last().Inputs[0];
            graph.WritePrefix(split, "trunk", null, trunk);
            var tokens = RunOrt(trunk, "input", x, out var trunkShape);
            Assert.Equal(new long[] { 3, 16, 16 }, trunkShape);
            var tail = OnnxGraphModule.Create(graph, split);
            using (Tape.NoGrad())
            {
                y = tail.Forward(Tensor.FromArray(tokens, 3, 16, 16));
            }
            TestSupport.AssertClose(expected, y.Span, 1e-5, 1e-4, "ORT block 0 + engine block 1");
            // The last block's weights and the final LayerNorm's are trainable: 2 LayerNorms (2 each), attention in/out (2 + 2),
            // MLP (2 + 2), final LayerNorm (2); plus the scalar constants of the exported GELU (1 and 0.5), which the graph
            // module makes weights as it does any float initializer outside a Div.
            var names = tail.Parameters().Select(p => p.Name).ToList();
            Assert.Equal(16, names.Count);
            Assert.Contains("vit.block1.attention.in_proj_weight", names);
            Assert.DoesNotContain(names, n => n.StartsWith("vit.block0", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(path);
            File.Delete(trunk);
        }
    }

    [Fact]
    public void AStartAfterTheValuesTheOutputNeedsIsRefused()
    {
        // Starting at layer2's first convolution leaves the downsample branch's input uncomputed.
        var graph = OnnxGraph.Load(TinyResNet);
        var e = Assert.Throws<ArgumentException>(() => OnnxGraphModule.Create(graph, "/layer2/layer2.0/conv1/Conv_output_0"));
        Assert.Contains("computed before", e.Message);
    }
}
