using RobotRuntime.Arm;
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
/// <param name="Arm">The arm (see <see cref="SimArm.Names"/>): "toy4" (default) or "ur5e".</param>
public sealed record TabletopEnvironmentOptions(
    string Task = "reach",
    ActionMode ActionMode = ActionMode.EndEffectorDelta,
    int ImageWidth = 84,
    int ImageHeight = 84,
    string Shift = VisualShifts.InDistribution,
    bool RenderImages = true,
    string Arm = "toy4");

/// <summary>
/// The MuJoCo tabletop arm as an <see cref="IEnvironment"/>: one arm, one task, one action mode, both
/// cameras ("front" third-person, "wrist") rendered at the requested size, a visual shift preset
/// sampled from the reset seed.
/// </summary>
/// <remarks>
/// The 4-joint arm keeps its closed-form inverse kinematics and 12-value proprioception (what the
/// shipped agents learned on). Every other arm is observed through its <see cref="ArmLayout"/> and acts
/// through the runtime's own <see cref="ActionTranslator"/> as a joint-only arm: end-effector deltas
/// become joint-position targets by the runtime's inverse kinematics, exactly as <c>rr run</c> drives
/// that arm through a firmware that takes joint commands only.
/// </remarks>
/// <remarks>
/// Thread: every call must come from the thread that constructed the environment (its GL
/// context lives there); other threads get an <see cref="InvalidOperationException"/>.
/// <see cref="Step"/> allocates nothing managed in steady state.
/// </remarks>
public sealed class TabletopEnvironment : IVisualShiftEnvironment
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
    private readonly double[] _joints;
    private readonly SimArm _arm;
    private readonly ActionTranslator? _translator;
    private readonly RobotRuntime.Kinematics.InverseKinematics? _startIk;
    private ArmState _measured;
    private ArmCommand _command;
    private int _episodeStep = -1;
    private bool _episodeOver;
    private ControlLatency _latency = ControlLatency.None;
    private int _cameraLatency;
    private int _commandLatency;
    private bool _imagesTaken;
    private double[] _previousCtrl = [];
    private double[] _nextCtrl = [];

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
        _arm = SimArm.Get(options.Arm);
        _joints = new double[_arm.JointCount];
        Layout = options.ActionMode == ActionMode.EndEffectorDelta ? _arm.Layout : JointPositionLayout(_arm);
        if (!_arm.IsToy)
        {
            _translator = new ActionTranslator(Layout, JointOnlyDescription(_arm), _arm.Chain, _arm.Workspace);
            _startIk = new RobotRuntime.Kinematics.InverseKinematics(_arm.Chain, new RobotRuntime.Kinematics.IkOptions(MaxIterations: 200));
        }
        _ownerThread = Environment.CurrentManagedThreadId;
        _scene = new TabletopScene(Task.ObjectsMjcf, _arm);
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
        var proprioception = _arm.IsToy ? ProprioceptionLabels : Layout.ProprioceptionNames(_arm.JointNames);
        _observation = new Observation(cameras, proprioception.Count);
        Spec = new EnvironmentSpec(
            Task.Name,
            options.ActionMode == ActionMode.EndEffectorDelta
                ? new ActionSpace(ActionMode.EndEffectorDelta, Layout.ActionNames(_arm.JointNames), MaxEndEffectorStep)
                : new ActionSpace(ActionMode.JointPositionTargets, Layout.ActionNames(_arm.JointNames), 0),
            TabletopScene.CameraNames,
            options.ImageWidth,
            options.ImageHeight,
            proprioception,
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

    /// <summary>
    /// The camera and command latencies each <see cref="Reset"/> draws for its episode (seeded from the
    /// episode seed); <see cref="ControlLatency.None"/> by default. Setup only; takes effect at the next reset.
    /// </summary>
    /// <exception cref="ArgumentException">An invalid range.</exception>
    public ControlLatency Latency
    {
        get => _latency;
        set => _latency = (value ?? throw new ArgumentNullException(nameof(value))).Validate();
    }

    /// <summary>The episode's camera and command latencies in physics steps, as the last <see cref="Reset"/> drew them.</summary>
    public (int Camera, int Command) EpisodeLatency => (_cameraLatency, _commandLatency);

    /// <summary>The randomisation the last <see cref="Reset"/> applied, if <see cref="RandomiseVisuals"/> was on.</summary>
    public CollectionVisuals? LastRandomisation { get; private set; }

    /// <summary>The arm.</summary>
    public SimArm Arm => _arm;

    /// <summary>How a policy sees this environment's arm: its proprioception and action layout (for agent packages).</summary>
    public ArmLayout Layout { get; }

    /// <summary>The layout of joint-position actions on <paramref name="arm"/>: normalised onto its joint ranges.</summary>
    public static ArmLayout JointPositionLayout(SimArm arm)
    {
        var ranges = new double[2 * arm.JointCount];
        for (var j = 0; j < arm.JointCount; j++)
        {
            ranges[2 * j] = arm.Limits[j].PositionMin;
            ranges[2 * j + 1] = arm.Limits[j].PositionMax;
        }
        return arm.Layout with { ActionSpace = ActionSpaceKind.JointPosition, ActionRotation = false, JointRanges = ranges };
    }

    /// <summary>The description of <paramref name="arm"/> as a firmware that takes joint commands only would give it.</summary>
    public static ArmDescription JointOnlyDescription(SimArm arm) =>
        new(1, 2, arm.Limits, new HashSet<ArmCommandMode> { ArmCommandMode.JointPosition, ArmCommandMode.JointVelocity }, 125, 100, 0, 0);

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
        var (x, y, z) = _arm.ClampToWorkspace(
            0.25 + 0.03 * (2 * random.NextDouble() - 1),
            0.05 * (2 * random.NextDouble() - 1),
            0.15 + 0.02 * (2 * random.NextDouble() - 1));
        _setpoint[0] = x;
        _setpoint[1] = y;
        _setpoint[2] = z;
        if (_arm.IsToy)
        {
            ArmKinematics.Solve(x, y, z, _joints);
        }
        else
        {
            var result = _startIk!.Solve(SimArm.DownwardTip(x, y, z), _arm.Home, _joints);
            if (result.Status != RobotRuntime.Kinematics.IkStatus.Converged)
                throw new SimulatorException($"the {_arm.Name} arm's start pose ({x:0.###}, {y:0.###}, {z:0.###}) m pointing down has no inverse-kinematics solution from its home joints ({result.PositionError:0.####} m off)");
            _translator!.Reset();
        }
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
        (_cameraLatency, _commandLatency) = _latency.IsNone ? (0, 0) : _latency.Draw(new Random(VisualShifts.SeedFor(seed, "control-latency")));
        if (_previousCtrl.Length != _scene.Ctrl.Length)
        {
            _previousCtrl = new double[_scene.Ctrl.Length];
            _nextCtrl = new double[_scene.Ctrl.Length];
        }
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
        ctrl.CopyTo(_previousCtrl);
        float gripper;
        if (_translator is not null)
        {
            _measured.Status = ArmStatusFlags.Enabled;
            _scene.Measure(ref _measured);
            // As the runtime does against the arm's firmware: joint targets within one period of the joints' velocity limits.
            _translator.Translate(action, in _measured, ref _command, TabletopScene.PhysicsStepsPerControlStep * _scene.Model.Timestep);
            for (var i = 0; i < _arm.JointCount; i++)
                ctrl[i] = _command.Values[i];
            if (_translator.UsesInverseKinematics)
            {
                var target = _translator.Target;
                _setpoint[0] = target.X;
                _setpoint[1] = target.Y;
                _setpoint[2] = target.Z;
            }
            gripper = action[^1];
        }
        else if (Spec.Action.Mode == ActionMode.EndEffectorDelta)
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
        ctrl[_scene.FingerCtrl] = ctrl[_scene.FingerCtrl + 1] = _arm.FingerTravel * (1 - Math.Clamp(gripper, -1f, 1f)) / 2;

        Advance();
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

    /// <summary>
    /// One control period of physics. Without latency, the new command from the start; with it, the
    /// previous command for the first <see cref="_commandLatency"/> steps, and the cameras' images taken
    /// <see cref="_cameraLatency"/> steps before the period ends.
    /// </summary>
    private void Advance()
    {
        const int total = TabletopScene.PhysicsStepsPerControlStep;
        var applyAt = _commandLatency;
        var renderAt = _renderer is null || _cameraLatency == 0 ? total : total - _cameraLatency;
        _imagesTaken = false;
        if (applyAt == 0 && renderAt == total)
        {
            _scene.Step(total);
            return;
        }
        var ctrl = _scene.Ctrl.Span;
        if (applyAt > 0)
        {
            ctrl.CopyTo(_nextCtrl);
            _previousCtrl.CopyTo(ctrl);
        }
        var done = 0;
        var applied = applyAt == 0;
        var rendered = renderAt == total;
        while (done < total)
        {
            var next = total;
            if (!applied)
                next = Math.Min(next, applyAt);
            if (!rendered)
                next = Math.Min(next, renderAt);
            if (next > done)
            {
                _scene.Step(next - done);
                done = next;
            }
            if (!applied && done == applyAt)
            {
                _nextCtrl.CopyTo(ctrl);
                applied = true;
            }
            if (!rendered && done == renderAt)
            {
                RenderCameras();
                rendered = true;
                _imagesTaken = true;
            }
        }
    }

    private void RenderCameras()
    {
        var time = _scene.Data.Time;
        for (var i = 0; i < _observation.Cameras.Count; i++)
        {
            var image = _observation.Cameras[i];
            _renderer!.Render(_scene.Data, _scene.CameraIds[i], image.Width, image.Height, image.Rgb);
            image.TimestampSeconds = time;
        }
    }

    private void Observe()
    {
        var time = _scene.Data.Time;
        // With camera latency the period's images were taken before its end (Advance).
        if (_imagesTaken)
            _imagesTaken = false;
        else if (_renderer is not null)
            RenderCameras();
        var proprioception = _observation.Proprioception;
        if (!_arm.IsToy)
        {
            _scene.Measure(ref _measured);
            Layout.FillProprioception(in _measured, proprioception);
            _observation.TimestampSeconds = time;
            return;
        }
        var qpos = _scene.Qpos.Span;
        var qvel = _scene.Qvel.Span;
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
