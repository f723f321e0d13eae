namespace RobotRuntime.Onnx.Tests;

/// <summary>
/// Sessions over the project's test models. Reference outputs come from NumPy in
/// models/test/make_test_models.py (float64 accumulation, stored as float32); ONNX Runtime's
/// float32 kernels agree with them to 1e-5 absolute + 1e-5 relative.
/// </summary>
public sealed class InferenceSessionTests
{
    private const float Absolute = 1e-5f;
    private const float Relative = 1e-5f;

    [Fact]
    public void MlpOutputsMatchTheNumpyReference()
    {
        var reference = TestModels.LoadReference("mlp");
        using var session = new InferenceSession(TestModels.Path("mlp"));
        var obs = reference.Inputs["obs"];
        using var input = OrtValue.CreateTensorValueFromMemory(obs.Data, obs.Shape);

        var outputs = session.Run(null, ["obs"], [input]);

        using var action = Assert.Single(outputs);
        Assert.Equal(reference.Outputs["action"].Shape, action.Shape.ToArray());
        TestModels.AssertClose(reference.Outputs["action"].Data, action.GetTensorDataAsSpan<float>(), Absolute, Relative);
    }

    [Fact]
    public void ConvEncoderThroughIoBindingWritesIntoTheCallersBuffer()
    {
        var reference = TestModels.LoadReference("conv_encoder");
        using var session = new InferenceSession(TestModels.Path("conv_encoder"));
        var pixels = reference.Inputs["pixels"];
        var embedding = new float[4];
        using var input = OrtValue.CreateTensorValueFromMemory(pixels.Data, pixels.Shape);
        using var output = OrtValue.CreateTensorValueFromMemory(embedding, [1, 4]);
        using var binding = session.CreateIoBinding();
        binding.BindInput("pixels", input);
        binding.BindOutput("embedding", output);

        session.RunWithBinding(null, binding);

        TestModels.AssertClose(reference.Outputs["embedding"].Data, embedding, Absolute, Relative);
    }

    [Fact]
    public void OutputsComeBackInTheModelsOrderWithTheirNames()
    {
        var reference = TestModels.LoadReference("two_outputs");
        using var session = new InferenceSession(TestModels.Path("two_outputs"));
        Assert.Equal(["plus_one", "doubled"], session.OutputNames);
        var x = reference.Inputs["x"];
        using var input = OrtValue.CreateTensorValueFromMemory(x.Data, x.Shape);

        var outputs = session.Run(null, ["x"], [input]);

        TestModels.AssertClose(reference.Outputs["plus_one"].Data, outputs[0].GetTensorDataAsSpan<float>(), 0, 0);
        TestModels.AssertClose(reference.Outputs["doubled"].Data, outputs[1].GetTensorDataAsSpan<float>(), 0, 0);
        foreach (var output in outputs)
            output.Dispose();
    }

    [Fact]
    public void PreallocatedRunFillsOnlyTheRequestedOutput()
    {
        using var session = new InferenceSession(TestModels.Path("two_outputs"));
        var x = new float[] { 1, 2, 3, 4, 5, 6 };
        var doubled = new float[6];
        using var input = OrtValue.CreateTensorValueFromMemory(x, [2, 3]);
        using var output = OrtValue.CreateTensorValueFromMemory(doubled, [2, 3]);

        session.Run(null, ["x"], [input], ["doubled"], [output]);

        Assert.Equal([2f, 4, 6, 8, 10, 12], doubled);
    }

    [Fact]
    public void MetadataDescribesInputsAndOutputsWithTheFreeBatchDimension()
    {
        using var session = new InferenceSession(TestModels.Path("mlp"));

        Assert.Equal(["obs"], session.InputNames);
        var obs = session.InputMetadata["obs"];
        Assert.True(obs.IsTensor);
        Assert.Equal(TensorElementType.Float, obs.ElementType);
        Assert.Equal([-1L, 8], obs.Dimensions);
        Assert.Equal("obs: float32[batch,8]", obs.ToString());
        Assert.Equal("action: float32[batch,4]", session.OutputMetadata["action"].ToString());

        var model = session.ModelMetadata;
        Assert.Equal("robotruntime-test-models", model.ProducerName);
        Assert.Equal("policy_mlp", model.GraphName);
        Assert.Equal(3, model.Version);
    }

    [Fact]
    public void ASessionFromBytesAnswersLikeOneFromTheFile()
    {
        var reference = TestModels.LoadReference("mlp");
        using var fromBytes = new InferenceSession(File.ReadAllBytes(TestModels.Path("mlp")), sourceName: "mlp bytes");
        var obs = reference.Inputs["obs"];
        using var input = OrtValue.CreateTensorValueFromMemory(obs.Data, obs.Shape);

        using var action = fromBytes.Run(null, ["obs"], [input])[0];

        TestModels.AssertClose(reference.Outputs["action"].Data, action.GetTensorDataAsSpan<float>(), Absolute, Relative);
        Assert.Equal("mlp bytes", fromBytes.Source);
    }

    [Fact]
    public void AMissingModelFileIsNamedInTheError()
    {
        var path = Path.Combine(Path.GetTempPath(), "rr-no-such-model-" + Guid.NewGuid().ToString("N") + ".onnx");
        var error = Assert.Throws<FileNotFoundException>(() => new InferenceSession(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("ONNX model file not found", error.Message);
    }

    [Fact]
    public void ACorruptModelFileIsNamedWithOnnxRuntimesReason()
    {
        var path = Path.Combine(Path.GetTempPath(), "rr-corrupt-" + Guid.NewGuid().ToString("N") + ".onnx");
        File.WriteAllBytes(path, "not a protobuf at all, just text"u8.ToArray());
        try
        {
            var error = Assert.Throws<OnnxModelException>(() => new InferenceSession(path));
            Assert.StartsWith($"Could not load ONNX model {path}: ", error.Message);
            var cause = Assert.IsType<OnnxRuntimeException>(error.InnerException);
            Assert.NotEqual(OrtErrorCode.Ok, cause.ErrorCode);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void AWrongInputShapeIsRejectedWithTheShapeTheModelExpects()
    {
        using var session = new InferenceSession(TestModels.Path("mlp"));
        using var binding = session.CreateIoBinding();
        using var wrong = OrtValue.CreateTensorValueFromMemory(new float[5], [1, 5]);

        var error = Assert.Throws<ArgumentException>(() => binding.BindInput("obs", wrong));

        Assert.Contains("'obs' expects float32[batch,8], got float32[1,5]", error.Message);
    }

    [Fact]
    public void AWrongElementTypeIsRejectedByName()
    {
        using var session = new InferenceSession(TestModels.Path("mlp"));
        using var bytes = OrtValue.CreateTensorValueFromMemory(new byte[8], [1, 8]);

        var error = Assert.Throws<ArgumentException>(() => session.Run(null, ["obs"], [bytes]));

        Assert.Contains("'obs' expects float32[batch,8], got uint8[1,8]", error.Message);
    }

    [Fact]
    public void AnUnknownInputNameListsTheInputsTheModelHas()
    {
        using var session = new InferenceSession(TestModels.Path("mlp"));
        using var value = OrtValue.CreateTensorValueFromMemory(new float[8], [1, 8]);

        var error = Assert.Throws<ArgumentException>(() => session.Run(null, ["observation"], [value]));

        Assert.Contains("has no input named 'observation'", error.Message);
        Assert.Contains("obs: float32[batch,8]", error.Message);
    }

    [Fact]
    public void DataThatDoesNotFillTheShapeIsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => OrtValue.CreateTensorValueFromMemory(new float[10], [2, 8]));
        Assert.Contains("data holds 10 float32 elements but shape [2,8] needs 16", error.Message);
    }

    [Fact]
    public void AValueSeesWritesToItsBufferWithoutCopying()
    {
        var data = new float[4];
        using var value = OrtValue.CreateTensorValueFromMemory(data, [4]);
        data[2] = 7;
        Assert.Equal(7, value.GetTensorDataAsSpan<float>()[2]);
        value.GetTensorMutableDataAsSpan<float>()[0] = 3;
        Assert.Equal(3, data[0]);
        Assert.Throws<InvalidOperationException>(() => value.GetTensorDataAsSpan<long>());
    }

    [Fact]
    public void SteadyStateRunsAllocateNothing()
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, AllowSpinning = false };
        using var session = new InferenceSession(TestModels.Path("conv_encoder"), options);
        var pixels = new float[3 * 16 * 16];
        var embedding = new float[4];
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [1, 3, 16, 16]);
        using var output = OrtValue.CreateTensorValueFromMemory(embedding, [1, 4]);
        using var binding = session.CreateIoBinding();
        binding.BindInput("pixels", input);
        binding.BindOutput("embedding", output);
        using var runOptions = new RunOptions();
        string[] inputNames = ["pixels"], outputNames = ["embedding"];
        OrtValue[] inputs = [input], outputs = [output];
        for (var i = 0; i < 20; i++)
        {
            Assert.True(session.TryRunWithBinding(runOptions, binding, out _));
            session.Run(runOptions, inputNames, inputs, outputNames, outputs);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 200; i++)
        {
            pixels[i % pixels.Length] = i;
            session.TryRunWithBinding(runOptions, binding, out _);
            session.Run(runOptions, inputNames, inputs, outputNames, outputs);
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Contains(embedding, e => e != 0);
    }

    [Fact]
    public void TerminateStopsRunsUntilItIsCleared()
    {
        using var session = new InferenceSession(TestModels.Path("mlp"));
        using var input = OrtValue.CreateTensorValueFromMemory(new float[8], [1, 8]);
        using var output = OrtValue.CreateTensorValueFromMemory(new float[4], [1, 4]);
        using var binding = session.CreateIoBinding();
        binding.BindInput("obs", input);
        binding.BindOutput("action", output);
        using var runOptions = new RunOptions { Terminate = true };

        Assert.False(session.TryRunWithBinding(runOptions, binding, out var error));
        Assert.NotNull(error);

        runOptions.Terminate = false;
        Assert.True(session.TryRunWithBinding(runOptions, binding, out error));
        Assert.Null(error);
    }

    [Fact]
    public void OptionsRejectNegativeThreadCounts()
    {
        using var options = new SessionOptions();
        Assert.Throws<ArgumentOutOfRangeException>(() => options.IntraOpNumThreads = -1);
        options.IntraOpNumThreads = 2;
        options.InterOpNumThreads = 1;
        options.ExecutionMode = ExecutionMode.Sequential;
        options.GraphOptimizationLevel = GraphOptimizationLevel.EnableExtended;
        Assert.Equal(2, options.IntraOpNumThreads);
        using var session = new InferenceSession(TestModels.Path("mlp"), options);
        Assert.Equal(["action"], session.OutputNames);
    }

    [Fact]
    public void AskingForCudaWithoutItsLibrariesSaysWhichFilesAreNeeded()
    {
        var folder = Path.GetDirectoryName(RobotRuntime.Native.NativeLibraryLocator.MappedPathOf("libonnxruntime.so.1") ?? TestModels.Repository)!;
        var hasCuda = File.Exists(Path.Combine(folder, "libonnxruntime_providers_cuda.so"));
        using var options = new SessionOptions();
        if (hasCuda)
        {
            // A GPU machine with the provider libraries installed: the provider is appended.
            options.AppendExecutionProvider_CUDA();
            Assert.Contains(OnnxRuntimeLibrary.CudaProvider, options.AppendedProviders);
            return;
        }

        var error = Assert.Throws<ExecutionProviderUnavailableException>(() => options.AppendExecutionProvider_CUDA());

        Assert.Equal("CUDAExecutionProvider", error.Provider);
        Assert.Contains("The CUDA execution provider is not available.", error.Message);
        Assert.Contains("libonnxruntime_providers_cuda.so", error.Message);
        Assert.Contains("libonnxruntime_providers_shared.so", error.Message);
        Assert.Contains("CUDA 12 and cuDNN 9", error.Message);
        Assert.Contains(folder, error.Message);
        Assert.Empty(options.AppendedProviders);
    }
}
