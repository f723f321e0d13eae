using RobotRuntime.Arm;
using RobotRuntime.Kinematics;
using RobotRuntime.Safety;
using RobotRuntime.Testing;

namespace RobotRuntime.Core.Tests.Arm;

public sealed class ArmLayoutTests
{
    private static readonly ArmLayout SixJoint = new()
    {
        JointCount = 6,
        HasGripper = true,
        EndEffectorOrientation = true,
        ActionSpace = ActionSpaceKind.EndEffectorDelta,
        TranslationStep = 0.03,
    };

    private static ArmDescription Describe(int joints, params ArmCommandMode[] modes) =>
        new(1, 2, Enumerable.Repeat(new JointLimits(-2 * Math.PI, 2 * Math.PI, Math.PI, 150), joints).ToArray(),
            modes.ToHashSet(), 125, 100, modes.Contains(ArmCommandMode.EndEffectorDelta) ? 0.03 : 0, 0);

    [Fact]
    public void SizesAndNamesFollowTheJointsTheGripperAndTheActionSpace()
    {
        Assert.Equal(12, ArmLayout.Toy4.ProprioceptionLength);
        Assert.Equal(4, ArmLayout.Toy4.ActionDimension);
        Assert.Equal(20, SixJoint.ProprioceptionLength); // 6 + 6 + gripper + xyz + quaternion
        Assert.Equal(4, SixJoint.ActionDimension);
        var sevenNoGripper = new ArmLayout { JointCount = 7, HasGripper = false, ActionSpace = ActionSpaceKind.EndEffectorDelta, ActionRotation = true };
        Assert.Equal(17, sevenNoGripper.ProprioceptionLength);
        Assert.Equal(6, sevenNoGripper.ActionDimension);
        var jointDelta = SixJoint with { ActionSpace = ActionSpaceKind.JointDelta };
        Assert.Equal(7, jointDelta.ActionDimension);
        Assert.Equal(["dshoulder", "dj1", "dj2", "dj3", "dj4", "dj5", "gripper"], jointDelta.ActionNames(["shoulder", "j1", "j2", "j3", "j4", "j5"]));
        Assert.Equal(SixJoint.ProprioceptionLength, SixJoint.ProprioceptionNames().Count);
        Assert.Equal(["tip qw", "tip qx", "tip qy", "tip qz"], SixJoint.ProprioceptionNames().Skip(16));
    }

    [Fact]
    public void ProprioceptionHoldsTheStateInTheLayoutsOrderWithOneQuaternionSign()
    {
        var state = new ArmState { JointCount = 6, GripperPosition = 0.25, EndEffectorX = 0.4, EndEffectorY = -0.1, EndEffectorZ = 0.2 };
        for (var j = 0; j < 6; j++)
        {
            state.Positions[j] = 0.1 * (j + 1);
            state.Velocities[j] = -0.01 * (j + 1);
        }
        // A quaternion with w < 0: the layout gives its negation (the same rotation) so w ≥ 0.
        (state.EndEffectorQw, state.EndEffectorQx, state.EndEffectorQy, state.EndEffectorQz) = (-0.5, 0.5, -0.5, 0.5);
        var values = new float[SixJoint.ProprioceptionLength];
        SixJoint.FillProprioception(in state, values);
        Assert.Equal([0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f], values[..6]);
        Assert.Equal([-0.01f, -0.02f, -0.03f, -0.04f, -0.05f, -0.06f], values[6..12]);
        Assert.Equal(0.75f, values[12]); // open fraction = 1 − closed
        Assert.Equal([0.4f, -0.1f, 0.2f], values[13..16]);
        Assert.Equal([0.5f, -0.5f, 0.5f, -0.5f], values[16..20]);
    }

    [Fact]
    public void MismatchesAreNamedAndMatchingArmsAccepted()
    {
        Assert.Null(SixJoint.Mismatch(Describe(6, ArmCommandMode.JointPosition, ArmCommandMode.EndEffectorDelta), canSolveInverseKinematics: false));
        Assert.Null(SixJoint.Mismatch(Describe(6, ArmCommandMode.JointPosition), canSolveInverseKinematics: true));
        Assert.Contains("trained on an arm with 6 joints; this arm has 4", SixJoint.Mismatch(Describe(4, ArmCommandMode.EndEffectorDelta), true));
        Assert.Contains("give the arm's kinematic model (arm.kinematics)", SixJoint.Mismatch(Describe(6, ArmCommandMode.JointPosition), false));
        Assert.Contains("this arm has none", SixJoint.Mismatch(Describe(6, ArmCommandMode.JointPosition) with { HasGripper = false }, true));
        var noGripper = SixJoint with { HasGripper = false };
        Assert.Contains("without a gripper", noGripper.Mismatch(Describe(6, ArmCommandMode.JointPosition), true));
        var jointPositions = SixJoint with { ActionSpace = ActionSpaceKind.JointPosition, JointRanges = Enumerable.Repeat(new[] { -Math.PI, Math.PI }, 6).SelectMany(r => r).ToArray() };
        Assert.Contains("normalised onto joint 0's range", jointPositions.Mismatch(Describe(6, ArmCommandMode.JointPosition), false));
        Assert.Contains("takes no joint-position commands", jointPositions.Mismatch(Describe(6, ArmCommandMode.EndEffectorDelta), false));
    }

    [Fact]
    public void JsonRoundTripsAndBadJsonIsNamed()
    {
        var layout = SixJoint with { ActionSpace = ActionSpaceKind.JointDelta, JointStep = 0.05 };
        var back = ArmLayout.FromJson(layout.ToJson(), "test");
        Assert.True(back.SameAs(layout));
        var missing = layout.ToJson();
        missing.Remove("joints");
        Assert.Contains("m.json arm.layout.joints: missing", Assert.Throws<InvalidDataException>(() => ArmLayout.FromJson(missing, "m.json arm.layout")).Message);
        var badSpace = layout.ToJson();
        badSpace["actionSpace"] = "torque";
        Assert.Contains("actionSpace: expected joint-position, joint-delta or end-effector-delta, got 'torque'", Assert.Throws<InvalidDataException>(() => ArmLayout.FromJson(badSpace, "m")).Message);
        var zeroJoints = layout.ToJson();
        zeroJoints["joints"] = 0;
        Assert.Contains("joint count must be 1..16", Assert.Throws<InvalidDataException>(() => ArmLayout.FromJson(zeroJoints, "m")).Message);
    }
}

public sealed class ActionTranslatorTests
{
    private static readonly KinematicChain Ur5e = ArmKinematicsLibrary.Get("ur5e");

    private static readonly ArmLayout Layout = new()
    {
        JointCount = 6, HasGripper = true, EndEffectorOrientation = true, ActionSpace = ActionSpaceKind.EndEffectorDelta, TranslationStep = 0.03,
    };

    private static ArmDescription JointOnly() =>
        new(1, 2, Enumerable.Repeat(new JointLimits(-2 * Math.PI, 2 * Math.PI, Math.PI, 150), 6).ToArray(),
            new HashSet<ArmCommandMode> { ArmCommandMode.JointPosition }, 125, 100, 0, 0);

    private static ArmState StateAt(ReadOnlySpan<double> q, ArmStatusFlags status = ArmStatusFlags.Enabled)
    {
        var state = new ArmState { JointCount = q.Length, Status = status };
        for (var j = 0; j < q.Length; j++)
            state.Positions[j] = q[j];
        return state;
    }

    private static readonly double[] Home = [0, -1.2, 1.6, -1.97, -1.5708, 0];

    [Fact]
    public void EndEffectorDeltasOnAJointOnlyArmBecomeJointPositionsThatMoveTheTipByTheDelta()
    {
        var translator = new ActionTranslator(Layout, JointOnly(), Ur5e);
        Assert.True(translator.UsesInverseKinematics);
        Assert.Equal(ArmCommandMode.JointPosition, translator.CommandMode);
        Ur5e.Forward(Home, out var start);
        var state = StateAt(Home);
        var command = new ArmCommand();
        Assert.True(translator.Translate([1f, -0.5f, 0.25f, 1f], in state, ref command));
        Assert.Equal(ArmCommandMode.JointPosition, command.Mode);
        Assert.Equal(6, command.ValueCount);
        Assert.Equal(1.0, command.GripperTarget);
        var q = ((ReadOnlySpan<double>)command.Values)[..6].ToArray();
        Ur5e.Forward(q, out var reached);
        // The solver's position tolerance (1e-4 m, IkOptions' default) bounds the error; orientation is kept.
        Assert.Equal(start.X + 0.03, reached.X, 1e-4);
        Assert.Equal(start.Y - 0.015, reached.Y, 1e-4);
        Assert.Equal(start.Z + 0.0075, reached.Z, 1e-4);
        Span<double> difference = stackalloc double[6];
        Pose.Difference(in start, in reached, difference);
        Assert.True(Math.Sqrt(difference[3] * difference[3] + difference[4] * difference[4] + difference[5] * difference[5]) < 1e-3);

        // The next delta moves on from the previous target, not from the measured pose (the arm lags).
        Assert.True(translator.Translate([1f, 0f, 0f, 1f], in state, ref command));
        Ur5e.Forward(((ReadOnlySpan<double>)command.Values)[..6], out var second);
        Assert.Equal(start.X + 0.06, second.X, 1e-4);

        // A holding arm restarts the target from where it is measured.
        var holding = StateAt(Home, ArmStatusFlags.Enabled | ArmStatusFlags.Holding);
        Assert.True(translator.Translate([0f, 0f, 0f, -1f], in holding, ref command));
        Ur5e.Forward(((ReadOnlySpan<double>)command.Values)[..6], out var resynced);
        Assert.Equal(start.X, resynced.X, 1e-4);
        Assert.Equal(0.0, command.GripperTarget);
    }

    [Fact]
    public void WithAPeriodJointTargetsStayWithinOnePeriodOfTheVelocityLimitAndTheTargetFollowsTheArm()
    {
        // An arm that does not move (measured joints fixed at home): without a period the target runs 15 cm
        // ahead after five full steps; with 40 ms at π rad/s every joint target stays within 0.95·π·0.04 rad of
        // the measured joint (the safety layer's bound, less a 5 % margin) and the target stays with it.
        var state = StateAt(Home);
        var command = new ArmCommand();
        var unbounded = new ActionTranslator(Layout, JointOnly(), Ur5e);
        var bounded = new ActionTranslator(Layout, JointOnly(), Ur5e);
        Ur5eStart(out var start);
        for (var i = 0; i < 5; i++)
        {
            unbounded.Translate([1f, 0f, 0f, 0f], in state, ref command);
            bounded.Translate([1f, 0f, 0f, 0f], in state, ref command, periodSeconds: 0.04);
            for (var j = 0; j < 6; j++)
                Assert.True(Math.Abs(command.Values[j] - Home[j]) <= 0.95 * Math.PI * 0.04 + 1e-12, $"step {i}, joint {j}: {command.Values[j]} from {Home[j]}");
        }
        Assert.Equal(start.X + 0.15, unbounded.Target.X, 1e-3);
        Ur5e.Forward(((ReadOnlySpan<double>)command.Values)[..6], out var sent);
        Assert.Equal(sent.X, bounded.Target.X, 1e-9);
        Assert.True(bounded.Target.X - start.X < 0.05, $"the bounded target ran {bounded.Target.X - start.X:0.###} m ahead of an arm that did not move");
        Assert.True(bounded.BoundedTargets > 0);
    }

    private static void Ur5eStart(out Pose start) => Ur5e.Forward(Home, out start);

    [Fact]
    public void WorkspaceAndUnreachableTargetsKeepTheTargetWithTheArm()
    {
        var box = new WorkspaceBox(0.15, -0.45, 0.02, 0.65, 0.45, 0.45);
        var translator = new ActionTranslator(Layout, JointOnly(), Ur5e, box);
        var state = StateAt(Home);
        var command = new ArmCommand();
        for (var i = 0; i < 40; i++)
            translator.Translate([0f, 0f, -1f, 0f], in state, ref command); // 1.2 m down: the box stops it at z 0.02
        Assert.Equal(0.02, translator.Target.Z, 1e-9);
        for (var i = 0; i < 60; i++)
            translator.Translate([1f, 0f, 0f, 0f], in state, ref command); // outwards to the box's 0.65 m
        Assert.True(translator.Target.X <= 0.65 + 1e-9);
        Ur5e.Forward(((ReadOnlySpan<double>)command.Values)[..6], out var reached);
        Assert.Equal(translator.Target.X, reached.X, 1e-3);
    }

    [Fact]
    public void JointDeltasAndJointPositionsBecomeClampedJointTargets()
    {
        var description = JointOnly();
        var deltas = new ActionTranslator(Layout with { ActionSpace = ActionSpaceKind.JointDelta, JointStep = 0.1 }, description);
        var state = StateAt(Home);
        var command = new ArmCommand();
        Assert.True(deltas.Translate([1f, -1f, 0.5f, 0f, 0f, 2f, 0f], in state, ref command));
        Assert.Equal([0.1, -1.3, 1.65, -1.97, -1.5708, 0.1], ((ReadOnlySpan<double>)command.Values)[..6].ToArray().Select(v => Math.Round(v, 9)));
        Assert.Equal(0.5, command.GripperTarget);
        var ranges = Enumerable.Range(0, 6).SelectMany(_ => new[] { -2 * Math.PI, 2 * Math.PI }).ToArray();
        var positions = new ActionTranslator(Layout with { ActionSpace = ActionSpaceKind.JointPosition, JointRanges = ranges }, description);
        Assert.True(positions.Translate([-1f, 1f, 0f, 0.5f, 0f, 0f, 1f], in state, ref command));
        Assert.Equal(-2 * Math.PI, command.Values[0], 1e-12);
        Assert.Equal(2 * Math.PI, command.Values[1], 1e-12);
        Assert.Equal(0.0, command.Values[2], 1e-12);
        Assert.Equal(Math.PI, command.Values[3], 1e-6);
        Assert.False(positions.Translate([float.NaN, 0, 0, 0, 0, 0, 0], in state, ref command));
        Assert.False(positions.Translate([0, 0], in state, ref command));
    }

    [Fact]
    public void AnArmThatAppliesEndEffectorDeltasGetsThemInMetres()
    {
        var description = JointOnly() with { SupportedModes = new HashSet<ArmCommandMode> { ArmCommandMode.EndEffectorDelta } };
        var translator = new ActionTranslator(Layout, description, Ur5e);
        Assert.False(translator.UsesInverseKinematics);
        var state = StateAt(Home);
        var command = new ArmCommand();
        translator.Translate([1f, -1f, 0.5f, -1f], in state, ref command);
        Assert.Equal(ArmCommandMode.EndEffectorDelta, command.Mode);
        Assert.Equal([0.03, -0.03, 0.015, 0, 0, 0], ((ReadOnlySpan<double>)command.Values)[..6].ToArray().Select(v => Math.Round(v, 9)));
    }

    [Fact]
    public void ALayoutThatDoesNotFitTheArmIsRefusedWithTheReason()
    {
        var error = Assert.Throws<ArgumentException>(() => new ActionTranslator(Layout, JointOnly()));
        Assert.Contains("arm.kinematics", error.Message);
        error = Assert.Throws<ArgumentException>(() => new ActionTranslator(ArmLayout.Toy4, JointOnly(), Ur5e));
        Assert.Contains("trained on an arm with 4 joints; this arm has 6", error.Message);
        error = Assert.Throws<ArgumentException>(() => new ActionTranslator(Layout, JointOnly(), ArmKinematicsLibrary.Get("toy4")));
        Assert.Contains("the kinematic model 'toy4' has 4 joints; the arm has 6", error.Message);
    }

    [Fact]
    public void TranslatingThroughInverseKinematicsAllocatesNothing()
    {
        var translator = new ActionTranslator(Layout, JointOnly(), Ur5e);
        var state = StateAt(Home);
        var command = new ArmCommand();
        float[] action = [0.3f, -0.2f, 0.1f, 1f];
        for (var i = 0; i < 10; i++)
            translator.Translate(action, in state, ref command);
        var ok = true;
        var bytes = ThreadAllocations.During(() =>
        {
            for (var i = 0; i < 500; i++)
            {
                action[0] = i % 2 == 0 ? 0.3f : -0.3f;
                ok &= translator.Translate(action, in state, ref command);
            }
        });
        Assert.True(ok);
        Assert.Equal(0, bytes);
    }
}
