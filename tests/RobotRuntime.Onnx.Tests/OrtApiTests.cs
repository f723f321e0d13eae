using System.Text;
using RobotRuntime.Native;

namespace RobotRuntime.Onnx.Tests;

/// <summary>
/// Checks each OrtApi slot the binding uses against its behaviour in the ONNX Runtime 1.30.0
/// library that scripts/bootstrap installs (slot numbers from onnxruntime_c_api.h).
/// </summary>
public sealed unsafe class OrtApiTests
{
    [Fact]
    public void VersionStringIsTheBootstrappedRelease() =>
        Assert.Equal("1.30.0", OnnxRuntimeLibrary.Version);

    [Fact]
    public void AvailableProvidersIncludeTheCpuProvider()
    {
        // Slots 125 GetAvailableProviders and 126 ReleaseAvailableProviders.
        var providers = OnnxRuntimeLibrary.GetAvailableProviders();
        Assert.Contains(OnnxRuntimeLibrary.CpuProvider, providers);
        Assert.All(providers, p => Assert.EndsWith("ExecutionProvider", p));
    }

    [Fact]
    public void StatusSlotsRoundTripCodeAndMessageThroughVerifySuccess()
    {
        // Slots 0 CreateStatus, 1 GetErrorCode, 2 GetErrorMessage, 93 ReleaseStatus.
        var api = OrtApi.Default;
        var text = Encoding.UTF8.GetBytes("model input 'pixels' expects [1,3,112,112]\0");
        nint status;
        fixed (byte* message = text)
            status = api.CreateStatus((int)OrtErrorCode.InvalidArgument, message);
        Assert.NotEqual(0, status);

        var error = Assert.Throws<OnnxRuntimeException>(() => api.VerifySuccess(status));

        Assert.Equal(OrtErrorCode.InvalidArgument, error.ErrorCode);
        Assert.Equal("model input 'pixels' expects [1,3,112,112]", error.OrtMessage);
        Assert.Equal("ONNX Runtime error InvalidArgument: model input 'pixels' expects [1,3,112,112]", error.Message);
    }

    [Fact]
    public void NullStatusIsSuccess() => OrtApi.Default.VerifySuccess(0);

    [Fact]
    public void LoadingWithoutTheLibraryGivesTheNamedActionableError()
    {
        var empty = Path.Combine(Path.GetTempPath(), "rr-no-ort-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(empty);
        try
        {
            var error = Assert.Throws<NativeDependencyMissingException>(
                () => OrtApi.Load(new NativeLibraryLocator([empty], useSystemLoaderPath: false)));
            Assert.Contains("ONNX Runtime (libonnxruntime.so.1) was not found", error.Message);
            Assert.Contains(empty, error.Message);
            Assert.Contains("scripts/bootstrap", error.Message);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }
}
