using System.Runtime.InteropServices;

namespace RobotRuntime.Onnx;

/// <summary>What a model says about one of its inputs or outputs.</summary>
public sealed class NodeMetadata
{
    internal NodeMetadata(string name, bool isTensor, TensorElementType elementType, long[] dimensions, string[] symbolicDimensions)
    {
        Name = name;
        IsTensor = isTensor;
        ElementType = elementType;
        Dimensions = dimensions;
        SymbolicDimensions = symbolicDimensions;
    }

    /// <summary>The input or output name.</summary>
    public string Name { get; }

    /// <summary>Whether it is a tensor (RobotRuntime handles tensors only).</summary>
    public bool IsTensor { get; }

    /// <summary>The element type.</summary>
    public TensorElementType ElementType { get; }

    /// <summary>The dimensions; -1 where the model leaves a dimension free (e.g. batch).</summary>
    public IReadOnlyList<long> Dimensions { get; }

    /// <summary>The names of free dimensions ("batch"), "" where a dimension is fixed or unnamed.</summary>
    public IReadOnlyList<string> SymbolicDimensions { get; }

    /// <summary>The shape as text, free dimensions by name, e.g. "[batch,3,112,112]".</summary>
    public string ShapeText => "[" + string.Join(",", Dimensions.Select((d, i) =>
        d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : SymbolicDimensions[i].Length > 0 ? SymbolicDimensions[i] : "?")) + "]";

    /// <summary>"name: float32[batch,8]".</summary>
    public override string ToString() => $"{Name}: {TensorElementTypes.Name(ElementType)}{ShapeText}";

    /// <summary>
    /// Null if a tensor of <paramref name="elementType"/> and <paramref name="shape"/> fits this
    /// node; otherwise a sentence saying what was expected and what was given.
    /// </summary>
    /// <remarks>Real-time: allocates only when it returns a message.</remarks>
    public string? Mismatch(TensorElementType elementType, ReadOnlySpan<long> shape)
    {
        var fits = elementType == ElementType && shape.Length == Dimensions.Count;
        for (var i = 0; fits && i < shape.Length; i++)
            fits = Dimensions[i] < 0 || Dimensions[i] == shape[i];
        return fits
            ? null
            : $"'{Name}' expects {TensorElementTypes.Name(ElementType)}{ShapeText}, got {TensorElementTypes.Name(elementType)}{OrtValue.Format(shape)}.";
    }

    internal static unsafe NodeMetadata Read(string name, nint typeInfo)
    {
        var api = OrtApi.Default;
        int onnxType;
        api.VerifySuccess(api.GetOnnxTypeFromTypeInfo(typeInfo, &onnxType));
        if (onnxType != 1) // ONNX_TYPE_TENSOR
            return new NodeMetadata(name, false, TensorElementType.Undefined, [], []);
        nint tensorInfo;
        api.VerifySuccess(api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo)); // owned by typeInfo
        var (type, dims, symbols) = ReadTensorInfo(tensorInfo);
        return new NodeMetadata(name, true, type, dims, symbols);
    }

    internal static unsafe (TensorElementType Type, long[] Dimensions, string[] Symbols) ReadTensorInfo(nint tensorInfo)
    {
        var api = OrtApi.Default;
        int elementType;
        nuint count;
        api.VerifySuccess(api.GetTensorElementType(tensorInfo, &elementType));
        api.VerifySuccess(api.GetDimensionsCount(tensorInfo, &count));
        var dims = new long[(int)count];
        var symbols = new string[(int)count];
        var names = stackalloc byte*[Math.Max(1, (int)count)];
        fixed (long* d = dims)
            api.VerifySuccess(api.GetDimensions(tensorInfo, d, count));
        api.VerifySuccess(api.GetSymbolicDimensions(tensorInfo, names, count));
        for (var i = 0; i < (int)count; i++)
            symbols[i] = names[i] is null ? "" : Marshal.PtrToStringUTF8((nint)names[i]) ?? "";
        var known = Enum.IsDefined((TensorElementType)elementType) ? (TensorElementType)elementType : TensorElementType.Undefined;
        return (known, dims, symbols);
    }
}
