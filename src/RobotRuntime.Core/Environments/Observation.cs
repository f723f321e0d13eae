namespace RobotRuntime.Environments;

/// <summary>One camera's image in an observation: 8-bit RGB, rows top first, 3 bytes a pixel.</summary>
/// <remarks>The pixel buffer is allocated once by the environment and overwritten on every step.</remarks>
public sealed class CameraImage
{
    /// <summary>Makes an image with its own zeroed buffer.</summary>
    /// <param name="name">Camera name.</param>
    /// <param name="width">Width in pixels, ≥ 1.</param>
    /// <param name="height">Height in pixels, ≥ 1.</param>
    public CameraImage(string name, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        Name = name;
        Width = width;
        Height = height;
        Rgb = new byte[checked(width * height * 3)];
    }

    /// <summary>The camera's name, e.g. "front" or "wrist".</summary>
    public string Name { get; }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Width × Height × 3 bytes of RGB, top row first.</summary>
    public byte[] Rgb { get; }

    /// <summary>When the image was captured, in seconds on the environment's clock (simulation time for a simulator).</summary>
    public double TimestampSeconds { get; set; }

    /// <summary>A deep copy.</summary>
    public CameraImage Clone()
    {
        var copy = new CameraImage(Name, Width, Height) { TimestampSeconds = TimestampSeconds };
        Rgb.CopyTo(copy.Rgb, 0);
        return copy;
    }
}

/// <summary>What the agent sees after a reset or step: every camera's image and the arm's own state.</summary>
/// <remarks>Owned by the environment and overwritten by its next call; <see cref="Clone"/> to keep one.</remarks>
public sealed class Observation
{
    /// <summary>Makes an observation with preallocated buffers.</summary>
    /// <param name="cameras">The camera images, in <see cref="EnvironmentSpec.CameraNames"/> order.</param>
    /// <param name="proprioceptionLength">Number of proprioception values.</param>
    public Observation(IReadOnlyList<CameraImage> cameras, int proprioceptionLength)
    {
        Cameras = cameras;
        Proprioception = new float[proprioceptionLength];
    }

    /// <summary>Camera images in <see cref="EnvironmentSpec.CameraNames"/> order.</summary>
    public IReadOnlyList<CameraImage> Cameras { get; }

    /// <summary>Joint positions and velocities, gripper opening, end-effector position: see <see cref="EnvironmentSpec.ProprioceptionNames"/>.</summary>
    public float[] Proprioception { get; }

    /// <summary>When the proprioception was sampled, in seconds on the environment's clock.</summary>
    public double TimestampSeconds { get; set; }

    /// <summary>The image of the named camera.</summary>
    /// <exception cref="ArgumentException">No camera of that name; the message lists the cameras.</exception>
    public CameraImage Camera(string name)
    {
        foreach (var camera in Cameras)
        {
            if (camera.Name == name)
                return camera;
        }
        throw new ArgumentException($"no camera named '{name}'; the observation has {string.Join(", ", Cameras.Select(c => c.Name))}", nameof(name));
    }

    /// <summary>A deep copy that the environment will not overwrite.</summary>
    public Observation Clone()
    {
        var copy = new Observation(Cameras.Select(c => c.Clone()).ToArray(), Proprioception.Length) { TimestampSeconds = TimestampSeconds };
        Proprioception.CopyTo(copy.Proprioception, 0);
        return copy;
    }
}
