namespace RobotRuntime.Sim.MuJoCo;

/// <summary>
/// Offscreen rendering of a model's fixed cameras on the CPU (OSMesa), with its own GL context
/// and an offscreen buffer of a fixed maximum size.
/// </summary>
/// <remarks>Thread: the GL context belongs to the thread that created the renderer; rendering or
/// uploading from another thread throws. Dispose may run on any thread. A frame allocates
/// nothing managed; it takes about a millisecond at 84 × 84 (see benchmarks/RESULTS.md).</remarks>
public sealed unsafe class MjRenderer : IDisposable
{
    private readonly RendererHandle _handle;

    /// <summary>Creates the GL context and MuJoCo's render context for <paramref name="model"/>.</summary>
    /// <param name="model">The model; its textures and materials are uploaded now.</param>
    /// <param name="maxWidth">Largest image width that will be rendered, 1..4096.</param>
    /// <param name="maxHeight">Largest image height that will be rendered, 1..4096.</param>
    /// <exception cref="SimulatorException">No GL context could be made, or MuJoCo failed.</exception>
    public MjRenderer(MjModel model, int maxWidth, int maxHeight)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        MaxWidth = maxWidth;
        MaxHeight = maxHeight;
        _handle = new RendererHandle();
        nint raw = 0;
        MuJoCoNative.Check(MuJoCoNative.RendererCreate(model.Pointer, maxWidth, maxHeight, &raw), "Creating the offscreen renderer");
        _handle.Adopt(raw);
        _handle.Retain(model.Handle);
    }

    /// <summary>The model this renderer draws.</summary>
    public MjModel Model { get; }

    /// <summary>Largest image width in pixels.</summary>
    public int MaxWidth { get; }

    /// <summary>Largest image height in pixels.</summary>
    public int MaxHeight { get; }

    /// <summary>
    /// Renders <paramref name="data"/>'s state from fixed camera <paramref name="cameraId"/> into
    /// <paramref name="rgb"/> (width × height × 3 bytes, top row first).
    /// </summary>
    /// <remarks>Call <see cref="MjData.Forward"/> (or step) after changing positions. Real-time:
    /// no managed allocation; throws on bad arguments or a call from another thread.</remarks>
    public void Render(MjData data, int cameraId, int width, int height, Span<byte> rgb)
    {
        ArgumentNullException.ThrowIfNull(data);
        int status;
        fixed (byte* destination = rgb)
            status = MuJoCoNative.Render(Pointer, Model.Pointer, data.Pointer, cameraId, width, height, destination, rgb.Length);
        // The message is built only on failure so a frame allocates nothing.
        if (status < 0)
            MuJoCoNative.Check(status, $"Rendering camera {cameraId} at {width}x{height}");
    }

    /// <summary>Sends texture <paramref name="textureId"/>'s changed <c>tex_rgb</c> bytes to the GL context.</summary>
    public void UploadTexture(int textureId) =>
        MuJoCoNative.Check(MuJoCoNative.RendererUploadTexture(Pointer, Model.Pointer, textureId), $"Uploading texture {textureId}");

    private nint Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle.DangerousGetHandle();
        }
    }

    /// <summary>Frees the GL context and MuJoCo's render context.</summary>
    public void Dispose() => _handle.Dispose();
}
