using System.Text;

namespace RobotRuntime.Sim.MuJoCo;

/// <summary>A compiled MuJoCo model (<c>mjModel</c>), owned by this object.</summary>
/// <remarks>Setup only, except the spans of fields already looked up. One thread at a time;
/// dispose after every <see cref="MjData"/> and <see cref="MjRenderer"/> made from it is done
/// (they keep the native model alive until they are disposed).</remarks>
public sealed unsafe class MjModel : IDisposable
{
    internal readonly ModelHandle Handle;

    private MjModel(ModelHandle handle) => Handle = handle;

    /// <summary>Compiles MJCF text; nothing is read from disk.</summary>
    /// <param name="mjcf">A <c>&lt;mujoco&gt;</c> document.</param>
    /// <exception cref="SimulatorException">MuJoCo rejected the document; the message quotes MuJoCo's reason and line.</exception>
    public static MjModel FromXml(string mjcf)
    {
        ArgumentNullException.ThrowIfNull(mjcf);
        var handle = new ModelHandle();
        nint raw = 0;
        int status;
        fixed (byte* xml = Utf8(mjcf))
            status = MuJoCoNative.ModelLoadXml(xml, &raw);
        handle.Adopt(raw);
        if (status < 0)
            handle.Dispose();
        MuJoCoNative.Check(status, "Loading MJCF");
        return new MjModel(handle);
    }

    /// <summary>One of mjModel's int sizes by name (<c>nq</c>, <c>nv</c>, <c>nu</c>, <c>nbody</c>, <c>ngeom</c>, ...).</summary>
    /// <exception cref="SimulatorException">No such size.</exception>
    public int Size(string name)
    {
        int value;
        fixed (byte* text = Utf8(name))
            MuJoCoNative.Check(MuJoCoNative.ModelSize(Pointer, text, &value), $"Reading model size '{name}'");
        return value;
    }

    /// <summary>A model array by its <c>mjxmacro.h</c> name, e.g. <c>geom_rgba</c> (float) or <c>cam_pos</c> (double).</summary>
    /// <exception cref="SimulatorException">No such array, or its element type is not <typeparamref name="T"/>.</exception>
    public MjField<T> Field<T>(string name) where T : unmanaged
    {
        nint address;
        int rows, columns, type;
        fixed (byte* text = Utf8(name))
            MuJoCoNative.Check(MuJoCoNative.ModelField(Pointer, text, &address, &rows, &columns, &type), $"Looking up model array '{name}'");
        MuJoCoNative.CheckElementType<T>(name, type);
        return new MjField<T>(name, address, rows, columns);
    }

    /// <summary>The id of the named object of the given kind.</summary>
    /// <exception cref="SimulatorException">The model has no such object; the message names kind and name.</exception>
    public int Id(MjObject kind, string name)
    {
        int id;
        fixed (byte* kindText = Utf8(kind.ToString().ToLowerInvariant()))
        fixed (byte* nameText = Utf8(name))
            MuJoCoNative.Check(MuJoCoNative.NameToId(Pointer, kindText, nameText, &id), $"Looking up {kind.ToString().ToLowerInvariant()} '{name}'");
        return id;
    }

    /// <summary>The physics timestep in seconds.</summary>
    public double Timestep
    {
        get
        {
            double seconds;
            MuJoCoNative.Check(MuJoCoNative.ModelGetTimestep(Pointer, &seconds), "Reading the timestep");
            return seconds;
        }
        set => MuJoCoNative.Check(MuJoCoNative.ModelSetTimestep(Pointer, value), "Setting the timestep");
    }

    internal nint Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(Handle.IsClosed, this);
            return Handle.DangerousGetHandle();
        }
    }

    /// <summary>Frees the model once nothing made from it holds it any more.</summary>
    public void Dispose() => Handle.Dispose();

    internal static byte[] Utf8(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }
}
