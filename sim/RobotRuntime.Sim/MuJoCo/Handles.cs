using System.Runtime.InteropServices;

namespace RobotRuntime.Sim.MuJoCo;

/// <summary>Owns an <c>mjModel*</c>; freed with <c>rrmj_model_free</c>.</summary>
internal sealed class ModelHandle() : SafeHandle(0, ownsHandle: true)
{
    public override bool IsInvalid => handle == 0;

    /// <summary>Takes ownership of a pointer the shim returned (0 leaves the handle invalid).</summary>
    internal void Adopt(nint raw) => SetHandle(raw);

    protected override bool ReleaseHandle()
    {
        MuJoCoNative.ModelFree(handle);
        return true;
    }
}

/// <summary>Owns an <c>mjData*</c>; holds a reference on its model's handle so the model outlives it.</summary>
internal sealed class DataHandle() : SafeHandle(0, ownsHandle: true)
{
    private ModelHandle? _model;

    public override bool IsInvalid => handle == 0;

    /// <summary>Takes ownership of a pointer the shim returned (0 leaves the handle invalid).</summary>
    internal void Adopt(nint raw) => SetHandle(raw);

    /// <summary>Keeps <paramref name="model"/> alive until this handle is released.</summary>
    internal void Retain(ModelHandle model)
    {
        var added = false;
        model.DangerousAddRef(ref added);
        _model = model;
    }

    protected override bool ReleaseHandle()
    {
        MuJoCoNative.DataFree(handle);
        _model?.DangerousRelease();
        return true;
    }
}

/// <summary>Owns an <c>rrmj_renderer*</c> (OSMesa context, scene, MuJoCo render context); any thread may free it.</summary>
internal sealed class RendererHandle() : SafeHandle(0, ownsHandle: true)
{
    private ModelHandle? _model;

    public override bool IsInvalid => handle == 0;

    /// <summary>Takes ownership of a pointer the shim returned (0 leaves the handle invalid).</summary>
    internal void Adopt(nint raw) => SetHandle(raw);

    internal void Retain(ModelHandle model)
    {
        var added = false;
        model.DangerousAddRef(ref added);
        _model = model;
    }

    protected override bool ReleaseHandle()
    {
        MuJoCoNative.RendererFree(handle);
        _model?.DangerousRelease();
        return true;
    }
}
