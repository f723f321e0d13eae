namespace RobotRuntime.Sim.MuJoCo;

/// <summary>The simulation state of one model (<c>mjData</c>), owned by this object.</summary>
/// <remarks>One thread at a time. <see cref="Step"/>, <see cref="Forward"/> and spans of fields
/// already looked up are real-time safe in the sense of no managed allocation; MuJoCo itself
/// does not allocate in <c>mj_step</c>.</remarks>
public sealed unsafe class MjData : IDisposable
{
    internal readonly DataHandle Handle;

    /// <summary>Makes data for <paramref name="model"/> in its initial state.</summary>
    /// <exception cref="SimulatorException">MuJoCo could not allocate the data.</exception>
    public MjData(MjModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        Handle = new DataHandle();
        nint raw = 0;
        var status = MuJoCoNative.DataMake(model.Pointer, &raw);
        MuJoCoNative.Check(status, "Making mjData");
        Handle.Adopt(raw);
        Handle.Retain(model.Handle);
    }

    /// <summary>The model this data belongs to.</summary>
    public MjModel Model { get; }

    /// <summary>Simulation time in seconds.</summary>
    public double Time
    {
        get
        {
            double seconds;
            MuJoCoNative.Check(MuJoCoNative.DataGetTime(Pointer, &seconds), "Reading the time");
            return seconds;
        }
    }

    /// <summary>A data array by its <c>mjxmacro.h</c> name, e.g. <c>qpos</c>, <c>ctrl</c>, <c>site_xpos</c>.</summary>
    /// <exception cref="SimulatorException">No such array, or its element type is not <typeparamref name="T"/>.</exception>
    public MjField<T> Field<T>(string name) where T : unmanaged
    {
        nint address;
        int rows, columns, type;
        fixed (byte* text = MjModel.Utf8(name))
            MuJoCoNative.Check(MuJoCoNative.DataField(Model.Pointer, Pointer, text, &address, &rows, &columns, &type), $"Looking up data array '{name}'");
        MuJoCoNative.CheckElementType<T>(name, type);
        return new MjField<T>(name, address, rows, columns);
    }

    /// <summary>Resets the state to the model's initial state (<c>mj_resetData</c>).</summary>
    public void Reset() => MuJoCoNative.Check(MuJoCoNative.Reset(Model.Pointer, Pointer), "mj_resetData");

    /// <summary>Recomputes positions, contacts and forces from the state without advancing time (<c>mj_forward</c>).</summary>
    public void Forward() => MuJoCoNative.Check(MuJoCoNative.Forward(Model.Pointer, Pointer), "mj_forward");

    /// <summary>Advances the simulation by <paramref name="count"/> timesteps (<c>mj_step</c>).</summary>
    /// <exception cref="SimulatorException">MuJoCo reported an error (e.g. unstable simulation).</exception>
    public void Step(int count = 1) => MuJoCoNative.Check(MuJoCoNative.Step(Model.Pointer, Pointer, count), "mj_step");

    /// <summary>Writes the 3 × nv translational Jacobian of site <paramref name="siteId"/> (row-major) into <paramref name="jacobian"/>.</summary>
    public void SiteJacobian(int siteId, Span<double> jacobian)
    {
        fixed (double* destination = jacobian)
            MuJoCoNative.Check(MuJoCoNative.JacobianSite(Model.Pointer, Pointer, siteId, destination, jacobian.Length), "mj_jacSite");
    }

    internal nint Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(Handle.IsClosed, this);
            return Handle.DangerousGetHandle();
        }
    }

    /// <summary>Frees the data; spans of its fields must not be used afterwards.</summary>
    public void Dispose() => Handle.Dispose();
}
