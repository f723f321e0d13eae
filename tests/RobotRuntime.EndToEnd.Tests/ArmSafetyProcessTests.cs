using System.Net;
using RobotRuntime.Arm;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;
using Xunit.Abstractions;

namespace RobotRuntime.EndToEnd.Tests;

/// <summary>
/// What the arm is told in each state, tried against real processes: <c>rr run</c> driving
/// <c>rr sim-server</c> (MuJoCo, gravity on) over ZeroMQ, with the test reading the arm's public STATE
/// stream as an independent observer, and acting as a second local process where the test needs one.
/// </summary>
/// <remarks>
/// The drift bound. The simulated arm's joints are position servos (kp = 300 N·m/rad,
/// sim/scenes/tabletop_arm.xml): under a load τ a servo settles τ/kp short of its target. A hold that
/// keeps one target (the runtime's latched hold, the firmware's own e-stop hold) may therefore settle
/// once by at most |τ|/kp, with τ the shoulder's effort when the hold began, and must then stay: over
/// the rest of the hold the joint may move no more than 0.005 rad (0.3°, about 2 mm at the fingertip;
/// the servo's settling and the solver's noise are far below it). The ratcheting hold this replaces
/// moved the shoulder 0.29 rad in 27 s.
/// </remarks>
public sealed class ArmSafetyProcessTests(ITestOutputHelper output) : IDisposable
{
    private const double ServoStiffness = 300; // N·m/rad, the scene's <position kp="300"/>
    private const double CreepBound = 0.005;   // rad over the hold after the first second
    private const int Shoulder = 1;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(40);
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-arm-safety-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>A sim-server whose ready line has come (cameras off unless asked, 32 px).</summary>
    private static RrChild ReadyServer(int[] ports, double cameraRate = 0)
    {
        var server = SimServerProcess.Start(ports, cameraRate, cameraSize: 32);
        server.WaitFor(l => l.Contains("ready"), Patience);
        return server;
    }

    /// <summary>rr run with <paramref name="config"/>, once it has armed.</summary>
    private static RrChild ArmedRun(string config)
    {
        var runtime = RrChild.Start("run", "--config", config);
        runtime.WaitFor(l => l.StartsWith("rr: armed", StringComparison.Ordinal), Patience);
        return runtime;
    }

    private static ZmqArmLink Observe(int[] ports) => new(new ZmqArmLinkSettings
    {
        StateAddress = $"tcp://127.0.0.1:{ports[0]}", CommandAddress = $"tcp://127.0.0.1:{ports[1]}", ControlAddress = $"tcp://127.0.0.1:{ports[2]}",
    });

    // max_state_age 1 s: no test here is about a stale state, and on a busy machine a simulator process starved
    // for 200 ms would latch a StaleArmState hold that the tests would then take for something else.
    private string WriteConfig(int[] arm, string policy, int[]? cameraPorts = null, bool livePage = false)
    {
        var path = Path.Combine(_folder, Guid.NewGuid().ToString("N")[..8] + ".yaml");
        var cameras = cameraPorts is null ? "" : $"""
            cameras:
              - name: front
                backend: stream
                endpoint: tcp://127.0.0.1:{cameraPorts[3]}
                width: 32
                height: 32
            """;
        File.WriteAllText(path, $"""
            rate_hz: 20
            {(livePage ? "live_port: 0" : "")}
            runs_folder: {Path.Combine(_folder, "runs")}
            arm:
              state: tcp://127.0.0.1:{arm[0]}
              command: tcp://127.0.0.1:{arm[1]}
              control: tcp://127.0.0.1:{arm[2]}
            {cameras}
            policy:
              kind: {policy}
              goal: [0.35, 0.15, 0.25]
            safety:
              max_frame_age: 300ms
              max_state_age: 1s
              max_deadline_misses: 25
            """);
        return path;
    }

    private static ArmState Latest(ZmqArmLink observer)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            if (observer.TryGetLatestState(TimeSpan.FromMilliseconds(200), out var state, out _))
                return state;
            Thread.Sleep(10);
        }
        throw new TimeoutException("the observer received no fresh state from the arm within 5 s");
    }

    /// <summary>Watches the shoulder for <paramref name="duration"/> from now; returns (at start, after 1 s, largest distance from the 1 s pose, at the end).</summary>
    private static (double Start, double Settled, double Creep, double End) WatchShoulder(ZmqArmLink observer, TimeSpan duration)
    {
        var start = Latest(observer).Positions[Shoulder];
        Thread.Sleep(1000);
        var settled = Latest(observer).Positions[Shoulder];
        var creep = 0.0;
        var end = DateTime.UtcNow + duration - TimeSpan.FromSeconds(1);
        double last = settled;
        while (DateTime.UtcNow < end)
        {
            last = Latest(observer).Positions[Shoulder];
            creep = Math.Max(creep, Math.Abs(last - settled));
            Thread.Sleep(50);
        }
        return (start, settled, creep, last);
    }

    private void AssertStill((double Start, double Settled, double Creep, double End) watch, double effortAtStart, string what)
    {
        var settleBound = Math.Abs(effortAtStart) / ServoStiffness + CreepBound;
        output.WriteLine(FormattableString.Invariant(
            $"{what}: shoulder {watch.Start:0.0000} → {watch.Settled:0.0000} after 1 s → {watch.End:0.0000} rad; creep after settling {watch.Creep:0.00000} rad (bound {CreepBound}); total {Math.Abs(watch.End - watch.Start):0.0000} (bound {settleBound:0.0000}, effort {effortAtStart:0.00} N·m)"));
        Assert.True(Math.Abs(watch.End - watch.Start) <= settleBound,
            $"{what}: the shoulder went {watch.Start:0.0000} → {watch.End:0.0000} rad, more than the servo's settling |τ|/kp + {CreepBound} = {settleBound:0.0000} rad");
        Assert.True(watch.Creep <= CreepBound,
            $"{what}: the shoulder crept {watch.Creep:0.0000} rad after settling at {watch.Settled:0.0000} (bound {CreepBound} rad)");
    }

    [Fact]
    public async Task AnEStopFromTheLivePageLatchesTheFirmwareEStopTheLoadedArmStaysPutAndOnlyTheOperatorMayReset()
    {
        var ports = SimServerProcess.FreePorts();
        using var server = ReadyServer(ports);
        using var observer = Observe(ports);
        using var runtime = ArmedRun(WriteConfig(ports, "scripted-reach", livePage: true));
        var page = new Uri(runtime.WaitFor(l => l.StartsWith("rr: live page ", StringComparison.Ordinal), Patience)["rr: live page ".Length..]);
        var operatorPage = new Uri(runtime.WaitFor(l => l.StartsWith("rr: operator's live page", StringComparison.Ordinal), Patience).Split(": ", 3)[2]);
        using var http = new HttpClient { BaseAddress = page, Timeout = TimeSpan.FromSeconds(10) };
        Thread.Sleep(1500); // reaching: the arm moves under end-effector commands

        // Anyone who can reach the page may stop the arm.
        int before = runtime.LineCount;
        var effort = Latest(observer).Efforts[Shoulder];
        using (var estop = await http.SendAsync(Command("/estop", key: null)))
            Assert.Equal(HttpStatusCode.OK, estop.StatusCode);
        runtime.WaitFor(l => l.StartsWith("rr: HOLD EmergencyStop", StringComparison.Ordinal), Patience, skip: before);
        runtime.WaitFor(l => l.StartsWith("rr: e-stop sent to the arm: ESTOP acknowledged", StringComparison.Ordinal), Patience, skip: before);
        var watch = WatchShoulder(observer, TimeSpan.FromSeconds(30));

        var arm = Latest(observer);
        Assert.True(arm.Status.HasFlag(ArmStatusFlags.EmergencyStop), $"the arm's e-stop is not latched: {arm.Status}");
        Assert.False(arm.Status.HasFlag(ArmStatusFlags.Enabled));
        AssertStill(watch, effort, "30 s e-stop");

        // Another user on the machine sees the page but not the operator's key: no reset.
        using (var stranger = await http.SendAsync(Command("/reset", key: null)))
            Assert.Equal(HttpStatusCode.Forbidden, stranger.StatusCode);
        Thread.Sleep(300);
        Assert.True(Latest(observer).Status.HasFlag(ArmStatusFlags.EmergencyStop));

        // The operator's page (its key in the fragment the terminal printed) releases the arm's latch,
        // enables it, and the runtime acts again.
        before = runtime.LineCount;
        var key = operatorPage.Fragment["#operator=".Length..];
        using (var reset = await http.SendAsync(Command("/reset", key)))
            Assert.True(reset.StatusCode == HttpStatusCode.OK, await reset.Content.ReadAsStringAsync());
        runtime.WaitFor(l => l.StartsWith("rr: reset (live page): released the hold (EmergencyStop", StringComparison.Ordinal), Patience, skip: before);
        Assert.True(Latest(observer).Status.HasFlag(ArmStatusFlags.Enabled));
        runtime.Type("stop");
        Assert.Equal(0, runtime.WaitForExit(Patience));
    }

    private static HttpRequestMessage Command(string path, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        request.Headers.Add("X-RR-Live", "1");
        if (key is not null)
            request.Headers.Add("X-RR-Operator-Key", key);
        return request;
    }

    [Fact]
    public void AStaleCameraHoldKeepsTheLoadedArmStillForThirtySecondsAndTellsTheArmSo()
    {
        // The cameras come from a second simulator process that the test stops: the runtime holds
        // for StaleCameraFrame while the arm itself is fine, so the hold is the runtime's own.
        var armPorts = SimServerProcess.FreePorts();
        var cameraPorts = SimServerProcess.FreePorts();
        using var server = ReadyServer(armPorts);
        var cameras = SimServerProcess.Start(cameraPorts, cameraRate: 20, cameraSize: 32);
        try
        {
            cameras.WaitFor(l => l.Contains("ready"), Patience);
            using var observer = Observe(armPorts);
            using var runtime = ArmedRun(WriteConfig(armPorts, "scripted-reach", cameraPorts));
            Thread.Sleep(1500);

            int before = runtime.LineCount;
            var effort = Latest(observer).Efforts[Shoulder];
            cameras.KillHard();
            runtime.WaitFor(l => l.StartsWith("rr: HOLD StaleCameraFrame", StringComparison.Ordinal), Patience, skip: before);
            var watch = WatchShoulder(observer, TimeSpan.FromSeconds(30));

            var arm = Latest(observer);
            // The runtime held the arm by its commands: enabled, applying them, not in a watchdog hold.
            Assert.True(arm.Status.HasFlag(ArmStatusFlags.Enabled), $"arm status {arm.Status}");
            Assert.False(arm.Status.HasFlag(ArmStatusFlags.Holding), $"the arm holds on its own ({arm.HoldReason}): the runtime stopped commanding it");
            AssertStill(watch, effort, "30 s StaleCameraFrame hold");
            runtime.Type("stop");
            Assert.Equal(0, runtime.WaitForExit(Patience));

            var log = RunLog.Read(Path.Combine(Directory.GetDirectories(Path.Combine(_folder, "runs")).Single(), "run.rrlog"));
            var held = log.Records.Where(r => r.HoldReason == HoldReason.StaleCameraFrame && r.SentMode == ArmCommandMode.JointPosition).ToList();
            Assert.True(held.Count > 400, $"{held.Count} hold cycles sent a joint target");
        }
        finally
        {
            cameras.Dispose();
        }
    }

    [Fact]
    public void HoldStillKeepsTheArmWhereItWasArmed()
    {
        var ports = SimServerProcess.FreePorts();
        using var server = ReadyServer(ports);
        using var observer = Observe(ports);
        var effort = Latest(observer).Efforts[Shoulder];
        using var runtime = ArmedRun(WriteConfig(ports, "hold-still"));

        var watch = WatchShoulder(observer, TimeSpan.FromSeconds(12));

        AssertStill(watch, effort, "12 s of hold-still");
        Assert.DoesNotContain("rr: HOLD", runtime.Text);
        runtime.Type("stop");
        Assert.Equal(0, runtime.WaitForExit(Patience));
    }

    [Fact]
    public void AnArmEStoppedBehindTheRuntimesBackIsANamedHoldAndTheOperatorsResetReleasesIt()
    {
        var ports = SimServerProcess.FreePorts();
        using var server = ReadyServer(ports);
        using var runtime = ArmedRun(WriteConfig(ports, "scripted-reach"));
        Thread.Sleep(1000);

        // Anyone may stop the arm (ESTOP needs no key): a button at the arm, another program, a colleague.
        int before = runtime.LineCount;
        using (var stranger = new Stranger(ports))
            Assert.Equal(AckResult.Ok, stranger.Request(FirmwareMessageType.EmergencyStop, sequence: 1).Result);
        runtime.WaitFor(l => l.StartsWith("rr: HOLD ArmDisabled: the arm reports its own e-stop latched", StringComparison.Ordinal), Patience, skip: before);
        before = runtime.LineCount;
        runtime.Type("reset");
        runtime.WaitFor(l => l.StartsWith("rr: reset: released the hold (ArmDisabled", StringComparison.Ordinal), Patience, skip: before);
        Thread.Sleep(1000);
        Assert.DoesNotContain(runtime.Lines.Skip(before), l => l.StartsWith("rr: HOLD", StringComparison.Ordinal));
        runtime.Type("stop");
        Assert.Equal(0, runtime.WaitForExit(Patience));

        var log = RunLog.Read(Path.Combine(Directory.GetDirectories(Path.Combine(_folder, "runs")).Single(), "run.rrlog"));
        Assert.Contains(log.Records, r => r.HoldStarted != 0 && r.HoldReason == HoldReason.ArmDisabled);
    }

    [Fact]
    public void AProcessThatKnowsTheSessionButNotTheSecretCannotMoveDisableEnableClaimOrLockOutTheArm()
    {
        var ports = SimServerProcess.FreePorts();
        using var server = ReadyServer(ports);
        using var observer = Observe(ports);
        using var runtime = ArmedRun(WriteConfig(ports, "hold-still"));
        Thread.Sleep(500);
        var before = Latest(observer);

        using var stranger = new Stranger(ports);
        // Everything it can know: the session and the sequences from the public STATE stream.
        var session = before.Session;
        var far = before.LastCommandSequence + 1_000_000;
        var moved = ArmCommand.JointPositions([0.5, 1.2, 1.0, 0.5], 0);
        for (var i = 0; i < 20; i++)
        {
            stranger.Command(far + (uint)i, session, before.ArmTimeNanoseconds + 60_000_000_000, moved, key: []);
            stranger.Command(far + 100 + (uint)i, session, before.ArmTimeNanoseconds + 60_000_000_000, moved, key: System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            Thread.Sleep(10);
        }
        foreach (var type in new[] { FirmwareMessageType.Disable, FirmwareMessageType.Enable, FirmwareMessageType.Reset, FirmwareMessageType.Heartbeat })
        {
            var ack = stranger.Request(type, far);
            Assert.Equal(AckResult.BadRequest, ack.Result);
            Assert.Equal(FrameStatus.BadAuth, ack.Reason);
        }
        var claim = stranger.Claim(session, far + 1, takeover: true);
        Assert.Equal(AckResult.BadRequest, claim.Result);
        Assert.Equal(FrameStatus.BadAuth, claim.Reason);
        Thread.Sleep(1000);

        // The runtime still holds the arm: enabled, applying its commands (their sequence numbers were
        // not pushed ahead by the stranger's), the arm where it was, and no hold at all.
        var after = Latest(observer);
        Assert.True(after.Status.HasFlag(ArmStatusFlags.Enabled), $"arm status {after.Status}");
        Assert.True(after.LastCommandSequence > before.LastCommandSequence && after.LastCommandSequence < far,
            $"last applied command {before.LastCommandSequence} → {after.LastCommandSequence}");
        Assert.True(Math.Abs(after.Positions[Shoulder] - before.Positions[Shoulder]) < CreepBound,
            $"the shoulder moved {before.Positions[Shoulder]:0.0000} → {after.Positions[Shoulder]:0.0000}");
        Assert.DoesNotContain("rr: HOLD", runtime.Text);
        var faults = stranger.Faults();
        // The 5 control requests, and of the 40 commands those that the latest-only command channel delivered.
        Assert.True(faults.RejectedFor(FrameStatus.BadAuth) > 5, $"{faults.RejectedFor(FrameStatus.BadAuth)} frames refused as bad_auth");
        runtime.Type("stop");
        Assert.Equal(0, runtime.WaitForExit(Patience));
    }

    [Fact]
    public void ASecondControllerWithTheKeyIsRefusedAndATakeoverIsNamedOnBothSides()
    {
        var ports = SimServerProcess.FreePorts();
        using var server = ReadyServer(ports);
        using var first = ArmedRun(WriteConfig(ports, "scripted-reach"));

        // As if from another machine: this machine's one-run-per-arm lock is not in its way.
        var elsewhere = new Dictionary<string, string?> { ["RR_ARM_LOCK_DIR"] = Path.Combine(_folder, "other-machine-locks") };
        var second = RrProcess.Run(elsewhere, Patience, "run", "--config", WriteConfig(ports, "hold-still"), "--duration", "2s");
        // The whole output in the message: a refusal that arrives late shows up as "does not answer".
        Assert.True(second.ExitCode == 1 && second.Output.Contains("the arm is held by another controller", StringComparison.Ordinal),
            $"exit {second.ExitCode}:\n{second.Output}\n{second.Error}");
        Thread.Sleep(300);
        Assert.DoesNotContain("rr: HOLD", first.Text);

        // A deliberate takeover: the arm goes to the new controller disabled; the first one is told.
        int before = first.LineCount;
        var takeover = RrProcess.Run(elsewhere, Patience, "run", "--config", WriteConfig(ports, "hold-still"), "--duration", "2s", "--takeover");
        Assert.True(takeover.ExitCode == 0, takeover.Output + takeover.Error);
        Assert.Contains("rr: armed", takeover.Output);
        first.WaitFor(l => l.StartsWith("rr: HOLD Arm", StringComparison.Ordinal), Patience, skip: before);
        first.WaitFor(l => l.StartsWith("rr: the arm no longer takes this runtime's requests", StringComparison.Ordinal), Patience, skip: before);
        first.Type("stop");
        Assert.Equal(0, first.WaitForExit(Patience));
    }

    /// <summary>A local process with no secret: raw sockets to the arm's command and control channels.</summary>
    private sealed class Stranger : IDisposable
    {
        private readonly ZmqContext _context = ZmqContext.Create();
        private readonly ZmqSocket _commands;
        private readonly ZmqSocket _control;
        private readonly byte[] _buffer = new byte[FirmwareCodec.MaxFrame];
        private uint _session;

        public Stranger(int[] ports)
        {
            _commands = ZmqSocket.Create(_context, ZmqSocketType.Publisher);
            _commands.Connect($"tcp://127.0.0.1:{ports[1]}");
            _control = ZmqSocket.Create(_context, ZmqSocketType.Request);
            _control.SetReceiveTimeout(5000);
            _control.Connect($"tcp://127.0.0.1:{ports[2]}");
            Thread.Sleep(200); // let the publisher connect
        }

        public void Command(uint sequence, uint session, ulong expiresAt, in ArmCommand command, byte[] key)
        {
            _session = session;
            var length = FirmwareCodec.EncodeCommand(_buffer, sequence, 1, session, expiresAt, command, key);
            _commands.TrySend(_buffer.AsSpan(0, length));
        }

        public AckMessage Request(FirmwareMessageType type, uint sequence)
        {
            var length = FirmwareCodec.EncodeSessionRequest(_buffer, type, sequence, 1, _session, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            return Ack(length);
        }

        public AckMessage Claim(uint session, uint sequence, bool takeover)
        {
            var length = FirmwareCodec.EncodeClaim(_buffer, sequence, 1, new ClaimMessage(session, 0x5EC0FFEE, takeover),
                System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            return Ack(length);
        }

        public FaultReport Faults()
        {
            var reply = Exchange(FirmwareCodec.EncodeFaultQuery(_buffer, 1, 1));
            Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeFaultReport(reply, out _, out var report));
            return report!;
        }

        private AckMessage Ack(int length)
        {
            var reply = Exchange(length);
            Assert.Equal(FrameStatus.Ok, FirmwareCodec.DecodeAck(reply, out _, out var ack));
            return ack;
        }

        // One request and its reply on the control channel (REQ/REP: always in step).
        private byte[] Exchange(int length)
        {
            Assert.Equal(ZmqSendStatus.Sent, _control.TrySend(_buffer.AsSpan(0, length), wait: true));
            using var reply = new ZmqMessage();
            Assert.Equal(ZmqReceiveStatus.Received, _control.TryReceive(reply, wait: true));
            return reply.Data.ToArray();
        }

        public void Dispose()
        {
            _commands.Dispose();
            _control.Dispose();
            _context.Dispose();
        }
    }

    [Fact]
    public void ASecondRrRunForTheSameArmIsRefusedAndTheFirstKeepsControl()
    {
        var ports = SimServerProcess.FreePorts();
        using var server = ReadyServer(ports);
        using var first = ArmedRun(WriteConfig(ports, "scripted-reach"));

        // Same arm, named differently (localhost for 127.0.0.1): refused before it says a word to the arm.
        var config = File.ReadAllText(WriteConfig(ports, "hold-still")).Replace("tcp://127.0.0.1:", "tcp://localhost:", StringComparison.Ordinal);
        var second = Path.Combine(_folder, "second.yaml");
        File.WriteAllText(second, config);
        var refused = RrProcess.Run(new Dictionary<string, string?>(), Patience, "run", "--config", second, "--duration", "5s");

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("another rr run on this machine is driving the arm at tcp://localhost:", refused.Output + refused.Error);
        Assert.DoesNotContain("rr: arm session", refused.Output);
        Thread.Sleep(500);
        Assert.DoesNotContain("rr: HOLD", first.Text);
        first.Type("stop");
        Assert.Equal(0, first.WaitForExit(Patience));

        // Once the first has ended, the arm is free again.
        var after = RrProcess.Run(new Dictionary<string, string?>(), Patience, "run", "--config", second, "--duration", "1s");
        Assert.True(after.ExitCode == 0, after.Output + after.Error);
    }
}
