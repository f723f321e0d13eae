using System.Globalization;
using RobotRuntime.Arm;
using RobotRuntime.Policies;
using RobotRuntime.Telemetry;

namespace RobotRuntime.Datasets.Recording;

/// <summary>
/// The dataset layout of a recorded deployment (<c>rr run --record</c>) and the mapping between a
/// recorded cycle and a dataset frame, both ways: <see cref="Fill"/> for the recorder, the readers
/// for <c>rr replay</c>. One frame per control cycle:
/// <list type="bullet">
/// <item>"observation.images.&lt;camera&gt;": each camera's frame as the loop used it (the encoder's input);</item>
/// <item>"observation.state": the measured arm state — per joint position (rad), velocity (rad/s) and
/// effort (N·m), then gripper position and effort, end-effector x, y, z (m) and orientation quaternion
/// w, x, y, z — for the arm's own joint count; NaN when the link had no state;</item>
/// <item>"action": the command the arm was actually told (the safety filter's allowed command, as the
/// arm link sent it): one block of values per command mode the run can send — the policy's mode, and
/// joint positions (what a hold sends) — then the gripper target; the block of the sent mode is filled,
/// the others NaN; all NaN when nothing was sent ("action.mode" 0);</item>
/// <item>the additional columns in <see cref="Columns"/>: the policy's own proposal ("policy.action",
/// its mode block and gripper), the safety verdict, the cycle's timings and indices, exact (float64)
/// copies of the state and action for replay, and the recording's own drop counter.</item>
/// </list>
/// </summary>
public static class DeploymentLayout
{
    /// <summary>The names of the additional columns (<see cref="DatasetLayout.Columns"/>).</summary>
    public static class Columns
    {
        /// <summary>Float64 vector: "observation.state" at full precision (what the policy was given).</summary>
        public const string StateExact = "observation.state.float64";
        /// <summary>Bool: the arm link had a state this cycle.</summary>
        public const string StateValid = "observation.state.valid";
        /// <summary>Bool: the state was young enough to hand to the policy.</summary>
        public const string StateFresh = "observation.state.fresh";
        /// <summary>Int64: the state's age when read (ns); -1 without a state.</summary>
        public const string StateAge = "observation.state.age_ns";
        /// <summary>Int64: the arm's status flags (ArmStatusFlags).</summary>
        public const string ArmStatus = "observation.state.arm_status";
        /// <summary>Int64: the arm's sequence number of the state.</summary>
        public const string ArmSequence = "observation.state.arm_sequence";
        /// <summary>Bool: the cycle had a usable set of frames (fresh and paired); false: it held on StaleCameraFrame and the images are the last ones read.</summary>
        public const string FramesUsable = "observation.images.usable";
        /// <summary>Int64: the loop's cycle index (the scheduler's grid: skipped ticks leave gaps; so do dropped cycles).</summary>
        public const string CycleIndex = "cycle.index";
        /// <summary>Int64: when the cycle was due (ns, the loop's monotonic clock).</summary>
        public const string ScheduledNs = "cycle.scheduled_ns";
        /// <summary>Int64: when the cycle started (ns).</summary>
        public const string StartNs = "cycle.start_ns";
        /// <summary>Int64: when the cycle's work ended, after the send (ns).</summary>
        public const string EndNs = "cycle.end_ns";
        /// <summary>Bool: the cycle's work ended after its deadline.</summary>
        public const string DeadlineMissed = "cycle.deadline_missed";
        /// <summary>Int64: scheduler ticks skipped before the cycle.</summary>
        public const string SkippedTicks = "cycle.skipped_ticks";
        /// <summary>Int64: consecutive missed deadlines up to this cycle.</summary>
        public const string ConsecutiveMisses = "cycle.consecutive_misses";
        /// <summary>Int64: age of the oldest frame used at the cycle's start (ns); -1 without a usable frame.</summary>
        public const string FrameAge = "timing.frame_age_ns";
        /// <summary>Int64: preprocessing (ns).</summary>
        public const string Preprocess = "timing.preprocess_ns";
        /// <summary>Int64: encoding (ns).</summary>
        public const string Encode = "timing.encode_ns";
        /// <summary>Int64: the policy's decision (ns).</summary>
        public const string Policy = "timing.policy_ns";
        /// <summary>Int64: the safety filter (ns).</summary>
        public const string Safety = "timing.safety_ns";
        /// <summary>Int64: the send to the arm (ns).</summary>
        public const string Send = "timing.send_ns";
        /// <summary>Int64: the cycle's whole work, start to end (ns).</summary>
        public const string Total = "timing.total_ns";
        /// <summary>Int64: the sent command's mode (ArmCommandMode: 0 nothing sent, 1 joint position, 2 joint velocity, 3 end-effector delta).</summary>
        public const string ActionMode = "action.mode";
        /// <summary>Float64 vector: "action" at full precision.</summary>
        public const string ActionExact = "action.float64";
        /// <summary>Int64: the arm link's answer to the send (ArmSendStatus: 0 sent, 1 sent clipped, 2 link down, 3 no description, 4 invalid, 5 transport error; 255 nothing sent).</summary>
        public const string SendStatus = "action.send_status";
        /// <summary>Float64 vector: the policy's proposal (its mode's block, then the gripper target); NaN when it proposed nothing.</summary>
        public const string PolicyAction = "policy.action";
        /// <summary>
        /// Float64 vector (only in recordings of a policy with a normalised action of its own, an agent's): the
        /// policy's action in [−1, 1] in its own action space (<c>INormalisedActionSource</c>), the action it learns
        /// from; NaN when it did not act. Recordings made before it existed, or of other policies, have no such column.
        /// </summary>
        public const string PolicyNormalisedAction = "policy.normalised_action";
        /// <summary>Int64: the policy's status (PolicyStatus: 0 ok, 1 budget exhausted, 2 no action, 3 failed; 255 not run: no usable frame or the encoder failed).</summary>
        public const string PolicyStatus = "policy.status";
        /// <summary>Int64: the safety verdict (SafetyStatus: 0 passed, 1 clipped, 2 held).</summary>
        public const string SafetyStatus = "safety.status";
        /// <summary>Int64: why it held (HoldReason code; 0 when not holding).</summary>
        public const string HoldReason = "safety.hold_reason";
        /// <summary>Int64: what was clipped (ClipKinds flags).</summary>
        public const string Clipped = "safety.clipped";
        /// <summary>Bool: the hold was latched in this cycle.</summary>
        public const string HoldStarted = "safety.hold_started";
        /// <summary>Int64: cycles the recording dropped just before this one (its writer was behind).</summary>
        public const string DroppedBefore = "recording.dropped_before";
    }

    /// <summary>Values of the state per joint (position, velocity, effort) and after the joints (gripper 2, end effector 7).</summary>
    private const int StateTail = 9;

    /// <summary>The layout for a run of <paramref name="jointCount"/> joints and <paramref name="policyMode"/>.</summary>
    /// <param name="jointCount">The arm's joints (its description's).</param>
    /// <param name="cameras">Camera names, in the loop's order.</param>
    /// <param name="width">Every camera's frame width.</param>
    /// <param name="height">Every camera's frame height.</param>
    /// <param name="policyMode">The policy's command mode.</param>
    /// <param name="rateHz">The loop's rate.</param>
    /// <param name="task">The task episodes are labelled with.</param>
    /// <param name="normalisedActionNames">The names of the policy's normalised action values (<c>INormalisedActionSource</c>):
    /// the recording gets a <see cref="Columns.PolicyNormalisedAction"/> column; null or empty: the policy has none.</param>
    public static DatasetLayout Create(int jointCount, IReadOnlyList<string> cameras, int width, int height, ArmCommandMode policyMode, double rateHz, string task,
        IReadOnlyList<string>? normalisedActionNames = null)
    {
        if (jointCount is < 1 or > JointVector.Capacity)
            throw new ArgumentOutOfRangeException(nameof(jointCount), jointCount, $"an arm has 1..{JointVector.Capacity} joints");
        if (policyMode == ArmCommandMode.None || !Enum.IsDefined(policyMode))
            throw new ArgumentException($"the policy's command mode must be a real mode, got {policyMode}", nameof(policyMode));
        var state = StateNames(jointCount);
        var action = Blocks(policyMode).SelectMany(m => BlockNames(m, jointCount)).Append("gripper target (0 open, 1 closed)").ToList();
        var policy = BlockNames(policyMode, jointCount).Append("gripper target (0 open, 1 closed)").ToList();
        var columns = new List<DatasetColumn>
        {
            new(Columns.StateExact, DatasetColumnType.Float64Vector, state),
            new(Columns.StateValid, DatasetColumnType.Bool),
            new(Columns.StateFresh, DatasetColumnType.Bool),
            new(Columns.StateAge, DatasetColumnType.Int64),
            new(Columns.ArmStatus, DatasetColumnType.Int64),
            new(Columns.ArmSequence, DatasetColumnType.Int64),
            new(Columns.FramesUsable, DatasetColumnType.Bool),
        };
        foreach (var camera in cameras)
        {
            columns.Add(new($"observation.images.{camera}.sequence", DatasetColumnType.Int64));
            columns.Add(new($"observation.images.{camera}.capture_ns", DatasetColumnType.Int64));
        }
        columns.AddRange(
        [
            new(Columns.ActionMode, DatasetColumnType.Int64),
            new(Columns.ActionExact, DatasetColumnType.Float64Vector, action),
            new(Columns.SendStatus, DatasetColumnType.Int64),
            new(Columns.PolicyAction, DatasetColumnType.Float64Vector, policy),
        ]);
        if (normalisedActionNames is { Count: > 0 })
            columns.Add(new(Columns.PolicyNormalisedAction, DatasetColumnType.Float64Vector, normalisedActionNames));
        columns.AddRange(
        [
            new(Columns.PolicyStatus, DatasetColumnType.Int64),
            new(Columns.SafetyStatus, DatasetColumnType.Int64),
            new(Columns.HoldReason, DatasetColumnType.Int64),
            new(Columns.Clipped, DatasetColumnType.Int64),
            new(Columns.HoldStarted, DatasetColumnType.Bool),
            new(Columns.CycleIndex, DatasetColumnType.Int64),
            new(Columns.ScheduledNs, DatasetColumnType.Int64),
            new(Columns.StartNs, DatasetColumnType.Int64),
            new(Columns.EndNs, DatasetColumnType.Int64),
            new(Columns.DeadlineMissed, DatasetColumnType.Bool),
            new(Columns.SkippedTicks, DatasetColumnType.Int64),
            new(Columns.ConsecutiveMisses, DatasetColumnType.Int64),
            new(Columns.FrameAge, DatasetColumnType.Int64),
            new(Columns.Preprocess, DatasetColumnType.Int64),
            new(Columns.Encode, DatasetColumnType.Int64),
            new(Columns.Policy, DatasetColumnType.Int64),
            new(Columns.Safety, DatasetColumnType.Int64),
            new(Columns.Send, DatasetColumnType.Int64),
            new(Columns.Total, DatasetColumnType.Int64),
            new(Columns.DroppedBefore, DatasetColumnType.Int64),
        ]);
        var layout = new DatasetLayout($"robotruntime-arm-{jointCount}dof", rateHz, cameras, width, height, state, action, [], [task]) { Columns = columns };
        layout.Validate();
        return layout;
    }

    /// <summary>Whether <paramref name="layout"/> is a recorded deployment's (it has the cycle and policy columns).</summary>
    public static bool IsDeployment(DatasetLayout layout) =>
        layout.Columns.Any(c => c.Name == Columns.CycleIndex) && layout.Columns.Any(c => c.Name == Columns.PolicyAction) && JointCountOf(layout) > 0;

    /// <summary>The width of a recording's <see cref="Columns.PolicyNormalisedAction"/> column; 0 when it has none (an older recording, or a policy without one).</summary>
    public static int NormalisedActionWidth(DatasetLayout layout) =>
        layout.Columns.FirstOrDefault(c => c.Name == Columns.PolicyNormalisedAction)?.Width ?? 0;

    /// <summary>The arm's joint count a deployment layout was made for; 0 when the state names are not a deployment's.</summary>
    public static int JointCountOf(DatasetLayout layout)
    {
        var joints = (layout.StateNames.Count - StateTail) / 3;
        return joints >= 1 && layout.StateNames.SequenceEqual(StateNames(joints)) ? joints : 0;
    }

    /// <summary>The policy's command mode a deployment layout was made for (its first action block).</summary>
    public static ArmCommandMode PolicyModeOf(DatasetLayout layout)
    {
        var joints = JointCountOf(layout);
        foreach (var mode in new[] { ArmCommandMode.EndEffectorDelta, ArmCommandMode.JointVelocity, ArmCommandMode.JointPosition })
        {
            if (layout.ActionNames.Take(BlockWidth(mode, joints)).SequenceEqual(BlockNames(mode, joints)))
                return mode;
        }
        return ArmCommandMode.None;
    }

    private static List<string> StateNames(int joints)
    {
        var names = new List<string>();
        for (var j = 0; j < joints; j++)
            names.Add(Invariant($"joint {j} position (rad)"));
        for (var j = 0; j < joints; j++)
            names.Add(Invariant($"joint {j} velocity (rad/s)"));
        for (var j = 0; j < joints; j++)
            names.Add(Invariant($"joint {j} effort (N·m)"));
        names.AddRange(["gripper position (0 open, 1 closed)", "gripper effort (N)", "end effector x (m)", "end effector y (m)", "end effector z (m)",
            "end effector qw", "end effector qx", "end effector qy", "end effector qz"]);
        return names;
    }

    /// <summary>The command modes with a block in "action": the policy's, then joint positions (a hold's) if different.</summary>
    private static ArmCommandMode[] Blocks(ArmCommandMode policyMode) =>
        policyMode == ArmCommandMode.JointPosition ? [ArmCommandMode.JointPosition] : [policyMode, ArmCommandMode.JointPosition];

    private static int BlockWidth(ArmCommandMode mode, int joints) => mode == ArmCommandMode.EndEffectorDelta ? 6 : joints;

    private static IEnumerable<string> BlockNames(ArmCommandMode mode, int joints) => mode switch
    {
        ArmCommandMode.EndEffectorDelta => ["end effector dx (m)", "end effector dy (m)", "end effector dz (m)", "end effector drx (rad)", "end effector dry (rad)", "end effector drz (rad)"],
        ArmCommandMode.JointVelocity => Enumerable.Range(0, joints).Select(j => Invariant($"joint {j} velocity target (rad/s)")),
        _ => Enumerable.Range(0, joints).Select(j => Invariant($"joint {j} position target (rad)")),
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Writes <paramref name="cycle"/> into <paramref name="frame"/>: images as PNG, state, action and
    /// the additional columns. Reward, done and success are the caller's (they follow the action).
    /// </summary>
    /// <remarks>The recorder's writer thread; allocates the PNGs.</remarks>
    public static void Fill(DatasetFrame frame, RecordedCycle cycle)
    {
        var layout = frame.Layout;
        var joints = JointCountOf(layout);
        var policyMode = PolicyModeOf(layout);
        for (var c = 0; c < frame.Png.Length; c++)
            frame.Png[c] = Imaging.ImageCodecs.EncodePng(cycle.Frames[c].Pixels, layout.ImageWidth, layout.ImageHeight);

        // State, exact and as float32.
        var (_, stateAt) = layout.ColumnAt(Columns.StateExact);
        var state = frame.Numbers.AsSpan(stateAt, layout.StateNames.Count);
        if (cycle.HasArmState)
            WriteState(in cycle.ArmState, joints, state);
        else
            state.Fill(double.NaN);
        for (var i = 0; i < state.Length; i++)
            frame.State[i] = (float)state[i];

        // The action: what the arm was told.
        ref readonly var record = ref cycle.Record;
        var (_, actionAt) = layout.ColumnAt(Columns.ActionExact);
        var action = frame.Numbers.AsSpan(actionAt, layout.ActionNames.Count);
        action.Fill(double.NaN);
        var sent = record.SendStatus is (byte)ArmSendStatus.Sent or (byte)ArmSendStatus.SentClipped && record.SentMode != ArmCommandMode.None;
        if (sent)
        {
            var offset = 0;
            foreach (var mode in Blocks(policyMode))
            {
                var width = BlockWidth(mode, joints);
                if (mode == record.SentMode)
                {
                    for (var i = 0; i < width; i++)
                        action[offset + i] = record.Sent[i];
                }
                offset += width;
            }
            action[^1] = record.SentGripper;
        }
        for (var i = 0; i < action.Length; i++)
            frame.Action[i] = (float)action[i];

        // The policy's proposal.
        var (_, policyAt) = layout.ColumnAt(Columns.PolicyAction);
        var policy = frame.Numbers.AsSpan(policyAt, BlockWidth(policyMode, joints) + 1);
        policy.Fill(double.NaN);
        if (cycle.PolicyStatus is (byte)PolicyStatus.Ok or (byte)PolicyStatus.BudgetExhausted && record.RequestedMode == policyMode)
        {
            for (var i = 0; i < policy.Length - 1; i++)
                policy[i] = record.Requested[i];
            policy[^1] = record.RequestedGripper;
        }

        // The policy's normalised action (an agent's), when the recording keeps it.
        if (NormalisedActionWidth(layout) is > 0 and var normalisedWidth)
        {
            var (_, normalisedAt) = layout.ColumnAt(Columns.PolicyNormalisedAction);
            var normalised = frame.Numbers.AsSpan(normalisedAt, normalisedWidth);
            normalised.Fill(double.NaN);
            if (cycle.HasNormalisedAction)
            {
                for (var i = 0; i < Math.Min(normalisedWidth, cycle.NormalisedAction.Length); i++)
                    normalised[i] = cycle.NormalisedAction[i];
            }
        }

        Set(frame, layout, Columns.StateValid, cycle.HasArmState ? 1 : 0);
        Set(frame, layout, Columns.StateFresh, cycle.ArmStateFresh ? 1 : 0);
        Set(frame, layout, Columns.StateAge, cycle.HasArmState ? cycle.ArmStateAgeNs : -1);
        Set(frame, layout, Columns.ArmStatus, cycle.HasArmState ? (long)cycle.ArmState.Status : 0);
        Set(frame, layout, Columns.ArmSequence, cycle.HasArmState ? cycle.ArmState.Sequence : 0);
        Set(frame, layout, Columns.FramesUsable, record.FrameAgeNs >= 0 ? 1 : 0);
        for (var c = 0; c < layout.Cameras.Count; c++)
        {
            Set(frame, layout, $"observation.images.{layout.Cameras[c]}.sequence", cycle.Frames[c].Sequence);
            Set(frame, layout, $"observation.images.{layout.Cameras[c]}.capture_ns", cycle.Frames[c].CaptureTimestampNs);
        }
        Set(frame, layout, Columns.ActionMode, sent ? (long)record.SentMode : 0);
        Set(frame, layout, Columns.SendStatus, record.SendStatus);
        Set(frame, layout, Columns.PolicyStatus, cycle.PolicyStatus);
        Set(frame, layout, Columns.SafetyStatus, (long)record.Safety);
        Set(frame, layout, Columns.HoldReason, (long)record.HoldReason);
        Set(frame, layout, Columns.Clipped, (long)record.Clipped);
        Set(frame, layout, Columns.HoldStarted, record.HoldStarted);
        Set(frame, layout, Columns.CycleIndex, record.CycleIndex);
        Set(frame, layout, Columns.ScheduledNs, record.ScheduledStartNs);
        Set(frame, layout, Columns.StartNs, record.StartNs);
        Set(frame, layout, Columns.EndNs, record.EndNs);
        Set(frame, layout, Columns.DeadlineMissed, record.MissedDeadline);
        Set(frame, layout, Columns.SkippedTicks, record.SkippedTicks);
        Set(frame, layout, Columns.ConsecutiveMisses, record.ConsecutiveMisses);
        Set(frame, layout, Columns.FrameAge, record.FrameAgeNs);
        Set(frame, layout, Columns.Preprocess, record.PreprocessNs);
        Set(frame, layout, Columns.Encode, record.EncodeNs);
        Set(frame, layout, Columns.Policy, record.PlanNs);
        Set(frame, layout, Columns.Safety, record.SafetyNs);
        Set(frame, layout, Columns.Send, record.SendNs);
        Set(frame, layout, Columns.Total, record.ComputeNs);
        Set(frame, layout, Columns.DroppedBefore, cycle.DroppedBefore);
    }

    private static void Set(DatasetFrame frame, DatasetLayout layout, string column, long value) =>
        frame.Integers[layout.ColumnAt(column).Offset] = value;

    /// <summary>The state vector of <paramref name="state"/>: positions, velocities, efforts, gripper, end-effector pose.</summary>
    public static void WriteState(in ArmState state, int joints, Span<double> values)
    {
        for (var j = 0; j < joints; j++)
        {
            values[j] = state.Positions[j];
            values[joints + j] = state.Velocities[j];
            values[2 * joints + j] = state.Efforts[j];
        }
        var tail = values[(3 * joints)..];
        tail[0] = state.GripperPosition;
        tail[1] = state.GripperEffort;
        tail[2] = state.EndEffectorX;
        tail[3] = state.EndEffectorY;
        tail[4] = state.EndEffectorZ;
        tail[5] = state.EndEffectorQw;
        tail[6] = state.EndEffectorQx;
        tail[7] = state.EndEffectorQy;
        tail[8] = state.EndEffectorQz;
    }

    /// <summary>
    /// The arm state of frame <paramref name="frame"/> as the loop read it (from the exact state column):
    /// joints, gripper, end-effector pose and status flags. Fields the recording does not keep (session,
    /// timestamps, faults) are zero. False when the cycle had no state.
    /// </summary>
    public static bool TryReadArmState(Episode episode, int frame, out ArmState state)
    {
        state = default;
        if (episode.Integer(frame, Columns.StateValid) == 0)
            return false;
        var joints = JointCountOf(episode.Layout);
        var values = episode.Numbers(frame, Columns.StateExact);
        state.JointCount = joints;
        for (var j = 0; j < joints; j++)
        {
            state.Positions[j] = values[j];
            state.Velocities[j] = values[joints + j];
            state.Efforts[j] = values[2 * joints + j];
        }
        var tail = values[(3 * joints)..];
        state.GripperPosition = tail[0];
        state.GripperEffort = tail[1];
        state.EndEffectorX = tail[2];
        state.EndEffectorY = tail[3];
        state.EndEffectorZ = tail[4];
        state.EndEffectorQw = tail[5];
        state.EndEffectorQx = tail[6];
        state.EndEffectorQy = tail[7];
        state.EndEffectorQz = tail[8];
        state.Status = (ArmStatusFlags)episode.Integer(frame, Columns.ArmStatus);
        state.Sequence = (uint)episode.Integer(frame, Columns.ArmSequence);
        return true;
    }
}
