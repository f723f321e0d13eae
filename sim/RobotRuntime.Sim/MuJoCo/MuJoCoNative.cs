using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RobotRuntime.Native;

namespace RobotRuntime.Sim.MuJoCo;

/// <summary>The functions of <c>librr_mujoco.so</c> (see <c>sim/native/rr_mujoco.h</c>).</summary>
internal static unsafe partial class MuJoCoNative
{
    private const string Library = "rr_mujoco";

    // Every P/Invoke of this assembly is in this class, so its static constructor runs before the
    // first one and routes the library name to the project's locator (one resolver per assembly).
    static MuJoCoNative() =>
        NativeLibrary.SetDllImportResolver(typeof(MuJoCoNative).Assembly, Resolve);

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == Library ? NativeLibraryLocator.Default.Load(NativeDependency.MuJoCoShim) : 0;

    [LibraryImport(Library, EntryPoint = "rrmj_version")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int Version();

    [LibraryImport(Library, EntryPoint = "rrmj_version_string")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* VersionString();

    [LibraryImport(Library, EntryPoint = "rrmj_header_version")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int HeaderVersion();

    [LibraryImport(Library, EntryPoint = "rrmj_last_error")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte* LastError();

    [LibraryImport(Library, EntryPoint = "rrmj_render_selftest")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int RenderSelfTest(int width, int height, byte* rgb, int rgbCapacity);

    [LibraryImport(Library, EntryPoint = "rrmj_model_load_xml")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ModelLoadXml(byte* xml, nint* model);

    [LibraryImport(Library, EntryPoint = "rrmj_model_free")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void ModelFree(nint model);

    [LibraryImport(Library, EntryPoint = "rrmj_model_size")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ModelSize(nint model, byte* name, int* value);

    [LibraryImport(Library, EntryPoint = "rrmj_model_field")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ModelField(nint model, byte* name, nint* address, int* rows, int* columns, int* type);

    [LibraryImport(Library, EntryPoint = "rrmj_model_get_timestep")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ModelGetTimestep(nint model, double* seconds);

    [LibraryImport(Library, EntryPoint = "rrmj_model_set_timestep")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int ModelSetTimestep(nint model, double seconds);

    [LibraryImport(Library, EntryPoint = "rrmj_name_to_id")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int NameToId(nint model, byte* kind, byte* name, int* id);

    [LibraryImport(Library, EntryPoint = "rrmj_data_make")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int DataMake(nint model, nint* data);

    [LibraryImport(Library, EntryPoint = "rrmj_data_free")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void DataFree(nint data);

    [LibraryImport(Library, EntryPoint = "rrmj_data_field")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int DataField(nint model, nint data, byte* name, nint* address, int* rows, int* columns, int* type);

    [LibraryImport(Library, EntryPoint = "rrmj_data_get_time")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int DataGetTime(nint data, double* seconds);

    [LibraryImport(Library, EntryPoint = "rrmj_reset")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int Reset(nint model, nint data);

    [LibraryImport(Library, EntryPoint = "rrmj_forward")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int Forward(nint model, nint data);

    [LibraryImport(Library, EntryPoint = "rrmj_step")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int Step(nint model, nint data, int count);

    [LibraryImport(Library, EntryPoint = "rrmj_jacobian_site")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int JacobianSite(nint model, nint data, int site, double* jacobian, int capacity);

    [LibraryImport(Library, EntryPoint = "rrmj_renderer_create")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int RendererCreate(nint model, int width, int height, nint* renderer);

    [LibraryImport(Library, EntryPoint = "rrmj_renderer_free")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void RendererFree(nint renderer);

    [LibraryImport(Library, EntryPoint = "rrmj_renderer_upload_texture")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int RendererUploadTexture(nint renderer, nint model, int textureId);

    [LibraryImport(Library, EntryPoint = "rrmj_render")]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int Render(nint renderer, nint model, nint data, int cameraId, int width, int height, byte* rgb, int rgbCapacity);

    /// <summary>Throws unless the shim's element type code matches <typeparamref name="T"/>.</summary>
    internal static void CheckElementType<T>(string field, int type) where T : unmanaged
    {
        var expected = type switch
        {
            0 => typeof(double),
            1 => typeof(float),
            2 => typeof(int),
            3 => typeof(byte),
            _ => null,
        };
        if (expected is null)
            throw new SimulatorException($"MuJoCo array '{field}' holds structs, not numbers; it cannot be viewed as {typeof(T).Name}");
        if (expected != typeof(T))
            throw new SimulatorException($"MuJoCo array '{field}' holds {expected.Name}, not {typeof(T).Name}");
    }

    /// <summary>Turns a negative shim result into a <see cref="SimulatorException"/> carrying the shim's message.</summary>
    internal static void Check(int result, string operation)
    {
        if (result >= 0)
            return;
        var message = Marshal.PtrToStringUTF8((nint)LastError());
        throw new SimulatorException($"{operation} failed (code {result}): {(string.IsNullOrEmpty(message) ? "no message" : message)}");
    }
}
