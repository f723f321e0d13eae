using RobotRuntime.Cameras;

namespace RobotRuntime.Encoders;

/// <summary>What an encode call returned.</summary>
public enum EncodeStatus
{
    /// <summary>The embedding was written.</summary>
    Ok,
    /// <summary>The frames do not match what the encoder was configured for (count or size); nothing was run.</summary>
    WrongInput,
    /// <summary>The network produced NaN or infinity; the embedding must not be used.</summary>
    NonFinite,
    /// <summary>The inference engine reported an error (see the encoder's last error).</summary>
    Failed,
}

/// <summary>
/// Turns camera frames into one embedding vector: a pre-trained visual representation (frozen,
/// or with a trainable tail) or a CNN learned from scratch. Cameras are encoded in a fixed order
/// and their embeddings concatenated.
/// </summary>
/// <remarks>
/// Construction is setup only and may throw with a message naming the model and what was
/// expected. <see cref="Encode"/> is real-time safe: no allocation, no throw; it is called from
/// one thread at a time.
/// </remarks>
public interface IEncoder : IDisposable
{
    /// <summary>The representation's identity, e.g. "resnet18-pieg".</summary>
    string Name { get; }

    /// <summary>How many camera frames one call takes.</summary>
    int CameraCount { get; }

    /// <summary>Frame width the encoder was configured for.</summary>
    int FrameWidth { get; }

    /// <summary>Frame height the encoder was configured for.</summary>
    int FrameHeight { get; }

    /// <summary>
    /// Floats of embedding per camera when each camera is encoded on its own (the embedding is then the
    /// cameras' embeddings concatenated in order); 0 for an encoder that encodes the cameras together
    /// (a CNN over every camera's channels).
    /// </summary>
    int EmbeddingSizePerCamera { get; }

    /// <summary>Floats written by one call (<see cref="CameraCount"/> × <see cref="EmbeddingSizePerCamera"/> when that is not 0).</summary>
    int EmbeddingSize { get; }

    /// <summary>The engine's message for the last <see cref="EncodeStatus.Failed"/>, or "".</summary>
    string LastError { get; }

    /// <summary>Encodes <paramref name="frames"/> (one per camera, in order) into <paramref name="embedding"/>.</summary>
    EncodeStatus Encode(IReadOnlyList<CameraFrame> frames, Span<float> embedding);

    /// <summary>
    /// Starts a new episode: an encoder with memory (a frame stack) forgets it. The loop calls it with the
    /// policy's reset, on the thread that calls <see cref="Encode"/>. Most encoders have no memory.
    /// </summary>
    void Reset()
    {
    }
}

/// <summary>An encoder that can say how its last <see cref="IEncoder.Encode"/> split between preprocessing and inference.</summary>
public interface IEncoderStageTimes
{
    /// <summary>Preprocessing time of the last call, microseconds.</summary>
    double LastPreprocessMicroseconds { get; }

    /// <summary>Inference time of the last call, microseconds.</summary>
    double LastInferenceMicroseconds { get; }
}
