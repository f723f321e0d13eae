using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;
using Xunit.Abstractions;

namespace RobotRuntime.Transport.Tests;

/// <summary>
/// The behaviour suite against the bridge template (firmware-interfaces/bridge-template, a separate C process) with its loopback
/// backend: the copy a vendor integrator starts from is a correct firmware before any vendor code is in it. Its protocol side is the
/// reference arm's (rrfw_arm) and its loopback joints are the reference arm's model, reached through the template's own hardware
/// backend (bridge_hw.c), so its capabilities are the reference arm's: <see cref="SimulatedJointsArm"/>.
/// </summary>
public sealed class BridgeTemplateProtocolTests(ITestOutputHelper output) : ArmBehaviourSuite(output)
{
    protected override ArmUnderTest StartArm(ArmSettings settings) => new SimulatedJointsArm(ArmProgram.BridgeTemplateLoopback, settings);

    [Fact]
    public void VelocityScaleLowersEveryAnnouncedSpeedLimitAndTheBridgeHoldsToIt()
    {
        // A first power-on's reduced speed: a quarter of the reference arm's 2 rad/s.
        var program = ArmProgram.BridgeTemplateLoopback with { Arguments = ["--backend", "loopback", "--velocity-scale", "0.25"] };
        using var endpoint = new ArmEndpointProcess(IpcPrefix.Create(), watchdogMilliseconds: 5000, program: program);
        using var controller = new RawArmController(ArmAddresses.Of(endpoint.LinkSettings));
        controller.HelloAndClaim();
        Assert.All(controller.Description!.Joints, joint => Assert.Equal(0.5, joint.VelocityMax));
        controller.ConnectCommandChannel();
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);

        // Faster than announced, though the reference arm would take it: rejected, never applied.
        var fast = controller.CommandFrame(++controller.CommandSequence, ArmCommand.JointVelocities([1.0, 0, 0, 0, 0, 0], 0));
        var report = controller.PublishAndConfirm(fast, r => r.RejectedFor(FrameStatus.OutOfLimits) == 1, "the bridge never rejected 1 rad/s as out_of_limits");
        Assert.Equal(0u, report.CommandsApplied);

        // A far position target: joint 0 gets there no faster than 0.5 rad/s.
        var sequence = ++controller.CommandSequence;
        controller.Publish(controller.CommandFrame(sequence, ArmCommand.JointPositions([0.2, 0, 0, 0, 0, 0], 0)));
        var fastest = 0.0;
        controller.NextState(s =>
        {
            if (s.LastCommandSequence == sequence)
                fastest = Math.Max(fastest, Math.Abs(s.Velocities[0]));
            return s.LastCommandSequence == sequence && Math.Abs(s.Positions[0] - 0.2) < 1e-9;
        }, "joint 0 never reached its target");
        output.WriteLine($"joint 0 moved at up to {fastest:0.000000} rad/s");
        Assert.True(fastest > 0 && fastest <= 0.5 + 1e-9, $"joint 0 moved at {fastest} rad/s with 0.5 rad/s announced");
    }

    private readonly ITestOutputHelper output = output;
}
