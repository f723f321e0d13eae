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
        CreateEnv = (delegate* unmanaged[Cdecl]<int, byte*, nint*, nint>)table[3];        // OrtStatus* CreateEnv(OrtLoggingLevel, const char* logid, OrtEnv** out)
        CreateSession = (delegate* unmanaged[Cdecl]<nint, byte*, nint, nint*, nint>)table[7];                // (const OrtEnv*, const char* path, const OrtSessionOptions*, OrtSession** out)
        CreateSessionFromArray = (delegate* unmanaged[Cdecl]<nint, void*, nuint, nint, nint*, nint>)table[8]; // (const OrtEnv*, const void* data, size_t length, const OrtSessionOptions*, OrtSession** out)
        Run = (delegate* unmanaged[Cdecl]<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint>)table[9];
        // Run(OrtSession*, const OrtRunOptions*, const char* const* input_names, const OrtValue* const* inputs, size_t input_len,
        //     const char* const* output_names, size_t output_names_len, OrtValue** outputs)
        CreateSessionOptions = (delegate* unmanaged[Cdecl]<nint*, nint>)table[10];        // (OrtSessionOptions** out)
        SetSessionExecutionMode = (delegate* unmanaged[Cdecl]<nint, int, nint>)table[13]; // (OrtSessionOptions*, ExecutionMode)
        EnableCpuMemArena = (delegate* unmanaged[Cdecl]<nint, nint>)table[18];            // (OrtSessionOptions*)
        DisableCpuMemArena = (delegate* unmanaged[Cdecl]<nint, nint>)table[19];           // (OrtSessionOptions*)
        SetSessionLogSeverityLevel = (delegate* unmanaged[Cdecl]<nint, int, nint>)table[22];        // (OrtSessionOptions*, int level)
        SetSessionGraphOptimizationLevel = (delegate* unmanaged[Cdecl]<nint, int, nint>)table[23];  // (OrtSessionOptions*, GraphOptimizationLevel)
        SetIntraOpNumThreads = (delegate* unmanaged[Cdecl]<nint, int, nint>)table[24];    // (OrtSessionOptions*, int)
        SetInterOpNumThreads = (delegate* unmanaged[Cdecl]<nint, int, nint>)table[25];    // (OrtSessionOptions*, int)
        SessionGetInputCount = (delegate* unmanaged[Cdecl]<nint, nuint*, nint>)table[30]; // (const OrtSession*, size_t* out)
        SessionGetOutputCount = (delegate* unmanaged[Cdecl]<nint, nuint*, nint>)table[31];
        SessionGetInputTypeInfo = (delegate* unmanaged[Cdecl]<nint, nuint, nint*, nint>)table[33];  // (const OrtSession*, size_t index, OrtTypeInfo** out)
        SessionGetOutputTypeInfo = (delegate* unmanaged[Cdecl]<nint, nuint, nint*, nint>)table[34];
        SessionGetInputName = (delegate* unmanaged[Cdecl]<nint, nuint, nint, byte**, nint>)table[36]; // (const OrtSession*, size_t, OrtAllocator*, char** out)
        SessionGetOutputName = (delegate* unmanaged[Cdecl]<nint, nuint, nint, byte**, nint>)table[37];
        CreateRunOptions = (delegate* unmanaged[Cdecl]<nint*, nint>)table[39];            // (OrtRunOptions** out)
        RunOptionsSetRunLogSeverityLevel = (delegate* unmanaged[Cdecl]<nint, int, nint>)table[41]; // (OrtRunOptions*, int)
        RunOptionsSetRunTag = (delegate* unmanaged[Cdecl]<nint, byte*, nint>)table[42];   // (OrtRunOptions*, const char*)
        RunOptionsSetTerminate = (delegate* unmanaged[Cdecl]<nint, nint>)table[46];       // (OrtRunOptions*)
        RunOptionsUnsetTerminate = (delegate* unmanaged[Cdecl]<nint, nint>)table[47];     // (OrtRunOptions*)
        CreateTensorAsOrtValue = (delegate* unmanaged[Cdecl]<nint, long*, nuint, int, nint*, nint>)table[48];
        // CreateTensorAsOrtValue(OrtAllocator*, const int64_t* shape, size_t shape_len, ONNXTensorElementDataType, OrtValue** out)
        CreateTensorWithDataAsOrtValue = (delegate* unmanaged[Cdecl]<nint, void*, nuint, long*, nuint, int, nint*, nint>)table[49];
        // CreateTensorWithDataAsOrtValue(const OrtMemoryInfo*, void* data, size_t data_bytes, const int64_t* shape, size_t shape_len,
        //                                ONNXTensorElementDataType, OrtValue** out)
        IsTensor = (delegate* unmanaged[Cdecl]<nint, int*, nint>)table[50];               // (const OrtValue*, int* out)
        GetTensorMutableData = (delegate* unmanaged[Cdecl]<nint, void**, nint>)table[51]; // (OrtValue*, void** out)
        CastTypeInfoToTensorInfo = (delegate* unmanaged[Cdecl]<nint, nint*, nint>)table[55]; // (const OrtTypeInfo*, const OrtTensorTypeAndShapeInfo** out) — not owned
        GetOnnxTypeFromTypeInfo = (delegate* unmanaged[Cdecl]<nint, int*, nint>)table[56];   // (const OrtTypeInfo*, ONNXType* out)
        GetTensorElementType = (delegate* unmanaged[Cdecl]<nint, int*, nint>)table[60];      // (const OrtTensorTypeAndShapeInfo*, ONNXTensorElementDataType* out)
        GetDimensionsCount = (delegate* unmanaged[Cdecl]<nint, nuint*, nint>)table[61];      // (const OrtTensorTypeAndShapeInfo*, size_t* out)
        GetDimensions = (delegate* unmanaged[Cdecl]<nint, long*, nuint, nint>)table[62];     // (const OrtTensorTypeAndShapeInfo*, int64_t* dims, size_t length)
        GetSymbolicDimensions = (delegate* unmanaged[Cdecl]<nint, byte**, nuint, nint>)table[63]; // (const OrtTensorTypeAndShapeInfo*, const char* dim_params[], size_t length)
        GetTensorShapeElementCount = (delegate* unmanaged[Cdecl]<nint, nuint*, nint>)table[64]; // (const OrtTensorTypeAndShapeInfo*, size_t* out)
        GetTensorTypeAndShape = (delegate* unmanaged[Cdecl]<nint, nint*, nint>)table[65];    // (const OrtValue*, OrtTensorTypeAndShapeInfo** out)
        CreateCpuMemoryInfo = (delegate* unmanaged[Cdecl]<int, int, nint*, nint>)table[69];  // (OrtAllocatorType, OrtMemType, OrtMemoryInfo** out)
        AllocatorFree = (delegate* unmanaged[Cdecl]<nint, void*, nint>)table[76];            // (OrtAllocator*, void* p)
        GetAllocatorWithDefaultOptions = (delegate* unmanaged[Cdecl]<nint*, nint>)table[78]; // (OrtAllocator** out)
        ReleaseEnv = (delegate* unmanaged[Cdecl]<nint, void>)table[92];                      // void ReleaseEnv(OrtEnv*)
        ReleaseStatus = (delegate* unmanaged[Cdecl]<nint, void>)table[93];                   // void ReleaseStatus(OrtStatus*)
        ReleaseMemoryInfo = (delegate* unmanaged[Cdecl]<nint, void>)table[94];
        ReleaseSession = (delegate* unmanaged[Cdecl]<nint, void>)table[95];
        ReleaseValue = (delegate* unmanaged[Cdecl]<nint, void>)table[96];
        ReleaseRunOptions = (delegate* unmanaged[Cdecl]<nint, void>)table[97];
        ReleaseTypeInfo = (delegate* unmanaged[Cdecl]<nint, void>)table[98];
        ReleaseTensorTypeAndShapeInfo = (delegate* unmanaged[Cdecl]<nint, void>)table[99];
        ReleaseSessionOptions = (delegate* unmanaged[Cdecl]<nint, void>)table[100];
        SessionGetModelMetadata = (delegate* unmanaged[Cdecl]<nint, nint*, nint>)table[111];          // (const OrtSession*, OrtModelMetadata** out)
        ModelMetadataGetProducerName = (delegate* unmanaged[Cdecl]<nint, nint, byte**, nint>)table[112]; // (const OrtModelMetadata*, OrtAllocator*, char** out)
        ModelMetadataGetGraphName = (delegate* unmanaged[Cdecl]<nint, nint, byte**, nint>)table[113];
        ModelMetadataGetVersion = (delegate* unmanaged[Cdecl]<nint, long*, nint>)table[117];          // (const OrtModelMetadata*, int64_t* out)
        ReleaseModelMetadata = (delegate* unmanaged[Cdecl]<nint, void>)table[118];
        GetAvailableProviders = (delegate* unmanaged[Cdecl]<byte***, int*, nint>)table[125];   // OrtStatus* GetAvailableProviders(char*** out, int* length)
        ReleaseAvailableProviders = (delegate* unmanaged[Cdecl]<byte**, int, nint>)table[126]; // OrtStatus* ReleaseAvailableProviders(char** ptr, int length)
        AddSessionConfigEntry = (delegate* unmanaged[Cdecl]<nint, byte*, byte*, nint>)table[130]; // (OrtSessionOptions*, const char* key, const char* value)
        RunWithBinding = (delegate* unmanaged[Cdecl]<nint, nint, nint, nint>)table[133];   // (OrtSession*, const OrtRunOptions*, const OrtIoBinding*)
        CreateIoBinding = (delegate* unmanaged[Cdecl]<nint, nint*, nint>)table[134];       // (OrtSession*, OrtIoBinding** out)
        ReleaseIoBinding = (delegate* unmanaged[Cdecl]<nint, void>)table[135];
        BindInput = (delegate* unmanaged[Cdecl]<nint, byte*, nint, nint>)table[136];       // (OrtIoBinding*, const char* name, const OrtValue*)
        BindOutput = (delegate* unmanaged[Cdecl]<nint, byte*, nint, nint>)table[137];      // (OrtIoBinding*, const char* name, const OrtValue*)
        ClearBoundInputs = (delegate* unmanaged[Cdecl]<nint, void>)table[141];             // void (OrtIoBinding*)
        ClearBoundOutputs = (delegate* unmanaged[Cdecl]<nint, void>)table[142];            // void (OrtIoBinding*)
        SessionOptionsAppendExecutionProvider_CUDA_V2 = (delegate* unmanaged[Cdecl]<nint, nint, nint>)table[204]; // (OrtSessionOptions*, const OrtCUDAProviderOptionsV2*)
        CreateCUDAProviderOptions = (delegate* unmanaged[Cdecl]<nint*, nint>)table[205];   // (OrtCUDAProviderOptionsV2** out)
        UpdateCUDAProviderOptions = (delegate* unmanaged[Cdecl]<nint, byte**, byte**, nuint, nint>)table[206]; // (OrtCUDAProviderOptionsV2*, const char* const* keys, const char* const* values, size_t n)
        ReleaseCUDAProviderOptions = (delegate* unmanaged[Cdecl]<nint, void>)table[208];   // void (OrtCUDAProviderOptionsV2*)
    }

    /// <summary>The library's version string, e.g. "1.30.0".</summary>
    public string Version { get; }

    /// <summary>OrtApi slot 0.</summary>
    public readonly delegate* unmanaged[Cdecl]<int, byte*, nint> CreateStatus;
    /// <summary>OrtApi slot 1.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, int> GetErrorCode;
    /// <summary>OrtApi slot 2.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, byte*> GetErrorMessage;
    /// <summary>OrtApi slot 3.</summary>
    public readonly delegate* unmanaged[Cdecl]<int, byte*, nint*, nint> CreateEnv;
    /// <summary>OrtApi slot 7.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, byte*, nint, nint*, nint> CreateSession;
    /// <summary>OrtApi slot 8.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void*, nuint, nint, nint*, nint> CreateSessionFromArray;
    /// <summary>OrtApi slot 9.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint> Run;
    /// <summary>OrtApi slot 10.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint*, nint> CreateSessionOptions;
    /// <summary>OrtApi slot 13.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, int, nint> SetSessionExecutionMode;
    /// <summary>OrtApi slot 18.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nint> EnableCpuMemArena;
    /// <summary>OrtApi slot 19.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nint> DisableCpuMemArena;
    /// <summary>OrtApi slot 22.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, int, nint> SetSessionLogSeverityLevel;
    /// <summary>OrtApi slot 23.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, int, nint> SetSessionGraphOptimizationLevel;
    /// <summary>OrtApi slot 24.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, int, nint> SetIntraOpNumThreads;
    /// <summary>OrtApi slot 25.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, int, nint> SetInterOpNumThreads;
    /// <summary>OrtApi slot 30.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nuint*, nint> SessionGetInputCount;
    /// <summary>OrtApi slot 31.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nuint*, nint> SessionGetOutputCount;
    /// <summary>OrtApi slot 33.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nuint, nint*, nint> SessionGetInputTypeInfo;
    /// <summary>OrtApi slot 34.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nuint, nint*, nint> SessionGetOutputTypeInfo;
    /// <summary>OrtApi slot 36.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nuint, nint, byte**, nint> SessionGetInputName;
    /// <summary>OrtApi slot 37.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nuint, nint, byte**, nint> SessionGetOutputName;
    /// <summary>OrtApi slot 39.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint*, nint> CreateRunOptions;
    /// <summary>OrtApi slot 41.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, int, nint> RunOptionsSetRunLogSeverityLevel;
    /// <summary>OrtApi slot 42.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, byte*, nint> RunOptionsSetRunTag;
    /// <summary>OrtApi slot 46.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nint> RunOptionsSetTerminate;
    /// <summary>OrtApi slot 47.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nint> RunOptionsUnsetTerminate;
    /// <summary>OrtApi slot 48.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, long*, nuint, int, nint*, nint> CreateTensorAsOrtValue;
    /// <summary>OrtApi slot 49.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void*, nuint, long*, nuint, int, nint*, nint> CreateTensorWithDataAsOrtValue;
    /// <summary>OrtApi slot 50.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, int*, nint> IsTensor;
    /// <summary>OrtApi slot 51.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void**, nint> GetTensorMutableData;
    /// <summary>OrtApi slot 55.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nint*, nint> CastTypeInfoToTensorInfo;
    /// <summary>OrtApi slot 56.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, int*, nint> GetOnnxTypeFromTypeInfo;
    /// <summary>OrtApi slot 60.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, int*, nint> GetTensorElementType;
    /// <summary>OrtApi slot 61.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nuint*, nint> GetDimensionsCount;
    /// <summary>OrtApi slot 62.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, long*, nuint, nint> GetDimensions;
    /// <summary>OrtApi slot 63.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, byte**, nuint, nint> GetSymbolicDimensions;
    /// <summary>OrtApi slot 64.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nuint*, nint> GetTensorShapeElementCount;
    /// <summary>OrtApi slot 65.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nint*, nint> GetTensorTypeAndShape;
    /// <summary>OrtApi slot 69.</summary>
    public readonly delegate* unmanaged[Cdecl]<int, int, nint*, nint> CreateCpuMemoryInfo;
    /// <summary>OrtApi slot 76.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void*, nint> AllocatorFree;
    /// <summary>OrtApi slot 78.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint*, nint> GetAllocatorWithDefaultOptions;
    /// <summary>OrtApi slot 92.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseEnv;
    /// <summary>OrtApi slot 93.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseStatus;
    /// <summary>OrtApi slot 94.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseMemoryInfo;
    /// <summary>OrtApi slot 95.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseSession;
    /// <summary>OrtApi slot 96.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseValue;
    /// <summary>OrtApi slot 97.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseRunOptions;
    /// <summary>OrtApi slot 98.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseTypeInfo;
    /// <summary>OrtApi slot 99.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseTensorTypeAndShapeInfo;
    /// <summary>OrtApi slot 100.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseSessionOptions;
    /// <summary>OrtApi slot 111.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nint*, nint> SessionGetModelMetadata;
    /// <summary>OrtApi slot 112.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nint, byte**, nint> ModelMetadataGetProducerName;
    /// <summary>OrtApi slot 113.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nint, byte**, nint> ModelMetadataGetGraphName;
    /// <summary>OrtApi slot 117.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, long*, nint> ModelMetadataGetVersion;
    /// <summary>OrtApi slot 118.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseModelMetadata;
    /// <summary>OrtApi slot 125.</summary>
    public readonly delegate* unmanaged[Cdecl]<byte***, int*, nint> GetAvailableProviders;
    /// <summary>OrtApi slot 126.</summary>
    public readonly delegate* unmanaged[Cdecl]<byte**, int, nint> ReleaseAvailableProviders;
    /// <summary>OrtApi slot 130.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, byte*, byte*, nint> AddSessionConfigEntry;
    /// <summary>OrtApi slot 133.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nint, nint, nint> RunWithBinding;
    /// <summary>OrtApi slot 134.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nint*, nint> CreateIoBinding;
    /// <summary>OrtApi slot 135.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseIoBinding;
    /// <summary>OrtApi slot 136.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, byte*, nint, nint> BindInput;
    /// <summary>OrtApi slot 137.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, byte*, nint, nint> BindOutput;
    /// <summary>OrtApi slot 141.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> ClearBoundInputs;
    /// <summary>OrtApi slot 142.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> ClearBoundOutputs;
    /// <summary>OrtApi slot 204.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, nint, nint> SessionOptionsAppendExecutionProvider_CUDA_V2;
    /// <summary>OrtApi slot 205.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint*, nint> CreateCUDAProviderOptions;
    /// <summary>OrtApi slot 206.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, byte**, byte**, nuint, nint> UpdateCUDAProviderOptions;
    /// <summary>OrtApi slot 208.</summary>
    public readonly delegate* unmanaged[Cdecl]<nint, void> ReleaseCUDAProviderOptions;

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
