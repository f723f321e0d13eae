using RobotRuntime.Agents;
using RobotRuntime.Agents.Encoders;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Training;
using RobotRuntime.Cameras;
using RobotRuntime.Environments;

namespace RobotRuntime.Agents.Tests;

/// <summary>
/// A tiny deterministic test environment: a point moves by 0.1·action in the unit square towards a
/// target; reward 1 − distance; success within 0.1 ends the episode; 20 steps at most. Its one camera
/// draws the target (red) and the point (blue) on grey at <c>size</c> pixels.
/// </summary>
internal sealed class PointReachEnvironment : IEnvironment
{
    private readonly Observation _observation;
    private float _x, _y, _tx, _ty;
    private int _step;

    public PointReachEnvironment(int imageSize = 48)
    {
        Spec = new EnvironmentSpec("point-reach", new ActionSpace(ActionMode.EndEffectorDelta, ["dx", "dy"], 0.1),
            ["front"], imageSize, imageSize, ["x", "y", "tx", "ty"], 0.04, 20);
        _observation = new Observation([new CameraImage("front", imageSize, imageSize)], 4);
    }

    public EnvironmentSpec Spec { get; }

    public Observation Reset(int seed)
    {
        var random = new Random(seed);
        _x = random.NextSingle(); _y = random.NextSingle();
        _tx = random.NextSingle(); _ty = random.NextSingle();
        _step = 0;
        Render();
        return _observation;
    }

    public StepResult Step(ReadOnlySpan<float> action)
    {
        _x = Math.Clamp(_x + 0.1f * Math.Clamp(action[0], -1f, 1f), 0f, 1f);
        _y = Math.Clamp(_y + 0.1f * Math.Clamp(action[1], -1f, 1f), 0f, 1f);
        _step++;
        float d = MathF.Sqrt((_x - _tx) * (_x - _tx) + (_y - _ty) * (_y - _ty));
        bool success = d < 0.1f;
        Render();
        return new StepResult(_observation, 1 - d, success, !success && _step >= Spec.MaxEpisodeSteps, new StepInfo(success, d, _step));
    }

    public void Dispose()
    {
    }

    private void Render()
    {
        var image = _observation.Cameras[0];
        int size = image.Width;
        image.Rgb.AsSpan().Fill(128);
        Square(_tx, _ty, 255, 0, 0);
        Square(_x, _y, 0, 0, 255);
        _observation.Proprioception[0] = _x; _observation.Proprioception[1] = _y;
        _observation.Proprioception[2] = _tx; _observation.Proprioception[3] = _ty;

        void Square(float fx, float fy, byte r, byte g, byte b)
        {
            int cx = (int)(fx * (size - 1)), cy = (int)(fy * (size - 1));
            for (int y = Math.Max(0, cy - 2); y <= Math.Min(size - 1, cy + 2); y++)
            {
                for (int x = Math.Max(0, cx - 2); x <= Math.Min(size - 1, cx + 2); x++)
                {
                    int i = (y * size + x) * 3;
                    image.Rgb[i] = r; image.Rgb[i + 1] = g; image.Rgb[i + 2] = b;
                }
            }
        }
    }
}

/// <summary>A frozen "encoder" for tests: the proprioception itself as float features (the state-based case).</summary>
internal sealed class StateFeatureExtractor(int length) : IFeatureExtractor
{
    public FeatureKind Kind => FeatureKind.Floats;

    public int FeatureLength => length;

    public int ImageSize => 0;

    public IReadOnlyList<string> Cameras { get; } = ["front"];

    public void Extract(Observation observation, Span<byte> destination) =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(observation.Proprioception.AsSpan(0, length)).CopyTo(destination);

    public void Dispose()
    {
    }
}

internal static class TestConfigs
{
    /// <summary>A small config so each test runs in seconds: the TD-MPC2 structure at reduced widths.</summary>
    public static AgentConfig Tiny(EncoderMode mode = EncoderMode.Frozen, string encoder = "state", string trainableFrom = "") => new AgentConfig
    {
        Size = "rt-tiny", LatentDim = 32, MlpDim = 64, EncoderDim = 64, NumQ = 2, BatchSize = 16, Samples = 64, Elites = 8,
        Iterations = 2, PolicyTrajectories = 4, CnnChannels = 8, ImageSize = 48, Mode = mode, Encoder = encoder, TrainableFrom = trainableFrom,
    }.Validate();

    public static TrainerOptions Trainer(long steps, int seed = 3) => new()
    {
        Task = "point-reach", Seed = seed, Steps = steps, SeedSteps = 60, PretrainUpdates = 5, UpdatesPerStep = 0.25,
        EvalEvery = 1_000_000, EvalEpisodes = 2, CheckpointEvery = 40, ReplayCapacity = 2_000, PlanSamples = 32, PlanIterations = 2,
    };

    public static string TempFolder()
    {
        string path = Path.Combine(Path.GetTempPath(), "rr-agents-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
