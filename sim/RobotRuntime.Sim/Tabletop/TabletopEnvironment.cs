using RobotRuntime.Environments;
using RobotRuntime.Sim.MuJoCo;
using RobotRuntime.Sim.Shifts;

namespace RobotRuntime.Sim.Tabletop;

/// <summary>How to build a <see cref="TabletopEnvironment"/>.</summary>
/// <param name="Task">"reach", "push" or "peek".</param>
/// <param name="ActionMode">End-effector delta + gripper, or joint position targets + gripper.</param>
/// <param name="ImageWidth">Camera image width in pixels (1..1024).</param>
/// <param name="ImageHeight">Camera image height in pixels (1..1024).</param>
/// <param name="Shift">Visual shift preset name (see <see cref="VisualShifts.Names"/>).</param>
/// <param name="RenderImages">False skips rendering (images stay black); for state-only use.</param>
public sealed record TabletopEnvironmentOptions(
    string Task = "reach",
    ActionMode ActionMode = ActionMode.EndEffectorDelta,
    int ImageWidth = 84,
    int ImageHeight = 84,
    string Shift = VisualShifts.InDistribution,
    bool RenderImages = true);

/// <summary>
/// The MuJoCo tabletop arm as an <see cref="IEnvironment"/>: one task, one action mode, both
/// cameras ("front" third-person, "wrist") rendered at the requested size, a visual shift preset
/// sampled from the reset seed.
/// </summary>
/// <remarks>
/// Thread: every call must come from the thread that constructed the environment (its GL
/// context lives there); other threads get an <see cref="InvalidOperationException"/>.
/// <see cref="Step"/> allocates nothing managed in steady state.
/// </remarks>
public sealed class TabletopEnvironment : IEnvironment
{
    /// <summary>Metres the end-effector set point moves for a delta of 1.</summary>
    public const double MaxEndEffectorStep = 0.03;

    /// <summary>Finger travel in metres (each finger), fully open.</summary>
    public const double FingerTravel = 0.035;

    private static readonly string[] ProprioceptionLabels =
    [
        "yaw (rad)", "shoulder (rad)", "elbow (rad)", "wrist (rad)",
        "yaw velocity (rad/s)", "shoulder velocity (rad/s)", "elbow velocity (rad/s)", "wrist velocity (rad/s)",
        "gripper opening (m)", "tip x (m)", "tip y (m)", "tip z (m)",
    ];

    private readonly TabletopScene _scene;
    private readonly MjRenderer? _renderer;
    private readonly SceneVisuals _visuals;
    private VisualShift _shift;
    private readonly Observation _observation;
    private readonly int _ownerThread;
    private readonly double[] _setpoint = new double[3];
    private readonly double[] _joints = new double[4];
    private int _episodeStep = -1;
    private bool _episodeOver;

    /// <summary>Loads the scene for the task, creates the renderer on this thread and checks the options.</summary>
    /// <exception cref="ArgumentException">Unknown task or shift, or an image size out of range.</exception>
    /// <exception cref="SimulatorException">MuJoCo or the GL context failed.</exception>
    public TabletopEnvironment(TabletopEnvironmentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ImageWidth is < 1 or > 1024 || options.ImageHeight is < 1 or > 1024)
            throw new ArgumentException($"image size must be 1..1024 pixels on each side, got {options.ImageWidth}x{options.ImageHeight}", nameof(options));
        Options = options;
        Task = TabletopTask.Create(options.Task);
        _shift = VisualShifts.Get(options.Shift);
        _ownerThread = Environment.CurrentManagedThreadId;
        _scene = new TabletopScene(Task.ObjectsMjcf);
        try
        {
            Task.Bind(_scene);
            _renderer = options.RenderImages ? new MjRenderer(_scene.Model, options.ImageWidth, options.ImageHeight) : null;
            _visuals = new SceneVisuals(_scene, _renderer);
        }
        catch
        {
            _renderer?.Dispose();
            _scene.Dispose();
            throw;
        }
        var cameras = TabletopScene.CameraNames.Select(name => new CameraImage(name, options.ImageWidth, options.ImageHeight)).ToArray();
        _observation = new Observation(cameras, ProprioceptionLabels.Length);
        Spec = new EnvironmentSpec(
            Task.Name,
            options.ActionMode == ActionMode.EndEffectorDelta
                ? new ActionSpace(ActionMode.EndEffectorDelta, ["dx", "dy", "dz", "gripper"], MaxEndEffectorStep)
                : new ActionSpace(ActionMode.JointPositionTargets, ["yaw", "shoulder", "elbow", "wrist", "gripper"], 0),
            TabletopScene.CameraNames,
            options.ImageWidth,
            options.ImageHeight,
            ProprioceptionLabels,
            TabletopScene.PhysicsStepsPerControlStep * _scene.Model.Timestep,
            Task.MaxEpisodeSteps);
    }

    /// <summary>
    /// The visual shift preset the next <see cref="Reset"/> applies; starts as
    /// <see cref="TabletopEnvironmentOptions.Shift"/>. Changing it lets one environment (one GL
    /// context) serve every preset, e.g. for evaluation sweeps.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown preset; the message lists the presets.</exception>
    /// <remarks>Setup only; takes effect at the next reset.</remarks>
    public string Shift
    {
        get => _shift.Name;
        set => _shift = VisualShifts.Get(value);
    }

    /// <summary>
    /// When true, every <see cref="Reset"/> also applies the collection's domain randomisation
    /// (<see cref="CollectionRandomisation"/>), seeded from the episode seed, after the shift preset.
    /// For <c>rr collect</c>; off for training and evaluation.
    /// </summary>
    public bool RandomiseVisuals { get; set; }

    /// <summary>The randomisation the last <see cref="Reset"/> applied, if <see cref="RandomiseVisuals"/> was on.</summary>
    public CollectionVisuals? LastRandomisation { get; private set; }

    /// <summary>The options the environment was built with.</summary>
    public TabletopEnvironmentOptions Options { get; }

    /// <summary>The task (for scripted controllers and evaluation that need privileged state).</summary>
    public TabletopTask Task { get; }

    /// <summary>The MuJoCo scene: privileged state for tests, scripted controllers and shifts.</summary>
    public TabletopScene Scene => _scene;

    /// <inheritdoc/>
    public EnvironmentSpec Spec { get; }

    /// <summary>The current end-effector set point (m) in <see cref="ActionMode.EndEffectorDelta"/> mode.</summary>
    public (double X, double Y, double Z) Setpoint => (_setpoint[0], _setpoint[1], _setpoint[2]);

    /// <inheritdoc/>
    public Observation Reset(int seed)
    {
        CheckThread();
        var random = new Random(seed);
        _scene.Data.Reset();
        var (x, y, z) = ArmKinematics.ClampToWorkspace(
            0.25 + 0.03 * (2 * random.NextDouble() - 1),
            0.05 * (2 * random.NextDouble() - 1),
            0.15 + 0.02 * (2 * random.NextDouble() - 1));
        _setpoint[0] = x;
        _setpoint[1] = y;
        _setpoint[2] = z;
        ArmKinematics.Solve(x, y, z, _joints);
        _scene.PlaceArm(_joints, 0);
        Task.Reset(_scene, random);
        _scene.Data.Forward();
        _visuals.Restore();
        _shift.Apply(new ShiftContext(_scene, _visuals, Task), new Random(VisualShifts.SeedFor(seed, _shift.Name)));
        LastRandomisation = RandomiseVisuals
            ? CollectionRandomisation.Apply(new ShiftContext(_scene, _visuals, Task), new Random(VisualShifts.SeedFor(seed, CollectionRandomisation.Name)))
            : null;
        _visuals.UploadChangedTextures();
        _scene.Data.Forward();
        _episodeStep = 0;
        _episodeOver = false;
        Observe();
        return _observation;
    }

    /// <inheritdoc/>
    public StepResult Step(ReadOnlySpan<float> action)
    {
        CheckThread();
        if (_episodeStep < 0)
            throw new InvalidOperationException("Step was called before Reset; call Reset(seed) to start an episode");
        if (_episodeOver)
            throw new InvalidOperationException("the episode has ended (terminated or truncated); call Reset(seed) to start another");
        if (action.Length != Spec.Action.Dimension)
            throw new ArgumentException($"action has {action.Length} values; {Spec.Action.Mode} expects {Spec.Action.Dimension} ({string.Join(", ", Spec.Action.Names)})", nameof(action));
        foreach (var value in action)
        {
            if (float.IsNaN(value))
                throw new ArgumentException("action holds NaN; expected values in [-1, 1]", nameof(action));
        }

        var ctrl = _scene.Ctrl.Span;
        float gripper;
        if (Spec.Action.Mode == ActionMode.EndEffectorDelta)
        {
            var (x, y, z) = ArmKinematics.ClampToWorkspace(
                _setpoint[0] + MaxEndEffectorStep * Math.Clamp(action[0], -1f, 1f),
                _setpoint[1] + MaxEndEffectorStep * Math.Clamp(action[1], -1f, 1f),
                _setpoint[2] + MaxEndEffectorStep * Math.Clamp(action[2], -1f, 1f));
            _setpoint[0] = x;
            _setpoint[1] = y;
            _setpoint[2] = z;
            ArmKinematics.Solve(x, y, z, _joints);
            for (var i = 0; i < 4; i++)
                ctrl[i] = _joints[i];
            gripper = action[3];
        }
        else
        {
            for (var i = 0; i < 4; i++)
            {
                var low = ArmKinematics.JointLow[i];
                var high = ArmKinematics.JointHigh[i];
                ctrl[i] = low + (Math.Clamp(action[i], -1f, 1f) + 1) / 2 * (high - low);
            }
            gripper = action[4];
        }
        ctrl[4] = ctrl[5] = FingerTravel * (1 - Math.Clamp(gripper, -1f, 1f)) / 2;

        _scene.Data.Step(TabletopScene.PhysicsStepsPerControlStep);
        _episodeStep++;
        var status = Task.Evaluate(_scene);
        var terminated = status.IsSuccess;
        var truncated = !terminated && _episodeStep >= Task.MaxEpisodeSteps;
        _episodeOver = terminated || truncated;
        Observe();
        return new StepResult(_observation, status.Reward, terminated, truncated, new StepInfo(status.IsSuccess, status.GoalDistance, _episodeStep));
    }

    /// <summary>Renders one camera of the current state into <paramref name="rgb"/> at any size up to the environment's image size.</summary>
    /// <exception cref="ArgumentException">Unknown camera; the message lists the cameras.</exception>
    public void RenderCamera(string camera, int width, int height, Span<byte> rgb)
    {
        CheckThread();
        var index = IndexOfCamera(camera);
        if (_renderer is null)
            throw new InvalidOperationException("this environment was built with RenderImages = false and has no render context");
        _renderer.Render(_scene.Data, _scene.CameraIds[index], width, height, rgb);
    }

    private static int IndexOfCamera(string camera)
    {
        for (var i = 0; i < TabletopScene.CameraNames.Count; i++)
        {
            if (TabletopScene.CameraNames[i] == camera)
                return i;
        }
        throw new ArgumentException($"no camera named '{camera}'; the scene has {string.Join(", ", TabletopScene.CameraNames)}", nameof(camera));
    }

    private void Observe()
    {
        var time = _scene.Data.Time;
        if (_renderer is not null)
        {
            for (var i = 0; i < _observation.Cameras.Count; i++)
            {
                var image = _observation.Cameras[i];
                _renderer.Render(_scene.Data, _scene.CameraIds[i], image.Width, image.Height, image.Rgb);
                image.TimestampSeconds = time;
            }
        }
        var qpos = _scene.Qpos.Span;
        var qvel = _scene.Qvel.Span;
        var proprioception = _observation.Proprioception;
        for (var i = 0; i < 4; i++)
        {
            proprioception[i] = (float)qpos[_scene.ArmQposAddress[i]];
            proprioception[4 + i] = (float)qvel[_scene.ArmDofAddress[i]];
        }
        proprioception[8] = (float)(qpos[_scene.FingerQposAddress[0]] + qpos[_scene.FingerQposAddress[1]]);
        var (x, y, z) = _scene.Tip;
        proprioception[9] = (float)x;
        proprioception[10] = (float)y;
        proprioception[11] = (float)z;
        _observation.TimestampSeconds = time;
    }

    private void CheckThread()
    {
        if (Environment.CurrentManagedThreadId != _ownerThread)
            throw new InvalidOperationException($"a TabletopEnvironment must be used on the thread that created it (thread {_ownerThread}); this is thread {Environment.CurrentManagedThreadId}");
    }

    /// <summary>Frees the renderer, data and model.</summary>
    public void Dispose()
    {
        _renderer?.Dispose();
        _scene.Dispose();
    }
}
