using RobotRuntime.Arm;
using RobotRuntime.Cameras;
using RobotRuntime.Core.Tests.Safety;
using RobotRuntime.Encoders;
using RobotRuntime.Policies;
using RobotRuntime.Runtime;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using RobotRuntime.Timing;

namespace RobotRuntime.Core.Tests.Runtime;

/// <summary>
/// The control loop with fakes for the cameras, the encoder and the arm: what it sends, what it
/// holds for, and what it logs. Cycles run on the test thread at 100 Hz on the real clock (a few
/// dozen per test); nothing here asserts how long anything took.
/// </summary>
public sealed class ControlLoopTests : IDisposable
{
    private const int Size = 8;
    private readonly TemporaryDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>A camera whose frames are stamped "now" minus a settable age; it can also have none.</summary>
    internal sealed class FakeCamera(string name) : ICameraSource
    {
        public long AgeNs { get; set; } = 5_000_000;
        public bool HasFrame { get; set; } = true;
        public byte Shade { get; set; } = 100;
        private long _sequence;
        public string Name => name;
        public int Width => Size;
        public int Height => Size;
        public CameraHealth Health => new(HasFrame, _sequence, 0, HasFrame ? "" : "unplugged");
        public void Start() { }
        /// <summary>Blocking read as a 500 fps camera: a new frame every 2 ms (what the pipelined encode stage waits on).</summary>
        public CameraReadStatus Read(CameraFrame destination, TimeSpan timeout)
        {
            Thread.Sleep(2);
            return TryReadLatest(TimeSpan.MaxValue, destination);
        }

        public CameraReadStatus ReadLatest(CameraFrame destination, TimeSpan timeout) => TryReadLatest(TimeSpan.MaxValue, destination);

        public CameraReadStatus TryReadLatest(TimeSpan maxAge, CameraFrame destination)
        {
            if (!HasFrame)
                return CameraReadStatus.Lost;
            if (AgeNs > maxAge.TotalNanoseconds)
                return CameraReadStatus.Stale;
            destination.Pixels.AsSpan().Fill(Shade);
            destination.CaptureTimestampNs = MonotonicClock.NowNanoseconds - AgeNs;
            destination.Sequence = ++_sequence;
            return CameraReadStatus.Ok;
        }

        public void Dispose() { }
    }

    /// <summary>Embedding = each camera's mean pixel / 255; optionally fails.</summary>
    internal sealed class MeanEncoder(int cameras) : IEncoder
    {
        public bool Fail { get; set; }
        public string Name => "mean";
        public int CameraCount => cameras;
        public int FrameWidth => Size;
        public int FrameHeight => Size;
        public int EmbeddingSizePerCamera => 1;
        public int EmbeddingSize => cameras;
        public string LastError => Fail ? "told to fail" : "";

        public EncodeStatus Encode(IReadOnlyList<CameraFrame> frames, Span<float> embedding)
        {
            if (Fail)
                return EncodeStatus.Failed;
            for (var i = 0; i < frames.Count; i++)
            {
                long sum = 0;
                foreach (var p in frames[i].Pixels)
                    sum += p;
                embedding[i] = sum / (255f * frames[i].Pixels.Length);
            }
            return EncodeStatus.Ok;
        }

        public void Dispose() { }
    }

    /// <summary>An arm that applies end-effector deltas and joint targets at once and remembers what it got.</summary>
    internal sealed class FakeArm : IArmLink
    {
        private ArmState _state;
        public FakeArm()
        {
            _state.Session = 7;
            _state.Status = ArmStatusFlags.Enabled;
            _state.JointCount = 2;
            _state.Positions[0] = 0.2;
            _state.Positions[1] = -0.3;
            _state.EndEffectorX = 0.1;
            _state.EndEffectorZ = 0.5;
            _state.GripperPosition = 0.25;
        }

        public ArmLinkStatus Status { get; set; } = ArmLinkStatus.Up;
        public int Sent { get; private set; }
        public ArmCommand Last;
        public ArmDescription? Description { get; } = SafetyFilterTests.TwoJointArm();
        public ArmLinkHealth Health => new(Status, TimeSpan.Zero, 7, 0, 0, Sent, 0, Sent);
        public (double X, double Y, double Z) Tip => (_state.EndEffectorX, _state.EndEffectorY, _state.EndEffectorZ);
        public ArmControlResult Handshake(TimeSpan timeout) => new(ArmControlStatus.Ok, ArmStatusFlags.Enabled, "");
        public ArmControlResult Request(ArmControlRequest request, TimeSpan timeout) => new(ArmControlStatus.Ok, ArmStatusFlags.Enabled, "");

        public bool TryGetLatestState(TimeSpan maxAge, out ArmState state, out TimeSpan age)
        {
            state = _state;
            age = TimeSpan.FromMilliseconds(2);
            return Status == ArmLinkStatus.Up;
        }

        public ArmSendStatus Send(in ArmCommand command, out ArmCommand sent)
        {
            sent = command;
            if (Status != ArmLinkStatus.Up)
                return ArmSendStatus.LinkDown;
            Last = command;
            Sent++;
            if (command.Mode == ArmCommandMode.EndEffectorDelta)
            {
                _state.EndEffectorX += command.Values[0];
                _state.EndEffectorY += command.Values[1];
                _state.EndEffectorZ += command.Values[2];
            }
            else
            {
                _state.Positions[0] = command.Values[0];
                _state.Positions[1] = command.Values[1];
            }
            return ArmSendStatus.Sent;
        }

        public void Dispose() { }
    }

    /// <summary>Returns a fixed command, optionally after sleeping.</summary>
    private sealed class FixedPolicy(ArmCommand command, int sleepMs = 0) : IPolicy
    {
        public int SleepMs { get; set; } = sleepMs;
        public string Name => "fixed";
        public ArmCommandMode Mode => command.Mode;
        public int EmbeddingSize => 0;
        public string LastError => "";
        public void Reset() { }

        public PolicyStatus Act(PolicyObservation observation, ref ArmCommand next)
        {
            if (SleepMs > 0)
                Thread.Sleep(SleepMs);
            next = command;
            return PolicyStatus.Ok;
        }

        public void Dispose() { }
    }

    private sealed class Rig : IDisposable
    {
        public FakeCamera Front { get; } = new("front");
        public FakeCamera Wrist { get; } = new("wrist");
        public MeanEncoder Encoder { get; } = new(2);
        public FakeArm Arm { get; } = new();
        public SafetyFilter Safety { get; }
        public RunLogWriter Log { get; }
        public LiveStatusBoard Board { get; }
        public CycleRecordRing Records { get; } = new(4096);
        public ControlLoop Loop { get; }

        public Rig(string logPath, IPolicy policy, Func<SafetyFilterOptions, SafetyFilterOptions>? safety = null, RealTimeRequest? realTime = null, bool pipelined = false)
        {
            // Cycles run on the real clock; on a loaded machine the test thread can be descheduled for a
            // few periods. Only the deadline-storm test asks for the K = 3 miss limit; the others are
            // about other causes and must not latch a DeadlineMisses hold by accident.
            var options = WithMisses(SafetyFilterTests.Options(), 1_000_000);
            Safety = new SafetyFilter(safety?.Invoke(SafetyFilterTests.Options()) ?? options);
            Log = RunLogWriter.Create(logPath, new RunLogMetadata(100, "control loop test"));
            Board = new LiveStatusBoard(["front", "wrist"], Size, Size, 100, policy.Name);
            Loop = new ControlLoop(new ControlLoopOptions { RateHz = 100, WarmupCycles = 5, RealTime = realTime, PipelineEncoding = pipelined, CycleRecords = Records },
                [Front, Wrist], Encoder, policy, Safety, Arm, Log, Board);
        }

        public void Arm_() => Assert.True(Loop.RequestReset(TimeSpan.FromSeconds(5)).Succeeded);

        public void Dispose()
        {
            Loop.Dispose();
            Log.Dispose();
        }
    }

    private string LogPath(string name) => Path.Combine(_folder.Path, name + ".rrlog");

    /// <summary>The shared test options with a different deadline-miss limit (and, for the threaded test, generous ages).</summary>
    private static SafetyFilterOptions WithMisses(SafetyFilterOptions o, int misses, bool generousAges = false) => new()
    {
        Arm = o.Arm, CyclePeriod = o.CyclePeriod, JointPositionMargin = o.JointPositionMargin, VelocityScale = o.VelocityScale,
        MaxJointPositionChangePerCycle = o.MaxJointPositionChangePerCycle, MaxJointVelocityChangePerCycle = o.MaxJointVelocityChangePerCycle,
        Workspace = o.Workspace, WorkspaceMargin = o.WorkspaceMargin,
        CommandExpiry = generousAges ? TimeSpan.FromSeconds(1) : o.CommandExpiry,
        MaxArmStateAge = generousAges ? TimeSpan.FromSeconds(1) : o.MaxArmStateAge,
        MaxFrameAge = generousAges ? TimeSpan.FromSeconds(1) : o.MaxFrameAge,
        MaxConsecutiveDeadlineMisses = misses,
    };

    private static ScriptedReachPolicy Reach((double X, double Y, double Z) goal) => new(() => goal, 0.01);

    [Fact]
    public void ScriptedReachDrivesTheArmToTheGoalThroughTheWholeLoop()
    {
        var goal = (X: 0.2, Y: -0.1, Z: 0.4);
        using var rig = new Rig(LogPath("reach"), Reach(goal));
        rig.Loop.RunCycles(3);
        // Held (NotArmed) until the operator's reset: the arm was only told to stay at its measured joints.
        Assert.Equal(ArmCommandMode.JointPosition, rig.Arm.Last.Mode);
        Assert.Equal((0.1, 0.0, 0.5), rig.Arm.Tip);
        rig.Arm_();
        rig.Loop.RunCycles(60);
        var (x, y, z) = rig.Arm.Tip;
        var distance = Math.Sqrt((x - goal.X) * (x - goal.X) + (y - goal.Y) * (y - goal.Y) + (z - goal.Z) * (z - goal.Z));
        Assert.True(distance < 0.005, $"tip {distance:0.0000} m from the goal after 60 cycles");
        Assert.Equal(ArmCommandMode.EndEffectorDelta, rig.Arm.Last.Mode);

        var log = RunLog.Read(rig.Log.Path);
        Assert.Equal(63, log.Records.Count);
        Assert.All(log.Records.Take(3), r => Assert.Equal(HoldReason.NotArmed, r.HoldReason));
        var acting = log.Records.Skip(3).ToList();
        Assert.All(acting, r => Assert.NotEqual(SafetyStatus.Hold, r.Safety));
        Assert.All(acting, r => Assert.Equal(ArmCommandMode.EndEffectorDelta, r.SentMode));
        Assert.All(acting, r => Assert.InRange(r.FrameAgeNs, 0, 50_000_000));
        Assert.True(acting.Select(r => r.CycleIndex).SequenceEqual(acting.Select(r => r.CycleIndex).Order()));
        Assert.True(rig.Board.TryReadCycle(out var live));
        Assert.Equal(log.Records[^1].CycleIndex, live.Record.CycleIndex);
    }

    [Fact]
    public void TheEmbeddingOfThisCyclesFramesReachesThePolicy()
    {
        var seen = new List<float>();
        var policy = new ObservingPolicy(o => seen.Add(o.Embedding[0] + 10 * o.Embedding[1]));
        using var rig = new Rig(LogPath("embedding"), policy);
        rig.Front.Shade = 51;   // 0.2
        rig.Wrist.Shade = 204;  // 0.8
        rig.Loop.RunCycles(2);
        Assert.Equal(0.2f + 8f, seen[^1], 1e-5f); // tolerance: float rounding of mean/255
    }

    private sealed class ObservingPolicy(Action<PolicyObservation> observe) : IPolicy
    {
        public string Name => "observer";
        public ArmCommandMode Mode => ArmCommandMode.JointPosition;
        public int EmbeddingSize => 2;
        public string LastError => "";
        public void Reset() { }

        public PolicyStatus Act(PolicyObservation observation, ref ArmCommand command)
        {
            observe(observation);
            command = SafetyFilterTests.Positions(0.2, -0.3);
            return PolicyStatus.Ok;
        }

        public void Dispose() { }
    }

    [Fact]
    public void AStaleFrameHoldsInsteadOfActingOnOldPixels()
    {
        using var rig = new Rig(LogPath("stale"), Reach((0.3, 0, 0.4)));
        rig.Arm_();
        rig.Loop.RunCycles(5);
        int sentBefore = rig.Arm.Sent;
        var tipBefore = rig.Arm.Tip;
        rig.Wrist.AgeNs = 300_000_000; // 300 ms old: beyond the loop's 100 ms limit
        rig.Loop.RunCycles(5);
        var records = RunLog.Read(rig.Log.Path).Records;
        var held = records.Skip(5).ToList();
        Assert.All(held, r => Assert.Equal(SafetyStatus.Hold, r.Safety));
        Assert.Equal(HoldReason.StaleCameraFrame, held[0].HoldReason);
        Assert.Equal(1, held[0].HoldStarted);
        Assert.Equal(-1, held[0].FrameAgeNs); // no usable frame
        // On the hold the arm gets its own measured joints, never a step toward the goal.
        Assert.All(held, r => Assert.Equal(ArmCommandMode.JointPosition, r.SentMode));
        Assert.Equal(tipBefore, rig.Arm.Tip);
        Assert.True(rig.Arm.Sent > sentBefore);
        // While the frames are still stale a reset is refused, and says why.
        var refused = rig.Loop.RequestReset(TimeSpan.FromSeconds(1));
        Assert.False(refused.Succeeded);
        Assert.Contains("camera frames", refused.Message);
        rig.Wrist.AgeNs = 5_000_000;
        rig.Loop.RunCycles(1);
        rig.Arm_();
        rig.Loop.RunCycles(3);
        Assert.NotEqual(tipBefore, rig.Arm.Tip);
    }

    [Fact]
    public void FramesCapturedTooFarApartAreNotPairedAndHold()
    {
        using var rig = new Rig(LogPath("pairing"), Reach((0.3, 0, 0.4)));
        rig.Arm_();
        rig.Front.AgeNs = 5_000_000;
        rig.Wrist.AgeNs = 90_000_000; // each is fresh enough alone; 85 ms apart is beyond the 50 ms pairing tolerance
        rig.Loop.RunCycles(2);
        var record = RunLog.Read(rig.Log.Path).Records[^1];
        Assert.Equal(HoldReason.StaleCameraFrame, record.HoldReason);
    }

    [Fact]
    public void AnUnpluggedCameraHolds()
    {
        using var rig = new Rig(LogPath("unplugged"), Reach((0.3, 0, 0.4)));
        rig.Arm_();
        rig.Front.HasFrame = false;
        rig.Loop.RunCycles(2);
        Assert.Equal(HoldReason.StaleCameraFrame, RunLog.Read(rig.Log.Path).Records[^1].HoldReason);
    }

    [Fact]
    public void ANaNActionHoldsWithTheNonFiniteReasonAndNothingNaNIsSent()
    {
        using var rig = new Rig(LogPath("nan"), new FixedPolicy(SafetyFilterTests.Positions(double.NaN, 0)));
        rig.Arm_();
        rig.Loop.RunCycles(3);
        var records = RunLog.Read(rig.Log.Path).Records;
        Assert.Equal(HoldReason.NonFiniteCommand, records[0].HoldReason);
        Assert.Equal(1, records[0].HoldStarted);
        Assert.True(double.IsNaN(records[0].Requested[0]));
        Assert.All(records, r => Assert.True(double.IsFinite(r.Sent[0])));
        Assert.True(double.IsFinite(rig.Arm.Last.Values[0]));
    }

    [Fact]
    public void AFailingEncoderHoldsAsAPolicyFailure()
    {
        using var rig = new Rig(LogPath("encoder"), Reach((0.3, 0, 0.4)));
        rig.Arm_();
        rig.Encoder.Fail = true;
        rig.Loop.RunCycles(2);
        Assert.Equal(HoldReason.PolicyFailed, RunLog.Read(rig.Log.Path).Records[^1].HoldReason);
    }

    [Fact]
    public void ASlowPolicyMakesADeadlineStormThatHoldsAfterKConsecutiveMisses()
    {
        // 100 Hz, a policy that takes 25 ms: every cycle overruns; the filter holds after 3 in a row.
        var policy = new FixedPolicy(SafetyFilterTests.Positions(0.2, -0.3), sleepMs: 0);
        using var rig = new Rig(LogPath("storm"), policy, safety: o => WithMisses(o, 3));
        rig.Arm_();
        rig.Loop.RunCycles(2);
        policy.SleepMs = 25;
        rig.Loop.RunCycles(6);
        var records = RunLog.Read(rig.Log.Path).Records;
        var storm = records.Skip(2).ToList();
        Assert.All(storm, r => Assert.Equal(1, r.MissedDeadline));
        var first = storm.First(r => r.Safety == SafetyStatus.Hold);
        Assert.Equal(HoldReason.DeadlineMisses, first.HoldReason);
        Assert.True(first.ConsecutiveMisses >= 3, $"held after {first.ConsecutiveMisses} misses");
        Assert.Equal(3, storm.TakeWhile(r => r.Safety != SafetyStatus.Hold).Count());
        Assert.True(rig.Loop.Status.MissedDeadlines >= 6);
    }

    [Fact]
    public void AnEmergencyStopFromAnyThreadHoldsAtTheNextCycleAndIsLogged()
    {
        using var rig = new Rig(LogPath("estop"), Reach((0.3, 0, 0.4)));
        rig.Arm_();
        rig.Loop.RunCycles(2);
        var stopper = new Thread(() => rig.Safety.EmergencyStop(EmergencyStopSource.Operator, "operator pressed e-stop"));
        stopper.Start();
        stopper.Join();
        rig.Loop.RunCycles(2);
        var records = RunLog.Read(rig.Log.Path).Records;
        Assert.Equal(HoldReason.EmergencyStop, records[2].HoldReason);
        Assert.Equal(1, records[2].HoldStarted);
        Assert.Equal("operator pressed e-stop", rig.Loop.Status.HoldText);
    }

    [Fact]
    public void ACommandOutsideTheJointLimitsIsClippedAndTheClipIsLogged()
    {
        // Joint 0's limit is 1.0 rad less a 0.1 margin; asking for 3.0 sends 0.9 at most, and the
        // velocity limit (2 rad/s × 0.5 scale × 10 ms = 0.01 rad per cycle) paces the way there.
        using var rig = new Rig(LogPath("clip"), new FixedPolicy(SafetyFilterTests.Positions(3.0, -0.3)));
        rig.Arm_();
        rig.Loop.RunCycles(4);
        var records = RunLog.Read(rig.Log.Path).Records;
        Assert.All(records, r => Assert.Equal(SafetyStatus.Clipped, r.Safety));
        Assert.All(records, r => Assert.True(r.Clipped.HasFlag(ClipKinds.JointPosition)));
        Assert.All(records, r => Assert.Equal(3.0, r.Requested[0]));
        Assert.All(records, r => Assert.True(r.Sent[0] <= 0.9 + 1e-12, $"sent {r.Sent[0]}"));
        for (var i = 0; i < records.Count; i++)
            Assert.Equal(0.2 + 0.01 * (i + 1), records[i].Sent[0], 9); // tolerance: float sums of 0.01 steps
        Assert.True(records.All(r => r.Clipped.HasFlag(ClipKinds.ChangePerCycle)));
    }

    [Fact]
    public void LosingTheArmLinkHoldsAndOnlyAnExplicitResetReleasesItOnceTheLinkIsBack()
    {
        using var rig = new Rig(LogPath("link"), Reach((0.3, 0, 0.4)));
        rig.Arm_();
        rig.Loop.RunCycles(2);
        rig.Arm.Status = ArmLinkStatus.Lost;
        rig.Loop.RunCycles(2);
        Assert.Equal(HoldReason.ArmLinkLost, rig.Loop.Status.HoldReason);
        var refused = rig.Loop.RequestReset(TimeSpan.FromSeconds(1));
        Assert.False(refused.Succeeded);
        Assert.Contains("arm link", refused.Message);
        rig.Arm.Status = ArmLinkStatus.Up;
        rig.Loop.RunCycles(3);
        Assert.Equal(HoldReason.ArmLinkLost, rig.Loop.Status.HoldReason); // still held: the link coming back is not a reset
        rig.Arm_();
        int sent = rig.Arm.Sent;
        rig.Loop.RunCycles(2);
        Assert.False(rig.Loop.Status.Holding);
        Assert.True(rig.Arm.Sent > sent);
    }

    [Fact]
    public void SteadyStateCyclesAllocateNothing()
    {
        using var rig = new Rig(LogPath("alloc"), Reach((0.3, 0, 0.4)));
        rig.Arm_();
        rig.Loop.RunCycles(50); // past warm-up, JIT tiering and the first live frames
        long before = GC.GetAllocatedBytesForCurrentThread();
        rig.Loop.RunCycles(200);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(250, RunLog.Read(rig.Log.Path).Records.Count);
        // The metrics ring got every cycle too, in order (copied into preallocated slots, in the counts above).
        var logged = RunLog.Read(rig.Log.Path).Records;
        var read = 0;
        while (rig.Records.TryRead(out var record))
            Assert.Equal(logged[read++].CycleIndex, record.CycleIndex);
        Assert.Equal(250, read);
    }

    [Fact]
    public void PipelinedTheLoopPlansOnTheStagesNewestEmbeddingAndStillReaches()
    {
        var goal = (X: 0.2, Y: -0.1, Z: 0.4);
        var seen = new List<float>();
        var reach = Reach(goal);
        using var rig = new Rig(LogPath("pipelined-reach"), reach, pipelined: true);
        Assert.NotNull(rig.Loop.EncodeStage);
        rig.Front.Shade = 51;   // 0.2
        rig.Wrist.Shade = 204;  // 0.8
        rig.Arm_();
        rig.Loop.RunCycles(60);
        var (x, y, z) = rig.Arm.Tip;
        var distance = Math.Sqrt((x - goal.X) * (x - goal.X) + (y - goal.Y) * (y - goal.Y) + (z - goal.Z) * (z - goal.Z));
        Assert.True(distance < 0.005, $"tip {distance:0.0000} m from the goal after 60 pipelined cycles");
        var records = RunLog.Read(rig.Log.Path).Records;
        Assert.All(records, r => Assert.NotEqual(SafetyStatus.Hold, r.Safety));
        Assert.All(records, r => Assert.InRange(r.FrameAgeNs, 0, 100_000_000));
        // The stage publishes every 2 ms and the loop runs every 10: most cycles take a new set and log its encode time.
        Assert.True(records.Count(r => r.EncodeNs > 0) > records.Count / 2, "cycles that took a new encoded set");
        Assert.True(rig.Loop.EncodeStage!.Published > 60);
    }

    [Fact]
    public void PipelinedTheEmbeddingOfTheNewestFramesReachesThePolicy()
    {
        var seen = new List<float>();
        var policy = new ObservingPolicy(o => seen.Add(o.Embedding[0] + 10 * o.Embedding[1]));
        using var rig = new Rig(LogPath("pipelined-embedding"), policy, pipelined: true);
        rig.Loop.RunCycles(2);
        rig.Front.Shade = 51;   // 0.2
        rig.Wrist.Shade = 204;  // 0.8
        rig.Loop.RunCycles(5);  // 50 ms: the stage has encoded the new shades many times over
        Assert.Equal(0.2f + 8f, seen[^1], 1e-5f); // tolerance: float rounding of mean/255
    }

    [Fact]
    public void PipelinedOldFramesAndAStalledCameraHoldOnTheAgeOfWhatWasEncoded()
    {
        using var rig = new Rig(LogPath("pipelined-stale"), Reach((0.3, 0, 0.4)), pipelined: true);
        rig.Arm_();
        rig.Loop.RunCycles(5);
        // Frames 300 ms old: the stage will not pair them (the second camera's is beyond the 100 ms
        // limit), so no new set appears and the last one ages past the limit within ~100 ms.
        rig.Front.AgeNs = rig.Wrist.AgeNs = 300_000_000;
        rig.Loop.RunCycles(15);
        Assert.Equal(HoldReason.StaleCameraFrame, RunLog.Read(rig.Log.Path).Records[^1].HoldReason);

        rig.Front.AgeNs = rig.Wrist.AgeNs = 5_000_000;
        rig.Loop.RunCycles(2);
        rig.Arm_();
        rig.Loop.RunCycles(3);
        Assert.NotEqual(SafetyStatus.Hold, RunLog.Read(rig.Log.Path).Records[^1].Safety);

        // The first camera stops delivering: no new sets; the last one ages past the 100 ms limit.
        rig.Front.HasFrame = false;
        rig.Loop.RunCycles(20);
        var last = RunLog.Read(rig.Log.Path).Records[^1];
        Assert.Equal(SafetyStatus.Hold, last.Safety);
        Assert.Equal(HoldReason.StaleCameraFrame, last.HoldReason);
    }

    [Fact]
    public void PipelinedAFailingEncoderHoldsAsAPolicyFailure()
    {
        using var rig = new Rig(LogPath("pipelined-encoder"), Reach((0.3, 0, 0.4)), pipelined: true);
        rig.Arm_();
        rig.Encoder.Fail = true;
        rig.Loop.RunCycles(3);
        Assert.Equal(HoldReason.PolicyFailed, RunLog.Read(rig.Log.Path).Records[^1].HoldReason);
        Assert.True(rig.Loop.EncodeStage!.Failures > 0);
        Assert.Contains("did not produce an embedding", rig.Loop.EncodeStage.LastError);
    }

    [Fact]
    public void PipelinedSteadyStateCyclesAllocateNothingOnTheLoopThread()
    {
        using var rig = new Rig(LogPath("pipelined-alloc"), Reach((0.3, 0, 0.4)), pipelined: true);
        rig.Arm_();
        rig.Loop.RunCycles(50);
        long before = GC.GetAllocatedBytesForCurrentThread();
        rig.Loop.RunCycles(200);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void OnItsOwnThreadTheLoopTakesResetsAndStopsHoldingTheArm()
    {
        // This test is about the thread, resets and stopping, not deadlines or ages (the loop thread
        // has no SCHED_FIFO here and a loaded machine can deschedule it for a while).
        using var rig = new Rig(LogPath("thread"), Reach((0.3, 0, 0.4)), realTime: new RealTimeRequest(null, null, LowLatencyGc: true),
            safety: o => WithMisses(o, 1_000_000, generousAges: true));
        rig.Loop.Start();
        Assert.True(SpinWait.SpinUntil(() => rig.Loop.Status.Cycles >= 3, TimeSpan.FromSeconds(10)));
        rig.Arm_();
        Assert.True(SpinWait.SpinUntil(() => rig.Arm.Tip.X > 0.25, TimeSpan.FromSeconds(20)), $"tip x {rig.Arm.Tip.X}; loop {rig.Loop.Status}");
        Assert.True(rig.Loop.Stop("test over", TimeSpan.FromSeconds(10)));
        Assert.False(rig.Loop.IsRunning);
        Assert.Null(rig.Loop.Failure);
        Assert.NotNull(rig.Loop.RealTimeReport);
        var last = RunLog.Read(rig.Log.Path).Records[^1];
        Assert.Equal(HoldReason.EmergencyStop, last.HoldReason);
        Assert.Equal(ArmCommandMode.JointPosition, last.SentMode); // the final cycle told the arm to hold where it is
    }

    [Fact]
    public void OnItsOwnThreadAResetAskedBeforeTheFirstCycleIsJudgedOnThatCycle()
    {
        // rr run arms right after starting the loop. A reset taken before any cycle ran would release the
        // first hold without knowing whether the cameras deliver; the next cycle then latched a stale-frame
        // hold (seen in CI when the first camera frame was still on its way).
        using var rig = new Rig(LogPath("early-reset"), Reach((0.3, 0, 0.4)), safety: o => WithMisses(o, 1_000_000, generousAges: true));
        rig.Front.HasFrame = false;
        rig.Loop.Start();
        var early = rig.Loop.RequestReset(TimeSpan.FromSeconds(5));
        Assert.False(early.Succeeded, early.Message);
        Assert.Equal(HoldReason.StaleCameraFrame, early.PersistingCause);
        rig.Front.HasFrame = true;
        Assert.True(SpinWait.SpinUntil(() => rig.Loop.RequestReset(TimeSpan.FromSeconds(1)).Succeeded, TimeSpan.FromSeconds(10)));
        Assert.True(rig.Loop.Stop("test over", TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void PiecesThatDoNotFitAreRefusedNamingWhatDiffers()
    {
        var arm = new FakeArm();
        var safety = new SafetyFilter(SafetyFilterTests.Options());
        var options = new ControlLoopOptions { RateHz = 100 };
        var error = Assert.Throws<ArgumentException>(() =>
            new ControlLoop(options, [new FakeCamera("front")], new MeanEncoder(2), Reach((0, 0, 0)), safety, arm));
        Assert.Contains("takes 2 camera(s), the loop has 1", error.Message);
        error = Assert.Throws<ArgumentException>(() =>
            new ControlLoop(options, [], null, new ObservingPolicy(_ => { }), safety, arm));
        Assert.Contains("needs a 2-float embedding but the loop has no encoder", error.Message);
        error = Assert.Throws<ArgumentException>(() =>
            new ControlLoop(new ControlLoopOptions { RateHz = 500 }, [], null, Reach((0, 0, 0)), safety, arm));
        Assert.Contains("rate must be 10–100 Hz, got 500", error.Message);
    }
}
