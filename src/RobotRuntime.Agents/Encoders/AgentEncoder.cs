using System.Runtime.InteropServices;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Replay;
using RobotRuntime.Tensors;

namespace RobotRuntime.Agents.Encoders;

/// <summary>
/// Acting-time encoder: keeps the last <see cref="ObservationLayout.FrameStack"/> steps' features and
/// turns them (plus proprioception) into the world model's latent.
/// </summary>
/// <remarks>Float features (frozen mode) go through <see cref="Mlp.Infer"/> and allocate nothing;
/// image features run the scratch CNN through the engine's ops, which allocate per call.</remarks>
public sealed class AgentEncoder
{
    private readonly WorldModel _model;
    private readonly ObservationLayout _layout;
    private readonly byte[][] _history;
    private readonly float[] _input, _scratchA, _scratchB;
    private readonly CnnInference? _cnn;
    private readonly float[] _headInput;
    private readonly float[] _capturedHeadInput;
    private readonly Tape _tape = new();
    private int _count;

    /// <summary>Creates the encoder for <paramref name="model"/>.</summary>
    public AgentEncoder(WorldModel model)
    {
        _model = model;
        _layout = model.Layout;
        _history = new byte[_layout.FrameStack][];
        for (int i = 0; i < _history.Length; i++)
        {
            _history[i] = new byte[_layout.FeatureBytes];
        }
        int inputWidth = _layout.Kind == FeatureKind.Images
            ? _layout.FrameStack * _layout.Cameras * 3 * _layout.ImageSize * _layout.ImageSize
            : Math.Max(model.EncoderHead.InputWidth, _layout.FrameStack * _layout.FeatureLength);
        _input = new float[inputWidth];
        _scratchA = new float[Math.Max(model.EncoderHead.MaxWidth, 1024)];
        _scratchB = new float[Math.Max(model.EncoderHead.MaxWidth, 1024)];
        _headInput = [];
        _capturedHeadInput = new float[model.EncoderHead.InputWidth];
        if (_layout.Kind == FeatureKind.Images && model.PvrTail is null && model.Cnn is not null)
        {
            _cnn = new CnnInference(model.Cnn, _layout.FrameStack * _layout.Cameras * 3, _layout.ImageSize);
            _headInput = new float[_cnn.OutputLength + _layout.ProprioceptionLength];
        }
    }

    /// <summary>
    /// When true, every <see cref="Encode"/> also keeps a copy of what the encoder head (the MLP into the
    /// latent) was given, in <see cref="LastHeadInput"/>: the analyses' encoder dormant ratio needs it.
    /// Off by default; turning it on costs one copy per call and no allocation.
    /// </summary>
    public bool CaptureHeadInput { get; set; }

    /// <summary>
    /// The encoder head's input at the last <see cref="Encode"/> while <see cref="CaptureHeadInput"/> was on
    /// (the CNN's or PVR tail's output of the stack, or the stacked features, then proprioception);
    /// overwritten by the next call.
    /// </summary>
    public ReadOnlySpan<float> LastHeadInput => _capturedHeadInput;

    /// <summary>Forgets the frame history (a new episode).</summary>
    public void Reset() => _count = 0;

    /// <summary>Adds a step's features; the first step after <see cref="Reset"/> fills the whole stack.</summary>
    public void Push(ReadOnlySpan<byte> features)
    {
        if (_count == 0)
        {
            foreach (var slot in _history)
            {
                features.CopyTo(slot);
            }
        }
        else
        {
            var oldest = _history[0];
            for (int i = 0; i < _history.Length - 1; i++)
            {
                _history[i] = _history[i + 1];
            }
            _history[^1] = oldest;
            features.CopyTo(oldest);
        }
        _count++;
    }

    /// <summary>Encodes the stacked history and <paramref name="proprioception"/> into <paramref name="latent"/>.</summary>
    public void Encode(ReadOnlySpan<float> proprioception, Span<float> latent)
    {
        int stack = _layout.FrameStack;
        if (_layout.Kind == FeatureKind.Floats && _model.PvrTail is not null)
        {
            for (int k = 0; k < stack; k++)
            {
                MemoryMarshal.Cast<byte, float>(_history[k]).CopyTo(_input.AsSpan(k * _layout.FeatureLength, _layout.FeatureLength));
            }
            // The PVR's trainable part runs through the engine's ops; a tape of its own lends their outputs
            // memory that is reused from call to call (nothing is recorded).
            using (_tape.Record())
            using (Tape.NoGrad())
            {
                var x = Tensor.FromArray(_input.AsSpan(0, stack * _layout.FeatureLength), 1, stack * _layout.FeatureLength);
                var p = _layout.ProprioceptionLength > 0 ? Tensor.FromArray(proprioception, 1, _layout.ProprioceptionLength) : null;
                EncodeThroughHead(_model.EncoderHeadInput(x, p), latent);
            }
            _tape.Reset();
            return;
        }
        if (_layout.Kind == FeatureKind.Floats)
        {
            for (int k = 0; k < stack; k++)
            {
                MemoryMarshal.Cast<byte, float>(_history[k]).CopyTo(_input.AsSpan(k * _layout.FeatureLength, _layout.FeatureLength));
            }
            proprioception.CopyTo(_input.AsSpan(stack * _layout.FeatureLength));
            if (CaptureHeadInput)
            {
                _input.AsSpan(0, _capturedHeadInput.Length).CopyTo(_capturedHeadInput);
            }
            _model.EncoderHead.Infer(_input, 1, latent, _scratchA, _scratchB);
            return;
        }
        int size = _layout.ImageSize, plane = size * size;
        // Scratch mode writes the planes straight into the CNN's input tensor.
        var planes = _cnn is not null ? _cnn.Input : _input.AsSpan();
        for (int k = 0; k < stack; k++)
        {
            for (int c = 0; c < _layout.Cameras; c++)
            {
                BatchSampler.ImageToPlanes(_history[k].AsSpan(c * plane * 3, plane * 3), size, 0, 0,
                    planes.Slice((k * _layout.Cameras + c) * 3 * plane, 3 * plane));
            }
        }
        if (_cnn is not null)
        {
            // Scratch mode: the CNN and the head through preallocated buffers (acting allocates nothing).
            _cnn.Forward().CopyTo(_headInput);
            proprioception[.._layout.ProprioceptionLength].CopyTo(_headInput.AsSpan(_cnn.OutputLength));
            if (CaptureHeadInput)
            {
                _headInput.CopyTo(_capturedHeadInput, 0);
            }
            _model.EncoderHead.Infer(_headInput, 1, latent, _scratchA, _scratchB);
            return;
        }
        using (_tape.Record())
        using (Tape.NoGrad())
        {
            var x = Tensor.FromArray(_input, 1, stack * _layout.Cameras * 3, size, size);
            var p = _layout.ProprioceptionLength > 0 ? Tensor.FromArray(proprioception, 1, _layout.ProprioceptionLength) : null;
            EncodeThroughHead(_model.EncoderHeadInput(x, p), latent);
        }
        _tape.Reset();
    }

    // The head over what the CNN or PVR tail made (what WorldModel.Encode does), keeping its input if asked.
    private void EncodeThroughHead(Tensor headInput, Span<float> latent)
    {
        if (CaptureHeadInput)
        {
            headInput.Span.CopyTo(_capturedHeadInput);
        }
        _model.EncoderHead.Forward(headInput).Span.CopyTo(latent);
    }
}
