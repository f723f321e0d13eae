using BenchmarkDotNet.Attributes;
using RobotRuntime.Environments;
using RobotRuntime.Sim.MuJoCo;
using RobotRuntime.Sim.Tabletop;

namespace RobotRuntime.Benchmarks.Simulator;

/// <summary>
/// Physics rate of the tabletop arm scene on one core, stepped 1,000 times per operation with the
/// arm driven towards a pose: the arm scene as the reach task uses it (arm, gripper, mocap target;
/// no contacts) and the push task's (the same plus a free puck resting on the table: 6 more
/// degrees of freedom and 3 contacts). Steps per second = 1,000,000,000 / (ns per step).
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
[MedianColumn]
public class SimulatorPhysicsBenchmarks
{
    private const int Steps = 1000;
    private TabletopScene _scene = null!;
    private readonly double[] _joints = new double[4];

    /// <summary>The task whose objects are in the scene.</summary>
    [Params("reach", "push")]
    public string Task { get; set; } = "push";

    [GlobalSetup]
    public void Setup()
    {
        _scene = new TabletopScene(TabletopTask.Create(Task).ObjectsMjcf);
        ArmKinematics.Solve(0.3, 0, 0.1, _joints);
        _scene.PlaceArm(_joints, 0);
        _scene.Data.Forward();
    }

    [GlobalCleanup]
    public void Cleanup() => _scene.Dispose();

    /// <summary>One mj_step of the arm scene (reported per step).</summary>
    [Benchmark(OperationsPerInvoke = Steps)]
    public void PhysicsStep()
    {
        // Alternate between two arm targets so the arm keeps moving instead of resting.
        var ctrl = _scene.Ctrl.Span;
        ctrl[0] = ctrl[0] > 0 ? -0.3 : 0.3;
        _scene.Data.Step(Steps);
    }
}

/// <summary>
/// Render time of one frame (update scene + render + read pixels + flip) per camera at 64, 84,
/// 112 and 224 pixels square, on the CPU (OSMesa), with the arm scene of the push task.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
[MedianColumn]
public class SimulatorRenderBenchmarks
{
    private TabletopScene _scene = null!;
    private MjRenderer _renderer = null!;
    private byte[] _rgb = [];

    /// <summary>Image side in pixels.</summary>
    [Params(64, 84, 112, 224)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _scene = new TabletopScene(TabletopTask.Create("push").ObjectsMjcf);
        var joints = new double[4];
        ArmKinematics.Solve(0.35, 0.05, 0.1, joints);
        _scene.PlaceArm(joints, 0.02);
        _scene.Data.Forward();
        _renderer = new MjRenderer(_scene.Model, Size, Size);
        _rgb = new byte[Size * Size * 3];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _renderer.Dispose();
        _scene.Dispose();
    }

    /// <summary>The fixed third-person camera.</summary>
    [Benchmark]
    public void RenderFront() => _renderer.Render(_scene.Data, _scene.CameraIds[0], Size, Size, _rgb);

    /// <summary>The wrist camera.</summary>
    [Benchmark]
    public void RenderWrist() => _renderer.Render(_scene.Data, _scene.CameraIds[1], Size, Size, _rgb);
}

/// <summary>
/// Environment steps per second: one <see cref="TabletopEnvironment.Step"/> (20 physics steps,
/// reward, both cameras rendered at 84 × 84, proprioception) of the push task; an episode that
/// ends is reset inside the measured call (one reset per 150 steps at most).
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
[MedianColumn]
public class SimulatorEnvironmentBenchmarks
{
    private TabletopEnvironment _environment = null!;
    private readonly float[] _action = [0.3f, -0.2f, -0.1f, 1f];
    private int _seed;

    /// <summary>Camera image side in pixels; 0 means no rendering (state only).</summary>
    [Params(0, 84)]
    public int ImageSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _environment = new TabletopEnvironment(new TabletopEnvironmentOptions(
            "push", ActionMode.EndEffectorDelta, Math.Max(ImageSize, 1), Math.Max(ImageSize, 1), RenderImages: ImageSize > 0));
        _environment.Reset(_seed++);
    }

    [GlobalCleanup]
    public void Cleanup() => _environment.Dispose();

    /// <summary>One environment step.</summary>
    [Benchmark]
    public double EnvironmentStep()
    {
        _action[0] = -_action[0];
        var result = _environment.Step(_action);
        if (result.Done)
            _environment.Reset(_seed++);
        return result.Reward;
    }
}
