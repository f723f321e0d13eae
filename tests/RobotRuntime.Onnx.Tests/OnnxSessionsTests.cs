using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using RobotRuntime.Testing;

namespace RobotRuntime.Onnx.Tests;

/// <summary>
/// The project's models on the official ONNX Runtime binding, through <see cref="OnnxSessions"/>.
/// Reference outputs come from NumPy in models/test/make_test_models.py (float64 accumulation,
/// stored as float32); ONNX Runtime's float32 kernels agree with them to 1e-5 absolute + 1e-5 relative.
/// </summary>
public sealed class OnnxSessionsTests
{
    private const float Absolute = 1e-5f;
    private const float Relative = 1e-5f;

    [Fact]
    public void TheNativeLibraryIsThePackagesRelease()
    {
        Assert.Equal(OnnxRuntimeLibrary.BindingVersion, OnnxRuntimeLibrary.Version);
        Assert.Equal("1.32.0", OnnxRuntimeLibrary.BindingVersion);
        Assert.Contains(OnnxRuntimeLibrary.CpuProvider, OnnxRuntimeLibrary.GetAvailableProviders());
        Assert.EndsWith("libonnxruntime.so", OnnxRuntimeLibrary.LoadedFrom);
        Assert.Contains(Path.Combine("runtimes", "linux-x64", "native"), OnnxRuntimeLibrary.LoadedFrom);
    }

    [Fact]
    public void MlpOutputsMatchTheNumpyReference()
    {
        var reference = TestModels.LoadReference("mlp");
        using var session = OnnxSessions.Open(TestModels.Path("mlp"));
        var obs = reference.Inputs["obs"];
        using var input = OrtValue.CreateTensorValueFromMemory(obs.Data, obs.Shape);
        using var runOptions = new RunOptions();

        using var outputs = session.Run(runOptions, ["obs"], [input], ["action"]);

        Assert.Equal(reference.Outputs["action"].Shape, outputs[0].GetTensorTypeAndShape().Shape);
        TestModels.AssertClose(reference.Outputs["action"].Data, outputs[0].GetTensorDataAsSpan<float>(), Absolute, Relative);
    }

    [Fact]
    public void ConvEncoderThroughIoBindingWritesIntoTheCallersBuffer()
    {
        var reference = TestModels.LoadReference("conv_encoder");
        using var session = OnnxSessions.Open(TestModels.Path("conv_encoder"));
        var pixels = reference.Inputs["pixels"];
        var embedding = new float[4];
        using var input = OrtValue.CreateTensorValueFromMemory(pixels.Data, pixels.Shape);
        using var output = OrtValue.CreateTensorValueFromMemory(embedding, [1, 4]);
        using var binding = session.CreateIoBinding();
        binding.BindInput("pixels", input);
        binding.BindOutput("embedding", output);
        using var runOptions = new RunOptions();

        session.RunWithBinding(runOptions, binding);

        TestModels.AssertClose(reference.Outputs["embedding"].Data, embedding, Absolute, Relative);
    }

    [Fact]
    public void ASessionFromBytesAnswersLikeOneFromTheFile()
    {
        var reference = TestModels.LoadReference("two_outputs");
        using var fromBytes = OnnxSessions.Open(File.ReadAllBytes(TestModels.Path("two_outputs")), "two_outputs bytes");
        Assert.Equal(["plus_one", "doubled"], fromBytes.OutputNames);
        var x = reference.Inputs["x"];
        using var input = OrtValue.CreateTensorValueFromMemory(x.Data, x.Shape);
        using var runOptions = new RunOptions();

        using var outputs = fromBytes.Run(runOptions, ["x"], [input], fromBytes.OutputNames);

        TestModels.AssertClose(reference.Outputs["plus_one"].Data, outputs[0].GetTensorDataAsSpan<float>(), 0, 0);
        TestModels.AssertClose(reference.Outputs["doubled"].Data, outputs[1].GetTensorDataAsSpan<float>(), 0, 0);
    }

    [Fact]
    public void MetadataIsDescribedWithTheFreeBatchDimensionByName()
    {
        using var session = OnnxSessions.Open(TestModels.Path("mlp"));

        var obs = session.InputMetadata["obs"];
        Assert.Equal(TensorElementType.Float, obs.ElementDataType);
        Assert.Equal([-1, 8], obs.Dimensions);
        Assert.Equal("float32[batch,8]", OnnxSessions.Describe(obs));
        Assert.Equal("action: float32[batch,4]", OnnxSessions.Describe(session.OutputMetadata));
        Assert.Equal("robotruntime-test-models", session.ModelMetadata.ProducerName);
        Assert.Equal("policy_mlp", session.ModelMetadata.GraphName);
    }

    [Fact]
    public void AMissingModelFileIsNamedInTheError()
    {
        var path = Path.Combine(Path.GetTempPath(), "rr-no-such-model-" + Guid.NewGuid().ToString("N") + ".onnx");
        var error = Assert.Throws<FileNotFoundException>(() => OnnxSessions.Open(path));
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
            var error = Assert.Throws<OnnxModelException>(() => OnnxSessions.Open(path));
            Assert.StartsWith($"Could not load ONNX model {path}: ", error.Message);
            Assert.Contains("Protobuf parsing failed", error.Message);
            Assert.DoesNotContain("[ErrorCode:", error.Message);
            Assert.IsType<OnnxRuntimeException>(error.InnerException);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void AWrongInputShapeFailsTheRunWithTheRankTheModelExpects()
    {
        using var session = OnnxSessions.Open(TestModels.Path("mlp"));
        using var wrong = OrtValue.CreateTensorValueFromMemory(new float[5], [1, 5]);
        using var output = OrtValue.CreateTensorValueFromMemory(new float[4], [1, 4]);
        using var binding = session.CreateIoBinding();
        binding.BindInput("obs", wrong);
        binding.BindOutput("action", output);
        using var runOptions = new RunOptions();

        var error = Assert.Throws<OnnxRuntimeException>(() => session.RunWithBinding(runOptions, binding));

        Assert.Contains("obs", error.Message);
        Assert.Contains("Expected: 8", OnnxSessions.OrtMessage(error));
    }

    [Fact]
    public void SteadyStateRunsThroughABindingAllocateNothing()
    {
        using var session = OnnxSessions.Open(TestModels.Path("conv_encoder"), new OnnxSessionSettings { IntraOpThreads = 1 });
        var pixels = new float[3 * 16 * 16];
        var embedding = new float[4];
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(pixels), [1, 3, 16, 16]);
        using var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(embedding), [1, 4]);
        using var binding = session.CreateIoBinding();
        binding.BindInput("pixels", input);
        binding.BindOutput("embedding", output);
        using var runOptions = new RunOptions();
        for (var i = 0; i < 20; i++)
            session.RunWithBinding(runOptions, binding);

        // Counted from an empty allocation buffer (ThreadAllocations.During): a GC started by the other
        // class meanwhile would count the unused rest of this thread's buffer as allocated.
        var allocated = ThreadAllocations.During(() =>
        {
            for (var i = 0; i < 200; i++)
            {
                pixels[i % pixels.Length] = i;
                session.RunWithBinding(runOptions, binding);
            }
        });

        Assert.Equal(0, allocated);
        Assert.Contains(embedding, e => e != 0);
    }

    [Fact]
    public void TerminateStopsRunsUntilItIsCleared()
    {
        using var session = OnnxSessions.Open(TestModels.Path("mlp"));
        using var input = OrtValue.CreateTensorValueFromMemory(new float[8], [1, 8]);
        using var output = OrtValue.CreateTensorValueFromMemory(new float[4], [1, 4]);
        using var binding = session.CreateIoBinding();
        binding.BindInput("obs", input);
        binding.BindOutput("action", output);
        using var runOptions = new RunOptions { Terminate = true };

        Assert.Throws<OnnxRuntimeException>(() => session.RunWithBinding(runOptions, binding));

        runOptions.Terminate = false;
        session.RunWithBinding(runOptions, binding);
    }

    [Fact]
    public void SettingsRejectNegativeThreadsAndDevices()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxSessions.CreateOptions(new OnnxSessionSettings { IntraOpThreads = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxSessions.CreateOptions(new OnnxSessionSettings { DeviceId = -1 }));
        var error = Assert.Throws<ArgumentException>(() => OnnxSessionSettings.ParseDevice("npu", "encoder.device"));
        Assert.Equal("encoder.device: 'npu' is not a device; expected cpu, cuda or tensorrt.", error.Message);
        Assert.Equal(OnnxDevice.TensorRt, OnnxSessionSettings.ParseDevice(" TensorRT ", "x"));
        using var options = OnnxSessions.CreateOptions(new OnnxSessionSettings { IntraOpThreads = 2 });
        Assert.Equal(2, options.IntraOpNumThreads);
    }

    [Theory]
    [InlineData(OnnxDevice.Cuda, "CUDAExecutionProvider")]
    [InlineData(OnnxDevice.TensorRt, "TensorrtExecutionProvider")]
    public void AskingForAGpuThatIsNotHereNamesTheBuildAndTheMissingLibraries(OnnxDevice device, string provider)
    {
        // This machine has the CPU package and no CUDA: the GPU path cannot run here, so what is
        // tested is what a user sees when it is asked for.
        Assert.False(OnnxRuntimeLibrary.IsGpuBuild);
        var settings = new OnnxSessionSettings { Device = device };

        var error = Assert.Throws<ExecutionProviderUnavailableException>(() => OnnxSessions.Open(TestModels.Path("mlp"), settings));

        Assert.Equal(provider, error.Provider);
        Assert.Contains($"needs ONNX Runtime's {provider}", error.Message);
        Assert.Contains("this build carries Microsoft.ML.OnnxRuntime 1.32.0", error.Message);
        Assert.Contains("-p:RrOnnxRuntimeGpu=true", error.Message);
        Assert.Contains("libcudnn.so.9", error.Message);
        Assert.Contains("libcublasLt.so.13", error.Message);
        Assert.Contains("libcudnn.so.9", error.MissingLibraries);
        Assert.Equal(device == OnnxDevice.TensorRt, error.Message.Contains("libnvinfer.so.10"));
        Assert.Contains("Or use device cpu.", error.Message);
    }

    [Fact]
    public void TheMissingLibraryProbeFindsWhatTheLoaderCanOpen()
    {
        Assert.Equal(["librr-not-a-library.so.7"], ExecutionProviderUnavailableException.Unloadable(["libc.so.6", "librr-not-a-library.so.7"]));
    }
}
