using RobotRuntime.Arm;
using RobotRuntime.Testing;
using RobotRuntime.Transport.Firmware;

namespace RobotRuntime.Transport.Tests;

/// <summary>
/// The firmware state machine with no sockets and no clock of its own: golden vectors in, replies and
/// actuator calls out, time given as plain nanoseconds. rr sim-server hosts this machine, and the
/// behaviour suite the C reference arm passes (ArmBehaviourSuite: ReferenceArmProtocolTests) runs
/// against it hosted there (SimServerBehaviourTests); ControlChannelTests and EndpointRejectionTests
/// check more of the C arm's process.
/// </summary>
public sealed class ArmFirmwareTests
{
    private const long T0 = 1_000_000_000;

    /// <summary>Records what the firmware asked of the arm.</summary>
    private sealed class RecordingArm : IArmActuator
    {
        public readonly List<string> Calls = [];
        public readonly List<(ArmCommand Command, bool FromMeasured)> Applied = [];
        public void Hold() => Calls.Add("hold");
        public void Brake() => Calls.Add("brake");
        public void Apply(in ArmCommand command, bool fromMeasuredPose)
        {
            Calls.Add("apply");
            Applied.Add((command, fromMeasuredPose));
        }
        public void OnReset() => Calls.Add("reset");
    }

    private sealed class Rig
    {
        public readonly RecordingArm Arm = new();
        public readonly ArmFirmware Firmware;
        public readonly List<string> Log = [];
        public readonly byte[] Reply = new byte[FirmwareCodec.MaxFrame];
        public readonly byte[] Key = GoldenMessages.ControllerKey();
        public uint Control = 100, Command = 100;

        public Rig(ArmDescription? description = null)
        {
            Firmware = new ArmFirmware(new ArmFirmwareOptions(description ?? GoldenMessages.Description(), GoldenMessages.Secret(), 2000, Log.Add), Arm);
        }

        public AckMessage Send(ReadOnlySpan<byte> request, long now)
        {
            var length = Firmware.ReceiveControl(request, now, Reply);
            Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeAck(Reply.AsSpan(0, length), out _, out var ack));
            return ack;
        }

        public AckMessage Request(FirmwareMessageType type, long now, uint? session = null, uint? sequence = null)
        {
            var frame = new byte[FirmwareCodec.MaxFrame];
            var length = FirmwareCodec.EncodeSessionRequest(frame, type, sequence ?? ++Control, (ulong)now, session ?? GoldenMessages.Session,
                type == FirmwareMessageType.EmergencyStop ? [] : Key);
            return Send(frame.AsSpan(0, length), now);
        }

        public AckMessage Claim(long now, uint client = GoldenMessages.Client, bool takeover = false)
        {
            var key = new byte[FirmwareCodec.KeySize];
            FirmwareCodec.ControllerKey(GoldenMessages.Secret(), GoldenMessages.Session, client, key);
            var frame = new byte[FirmwareCodec.MaxFrame];
            var length = FirmwareCodec.EncodeClaim(frame, ++Control, (ulong)now, new ClaimMessage(GoldenMessages.Session, client, takeover), key);
            return Send(frame.AsSpan(0, length), now);
        }

        public void ClaimAndEnable(long now)
        {
            Assert.Equal(AckResult.Ok, Claim(now).Result);
            Assert.Equal(AckResult.Ok, Request(FirmwareMessageType.Enable, now).Result);
        }

        public byte[] CommandFrame(in ArmCommand command, long now, uint? sequence = null, long lifetimeNs = 100_000_000)
        {
            var frame = new byte[FirmwareCodec.MaxFrame];
            var length = FirmwareCodec.EncodeCommand(frame, sequence ?? ++Command, (ulong)now, GoldenMessages.Session, (ulong)(now + lifetimeNs), command, Key);
            return frame[..length];
        }

        public FrameStatus Drive(in ArmCommand command, long now, uint? sequence = null)
        {
            var status = Firmware.ReceiveCommand(CommandFrame(command, now, sequence), now, out var accepted);
            if (status == FrameStatus.Ok)
                Assert.True(Firmware.Apply(in accepted));
            return status;
        }

        public ArmState State(long now)
        {
            var state = new ArmState();
            Firmware.FillState(ref state, now, moving: false);
            return state;
        }
    }

    private static ArmCommand Joints(double value = 0.5) => ArmCommand.JointPositions([value, value, value, value, value, value], 0.5);

    private static ArmDescription WithEndEffectorDeltas() => GoldenMessages.Description() with
    {
        SupportedModes = new HashSet<ArmCommandMode> { ArmCommandMode.JointPosition, ArmCommandMode.EndEffectorDelta },
    };

    // ---- the gripper bit (PROTOCOL.md §3.2) ---------------------------------------------------------

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void DescriptionCarriesWhetherTheArmHasAGripper(bool hasGripper)
    {
        var rig = new Rig(GoldenMessages.Description() with { HasGripper = hasGripper });
        var length = rig.Firmware.ReceiveControl(Repository.Vector("hello.bin"), T0, rig.Reply);
        Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeDescription(rig.Reply.AsSpan(0, length), out _, out var description));
        Assert.Equal(hasGripper, description!.HasGripper);
    }

    [Fact]
    public void ArmWithoutAGripperAcceptsAGripperTargetInRangeAndReportsItsGripperAsZero()
    {
        var rig = new Rig(GoldenMessages.Description() with { HasGripper = false });
        rig.ClaimAndEnable(T0);

        Assert.Equal(FrameStatus.Ok, rig.Drive(ArmCommand.JointPositions([0.5, 0.5, 0.5, 0.5, 0.5, 0.5], 0.75), T0));
        Assert.Equal(FrameStatus.OutOfLimits, rig.Drive(ArmCommand.JointPositions([0.5, 0.5, 0.5, 0.5, 0.5, 0.5], 1.5), T0));
        Assert.Single(rig.Arm.Applied);

        // Whatever the host measured, the STATE of a gripperless arm says 0.
        var state = new ArmState { GripperPosition = 0.75, GripperEffort = 3.0 };
        rig.Firmware.FillState(ref state, T0, moving: false);
        Assert.Equal((0.0, 0.0), (state.GripperPosition, state.GripperEffort));

        var withGripper = new Rig();
        var measured = new ArmState { GripperPosition = 0.75, GripperEffort = 3.0 };
        withGripper.Firmware.FillState(ref measured, T0, moving: false);
        Assert.Equal((0.75, 3.0), (measured.GripperPosition, measured.GripperEffort));
    }

    // ---- golden vectors ---------------------------------------------------------------------------

    [Fact]
    public void GoldenVectorsClaimEnableAndCommandTheArmInTheirOrder()
    {
        var rig = new Rig();
        var hello = rig.Firmware.ReceiveControl(Repository.Vector("hello.bin"), T0, rig.Reply);
        Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeDescription(rig.Reply.AsSpan(0, hello), out var header, out var description, out var claim));
        Assert.Equal(GoldenMessages.Session, description!.Session);
        Assert.Equal(1u, header.Sequence);               // the arm's own reply counter
        Assert.Equal(0u, claim.ClaimedBy);

        Assert.Equal(AckResult.Ok, rig.Send(Repository.Vector("claim.bin"), T0).Result);
        Assert.Equal(GoldenMessages.Client, rig.Firmware.Claimant);
        var enable = rig.Send(Repository.Vector("enable.bin"), T0);
        Assert.Equal((AckResult.Ok, 3u, FirmwareMessageType.Enable), (enable.Result, enable.RequestSequence, enable.RequestType));
        Assert.True(rig.Firmware.Enabled);

        // The vector expires at StateTime + 50 ms on the arm's clock: apply it just before.
        var now = (long)GoldenMessages.StateTime;
        Assert.Equal(FrameStatus.Ok, rig.Firmware.ReceiveCommand(Repository.Vector("command_joint_position.bin"), now, out var accepted));
        Assert.True(rig.Firmware.Apply(in accepted));
        Assert.Equal(0.125, rig.Arm.Applied.Single().Command.Values[0]);
        Assert.Equal(7u, rig.State(now).LastCommandSequence);

        Assert.Equal(FrameStatus.BadAuth, rig.Firmware.ReceiveCommand(Repository.Vector("command_wrong_key.bin"), now, out _));
        // Expires at 200 ns on the arm's clock: expiry (12) comes before the mode this arm does not offer (8).
        Assert.Equal(FrameStatus.Expired, rig.Firmware.ReceiveCommand(Repository.Vector("command_ee_delta.bin"), now, out _));
        var estop = rig.Send(Repository.Vector("estop.bin"), now);
        Assert.Equal(AckResult.Ok, estop.Result);
        Assert.Equal("brake", rig.Arm.Calls[^1]);
        Assert.Equal(ArmHoldReason.EmergencyStop, rig.State(now).HoldReason);

        var report = rig.Firmware.ReceiveControl(Repository.Vector("fault_query.bin"), now, rig.Reply);
        Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeFaultReport(rig.Reply.AsSpan(0, report), out _, out var faults));
        Assert.Equal(1u, faults!.RejectedFor(FrameStatus.BadAuth));
        Assert.Equal(1u, faults.RejectedFor(FrameStatus.Expired));
        Assert.Equal(1u, faults.CommandsApplied);
    }

    [Fact]
    public void EveryInvalidVectorOnTheControlChannelIsAnsweredBadRequestWithItsCode()
    {
        foreach (var (file, status, _) in Repository.Manifest().Where(v => v.Status != "ok"))
        {
            var rig = new Rig();
            var frame = Repository.Vector(file);
            var ack = rig.Send(frame, T0);
            Assert.True(ack.Result == AckResult.BadRequest, file);
            Assert.Equal(status, FirmwareCodec.StatusName(ack.Reason));
            Assert.Equal(1u, rig.Firmware.RejectedFor(ack.Reason));
            // Unreadable (§3.6): no request fields for a frame rejected as truncated, bad_magic or oversized.
            var unreadable = ack.Reason is FrameStatus.Truncated or FrameStatus.BadMagic or FrameStatus.Oversized;
            FirmwareCodec.CheckFrame(frame, out var header);
            Assert.Equal(unreadable ? 0u : header.Sequence, ack.RequestSequence);
            Assert.Equal(unreadable ? (FirmwareMessageType)0 : header.Type, ack.RequestType);
        }
    }

    [Fact]
    public void ValidVectorsOfTheArmsOwnTypesAreUnexpectedOnEitherChannel()
    {
        var rig = new Rig();
        foreach (var file in new[] { "state_6dof.bin", "description_6dof.bin", "ack.bin", "fault_report.bin" })
        {
            Assert.Equal(FrameStatus.UnexpectedType, rig.Send(Repository.Vector(file), T0).Reason);
            Assert.Equal(FrameStatus.UnexpectedType, rig.Firmware.ReceiveCommand(Repository.Vector(file), T0, out _));
        }
        Assert.Equal(FrameStatus.UnexpectedType, rig.Send(Repository.Vector("command_joint_position.bin"), T0).Reason);
        Assert.Equal(FrameStatus.UnexpectedType, rig.Firmware.ReceiveCommand(Repository.Vector("enable.bin"), T0, out _));
        Assert.Equal(5u, rig.Firmware.CommandsRejected);   // STATE's counter: the command channel only
        Assert.Equal(10u, rig.Firmware.RejectedFor(FrameStatus.UnexpectedType)); // FAULT_REPORT's table: both
    }

    // ---- sessions, claims and requests ------------------------------------------------------------

    [Fact]
    public void RequestNamingAnotherSessionIsAnsweredWrongSessionWithReason11AndCounted()
    {
        var rig = new Rig();
        rig.Claim(T0);
        foreach (var session in new uint[] { 0x12345678, 0 })
        {
            var ack = rig.Request(FirmwareMessageType.Enable, T0, session);
            Assert.Equal((AckResult.WrongSession, FrameStatus.WrongSession), (ack.Result, ack.Reason));
        }
        Assert.False(rig.Firmware.Enabled);
        Assert.Equal(2u, rig.Firmware.RejectedFor(FrameStatus.WrongSession));
    }

    [Theory]
    [InlineData(0x12345678u)]
    [InlineData(0u)]
    public void EstopNamingAnySessionIsObeyedAndNotCountedAsARejection(uint session)
    {
        var rig = new Rig();
        rig.ClaimAndEnable(T0);
        var ack = rig.Request(FirmwareMessageType.EmergencyStop, T0, session);
        Assert.Equal((AckResult.Ok, FrameStatus.Ok), (ack.Result, ack.Reason));
        Assert.True(rig.Firmware.EmergencyStopLatched);
        Assert.False(rig.Firmware.Enabled);
        Assert.Equal("brake", rig.Arm.Calls[^1]);
        Assert.Equal(ArmStatusFlags.EmergencyStop | ArmStatusFlags.Holding, ack.Status);
        Assert.Equal(0u, rig.Firmware.RejectedFor(FrameStatus.WrongSession));
    }

    [Fact]
    public void EnableIsRefusedWhileEstoppedOrFaultedButNotForRecordedFaults()
    {
        var rig = new Rig();
        rig.Claim(T0);
        rig.Request(FirmwareMessageType.EmergencyStop, T0);
        Assert.Equal(AckResult.RefusedEmergencyStop, rig.Request(FirmwareMessageType.Enable, T0).Result);
        rig.Request(FirmwareMessageType.Reset, T0);
        // A joint at its limit, a tripped watchdog and rejected frames are records: they refuse nothing.
        rig.Firmware.ReportMeasuredFaults(atJointLimit: true, overEffort: false);
        rig.Firmware.ReceiveCommand([1, 2, 3], T0, out _);
        Assert.Equal(AckResult.Ok, rig.Request(FirmwareMessageType.Enable, T0).Result);
        rig.Firmware.Tick(T0 + 200_000_000);
        Assert.Equal(ArmFaultFlags.JointLimit | ArmFaultFlags.BadFrames | ArmFaultFlags.Watchdog, rig.Firmware.Faults);
        Assert.Equal(FrameStatus.Ok, rig.Drive(Joints(), T0 + 200_000_000));
        Assert.Equal(0, (int)(rig.State(T0).Status & ArmStatusFlags.Fault));
        // An effort fault stops motion: status 0x8, disabled, ENABLE refused with ACK 3 until RESET.
        rig.Firmware.ReportMeasuredFaults(atJointLimit: false, overEffort: true);
        var state = rig.State(T0);
        Assert.Equal((ArmStatusFlags.Fault | ArmStatusFlags.Holding, ArmHoldReason.Fault), (state.Status, state.HoldReason));
        Assert.Equal(AckResult.RefusedFault, rig.Request(FirmwareMessageType.Enable, T0).Result);
        Assert.Equal(AckResult.Ok, rig.Request(FirmwareMessageType.Disable, T0).Result);
        Assert.Equal(ArmHoldReason.Fault, rig.Firmware.HoldReason);  // the graver reason stays
        rig.Request(FirmwareMessageType.Reset, T0);
        Assert.Equal(AckResult.Ok, rig.Request(FirmwareMessageType.Enable, T0).Result);
    }

    [Fact]
    public void ResetWhileEnabledClearsTheLatchesAndDisables()
    {
        var rig = new Rig();
        rig.ClaimAndEnable(T0);
        rig.Firmware.ReportMeasuredFaults(atJointLimit: true, overEffort: false);
        Assert.Equal(AckResult.Ok, rig.Request(FirmwareMessageType.Reset, T0).Result);
        Assert.False(rig.Firmware.Enabled);
        Assert.Equal((ArmHoldReason.Disabled, ArmFaultFlags.None), (rig.Firmware.HoldReason, rig.Firmware.Faults));
        Assert.Equal("reset", rig.Arm.Calls[^1]);
    }

    [Fact]
    public void DisableWhileEstoppedKeepsTheEstopAsTheHoldReason()
    {
        var rig = new Rig();
        rig.ClaimAndEnable(T0);
        rig.Request(FirmwareMessageType.EmergencyStop, T0);
        Assert.Equal(AckResult.Ok, rig.Request(FirmwareMessageType.Disable, T0).Result);
        Assert.Equal(ArmHoldReason.EmergencyStop, rig.Firmware.HoldReason);
        Assert.True(rig.Firmware.EmergencyStopLatched);
    }

    [Fact]
    public void EffortFaultWhileEstoppedKeepsTheEstopAsTheHoldReason()
    {
        var rig = new Rig();
        rig.ClaimAndEnable(T0);
        rig.Request(FirmwareMessageType.EmergencyStop, T0);
        // Braking hard (or a collision while stopped) can exceed an effort limit after the e-stop: the fault latches,
        // but the reason reported is the gravest that holds (§3.5: e-stop, then fault, then disabled).
        rig.Firmware.ReportMeasuredFaults(atJointLimit: false, overEffort: true);
        var state = rig.State(T0);
        Assert.Equal(ArmHoldReason.EmergencyStop, state.HoldReason);
        Assert.Equal(ArmStatusFlags.EmergencyStop | ArmStatusFlags.Fault | ArmStatusFlags.Holding, state.Status);
        Assert.Equal(ArmFaultFlags.OverEffort, state.Faults);
        Assert.Equal(AckResult.RefusedEmergencyStop, rig.Request(FirmwareMessageType.Enable, T0).Result);
        Assert.Equal(AckResult.Ok, rig.Request(FirmwareMessageType.Disable, T0).Result);
        Assert.Equal(ArmHoldReason.EmergencyStop, rig.Firmware.HoldReason);
        Assert.Equal(AckResult.Ok, rig.Request(FirmwareMessageType.Reset, T0).Result);
        Assert.Equal((ArmHoldReason.Disabled, ArmFaultFlags.None), (rig.Firmware.HoldReason, rig.Firmware.Faults));
    }

    [Fact]
    public void HelloAndEnableWhileEnabledChangeNothing()
    {
        var rig = new Rig();
        rig.ClaimAndEnable(T0);
        rig.Firmware.ReceiveControl(Repository.Vector("hello.bin"), T0 + 50_000_000, rig.Reply);
        Assert.Equal(AckResult.Ok, rig.Request(FirmwareMessageType.Enable, T0 + 50_000_000).Result);
        Assert.True(rig.Firmware.Enabled);
        Assert.Equal(GoldenMessages.Client, rig.Firmware.Claimant);
        // The watchdog still counts from the first ENABLE.
        Assert.Equal(T0 + 100_000_000 + 1, rig.Firmware.WatchdogDeadlineNs);
    }

    [Fact]
    public void ClaimByAnotherControllerIsRefusedWhileTheLeaseIsLiveAndATakeoverDisablesTheArm()
    {
        var rig = new Rig();
        rig.ClaimAndEnable(T0);
        const uint other = 0xBADC0DE5;
        var refused = rig.Claim(T0 + 1_000_000_000, other);
        Assert.Equal(AckResult.Claimed, refused.Result);
        Assert.True(rig.Firmware.Enabled);
        Assert.Equal(AckResult.Ok, rig.Claim(T0 + 1_000_000_000, other, takeover: true).Result);
        Assert.Equal(other, rig.Firmware.Claimant);
        Assert.False(rig.Firmware.Enabled);
        Assert.Equal(ArmHoldReason.Disabled, rig.Firmware.HoldReason);
        // The old controller's frames no longer count.
        Assert.Equal(AckResult.BadRequest, rig.Request(FirmwareMessageType.Enable, T0 + 1_000_000_000).Result);
    }

    [Fact]
    public void ReplyHeadersCarryTheArmsOwnCounterAndAcksEchoTheRequest()
    {
        var rig = new Rig();
        rig.Claim(T0);
        var length = rig.Firmware.ReceiveControl(Repository.Vector("fault_query.bin"), T0, rig.Reply);
        FirmwareCodec.CheckFrame(rig.Reply.AsSpan(0, length), out var reportHeader);
        Assert.Equal(2u, reportHeader.Sequence);
        var ack = rig.Request(FirmwareMessageType.Heartbeat, T0, sequence: 500);
        FirmwareCodec.CheckFrame(rig.Reply, out var ackHeader);
        Assert.Equal((3u, 500u, FirmwareMessageType.Heartbeat), (ackHeader.Sequence, ack.RequestSequence, ack.RequestType));
    }

    // ---- commands -----------------------------------------------------------------------------------

    [Fact]
    public void CommandRejectedForLimitsStillUsesUpItsSequenceNumber()
    {
        var rig = new Rig();
        rig.ClaimAndEnable(T0);
        Assert.Equal(FrameStatus.OutOfLimits, rig.Drive(Joints(9.0), T0, sequence: 200));
        Assert.Equal(FrameStatus.SequenceRepeat, rig.Drive(Joints(), T0, sequence: 200));
        Assert.Equal(FrameStatus.SequenceBackwards, rig.Drive(Joints(), T0, sequence: 150));
        Assert.Equal(FrameStatus.Ok, rig.Drive(Joints(), T0, sequence: 201));
        // A frame without the claimant's key never moves the recorded number.
        var frame = rig.CommandFrame(Joints(), T0, sequence: 900);
        frame[^5] ^= 1; // in the tag; the CRC is recomputed below
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(frame.Length - 4), FirmwareCodec.Crc32C(frame.AsSpan(0, frame.Length - 4)));
        Assert.Equal(FrameStatus.BadAuth, rig.Firmware.ReceiveCommand(frame, T0, out _));
        Assert.Equal(FrameStatus.Ok, rig.Drive(Joints(), T0, sequence: 202));
        var hello = rig.Firmware.ReceiveControl(Repository.Vector("hello.bin"), T0, rig.Reply);
        FirmwareCodec.DecodeDescription(rig.Reply.AsSpan(0, hello), out _, out _, out var claim);
        Assert.Equal(202u, claim.LastCommandSequence);
        Assert.Equal(4u, rig.Firmware.CommandsRejected);
    }

    [Fact]
    public void CommandsAreCheckedInTheProtocolsOrder()
    {
        var rig = new Rig();
        rig.Claim(T0);
        // Disabled and expired: expiry (12) is checked before enabled (13).
        var expired = rig.CommandFrame(Joints(), T0, lifetimeNs: 1);
        Assert.Equal(FrameStatus.Expired, rig.Firmware.ReceiveCommand(expired, T0 + 1, out _));
        Assert.Equal(FrameStatus.NotEnabled, rig.Drive(Joints(9.0), T0));
        rig.Request(FirmwareMessageType.Enable, T0);
        // Mode before limits; count before limits.
        Assert.Equal(FrameStatus.BadPayload, rig.Drive(ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [9, 0, 0, 0, 0, 0], 0.5), T0));
        Assert.Equal(FrameStatus.BadPayload, rig.Drive(ArmCommand.JointPositions([9.0, 0, 0], 0.5), T0));
        Assert.Equal(FrameStatus.OutOfLimits, rig.Drive(ArmCommand.JointPositions([0, 0, 0, 0, 0, 0], 1.5), T0));
        Assert.Equal(FrameStatus.OutOfLimits, rig.Drive(ArmCommand.JointVelocities([0, 0, 0, 0, 0, 1.5 + 0.25 * 5 + 0.01], 0.5), T0));
        Assert.Equal(FrameStatus.Ok, rig.Drive(ArmCommand.JointVelocities([0, 0, 0, 0, 0, 1.5 + 0.25 * 5], 0.5), T0));
    }

    [Fact]
    public void WatchdogHoldsOneNanosecondPastItsLimitAndKeepsTheActiveModeOfTheLastAppliedCommand()
    {
        var rig = new Rig(WithEndEffectorDeltas());
        rig.ClaimAndEnable(T0);
        Assert.Equal(ArmCommandMode.None, rig.State(T0).ActiveMode);
        var delta = ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0.01, 0, 0, 0, 0, 0], 0);
        Assert.Equal(FrameStatus.Ok, rig.Drive(delta, T0 + 10));
        Assert.Equal(T0 + 10 + 100_000_000 + 1, rig.Firmware.WatchdogDeadlineNs);
        rig.Firmware.Tick(T0 + 10 + 100_000_000);
        Assert.Equal(ArmHoldReason.None, rig.Firmware.HoldReason);
        rig.Firmware.Tick(T0 + 10 + 100_000_001);
        var state = rig.State(T0 + 10 + 100_000_001);
        Assert.Equal((ArmHoldReason.Watchdog, ArmCommandMode.EndEffectorDelta), (state.HoldReason, state.ActiveMode));
        Assert.Equal(ArmFaultFlags.Watchdog, state.Faults & ArmFaultFlags.Watchdog);
        Assert.Equal(long.MaxValue, rig.Firmware.WatchdogDeadlineNs);
        Assert.Equal(1u, rig.Firmware.WatchdogTrips);
        Assert.Equal("hold", rig.Arm.Calls[^1]);
        // The next valid command ends the hold.
        Assert.Equal(FrameStatus.Ok, rig.Drive(delta, T0 + 200_000_000));
        Assert.Equal(ArmHoldReason.None, rig.Firmware.HoldReason);
    }

    [Fact]
    public void EndEffectorDeltasAddToThePreviousTargetUntilTheArmHolds()
    {
        var rig = new Rig(WithEndEffectorDeltas());
        rig.ClaimAndEnable(T0);
        var delta = ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0.01, 0, 0, 0, 0, 0], 0);
        rig.Drive(delta, T0);
        rig.Drive(delta, T0);
        rig.Drive(Joints(), T0);
        rig.Drive(delta, T0);
        rig.Firmware.Tick(T0 + 500_000_000);            // watchdog hold
        rig.Drive(delta, T0 + 500_000_000);
        rig.Drive(delta, T0 + 500_000_000);
        Assert.Equal([true, false, false, true, true, false], rig.Arm.Applied.Select(a => a.FromMeasured));
    }

    [Fact]
    public void EndEffectorLimitsAreOnTheNormsWithATolerance()
    {
        var rig = new Rig(WithEndEffectorDeltas());
        rig.ClaimAndEnable(T0);
        var c = 0.0625 / Math.Sqrt(3);   // each component under the limit, the norm exactly at it
        Assert.Equal(FrameStatus.Ok, rig.Drive(ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [c, c, c, 0, 0, 0], 0), T0));
        Assert.Equal(FrameStatus.OutOfLimits, rig.Drive(ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0.05, 0.05, 0, 0, 0, 0], 0), T0));
        Assert.Equal(FrameStatus.OutOfLimits, rig.Drive(ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0, 0, 0, 0.2, 0.2, 0], 0), T0));
    }

    [Fact]
    public void CommandAcceptedBeforeAnEstopIsNotAppliedAfterIt()
    {
        var rig = new Rig();
        rig.ClaimAndEnable(T0);
        Assert.Equal(FrameStatus.Ok, rig.Firmware.ReceiveCommand(rig.CommandFrame(Joints(), T0), T0, out var accepted));
        rig.Request(FirmwareMessageType.EmergencyStop, T0);
        Assert.False(rig.Firmware.Apply(in accepted));
        Assert.Empty(rig.Arm.Applied);
    }

    [Fact]
    public void SteadyStateCommandsAndStatesAllocateNothing()
    {
        var rig = new Rig();
        rig.ClaimAndEnable(T0);
        rig.Arm.Calls.Capacity = 1000;
        rig.Arm.Applied.Capacity = 1000;
        var frames = Enumerable.Range(0, 200).Select(i => rig.CommandFrame(Joints(0.001 * i), T0 + i)).ToArray();
        var state = new ArmState();
        for (var i = 0; i < 100; i++)
            Step(i);
        Assert.Equal(0, ThreadAllocations.During(() => // from an empty allocation buffer: see ThreadAllocations.During
        {
            for (var i = 100; i < 200; i++)
                Step(i);
        }));

        void Step(int i)
        {
            rig.Firmware.ReceiveCommand(frames[i], T0 + i, out var accepted);
            rig.Firmware.Apply(in accepted);
            rig.Firmware.Tick(T0 + i);
            rig.Firmware.FillState(ref state, T0 + i, moving: true);
        }
    }
}
