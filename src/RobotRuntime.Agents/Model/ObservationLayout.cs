namespace RobotRuntime.Agents.Model;

/// <summary>What one environment step contributes to the encoder's input, and how replay stores it.</summary>
public enum FeatureKind
{
    /// <summary>RGB bytes of each camera, [camera][height][width][3] (scratch and full modes).</summary>
    Images,

    /// <summary>float32 embeddings or trunk features of each camera, concatenated (frozen and partial modes).</summary>
    Floats,
}

/// <summary>
/// The shape of one step's observation as the agent stores and encodes it: per-step features (images
/// or floats) of every camera, stacked over the last <see cref="FrameStack"/> steps, plus proprioception.
/// </summary>
/// <param name="Kind">Images or floats.</param>
/// <param name="FeatureLength">Elements per step: bytes for images (cameras × size² × 3), floats for embeddings.</param>
/// <param name="Cameras">Number of cameras.</param>
/// <param name="ImageSize">Image side in pixels (images only; 0 otherwise).</param>
/// <param name="FrameStack">Steps stacked into one observation.</param>
/// <param name="ProprioceptionLength">Proprioception floats (0 when unused).</param>
/// <param name="ActionDim">Action dimension.</param>
public sealed record ObservationLayout(FeatureKind Kind, int FeatureLength, int Cameras, int ImageSize, int FrameStack, int ProprioceptionLength, int ActionDim)
{
    /// <summary>Bytes one step's features take in replay.</summary>
    public int FeatureBytes => Kind == FeatureKind.Images ? FeatureLength : FeatureLength * sizeof(float);
}
