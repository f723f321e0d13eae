using System.Text.Json;
using RobotRuntime.Tensors.Modules;
using RobotRuntime.Tensors.Optim;

namespace RobotRuntime.Tensors.Tests;

/// <summary>
/// Forward values, gradients and a full training run against PyTorch 1.13.1 (Debian python3-torch),
/// computed by reference/make_reference.py and committed as reference/*.json.
/// </summary>
public class PyTorchReferenceTests
{
    // Tolerance for single ops: |ours − torch| ≤ 1e-5 + 1e-4·|torch| (float32 rounding in a
    // different summation order; GELU's erf approximation is within 1.5e-7).
    private const double OpAbsolute = 1e-5, OpRelative = 1e-4;

    private static Tensor Stat(JsonElement c, string name) => TestSupport.ToTensor(c.GetProperty(name));

    private static readonly Dictionary<string, Func<Tensor[], JsonElement, Tensor>> CaseFunctions = new()
    {
        ["conv2d"] = (x, _) => Ops.Conv2d(x[0], x[1], x[2], stride: 2, padding: 1),
        ["conv2d_k2_s1_p0"] = (x, _) => Ops.Conv2d(x[0], x[1], x[2]),
        ["max_pool2d"] = (x, _) => Ops.MaxPool2d(x[0], 2, 2),
        ["avg_pool2d"] = (x, _) => Ops.AvgPool2d(x[0], 3, 2),
        ["batch_norm_train"] = (x, c) => Ops.BatchNorm(x[0], Stat(c, "running_mean_before"), Stat(c, "running_var_before"), x[1], x[2], training: true),
        ["batch_norm_eval"] = (x, c) => Ops.BatchNorm(x[0], Stat(c, "running_mean_before"), Stat(c, "running_var_before"), x[1], x[2], training: false),
        ["swap_axes12"] = (x, _) => Ops.SwapAxes12(x[0]),
        ["multi_head_self_attention"] = (x, _) => Ops.MultiHeadSelfAttention(x[0], 2, x[1], x[2], x[3], x[4]),
    };

    private static readonly Dictionary<string, Func<Tensor[], Tensor>> OpFunctions = new()
    {
        ["linear"] = x => Ops.Linear(x[0], x[1], x[2]),
        ["matmul"] = x => Ops.MatMul(x[0], x[1]),
        ["matmul_ta"] = x => Ops.MatMul(x[0], x[1], transposeA: true),
        ["matmul_tb"] = x => Ops.MatMul(x[0], x[1], transposeB: true),
        ["matmul_ta_tb"] = x => Ops.MatMul(x[0], x[1], true, true),
        ["bmm"] = x => Ops.BatchedMatMul(x[0], x[1]),
        ["relu"] = x => Ops.Relu(x[0]),
        ["elu"] = x => Ops.Elu(x[0]),
        ["gelu"] = x => Ops.Gelu(x[0]),
        ["mish"] = x => Ops.Mish(x[0]),
        ["tanh"] = x => Ops.Tanh(x[0]),
        ["sigmoid"] = x => Ops.Sigmoid(x[0]),
        ["softmax"] = x => Ops.Softmax(x[0]),
        ["log_softmax"] = x => Ops.LogSoftmax(x[0]),
        ["simnorm"] = x => Ops.SimNorm(x[0], 8),
        ["layer_norm"] = x => Ops.LayerNorm(x[0], x[1], x[2], 1e-5f),
        ["mse"] = x => Ops.MseLoss(x[0], x[1]),
        ["soft_cross_entropy"] = x => Ops.SoftCrossEntropy(x[0], x[1]),
        ["concat"] = x => Ops.Concat(x[0], x[1]),
        ["add_broadcast"] = x => Ops.Add(x[0], x[1]),
        ["multiply_broadcast"] = x => Ops.Multiply(x[0], x[1]),
    };

    public static TheoryData<string> OpNames => new(OpFunctions.Keys.Concat(CaseFunctions.Keys));

    [Fact]
    public void ReferenceFileCoversEveryOpCaseHere()
    {
        using var doc = TestSupport.LoadReference("ops.json");
        var names = doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("name").GetString()!).ToHashSet();
        Assert.Equal(OpFunctions.Keys.Concat(CaseFunctions.Keys).ToHashSet(), names);
    }

    [Theory]
    [MemberData(nameof(OpNames))]
    public void OpForwardAndBackwardMatchPyTorch(string name)
    {
        using var doc = TestSupport.LoadReference("ops.json");
        var c = doc.RootElement.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        var inputs = c.GetProperty("inputs").EnumerateArray().Select(TestSupport.ToTensor).ToArray();
        foreach (var x in inputs)
        {
            x.RequiresGrad = true;
        }
        var expectedOutput = TestSupport.ToTensor(c.GetProperty("output"));
        var weights = TestSupport.ToTensor(c.GetProperty("weights"));
        var expectedGrads = c.GetProperty("grads").EnumerateArray().Select(TestSupport.ToTensor).ToArray();
        using var tape = new Tape();
        using (tape.Record())
        {
            var y = OpFunctions.TryGetValue(name, out var f) ? f(inputs) : CaseFunctions[name](inputs, c);
            Assert.Equal(expectedOutput.Shape.ToArray(), y.Shape.ToArray());
            TestSupport.AssertClose(expectedOutput.Span, y.Span, OpAbsolute, OpRelative, $"{name} output");
            tape.Backward(Ops.Sum(Ops.Multiply(y, weights)));
        }
        for (int i = 0; i < inputs.Length; i++)
        {
            TestSupport.AssertClose(expectedGrads[i].Span, inputs[i].Grad!.Span, OpAbsolute, OpRelative, $"{name} gradient of input {i}");
        }
    }

    [Fact]
    public void BatchNormTrainingUpdatesRunningStatisticsAsPyTorch()
    {
        using var doc = TestSupport.LoadReference("ops.json");
        var c = doc.RootElement.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "batch_norm_train");
        var inputs = c.GetProperty("inputs").EnumerateArray().Select(TestSupport.ToTensor).ToArray();
        var mean = Stat(c, "running_mean_before");
        var variance = Stat(c, "running_var_before");
        Ops.BatchNorm(inputs[0], mean, variance, inputs[1], inputs[2], training: true);
        TestSupport.AssertClose(Stat(c, "running_mean_after").Span, mean.Span, OpAbsolute, OpRelative, "running mean");
        TestSupport.AssertClose(Stat(c, "running_var_after").Span, variance.Span, OpAbsolute, OpRelative, "running variance");
    }

    /// <summary>
    /// Three steps of Adam and of AdamW(weight decay 0.1) with two parameter groups (lr 0.003 and
    /// 0.01), gradient-norm clipping at 0.5 and an EMA target (τ 0.01) on a
    /// Linear-LayerNorm-Mish ×2 + Linear MLP with MSE loss, from PyTorch's initial weights.
    /// Tolerance: losses and norms 1e-5 relative; parameters 2e-5 absolute + 1e-4 relative.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void MlpTrainingStepsMatchPyTorch(int run)
    {
        using var doc = TestSupport.LoadReference("mlp_training.json");
        var r = doc.RootElement.GetProperty("runs")[run];
        bool decoupled = r.GetProperty("optimizer").GetString()!.StartsWith("AdamW", StringComparison.Ordinal);
        var model = BuildMlp();
        var target = BuildMlp();
        Load(model, r.GetProperty("initial"));
        Load(target, r.GetProperty("target_initial"));
        var encoder = model.Parameters().Where(p => p.Name.StartsWith("l0.", StringComparison.Ordinal) || p.Name.StartsWith("n0.", StringComparison.Ordinal));
        var rest = model.Parameters().Except(encoder);
        float weightDecay = decoupled ? 0.1f : 0f;
        var groups = new[] { new ParameterGroup(encoder, 0.01f * 0.3f, weightDecay), new ParameterGroup(rest, 0.01f, weightDecay) };
        var optimizer = new Adam(groups, decoupledWeightDecay: decoupled);
        var ema = new ExponentialMovingAverage(model.Parameters().ToArray(), target.Parameters().ToArray());
        var parameters = model.Parameters().ToArray();
        var x = TestSupport.ToTensor(r.GetProperty("input"));
        var y = TestSupport.ToTensor(r.GetProperty("target"));
        var expectedLosses = r.GetProperty("losses").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        var expectedNorms = r.GetProperty("grad_norms").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        using var tape = new Tape();
        for (int step = 0; step < 3; step++)
        {
            optimizer.ZeroGrad();
            float loss;
            using (tape.Record())
            {
                var l = Ops.MseLoss(model.Forward(x), y);
                loss = l.Item();
                tape.Backward(l);
            }
            float norm = GradientClipping.ClipByGlobalNorm(parameters, 0.5f);
            optimizer.Step();
            ema.Update(0.01f);
            tape.Reset();
            Assert.Equal(expectedLosses[step], loss, 1e-5f * Math.Abs(expectedLosses[step]));
            Assert.Equal(expectedNorms[step], norm, 1e-5f * Math.Abs(expectedNorms[step]));
        }
        Compare(model, r.GetProperty("final"), "trained");
        Compare(target, r.GetProperty("target_final"), "EMA target");
    }

    /// <summary>
    /// Three Adam steps (lr 0.01) of Conv2d(3→4, k3, stride 2, pad 1, no bias) → BatchNorm (training) →
    /// ReLU → MaxPool(2) → Linear(64→5) with MSE on a 6×3×16×16 batch, from PyTorch's initial
    /// weights. Tolerance: losses 1e-5 relative; parameters and running statistics 2e-5 absolute
    /// + 1e-4 relative.
    /// </summary>
    [Fact]
    public void CnnTrainingStepsMatchPyTorch()
    {
        using var doc = TestSupport.LoadReference("cnn_training.json");
        var r = doc.RootElement;
        var random = new Random(0);
        var conv = new Conv2d("conv", 3, 4, 3, random, stride: 2, padding: 1, bias: false);
        var bn = new BatchNorm("bn", 4);
        var head = new Linear("head", 64, 5, random);
        Module[] layers = [conv, bn, head];
        var initial = r.GetProperty("initial");
        foreach (var p in layers.SelectMany(l => l.Parameters()))
        {
            p.Value.CopyFrom(TestSupport.ToTensor(initial.GetProperty(p.Name)));
        }
        var optimizer = new Adam([new ParameterGroup(layers.SelectMany(l => l.Parameters()), 0.01f)]);
        var x = TestSupport.ToTensor(r.GetProperty("input"));
        var y = TestSupport.ToTensor(r.GetProperty("target"));
        var expectedLosses = r.GetProperty("losses").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        using var tape = new Tape();
        for (int step = 0; step < 3; step++)
        {
            optimizer.ZeroGrad();
            using (tape.Record())
            {
                var h = Ops.MaxPool2d(Ops.Relu(bn.Forward(conv.Forward(x))), 2, 2);
                var loss = Ops.MseLoss(head.Forward(h.Reshape(h.Size(0), -1)), y);
                Assert.Equal(expectedLosses[step], loss.Item(), 1e-5f * Math.Abs(expectedLosses[step]));
                tape.Backward(loss);
            }
            optimizer.Step();
            tape.Reset();
        }
        foreach (var layer in layers)
        {
            Compare(layer, r.GetProperty("final"), "trained");
        }
        TestSupport.AssertClose(TestSupport.ToTensor(r.GetProperty("running_mean")).Span, bn.RunningMean.Span, 2e-5, 1e-4, "running mean");
        TestSupport.AssertClose(TestSupport.ToTensor(r.GetProperty("running_var")).Span, bn.RunningVariance.Span, 2e-5, 1e-4, "running variance");
    }

    private static Sequential BuildMlp()
    {
        var random = new Random(0);
        return new Sequential(
            new Linear("l0", 10, 32, random), new LayerNorm("n0", 32), new Activation(ActivationKind.Mish),
            new Linear("l1", 32, 32, random), new LayerNorm("n1", 32), new Activation(ActivationKind.Mish),
            new Linear("l2", 32, 5, random));
    }

    private static void Load(Module model, JsonElement values)
    {
        foreach (var p in model.Parameters())
        {
            p.Value.CopyFrom(TestSupport.ToTensor(values.GetProperty(p.Name)));
        }
    }

    private static void Compare(Module model, JsonElement values, string what)
    {
        foreach (var p in model.Parameters())
        {
            TestSupport.AssertClose(TestSupport.ToTensor(values.GetProperty(p.Name)).Span, p.Value.Span, 2e-5, 1e-4, $"{what} {p.Name}");
        }
    }
}
