using System.Diagnostics;
using RobotRuntime.Arm;
using RobotRuntime.Cameras;
using RobotRuntime.Core.Tests.Safety;
using RobotRuntime.Encoders;
using RobotRuntime.Policies;
using RobotRuntime.Runtime;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;
using RobotRuntime.Testing;

namespace RobotRuntime.Core.Tests.Runtime;

/// <summary>
/// The control loop with fakes for the cameras, the encoder and the arm: what it sends, what it
/// holds for, and what it logs. Cycles run on the test thread at 100 Hz on a fake clock
/// (<see cref="FakeCycleTimeSource"/>) that the cameras stamp their frames on, so every cycle starts
/// on its tick and every age, skipped tick and deadline miss is exact; only the tests of the loop's
/// own thread run on the real clock, and they assert no time.
/// </summary>
[Collection(GcLatencyModeCollection.Name)]
public sealed partial class ControlLoopTests : IDisposable
{
    private const int Size = 8;
    private const long Ms = 1_000_000;

    /// <summary>Where every fake clock here starts; a multiple of the cycle and frame periods, so ticks and frames line up.</summary>
    private const long OriginNs = 5_000_000_000;
    private readonly TemporaryDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>
    /// A camera on the loop's clock: a frame falls due every <see cref="FramePeriodNs"/> on the clock's
    /// grid (a 500 fps camera by default) and is stamped with its due time minus <see cref="AgeNs"/>
    /// (how old it already is when it can be read: exposure, transfer, sensor delay). It can also
    /// have none (unplugged). Its properties may be changed while the encode stage's thread reads it.
    /// </summary>
    internal sealed class FakeCamera(string name, ICycleTimeSource clock, long framePeriodNs = FakeCamera.DefaultFramePeriodNs) : ICameraSource
    {
        public const long DefaultFramePeriodNs = 2 * Ms;
        private long _ageNs = 5 * Ms;
        private volatile bool _hasFrame = true;
        private volatile byte _shade = 100;
        private long _lastReadDueNs = long.MinValue;
        private long _blockingReads;

        public long AgeNs { get => Volatile.Read(ref _ageNs); set => Volatile.Write(ref _ageNs, value); }
        public bool HasFrame { get => _hasFrame; set => _hasFrame = value; }
        public byte Shade { get => _shade; set => _shade = value; }
        public long FramePeriodNs => framePeriodNs;
        public string Name => name;
        public int Width => Size;
        public int Height => Size;
        public CameraHealth Health => new(HasFrame, BlockingReads, 0, HasFrame ? "" : "unplugged");
        public void Start() { }

        /// <summary>When the newest frame fell due, on the clock.</summary>
        public long NewestDueNs => clock.NowNanoseconds / framePeriodNs * framePeriodNs;

        /// <summary>When the frame the last blocking read gave fell due.</summary>
        public long LastReadDueNs => Volatile.Read(ref _lastReadDueNs);

        /// <summary>Frames the blocking read has given.</summary>
        public long BlockingReads => Interlocked.Read(ref _blockingReads);

        /// <summary>Waits (in real time, up to <paramref name="timeout"/>) until the clock makes a frame newer than the last one this read gave due, and gives the newest.</summary>
        public CameraReadStatus Read(CameraFrame destination, TimeSpan timeout)
        {
            long started = Stopwatch.GetTimestamp();
            while (true)
            {
                // The due time before the state: a frame that fell due after a test unplugged the
                // camera (or changed its age or shade) is read with the new state.
                long due = NewestDueNs;
                if (!HasFrame)
                    return CameraReadStatus.Lost;
                if (due > _lastReadDueNs)
                {
                    Fill(destination, due);
                    // Counted before the due time is published: whoever sees the new due time sees the count too.
                    Interlocked.Increment(ref _blockingReads);
                    Volatile.Write(ref _lastReadDueNs, due);
                    return CameraReadStatus.Ok;
                }
                if (Stopwatch.GetElapsedTime(started) >= timeout)
                    return CameraReadStatus.Timeout;
                Thread.Sleep(1);
            }
        }

        public CameraReadStatus ReadLatest(CameraFrame destination, TimeSpan timeout) => TryReadLatest(TimeSpan.MaxValue, destination);

        public CameraReadStatus TryReadLatest(TimeSpan maxAge, CameraFrame destination)
        {
            if (!HasFrame)
                return CameraReadStatus.Lost;
            long due = NewestDueNs;
            if (clock.NowNanoseconds - (due - AgeNs) > maxAge.TotalNanoseconds)
                return CameraReadStatus.Stale;
            Fill(destination, due);
            return CameraReadStatus.Ok;
        }

        private void Fill(CameraFrame destination, long dueNs)
        {
            destination.Pixels.AsSpan().Fill(Shade);
            destination.CaptureTimestampNs = dueNs - AgeNs;
            destination.Sequence = dueNs / framePeriodNs;
        }

        public void Dispose() { }
    }

    /// <summary>Embedding = each camera's mean pixel / 255; optionally fails. Says it spent <see cref="PreprocessNs"/> and <see cref="InferenceNs"/> (no fake clock moves while it runs).</summary>
    internal sealed class MeanEncoder(int cameras) : IEncoder, IEncoderStageTimes
    {
        private volatile bool _fail;
        public const long PreprocessNs = 30_000;
        public const long InferenceNs = 120_000;
        public double LastPreprocessMicroseconds => PreprocessNs / 1000.0;
        public double LastInferenceMicroseconds => InferenceNs / 1000.0;
        public bool Fail { get => _fail; set => _fail = value; }
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
        public TimeSpan StateAge { get; set; } = TimeSpan.FromMilliseconds(2);
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
            age = StateAge;
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

    /// <summary>Returns a fixed command, optionally after "working" for <see cref="WorkNs"/> on the fake clock.</summary>
    private sealed class FixedPolicy(ArmCommand command, FakeCycleTimeSource? clock = null) : IPolicy
    {
        public long WorkNs { get; set; }
        public string Name => "fixed";
        public ArmCommandMode Mode => command.Mode;
        public int EmbeddingSize => 0;
        public string LastError => "";
        public void Reset() { }

        public PolicyStatus Act(PolicyObservation observation, ref ArmCommand next)
        {
            if (WorkNs > 0)
                clock!.Work(WorkNs);
            next = command;
            return PolicyStatus.Ok;
        }

        public void Dispose() { }
    }

    private sealed class Rig : IDisposable
    {
        /// <summary>How long (real time) the encode stage may take to catch up with the fake clock before the test fails.</summary>
        private static readonly TimeSpan CatchUpPatience = TimeSpan.FromSeconds(30);
        private long _caughtUpDueNs = long.MinValue;

        public FakeCamera Front { get; }
        public FakeCamera Wrist { get; }
        public MeanEncoder Encoder { get; } = new(2);
        public FakeArm Arm { get; } = new();
        public SafetyFilter Safety { get; }
        public RunLogWriter Log { get; }
        public LiveStatusBoard Board { get; }
        public CycleRecordRing Records { get; } = new(4096);
        public ControlLoop Loop { get; }

        /// <summary>The loop's fake clock; null for a rig on the real clock.</summary>
        public FakeCycleTimeSource? Clock { get; }

        /// <param name="logPath">The run log.</param>
        /// <param name="policy">The policy.</param>
        /// <param name="safety">Changes to the shared safety options (K = 3 deadline misses, 80 ms frames).</param>
        /// <param name="realTime">Real-time request for the loop's own thread.</param>
        /// <param name="pipelined">Encode on the encode stage's thread.</param>
        /// <param name="clock">The fake clock to run on (a new one at <see cref="OriginNs"/> by default).</param>
        /// <param name="realClock">Run on the system clock instead (the tests of the loop's own thread).</param>
        /// <param name="rateHz">The loop's rate.</param>
        /// <param name="maxFrameAge">The loop's largest frame age (its default, 100 ms, when null).</param>
        /// <param name="framePeriodNs">Both cameras' frame period.</param>
        /// <param name="degrade">Rate steps on missed deadlines (none by default).</param>
        /// <param name="policyBudget">The policy's budget (70% of the period by default).</param>
        /// <param name="recording">Where every cycle is copied for a recording (none by default).</param>
        public Rig(string logPath, IPolicy policy, Func<SafetyFilterOptions, SafetyFilterOptions>? safety = null, RealTimeRequest? realTime = null,
            bool pipelined = false, FakeCycleTimeSource? clock = null, bool realClock = false, double rateHz = 100, TimeSpan? maxFrameAge = null,
            long framePeriodNs = FakeCamera.DefaultFramePeriodNs, RateDegradeOptions? degrade = null, TimeSpan? policyBudget = null, RecordingRing? recording = null)
        {
            ICycleTimeSource time = realClock ? SystemCycleTimeSource.Instance : Clock = clock ?? new FakeCycleTimeSource(OriginNs);
            Front = new FakeCamera("front", time, framePeriodNs);
            Wrist = new FakeCamera("wrist", time, framePeriodNs);
            Safety = new SafetyFilter(safety?.Invoke(SafetyFilterTests.Options()) ?? SafetyFilterTests.Options());
            Log = RunLogWriter.Create(logPath, new RunLogMetadata(rateHz, "control loop test"));
            Board = new LiveStatusBoard(["front", "wrist"], Size, Size, rateHz, policy.Name);
            var options = new ControlLoopOptions
            {
                RateHz = rateHz, WarmupCycles = 5, RealTime = realTime, PipelineEncoding = pipelined, CycleRecords = Records, TimeSource = time,
                MaxFrameAge = maxFrameAge ?? new ControlLoopOptions { RateHz = rateHz }.MaxFrameAge,
                Degrade = degrade, PolicyBudget = policyBudget, Recording = recording,
            };
            Loop = new ControlLoop(options, [Front, Wrist], Encoder, policy, Safety, Arm, Log, Board);
            if (pipelined && Clock is not null)
            {
                // The stage runs on its own thread in real time; the fake clock jumps. Each jump waits
                // until the stage has encoded (or dropped) the frame the jump made due, so every cycle
                // sees what a stage that keeps up would have made, whatever the machine's load.
                Clock.Advanced = CatchUp;
                Loop.RunCycles(0); // warm-up starts the stage
                CatchUp();
            }
        }

        /// <summary>
        /// Waits (real time, bounded) until the encode stage has read the front camera's newest frame
        /// due on the fake clock and published or dropped its set. Allocates nothing (it runs inside
        /// the loop's cycles, whose allocations are measured).
        /// </summary>
        private void CatchUp()
        {
            long due = Front.NewestDueNs;
            if (due == _caughtUpDueNs || !Front.HasFrame)
                return;
            var stage = Loop.EncodeStage!;
            long started = Stopwatch.GetTimestamp();
            var spin = new SpinWait();
            // Due time first, then counts: a read whose due time is seen is already counted.
            while (!(Front.LastReadDueNs == due && stage.Published + stage.Unpaired == Front.BlockingReads))
            {
                if (Stopwatch.GetElapsedTime(started) > CatchUpPatience)
                    throw new TimeoutException($"the encode stage did not take the frame due at {due} ns within {CatchUpPatience.TotalSeconds} s " +
                        $"(last read due {Front.LastReadDueNs}, {Front.BlockingReads} read, {stage.Published} published, {stage.Unpaired} unpaired)");
                spin.SpinOnce();
            }
            _caughtUpDueNs = due;
        }

        public void Arm_() => Assert.True(Loop.RequestReset(TimeSpan.FromSeconds(5)).Succeeded);

        public void Dispose()
        {
            Loop.Dispose();
            Log.Dispose();
        }
    }

    private string LogPath(string name) => Path.Combine(_folder.Path, name + ".rrlog");

    /// <summary>
    /// The shared test options with a different deadline-miss limit (and generous ages): for the tests
    /// of the loop's own thread, on the real clock, where a loaded machine can deschedule the thread
    /// for a few periods and those tests are about other things.
    /// </summary>
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

    /// <summary>The shared test options with another largest frame age.</summary>
    private static SafetyFilterOptions With(SafetyFilterOptions o, TimeSpan maxFrameAge) => new()
    {
        Arm = o.Arm, CyclePeriod = o.CyclePeriod, JointPositionMargin = o.JointPositionMargin, VelocityScale = o.VelocityScale,
        MaxJointPositionChangePerCycle = o.MaxJointPositionChangePerCycle, MaxJointVelocityChangePerCycle = o.MaxJointVelocityChangePerCycle,
        Workspace = o.Workspace, WorkspaceMargin = o.WorkspaceMargin, CommandExpiry = o.CommandExpiry, MaxArmStateAge = o.MaxArmStateAge,
        MaxFrameAge = maxFrameAge, MaxConsecutiveDeadlineMisses = o.MaxConsecutiveDeadlineMisses,
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
        // On the fake clock every cycle starts on its tick (origin + index × 10 ms), none is skipped or
        // late, and the frames acted on are exactly as old as the cameras made them (5 ms).
        Assert.Equal(Enumerable.Range(3, 60).Select(i => (long)i), acting.Select(r => r.CycleIndex));
        Assert.All(log.Records, r => Assert.Equal(OriginNs + r.CycleIndex * 10 * Ms, r.ScheduledStartNs));
        Assert.All(log.Records, r => Assert.Equal(r.ScheduledStartNs, r.StartNs));
        Assert.All(log.Records, r => Assert.Equal(0, r.MissedDeadline));
        Assert.All(acting, r => Assert.Equal(5 * Ms, r.FrameAgeNs));
        Assert.All(acting, r => Assert.Equal(MeanEncoder.InferenceNs, r.EncodeNs));
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
    public void CyclesWhosePolicyRanOutOfBudgetAreCountedForTheOperatorWarmUpExcluded()
    {
        // Every third call returns at its budget (as MPPI does with fewer iterations, or the prior alone).
        int calls = 0;
        var policy = new StatusPolicy(() => ++calls % 3 == 0 ? PolicyStatus.BudgetExhausted : PolicyStatus.Ok);
        using var rig = new Rig(LogPath("cut-short"), policy);
        rig.Arm_();
        rig.Loop.RunCycles(12);
        // Warm-up (5 cycles) also called the policy; only the 12 real cycles count.
        int warmUp = calls - 12;
        int expected = Enumerable.Range(warmUp + 1, 12).Count(k => k % 3 == 0);
        Assert.Equal(5, warmUp);
        Assert.Equal(12, rig.Loop.Status.Cycles);
        Assert.Equal(expected, rig.Loop.Status.PolicyCutShort);
    }

    [Fact]
    public void ACycleThatNeverSearchedIsToldApartFromOneThatSearchedLess()
    {
        // An anytime policy: calls 1, 4, 7, … run out of budget before any iteration (the prior alone),
        // calls 2, 5, 8, … after one of several iterations, the rest finish.
        int calls = 0;
        var policy = new AnytimeStatusPolicy(() => (++calls % 3) switch
        {
            1 => (PolicyStatus.BudgetExhausted, 0),
            2 => (PolicyStatus.BudgetExhausted, 1),
            _ => (PolicyStatus.Ok, 6),
        });
        using var rig = new Rig(LogPath("fallback-only"), policy);
        rig.Arm_();
        rig.Loop.RunCycles(12);
        int warmUp = calls - 12;
        var real = Enumerable.Range(warmUp + 1, 12).ToList();
        Assert.Equal(real.Count(k => k % 3 is 1 or 2), rig.Loop.Status.PolicyCutShort);
        Assert.Equal(real.Count(k => k % 3 == 1), rig.Loop.Status.PolicyFallbackOnly);
    }

    private sealed class AnytimeStatusPolicy(Func<(PolicyStatus Status, int Iterations)> next) : IPolicy, IAnytimePolicy
    {
        public string Name => "anytime";
        public ArmCommandMode Mode => ArmCommandMode.JointPosition;
        public int EmbeddingSize => 2;
        public string LastError => "";
        public int LastSearchIterations { get; private set; }
        public void Reset() { }

        public PolicyStatus Act(PolicyObservation observation, ref ArmCommand command)
        {
            command = SafetyFilterTests.Positions(0.2, -0.3);
            var (status, iterations) = next();
            LastSearchIterations = iterations;
            return status;
        }

        public void Dispose() { }
    }

    private sealed class StatusPolicy(Func<PolicyStatus> next) : IPolicy
    {
        public string Name => "status";
        public ArmCommandMode Mode => ArmCommandMode.JointPosition;
        public int EmbeddingSize => 2;
        public string LastError => "";
        public void Reset() { }

        public PolicyStatus Act(PolicyObservation observation, ref ArmCommand command)
        {
            command = SafetyFilterTests.Positions(0.2, -0.3);
            return next();
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
        // Fresh frames again: the hold is latched, so the loop keeps holding until the operator's
        // reset, and the very first cycle after it acts.
        rig.Wrist.AgeNs = 5 * Ms;
        rig.Loop.RunCycles(2);
        rig.Arm_();
        rig.Loop.RunCycles(3);
        Assert.NotEqual(tipBefore, rig.Arm.Tip);
        records = RunLog.Read(rig.Log.Path).Records;
        Assert.Equal(15, records.Count);
        Assert.Equal([.. Enumerable.Repeat(false, 5), .. Enumerable.Repeat(true, 7), false, false, false],
            records.Select(r => r.Safety == SafetyStatus.Hold));
        Assert.All(records.Skip(10).Take(2), r => Assert.Equal(5 * Ms, r.FrameAgeNs)); // fresh, yet held: latched
        Assert.All(records.Skip(10).Take(2), r => Assert.Equal(HoldReason.StaleCameraFrame, r.HoldReason));
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
        // 100 Hz, a policy that takes 25 ms: every cycle overruns by 15 ms, so the next starts on the
        // first tick still ahead (2 ticks skipped); the filter holds once 3 misses are in a row.
        var clock = new FakeCycleTimeSource(OriginNs);
        var policy = new FixedPolicy(SafetyFilterTests.Positions(0.2, -0.3), clock);
        using var rig = new Rig(LogPath("storm"), policy, clock: clock);
        rig.Arm_();
        rig.Loop.RunCycles(2);
        policy.WorkNs = 25 * Ms;
        rig.Loop.RunCycles(6);
        var records = RunLog.Read(rig.Log.Path).Records;
        var storm = records.Skip(2).ToList();
        Assert.All(storm, r => Assert.Equal(1, r.MissedDeadline));
        Assert.Equal([2L, 5, 8, 11, 14, 17], storm.Select(r => r.CycleIndex));
        Assert.Equal([0, 2, 2, 2, 2, 2], storm.Select(r => r.SkippedTicks));
        Assert.Equal([0, 1, 2, 3, 4, 5], storm.Select(r => r.ConsecutiveMisses));
        Assert.All(storm, r => Assert.Equal(25 * Ms, r.PlanNs));
        Assert.Equal(3, storm.TakeWhile(r => r.Safety != SafetyStatus.Hold).Count());
        var first = storm[3];
        Assert.Equal(HoldReason.DeadlineMisses, first.HoldReason);
        Assert.Equal(1, first.HoldStarted);
        Assert.Equal(6, rig.Loop.Status.MissedDeadlines);
        Assert.Equal(10, rig.Loop.Scheduler.SkippedTicks); // the sixth overrun's skips are counted at the next wait
    }

    [Fact]
    public void FewerThanKOverrunsInARowNeverHold()
    {
        // What lets a loop on a busy machine keep acting: two overruns in a row (K = 3), then a cycle
        // on time, then two more. The misses and skipped ticks are counted; the arm is never held.
        var clock = new FakeCycleTimeSource(OriginNs);
        var policy = new FixedPolicy(SafetyFilterTests.Positions(0.2, -0.3), clock);
        using var rig = new Rig(LogPath("overruns"), policy, clock: clock);
        rig.Arm_();
        rig.Loop.RunCycles(1);
        foreach (var workMs in new[] { 25, 25, 0, 25, 25, 0, 0 })
        {
            policy.WorkNs = workMs * Ms;
            rig.Loop.RunCycles(1);
        }
        var records = RunLog.Read(rig.Log.Path).Records;
        Assert.All(records, r => Assert.NotEqual(SafetyStatus.Hold, r.Safety));
        Assert.All(records, r => Assert.Equal(ArmCommandMode.JointPosition, r.SentMode));
        Assert.Equal([0, 1, 1, 0, 1, 1, 0, 0], records.Select(r => (int)r.MissedDeadline));
        Assert.Equal([0, 0, 1, 2, 0, 1, 2, 0], records.Select(r => r.ConsecutiveMisses));
        Assert.Equal([0, 0, 2, 2, 0, 2, 2, 0], records.Select(r => r.SkippedTicks));
        Assert.Equal([0L, 1, 4, 7, 8, 11, 14, 15], records.Select(r => r.CycleIndex));
        Assert.Equal(4, rig.Loop.Status.MissedDeadlines);
        Assert.False(rig.Loop.Status.Holding);
    }

    [Fact]
    public void ACameraSlowerThanTheLoopIsReusedAndAgesWithTheClockWithoutHolding()
    {
        // rr bench and rr demo's setting: 30 fps cameras, a 20 Hz loop, frames up to 150 ms old. A
        // frame is reused until the next arrives; its age is the time since it fell due plus the 5 ms
        // it already had, never beyond one frame period + 5 ms, so no cycle holds.
        const long period = 1_000_000_000 / 30;
        using var rig = new Rig(LogPath("slow-camera"), Reach((0.3, 0, 0.4)), rateHz: 20, maxFrameAge: TimeSpan.FromMilliseconds(150),
            framePeriodNs: period, safety: o => With(o, maxFrameAge: TimeSpan.FromMilliseconds(150)));
        rig.Arm_();
        rig.Loop.RunCycles(30);
        var records = RunLog.Read(rig.Log.Path).Records;
        Assert.Equal(30, records.Count);
        Assert.All(records, r => Assert.NotEqual(SafetyStatus.Hold, r.Safety));
        Assert.All(records, r => Assert.Equal(OriginNs + r.CycleIndex * 50 * Ms, r.StartNs));
        Assert.All(records, r => Assert.Equal(r.StartNs - r.StartNs / period * period + 5 * Ms, r.FrameAgeNs));
        Assert.All(records, r => Assert.InRange(r.FrameAgeNs, 5 * Ms, period + 5 * Ms));
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
        rig.Loop.RunCycles(50); // past warm-up and the first live frames (one every 20 cycles)
        long allocated = ThreadAllocations.During(() => rig.Loop.RunCycles(200));
        Assert.Equal(0, allocated);
        Assert.Equal(250, RunLog.Read(rig.Log.Path).Records.Count);
        Assert.All(RunLog.Read(rig.Log.Path).Records, r => Assert.NotEqual(SafetyStatus.Hold, r.Safety)); // the acting path was measured
        // The metrics ring got every cycle too, in order (copied into preallocated slots, in the counts above).
        var logged = RunLog.Read(rig.Log.Path).Records;
        var read = 0;
        while (rig.Records.TryRead(out var record))
            Assert.Equal(logged[read++].CycleIndex, record.CycleIndex);
        Assert.Equal(250, read);
    }

    [Fact]
    public void RecordingEveryCycleAllocatesNothingAndAFullRingDropsAndCountsInsteadOfWaiting()
    {
        var ring = new RecordingRing([(Size, Size), (Size, Size)], capacity: 300);
        using var rig = new Rig(LogPath("recording"), Reach((0.3, 0, 0.4)), recording: ring);
        rig.Arm_();
        rig.Loop.RunCycles(50);
        while (ring.TryPeek(out _))
            ring.Release();
        rig.Front.Shade = 17;
        rig.Wrist.Shade = 230;
        long allocated = ThreadAllocations.During(() => rig.Loop.RunCycles(200));
        Assert.Equal(0, allocated);

        // Every cycle is there, in order, with the frames the loop used and the arm state it read.
        var logged = RunLog.Read(rig.Log.Path).Records;
        var indices = new long[200];
        var episodes = new long[200];
        var shades = new byte[200 * 2];
        var acted = new byte[200];
        for (var i = 0; i < 200; i++)
        {
            Assert.True(ring.TryPeek(out var cycle));
            indices[i] = cycle.Record.CycleIndex;
            episodes[i] = cycle.Episode;
            shades[2 * i] = cycle.Frames[0].Pixels[5];
            shades[2 * i + 1] = cycle.Frames[1].Pixels[5];
            acted[i] = cycle.PolicyStatus;
            Assert.True(cycle.HasArmState && cycle.ArmStateFresh);
            Assert.Equal(0, cycle.DroppedBefore);
            ring.Release();
        }
        Assert.Equal(logged.Skip(50).Select(r => r.CycleIndex), indices);
        Assert.All(episodes, e => Assert.Equal(episodes[0], e));
        Assert.All(shades.Where((_, i) => i % 2 == 0), s => Assert.Equal(17, s));
        Assert.All(shades.Where((_, i) => i % 2 == 1), s => Assert.Equal(230, s));
        Assert.All(acted, s => Assert.Equal((byte)PolicyStatus.Ok, s));

        // Nobody reads: 300 fit, the next 100 are dropped and counted, and the loop never waits.
        rig.Loop.RunCycles(400);
        Assert.Equal(100, ring.Dropped);
        Assert.Equal(300, ring.Pending);
        while (ring.TryPeek(out _))
            ring.Release();
        // A reset starts a new episode; the first cycle recorded after the gap says how many were dropped.
        rig.Arm_();
        rig.Loop.RunCycles(1);
        Assert.True(ring.TryPeek(out var after));
        Assert.Equal(100, after.DroppedBefore);
        Assert.Equal(episodes[0] + 1, after.Episode);
        Assert.Equal(650, after.Record.CycleIndex);
    }

    /// <summary>The scripted reach with a "normalised action" of its own: the cycle index, its tenth and its hundredth, then −1 (like an agent's).</summary>
    private sealed class NormalisedReach(ScriptedReachPolicy inner, int skipEvery = 0) : IPolicy, INormalisedActionSource
    {
        private readonly float[] _action = new float[4];
        public string Name => "normalised-reach";
        public ArmCommandMode Mode => inner.Mode;
        public int EmbeddingSize => inner.EmbeddingSize;
        public string LastError => "skipped";
        public IReadOnlyList<string> NormalisedActionNames { get; } = ["a", "b", "c", "d"];
        public ReadOnlySpan<float> LastAction => _action;
        public void Reset() => inner.Reset();

        public PolicyStatus Act(PolicyObservation observation, ref ArmCommand command)
        {
            _action[0] = observation.CycleIndex;
            _action[1] = observation.CycleIndex / 10f;
            _action[2] = observation.CycleIndex / 100f;
            _action[3] = -1;
            if (skipEvery > 0 && observation.CycleIndex % skipEvery == 0)
                return PolicyStatus.NoAction;
            return inner.Act(observation, ref command);
        }

        public void Dispose() { }
    }

    [Fact]
    public void TheRecordingKeepsThePolicysNormalisedActionWithoutAllocatingAndNoneWhenItDidNotAct()
    {
        var ring = new RecordingRing([(Size, Size), (Size, Size)], capacity: 300, normalisedActionLength: 4);
        using var rig = new Rig(LogPath("recording-normalised"), new NormalisedReach(Reach((0.3, 0, 0.4)), skipEvery: 9), recording: ring);
        rig.Arm_();
        rig.Loop.RunCycles(50);
        while (ring.TryPeek(out _))
            ring.Release();
        long allocated = ThreadAllocations.During(() => rig.Loop.RunCycles(200));
        Assert.Equal(0, allocated);
        int acted = 0, skipped = 0;
        for (var i = 0; i < 200; i++)
        {
            Assert.True(ring.TryPeek(out var cycle));
            long index = cycle.Record.CycleIndex;
            if (index % 9 == 0)
            {
                // The policy had no action: the recording keeps none (its LastAction is not this cycle's decision).
                Assert.False(cycle.HasNormalisedAction);
                skipped++;
            }
            else
            {
                Assert.True(cycle.HasNormalisedAction);
                Assert.Equal([index, index / 10f, index / 100f, -1f], cycle.NormalisedAction);
                acted++;
            }
            ring.Release();
        }
        Assert.True(acted > 150 && skipped > 10, $"{acted} acted, {skipped} skipped");

        // A ring without room for it keeps none; a ring for another length is refused.
        var none = new RecordingRing([(Size, Size), (Size, Size)], capacity: 8);
        using (var plain = new Rig(LogPath("recording-plain"), new NormalisedReach(Reach((0.3, 0, 0.4))), recording: none))
        {
            plain.Arm_();
            plain.Loop.RunCycles(3);
            Assert.True(none.TryPeek(out var cycle));
            Assert.False(cycle.HasNormalisedAction);
            Assert.Empty(cycle.NormalisedAction);
        }
        var error = Assert.Throws<ArgumentException>(() => new Rig(LogPath("recording-wrong"), new NormalisedReach(Reach((0.3, 0, 0.4))),
            recording: new RecordingRing([(Size, Size), (Size, Size)], 8, normalisedActionLength: 3)));
        Assert.Contains("the recording ring keeps 3 normalised action value(s); policy 'normalised-reach' has 4", error.Message);
    }

    [Fact]
    public void ARecordingRingForOtherCamerasIsRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => new Rig(LogPath("bad-ring"), Reach((0.3, 0, 0.4)), recording: new RecordingRing([(Size, Size)], 4)));
        Assert.Contains("the recording ring is for 1 camera(s)", error.Message);
    }

    [Fact]
    public void PipelinedTheLoopPlansOnTheStagesNewestEmbeddingAndStillReaches()
    {
        var goal = (X: 0.2, Y: -0.1, Z: 0.4);
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
        // The newest set at each tick holds the frame that fell due on it: exactly 5 ms old.
        Assert.All(records, r => Assert.Equal(5 * Ms, r.FrameAgeNs));
        // Every cycle after the first takes a new set and logs its encode times (cycle 0 takes the first
        // set, which warm-up may already have taken: it waits for it only a second of real time). The
        // stage encodes every 2 ms frame it sees: one when the loop's sleep jumps 8 ms ahead, one at
        // the tick, besides the first set before cycle 0.
        Assert.All(records.Skip(1), r => Assert.Equal(MeanEncoder.InferenceNs, r.EncodeNs));
        Assert.All(records.Skip(1), r => Assert.Equal(MeanEncoder.PreprocessNs, r.PreprocessNs));
        Assert.Equal(1 + 2 * 59, rig.Loop.EncodeStage!.Published);
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
        rig.Loop.RunCycles(1);  // the next tick's set is encoded from the new shades
        Assert.Equal(0.2f + 8f, seen[^1], 1e-5f); // tolerance: float rounding of mean/255
    }

    [Fact]
    public void PipelinedOldFramesAndAStalledCameraHoldOnTheAgeOfWhatWasEncoded()
    {
        using var rig = new Rig(LogPath("pipelined-stale"), Reach((0.3, 0, 0.4)), pipelined: true);
        rig.Arm_();
        rig.Loop.RunCycles(5);
        // Frames 300 ms old: the stage will not pair them (the second camera's is beyond the loop's
        // 100 ms limit), so no new set appears and the loop plans on the last one, captured 5 ms before
        // cycle 4. Ten ms older each cycle, it passes the safety layer's 80 ms limit at cycle 12
        // (85 ms): cycles 5–11 act on it, and from 12 the arm holds.
        rig.Front.AgeNs = rig.Wrist.AgeNs = 300 * Ms;
        rig.Loop.RunCycles(15);
        var records = RunLog.Read(rig.Log.Path).Records;
        var after = records.Skip(5).ToList();
        Assert.Equal(Enumerable.Range(1, 15).Select(k => (10 * k + 5) * Ms), after.Select(r => r.FrameAgeNs));
        Assert.Equal(7, after.TakeWhile(r => r.Safety != SafetyStatus.Hold).Count());
        Assert.All(after.Skip(7), r => Assert.Equal(SafetyStatus.Hold, r.Safety));
        Assert.Equal(HoldReason.StaleCameraFrame, after[7].HoldReason);
        Assert.Equal(1, after[7].HoldStarted);
        Assert.Equal(30, rig.Loop.EncodeStage!.Unpaired); // both frames of every cycle (the sleep's and the tick's)

        rig.Front.AgeNs = rig.Wrist.AgeNs = 5 * Ms;
        rig.Loop.RunCycles(2);
        rig.Arm_();
        rig.Loop.RunCycles(3);
        Assert.NotEqual(SafetyStatus.Hold, RunLog.Read(rig.Log.Path).Records[^1].Safety);

        // The first camera stops delivering: no new sets; the last one (5 ms old at the last cycle) ages
        // 10 ms a cycle and passes 80 ms on the eighth cycle.
        rig.Front.HasFrame = false;
        rig.Loop.RunCycles(20);
        var stalled = RunLog.Read(rig.Log.Path).Records.TakeLast(20).ToList();
        Assert.Equal(Enumerable.Range(1, 20).Select(k => (10 * k + 5) * Ms), stalled.Select(r => r.FrameAgeNs));
        Assert.Equal(7, stalled.TakeWhile(r => r.Safety != SafetyStatus.Hold).Count());
        Assert.All(stalled.Skip(7), r => Assert.Equal(HoldReason.StaleCameraFrame, r.HoldReason));
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
        // The fake clock's catch-up with the stage runs inside these cycles: it allocates nothing either.
        Assert.Equal(0, ThreadAllocations.During(() => rig.Loop.RunCycles(200)));
        Assert.All(RunLog.Read(rig.Log.Path).Records, r => Assert.NotEqual(SafetyStatus.Hold, r.Safety)); // the acting path was measured
    }

    [Fact]
    public void OnItsOwnThreadTheLoopTakesResetsAndStopsHoldingTheArm()
    {
        // This test is about the thread, resets and stopping, not deadlines or ages (the loop thread
        // has no SCHED_FIFO here and a loaded machine can deschedule it for a while).
        using var rig = new Rig(LogPath("thread"), Reach((0.3, 0, 0.4)), realTime: new RealTimeRequest(null, null, LowLatencyGc: true),
            safety: o => WithMisses(o, 1_000_000, generousAges: true), realClock: true);
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
        using var rig = new Rig(LogPath("early-reset"), Reach((0.3, 0, 0.4)), safety: o => WithMisses(o, 1_000_000, generousAges: true), realClock: true);
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
            new ControlLoop(options, [new FakeCamera("front", new FakeCycleTimeSource())], new MeanEncoder(2), Reach((0, 0, 0)), safety, arm));
        Assert.Contains("takes 2 camera(s), the loop has 1", error.Message);
        error = Assert.Throws<ArgumentException>(() =>
            new ControlLoop(options, [], null, new ObservingPolicy(_ => { }), safety, arm));
        Assert.Contains("needs a 2-float embedding but the loop has no encoder", error.Message);
        error = Assert.Throws<ArgumentException>(() =>
            new ControlLoop(new ControlLoopOptions { RateHz = 500 }, [], null, Reach((0, 0, 0)), safety, arm));
        Assert.Contains("rate must be 10–100 Hz, got 500", error.Message);
    }
}
