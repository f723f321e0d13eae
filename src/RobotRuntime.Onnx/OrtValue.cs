using System.Buffers;
using System.Runtime.InteropServices;

namespace RobotRuntime.Onnx;

/// <summary>
/// A tensor ONNX Runtime reads or writes: either over caller memory that stays pinned for the
/// life of the value (zero copy in and out), or over memory ONNX Runtime allocated. Mirrors
/// Microsoft.ML.OnnxRuntime's <c>OrtValue</c>.
/// </summary>
/// <remarks>
/// Create at setup; the data span is real-time safe (no native call, no allocation). Not
/// thread-safe: one writer at a time, and not while a run that uses it is in progress.
/// </remarks>
public sealed unsafe class OrtValue : IDisposable
{
    private readonly long[] _shape;
    private MemoryHandle _pin;
    private readonly void* _data;

    private OrtValue(OrtValueHandle handle, TensorElementType elementType, long[] shape, MemoryHandle pin)
    {
        Handle = handle;
        ElementType = elementType;
        _shape = shape;
        _pin = pin;
        ElementCount = ElementCountOf(shape);
        void* data;
        OrtApi.Default.VerifySuccess(OrtApi.Default.GetTensorMutableData(handle.Pointer, &data));
        _data = data;
    }

    internal OrtValueHandle Handle { get; }

    /// <summary>The element type of the tensor.</summary>
    public TensorElementType ElementType { get; }

    /// <summary>The tensor's shape (all dimensions concrete).</summary>
    public ReadOnlySpan<long> Shape => _shape;

    /// <summary>Number of elements (product of <see cref="Shape"/>).</summary>
    public long ElementCount { get; }

    /// <summary>
    /// Wraps <paramref name="data"/> as a tensor of <paramref name="shape"/> without copying. The
    /// memory is pinned until this value is disposed; writes to it are what the next run sees.
    /// </summary>
    /// <exception cref="ArgumentException">The data length does not equal the product of the shape, or a dimension is negative.</exception>
    public static OrtValue CreateTensorValueFromMemory<T>(Memory<T> data, ReadOnlySpan<long> shape) where T : unmanaged
    {
        var elementType = TensorElementTypes.Of<T>();
        var dims = shape.ToArray();
        var count = ElementCountOf(dims);
        if (data.Length != count)
            throw new ArgumentException(
                $"data holds {data.Length} {TensorElementTypes.Name(elementType)} elements but shape {Format(dims)} needs {count}.", nameof(data));

        var env = OrtEnv.Instance();
        var pin = data.Pin();
        try
        {
            nint value;
            fixed (long* dimsPointer = dims)
                OrtApi.Default.VerifySuccess(OrtApi.Default.CreateTensorWithDataAsOrtValue(
                    env.CpuMemoryInfo.Pointer, pin.Pointer, (nuint)(data.Length * sizeof(T)), dimsPointer, (nuint)dims.Length, (int)elementType, &value));
            var handle = new OrtValueHandle();
            handle.Attach(value);
            return new OrtValue(handle, elementType, dims, pin);
        }
        catch
        {
            pin.Dispose();
            throw;
        }
    }

    /// <summary>Wraps an array as a tensor without copying; see <see cref="CreateTensorValueFromMemory{T}(Memory{T}, ReadOnlySpan{long})"/>.</summary>
    public static OrtValue CreateTensorValueFromMemory<T>(T[] data, ReadOnlySpan<long> shape) where T : unmanaged =>
        CreateTensorValueFromMemory(new Memory<T>(data), shape);

    /// <summary>A tensor of <paramref name="shape"/> in memory ONNX Runtime allocates and frees with this value.</summary>
    public static OrtValue CreateAllocatedTensorValue(TensorElementType elementType, ReadOnlySpan<long> shape)
    {
        var dims = shape.ToArray();
        _ = ElementCountOf(dims);
        var env = OrtEnv.Instance();
        nint value;
        fixed (long* dimsPointer = dims)
            OrtApi.Default.VerifySuccess(OrtApi.Default.CreateTensorAsOrtValue(env.DefaultAllocator, dimsPointer, (nuint)dims.Length, (int)elementType, &value));
        var handle = new OrtValueHandle();
        handle.Attach(value);
        return new OrtValue(handle, elementType, dims, default);
    }

    /// <summary>Takes ownership of a value ONNX Runtime created (a run's output).</summary>
    internal static OrtValue FromNative(nint value)
    {
        var handle = new OrtValueHandle();
        handle.Attach(value);
        var api = OrtApi.Default;
        nint info;
        api.VerifySuccess(api.GetTensorTypeAndShape(value, &info));
        using var owned = new OrtTensorTypeAndShapeInfoHandle();
        owned.Attach(info);
        var (type, dims, _) = NodeMetadata.ReadTensorInfo(info);
        return new OrtValue(handle, type, dims, default);
    }

    /// <summary>
    /// The tensor's elements, in row-major order. Valid until this value is disposed.
    /// </summary>
    /// <remarks>Real-time: no allocation, no native call.</remarks>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> is not the tensor's element type.</exception>
    public Span<T> GetTensorMutableDataAsSpan<T>() where T : unmanaged
    {
        if (TensorElementTypes.Of<T>() != ElementType)
            throw new InvalidOperationException($"the tensor holds {TensorElementTypes.Name(ElementType)}, not {typeof(T).Name}.");
        ObjectDisposedException.ThrowIf(Handle.IsClosed, this);
        return new Span<T>(_data, checked((int)ElementCount));
    }

    /// <summary>The tensor's elements, read-only; see <see cref="GetTensorMutableDataAsSpan{T}"/>.</summary>
    public ReadOnlySpan<T> GetTensorDataAsSpan<T>() where T : unmanaged => GetTensorMutableDataAsSpan<T>();

    /// <inheritdoc />
    public void Dispose()
    {
        Handle.Dispose();
        _pin.Dispose();
        _pin = default;
    }

    internal static long ElementCountOf(ReadOnlySpan<long> dims)
    {
        long count = 1;
        foreach (var d in dims)
        {
            if (d < 0)
                throw new ArgumentException($"shape {Format(dims)} has a negative dimension; a tensor needs concrete sizes.", "shape");
            count = checked(count * d);
        }
        return count;
    }

    internal static string Format(ReadOnlySpan<long> dims) => "[" + string.Join(",", dims.ToArray()) + "]";
}
