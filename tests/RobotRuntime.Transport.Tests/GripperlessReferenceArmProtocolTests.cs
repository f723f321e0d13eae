using RobotRuntime.Arm;
using Xunit.Abstractions;

namespace RobotRuntime.Transport.Tests;

/// <summary>
/// The behaviour suite against the reference arm started with <c>--no-gripper</c>: its DESCRIPTION's gripper bit is clear
/// (PROTOCOL.md §3.2), it ignores gripper targets and reports the gripper as 0, and otherwise behaves exactly like the
/// reference arm (<see cref="ReferenceArmProtocolTests"/>). And, through the runtime's own link, a policy layout that
/// commands a gripper is refused on it.
/// </summary>
public sealed class GripperlessReferenceArmProtocolTests(ITestOutputHelper output) : ArmBehaviourSuite(output)
{
    private static readonly TimeSpan ControlTimeout = TimeSpan.FromSeconds(5);

    protected override ArmUnderTest StartArm(ArmSettings settings) => new SimulatedJointsArm(ArmProgram.ReferenceArmWithoutGripper, settings);

    /// <summary>A policy trained on a 6-joint arm of the reference arm's ranges, acting in joint positions, with or without a gripper.</summary>
    private static ArmLayout Layout(bool gripper) => new()
    {
        JointCount = 6,
        HasGripper = gripper,
        ActionSpace = ActionSpaceKind.JointPosition,
        JointRanges = [.. Enumerable.Range(0, 6).SelectMany(_ => new[] { -3.0, 3.0 })],
    };

    [Fact]
    public void PolicyLayoutWithAGripperIsRefusedOnTheArmWithoutOne()
    {
        using var endpoint = new ArmEndpointProcess(IpcPrefix.Create(), watchdogMilliseconds: 2000, program: ArmProgram.ReferenceArmWithoutGripper);
        Assert.Contains("gripper=no", endpoint.ReadyLine);
        using var link = ZmqArmLinkTests.ConnectedLink(endpoint.LinkSettings);
        var arm = link.Description!;
        Assert.False(arm.HasGripper);

        var why = Layout(gripper: true).Mismatch(arm, canSolveInverseKinematics: false);
        Assert.Equal("the policy commands a gripper and this arm has none", why);
        var refused = Assert.Throws<ArgumentException>(() => new ActionTranslator(Layout(gripper: true), arm));
        Assert.Contains("gripper", refused.Message);
        Assert.Null(Layout(gripper: false).Mismatch(arm, canSolveInverseKinematics: false));

        // The link still sends whatever gripper target it is given; the arm accepts it in [0, 1], applies the command
        // and reports the gripper as 0.
        Assert.True(link.Request(ArmControlRequest.Enable, ControlTimeout).Succeeded);
        Assert.Equal(ArmSendStatus.Sent, link.Send(ArmCommand.JointPositions([0.25, 0, 0, 0, 0, 0], 1.0), out var sent));
        var state = ZmqArmLinkTests.WaitForState(link, s => s.LastCommandSequence == sent.Sequence && Math.Abs(s.Positions[0] - 0.25) < 1e-9,
            "the arm never reached the commanded position");
        Assert.Equal((0.0, 0.0), (state.GripperPosition, state.GripperEffort));
    }

    [Fact]
    public void PolicyLayoutWithoutAGripperIsRefusedOnTheArmWithOne()
    {
        using var endpoint = new ArmEndpointProcess(IpcPrefix.Create(), program: ArmProgram.ReferenceArm);
        Assert.Contains("gripper=yes", endpoint.ReadyLine);
        using var link = ZmqArmLinkTests.ConnectedLink(endpoint.LinkSettings);
        var arm = link.Description!;
        Assert.True(arm.HasGripper);

        Assert.Contains("without a gripper and this arm has one", Layout(gripper: false).Mismatch(arm, canSolveInverseKinematics: false));
        Assert.Null(Layout(gripper: true).Mismatch(arm, canSolveInverseKinematics: false));
    }
}
