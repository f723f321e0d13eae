using System.Runtime.InteropServices;
using RobotRuntime.Agents.Model;
using RobotRuntime.Cameras;
using RobotRuntime.Encoders;
using RobotRuntime.Environments;

namespace RobotRuntime.Agents.Encoders;

/// <summary>
/// The frozen front of an encoder mode: what one environment step's cameras become before anything
/// trainable sees them, and so what the replay buffer stores — image bytes (scratch, full) or the
/// frozen PVR's embeddings (frozen) or trunk features (partial).
/// </summary>
public interface IFeatureExtractor : IDisposable
{
    /// <summary>Images or floats.</summary>
    FeatureKind Kind { get; }

    /// <summary>Elements per step (bytes for images, floats otherwise), every camera.</summary>
    int FeatureLength { get; }

    /// <summary>Image side (images only; 0 otherwise).</summary>
    int ImageSize { get; }

    /// <summary>Cameras, in order.</summary>
    IReadOnlyList<string> Cameras { get; }

    /// <summary>Writes the step's features (<see cref="ObservationLayout.FeatureBytes"/> bytes).</summary>
    /// <exception cref="InvalidOperationException">A camera is missing, the wrong size, or the encoder failed; the message says which.</exception>
    void Extract(Observation observation, Span<byte> destination);
}

/// <summary>Scratch and full modes: the cameras' RGB bytes, stored as they are.</summary>
public sealed class ImageFeatureExtractor : IFeatureExtractor
{
    /// <summary>Takes <paramref name="cameras"/> at <paramref name="imageSize"/> × <paramref name="imageSize"/>.</summary>
    public ImageFeatureExtractor(IReadOnlyList<string> cameras, int imageSize)
    {
        Cameras = cameras;
        ImageSize = imageSize;
    }

    /// <inheritdoc />
    public FeatureKind Kind => FeatureKind.Images;

    /// <inheritdoc />
    public int FeatureLength => Cameras.Count * ImageSize * ImageSize * 3;

    /// <inheritdoc />
    public int ImageSize { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> Cameras { get; }

    /// <inheritdoc />
    public void Extract(Observation observation, Span<byte> destination)
    {
        int bytes = ImageSize * ImageSize * 3;
        for (int c = 0; c < Cameras.Count; c++)
        {
            var image = observation.Camera(Cameras[c]);
            if (image.Width != ImageSize || image.Height != ImageSize)
            {
                throw new InvalidOperationException($"camera '{Cameras[c]}' gives {image.Width}×{image.Height} images but the agent expects {ImageSize}×{ImageSize}; render the environment at that size");
            }
            image.Rgb.AsSpan(0, bytes).CopyTo(destination.Slice(c * bytes, bytes));
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}

/// <summary>Frozen mode: a PVR encoder (ONNX Runtime) turns the cameras into embeddings, stored as floats.</summary>
public sealed class EncoderFeatureExtractor : IFeatureExtractor
{
    private readonly IEncoder _encoder;
    private readonly CameraFrame[] _frames;
    private readonly bool _ownsEncoder;

    /// <summary>Wraps <paramref name="encoder"/>, whose camera count must match <paramref name="cameras"/>.</summary>
    public EncoderFeatureExtractor(IEncoder encoder, IReadOnlyList<string> cameras, bool ownsEncoder = true)
    {
        if (encoder.CameraCount != cameras.Count)
        {
            throw new ArgumentException($"encoder '{encoder.Name}' takes {encoder.CameraCount} cameras but the agent uses {cameras.Count} ({string.Join(", ", cameras)})");
        }
        _encoder = encoder;
        _ownsEncoder = ownsEncoder;
        Cameras = cameras;
        _frames = new CameraFrame[cameras.Count];
        for (int i = 0; i < _frames.Length; i++)
        {
            _frames[i] = new CameraFrame(encoder.FrameWidth, encoder.FrameHeight);
        }
    }

    /// <summary>The wrapped encoder.</summary>
    public IEncoder Encoder => _encoder;

    /// <inheritdoc />
    public FeatureKind Kind => FeatureKind.Floats;

    /// <inheritdoc />
    public int FeatureLength => _encoder.EmbeddingSize;

    /// <inheritdoc />
    public int ImageSize => 0;

    /// <inheritdoc />
    public IReadOnlyList<string> Cameras { get; }

    /// <inheritdoc />
    public void Extract(Observation observation, Span<byte> destination)
    {
        for (int c = 0; c < Cameras.Count; c++)
        {
            var image = observation.Camera(Cameras[c]);
            if (image.Width != _encoder.FrameWidth || image.Height != _encoder.FrameHeight)
            {
                throw new InvalidOperationException($"camera '{Cameras[c]}' gives {image.Width}×{image.Height} images but encoder '{_encoder.Name}' was set up for {_encoder.FrameWidth}×{_encoder.FrameHeight}");
            }
            image.Rgb.CopyTo(_frames[c].Pixels, 0);
        }
        var status = _encoder.Encode(_frames, MemoryMarshal.Cast<byte, float>(destination));
        if (status != EncodeStatus.Ok)
        {
            throw new InvalidOperationException($"encoder '{_encoder.Name}' returned {status}: {_encoder.LastError}");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsEncoder)
        {
            _encoder.Dispose();
        }
    }
}
