namespace RobotRuntime.Vision.Preprocessing;

/// <summary>Channel order a model expects.</summary>
public enum ColorOrder
{
    /// <summary>Red, green, blue (PyTorch/torchvision models).</summary>
    Rgb,
    /// <summary>Blue, green, red (OpenCV-trained models).</summary>
    Bgr,
}

/// <summary>How a frame is fitted to the model's input size.</summary>
public enum ResizeMode
{
    /// <summary>Scale each axis independently to the input size (the aspect ratio may change).</summary>
    Stretch,
    /// <summary>Take the largest centred region with the input's aspect ratio, then scale it (nothing is distorted).</summary>
    CenterCrop,
}

/// <summary>
/// What a model wants of an image: size, channel order, how to fit the frame, and the
/// normalisation <c>(pixel × Scale − Mean[c]) / Std[c]</c>, laid out NCHW.
/// </summary>
public sealed record PreprocessSpec
{
    /// <summary>Input height in pixels.</summary>
    public required int Height { get; init; }

    /// <summary>Input width in pixels.</summary>
    public required int Width { get; init; }

    /// <summary>Channel order of the model's input.</summary>
    public ColorOrder ColorOrder { get; init; } = ColorOrder.Rgb;

    /// <summary>How frames are fitted to <see cref="Width"/> × <see cref="Height"/>.</summary>
    public ResizeMode Resize { get; init; } = ResizeMode.CenterCrop;

    /// <summary>Multiplies 8-bit pixel values first (1/255 maps them to 0..1).</summary>
    public float Scale { get; init; } = 1f / 255f;

    /// <summary>Per-channel mean subtracted after scaling, in the model's channel order.</summary>
    public float[] Mean { get; init; } = [0f, 0f, 0f];

    /// <summary>Per-channel standard deviation divided by last, in the model's channel order.</summary>
    public float[] Std { get; init; } = [1f, 1f, 1f];

    /// <summary>Throws if a value is out of range, naming it.</summary>
    public void Validate(string owner)
    {
        if (Height < 1 || Width < 1)
            throw new ArgumentException($"{owner}: input size must be positive, got {Width}×{Height}.");
        if (Mean.Length != 3 || Std.Length != 3)
            throw new ArgumentException($"{owner}: mean and std need 3 values (one per channel), got {Mean.Length} and {Std.Length}.");
        if (Std.Any(s => !(s > 0)))
            throw new ArgumentException($"{owner}: std values must be positive, got [{string.Join(", ", Std)}].");
        if (!(Scale > 0) || !float.IsFinite(Scale))
            throw new ArgumentException($"{owner}: scale must be a positive number, got {Scale}.");
    }
}
