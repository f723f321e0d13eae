using System.Runtime.InteropServices;

namespace RobotRuntime.Onnx;

/// <summary>Base for every ONNX Runtime object handle: owns one native object and releases it once.</summary>
public abstract class OrtHandle : SafeHandle
{
    private protected OrtHandle() : base(0, ownsHandle: true) { }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    internal nint Pointer => handle;

    internal void Attach(nint pointer) => SetHandle(pointer);
}

internal sealed unsafe class OrtEnvHandle : OrtHandle
{
    protected override bool ReleaseHandle() { OrtApi.Default.ReleaseEnv(handle); return true; }
}

internal sealed unsafe class OrtSessionOptionsHandle : OrtHandle
{
    protected override bool ReleaseHandle() { OrtApi.Default.ReleaseSessionOptions(handle); return true; }
}

internal sealed unsafe class OrtSessionHandle : OrtHandle
{
    protected override bool ReleaseHandle() { OrtApi.Default.ReleaseSession(handle); return true; }
}

internal sealed unsafe class OrtValueHandle : OrtHandle
{
    protected override bool ReleaseHandle() { OrtApi.Default.ReleaseValue(handle); return true; }
}

internal sealed unsafe class OrtRunOptionsHandle : OrtHandle
{
    protected override bool ReleaseHandle() { OrtApi.Default.ReleaseRunOptions(handle); return true; }
}

internal sealed unsafe class OrtIoBindingHandle : OrtHandle
{
    protected override bool ReleaseHandle() { OrtApi.Default.ReleaseIoBinding(handle); return true; }
}

internal sealed unsafe class OrtMemoryInfoHandle : OrtHandle
{
    protected override bool ReleaseHandle() { OrtApi.Default.ReleaseMemoryInfo(handle); return true; }
}

internal sealed unsafe class OrtTypeInfoHandle : OrtHandle
{
    protected override bool ReleaseHandle() { OrtApi.Default.ReleaseTypeInfo(handle); return true; }
}

internal sealed unsafe class OrtTensorTypeAndShapeInfoHandle : OrtHandle
{
    protected override bool ReleaseHandle() { OrtApi.Default.ReleaseTensorTypeAndShapeInfo(handle); return true; }
}

internal sealed unsafe class OrtModelMetadataHandle : OrtHandle
{
    protected override bool ReleaseHandle() { OrtApi.Default.ReleaseModelMetadata(handle); return true; }
}

internal sealed unsafe class OrtCudaProviderOptionsHandle : OrtHandle
{
    protected override bool ReleaseHandle() { OrtApi.Default.ReleaseCUDAProviderOptions(handle); return true; }
}
