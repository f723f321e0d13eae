using RobotRuntime.Cameras;
using RobotRuntime.Cli.Composition;
using RobotRuntime.Encoders;

namespace RobotRuntime.Cli.Tests.Extending;

/// <summary>
/// docs/extending.md, "An encoder": the mean red, green and blue of each camera's frame, in [0, 1].
/// Encode runs on the loop's thread (or the encode stage's): no allocation, no throw.
/// </summary>
public sealed class MeanColourEncoder(int cameras, int width, int height) : IEncoder
{
    /// <summary>The one registration: <c>encoder: {kind: mean-colour}</c>.</summary>
    public static void Register() => LoopComposer.Encoders.Register(new Backend<IEncoder>(
        "mean-colour", "the mean colour of each camera's frame", [],
        c => new MeanColourEncoder(c.Frames.Count, c.Frames.Width, c.Frames.Height)));

    public string Name => "mean-colour";
    public int CameraCount => cameras;
    public int FrameWidth => width;
    public int FrameHeight => height;
    public int EmbeddingSizePerCamera => 3;
    public int EmbeddingSize => 3 * cameras;
    public string LastError => "";

    public EncodeStatus Encode(IReadOnlyList<CameraFrame> frames, Span<float> embedding)
    {
        if (frames.Count != cameras || embedding.Length < EmbeddingSize)
            return EncodeStatus.WrongInput;
        for (var c = 0; c < cameras; c++)
        {
            long r = 0, g = 0, b = 0;
            var pixels = frames[c].Pixels;
            for (var i = 0; i + 2 < width * height * 3; i += 3)
            {
                r += pixels[i];
                g += pixels[i + 1];
                b += pixels[i + 2];
            }
            var n = 255f * width * height;
            embedding[3 * c] = r / n;
            embedding[3 * c + 1] = g / n;
            embedding[3 * c + 2] = b / n;
        }
        return EncodeStatus.Ok;
    }

    public void Dispose() { }
}
