using System.Text;

namespace RobotRuntime.Tensors;

/// <summary>
/// A dense, row-major (C-order), contiguous float32 tensor. Views created by <see cref="Reshape"/>
/// and <see cref="SliceRows"/> share the storage of the tensor they come from.
/// </summary>
/// <remarks>
/// A tensor created by an op while a <see cref="Tape"/> is recording borrows its storage from the
/// tape's pool: it stays valid until <see cref="Tape.Reset"/> (or <see cref="Tape.Dispose"/>);
/// <see cref="Clone"/> it to keep it longer. Tensors created with the static factories own
/// their storage. Not thread-safe: one thread uses a tensor at a time.
/// </remarks>
public sealed class Tensor
{
    private readonly int[] _shape;

    internal float[] Storage;
    internal int Offset;
    internal Node? Creator;
    internal bool OwnedByTape;
    internal bool GradOwnedByTape;

    internal Tensor(float[] storage, int offset, int[] shape)
    {
        _shape = shape;
        Length = CheckedLength(shape, nameof(shape));
        if (offset < 0 || offset + Length > storage.Length)
        {
            throw new ArgumentException($"A tensor of shape {Format(shape)} needs {Length} elements from offset {offset}, but the storage holds {storage.Length}.", nameof(storage));
        }
        Storage = storage;
        Offset = offset;
    }

    /// <summary>The size of each dimension, outermost first.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements (the product of the shape; 1 for a rank-0 scalar).</summary>
    public int Length { get; }

    /// <summary>The elements in row-major order. Writes go to the shared storage.</summary>
    /// <remarks>Real-time: no allocation, no blocking, no throw.</remarks>
    public Span<float> Span => new(Storage, Offset, Length);

    /// <summary>
    /// Whether gradients flow into this tensor. Set it on leaves (inputs, parameters); an op's
    /// output requires a gradient when any of its inputs does and gradients are enabled.
    /// </summary>
    public bool RequiresGrad { get; set; }

    /// <summary>
    /// The gradient accumulated by <see cref="Tape.Backward"/>, same shape as this tensor, or
    /// null before any backward pass reached it. For leaves it persists until
    /// <see cref="ZeroGrad"/>; for op outputs it lives until the tape is reset.
    /// </summary>
    public Tensor? Grad
    {
        get
        {
            if (_gradCleared)
            {
                // ZeroGrad deferred the clearing: the first reader sees zeros.
                _grad!.Span.Clear();
                _gradCleared = false;
            }
            return _grad;
        }
        internal set
        {
            _grad = value;
            _gradCleared = false;
        }
    }

    private Tensor? _grad;

    // Set by ZeroGrad: the gradient's value is zero but its buffer still holds the old values. Grad
    // clears it on first read; Tape.GradientToOverwrite hands the buffer to a backward that writes every
    // element, so the clear and the accumulating read are both skipped.
    private bool _gradCleared;

    /// <summary>Size of dimension <paramref name="dim"/>; negative counts from the end.</summary>
    public int Size(int dim)
    {
        int d = dim < 0 ? dim + Rank : dim;
        if ((uint)d >= (uint)Rank)
        {
            throw new ArgumentOutOfRangeException(nameof(dim), $"Dimension {dim} is outside a tensor of shape {ShapeString}.");
        }
        return _shape[d];
    }

    /// <summary>The shape as text, e.g. "[256, 512]", for messages.</summary>
    public string ShapeString => Format(_shape);

    /// <summary>A new zero-filled tensor that owns its storage. Setup only.</summary>
    public static Tensor Zeros(params int[] shape)
    {
        int[] copy = (int[])shape.Clone();
        return new Tensor(new float[CheckedLength(copy, nameof(shape))], 0, copy);
    }

    /// <summary>A new tensor that owns a copy of <paramref name="values"/>. Setup only.</summary>
    /// <exception cref="ArgumentException">The number of values does not match the shape.</exception>
    public static Tensor FromArray(ReadOnlySpan<float> values, params int[] shape)
    {
        int[] copy = (int[])shape.Clone();
        int length = CheckedLength(copy, nameof(shape));
        if (values.Length != length)
        {
            throw new ArgumentException($"values has {values.Length} elements but shape {Format(copy)} needs {length}.", nameof(values));
        }
        var storage = values.ToArray();
        return new Tensor(storage, 0, copy);
    }

    /// <summary>A rank-0 tensor holding <paramref name="value"/>.</summary>
    public static Tensor Scalar(float value) => new([value], 0, []);

    /// <summary>
    /// A tensor filled with normal samples of the given standard deviation (Box–Muller on
    /// <paramref name="random"/>, so a seed reproduces it). Setup only.
    /// </summary>
    public static Tensor RandomNormal(Random random, float standardDeviation, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(random);
        var t = Zeros(shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i += 2)
        {
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1));
            s[i] = (float)(standardDeviation * r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < s.Length)
            {
                s[i + 1] = (float)(standardDeviation * r * Math.Sin(2 * Math.PI * u2));
            }
        }
        return t;
    }

    /// <summary>A tensor filled with uniform samples in [<paramref name="low"/>, <paramref name="high"/>). Setup only.</summary>
    public static Tensor RandomUniform(Random random, float low, float high, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(random);
        var t = Zeros(shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++)
        {
            s[i] = (float)(low + (high - low) * random.NextDouble());
        }
        return t;
    }

    /// <summary>The single element of a one-element tensor.</summary>
    /// <exception cref="InvalidOperationException">The tensor has more than one element.</exception>
    public float Item()
    {
        if (Length != 1)
        {
            throw new InvalidOperationException($"Item() needs a one-element tensor, but this one has shape {ShapeString}.");
        }
        return Storage[Offset];
    }

    /// <summary>A copy that owns its storage and does not take part in autograd.</summary>
    public Tensor Clone()
    {
        var copy = new Tensor(new float[Length], 0, (int[])_shape.Clone());
        Span.CopyTo(copy.Span);
        return copy;
    }

    /// <summary>
    /// A view with a new shape and the same elements (one dimension may be -1 and is inferred).
    /// Records a node when gradients flow, so the view's gradient reaches this tensor.
    /// </summary>
    /// <exception cref="ArgumentException">The new shape holds a different number of elements.</exception>
    public Tensor Reshape(params int[] shape) => Ops.Reshape(this, shape);

    /// <summary>
    /// A view of rows [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>)
    /// along the first dimension, sharing storage. Gradients flow back into this tensor.
    /// </summary>
    public Tensor SliceRows(int start, int count) => Ops.SliceRows(this, start, count);

    /// <summary>
    /// Sets the accumulated gradient of this tensor to zero (keeps its buffer). The buffer is cleared when
    /// <see cref="Grad"/> is next read, or written over by the next backward: a reference to the gradient
    /// tensor taken before this call still shows the old values until then.
    /// </summary>
    public void ZeroGrad()
    {
        if (_grad is not null)
        {
            _gradCleared = true;
        }
    }

    /// <summary>The gradient's buffer as it is, without the clear a <see cref="ZeroGrad"/> deferred (for the tape's reset).</summary>
    internal Tensor? GradBuffer => _grad;

    /// <summary>
    /// The gradient buffer for a backward that writes every element of it: an existing gradient that
    /// holds a value (accumulate into it; <paramref name="overwrite"/> false), or one whose value is zero
    /// (a buffer zeroed by <see cref="ZeroGrad"/> but not yet cleared; <paramref name="overwrite"/> true,
    /// and its contents are undefined until written). Null when there is no buffer yet.
    /// </summary>
    internal Tensor? GradForOverwrite(out bool overwrite)
    {
        overwrite = _gradCleared;
        _gradCleared = false;
        return _grad;
    }

    /// <summary>Copies <paramref name="source"/>'s elements into this tensor.</summary>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public void CopyFrom(Tensor source)
    {
        ArgumentNullException.ThrowIfNull(source);
        Shapes.RequireSame(source, this, nameof(source));
        source.Span.CopyTo(Span);
    }

    /// <inheritdoc />
    public override string ToString() => $"Tensor{ShapeString}";

    internal int[] ShapeArray => _shape;

    internal static int CheckedLength(ReadOnlySpan<int> shape, string name)
    {
        long length = 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"{name} {Format(shape)} has a negative dimension.", name);
            }
            length *= d;
            if (length > Array.MaxLength)
            {
                throw new ArgumentException($"{name} {Format(shape)} holds more elements than an array can.", name);
            }
        }
        return (int)length;
    }

    internal static string Format(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }
            sb.Append(shape[i]);
        }
        return sb.Append(']').ToString();
    }
}
