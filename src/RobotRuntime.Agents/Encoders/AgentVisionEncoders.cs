using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Replay;
using RobotRuntime.Cameras;
using RobotRuntime.Encoders;
using RobotRuntime.Tensors;

namespace RobotRuntime.Agents.Encoders;

/// <summary>
/// The vision part of a trained agent as the control loop's <see cref="IEncoder"/>, whatever the agent's
/// encoder mode: the loop encodes (and logs the time under "encode"), and the agent's policy reads an
/// embedding and plans (logged under "plan").
/// </summary>
/// <remarks>
/// What the embedding is, per mode:
/// <list type="bullet">
/// <item>frozen: the PVR's embedding, from the loop's ONNX encoder as it is;</item>
/// <item>partial: the frozen trunk on ONNX Runtime, then the agent's trained tail on the engine, per camera;</item>
/// <item>full: the agent's fine-tuned PVR on the engine, per camera;</item>
/// <item>scratch: the agent's CNN over its frame stack of every camera (the only mode whose encoder keeps a history).</item>
/// </list>
/// </remarks>
public static class AgentVisionEncoders
{
    /// <summary>
    /// The encoder the loop runs for <paramref name="model"/>. <paramref name="pvr"/> is the ONNX encoder
    /// of the run's PVR (frozen mode) or of the agent's trunk (partial mode); null for full and scratch.
    /// The returned encoder owns <paramref name="pvr"/> when it wraps it.
    /// </summary>
    /// <exception cref="ArgumentException">The mode needs an ONNX encoder and none was given, or it was given one it cannot use.</exception>
    public static IEncoder Create(WorldModel model, IEncoder? pvr)
    {
        ArgumentNullException.ThrowIfNull(model);
        var layout = model.Layout;
        switch (layout.Kind, model.PvrTail is not null)
        {
            case (FeatureKind.Floats, false):
                if (pvr is null)
                    throw new ArgumentException($"agent '{model.Config.Encoder}' (frozen) reads a PVR's embedding: the run needs an encoder section naming that PVR");
                if (pvr.EmbeddingSize != layout.FeatureLength)
                    throw new ArgumentException($"agent '{model.Config.Encoder}' reads {layout.FeatureLength} floats per step; encoder '{pvr.Name}' gives {pvr.EmbeddingSize}");
                return pvr;
            case (FeatureKind.Floats, true):
                if (pvr is null)
                    throw new ArgumentException($"agent '{model.Config.Encoder}' (partial) reads its PVR's frozen trunk: the run needs the trunk's ONNX encoder");
                return new PvrTailEncoder(model, pvr);
            case (FeatureKind.Images, true):
                if (pvr is not null)
                    throw new ArgumentException($"agent '{model.Config.Encoder}' (full) runs its whole fine-tuned PVR itself; the run must not add encoder '{pvr.Name}'");
                return new PvrTailEncoder(model, null);
            default:
                if (pvr is not null)
                    throw new ArgumentException($"agent '{model.Config.Encoder}' (scratch) learned its own CNN from camera images; the run must not add encoder '{pvr.Name}'");
                return new ScratchCnnEncoder(model);
        }
    }

    /// <summary>Floats of the embedding the agent's policy reads per step: what <see cref="Create"/>'s encoder writes.</summary>
    public static int EmbeddingSize(WorldModel model)
    {
        var layout = model.Layout;
        if (model.PvrTail is { } tail)
            return layout.Cameras * tail.OutputWidth;
        if (layout.Kind == FeatureKind.Floats)
            return layout.FeatureLength;
        return model.Cnn is null ? 0 : CnnInference.OutputLengthOf(model.Cnn, layout.FrameStack * layout.Cameras * 3, layout.ImageSize);
    }

    /// <summary>Checks the frames' count and size against the layout; false with nothing done otherwise.</summary>
    internal static bool FramesFit(IReadOnlyList<CameraFrame> frames, ObservationLayout layout)
    {
        if (frames.Count != layout.Cameras)
            return false;
        for (var c = 0; c < frames.Count; c++)
        {
            if (frames[c].Width != layout.ImageSize || frames[c].Height != layout.ImageSize)
                return false;
        }
        return true;
    }

    internal static EncodeStatus Finite(ReadOnlySpan<float> values)
    {
        foreach (var v in values)
        {
            if (!float.IsFinite(v))
                return EncodeStatus.NonFinite;
        }
        return EncodeStatus.Ok;
    }
}

/// <summary>
/// Scratch mode: the agent's CNN over the last <see cref="ObservationLayout.FrameStack"/> frames of every
/// camera (stacked as channels, as in training), through the engine's preallocated inference ops.
/// </summary>
/// <remarks>Real-time: no allocation once warm (tested). It keeps a frame history: <see cref="Reset"/> starts an episode.</remarks>
internal sealed class ScratchCnnEncoder : IEncoder
{
    private readonly ObservationLayout _layout;
    private readonly CnnInference _cnn;
    private readonly byte[][] _history;
    private int _count;

    public ScratchCnnEncoder(WorldModel model)
    {
        _layout = model.Layout;
        var cnn = model.Cnn ?? throw new ArgumentException("a scratch agent without a CNN", nameof(model));
        _cnn = new CnnInference(cnn, _layout.FrameStack * _layout.Cameras * 3, _layout.ImageSize);
        _history = new byte[_layout.FrameStack][];
        for (var i = 0; i < _history.Length; i++)
            _history[i] = new byte[_layout.FeatureBytes];
        Name = $"agent-cnn:{model.Config.Encoder}";
    }

    public string Name { get; }
    public int CameraCount => _layout.Cameras;
    public int FrameWidth => _layout.ImageSize;
    public int FrameHeight => _layout.ImageSize;
    public int EmbeddingSizePerCamera => 0;
    public int EmbeddingSize => _cnn.OutputLength;
    public string LastError => "";

    public void Reset() => _count = 0;

    public EncodeStatus Encode(IReadOnlyList<CameraFrame> frames, Span<float> embedding)
    {
        if (!AgentVisionEncoders.FramesFit(frames, _layout) || embedding.Length < EmbeddingSize)
            return EncodeStatus.WrongInput;
        // The newest step goes last; the first step after a reset fills the whole stack (as in training).
        var newest = _history[0];
        for (var i = 0; i < _history.Length - 1; i++)
            _history[i] = _history[i + 1];
        _history[^1] = newest;
        int size = _layout.ImageSize, bytes = size * size * 3;
        for (var c = 0; c < frames.Count; c++)
            frames[c].Pixels.AsSpan(0, bytes).CopyTo(newest.AsSpan(c * bytes, bytes));
        if (_count++ == 0)
        {
            foreach (var slot in _history)
                newest.CopyTo(slot, 0);
        }
        var planes = _cnn.Input;
        for (var k = 0; k < _history.Length; k++)
        {
            for (var c = 0; c < _layout.Cameras; c++)
                BatchSampler.ImageToPlanes(_history[k].AsSpan(c * bytes, bytes), size, 0, 0, planes.Slice((k * _layout.Cameras + c) * bytes, bytes));
        }
        var output = _cnn.Forward();
        output.CopyTo(embedding);
        return AgentVisionEncoders.Finite(output);
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// Partial and full modes: the agent's trained part of its PVR on the engine, per camera — after the
/// frozen trunk on ONNX Runtime (partial), or on the image itself (full).
/// </summary>
/// <remarks>
/// The engine's ops run under a tape of the encoder's own (nothing recorded), which lends their outputs
/// memory reused from call to call. Owns the trunk encoder.
/// </remarks>
internal sealed class PvrTailEncoder : IEncoder
{
    private readonly ObservationLayout _layout;
    private readonly PvrTail _tail;
    private readonly IEncoder? _trunk;
    private readonly float[] _input;
    private readonly Tape _tape = new();
    private string _lastError = "";

    public PvrTailEncoder(WorldModel model, IEncoder? trunk)
    {
        _layout = model.Layout;
        _tail = model.PvrTail!;
        _trunk = trunk;
        var perCamera = _tail.InputShape.Aggregate(1, (a, b) => a * b);
        if (trunk is not null)
        {
            if (trunk.CameraCount != _layout.Cameras || trunk.EmbeddingSizePerCamera != perCamera)
                throw new ArgumentException($"agent '{model.Config.Encoder}' (partial) reads {perCamera} floats per camera from {_layout.Cameras} camera(s) of its trunk; encoder '{trunk.Name}' gives {trunk.EmbeddingSizePerCamera} from {trunk.CameraCount}");
        }
        _input = new float[_layout.Cameras * perCamera];
        Name = trunk is null ? $"agent-pvr:{model.Config.Encoder}" : $"{trunk.Name}+agent-tail";
    }

    public string Name { get; }
    public int CameraCount => _layout.Cameras;
    public int FrameWidth => _trunk?.FrameWidth ?? _layout.ImageSize;
    public int FrameHeight => _trunk?.FrameHeight ?? _layout.ImageSize;
    public int EmbeddingSizePerCamera => _tail.OutputWidth;
    public int EmbeddingSize => _layout.Cameras * _tail.OutputWidth;
    public string LastError => _trunk?.LastError is { Length: > 0 } trunkError ? trunkError : _lastError;

    public EncodeStatus Encode(IReadOnlyList<CameraFrame> frames, Span<float> embedding)
    {
        if (embedding.Length < EmbeddingSize)
            return EncodeStatus.WrongInput;
        if (_trunk is not null)
        {
            var status = _trunk.Encode(frames, _input);
            if (status != EncodeStatus.Ok)
                return status;
        }
        else
        {
            if (!AgentVisionEncoders.FramesFit(frames, _layout))
                return EncodeStatus.WrongInput;
            int size = _layout.ImageSize, bytes = size * size * 3;
            for (var c = 0; c < frames.Count; c++)
                BatchSampler.ImageToPlanes(frames[c].Pixels.AsSpan(0, bytes), size, 0, 0, _input.AsSpan(c * bytes, bytes));
        }
        try
        {
            using (_tape.Record())
            using (Tape.NoGrad())
            {
                var x = Tensor.FromArray(_input, [_layout.Cameras, .. _tail.InputShape]);
                _tail.Forward(x).Span.CopyTo(embedding);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            _lastError = $"the agent's PVR tail failed: {e.Message}";
            return EncodeStatus.Failed;
        }
        finally
        {
            _tape.Reset();
        }
        return AgentVisionEncoders.Finite(embedding[..EmbeddingSize]);
    }

    public void Dispose() => _trunk?.Dispose();
}
