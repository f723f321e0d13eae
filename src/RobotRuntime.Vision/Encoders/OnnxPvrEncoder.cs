using System.Numerics.Tensors;
using RobotRuntime.Cameras;
using RobotRuntime.Encoders;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using RobotRuntime.Onnx;
using RobotRuntime.Vision.Preprocessing;

namespace RobotRuntime.Vision.Encoders;

/// <summary>
/// A frozen PVR on ONNX Runtime: preprocesses each camera's frame into a preallocated input
/// tensor, runs the model through an IO binding (all cameras in one batch when the model's batch
/// dimension is free, otherwise one run per camera) and takes the embedding from the output the
/// zoo names, with its selector. Runs on the official ONNX Runtime binding; nothing is allocated
/// per call (<see cref="InferenceSession.RunWithBinding(RunOptions, OrtIoBinding)"/> over values
/// pinned on the encoder's own arrays).
/// </summary>
public sealed class OnnxPvrEncoder : IEncoder, IEncoderStageTimes
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly ImagePreprocessor _preprocessor;
    private readonly float[] _input;
    private readonly float[] _output;
    private readonly List<OrtValue> _values = [];
    private readonly OrtIoBinding[] _bindings;
    private readonly int _inputPerImage;
    private readonly int _outputPerImage;
    private readonly int _tokenWidth;
    private readonly int _tokenCount;
    private readonly EmbeddingSelector _selector;
    private readonly int _registers;
    private string _lastError = "";

    /// <summary>Loads <paramref name="model"/>'s ONNX file and checks it against the zoo entry.</summary>
    /// <param name="model">The zoo entry.</param>
    /// <param name="modelPath">Its resolved file (<see cref="PvrZoo.ResolveFile"/>).</param>
    /// <param name="cameraCount">Frames per <see cref="Encode"/> call.</param>
    /// <param name="frameWidth">Width of the frames the cameras deliver.</param>
    /// <param name="frameHeight">Height of the frames the cameras deliver.</param>
    /// <param name="settings">Threads, spinning, device.</param>
    /// <exception cref="InvalidDataException">The model does not match its zoo entry (input shape, output name, embedding size); the message says what differs.</exception>
    /// <exception cref="ExecutionProviderUnavailableException">A GPU device was asked for and cannot be used here.</exception>
    public OnnxPvrEncoder(PvrModel model, string modelPath, int cameraCount, int frameWidth, int frameHeight, OnnxSessionSettings? settings = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cameraCount, 1);
        settings ??= new OnnxSessionSettings();
        Device = settings.Device;
        Name = model.Id;
        CameraCount = cameraCount;
        FrameWidth = frameWidth;
        FrameHeight = frameHeight;
        _selector = model.Selector;
        _registers = model.Registers;
        var spec = model.Preprocess;
        _preprocessor = new ImagePreprocessor(spec, frameWidth, frameHeight);
        _inputPerImage = _preprocessor.OutputLength;

        _session = OnnxSessions.Open(modelPath, settings);
        try
        {
            var where = $"PVR '{model.Id}' ({modelPath})";
            if (!_session.InputMetadata.TryGetValue(model.InputName, out var input))
                throw new InvalidDataException($"{where} has no input '{model.InputName}' as the zoo says; its inputs: {OnnxSessions.Describe(_session.InputMetadata)}.");
            var dims = input.Dimensions;
            bool Fits(int i, long want) => dims[i] < 0 || dims[i] == want;
            if (input.ElementDataType != TensorElementType.Float || dims.Length != 4 || !Fits(1, 3) || !Fits(2, spec.Height) || !Fits(3, spec.Width))
                throw new InvalidDataException($"{where}: input {model.InputName}: {OnnxSessions.Describe(input)} does not take the zoo's float32[batch,3,{spec.Height},{spec.Width}].");
            var batched = dims[0] < 0 || dims[0] == cameraCount;
            if (!batched && dims[0] != 1)
                throw new InvalidDataException($"{where}: input batch is fixed at {dims[0]}; it must be free, 1, or the camera count {cameraCount}.");
            if (!_session.OutputMetadata.ContainsKey(model.OutputName))
                throw new InvalidDataException($"{where} has no output '{model.OutputName}' as the zoo says; its outputs: {OnnxSessions.Describe(_session.OutputMetadata)}.");

            // One setup run finds the output's concrete shape (token counts depend on the input size).
            var batch = batched ? cameraCount : 1;
            _input = new float[batch * _inputPerImage];
            long[] outputShape;
            using (var probeInput = OrtValue.CreateTensorValueFromMemory(_input, [batch, 3, spec.Height, spec.Width]))
            using (var probe = _session.Run(_runOptions, [model.InputName], [probeInput], [model.OutputName]))
                outputShape = probe[0].GetTensorTypeAndShape().Shape;
            (_outputPerImage, _tokenCount, _tokenWidth, EmbeddingSizePerCamera) = Describe(where, outputShape, model);
            if (EmbeddingSizePerCamera != model.EmbeddingSize)
                throw new InvalidDataException($"{where}: the zoo says the embedding has {model.EmbeddingSize} floats, the model gives {EmbeddingSizePerCamera} ({model.Selector} of output {FormatShape(outputShape)}).");

            _output = new float[cameraCount * _outputPerImage];
            var perRun = batched ? cameraCount : 1;
            _bindings = new OrtIoBinding[batched ? 1 : cameraCount];
            for (var run = 0; run < _bindings.Length; run++)
            {
                var inputMemory = batched ? new Memory<float>(_input) : new Memory<float>(_input, 0, _inputPerImage);
                var outputMemory = new Memory<float>(_output, run * perRun * _outputPerImage, perRun * _outputPerImage);
                var inValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, inputMemory, [perRun, 3, spec.Height, spec.Width]);
                var outShape = outputShape.ToArray();
                outShape[0] = perRun;
                var outValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, outputMemory, outShape);
                _values.Add(inValue);
                _values.Add(outValue);
                _bindings[run] = _session.CreateIoBinding();
                _bindings[run].BindInput(model.InputName, inValue);
                _bindings[run].BindOutput(model.OutputName, outValue);
            }
            Batched = batched;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public int CameraCount { get; }

    /// <inheritdoc />
    public int FrameWidth { get; }

    /// <inheritdoc />
    public int FrameHeight { get; }

    /// <inheritdoc />
    public int EmbeddingSizePerCamera { get; }

    /// <inheritdoc />
    public int EmbeddingSize => CameraCount * EmbeddingSizePerCamera;

    /// <inheritdoc />
    public string LastError => _lastError;

    /// <summary>Where the model runs.</summary>
    public OnnxDevice Device { get; }

    /// <summary>Whether all cameras go through the model in one run (free batch dimension).</summary>
    public bool Batched { get; }

    /// <summary>Microseconds spent preprocessing in the last <see cref="Encode"/> call.</summary>
    public double LastPreprocessMicroseconds { get; private set; }

    /// <summary>Microseconds spent in ONNX Runtime in the last <see cref="Encode"/> call.</summary>
    public double LastInferenceMicroseconds { get; private set; }

    private static (int PerImage, int Tokens, int Width, int Embedding) Describe(string where, long[] shape, PvrModel model)
    {
        var perImage = 1;
        for (var i = 1; i < shape.Length; i++)
            perImage = checked(perImage * (int)shape[i]);
        switch (model.Selector)
        {
            case EmbeddingSelector.Embedding:
                if (shape.Length != 2)
                    throw new InvalidDataException($"{where}: selector 'embedding' needs an output [batch, D], got {FormatShape(shape)}.");
                return (perImage, 1, perImage, perImage);
            case EmbeddingSelector.Flatten:
                return (perImage, 1, perImage, perImage);
            default:
                if (shape.Length != 3)
                    throw new InvalidDataException($"{where}: selector '{model.Selector}' needs tokens [batch, T, D], got {FormatShape(shape)}.");
                var tokens = (int)shape[1];
                var width = (int)shape[2];
                var leading = 1 + model.Registers;
                if (tokens <= leading)
                    throw new InvalidDataException($"{where}: {tokens} tokens cannot hold CLS, {model.Registers} registers and patches.");
                var embedding = model.Selector == EmbeddingSelector.ClsAndRegisters ? leading * width : width;
                return (perImage, tokens, width, embedding);
        }
    }

    private static string FormatShape(long[] shape) => "[" + string.Join(",", shape) + "]";

    /// <inheritdoc />
    public EncodeStatus Encode(IReadOnlyList<CameraFrame> frames, Span<float> embedding)
    {
        if (frames.Count != CameraCount || embedding.Length != EmbeddingSize)
            return EncodeStatus.WrongInput;
        var start = Timing.MonotonicClock.NowNanoseconds;
        for (var c = 0; c < CameraCount; c++)
        {
            var frame = frames[c];
            if (frame.Width != FrameWidth || frame.Height != FrameHeight)
                return EncodeStatus.WrongInput;
            // Unbatched models share one input buffer: preprocess each camera just before its run.
            if (Batched)
                _preprocessor.Run(frame.Pixels, _input.AsSpan(c * _inputPerImage, _inputPerImage));
        }
        var preprocessed = Timing.MonotonicClock.NowNanoseconds;
        double preprocessNs = preprocessed - start, inferenceNs = 0;
        for (var run = 0; run < _bindings.Length; run++)
        {
            if (!Batched)
            {
                var before = Timing.MonotonicClock.NowNanoseconds;
                _preprocessor.Run(frames[run].Pixels, _input.AsSpan(0, _inputPerImage));
                preprocessNs += Timing.MonotonicClock.NowNanoseconds - before;
            }
            var runStart = Timing.MonotonicClock.NowNanoseconds;
            try
            {
                _session.RunWithBinding(_runOptions, _bindings[run]);
            }
            catch (OnnxRuntimeException error)
            {
                _lastError = OnnxSessions.OrtMessage(error);
                return EncodeStatus.Failed;
            }
            inferenceNs += Timing.MonotonicClock.NowNanoseconds - runStart;
        }
        LastPreprocessMicroseconds = preprocessNs / 1000;
        LastInferenceMicroseconds = inferenceNs / 1000;

        for (var c = 0; c < CameraCount; c++)
            Select(_output.AsSpan(c * _outputPerImage, _outputPerImage), embedding.Slice(c * EmbeddingSizePerCamera, EmbeddingSizePerCamera));
        foreach (var value in embedding)
            if (!float.IsFinite(value))
                return EncodeStatus.NonFinite;
        return EncodeStatus.Ok;
    }

    private void Select(ReadOnlySpan<float> output, Span<float> destination)
    {
        switch (_selector)
        {
            case EmbeddingSelector.Embedding:
            case EmbeddingSelector.Flatten:
            case EmbeddingSelector.Cls:
            case EmbeddingSelector.ClsAndRegisters:
                output[..destination.Length].CopyTo(destination); // CLS (+ registers) lead the token sequence
                break;
            case EmbeddingSelector.MeanPatch:
                var first = 1 + _registers;
                output.Slice(first * _tokenWidth, _tokenWidth).CopyTo(destination);
                for (var t = first + 1; t < _tokenCount; t++)
                    TensorPrimitives.Add(destination, output.Slice(t * _tokenWidth, _tokenWidth), destination);
                TensorPrimitives.Multiply(destination, 1f / (_tokenCount - first), destination);
                break;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_bindings is not null)
            foreach (var binding in _bindings)
                binding?.Dispose();
        foreach (var value in _values)
            value.Dispose();
        _runOptions.Dispose();
        _session?.Dispose();
    }
}
