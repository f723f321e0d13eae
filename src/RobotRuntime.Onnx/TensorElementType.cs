namespace RobotRuntime.Onnx;

/// <summary>ONNX tensor element types (<c>ONNXTensorElementDataType</c>), the ones RobotRuntime handles.</summary>
public enum TensorElementType
{
    /// <summary>Not a tensor, or an element type this binding does not handle.</summary>
    Undefined = 0,
    /// <summary>float32.</summary>
    Float = 1,
    /// <summary>uint8 (camera pixels).</summary>
    UInt8 = 2,
    /// <summary>int8.</summary>
    Int8 = 3,
    /// <summary>int32.</summary>
    Int32 = 6,
    /// <summary>int64 (indices, shapes).</summary>
    Int64 = 7,
    /// <summary>bool.</summary>
    Bool = 9,
    /// <summary>float16.</summary>
    Float16 = 10,
    /// <summary>float64.</summary>
    Double = 11,
}

/// <summary>Maps CLR element types to ONNX ones.</summary>
public static class TensorElementTypes
{
    /// <summary>The ONNX element type of <typeparamref name="T"/>; throws for a type ONNX tensors cannot hold.</summary>
    public static TensorElementType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? TensorElementType.Float
        : typeof(T) == typeof(byte) ? TensorElementType.UInt8
        : typeof(T) == typeof(sbyte) ? TensorElementType.Int8
        : typeof(T) == typeof(int) ? TensorElementType.Int32
        : typeof(T) == typeof(long) ? TensorElementType.Int64
        : typeof(T) == typeof(bool) ? TensorElementType.Bool
        : typeof(T) == typeof(Half) ? TensorElementType.Float16
        : typeof(T) == typeof(double) ? TensorElementType.Double
        : throw new ArgumentException($"{typeof(T).Name} has no ONNX tensor element type; use float, byte, sbyte, int, long, bool, Half or double.");

    /// <summary>The name ONNX uses for <paramref name="type"/> in messages, e.g. "float32".</summary>
    public static string Name(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float32",
        TensorElementType.UInt8 => "uint8",
        TensorElementType.Int8 => "int8",
        TensorElementType.Int32 => "int32",
        TensorElementType.Int64 => "int64",
        TensorElementType.Bool => "bool",
        TensorElementType.Float16 => "float16",
        TensorElementType.Double => "float64",
        _ => "undefined",
    };
}
