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

/// <summary>
/// A native object that points into an <c>mjModel</c>: holds a reference on the model's handle
/// so the model outlives it, and drops that reference after freeing the object.
/// </summary>
internal abstract class ModelDependentHandle() : SafeHandle(0, ownsHandle: true)
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

    /// <summary>Frees the native object (the model is still alive when this runs).</summary>
    protected abstract void Free(nint raw);

    protected sealed override bool ReleaseHandle()
    {
        Free(handle);
        _model?.DangerousRelease();
        return true;
    }
}

/// <summary>Owns an <c>mjData*</c>; its model outlives it.</summary>
internal sealed class DataHandle : ModelDependentHandle
{
    protected override void Free(nint raw) => MuJoCoNative.DataFree(raw);
}

/// <summary>Owns an <c>rrmj_renderer*</c> (OSMesa context, scene, MuJoCo render context); any thread may free it; its model outlives it.</summary>
internal sealed class RendererHandle : ModelDependentHandle
{
    protected override void Free(nint raw) => MuJoCoNative.RendererFree(raw);
}
