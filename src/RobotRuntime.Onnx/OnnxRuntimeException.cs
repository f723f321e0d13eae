namespace RobotRuntime.Onnx;

/// <summary>ONNX Runtime's error codes (<c>OrtErrorCode</c> in <c>onnxruntime_c_api.h</c>).</summary>
public enum OrtErrorCode
{
    /// <summary>ORT_OK.</summary>
    Ok = 0,
    /// <summary>ORT_FAIL.</summary>
    Fail = 1,
    /// <summary>ORT_INVALID_ARGUMENT.</summary>
    InvalidArgument = 2,
    /// <summary>ORT_NO_SUCHFILE.</summary>
    NoSuchFile = 3,
    /// <summary>ORT_NO_MODEL.</summary>
    NoModel = 4,
    /// <summary>ORT_ENGINE_ERROR.</summary>
    EngineError = 5,
    /// <summary>ORT_RUNTIME_EXCEPTION.</summary>
    RuntimeException = 6,
    /// <summary>ORT_INVALID_PROTOBUF.</summary>
    InvalidProtobuf = 7,
    /// <summary>ORT_MODEL_LOADED.</summary>
    ModelLoaded = 8,
    /// <summary>ORT_NOT_IMPLEMENTED.</summary>
    NotImplemented = 9,
    /// <summary>ORT_INVALID_GRAPH.</summary>
    InvalidGraph = 10,
    /// <summary>ORT_EP_FAIL.</summary>
    ExecutionProviderFail = 11,
}

/// <summary>An ONNX Runtime call returned a non-null status; carries its code and message.</summary>
public sealed class OnnxRuntimeException(OrtErrorCode code, string message)
    : Exception($"ONNX Runtime error {code}: {message}")
{
    /// <summary>The status code ONNX Runtime returned.</summary>
    public OrtErrorCode ErrorCode { get; } = code;

    /// <summary>ONNX Runtime's own message, without the code prefix.</summary>
    public string OrtMessage { get; } = message;
}
