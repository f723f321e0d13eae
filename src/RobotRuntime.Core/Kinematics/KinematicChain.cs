using System.Diagnostics;
using System.Globalization;

namespace RobotRuntime.Kinematics;

/// <summary>
/// A serial arm: a base frame in the world, 1 to <see cref="MaxJoints"/> revolute or prismatic
/// joints, and a tool frame fixed to the last joint. The tool's pose in the world is
/// BaseFrame · Π (Originᵢ · Motionᵢ(qᵢ)) · Tool. Immutable once built, so one chain may be shared
/// by every thread.
/// </summary>
/// <remarks>
/// Construction, <see cref="Load"/>, <see cref="Parse"/> and <see cref="ToJson"/> are setup only
/// and throw on bad input. <see cref="Forward"/> and <see cref="Jacobian(ReadOnlySpan{double}, Span{double})"/>
/// are real-time: no allocation, no blocking, no throw when their length preconditions hold
/// (those are checked with <see cref="Debug.Assert(bool)"/> only; a span that is too short
/// fails the span's own bounds check).
/// </remarks>
public sealed partial class KinematicChain
{
    /// <summary>The most joints a chain may have (the IK's buffers and stack scratch are sized by it).</summary>
    public const int MaxJoints = 16;

    // Smallest axis length accepted before normalising; shorter is taken for a missing axis.
    private const double MinAxisLength = 1e-9;

    // Largest deviation of a given pose's rotation from orthonormal (entries of RᵀR − I).
    private const double RotationTolerance = 1e-6;

    private readonly KinematicJoint[] _joints;
    private readonly Pose[] _origins;
    private readonly double[] _axes; // x, y, z per joint, unit length
    private readonly bool[] _prismatic;
    private readonly double[] _positionMin;
    private readonly double[] _positionMax;
    private readonly Pose _baseFrame;
    private readonly Pose _tool;
    private readonly DenavitHartenbergTable? _denavitHartenberg;

    /// <summary>
    /// Builds and checks a chain. Axes are normalised (the stored <see cref="Joints"/> carry the unit axes).
    /// </summary>
    /// <param name="name">The chain's name (e.g. "ur5e").</param>
    /// <param name="baseFrame">Pose of the first joint's parent frame in the world.</param>
    /// <param name="joints">1 to <see cref="MaxJoints"/> joints, base first.</param>
    /// <param name="tool">Pose of the tool point in the last joint's frame (after its motion).</param>
    /// <exception cref="ArgumentException">
    /// A bad input: an empty name, too few or too many joints, a duplicate joint name, a zero or
    /// non-finite axis, PositionMin &gt; PositionMax, a non-finite number or a rotation that is not
    /// orthonormal. The message names the joint (index and name) and the field.
    /// </exception>
    /// <remarks>Setup only.</remarks>
    public KinematicChain(string name, Pose baseFrame, IReadOnlyList<KinematicJoint> joints, Pose tool)
        : this(name, baseFrame, joints, tool, null)
    {
    }

    private KinematicChain(string name, Pose baseFrame, IReadOnlyList<KinematicJoint> joints, Pose tool, DenavitHartenbergTable? denavitHartenberg)
    {
        ArgumentNullException.ThrowIfNull(joints);
        if (string.IsNullOrWhiteSpace(name))
            throw new ArgumentException("A kinematic chain needs a non-empty name.", nameof(name));
        if (joints.Count is < 1 or > MaxJoints)
            throw new ArgumentException($"Kinematic chain '{name}': expected 1 to {MaxJoints} joints, got {joints.Count}.", nameof(joints));
        CheckPose(baseFrame, $"Kinematic chain '{name}': base frame", nameof(baseFrame));
        CheckPose(tool, $"Kinematic chain '{name}': tool", nameof(tool));

        var count = joints.Count;
        _joints = new KinematicJoint[count];
        _origins = new Pose[count];
        _axes = new double[3 * count];
        _prismatic = new bool[count];
        _positionMin = new double[count];
        _positionMax = new double[count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var joint = joints[i];
            var where = $"Kinematic chain '{name}': joints[{i}]";
            if (joint is null)
                throw new ArgumentException($"{where} is null.", nameof(joints));
            if (string.IsNullOrWhiteSpace(joint.Name))
                throw new ArgumentException($"{where}: Name must not be empty.", nameof(joints));
            where += $" ({joint.Name})";
            if (!names.Add(joint.Name))
                throw new ArgumentException($"{where}: Name appears twice in the chain.", nameof(joints));
            if (!Enum.IsDefined(joint.Type))
                throw new ArgumentException($"{where}: Type {(int)joint.Type} is not a JointType.", nameof(joints));
            CheckPose(joint.Origin, $"{where}: Origin", nameof(joints));
            double ax = joint.AxisX, ay = joint.AxisY, az = joint.AxisZ;
            var length = Math.Sqrt(ax * ax + ay * ay + az * az);
            if (!double.IsFinite(length))
                throw new ArgumentException($"{where}: axis ({Text(ax)}, {Text(ay)}, {Text(az)}) is not finite.", nameof(joints));
            if (length < MinAxisLength)
                throw new ArgumentException($"{where}: axis ({Text(ax)}, {Text(ay)}, {Text(az)}) has zero length.", nameof(joints));
            if (!double.IsFinite(joint.PositionMin) || !double.IsFinite(joint.PositionMax))
                throw new ArgumentException($"{where}: PositionMin {Text(joint.PositionMin)} and PositionMax {Text(joint.PositionMax)} must be finite.", nameof(joints));
            if (joint.PositionMin > joint.PositionMax)
                throw new ArgumentException($"{where}: PositionMin {Text(joint.PositionMin)} is above PositionMax {Text(joint.PositionMax)}.", nameof(joints));

            _joints[i] = joint with { AxisX = ax / length, AxisY = ay / length, AxisZ = az / length };
            _origins[i] = joint.Origin;
            _axes[3 * i] = ax / length;
            _axes[3 * i + 1] = ay / length;
            _axes[3 * i + 2] = az / length;
            _prismatic[i] = joint.Type == JointType.Prismatic;
            _positionMin[i] = joint.PositionMin;
            _positionMax[i] = joint.PositionMax;
        }

        Name = name;
        Joints = Array.AsReadOnly(_joints);
        _baseFrame = baseFrame;
        _tool = tool;
        _denavitHartenberg = denavitHartenberg;
    }

    /// <summary>The chain's name.</summary>
    public string Name { get; }

    /// <summary>Number of joints, the length every joint vector passed to this chain must have.</summary>
    public int JointCount => _joints.Length;

    /// <summary>The joints, base first, with unit axes.</summary>
    public IReadOnlyList<KinematicJoint> Joints { get; }

    /// <summary>Pose of the first joint's parent frame in the world.</summary>
    public Pose BaseFrame => _baseFrame;

    /// <summary>
    /// Pose of the tool point in the last joint's frame, after the joint's motion. For a chain
    /// from <see cref="FromDenavitHartenberg"/> this includes the last DH row's fixed part.
    /// </summary>
    public Pose Tool => _tool;

    /// <summary>Lowest position per joint (rad or m).</summary>
    internal ReadOnlySpan<double> PositionMin => _positionMin;

    /// <summary>Highest position per joint (rad or m).</summary>
    internal ReadOnlySpan<double> PositionMax => _positionMax;

    /// <summary>End-effector (tool) pose in the base (world) frame at joint positions <paramref name="q"/>.</summary>
    /// <param name="q">Joint positions (rad or m), base first. Precondition: length <see cref="JointCount"/>.</param>
    /// <param name="tool">The tool's pose in the world.</param>
    /// <remarks>Real-time: no allocation, no blocking, no throw. Non-finite positions give a non-finite pose.</remarks>
    public void Forward(ReadOnlySpan<double> q, out Pose tool)
    {
        Debug.Assert(q.Length == _joints.Length, "Forward: q.Length must be JointCount.");
        var frame = _baseFrame;
        for (var i = 0; i < _origins.Length; i++)
        {
            frame = Pose.Multiply(frame, _origins[i]);
            Move(ref frame, i, q[i]);
        }
        tool = Pose.Multiply(frame, _tool);
    }

    /// <summary>
    /// Geometric Jacobian at the tool point: 6 × <see cref="JointCount"/>, row-major, rows
    /// vx, vy, vz (m/s per unit joint speed) and wx, wy, wz (rad/s per unit joint speed), both in
    /// the base (world) frame. Column i is how the tool moves per unit speed of joint i.
    /// </summary>
    /// <param name="q">Joint positions. Precondition: length <see cref="JointCount"/>.</param>
    /// <param name="jacobian">Filled with 6·<see cref="JointCount"/> numbers. Precondition: at least that long.</param>
    /// <remarks>Real-time: no allocation, no blocking, no throw.</remarks>
    public void Jacobian(ReadOnlySpan<double> q, Span<double> jacobian) => Jacobian(q, jacobian, out _);

    /// <summary>
    /// <see cref="Jacobian(ReadOnlySpan{double}, Span{double})"/> and <see cref="Forward"/> in one pass
    /// (the Jacobian needs the tool pose anyway).
    /// </summary>
    /// <param name="q">Joint positions. Precondition: length <see cref="JointCount"/>.</param>
    /// <param name="jacobian">Filled with 6·<see cref="JointCount"/> numbers, row-major. Precondition: at least that long.</param>
    /// <param name="tool">The tool's pose in the world.</param>
    /// <remarks>Real-time: no allocation, no blocking, no throw.</remarks>
    public void Jacobian(ReadOnlySpan<double> q, Span<double> jacobian, out Pose tool)
    {
        var n = _joints.Length;
        Debug.Assert(q.Length == n, "Jacobian: q.Length must be JointCount.");
        Debug.Assert(jacobian.Length >= 6 * n, "Jacobian: jacobian must hold 6·JointCount numbers.");
        jacobian = jacobian[..(6 * n)];

        // First pass: each joint's axis and origin in the world. The axis goes to rows 3–5 (its
        // final place for a revolute joint); the origin waits in rows 0–2 until the tool point is known.
        var frame = _baseFrame;
        for (var i = 0; i < n; i++)
        {
            frame = Pose.Multiply(frame, _origins[i]);
            double ax = _axes[3 * i], ay = _axes[3 * i + 1], az = _axes[3 * i + 2];
            jacobian[i] = frame.X;
            jacobian[n + i] = frame.Y;
            jacobian[2 * n + i] = frame.Z;
            jacobian[3 * n + i] = frame.R00 * ax + frame.R01 * ay + frame.R02 * az;
            jacobian[4 * n + i] = frame.R10 * ax + frame.R11 * ay + frame.R12 * az;
            jacobian[5 * n + i] = frame.R20 * ax + frame.R21 * ay + frame.R22 * az;
            Move(ref frame, i, q[i]);
        }
        tool = Pose.Multiply(frame, _tool);

        for (var i = 0; i < n; i++)
        {
            double wx = jacobian[3 * n + i], wy = jacobian[4 * n + i], wz = jacobian[5 * n + i];
            if (_prismatic[i])
            {
                jacobian[i] = wx;
                jacobian[n + i] = wy;
                jacobian[2 * n + i] = wz;
                jacobian[3 * n + i] = 0;
                jacobian[4 * n + i] = 0;
                jacobian[5 * n + i] = 0;
            }
            else
            {
                // v = w × (tool point − joint origin)
                double rx = tool.X - jacobian[i], ry = tool.Y - jacobian[n + i], rz = tool.Z - jacobian[2 * n + i];
                jacobian[i] = wy * rz - wz * ry;
                jacobian[n + i] = wz * rx - wx * rz;
                jacobian[2 * n + i] = wx * ry - wy * rx;
            }
        }
    }

    /// <summary>
    /// Builds a chain from standard Denavit–Hartenberg rows, T_i = Rz(θ_i)·Tz(d_i)·Tx(a_i)·Rx(α_i),
    /// all joints revolute about z with θ_i the joint position (no offsets). Joint i's
    /// <see cref="KinematicJoint.Origin"/> is row i−1's fixed part Tz·Tx·Rx (identity for the first);
    /// the last row's fixed part (the flange) is folded into <see cref="Tool"/>.
    /// </summary>
    /// <param name="name">The chain's name.</param>
    /// <param name="baseFrame">Pose of DH frame 0 in the world.</param>
    /// <param name="d">Offsets along the previous z, m.</param>
    /// <param name="a">Lengths along the new x, m.</param>
    /// <param name="alpha">Twists about the new x, rad.</param>
    /// <param name="jointNames">One name per row.</param>
    /// <param name="positionMin">Lowest joint position per row, rad.</param>
    /// <param name="positionMax">Highest joint position per row, rad.</param>
    /// <param name="tool">Pose of the tool point in the last DH frame (the flange).</param>
    /// <exception cref="ArgumentException">The rows differ in length, a number is not finite, or the chain's own checks fail.</exception>
    /// <remarks>Setup only. <see cref="ToJson"/> writes such a chain back as its DH table.</remarks>
    public static KinematicChain FromDenavitHartenberg(
        string name,
        Pose baseFrame,
        ReadOnlySpan<double> d,
        ReadOnlySpan<double> a,
        ReadOnlySpan<double> alpha,
        IReadOnlyList<string> jointNames,
        ReadOnlySpan<double> positionMin,
        ReadOnlySpan<double> positionMax,
        Pose tool)
    {
        ArgumentNullException.ThrowIfNull(jointNames);
        var n = d.Length;
        if (a.Length != n || alpha.Length != n || jointNames.Count != n || positionMin.Length != n || positionMax.Length != n)
        {
            throw new ArgumentException(
                $"Kinematic chain '{name}': the DH rows must have one entry per joint; got d {n}, a {a.Length}, alpha {alpha.Length}, "
                + $"jointNames {jointNames.Count}, positionMin {positionMin.Length}, positionMax {positionMax.Length}.");
        }
        CheckFinite(d, name, nameof(d));
        CheckFinite(a, name, nameof(a));
        CheckFinite(alpha, name, nameof(alpha));
        CheckPose(tool, $"Kinematic chain '{name}': tool", nameof(tool));

        var joints = new KinematicJoint[n];
        var previous = Pose.Identity;
        for (var i = 0; i < n; i++)
        {
            joints[i] = new KinematicJoint(jointNames[i], JointType.Revolute, previous, 0, 0, 1, positionMin[i], positionMax[i]);
            previous = DenavitHartenbergFixedPart(d[i], a[i], alpha[i]);
        }
        var table = new DenavitHartenbergTable(d.ToArray(), a.ToArray(), alpha.ToArray(), tool);
        return new KinematicChain(name, baseFrame, joints, Pose.Multiply(previous, tool), table);
    }

    /// <summary>Tz(d)·Tx(a)·Rx(α): a DH row without its joint rotation.</summary>
    private static Pose DenavitHartenbergFixedPart(double d, double a, double alpha)
    {
        var (sin, cos) = Math.SinCos(alpha);
        return new Pose
        {
            X = a, Z = d,
            R00 = 1,
            R11 = cos, R12 = -sin,
            R21 = sin, R22 = cos,
        };
    }

    /// <summary>Applies joint <paramref name="i"/>'s motion by <paramref name="position"/> to <paramref name="frame"/> (the joint frame).</summary>
    private void Move(ref Pose frame, int i, double position)
    {
        double ax = _axes[3 * i], ay = _axes[3 * i + 1], az = _axes[3 * i + 2];
        if (_prismatic[i])
        {
            frame.X += (frame.R00 * ax + frame.R01 * ay + frame.R02 * az) * position;
            frame.Y += (frame.R10 * ax + frame.R11 * ay + frame.R12 * az) * position;
            frame.Z += (frame.R20 * ax + frame.R21 * ay + frame.R22 * az) * position;
            return;
        }
        // Rotation about the unit axis (Rodrigues): R = cI + s[a]× + (1 − c)aaᵀ.
        var (s, c) = Math.SinCos(position);
        var v = 1 - c;
        var rotation = new Pose
        {
            R00 = c + ax * ax * v, R01 = ax * ay * v - az * s, R02 = ax * az * v + ay * s,
            R10 = ay * ax * v + az * s, R11 = c + ay * ay * v, R12 = ay * az * v - ax * s,
            R20 = az * ax * v - ay * s, R21 = az * ay * v + ax * s, R22 = c + az * az * v,
        };
        frame = Pose.Multiply(frame, rotation);
    }

    private static void CheckPose(in Pose pose, string what, string parameter)
    {
        if (!pose.IsFinite())
            throw new ArgumentException($"{what}: {pose} holds a non-finite number.", parameter);
        var error = pose.OrthonormalityError();
        if (error > RotationTolerance)
            throw new ArgumentException($"{what}: the rotation is not orthonormal with det +1 (off by {Text(error)}): {pose}.", parameter);
    }

    private static void CheckFinite(ReadOnlySpan<double> values, string chain, string field)
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (!double.IsFinite(values[i]))
                throw new ArgumentException($"Kinematic chain '{chain}': {field}[{i}] is {Text(values[i])}, expected a finite number.", field);
        }
    }

    private static string Text(double value) => value.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>The DH rows a chain was built from, kept so that <see cref="ToJson"/> writes them back.</summary>
    private sealed record DenavitHartenbergTable(double[] D, double[] A, double[] Alpha, Pose FlangeTool);
}
