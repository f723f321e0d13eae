using System.Runtime.InteropServices;
using RobotRuntime.Native;

namespace RobotRuntime.Onnx;

/// <summary>
/// ONNX Runtime's <c>OrtApi</c> table of function pointers, read slot by slot. The C signature is
/// written beside each slot; slot numbers are from <c>onnxruntime_c_api.h</c> (the table only
/// grows at its end) and each one used here is checked by behaviour in the tests.
/// </summary>
/// <remarks>Setup only: loading; the function pointers themselves are safe to call from any thread.</remarks>
internal sealed unsafe class OrtApi
{
    /// <summary>The API version this binding asks for (ONNX Runtime 1.30).</summary>
    public const uint ApiVersion = 30;

    private static OrtApi? _default;

    private OrtApi(nint library)
    {
        // struct OrtApiBase { const OrtApi* (*GetApi)(uint32_t); const char* (*GetVersionString)(void); }
        var getApiBase = (delegate* unmanaged[Cdecl]<nint*>)NativeLibrary.GetExport(library, "OrtGetApiBase");
        var apiBase = getApiBase();
        var getApi = (delegate* unmanaged[Cdecl]<uint, nint*>)apiBase[0];
        var getVersionString = (delegate* unmanaged[Cdecl]<byte*>)apiBase[1];
        Version = Marshal.PtrToStringUTF8((nint)getVersionString()) ?? "";

        var table = getApi(ApiVersion);
        if (table is null)
            throw new InvalidOperationException(
                $"ONNX Runtime {Version} does not provide API version {ApiVersion}; RobotRuntime needs ONNX Runtime 1.30 or later " +
                $"(run `{NativeDependency.InstallCommand}` to install 1.30.0).");

        CreateStatus = (delegate* unmanaged[Cdecl]<int, byte*, nint>)table[0];            // OrtStatus* CreateStatus(OrtErrorCode, const char*)
        GetErrorCode = (delegate* unmanaged[Cdecl]<nint, int>)table[1];                   // OrtErrorCode GetErrorCode(const OrtStatus*)
        GetErrorMessage = (delegate* unmanaged[Cdecl]<nint, byte*>)table[2];              // const char* GetErrorMessage(const OrtStatus*)
        ReleaseStatus = (delegate* unmanaged[Cdecl]<nint, void>)table[93];                // void ReleaseStatus(OrtStatus*)
        GetAvailableProviders = (delegate* unmanaged[Cdecl]<byte***, int*, nint>)table[125];   // OrtStatus* GetAvailableProviders(char*** out, int* length)
        ReleaseAvailableProviders = (delegate* unmanaged[Cdecl]<byte**, int, nint>)table[126]; // OrtStatus* ReleaseAvailableProviders(char** ptr, int length)
    }

    /// <summary>The library's version string, e.g. "1.30.0".</summary>
    public string Version { get; }

    public delegate* unmanaged[Cdecl]<int, byte*, nint> CreateStatus { get; }
    public delegate* unmanaged[Cdecl]<nint, int> GetErrorCode { get; }
    public delegate* unmanaged[Cdecl]<nint, byte*> GetErrorMessage { get; }
    public delegate* unmanaged[Cdecl]<nint, void> ReleaseStatus { get; }
    public delegate* unmanaged[Cdecl]<byte***, int*, nint> GetAvailableProviders { get; }
    public delegate* unmanaged[Cdecl]<byte**, int, nint> ReleaseAvailableProviders { get; }

    /// <summary>The table from the library the default locator finds; loaded on first use.</summary>
    /// <remarks>Lock-free after the first call (per-call code reads it on every native call).</remarks>
    public static OrtApi Default =>
        Volatile.Read(ref _default) ?? LazyInitializer.EnsureInitialized(ref _default, () => Load(NativeLibraryLocator.Default));

    /// <summary>Loads ONNX Runtime through <paramref name="locator"/>; throws <see cref="NativeDependencyMissingException"/> if absent.</summary>
    public static OrtApi Load(NativeLibraryLocator locator) => new(locator.Load(NativeDependency.OnnxRuntime));

    /// <summary>
    /// The one place a returned <c>OrtStatus*</c> is checked: null is success; otherwise its code
    /// and message become an <see cref="OnnxRuntimeException"/> and the status is released.
    /// </summary>
    public void VerifySuccess(nint status)
    {
        if (status == 0)
            return;
        var code = (OrtErrorCode)GetErrorCode(status);
        var message = Marshal.PtrToStringUTF8((nint)GetErrorMessage(status)) ?? "";
        ReleaseStatus(status);
        throw new OnnxRuntimeException(code, message);
    }
}
