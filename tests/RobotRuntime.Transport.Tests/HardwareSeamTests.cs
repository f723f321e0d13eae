using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.Transport.Tests;

/// <summary>
/// What the arm side of the protocol (rrfw_arm) makes of trouble its hardware reports through the seam of
/// firmware-interfaces/include/rrfw_hw.h — what a bridge to a vendor's arm relies on when the arm's own emergency stop is pressed,
/// when the arm stops itself for a fault, or when a vendor call fails. Against rrfw-test-fault-arm (the reference arm's joints, with
/// the trouble typed on its stdin), a separate C process.
/// </summary>
public sealed class HardwareSeamTests
{
    /// <summary>The test arm, and a controller that has claimed it. Trouble typed on the arm's stdin is in its pipe before the next
    /// request or command is sent, and the arm samples its hardware (reading the pipe) at every wake before it handles what woke it.</summary>
    private sealed class TroubledArm : IDisposable
    {
        public TroubledArm()
        {
            Endpoint = new ArmEndpointProcess(IpcPrefix.Create(), watchdogMilliseconds: 5000, program: ArmProgram.FaultArm);
            Controller = new RawArmController(ArmAddresses.Of(Endpoint.LinkSettings));
            Controller.HelloAndClaim();
        }

        public ArmEndpointProcess Endpoint { get; }

        public RawArmController Controller { get; }

        public void Dispose()
        {
            Controller.Dispose();
            Endpoint.Dispose();
        }
    }

    [Fact]
    public void ArmsOwnStopLatchesTheEstopAndOnlyAResetAfterItsReleaseClearsIt()
    {
        using var arm = new TroubledArm();
        var (endpoint, controller) = (arm.Endpoint, arm.Controller);
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);

        endpoint.Type("stop");
        var stopped = controller.NextState(s => s.Status.HasFlag(ArmStatusFlags.EmergencyStop), "the arm's own stop was never latched");
        Assert.Equal(ArmHoldReason.EmergencyStop, stopped.HoldReason);
        Assert.False(stopped.Status.HasFlag(ArmStatusFlags.Enabled));
        Assert.Equal(AckResult.RefusedEmergencyStop, controller.Request(FirmwareMessageType.Enable).Result);

        // Still pressed: the reset is answered, and the stop is latched again at once.
        var early = controller.Request(FirmwareMessageType.Reset);
        Assert.Equal(AckResult.Ok, early.Result);
        Assert.True(early.Status.HasFlag(ArmStatusFlags.EmergencyStop), $"status {early.Status} after a reset with the stop still engaged");
        Assert.True(Eventually.True(() => endpoint.Logged("reset: the arm still reports its own stop or fault: latched again")),
            string.Join(" | ", endpoint.ErrorLines));
        Assert.Equal(AckResult.RefusedEmergencyStop, controller.Request(FirmwareMessageType.Enable).Result);

        endpoint.Type("release");
        Assert.True(Eventually.True(() => !controller.Request(FirmwareMessageType.Reset).Status.HasFlag(ArmStatusFlags.EmergencyStop)),
            "a reset after the release never cleared the e-stop");
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);
        Assert.True(Eventually.True(() => endpoint.Logged("the arm's own stop is engaged: test: stop button pressed")), string.Join(" | ", endpoint.ErrorLines));
    }

    [Fact]
    public void ArmsOwnFaultLatchesFault2RefusesEnableAndCommandsUntilReset()
    {
        using var arm = new TroubledArm();
        var (endpoint, controller) = (arm.Endpoint, arm.Controller);
        controller.ConnectCommandChannel();
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);

        endpoint.Type("fault");
        var faulted = controller.NextState(s => s.Faults.HasFlag(ArmFaultFlags.OverEffort), "the arm's fault was never latched");
        Assert.True(faulted.Status.HasFlag(ArmStatusFlags.Fault), $"status {faulted.Status}");
        Assert.False(faulted.Status.HasFlag(ArmStatusFlags.Enabled));
        Assert.Equal(ArmHoldReason.Fault, faulted.HoldReason);
        Assert.Equal(AckResult.RefusedFault, controller.Request(FirmwareMessageType.Enable).Result);
        var command = controller.CommandFrame(++controller.CommandSequence, ArmCommand.JointPositions([0.1, 0, 0, 0, 0, 0], 0));
        var report = controller.PublishAndConfirm(command, r => r.RejectedFor(FrameStatus.NotEnabled) == 1, "a command was not refused while faulted");
        Assert.Equal(0u, report.CommandsApplied);

        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Reset).Result);
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);
        Assert.True(Eventually.True(() => endpoint.Logged("fault: the arm stopped itself: test: collision reflex")), string.Join(" | ", endpoint.ErrorLines));
    }

    [Fact]
    public void AFailedReleaseRefusesTheEnableAsAFaultAndNamesTheCall()
    {
        using var arm = new TroubledArm();
        var (endpoint, controller) = (arm.Endpoint, arm.Controller);
        endpoint.Type("fail release_brake");

        var enable = controller.Request(FirmwareMessageType.Enable);

        Assert.Equal(AckResult.RefusedFault, enable.Result);
        Assert.True(enable.Status.HasFlag(ArmStatusFlags.Fault) && !enable.Status.HasFlag(ArmStatusFlags.Enabled), $"status {enable.Status}");
        Assert.True(Eventually.True(() => endpoint.Logged("hardware: release_brake failed: test: release_brake refused")), string.Join(" | ", endpoint.ErrorLines));
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Reset).Result);
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);
    }

    [Fact]
    public void AFailedCommandCallFaultsTheArmAndTheCommandIsNotCountedApplied()
    {
        using var arm = new TroubledArm();
        var (endpoint, controller) = (arm.Endpoint, arm.Controller);
        controller.ConnectCommandChannel();
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);
        endpoint.Type("fail command_joint_positions");

        var sequence = ++controller.CommandSequence;
        controller.Publish(controller.CommandFrame(sequence, ArmCommand.JointPositions([0.1, 0, 0, 0, 0, 0], 0)));
        var faulted = controller.NextState(s => s.Faults.HasFlag(ArmFaultFlags.OverEffort), "the failed command call never faulted the arm");

        Assert.Equal(ArmHoldReason.Fault, faulted.HoldReason);
        Assert.NotEqual(sequence, faulted.LastCommandSequence);
        var report = controller.Faults();
        Assert.Equal(0u, report.CommandsApplied);
        Assert.Equal(sequence, controller.Hello().LastCommandSequence); // recorded all the same (§4)
        Assert.True(Eventually.True(() => endpoint.Logged("hardware: command_joint_positions failed: test: command_joint_positions refused")),
            string.Join(" | ", endpoint.ErrorLines));
    }
}
