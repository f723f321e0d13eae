using System.Buffers.Binary;
using System.Diagnostics;
using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;
using Xunit.Abstractions;

namespace RobotRuntime.Transport.Tests;

/// <summary>
/// How an arm's firmware behaves on the points of PROTOCOL.md that issue #18 settled, tested with raw frames against
/// any arm: the ACK's fields (§3.6), active_mode (§3.3), the order of the payload checks (§4), which sequence numbers
/// are recorded (§4, §5.1), the answers to edge cases (§3.1, §3.5), what is counted where (§3.3, §3.7) and the bounds
/// of §5.3. One suite, subclassed for each arm: the reference arm (<c>ReferenceArmProtocolTests</c>, the C process) and
/// sim-server (<c>SimServerBehaviourTests</c>, the C# <see cref="ArmFirmware"/> over MuJoCo). Times asserted on are
/// the arm's own (its STATE and reply timestamps, and an exact joint model's positions), never the test's wall clock.
/// </summary>
/// <remarks>
/// Where the arms may differ — the modes they offer, a gripper or none, an exact joint model or physics — a test asks the
/// <see cref="ArmUnderTest"/> and exercises the equivalent (its capabilities say which); none is skipped silently.
/// </remarks>
public abstract class ArmBehaviourSuite(ITestOutputHelper output)
{
    /// <summary>Starts a fresh arm (new session, disabled, unclaimed, every counter 0) with <paramref name="settings"/>.</summary>
    protected abstract ArmUnderTest StartArm(ArmSettings settings);

    private ArmUnderTest StartArm() => StartArm(new ArmSettings());

    /// <summary>Every joint's speed within 1 % of its velocity_max: "at rest" as §5.3 defines it.</summary>
    private static bool AtRest(ArmUnderTest arm, in ArmState state)
    {
        for (var j = 0; j < arm.JointCount; j++)
            if (Math.Abs(state.Velocities[j]) > 0.01 * arm.Limits[j].VelocityMax)
                return false;
        return true;
    }

    private static string Speeds(in ArmState state)
    {
        var speeds = new string[state.JointCount];
        for (var j = 0; j < speeds.Length; j++)
            speeds[j] = state.Velocities[j].ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture);
        return $"[{string.Join(", ", speeds)}]";
    }

    /// <summary>
    /// <paramref name="held"/> is the first state of a hold for <paramref name="reason"/>: an exact joint model stops at
    /// once (every speed exactly 0); a physical arm holds where it is and comes to rest (§5.3's "at rest") while the hold
    /// and the active mode stay.
    /// </summary>
    private void AssertHoldStops(ArmUnderTest arm, RawArmController controller, in ArmState held, ArmHoldReason reason, ArmCommandMode mode)
    {
        if (arm.JointModelIsExact)
        {
            for (var j = 0; j < arm.JointCount; j++)
                Assert.True(held.Velocities[j] == 0.0, $"joint {j} at {held.Velocities[j]} in the first state of the {reason} hold");
            return;
        }
        var settled = AtRest(arm, held) ? held : controller.NextState(s => AtRest(arm, s) || s.HoldReason != reason || s.ActiveMode != mode,
            $"the arm never came to rest in its {reason} hold");
        Assert.True(AtRest(arm, settled) && settled.HoldReason == reason && settled.ActiveMode == mode,
            $"the {reason} hold ended as {settled.HoldReason}, active_mode {settled.ActiveMode}, speeds {Speeds(settled)}, before the arm came to rest");
        output.WriteLine($"{reason} hold: first state's speeds {Speeds(held)}; at rest {(settled.ArmTimeNanoseconds - held.ArmTimeNanoseconds) * 1e-6:0.0} ms later");
    }

    // ---- the facts the suite relies on ------------------------------------------------------------

    [Fact]
    public void DescriptionAnnouncesTheFactsTheSuiteReliesOn()
    {
        using var arm = StartArm(new ArmSettings(WatchdogMilliseconds: 150, StateRateHz: 200));
        using var controller = new RawArmController(arm.Addresses);
        controller.Hello();
        var description = controller.Description!;

        Assert.Equal(arm.JointCount, description.JointCount);
        Assert.Equal(arm.Limits, description.Joints);
        Assert.Equal(arm.OfferedModes.Order(), description.SupportedModes.Order());
        Assert.Equal(arm.HasGripper, description.HasGripper);
        Assert.Equal(arm.EndEffectorMaxTranslation, description.EndEffectorMaxTranslation);
        Assert.Equal((150, 200), (description.WatchdogMilliseconds, description.StateRateHz));
        Assert.Equal((150, 200), (arm.WatchdogMilliseconds, arm.StateRateHz));
        foreach (var (name, pose) in new[] { ("rest", arm.Rest), ("target", arm.Target) })
        {
            Assert.Equal(arm.JointCount, pose.Length);
            for (var j = 0; j < arm.JointCount; j++)
                Assert.True(pose[j] >= arm.Limits[j].PositionMin && pose[j] <= arm.Limits[j].PositionMax, $"the {name} pose's joint {j} is outside its range");
        }
        Assert.Contains(arm.HoldTestMode, arm.OfferedModes);
        Assert.True(arm.ModeNotOffered is not { } notOffered || !arm.OfferedModes.Contains(notOffered));
    }

    // ---- the gripper bit (PROTOCOL.md §3.2) ----------------------------------------------------------

    [Fact]
    public void GripperTargetMovesTheGripperOnlyOnAnArmThatHasOne()
    {
        using var arm = StartArm(new ArmSettings(WatchdogMilliseconds: 5000));
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();
        Assert.Equal(arm.HasGripper, controller.Description!.HasGripper);
        controller.ConnectCommandChannel();
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);

        // Close the gripper: a target every arm accepts, with or without a gripper (§3.2: [0, 1] is always in range).
        var close = ArmCommand.JointPositions(arm.Target, 1.0);
        var sequence = ++controller.CommandSequence;
        controller.Publish(controller.CommandFrame(sequence, close));
        var applied = controller.NextState(s => s.LastCommandSequence == sequence, "the command closing the gripper was never applied");

        if (arm.HasGripper)
        {
            var closing = controller.NextState(s => s.GripperPosition > 0.5, "the gripper never closed past half way");
            output.WriteLine($"gripper at {closing.GripperPosition:0.000} ({closing.GripperEffort:0.00} N) " +
                $"{(closing.ArmTimeNanoseconds - applied.ArmTimeNanoseconds) * 1e-6:0.0} ms after the command");
            return;
        }
        // No gripper: for half a second of the arm's own time (the reference arm's gripper closes in that), every state
        // reports it as 0, and nothing was rejected.
        var until = applied.ArmTimeNanoseconds + 500_000_000UL;
        var seen = 0;
        controller.NextState(s =>
        {
            Assert.True(s.GripperPosition == 0.0 && s.GripperEffort == 0.0,
                $"an arm without a gripper reported gripper {s.GripperPosition} / {s.GripperEffort} N");
            seen++;
            return s.ArmTimeNanoseconds >= until;
        }, "the arm's states stopped");
        Assert.Equal(0u, controller.Faults().RejectedFor(FrameStatus.OutOfLimits));
        output.WriteLine($"{seen} states over 500 ms, gripper 0 in each");
    }

    // ---- P1: the ACK's reason ------------------------------------------------------------------

    [Fact]
    public void RequestNamingAnotherSessionIsAnsweredWrongSessionWithReason11AndCounted()
    {
        using var arm = StartArm();
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();

        var sequence = controller.ControlSequence + 1;
        var ack = controller.Request(FirmwareMessageType.Enable, session: controller.Session ^ 0x00FF00FF);

        Assert.Equal(AckResult.WrongSession, ack.Result);
        Assert.Equal(FrameStatus.WrongSession, ack.Reason);
        Assert.Equal(sequence, ack.RequestSequence);
        Assert.Equal(FirmwareMessageType.Enable, ack.RequestType);
        Assert.False(ack.Status.HasFlag(ArmStatusFlags.Enabled));
        Assert.Equal(1u, controller.Faults().RejectedFor(FrameStatus.WrongSession));
    }

    [Fact]
    public void AckReasonIsZeroForEveryResultButWrongSessionAndBadRequest()
    {
        using var arm = StartArm();
        using var holder = new RawArmController(arm.Addresses);
        holder.HelloAndClaim();

        var ok = holder.Request(FirmwareMessageType.Heartbeat);
        Assert.Equal((AckResult.Ok, FrameStatus.Ok), (ok.Result, ok.Reason));
        Assert.Equal(AckResult.Ok, holder.Request(FirmwareMessageType.EmergencyStop).Result);
        var refusedForEstop = holder.Request(FirmwareMessageType.Enable);
        Assert.Equal((AckResult.RefusedEmergencyStop, FrameStatus.Ok), (refusedForEstop.Result, refusedForEstop.Reason));

        var buffer = new byte[FirmwareCodec.MaxFrame];
        var hello = buffer[..FirmwareCodec.EncodeHello(buffer, ++holder.ControlSequence, 1, new HelloMessage(3, 4, holder.ClientId))];
        var unsupported = holder.ExchangeForAck(hello);
        Assert.Equal((AckResult.UnsupportedVersion, FrameStatus.Ok), (unsupported.Result, unsupported.Reason));

        using var other = new RawArmController(arm.Addresses, clientId: 0xC0DE0002);
        other.Hello();
        var claimed = other.ExchangeForAck(other.ClaimFrame(++other.ControlSequence));
        Assert.Equal((AckResult.Claimed, FrameStatus.Ok), (claimed.Result, claimed.Reason));

        var bad = holder.ExchangeForAck(Repository.Vector("bad_crc.bin"));
        Assert.Equal((AckResult.BadRequest, FrameStatus.BadCrc), (bad.Result, bad.Reason));
    }

    // ---- P2: active_mode is the mode of the last applied command --------------------------------

    [Fact]
    public void WatchdogHoldKeepsTheActiveModeOfTheLastAppliedCommand()
    {
        using var arm = StartArm(new ArmSettings(WatchdogMilliseconds: 100));
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();
        controller.ConnectCommandChannel();
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);
        var enabled = controller.NextState(s => s.Status.HasFlag(ArmStatusFlags.Enabled), "the arm never reported itself enabled");
        Assert.Equal(ArmCommandMode.None, enabled.ActiveMode); // enabling holds; no command applied yet

        // A mode the arm does not hold in (the reference arm: joint velocity; sim-server: end-effector delta).
        var mode = arm.HoldTestMode;
        var sequence = ++controller.CommandSequence;
        controller.Publish(controller.CommandFrame(sequence, arm.SmallMove(mode)));
        var moving = controller.NextState(s => s.LastCommandSequence == sequence, $"the {mode} command was never applied");
        Assert.Equal(mode, moving.ActiveMode);

        var held = controller.NextState(s => s.HoldReason == ArmHoldReason.Watchdog, "the watchdog never tripped");
        Assert.True(held.Status.HasFlag(ArmStatusFlags.Holding));
        Assert.Equal(mode, held.ActiveMode);
        AssertHoldStops(arm, controller, held, ArmHoldReason.Watchdog, mode);
    }

    [Fact]
    public void DisableEnableAndEstopHoldsKeepTheActiveModeOfTheLastAppliedCommand()
    {
        using var arm = StartArm(new ArmSettings(WatchdogMilliseconds: 5000));
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();
        controller.ConnectCommandChannel();
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);
        var mode = arm.HoldTestMode;
        var sequence = ++controller.CommandSequence;
        controller.Publish(controller.CommandFrame(sequence, arm.SmallMove(mode)));
        controller.NextState(s => s.LastCommandSequence == sequence && s.ActiveMode == mode, $"the {mode} command was never applied");

        foreach (var (request, hold) in new[]
        {
            (FirmwareMessageType.Disable, ArmHoldReason.Disabled),
            (FirmwareMessageType.Enable, ArmHoldReason.None), // enabling holds where the arm is: no command applied
            (FirmwareMessageType.EmergencyStop, ArmHoldReason.EmergencyStop),
            (FirmwareMessageType.Reset, ArmHoldReason.Disabled),
        })
        {
            Assert.Equal(AckResult.Ok, controller.Request(request).Result);
            var state = controller.StateAfterLastReply($"no state after {request}");
            Assert.Equal(hold, state.HoldReason);
            Assert.True(state.ActiveMode == mode, $"after {request} active_mode is {state.ActiveMode}");
            AssertHoldStops(arm, controller, state, hold, mode);
        }
    }

    // ---- P3 and P5: payload checks in order, and the request fields of an ACK --------------------

    [Fact]
    public void EveryInvalidVectorSentAsARequestIsAnsweredWithItsRejectionCodeAndItsHeaderAsReceived()
    {
        using var arm = StartArm();
        using var controller = new RawArmController(arm.Addresses);
        var invalid = Repository.Manifest().Where(e => e.Status != "ok").ToList();
        Assert.True(invalid.Count >= 30, $"only {invalid.Count} invalid vectors in the manifest");

        foreach (var (file, status, _) in invalid)
        {
            var frame = Repository.Vector(file);
            var ack = controller.ExchangeForAck(frame);
            Assert.True(ack.Result == AckResult.BadRequest && FirmwareCodec.StatusName(ack.Reason) == status,
                $"{file}: answered {ack.Result} / {FirmwareCodec.StatusName(ack.Reason)}, expected bad request / {status}");
            // Request fields are 0 exactly for the three rejections that do not trust the header; otherwise as received.
            var unreadable = status is "truncated" or "bad_magic" or "oversized";
            var sequence = unreadable ? 0u : BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(8));
            var type = unreadable ? (ushort)0 : BinaryPrimitives.ReadUInt16LittleEndian(frame.AsSpan(6));
            Assert.True(ack.RequestSequence == sequence && (ushort)ack.RequestType == type,
                $"{file}: ACK names request {ack.RequestSequence} of type {(ushort)ack.RequestType}, expected {sequence} of type {type}");
        }

        var report = controller.Faults();
        foreach (var group in invalid.GroupBy(e => e.Status))
        {
            var reason = Enum.GetValues<FrameStatus>().Single(s => FirmwareCodec.StatusName(s) == group.Key);
            Assert.Equal((uint)group.Count(), report.RejectedFor(reason));
        }
        // Control-channel rejections are not command-channel rejections (P7).
        Assert.Equal(0u, controller.StateAfterLastReply("no state").CommandsRejected);
    }

    [Fact]
    public void UnreadableRequestIsAnsweredWithRequestFieldsZero()
    {
        using var arm = StartArm();
        using var controller = new RawArmController(arm.Addresses);
        // Each made from enable.bin (request 3, ENABLE) so that its header is there to be (wrongly) echoed.
        var enable = Repository.Vector("enable.bin");
        var badMagic = (byte[])enable.Clone();
        badMagic[0] = (byte)'X';
        var oversized = new byte[FirmwareCodec.MaxFrame + 1];
        enable.AsSpan(0, FirmwareCodec.HeaderSize).CopyTo(oversized);
        var oversizedLength = (byte[])enable.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(oversizedLength.AsSpan(12), 2000);
        foreach (var (frame, reason) in new[]
        {
            (enable[..^1], FrameStatus.Truncated),
            (enable[..3], FrameStatus.Truncated),
            (badMagic, FrameStatus.BadMagic),
            (oversized, FrameStatus.Oversized),
            (BadFrames.Reseal(oversizedLength), FrameStatus.Oversized),
        })
        {
            var ack = controller.ExchangeForAck(frame);
            Assert.Equal((AckResult.BadRequest, reason), (ack.Result, ack.Reason));
            Assert.Equal(0u, ack.RequestSequence);
            Assert.Equal((FirmwareMessageType)0, ack.RequestType);
        }
    }

    [Fact]
    public void ReplyHeaderSequenceIsTheArmsOwnCounter()
    {
        using var arm = StartArm();
        using var controller = new RawArmController(arm.Addresses);
        var buffer = new byte[FirmwareCodec.MaxFrame];

        var description = controller.Exchange(buffer.AsSpan(0, FirmwareCodec.EncodeHello(buffer, 100, 1, new HelloMessage(2, 2, 1))));
        Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeDescription(description, out var header, out _));
        Assert.Equal(1u, header.Sequence); // the arm's first reply since it started, whatever the request's number

        var report = controller.Exchange(buffer.AsSpan(0, FirmwareCodec.EncodeFaultQuery(buffer, 500, 1)));
        Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeFaultReport(report, out header, out _));
        Assert.Equal(2u, header.Sequence);

        var estop = controller.ExchangeForAck(controller.RequestFrame(FirmwareMessageType.EmergencyStop, 7, session: 0), out header);
        Assert.Equal(3u, header.Sequence);
        Assert.Equal(7u, estop.RequestSequence); // the request's own number is in the ACK's payload

        controller.ExchangeForAck([1, 2, 3], out header);
        Assert.Equal(4u, header.Sequence);
        var wrongSession = controller.ExchangeForAck(controller.RequestFrame(FirmwareMessageType.Heartbeat, 9000, session: 1), out header);
        Assert.Equal(5u, header.Sequence);
        Assert.Equal(9000u, wrongSession.RequestSequence);
    }

    // ---- P4: sequence numbers are recorded after the frame, authentication and sequence checks ----

    public static TheoryData<string, FrameStatus> CommandRejectionsAfterTheSequenceCheck() => new()
    {
        { "wrong-session", FrameStatus.WrongSession },
        { "expired", FrameStatus.Expired },
        { "not-enabled", FrameStatus.NotEnabled },
        { "mode-not-offered", FrameStatus.BadPayload }, // the reference arm offers no end-effector deltas, sim-server no joint velocities
        { "count-not-this-arms", FrameStatus.BadPayload },
        { "out-of-limits", FrameStatus.OutOfLimits },
    };

    [Theory]
    [MemberData(nameof(CommandRejectionsAfterTheSequenceCheck))]
    public void CommandRejectedAfterItsSequenceCheckStillUsesUpItsSequenceNumber(string kind, FrameStatus reason)
    {
        using var arm = StartArm(new ArmSettings(WatchdogMilliseconds: 5000));
        if (kind == "mode-not-offered" && arm.ModeNotOffered is null)
        {
            // Cannot apply: an arm that offers every mode has no mode to refuse. Said so, not skipped silently.
            Assert.Equal(3, arm.OfferedModes.Count);
            return;
        }
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();
        controller.ConnectCommandChannel();
        if (kind != "not-enabled")
            Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);

        var rest = ArmCommand.JointPositions(arm.Rest, 0);
        var beyond = (double[])arm.Rest.Clone();
        beyond[0] = arm.Limits[0].PositionMax + 1;
        var sequence = ++controller.CommandSequence;
        var bad = kind switch
        {
            "wrong-session" => controller.CommandFrame(sequence, rest, session: controller.Session ^ 0xFFFF),
            "expired" => controller.CommandFrame(sequence, rest, expiresAt: 1),
            "not-enabled" => controller.CommandFrame(sequence, rest),
            "mode-not-offered" => controller.CommandFrame(sequence, arm.ModeNotOffered switch
            {
                ArmCommandMode.EndEffectorDelta => ArmCommand.Create(ArmCommandMode.EndEffectorDelta, [0.01, 0, 0, 0, 0, 0], 0),
                ArmCommandMode.JointVelocity => ArmCommand.JointVelocities(new double[arm.JointCount], 0),
                _ => rest,
            }),
            // One joint short (two values for a one-joint arm): a count this arm does not have, well-formed otherwise.
            "count-not-this-arms" => controller.CommandFrame(sequence, ArmCommand.JointPositions(new double[arm.JointCount > 1 ? arm.JointCount - 1 : 2], 0)),
            "out-of-limits" => controller.CommandFrame(sequence, ArmCommand.JointPositions(beyond, 0)),
            _ => throw new ArgumentException(kind),
        };
        controller.PublishAndConfirm(bad, r => r.RejectedFor(reason) == 1, $"the arm never rejected the {kind} command as {reason}");

        // The same number again, on a command that would pass every check: a replay.
        var report = controller.PublishAndConfirm(controller.CommandFrame(sequence, rest),
            r => r.RejectedFor(FrameStatus.SequenceRepeat) == 1, "the replayed number was not rejected as sequence_repeat");
        Assert.Equal(1u, report.RejectedFor(reason));
        Assert.Equal(0u, report.CommandsApplied);
        Assert.Equal(sequence, controller.Hello().LastCommandSequence);
    }

    [Fact]
    public void RefusedControlRequestsStillUseUpTheirSequenceNumbers()
    {
        using var arm = StartArm();
        using var holder = new RawArmController(arm.Addresses);
        holder.HelloAndClaim();
        Assert.Equal(AckResult.Ok, holder.Request(FirmwareMessageType.EmergencyStop).Result);

        var enable = holder.RequestFrame(FirmwareMessageType.Enable, ++holder.ControlSequence);
        Assert.Equal(AckResult.RefusedEmergencyStop, holder.ExchangeForAck(enable).Result);
        var replay = holder.ExchangeForAck(enable);
        Assert.Equal((AckResult.BadRequest, FrameStatus.SequenceRepeat), (replay.Result, replay.Reason));

        // Another holder of the secret asks for the arm while the lease is live: refused (ACK 6), number used up.
        using var other = new RawArmController(arm.Addresses, clientId: 0xC0DE0002);
        other.Hello();
        var claimSequence = ++other.ControlSequence;
        Assert.Equal(AckResult.Claimed, other.ExchangeForAck(other.ClaimFrame(claimSequence)).Result);
        Assert.Equal(claimSequence, holder.Hello().LastControlSequence);
        var heartbeat = holder.ExchangeForAck(holder.RequestFrame(FirmwareMessageType.Heartbeat, claimSequence));
        Assert.Equal((AckResult.BadRequest, FrameStatus.SequenceRepeat), (heartbeat.Result, heartbeat.Reason));
        Assert.Equal(AckResult.Ok, holder.Request(FirmwareMessageType.Heartbeat).Result);
    }

    // ---- P6: the answers the spec did not give ---------------------------------------------------

    [Fact]
    public void HelloWithMaxVersionBelowMinVersionOrMinVersionZeroIsAnsweredBadPayload()
    {
        using var arm = StartArm();
        using var controller = new RawArmController(arm.Addresses);
        var buffer = new byte[FirmwareCodec.MaxFrame];
        foreach (var (min, max) in new (ushort, ushort)[] { (3, 2), (0, 2) })
        {
            var ack = controller.ExchangeForAck(buffer.AsSpan(0, FirmwareCodec.EncodeHello(buffer, 5, 1, new HelloMessage(min, max, 1))));
            Assert.Equal((AckResult.BadRequest, FrameStatus.BadPayload), (ack.Result, ack.Reason));
            Assert.Equal((5u, FirmwareMessageType.Hello), (ack.RequestSequence, ack.RequestType));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EstopNamingSessionZeroOrAnotherSessionIsObeyed(bool sessionZero)
    {
        using var arm = StartArm(new ArmSettings(WatchdogMilliseconds: 5000));
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);

        var ack = controller.Request(FirmwareMessageType.EmergencyStop, session: sessionZero ? 0 : controller.Session + 1);

        Assert.Equal((AckResult.Ok, FrameStatus.Ok), (ack.Result, ack.Reason));
        Assert.True(ack.Status.HasFlag(ArmStatusFlags.EmergencyStop));
        Assert.False(ack.Status.HasFlag(ArmStatusFlags.Enabled));
        Assert.Equal(ArmHoldReason.EmergencyStop, controller.StateAfterLastReply("no state after the e-stop").HoldReason);
        Assert.All(controller.Faults().Rejected, count => Assert.Equal(0u, count));
    }

    [Fact]
    public void SessionZeroInAnAuthenticatedRequestIsAnsweredWrongSessionAndCounted()
    {
        using var arm = StartArm();
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();
        var types = new[] { FirmwareMessageType.Heartbeat, FirmwareMessageType.Enable, FirmwareMessageType.Disable, FirmwareMessageType.Reset };
        foreach (var type in types)
        {
            var ack = controller.Request(type, session: 0);
            Assert.Equal((AckResult.WrongSession, FrameStatus.WrongSession), (ack.Result, ack.Reason));
            Assert.Equal(type, ack.RequestType);
        }
        Assert.False(controller.StateAfterLastReply("no state").Status.HasFlag(ArmStatusFlags.Enabled));
        Assert.Equal((uint)types.Length, controller.Faults().RejectedFor(FrameStatus.WrongSession));
    }

    [Fact]
    public void ClaimNamingSessionZeroIsAnsweredBadPayload()
    {
        using var arm = StartArm();
        using var controller = new RawArmController(arm.Addresses);
        controller.Hello();
        var ack = controller.ExchangeForAck(controller.ClaimFrame(++controller.ControlSequence, session: 0));
        Assert.Equal((AckResult.BadRequest, FrameStatus.BadPayload), (ack.Result, ack.Reason));
        Assert.Equal(1u, controller.Faults().RejectedFor(FrameStatus.BadPayload));
        Assert.Equal(0u, controller.Hello().ClaimedBy);
    }

    [Fact]
    public void JointLimitWatchdogAndRejectedFrameFlagsNeverRefuseEnableOrACommand()
    {
        using var arm = StartArm(new ArmSettings(WatchdogMilliseconds: 2000));
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();
        controller.ConnectCommandChannel(); // a rejected frame: fault flag 0x8
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);
        // Joint 0 into the end of its range well within 2 s (flag 0x1: the reference arm at 2 rad/s reaches its 3 rad
        // limit after 1.5 s); no command after it: the watchdog trips at 2 s (flag 0x4).
        var enabled = controller.StateAfterLastReply("no state after the enable");
        Assert.True(enabled.Faults == ArmFaultFlags.BadFrames, $"faults {enabled.Faults} before the command: the command is to set the joint-limit flag");
        var sequence = ++controller.CommandSequence;
        controller.Publish(controller.CommandFrame(sequence, arm.IntoJointLimit(enabled)));
        const ArmFaultFlags records = ArmFaultFlags.JointLimit | ArmFaultFlags.Watchdog | ArmFaultFlags.BadFrames;
        var held = controller.NextState(s => s.HoldReason == ArmHoldReason.Watchdog && s.Faults == records,
            "the arm never reached its joint limit and then tripped its watchdog");
        Assert.False(held.Status.HasFlag(ArmStatusFlags.Fault), $"status {held.Status} with only records latched");

        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Disable).Result);
        var enable = controller.Request(FirmwareMessageType.Enable);
        Assert.Equal(AckResult.Ok, enable.Result);
        Assert.False(enable.Status.HasFlag(ArmStatusFlags.Fault));
        var next = ++controller.CommandSequence;
        controller.Publish(controller.CommandFrame(next, ArmCommand.JointPositions(arm.Target, 0)));
        var applied = controller.NextState(s => s.LastCommandSequence == next, "a command was refused while only records were latched");
        Assert.Equal(ArmHoldReason.None, applied.HoldReason);
        Assert.Equal(records, applied.Faults);
    }

    [Fact]
    public void ResetWhileEnabledDisables()
    {
        using var arm = StartArm(new ArmSettings(WatchdogMilliseconds: 5000));
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);
        controller.NextState(s => s.Status.HasFlag(ArmStatusFlags.Enabled), "the arm never reported itself enabled");

        var reset = controller.Request(FirmwareMessageType.Reset);

        Assert.Equal((AckResult.Ok, FrameStatus.Ok), (reset.Result, reset.Reason));
        Assert.False(reset.Status.HasFlag(ArmStatusFlags.Enabled));
        var state = controller.StateAfterLastReply("no state after the reset");
        Assert.False(state.Status.HasFlag(ArmStatusFlags.Enabled));
        Assert.Equal(ArmHoldReason.Disabled, state.HoldReason);
    }

    [Fact]
    public void HelloWhileEnabledChangesNothing()
    {
        using var arm = StartArm(new ArmSettings(WatchdogMilliseconds: 5000));
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();
        controller.ConnectCommandChannel();
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);

        using var observer = new RawArmController(arm.Addresses, clientId: 0xC0DE0003);
        Assert.Equal(controller.ClientId, observer.Hello().ClaimedBy);
        Assert.Equal(controller.ClientId, controller.Hello().ClaimedBy);

        var state = controller.StateAfterLastReply("no state after the hellos");
        Assert.True(state.Status.HasFlag(ArmStatusFlags.Enabled));
        Assert.Equal(ArmHoldReason.None, state.HoldReason);
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Heartbeat).Result); // still the holder
        var sequence = ++controller.CommandSequence;
        controller.Publish(controller.CommandFrame(sequence, ArmCommand.JointPositions(arm.Target, 0)));
        controller.NextState(s => s.LastCommandSequence == sequence, "a command was not applied after the hellos");
    }

    [Fact]
    public void EnableWhileEnabledDoesNotRestartTheWatchdogClock()
    {
        using var arm = StartArm(new ArmSettings(WatchdogMilliseconds: 300));
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);

        // ENABLE every few ms, each answered ok: were the watchdog clock restarted by them, it would never trip
        // (unless this machine stalled the test for 300 ms, which would make the test pass, never fail wrongly).
        var tripped = Eventually.True(() =>
        {
            var ack = controller.Request(FirmwareMessageType.Enable);
            Assert.Equal(AckResult.Ok, ack.Result);
            Assert.True(ack.Status.HasFlag(ArmStatusFlags.Enabled));
            controller.DrainStates();
            return controller.Latest.HoldReason == ArmHoldReason.Watchdog;
        }, TimeSpan.FromSeconds(10));
        Assert.True(tripped, "ENABLE while enabled restarted the watchdog clock: it never tripped");
    }

    [Fact]
    public void DisableWhileEstoppedKeepsHoldReasonEstop()
    {
        using var arm = StartArm();
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.EmergencyStop).Result);

        var disable = controller.Request(FirmwareMessageType.Disable);

        Assert.Equal((AckResult.Ok, FrameStatus.Ok), (disable.Result, disable.Reason));
        Assert.True(disable.Status.HasFlag(ArmStatusFlags.EmergencyStop));
        Assert.Equal(ArmHoldReason.EmergencyStop, controller.StateAfterLastReply("no state after the disable").HoldReason);
    }

    // ---- P7: what is counted where -----------------------------------------------------------------

    [Fact]
    public void ControlRejectionsCountInTheFaultReportButNotInCommandsRejectedAndRefusalsNowhere()
    {
        using var arm = StartArm();
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();
        controller.ConnectCommandChannel();
        var commandRejections = controller.Faults().RejectedFor(FrameStatus.BadAuth); // the probes: command channel

        Assert.Equal(AckResult.BadRequest, controller.ExchangeForAck(Repository.Vector("bad_crc.bin")).Result);
        Assert.Equal(AckResult.WrongSession, controller.Request(FirmwareMessageType.Heartbeat, session: controller.Session + 1).Result);
        // Refusals: answers, not rejections.
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.EmergencyStop, session: 0).Result);
        Assert.Equal(AckResult.RefusedEmergencyStop, controller.Request(FirmwareMessageType.Enable).Result);
        var buffer = new byte[FirmwareCodec.MaxFrame];
        var hello = buffer[..FirmwareCodec.EncodeHello(buffer, ++controller.ControlSequence, 1, new HelloMessage(3, 3, 1))];
        Assert.Equal(AckResult.UnsupportedVersion, controller.ExchangeForAck(hello).Result);
        using var other = new RawArmController(arm.Addresses, clientId: 0xC0DE0002);
        other.Hello();
        Assert.Equal(AckResult.Claimed, other.ExchangeForAck(other.ClaimFrame(++other.ControlSequence)).Result);

        var report = controller.Faults();
        Assert.Equal(1u, report.RejectedFor(FrameStatus.BadCrc));
        Assert.Equal(1u, report.RejectedFor(FrameStatus.WrongSession));
        Assert.Equal(commandRejections, report.RejectedFor(FrameStatus.BadAuth));
        Assert.Equal(commandRejections + 2, (uint)report.Rejected.Sum(c => (long)c));
        Assert.Equal(commandRejections, controller.StateAfterLastReply("no state").CommandsRejected);
    }

    // ---- P9: bounds ------------------------------------------------------------------------------

    [Fact]
    public void EstopBrakesTheJointsBeforeItsReply()
    {
        using var arm = StartArm(new ArmSettings(WatchdogMilliseconds: 5000));
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();
        controller.ConnectCommandChannel();
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);
        var enabled = controller.StateAfterLastReply("no state after the enable");
        var sequence = ++controller.CommandSequence;
        controller.Publish(controller.CommandFrame(sequence, arm.FastMove(enabled)));
        // Moving fast: some joint at a quarter of its velocity_max or more, so that braking is something to do.
        controller.NextState(s => s.LastCommandSequence == sequence && s.Status.HasFlag(ArmStatusFlags.Moving) && !AtRest(arm, s)
            && Enumerable.Range(0, arm.JointCount).Any(j => Math.Abs(s.Velocities[j]) >= 0.25 * arm.Limits[j].VelocityMax), "the arm never moved fast");

        controller.ExchangeForAck(controller.RequestFrame(FirmwareMessageType.EmergencyStop, ++controller.ControlSequence), out var reply);

        // Every state the arm sampled after its reply (its own clock), for 100 ms of it. PROTOCOL.md §5.3: at rest (every
        // speed within 1 % of velocity_max) within 50 ms of the reply, and no joint moving more than 0.01 rad after it.
        var after = new List<ArmState>();
        controller.NextState(s =>
        {
            if (s.ArmTimeNanoseconds > reply.TimestampNanoseconds)
                after.Add(s);
            return s.ArmTimeNanoseconds > reply.TimestampNanoseconds + 100_000_000;
        }, "no states for 100 ms after the e-stop");
        Assert.NotEmpty(after);
        var first = after[0];
        var lastMoving = after.LastOrDefault(s => !AtRest(arm, s));
        output.WriteLine($"e-stop: {after.Count} states in 100 ms after the reply; first {(first.ArmTimeNanoseconds - reply.TimestampNanoseconds) * 1e-6:0.000} ms " +
            $"after it, speeds {Speeds(first)}; last not at rest: " +
            (lastMoving.Session == 0 ? "none" : $"{(lastMoving.ArmTimeNanoseconds - reply.TimestampNanoseconds) * 1e-6:0.000} ms, speeds {Speeds(lastMoving)}") +
            $"; moved at most {Enumerable.Range(0, arm.JointCount).Max(j => after.Max(s => Math.Abs(s.Positions[j] - first.Positions[j]))):0.00000} rad");
        foreach (var state in after)
        {
            var sinceReplyMs = (state.ArmTimeNanoseconds - reply.TimestampNanoseconds) * 1e-6;
            Assert.Equal(ArmHoldReason.EmergencyStop, state.HoldReason);
            for (var j = 0; j < state.JointCount; j++)
                Assert.True(Math.Abs(state.Positions[j] - first.Positions[j]) <= 0.01,
                    $"joint {j} moved {state.Positions[j] - first.Positions[j]:0.0000} rad {sinceReplyMs:0.0} ms after the reply");
            if (sinceReplyMs >= 50)
                Assert.True(AtRest(arm, state), $"not at rest {sinceReplyMs:0.0} ms after the reply: speeds {Speeds(state)}");
            // An exact joint model brakes at once: its speeds are exactly 0 in the very first state.
            if (arm.JointModelIsExact)
            {
                Assert.False(state.Status.HasFlag(ArmStatusFlags.Moving), $"moving {sinceReplyMs:0.0} ms after the reply");
                for (var j = 0; j < state.JointCount; j++)
                    Assert.Equal(0.0, state.Velocities[j]);
            }
        }
    }

    [Fact]
    public void WatchdogHoldBeginsNoLaterThanOneMillisecondAfterItsDeadline()
    {
        // States at 1 Hz: an arm that looked at its watchdog only when it woke to publish would hold up to a second late.
        const int watchdogMilliseconds = 100;
        const long watchdogNs = watchdogMilliseconds * 1_000_000L;
        // The bound is watchdog_ms + 1 ms. Every check below reads the arm's own clock (its reply timestamps, its joints),
        // so this test's thread being late to ask changes none of them; but the arm itself may be woken late on this
        // shared machine: 3 ms at a load of 17 on 2 cores, and a reference arm process stopped its joints 44 ms late
        // during a whole-suite run. The time bounds allow 200 ms for that, still a fifth of the up to 1 s of an arm that
        // woke only for its states; the count of late "not held" replies below needs no allowance at all.
        const double schedulerAllowanceSeconds = 0.2;
        using var arm = StartArm(new ArmSettings(WatchdogMilliseconds: watchdogMilliseconds, StateRateHz: 1));
        using var controller = new RawArmController(arm.Addresses);
        controller.HelloAndClaim();
        controller.ConnectCommandChannel();

        // Every arm: the ENABLE starts the watchdog clock, and the arm's own reply timestamps bracket it — it began after
        // the reply before the ENABLE and no later than the ENABLE's ACK. Asking for the fault report until it says
        // "watchdog" dates the hold on the arm's clock from both sides: it began no later than the first report saying
        // so, and after the last report saying otherwise.
        controller.Faults();
        var beforeEnable = controller.LastReplyTimestamp;
        Assert.Equal(AckResult.Ok, controller.Request(FirmwareMessageType.Enable).Result);
        var enabledAt = controller.LastReplyTimestamp;
        var limit = enabledAt + (ulong)((watchdogMilliseconds + 1) * 1_000_000L);
        var lastFreeAt = enabledAt;
        var lateFreeReplies = 0;
        // Asked every millisecond or so (not Eventually's 5 ms): the more replies fall after the limit, the sharper the
        // count of late "not held" replies.
        var giveUp = Stopwatch.GetTimestamp() + (long)(Eventually.HangGuard.TotalSeconds * Stopwatch.Frequency);
        while (controller.Faults().HoldReason != ArmHoldReason.Watchdog)
        {
            lastFreeAt = controller.LastReplyTimestamp;
            if (lastFreeAt > limit)
                lateFreeReplies++;
            Assert.True(Stopwatch.GetTimestamp() < giveUp, "the watchdog never held the arm after the ENABLE");
            Thread.Sleep(1);
        }
        var reportedHeldAt = controller.LastReplyTimestamp;
        output.WriteLine($"watchdog {watchdogMilliseconds} ms from the ENABLE: last reported not held {(lastFreeAt - enabledAt) * 1e-6:0.000} ms " +
            $"and reported held {(reportedHeldAt - enabledAt) * 1e-6:0.000} ms after its ACK ({(reportedHeldAt - beforeEnable) * 1e-6:0.000} ms " +
            $"after the reply before it); {lateFreeReplies} replies not held after {watchdogMilliseconds + 1} ms");
        Assert.True(reportedHeldAt - beforeEnable > (ulong)watchdogNs,
            $"held {(reportedHeldAt - beforeEnable) * 1e-6:0.000} ms after the reply before the ENABLE, watchdog {watchdogMilliseconds} ms: early");
        // Each arm answers a request before it looks at its watchdog in the same pass of its loop (rrfw_arm.c's loop,
        // SimServer's), so the request it was answering when the limit passed may still say "not held" with a later
        // timestamp; the C arms stamp a reply when they send it, so one answered just before the limit may too. A third
        // is an arm that went on answering after its limit without holding: one that looked only when it published
        // answers every request for up to a second "not held".
        Assert.True(lateFreeReplies <= 2,
            $"{lateFreeReplies} replies after {watchdogMilliseconds + 1} ms from the ENABLE's ACK said the arm was not held (the last " +
            $"{(lastFreeAt - enabledAt) * 1e-6:0.000} ms after it), watchdog {watchdogMilliseconds} ms");
        // However few replies this thread got in after the limit, the last "not held" one is within the bound (it comes
        // before the first "held" reply, whose timestamp also counted this thread's lateness in asking).
        Assert.True((lastFreeAt - enabledAt) * 1e-9 <= (watchdogMilliseconds + 1) * 1e-3 + schedulerAllowanceSeconds,
            $"not held {(lastFreeAt - enabledAt) * 1e-6:0.000} ms after the ENABLE's ACK, watchdog {watchdogMilliseconds} ms");

        if (!arm.JointModelIsExact)
            return; // A physical arm's joints are no clock; its reply timestamps above are.

        Assert.Contains(ArmCommandMode.JointVelocity, arm.OfferedModes); // an exact joint model is driven by velocities
        // An exact joint model: from rest at 0 joint 0 moves at exactly 1 rad/s from the moment the command is applied
        // until the hold begins, so where it stopped is that time on the arm's own clock.
        Assert.Equal(0.0, controller.StateAfterLastReply("no state after the watchdog hold").Positions[0]);
        const double velocity = 1.0;
        var sequence = ++controller.CommandSequence;
        controller.Publish(controller.CommandFrame(sequence, ArmCommand.JointVelocities(arm.JointVector(0, velocity), 0)));
        var held = controller.NextState(s => s.LastCommandSequence == sequence && s.HoldReason == ArmHoldReason.Watchdog,
            "the watchdog never held the arm after the command");

        var heldAfterSeconds = held.Positions[0] / velocity;
        output.WriteLine($"watchdog {watchdogMilliseconds} ms from the command: joint 0 stopped after {heldAfterSeconds * 1e3:0.000} ms at {velocity} rad/s");
        Assert.True(heldAfterSeconds >= watchdogMilliseconds * 1e-3 - 1e-9, $"held {heldAfterSeconds * 1e3:0.000} ms after the command: early");
        Assert.True(heldAfterSeconds <= (watchdogMilliseconds + 1) * 1e-3 + schedulerAllowanceSeconds,
            $"held {heldAfterSeconds * 1e3:0.000} ms after the command, watchdog {watchdogMilliseconds} ms");
    }
}
