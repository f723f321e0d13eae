namespace RobotRuntime.Tensors;

/// <summary>
/// The reverse-mode autograd tape and the memory arena of one step. While a tape is
/// <see cref="Record">recording</see> on a thread, every op's output borrows storage from the
/// tape's pool and (when gradients flow) appends a node; <see cref="Backward"/> walks the nodes in
/// reverse; <see cref="Reset"/> returns all borrowed storage to the pool so the next step of the
/// same shapes allocates no new tensor memory.
/// </summary>
/// <remarks>
/// Setup: create one tape per training loop (or per planner) and reuse it. A tape belongs to the
/// thread that records on it. Tensors produced while recording are valid until
/// <see cref="Reset"/>.
/// </remarks>
public sealed class Tape : IDisposable
{
    [ThreadStatic] private static Tape? s_current;
    [ThreadStatic] private static int s_noGradDepth;

    private readonly List<Node> _nodes = new(256);
    private readonly List<Tensor> _borrowed = new(256);
    private readonly List<Tensor> _gradsBorrowed = new(256);
    private readonly Dictionary<int, Stack<float[]>> _free = new();
    private Tape? _previous;
    private bool _recording;
    private long _bytesAllocated;

    /// <summary>The tape recording on this thread, or null.</summary>
    public static Tape? Current => s_current;

    /// <summary>Whether ops on this thread record gradients (false inside <see cref="NoGrad"/>).</summary>
    public static bool IsGradEnabled => s_noGradDepth == 0;

    /// <summary>Bytes of tensor storage this tape has allocated from the GC since it was created (diagnostics).</summary>
    public long StorageBytesAllocated => _bytesAllocated;

    /// <summary>Number of nodes recorded since the last reset.</summary>
    public int NodeCount => _nodes.Count;

    /// <summary>
    /// Makes this tape the current one on this thread until the returned scope is disposed.
    /// Scopes nest: disposing restores the previously current tape.
    /// </summary>
    /// <exception cref="InvalidOperationException">This tape is already recording.</exception>
    public RecordingScope Record()
    {
        if (_recording)
        {
            throw new InvalidOperationException("This tape is already recording; dispose its scope first.");
        }
        _recording = true;
        _previous = s_current;
        s_current = this;
        return new RecordingScope(this);
    }

    /// <summary>
    /// Disables gradient recording on this thread until the returned scope is disposed (ops still
    /// take their outputs from the current tape's pool). Scopes nest.
    /// </summary>
    public static NoGradScope NoGrad()
    {
        s_noGradDepth++;
        return default;
    }

    /// <summary>
    /// Back-propagates from <paramref name="loss"/> (a one-element tensor; its gradient is 1)
    /// through every node recorded since the last reset, accumulating into each
    /// <see cref="Tensor.Grad"/> of tensors that require gradients.
    /// </summary>
    /// <exception cref="ArgumentException">The loss has more than one element or does not require a gradient.</exception>
    public void Backward(Tensor loss)
    {
        ArgumentNullException.ThrowIfNull(loss);
        if (loss.Length != 1)
        {
            throw new ArgumentException($"loss must have one element, but has shape {loss.ShapeString}.", nameof(loss));
        }
        if (!loss.RequiresGrad)
        {
            throw new ArgumentException("loss does not require a gradient: no parameter it depends on requires one, or it was computed under NoGrad.", nameof(loss));
        }
        GradientOf(loss).Span.Fill(1f);
        for (int i = _nodes.Count - 1; i >= 0; i--)
        {
            var node = _nodes[i];
            if (node.Output.Grad is not null)
            {
                node.Backward(this);
            }
        }
    }

    /// <summary>
    /// Forgets every recorded node and returns all storage borrowed since the last reset to the
    /// pool. Tensors made while recording must not be used afterwards.
    /// </summary>
    public void Reset()
    {
        foreach (var t in _gradsBorrowed)
        {
            if (t.GradBuffer is { } g)
            {
                Return(g.Storage);
                t.Grad = null;
            }
            t.GradOwnedByTape = false;
        }
        _gradsBorrowed.Clear();
        foreach (var t in _borrowed)
        {
            Return(t.Storage);
            t.Storage = [];
            t.Creator = null;
        }
        _borrowed.Clear();
        foreach (var n in _nodes)
        {
            n.Output.Creator = null;
        }
        _nodes.Clear();
    }

    /// <summary>Resets the tape and stops recording if it still is.</summary>
    public void Dispose()
    {
        if (_recording)
        {
            EndRecording();
        }
        Reset();
        _free.Clear();
    }

    internal void EndRecording()
    {
        _recording = false;
        s_current = _previous;
        _previous = null;
    }

    internal static void EndNoGrad() => s_noGradDepth--;

    /// <summary>A new output tensor whose storage comes from the current tape, or from the GC when none records. Contents are undefined.</summary>
    internal static Tensor NewOutput(int[] shape)
    {
        var tape = s_current;
        int length = Tensor.CheckedLength(shape, "shape");
        if (tape is null)
        {
            return new Tensor(new float[length], 0, shape);
        }
        var t = new Tensor(tape.Rent(length), 0, shape) { OwnedByTape = true };
        tape._borrowed.Add(t);
        return t;
    }

    /// <summary>A view that shares <paramref name="source"/>'s storage.</summary>
    internal static Tensor NewView(Tensor source, int offset, int[] shape) => new(source.Storage, offset, shape);

    /// <summary>Whether an op with these inputs must record a node.</summary>
    internal static bool ShouldRecord(Tensor a) => s_noGradDepth == 0 && s_current is not null && a.RequiresGrad;

    internal static bool ShouldRecord(Tensor a, Tensor? b) =>
        s_noGradDepth == 0 && s_current is not null && (a.RequiresGrad || (b?.RequiresGrad ?? false));

    internal static bool ShouldRecord(Tensor a, Tensor? b, Tensor? c) =>
        s_noGradDepth == 0 && s_current is not null && (a.RequiresGrad || (b?.RequiresGrad ?? false) || (c?.RequiresGrad ?? false));

    /// <summary>Appends <paramref name="node"/> to the current tape and marks its output as requiring a gradient.</summary>
    internal static void Push(Node node)
    {
        var tape = s_current!;
        node.Output.RequiresGrad = true;
        node.Output.Creator = node;
        tape._nodes.Add(node);
    }

    /// <summary>The gradient buffer of <paramref name="t"/>, created zero-filled on first use.</summary>
    internal Tensor GradientOf(Tensor t)
    {
        return t.Grad ?? NewGradient(t, clear: true);
    }

    /// <summary>
    /// The gradient buffer of <paramref name="t"/> for a backward that writes every one of its elements:
    /// when <paramref name="overwrite"/> is true the buffer's value is zero (new, or zeroed by
    /// <see cref="Tensor.ZeroGrad"/>) and its contents are undefined, so the caller must write rather than
    /// add; otherwise it holds earlier contributions to add to. Saves clearing the buffer and reading it
    /// back in the first contribution, e.g. a convolution's input gradient.
    /// </summary>
    internal Tensor GradientToOverwrite(Tensor t, out bool overwrite)
    {
        if (t.GradForOverwrite(out overwrite) is { } g)
        {
            return g;
        }
        overwrite = true;
        return NewGradient(t, clear: false);
    }

    // A new gradient buffer for t, set as its Grad: a leaf that owns its storage gets its own (zeroed by
    // the runtime), anything else one from the pool, cleared only when the caller will add into it.
    private Tensor NewGradient(Tensor t, bool clear)
    {
        Tensor g;
        if (t.OwnedByTape || t.Creator is not null || !IsLeafStorageOwner(t))
        {
            var storage = Rent(t.Length);
            if (clear)
                Array.Clear(storage, 0, t.Length);
            g = new Tensor(storage, 0, t.ShapeArray);
            t.GradOwnedByTape = true;
            _gradsBorrowed.Add(t);
        }
        else
        {
            g = new Tensor(new float[t.Length], 0, t.ShapeArray);
        }
        t.Grad = g;
        return g;
    }

    // A leaf that owns its storage (a parameter or an input made by a factory) keeps its
    // gradient across resets; views and op outputs borrow theirs from the pool.
    private static bool IsLeafStorageOwner(Tensor t) => t.Offset == 0 && t.Storage.Length == t.Length;

    private float[] Rent(int length)
    {
        if (_free.TryGetValue(length, out var stack) && stack.Count > 0)
        {
            return stack.Pop();
        }
        _bytesAllocated += (long)length * sizeof(float);
        return new float[length];
    }

    private void Return(float[] storage)
    {
        if (storage.Length == 0)
        {
            return;
        }
        if (!_free.TryGetValue(storage.Length, out var stack))
        {
            stack = new Stack<float[]>();
            _free.Add(storage.Length, stack);
        }
        stack.Push(storage);
    }

    /// <summary>Ends a <see cref="Record"/> scope.</summary>
    public readonly struct RecordingScope : IDisposable
    {
        private readonly Tape _tape;

        internal RecordingScope(Tape tape) => _tape = tape;

        /// <summary>Stops recording and restores the previously current tape (does not reset).</summary>
        public void Dispose() => _tape?.EndRecording();
    }

    /// <summary>Ends a <see cref="NoGrad"/> scope.</summary>
    public readonly struct NoGradScope : IDisposable
    {
        /// <summary>Re-enables gradient recording (if no outer scope disables it).</summary>
        public void Dispose() => EndNoGrad();
    }
}

/// <summary>One recorded op: knows its output and how to send the output's gradient to its inputs.</summary>
internal abstract class Node
{
    protected Node(Tensor output) => Output = output;

    /// <summary>The tensor this op produced.</summary>
    public Tensor Output { get; }

    /// <summary>Adds this op's contribution to the gradients of its inputs that require one.</summary>
    public abstract void Backward(Tape tape);
}
