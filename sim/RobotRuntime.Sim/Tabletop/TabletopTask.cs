namespace RobotRuntime.Sim.Tabletop;

/// <summary>What a task says about the current state: reward, success and distance to success.</summary>
/// <param name="Reward">Dense reward for the step.</param>
/// <param name="IsSuccess">The success condition holds.</param>
/// <param name="GoalDistance">Distance to success in metres.</param>
public readonly record struct TaskStatus(double Reward, bool IsSuccess, double GoalDistance);

/// <summary>
/// A task on the tabletop arm scene: its own MJCF objects, seeded randomised reset, dense reward
/// and success condition. One instance belongs to one environment.
/// </summary>
public abstract class TabletopTask
{
    /// <summary>The task names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["reach", "push", "peek", "pick-place"];

    /// <summary>Makes a task by name ("reach", "push", "peek" or "pick-place").</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static TabletopTask Create(string name) => name switch
    {
        "reach" => new ReachTask(),
        "push" => new PushTask(),
        "peek" => new PeekTask(),
        "pick-place" => new PickPlaceTask(),
        _ => throw new ArgumentException($"unknown task '{name}'; expected one of {string.Join(", ", Names)}", nameof(name)),
    };

    /// <summary>The task's name.</summary>
    public abstract string Name { get; }

    /// <summary>MJCF inserted into the scene's worldbody.</summary>
    public abstract string ObjectsMjcf { get; }

    /// <summary>Steps after which an episode is truncated.</summary>
    public abstract int MaxEpisodeSteps { get; }

    /// <summary>Looks up the task's objects in a freshly loaded scene.</summary>
    public abstract void Bind(TabletopScene scene);

    /// <summary>Places the task's objects for a new episode (the arm is already placed); the caller runs mj_forward.</summary>
    public abstract void Reset(TabletopScene scene, Random random);

    /// <summary>Reward, success and distance in the current state (after a step or forward).</summary>
    public abstract TaskStatus Evaluate(TabletopScene scene);

    /// <summary>
    /// Reward, success and distance of a state given as the environment-state vector a dataset keeps
    /// (<see cref="Collection.DatasetCollector.EnvironmentStateNames"/>: tip, goal and object positions, m),
    /// by the same formula as <see cref="Evaluate"/> (in double precision from the stored float32 values).
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than 9 values, or a value the task needs is NaN.</exception>
    public TaskStatus EvaluateState(ReadOnlySpan<float> state)
    {
        if (state.Length < EnvironmentStateLength)
            throw new ArgumentException($"an environment state has {EnvironmentStateLength} values (tip, goal, object positions); got {state.Length}", nameof(state));
        var status = EvaluateStateCore(state);
        if (double.IsNaN(status.Reward))
            throw new ArgumentException($"task '{Name}': the environment state lacks a position it needs (NaN): {string.Join(", ", state.ToArray())}", nameof(state));
        return status;
    }

    /// <summary>Values of the environment-state vector <see cref="EvaluateState"/> reads.</summary>
    public const int EnvironmentStateLength = 9;

    /// <summary>The task's formula on an environment-state vector (see <see cref="EvaluateState"/>).</summary>
    protected abstract TaskStatus EvaluateStateCore(ReadOnlySpan<float> state);

    /// <summary>Table points (x, y in metres) that distractors must keep 8 cm away from.</summary>
    public abstract IEnumerable<(double X, double Y)> KeepClear(TabletopScene scene);

    /// <summary>A uniform sample in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    protected static double Uniform(Random random, double low, double high) => low + (high - low) * random.NextDouble();

    /// <summary>Shaped closeness in (0, 1]: 1 at distance 0, ~0.24 at 10 cm.</summary>
    protected static double Closeness(double metres) => 1 - Math.Tanh(10 * metres);

    /// <summary>Euclidean distance.</summary>
    protected static double Distance(double ax, double ay, double az, double bx, double by, double bz) =>
        Math.Sqrt((ax - bx) * (ax - bx) + (ay - by) * (ay - by) + (az - bz) * (az - bz));
}

/// <summary>
/// Reach: move the fingertip to a red sphere floating above the table. Reward 1 − tanh(10·d)
/// for fingertip-to-target distance d (m); success when d &lt; 3 cm; 100 steps (4 s).
/// </summary>
public sealed class ReachTask : TabletopTask
{
    /// <summary>Success radius in metres.</summary>
    public const double SuccessRadius = 0.03;

    private int _target;

    /// <inheritdoc/>
    public override string Name => "reach";

    /// <inheritdoc/>
    public override int MaxEpisodeSteps => 100;

    /// <inheritdoc/>
    public override string ObjectsMjcf =>
        """<body name="target" mocap="true" pos="0.4 0 0.1"><geom name="target" type="sphere" size="0.02" rgba="0.9 0.12 0.12 1"/></body>""";

    /// <inheritdoc/>
    public override void Bind(TabletopScene scene) =>
        _target = scene.Model.Field<int>("body_mocapid").Span[scene.Model.Id(MuJoCo.MjObject.Body, "target")];

    /// <summary>The target's world position.</summary>
    public (double X, double Y, double Z) Target(TabletopScene scene)
    {
        var p = scene.MocapPos.Row(_target);
        return (p[0], p[1], p[2]);
    }

    /// <inheritdoc/>
    public override void Reset(TabletopScene scene, Random random)
    {
        var p = scene.MocapPos.Row(_target);
        p[0] = Uniform(random, 0.25, 0.55);
        p[1] = Uniform(random, -0.25, 0.25);
        p[2] = Uniform(random, 0.05, 0.25);
    }

    /// <inheritdoc/>
    public override TaskStatus Evaluate(TabletopScene scene)
    {
        var (tx, ty, tz) = scene.Tip;
        var (gx, gy, gz) = Target(scene);
        return Status(tx, ty, tz, gx, gy, gz);
    }

    /// <inheritdoc/>
    protected override TaskStatus EvaluateStateCore(ReadOnlySpan<float> state) =>
        Status(state[0], state[1], state[2], state[3], state[4], state[5]);

    private static TaskStatus Status(double tx, double ty, double tz, double gx, double gy, double gz)
    {
        var distance = Distance(tx, ty, tz, gx, gy, gz);
        return new TaskStatus(Closeness(distance), distance < SuccessRadius, distance);
    }

    /// <inheritdoc/>
    public override IEnumerable<(double X, double Y)> KeepClear(TabletopScene scene)
    {
        var (x, y, _) = Target(scene);
        yield return (x, y);
    }
}

/// <summary>
/// Push: push a puck (radius 3 cm) into a green goal disc. Reward (1 − tanh(10·d_goal)) +
/// 0.5·(1 − tanh(10·d_tip)) with d_goal the puck-to-goal distance on the table and d_tip the
/// fingertip-to-puck distance (m); success when d_goal &lt; 5 cm; 150 steps (6 s).
/// </summary>
public sealed class PushTask : TabletopTask
{
    /// <summary>Success radius in metres.</summary>
    public const double SuccessRadius = 0.05;

    /// <summary>Height of the puck's centre when it rests on the table (m).</summary>
    public const double PuckHeight = 0.015;

    private int _goal;
    private int _puckQpos;
    private int _puckBody;

    /// <inheritdoc/>
    public override string Name => "push";

    /// <inheritdoc/>
    public override int MaxEpisodeSteps => 150;

    /// <inheritdoc/>
    public override string ObjectsMjcf =>
        """
        <body name="puck" pos="0.4 0 0.015"><freejoint name="puck"/><geom name="puck" type="cylinder" size="0.03 0.015" mass="0.1" rgba="0.85 0.3 0.1 1" contype="1" conaffinity="1"/></body>
        <body name="goal" mocap="true" pos="0.45 0.1 0.0005"><geom name="goal" type="cylinder" size="0.05 0.0005" rgba="0.2 0.75 0.3 1"/></body>
        """;

    /// <inheritdoc/>
    public override void Bind(TabletopScene scene)
    {
        _goal = scene.Model.Field<int>("body_mocapid").Span[scene.Model.Id(MuJoCo.MjObject.Body, "goal")];
        _puckBody = scene.Model.Id(MuJoCo.MjObject.Body, "puck");
        _puckQpos = scene.Model.Field<int>("jnt_qposadr").Span[scene.Model.Id(MuJoCo.MjObject.Joint, "puck")];
    }

    /// <summary>The puck's world position.</summary>
    public (double X, double Y, double Z) Puck(TabletopScene scene)
    {
        var p = scene.XPos.Row(_puckBody);
        return (p[0], p[1], p[2]);
    }

    /// <summary>The goal's centre on the table.</summary>
    public (double X, double Y) Goal(TabletopScene scene)
    {
        var p = scene.MocapPos.Row(_goal);
        return (p[0], p[1]);
    }

    /// <inheritdoc/>
    public override void Reset(TabletopScene scene, Random random)
    {
        var puckX = Uniform(random, 0.3, 0.45);
        var puckY = Uniform(random, -0.15, 0.15);
        double goalX, goalY;
        do
        {
            goalX = Uniform(random, 0.3, 0.55);
            goalY = Uniform(random, -0.2, 0.2);
        }
        while (Math.Sqrt((goalX - puckX) * (goalX - puckX) + (goalY - puckY) * (goalY - puckY)) < 0.12);
        var qpos = scene.Qpos.Span;
        qpos[_puckQpos] = puckX;
        qpos[_puckQpos + 1] = puckY;
        qpos[_puckQpos + 2] = PuckHeight;
        qpos[_puckQpos + 3] = 1;
        qpos[_puckQpos + 4] = qpos[_puckQpos + 5] = qpos[_puckQpos + 6] = 0;
        var goal = scene.MocapPos.Row(_goal);
        goal[0] = goalX;
        goal[1] = goalY;
    }

    /// <inheritdoc/>
    public override TaskStatus Evaluate(TabletopScene scene)
    {
        var (px, py, pz) = Puck(scene);
        var (gx, gy) = Goal(scene);
        var (tx, ty, tz) = scene.Tip;
        return Status(tx, ty, tz, gx, gy, px, py, pz);
    }

    /// <inheritdoc/>
    protected override TaskStatus EvaluateStateCore(ReadOnlySpan<float> state) =>
        Status(state[0], state[1], state[2], state[3], state[4], state[6], state[7], state[8]);

    private static TaskStatus Status(double tx, double ty, double tz, double gx, double gy, double px, double py, double pz)
    {
        var toGoal = Math.Sqrt((px - gx) * (px - gx) + (py - gy) * (py - gy));
        var toPuck = Distance(tx, ty, tz, px, py, pz);
        return new TaskStatus(Closeness(toGoal) + 0.5 * Closeness(toPuck), toGoal < SuccessRadius, toGoal);
    }

    /// <inheritdoc/>
    public override IEnumerable<(double X, double Y)> KeepClear(TabletopScene scene)
    {
        var (px, py, _) = Puck(scene);
        yield return (px, py);
        yield return Goal(scene);
        yield return ((px + Goal(scene).X) / 2, (py + Goal(scene).Y) / 2);
    }
}

/// <summary>
/// Peek: touch a yellow pad on the table that a screen hides from the front camera, so only
/// the wrist camera can find it. Reward 1 − tanh(10·d) for the fingertip-to-pad-centre distance
/// d (m, pad centre taken 1.5 cm above the table); success when d &lt; 3 cm; 100 steps (4 s).
/// </summary>
public sealed class PeekTask : TabletopTask
{
    /// <summary>Success radius in metres.</summary>
    public const double SuccessRadius = 0.03;

    private int _pad;

    /// <inheritdoc/>
    public override string Name => "peek";

    /// <inheritdoc/>
    public override int MaxEpisodeSteps => 100;

    /// <inheritdoc/>
    public override string ObjectsMjcf =>
        """
        <geom name="screen" type="box" pos="0.5 0 0.12" size="0.01 0.45 0.12" rgba="0.55 0.55 0.6 1" contype="1" conaffinity="1"/>
        <body name="pad" mocap="true" pos="0.38 0 0.0005"><geom name="pad" type="cylinder" size="0.03 0.0005" rgba="0.95 0.8 0.1 1"/></body>
        """;

    /// <inheritdoc/>
    public override void Bind(TabletopScene scene) =>
        _pad = scene.Model.Field<int>("body_mocapid").Span[scene.Model.Id(MuJoCo.MjObject.Body, "pad")];

    /// <summary>The pad's centre on the table.</summary>
    public (double X, double Y) Pad(TabletopScene scene)
    {
        var p = scene.MocapPos.Row(_pad);
        return (p[0], p[1]);
    }

    /// <inheritdoc/>
    public override void Reset(TabletopScene scene, Random random)
    {
        var p = scene.MocapPos.Row(_pad);
        p[0] = Uniform(random, 0.3, 0.45);
        p[1] = Uniform(random, -0.15, 0.15);
    }

    /// <inheritdoc/>
    public override TaskStatus Evaluate(TabletopScene scene)
    {
        var (tx, ty, tz) = scene.Tip;
        var (px, py) = Pad(scene);
        return Status(tx, ty, tz, px, py);
    }

    /// <inheritdoc/>
    protected override TaskStatus EvaluateStateCore(ReadOnlySpan<float> state) =>
        Status(state[0], state[1], state[2], state[3], state[4]);

    private static TaskStatus Status(double tx, double ty, double tz, double px, double py)
    {
        var distance = Distance(tx, ty, tz, px, py, 0.015);
        return new TaskStatus(Closeness(distance), distance < SuccessRadius, distance);
    }

    /// <inheritdoc/>
    public override IEnumerable<(double X, double Y)> KeepClear(TabletopScene scene)
    {
        yield return Pad(scene);
    }
}

/// <summary>
/// Pick-and-place: grasp a 4 cm cube on the table and carry it to a green marker floating 8–18 cm above
/// the table. Reward 0.5·(1 − tanh(10·d_tip)) + (1 − tanh(10·d_goal)) + 0.5·[cube lifted 2 cm] with d_tip
/// the fingertip-to-cube and d_goal the cube-to-marker distance (m); success when d_goal &lt; 4 cm;
/// 150 steps (6 s). The cube's faces are square to the table's axes, so a gripper pointing down with its
/// fingers along y (the end-effector actions' orientation) closes on two of them.
/// </summary>
public sealed class PickPlaceTask : TabletopTask
{
    /// <summary>Success radius in metres.</summary>
    public const double SuccessRadius = 0.04;

    /// <summary>Half the cube's edge, m.</summary>
    public const double CubeHalf = 0.02;

    private int _goal;
    private int _cubeQpos;
    private int _cubeBody;

    /// <inheritdoc/>
    public override string Name => "pick-place";

    /// <inheritdoc/>
    public override int MaxEpisodeSteps => 150;

    /// <inheritdoc/>
    public override string ObjectsMjcf =>
        """
        <body name="cube" pos="0.4 0 0.02"><freejoint name="cube"/><geom name="cube" type="box" size="0.02 0.02 0.02" mass="0.03" rgba="0.85 0.3 0.1 1" contype="1" conaffinity="1" friction="1.5 0.01 0.0001"/></body>
        <body name="goal" mocap="true" pos="0.45 0.1 0.12"><geom name="goal" type="sphere" size="0.02" rgba="0.2 0.75 0.3 0.6"/></body>
        """;

    /// <inheritdoc/>
    public override void Bind(TabletopScene scene)
    {
        _goal = scene.Model.Field<int>("body_mocapid").Span[scene.Model.Id(MuJoCo.MjObject.Body, "goal")];
        _cubeBody = scene.Model.Id(MuJoCo.MjObject.Body, "cube");
        _cubeQpos = scene.Model.Field<int>("jnt_qposadr").Span[scene.Model.Id(MuJoCo.MjObject.Joint, "cube")];
    }

    /// <summary>The cube's centre.</summary>
    public (double X, double Y, double Z) Cube(TabletopScene scene)
    {
        var p = scene.XPos.Row(_cubeBody);
        return (p[0], p[1], p[2]);
    }

    /// <summary>The marker the cube must reach.</summary>
    public (double X, double Y, double Z) Goal(TabletopScene scene)
    {
        var p = scene.MocapPos.Row(_goal);
        return (p[0], p[1], p[2]);
    }

    /// <inheritdoc/>
    public override void Reset(TabletopScene scene, Random random)
    {
        var cubeX = Uniform(random, 0.3, 0.45);
        var cubeY = Uniform(random, -0.15, 0.15);
        double goalX, goalY;
        do
        {
            goalX = Uniform(random, 0.3, 0.5);
            goalY = Uniform(random, -0.2, 0.2);
        }
        while (Math.Sqrt((goalX - cubeX) * (goalX - cubeX) + (goalY - cubeY) * (goalY - cubeY)) < 0.1);
        var qpos = scene.Qpos.Span;
        qpos[_cubeQpos] = cubeX;
        qpos[_cubeQpos + 1] = cubeY;
        qpos[_cubeQpos + 2] = CubeHalf;
        qpos[_cubeQpos + 3] = 1;
        qpos[_cubeQpos + 4] = qpos[_cubeQpos + 5] = qpos[_cubeQpos + 6] = 0;
        var goal = scene.MocapPos.Row(_goal);
        goal[0] = goalX;
        goal[1] = goalY;
        goal[2] = Uniform(random, 0.08, 0.18);
    }

    /// <inheritdoc/>
    public override TaskStatus Evaluate(TabletopScene scene)
    {
        var (cx, cy, cz) = Cube(scene);
        var (gx, gy, gz) = Goal(scene);
        var (tx, ty, tz) = scene.Tip;
        return Status(tx, ty, tz, gx, gy, gz, cx, cy, cz);
    }

    /// <inheritdoc/>
    protected override TaskStatus EvaluateStateCore(ReadOnlySpan<float> state) =>
        Status(state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7], state[8]);

    private static TaskStatus Status(double tx, double ty, double tz, double gx, double gy, double gz, double cx, double cy, double cz)
    {
        var toGoal = Distance(cx, cy, cz, gx, gy, gz);
        var toCube = Distance(tx, ty, tz, cx, cy, cz);
        var lifted = cz > CubeHalf + 0.02 ? 0.5 : 0.0;
        return new TaskStatus(0.5 * Closeness(toCube) + Closeness(toGoal) + lifted, toGoal < SuccessRadius, toGoal);
    }

    /// <inheritdoc/>
    public override IEnumerable<(double X, double Y)> KeepClear(TabletopScene scene)
    {
        var (cx, cy, _) = Cube(scene);
        var (gx, gy, _) = Goal(scene);
        yield return (cx, cy);
        yield return (gx, gy);
    }
}
