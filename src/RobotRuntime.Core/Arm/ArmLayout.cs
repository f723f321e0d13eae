using System.Text.Json;
using System.Text.Json.Nodes;

namespace RobotRuntime.Arm;

/// <summary>The space a policy's normalised actions live in.</summary>
public enum ActionSpaceKind
{
    /// <summary>One value per joint in [−1, 1], mapped linearly onto that joint's position range.</summary>
    JointPosition,

    /// <summary>One value per joint in [−1, 1]; a value of 1 moves the joint's target by <see cref="ArmLayout.JointStep"/> rad.</summary>
    JointDelta,

    /// <summary>
    /// An end-effector delta in the base frame: dx, dy, dz (a value of 1 is <see cref="ArmLayout.TranslationStep"/> m),
    /// then, with <see cref="ArmLayout.ActionRotation"/>, rx, ry, rz (axis·angle, 1 is <see cref="ArmLayout.RotationStep"/> rad).
    /// </summary>
    EndEffectorDelta,
}

/// <summary>
/// What a policy observes of an arm and how its actions are meant: the proprioception vector it is
/// given (joint positions and velocities, the gripper, the end-effector position and, optionally,
/// orientation) and its action vector (<see cref="ActionSpaceKind"/>, then the gripper). Agents are
/// trained against a layout, packages record it, and the runtime checks an arm's description against
/// it before anything moves (<see cref="Mismatch"/>). The simulator's environments fill proprioception
/// through <see cref="FillProprioception"/> too, so training and deployment share one definition.
/// </summary>
/// <remarks>
/// Proprioception order: positions (n, rad or m), velocities (n), the gripper opening (if the arm has a
/// gripper: <see cref="GripperOpeningScale"/> × (1 − closed), where the firmware reports 0 open … 1 closed),
/// end-effector x, y, z (m, base frame), then with <see cref="EndEffectorOrientation"/> its unit quaternion
/// w, x, y, z (w ≥ 0). Action order: the space's values, then the gripper in [−1, 1] (−1 open, +1 closed)
/// if the arm has one.
/// </remarks>
public sealed record ArmLayout
{
    /// <summary>Joints of the arm (the gripper is not a joint here), 1..<see cref="JointVector.Capacity"/>.</summary>
    public required int JointCount { get; init; }

    /// <summary>The arm has a gripper: proprioception holds its opening and actions end with its command.</summary>
    public bool HasGripper { get; init; } = true;

    /// <summary>Proprioception ends with the end-effector's orientation quaternion (4 values).</summary>
    public bool EndEffectorOrientation { get; init; }

    /// <summary>The proprioception's gripper value is this × (1 − closed); 1 gives the open fraction.</summary>
    public double GripperOpeningScale { get; init; } = 1.0;

    /// <summary>What the action values mean.</summary>
    public ActionSpaceKind ActionSpace { get; init; } = ActionSpaceKind.EndEffectorDelta;

    /// <summary>End-effector actions carry a rotation (rx, ry, rz) after the translation.</summary>
    public bool ActionRotation { get; init; }

    /// <summary>Metres an end-effector action of 1 moves, &gt; 0.</summary>
    public double TranslationStep { get; init; } = 0.03;

    /// <summary>Radians an end-effector rotation action of 1 turns, &gt; 0.</summary>
    public double RotationStep { get; init; } = 0.1;

    /// <summary>Radians (m) a joint-delta action of 1 moves a joint's target, &gt; 0.</summary>
    public double JointStep { get; init; } = 0.1;

    /// <summary>
    /// The joints' position ranges the layout was made for (rad or m), min and max per joint, or empty.
    /// Joint-position actions are normalised onto them, so an arm with other ranges is refused.
    /// </summary>
    public IReadOnlyList<double> JointRanges { get; init; } = [];

    /// <summary>
    /// The tabletop simulator's 4-joint arm as every agent before layouts were recorded saw it: 12
    /// proprioception values (the gripper as both fingers' opening in metres, 0.035 m travel each),
    /// end-effector translation deltas of 3 cm, and the gripper.
    /// </summary>
    public static ArmLayout Toy4 { get; } = new()
    {
        JointCount = 4,
        HasGripper = true,
        EndEffectorOrientation = false,
        GripperOpeningScale = 0.07,
        ActionSpace = ActionSpaceKind.EndEffectorDelta,
        ActionRotation = false,
        TranslationStep = 0.03,
    };

    /// <summary>Length of the proprioception vector.</summary>
    public int ProprioceptionLength => 2 * JointCount + (HasGripper ? 1 : 0) + 3 + (EndEffectorOrientation ? 4 : 0);

    /// <summary>Length of the action vector.</summary>
    public int ActionDimension => ActionSpace switch
    {
        ActionSpaceKind.EndEffectorDelta => ActionRotation ? 6 : 3,
        _ => JointCount,
    } + (HasGripper ? 1 : 0);

    /// <summary>Checks every field; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">A field is out of range.</exception>
    public void Validate()
    {
        if (JointCount is < 1 or > JointVector.Capacity)
            throw new ArgumentException($"arm layout: joint count must be 1..{JointVector.Capacity}, got {JointCount}");
        if (!(GripperOpeningScale > 0) || double.IsInfinity(GripperOpeningScale))
            throw new ArgumentException($"arm layout: gripper opening scale must be a positive number, got {GripperOpeningScale}");
        foreach (var (name, value) in new[] { ("translation step", TranslationStep), ("rotation step", RotationStep), ("joint step", JointStep) })
        {
            if (!(value > 0) || double.IsInfinity(value))
                throw new ArgumentException($"arm layout: {name} must be a positive number, got {value}");
        }
        if (ActionRotation && ActionSpace != ActionSpaceKind.EndEffectorDelta)
            throw new ArgumentException($"arm layout: action rotation applies to end-effector deltas only, the action space is {ActionSpace}");
        if (JointRanges.Count != 0 && JointRanges.Count != 2 * JointCount)
            throw new ArgumentException($"arm layout: joint ranges must hold a min and a max for each of the {JointCount} joints ({2 * JointCount} numbers), got {JointRanges.Count}");
        if (ActionSpace == ActionSpaceKind.JointPosition && JointRanges.Count == 0)
            throw new ArgumentException("arm layout: joint-position actions need the joint ranges they are normalised onto");
        for (var j = 0; j < JointRanges.Count / 2; j++)
        {
            var (low, high) = (JointRanges[2 * j], JointRanges[2 * j + 1]);
            if (!double.IsFinite(low) || !double.IsFinite(high) || !(low < high))
                throw new ArgumentException($"arm layout: joint {j}'s range must be finite with min < max, got [{low}, {high}]");
        }
    }

    /// <summary>The name (with unit) of each proprioception value.</summary>
    /// <param name="jointNames">The arm's joint names; null names them joint_0, joint_1, ….</param>
    public IReadOnlyList<string> ProprioceptionNames(IReadOnlyList<string>? jointNames = null)
    {
        var names = new List<string>(ProprioceptionLength);
        for (var j = 0; j < JointCount; j++)
            names.Add($"{JointName(jointNames, j)} (rad)");
        for (var j = 0; j < JointCount; j++)
            names.Add($"{JointName(jointNames, j)} velocity (rad/s)");
        if (HasGripper)
            names.Add(GripperOpeningScale == 1.0 ? "gripper opening (fraction)" : $"gripper opening ({GripperOpeningScale:R} × fraction)");
        names.AddRange(["tip x (m)", "tip y (m)", "tip z (m)"]);
        if (EndEffectorOrientation)
            names.AddRange(["tip qw", "tip qx", "tip qy", "tip qz"]);
        return names;
    }

    /// <summary>The name of each action value.</summary>
    /// <param name="jointNames">The arm's joint names; null names them joint_0, joint_1, ….</param>
    public IReadOnlyList<string> ActionNames(IReadOnlyList<string>? jointNames = null)
    {
        var names = new List<string>(ActionDimension);
        switch (ActionSpace)
        {
            case ActionSpaceKind.EndEffectorDelta:
                names.AddRange(["dx", "dy", "dz"]);
                if (ActionRotation)
                    names.AddRange(["rx", "ry", "rz"]);
                break;
            case ActionSpaceKind.JointDelta:
                for (var j = 0; j < JointCount; j++)
                    names.Add("d" + JointName(jointNames, j));
                break;
            default:
                for (var j = 0; j < JointCount; j++)
                    names.Add(JointName(jointNames, j));
                break;
        }
        if (HasGripper)
            names.Add("gripper");
        return names;
    }

    private static string JointName(IReadOnlyList<string>? names, int j) =>
        names is not null && j < names.Count ? names[j] : $"joint_{j}";

    /// <summary>Writes the proprioception vector of <paramref name="state"/> into <paramref name="destination"/>.</summary>
    /// <remarks>Real-time: no allocation, no throw. Values beyond the state's joints are 0; a short destination is filled as far as it goes.</remarks>
    public void FillProprioception(in ArmState state, Span<float> destination)
    {
        destination.Clear();
        var n = JointCount;
        var joints = Math.Min(n, state.JointCount);
        var i = 0;
        for (var j = 0; j < n; j++, i++)
        {
            if (i < destination.Length && j < joints)
                destination[i] = (float)state.Positions[j];
        }
        for (var j = 0; j < n; j++, i++)
        {
            if (i < destination.Length && j < joints)
                destination[i] = (float)state.Velocities[j];
        }
        if (HasGripper)
            Put(destination, i++, GripperOpeningScale * (1 - state.GripperPosition));
        Put(destination, i++, state.EndEffectorX);
        Put(destination, i++, state.EndEffectorY);
        Put(destination, i++, state.EndEffectorZ);
        if (EndEffectorOrientation)
        {
            // One sign for the quaternion (q and −q are the same rotation): w ≥ 0.
            var sign = state.EndEffectorQw < 0 ? -1.0 : 1.0;
            Put(destination, i++, sign * state.EndEffectorQw);
            Put(destination, i++, sign * state.EndEffectorQx);
            Put(destination, i++, sign * state.EndEffectorQy);
            Put(destination, i, sign * state.EndEffectorQz);
        }
    }

    private static void Put(Span<float> destination, int index, double value)
    {
        if (index < destination.Length)
            destination[index] = (float)value;
    }

    /// <summary>
    /// Why an arm with <paramref name="arm"/>'s description cannot run a policy of this layout, or null
    /// when it can. <paramref name="canSolveInverseKinematics"/>: the runtime has a kinematic model of the
    /// arm, so end-effector actions can become joint-position commands when the arm takes no end-effector
    /// deltas itself.
    /// </summary>
    public string? Mismatch(ArmDescription arm, bool canSolveInverseKinematics)
    {
        ArgumentNullException.ThrowIfNull(arm);
        if (arm.JointCount != JointCount)
            return $"the policy was trained on an arm with {JointCount} joints; this arm has {arm.JointCount}";
        if (HasGripper && !arm.HasGripper)
            return "the policy commands a gripper and this arm has none";
        if (!HasGripper && arm.HasGripper)
            return "the policy was trained on an arm without a gripper and this arm has one (its opening would be an observation the policy never saw)";
        switch (ActionSpace)
        {
            case ActionSpaceKind.EndEffectorDelta:
                if (!arm.SupportedModes.Contains(ArmCommandMode.EndEffectorDelta) && !canSolveInverseKinematics)
                    return "the policy acts in end-effector deltas and this arm takes only joint commands; give the arm's kinematic model (arm.kinematics) so the runtime can solve inverse kinematics";
                if (!arm.SupportedModes.Contains(ArmCommandMode.EndEffectorDelta) && !arm.SupportedModes.Contains(ArmCommandMode.JointPosition))
                    return "the policy acts in end-effector deltas and this arm takes neither end-effector deltas nor joint positions";
                break;
            default:
                if (!arm.SupportedModes.Contains(ArmCommandMode.JointPosition))
                    return $"the policy acts in {(ActionSpace == ActionSpaceKind.JointDelta ? "joint deltas" : "joint positions")} and this arm takes no joint-position commands";
                break;
        }
        if (ActionSpace == ActionSpaceKind.JointPosition)
        {
            for (var j = 0; j < JointCount; j++)
            {
                var limits = arm.Joints[j];
                if (Math.Abs(limits.PositionMin - JointRanges[2 * j]) > 1e-6 || Math.Abs(limits.PositionMax - JointRanges[2 * j + 1]) > 1e-6)
                    return $"the policy's joint-position actions are normalised onto joint {j}'s range [{JointRanges[2 * j]}, {JointRanges[2 * j + 1]}]; this arm's is [{limits.PositionMin}, {limits.PositionMax}]";
            }
        }
        return null;
    }

    /// <summary>One line for the operator, e.g. "6 joints + gripper; observes joints, gripper, tip pose; acts in end-effector deltas (3 cm)".</summary>
    public string Describe()
    {
        var action = ActionSpace switch
        {
            ActionSpaceKind.EndEffectorDelta => $"end-effector deltas ({TranslationStep * 100:0.##} cm{(ActionRotation ? $", {RotationStep:0.###} rad" : "")})",
            ActionSpaceKind.JointDelta => $"joint deltas ({JointStep:0.###} rad)",
            _ => "joint positions",
        };
        return $"{JointCount} joints{(HasGripper ? " + gripper" : "")}; observes joints, {(HasGripper ? "gripper, " : "")}tip {(EndEffectorOrientation ? "pose" : "position")}; acts in {action}";
    }

    /// <summary>The layout as JSON (an agent package's <c>arm.layout</c>, a run's record).</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["joints"] = JointCount,
            ["gripper"] = HasGripper,
            ["endEffectorOrientation"] = EndEffectorOrientation,
            ["gripperOpeningScale"] = GripperOpeningScale,
            ["actionSpace"] = ActionSpace switch
            {
                ActionSpaceKind.JointPosition => "joint-position",
                ActionSpaceKind.JointDelta => "joint-delta",
                _ => "end-effector-delta",
            },
            ["actionRotation"] = ActionRotation,
            ["translationStep"] = TranslationStep,
            ["rotationStep"] = RotationStep,
            ["jointStep"] = JointStep,
        };
        if (JointRanges.Count > 0)
            json["jointRanges"] = new JsonArray(JointRanges.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());
        return json;
    }

    /// <summary>Reads a layout written by <see cref="ToJson"/>.</summary>
    /// <param name="node">The JSON object.</param>
    /// <param name="source">Where it came from, for messages (e.g. "manifest.json arm.layout").</param>
    /// <exception cref="InvalidDataException">A field is missing, of the wrong type or out of range; the message names it.</exception>
    public static ArmLayout FromJson(JsonNode? node, string source)
    {
        if (node is not JsonObject o)
            throw new InvalidDataException($"{source}: expected an object with the arm layout");
        try
        {
            var space = Text(o, "actionSpace", source) switch
            {
                "joint-position" => ActionSpaceKind.JointPosition,
                "joint-delta" => ActionSpaceKind.JointDelta,
                "end-effector-delta" => ActionSpaceKind.EndEffectorDelta,
                var other => throw new InvalidDataException($"{source}.actionSpace: expected joint-position, joint-delta or end-effector-delta, got '{other}'"),
            };
            var layout = new ArmLayout
            {
                JointCount = o["joints"]?.GetValue<int>() ?? throw new InvalidDataException($"{source}.joints: missing"),
                HasGripper = o["gripper"]?.GetValue<bool>() ?? throw new InvalidDataException($"{source}.gripper: missing"),
                EndEffectorOrientation = o["endEffectorOrientation"]?.GetValue<bool>() ?? false,
                GripperOpeningScale = o["gripperOpeningScale"]?.GetValue<double>() ?? 1.0,
                ActionSpace = space,
                ActionRotation = o["actionRotation"]?.GetValue<bool>() ?? false,
                TranslationStep = o["translationStep"]?.GetValue<double>() ?? 0.03,
                RotationStep = o["rotationStep"]?.GetValue<double>() ?? 0.1,
                JointStep = o["jointStep"]?.GetValue<double>() ?? 0.1,
                JointRanges = o["jointRanges"] is JsonArray ranges ? ranges.Select(v => v!.GetValue<double>()).ToArray() : [],
            };
            layout.Validate();
            return layout;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
    }

    private static string Text(JsonObject o, string key, string source) =>
        o[key]?.GetValue<string>() ?? throw new InvalidDataException($"{source}.{key}: missing");

    /// <summary>Whether two layouts mean the same observations and actions (what a fine-tuned package must keep).</summary>
    public bool SameAs(ArmLayout other) =>
        ToJson().ToJsonString() == other.ToJson().ToJsonString();

    /// <inheritdoc/>
    public override string ToString() => ToJson().ToJsonString();
}
