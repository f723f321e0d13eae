using System.Diagnostics.CodeAnalysis;
using System.Runtime;
using System.Runtime.CompilerServices;
using RobotRuntime.Arm;
using RobotRuntime.Cameras;
using RobotRuntime.Encoders;
using RobotRuntime.Policies;
using RobotRuntime.Safety;
using RobotRuntime.Telemetry;

namespace RobotRuntime.Runtime;

/// <summary>How the control loop runs.</summary>
public sealed class ControlLoopOptions
{
    /// <summary>Cycles per second, 10–100: the base rate.</summary>
    public required double RateHz { get; init; }

    /// <summary>
    /// Step the rate down after repeated missed deadlines, and back up after a quiet period (see
    /// <see cref="CycleScheduler"/>); null (the default): the rate is fixed and K missed deadlines in a
    /// row hold the arm. While degraded, the policy's budget keeps its fraction of the period, the
    /// policy is told the period (<see cref="PolicyObservation.PeriodNs"/>) and the safety layer judges
    /// each command for the period it will stand (<see cref="Safety.SafetyInput.CyclePeriodNs"/>).
    /// </summary>
    public RateDegradeOptions? Degrade { get; init; }

    /// <summary>A camera frame older than this is not used: the cycle holds instead (StaleCameraFrame).</summary>
    public TimeSpan MaxFrameAge { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The cameras' frames of one cycle must have been captured within this of each other.</summary>
    public TimeSpan FramePairingTolerance { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>An arm state older than this is not handed to the policy.</summary>
    public TimeSpan MaxArmStateAge { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long the policy may take per cycle, from the cycle start; its <see cref="PolicyObservation.DeadlineNs"/>.
    /// Default: 70% of the period. At a degraded rate (<see cref="Degrade"/>) the budget is the same
    /// fraction of the longer period.
    /// </summary>
    public TimeSpan? PolicyBudget { get; init; }

    /// <summary>Real-time scheduling asked for the loop's thread (null: none; the report says so).</summary>
    public RealTimeRequest? RealTime { get; init; }

    /// <summary>Cycles run before cycle 0 with nothing sent or logged and the safety layer untouched, so the capture, encode and policy paths are compiled and warm.</summary>
    public int WarmupCycles { get; init; } = 30;

    /// <summary>How often camera frames go to the live status board (cycles go every cycle).</summary>
    public double LiveFrameRateHz { get; init; } = 5;

    /// <summary>
    /// Encode on a separate thread as frames arrive (<see cref="EncodeStage"/>) instead of in the
    /// cycle: a cycle then plans on the newest encoded frames while the next ones are encoded, so
    /// its compute is planning, safety and sending only. The age of the frames acted on (capture →
    /// cycle start, which now includes the encode) is judged against <see cref="MaxFrameAge"/> as before.
    /// </summary>
    public bool PipelineEncoding { get; init; }

    /// <summary>
    /// Where the loop reads every timestamp (cycle start, stage timings, frame ages, deadlines, the
    /// encode stage's stamps) and where the scheduler sleeps: a fake clock in tests, the system clock
    /// (<see cref="SystemCycleTimeSource"/>) by default. The cameras must stamp frames on the same clock.
    /// </summary>
    public ICycleTimeSource? TimeSource { get; init; }

    /// <summary>Where each cycle's record also goes for a reader off the loop's thread (the metrics exporter); null: nowhere.</summary>
    public Telemetry.CycleRecordRing? CycleRecords { get; init; }

    /// <summary>
    /// Where every cycle — its frames, the arm state it read, its record and the policy's status — is
    /// copied for a recording's writer thread (<c>rr run --record</c>); null: not recorded. Its camera
    /// sizes must be the loop's. The copy never blocks: a full ring drops the cycle from the recording and counts it.
    /// </summary>
    public Telemetry.RecordingRing? Recording { get; init; }

    internal void Validate()
    {
        if (!(RateHz >= CycleSchedulerOptions.MinRateHz && RateHz <= CycleSchedulerOptions.MaxRateHz))
            throw new ArgumentException($"rate must be {CycleSchedulerOptions.MinRateHz}–{CycleSchedulerOptions.MaxRateHz} Hz, got {RateHz}", nameof(RateHz));
        if (MaxFrameAge <= TimeSpan.Zero)
            throw new ArgumentException($"the largest frame age must be positive, got {MaxFrameAge}", nameof(MaxFrameAge));
        if (FramePairingTolerance < TimeSpan.Zero)
            throw new ArgumentException($"the frame pairing tolerance must not be negative, got {FramePairingTolerance}", nameof(FramePairingTolerance));
        if (MaxArmStateAge <= TimeSpan.Zero)
            throw new ArgumentException($"the largest arm state age must be positive, got {MaxArmStateAge}", nameof(MaxArmStateAge));
        if (PolicyBudget is { } budget && (budget <= TimeSpan.Zero || budget.TotalSeconds > 1 / RateHz))
            throw new ArgumentException($"the policy budget must be positive and at most one period ({1000 / RateHz:0.#} ms), got {budget.TotalMilliseconds} ms", nameof(PolicyBudget));
        if (WarmupCycles < 0)
            throw new ArgumentException($"warm-up cycles must not be negative, got {WarmupCycles}", nameof(WarmupCycles));
        if (!(LiveFrameRateHz > 0))
            throw new ArgumentException($"the live frame rate must be positive, got {LiveFrameRateHz}", nameof(LiveFrameRateHz));
        // Degrade is checked by the scheduler, whose message names it ("Degrade.RatesHz[0]: …").
    }
}

/// <summary>What the loop's last cycle came to, for an operator's status line (read from any thread).</summary>
/// <param name="Cycles">Cycles run (warm-up excluded).</param>
/// <param name="MissedDeadlines">Cycles whose work ended after their deadline.</param>
/// <param name="Holding">Whether the safety layer holds the arm.</param>
/// <param name="HoldReason">Why it holds.</param>
/// <param name="HoldText">The hold's text.</param>
/// <param name="PolicyError">The policy's last error, if it produced no action.</param>
/// <param name="RateHz">The rate the loop runs at now: the configured one, or a degraded one (<see cref="ControlLoopOptions.Degrade"/>).</param>
/// <param name="PolicyCutShort">Cycles whose policy returned at its budget before finishing (<see cref="PolicyStatus.BudgetExhausted"/>: e.g. a planner with fewer iterations than configured, or its prior alone).</param>
/// <param name="PolicyFallbackOnly">Of <paramref name="PolicyCutShort"/>, the cycles in which an <see cref="IAnytimePolicy"/> completed no search iteration and acted on its fallback alone.</param>
public readonly record struct ControlLoopStatus(long Cycles, long MissedDeadlines, bool Holding, HoldReason HoldReason, string HoldText, string PolicyError, double RateHz, long PolicyCutShort = 0, long PolicyFallbackOnly = 0);

/// <summary>
/// The real-time control loop: on each tick of a <see cref="CycleScheduler"/> it takes the newest
/// frame of every camera (refusing old or badly paired ones), encodes them, asks the policy for a
/// command with a time budget, passes it through the safety layer, sends what the safety layer
/// allows to the arm, and writes one <see cref="CycleRecord"/> to the run log and the live board.
/// </summary>
/// <remarks>
/// <para>Threading: <see cref="Start"/> runs the loop on its own thread (with the requested real-time
/// scheduling); <see cref="RunCycles"/> runs cycles on the caller's thread instead (tests,
/// benchmarks). Operators act through <see cref="RequestReset"/> and the safety filter's e-stop
/// methods from any thread; a reset is carried out by the loop thread between cycles, because the
/// safety filter is single-threaded.</para>
/// <para>Steady state allocates nothing: every buffer is made in the constructor, and the cycle
/// uses only structs, the preallocated frames and the preallocated observation.</para>
/// <para>A stale, missing or unpaired frame never reaches the policy: that cycle passes
/// <see cref="long.MaxValue"/> as the frame age and the safety layer holds (StaleCameraFrame).</para>
/// <para>With <see cref="ControlLoopOptions.Degrade"/> the scheduler may step the rate down after
/// repeated missed deadlines and back up after a quiet period. Each change is marked in that cycle's
/// record (<see cref="CycleRecord.RateChange"/>; every record carries its rate) and queued, without
/// allocating, for a reader off the loop's thread (<see cref="TryReadRateChange"/>). A hold for any
/// reason is a hold at every rate.</para>
/// </remarks>
public sealed class ControlLoop : IDisposable
{
    private readonly ControlLoopOptions _options;
    private readonly ICameraSource[] _cameras;
    private readonly CameraFrame[] _frames;
    private readonly IEncoder? _encoder;
    private readonly IEncoderStageTimes? _encoderTimes;
    private readonly EncodeStage? _stage;
    private long _stageVersion;
    private readonly IPolicy _policy;
    private readonly IAnytimePolicy? _anytimePolicy;
    private readonly INormalisedActionSource? _normalisedActions;
    private readonly ISafetyFilter _safety;
    private readonly IArmLink _link;
    private readonly RunLogWriter? _log;
    private readonly LiveStatusBoard? _board;
    private readonly PolicyObservation _observation;
    private readonly CycleScheduler _scheduler;
    private readonly ICycleTimeSource _time;
    private readonly long _maxFrameAgeNs, _pairingNs, _maxStateAgeNs, _budgetNs, _liveFramePeriodNs;
    // By rate level (0: the base rate): the policy's budget, the rate as logged, and the period the
    // safety layer is told (0 at the base rate: the filter's own configured period).
    private readonly long[] _budgetsNs;
    private readonly int[] _ratesMillihertz;
    private readonly long[] _safetyPeriodsNs;
    private readonly EventRing<RateChangeEvent> _rateChanges = new(64);
    private volatile int _rateLevel;
    private readonly TimeSpan _maxFrameAge;
    private readonly Lock _resetGate = new();
    private readonly ManualResetEventSlim _resetDone = new();
    private Thread? _thread;
    private volatile bool _stopRequested;
    private volatile bool _resetRequested;
    private SafetyResetResult _resetResult;
    private Exception? _failure;
    private long _nextLiveFrameNs;
    private uint _sequence;
    private ArmCommand _requested;
    private long _cycles, _missed, _policyCutShort, _policyFallbackOnly;
    private long _episode; // +1 at each policy reset: a new episode for the recording
    private volatile bool _holding;
    private volatile string _policyError = "";

    /// <summary>Wires the loop. Nothing runs until <see cref="Start"/> or <see cref="RunCycles"/>.</summary>
    /// <param name="options">Rate, ages, budget, real-time request.</param>
    /// <param name="cameras">The cameras, in the order the encoder and policy expect; started here if they are not.</param>
    /// <param name="encoder">Frames → embedding; null when the policy does not use vision.</param>
    /// <param name="policy">The decision.</param>
    /// <param name="safety">The safety layer (starts held; released by <see cref="RequestReset"/>).</param>
    /// <param name="link">The arm.</param>
    /// <param name="log">Where each cycle's record goes (optional).</param>
    /// <param name="board">Where watchers read the newest cycle and frames (optional).</param>
    /// <exception cref="ArgumentException">The pieces do not fit together; the message says which and why.</exception>
    public ControlLoop(ControlLoopOptions options, IReadOnlyList<ICameraSource> cameras, IEncoder? encoder, IPolicy policy,
        ISafetyFilter safety, IArmLink link, RunLogWriter? log = null, LiveStatusBoard? board = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(cameras);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(safety);
        ArgumentNullException.ThrowIfNull(link);
        options.Validate();
        if (encoder is not null)
        {
            if (encoder.CameraCount != cameras.Count)
                throw new ArgumentException($"encoder '{encoder.Name}' takes {encoder.CameraCount} camera(s), the loop has {cameras.Count}", nameof(encoder));
            foreach (var camera in cameras)
            {
                if (camera.Width != encoder.FrameWidth || camera.Height != encoder.FrameHeight)
                    throw new ArgumentException($"camera '{camera.Name}' gives {camera.Width}×{camera.Height} frames, encoder '{encoder.Name}' takes {encoder.FrameWidth}×{encoder.FrameHeight}", nameof(cameras));
            }
        }
        int embedding = encoder?.EmbeddingSize ?? 0;
        if (policy.EmbeddingSize != 0 && policy.EmbeddingSize != embedding)
            throw new ArgumentException(encoder is null
                ? $"policy '{policy.Name}' needs a {policy.EmbeddingSize}-float embedding but the loop has no encoder"
                : $"policy '{policy.Name}' needs a {policy.EmbeddingSize}-float embedding, encoder '{encoder.Name}' gives {embedding}", nameof(policy));
        if (options.Recording is { } recording && (recording.CameraSizes.Count != cameras.Count
            || cameras.Where((c, i) => recording.CameraSizes[i] != (c.Width, c.Height)).Any()))
            throw new ArgumentException($"the recording ring is for {recording.CameraSizes.Count} camera(s) of {string.Join(", ", recording.CameraSizes.Select(s => $"{s.Width}×{s.Height}"))}; the loop's cameras differ", nameof(options));
        if (options.Recording is { NormalisedActionLength: > 0 } ring && policy is INormalisedActionSource source && source.LastAction.Length != ring.NormalisedActionLength)
            throw new ArgumentException($"the recording ring keeps {ring.NormalisedActionLength} normalised action value(s); policy '{policy.Name}' has {source.LastAction.Length}", nameof(options));
        if (board is not null && (board.CameraNames.Count != cameras.Count || cameras.Any(c => c.Width != board.FrameWidth || c.Height != board.FrameHeight)))
            throw new ArgumentException($"the live board is for {board.CameraNames.Count} camera(s) of {board.FrameWidth}×{board.FrameHeight}; the loop's cameras differ", nameof(board));

        _options = options;
        _cameras = [.. cameras];
        _frames = _cameras.Select(c => new CameraFrame(c.Width, c.Height)).ToArray();
        _encoder = encoder;
        _encoderTimes = encoder as IEncoderStageTimes;
        _policy = policy;
        _anytimePolicy = policy as IAnytimePolicy;
        // A policy with a normalised action of its own (an agent) has it copied into the recording beside the command.
        _normalisedActions = options.Recording is { NormalisedActionLength: > 0 } ? policy as INormalisedActionSource : null;
        _safety = safety;
        _link = link;
        _log = log;
        _board = board;
        _observation = new PolicyObservation(embedding, _frames);
        _time = options.TimeSource ?? SystemCycleTimeSource.Instance;
        _scheduler = new CycleScheduler(new CycleSchedulerOptions { RateHz = options.RateHz, Degrade = options.Degrade }, _time);
        _maxFrameAge = options.MaxFrameAge;
        _maxFrameAgeNs = (long)options.MaxFrameAge.TotalNanoseconds;
        _pairingNs = (long)options.FramePairingTolerance.TotalNanoseconds;
        _maxStateAgeNs = (long)options.MaxArmStateAge.TotalNanoseconds;
        _budgetNs = (long)(options.PolicyBudget ?? TimeSpan.FromSeconds(0.7 / options.RateHz)).TotalNanoseconds;
        if (options.Degrade is not null && link.Description is { WatchdogMilliseconds: var watchdog }
            && options.Degrade.CheckAgainstWatchdog(watchdog) is { } tooSlow)
            throw new ArgumentException("Degrade.RatesHz: " + tooSlow, nameof(options));
        var rates = _scheduler.RatesHz;
        _budgetsNs = new long[rates.Count];
        _ratesMillihertz = new int[rates.Count];
        _safetyPeriodsNs = new long[rates.Count];
        for (var level = 0; level < rates.Count; level++)
        {
            long period = (long)Math.Round(1e9 / rates[level]);
            // Level 0 is exactly the fixed-rate loop's; a lower rate keeps the budget's share of the period.
            _budgetsNs[level] = level == 0 ? _budgetNs : (long)Math.Round(_budgetNs * (rates[0] / rates[level]));
            _ratesMillihertz[level] = (int)Math.Round(rates[level] * 1000);
            _safetyPeriodsNs[level] = level == 0 ? 0 : period;
        }
        if (options.Degrade is not null) // the queue of a rare event: compiled now, not in the cycle of the first change
            RuntimeHelpers.PrepareMethod(typeof(EventRing<RateChangeEvent>).GetMethod(nameof(EventRing<RateChangeEvent>.TryWrite))!.MethodHandle);
        _liveFramePeriodNs = (long)(1e9 / options.LiveFrameRateHz);
        foreach (var camera in _cameras)
            camera.Start();
        if (options.PipelineEncoding && encoder is not null && _cameras.Length > 0)
            _stage = new EncodeStage(_cameras, encoder, options.MaxFrameAge, options.FramePairingTolerance, _time);
    }

    /// <summary>The encode stage when encoding is pipelined (<see cref="ControlLoopOptions.PipelineEncoding"/>), else null.</summary>
    public EncodeStage? EncodeStage => _stage;

    /// <summary>What the real-time request came to on the loop's thread; null before <see cref="Start"/> or without a request.</summary>
    public RealTimeReport? RealTimeReport { get; private set; }

    /// <summary>The scheduler (cycle counters, missed deadlines, wake lateness).</summary>
    public CycleScheduler Scheduler => _scheduler;

    /// <summary>The newest status, for an operator's display.</summary>
    public ControlLoopStatus Status =>
        new(Interlocked.Read(ref _cycles), Interlocked.Read(ref _missed), _holding, _safety.HoldReason, _safety.HoldText, _policyError,
            _scheduler.RatesHz[_rateLevel], Interlocked.Read(ref _policyCutShort), Interlocked.Read(ref _policyFallbackOnly));

    /// <summary>Every rate the loop may run at, Hz: the configured one first, then <see cref="ControlLoopOptions.Degrade"/>'s.</summary>
    public IReadOnlyList<double> RatesHz => _scheduler.RatesHz;

    /// <summary>
    /// Takes the oldest rate change not yet taken (<see cref="ControlLoopOptions.Degrade"/>), for the
    /// operator's console. One reader thread; the loop queues up to 64 changes and drops (and counts,
    /// <see cref="RateChangesDropped"/>) further ones until they are taken.
    /// </summary>
    public bool TryReadRateChange(out RateChangeEvent change) => _rateChanges.TryRead(out change);

    /// <summary>Rate changes not queued because the reader had not taken the earlier ones (they are still in the run log).</summary>
    public long RateChangesDropped => _rateChanges.Dropped;

    /// <summary>Whether the loop thread is running.</summary>
    public bool IsRunning => _thread is { IsAlive: true };

    /// <summary>The exception that ended the loop thread, if one did (the loop holds the arm before it ends).</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>Starts the loop on its own thread: real-time setup, warm-up, then cycles until <see cref="Stop"/>.</summary>
    public void Start()
    {
        if (_thread is not null)
            throw new InvalidOperationException("the control loop has already been started");
        _thread = new Thread(ThreadMain) { IsBackground = true, Name = "rr control loop", Priority = ThreadPriority.Highest };
        _thread.Start();
    }

    /// <summary>
    /// Asks the loop to end: the next cycle holds the arm (e-stop from the operator with
    /// <paramref name="reason"/>), sends the hold, and the thread exits. Waits up to <paramref name="timeout"/>.
    /// </summary>
    /// <returns>True when the loop thread has ended.</returns>
    public bool Stop(string reason, TimeSpan timeout)
    {
        _safety.EmergencyStop(EmergencyStopSource.Operator, reason);
        _stopRequested = true;
        return _thread?.Join(timeout) ?? true;
    }

    /// <summary>
    /// Asks the loop thread to reset the safety layer between two cycles and waits for the answer.
    /// The reset is refused (with the reason) while a hold's cause persists.
    /// </summary>
    public SafetyResetResult RequestReset(TimeSpan timeout)
    {
        lock (_resetGate)
        {
            if (!IsRunning)
            {
                // Not started: the cycles run on the caller's thread (RunCycles), so the reset is taken here.
                var result = _safety.Reset();
                if (result.Succeeded)
                    ResetEpisode();
                return result;
            }
            _resetDone.Reset();
            _resetRequested = true;
            if (!_resetDone.Wait(timeout))
            {
                _resetRequested = false;
                return new SafetyResetResult(false, _safety.HoldReason, $"the control loop did not take the reset within {timeout.TotalMilliseconds:0} ms");
            }
            return _resetResult;
        }
    }

    /// <summary>Warms up (once) and runs <paramref name="count"/> cycles on the calling thread.</summary>
    /// <remarks>For tests and benchmarks; a loop started with <see cref="Start"/> must not also be run here.</remarks>
    public void RunCycles(int count)
    {
        if (_thread is not null)
            throw new InvalidOperationException("the control loop runs on its own thread; RunCycles is for loops that were not started");
        EnsureWarm();
        for (var i = 0; i < count; i++)
            Cycle(send: true);
    }

    /// <summary>Takes a pending reset request (call between cycles on the loop's thread).</summary>
    // A reset is served only once a real cycle has been judged: before that the safety filter knows
    // nothing of the arm, its state or the cameras, and would release its first hold blind (a reset
    // typed, or sent by rr run's arming, while the first camera frame is still on its way).
    private bool _judgedOnce;

    private void ServeReset()
    {
        if (!_resetRequested || !_judgedOnce)
            return;
        _resetRequested = false;
        _resetResult = _safety.Reset();
        if (_resetResult.Succeeded)
            ResetEpisode();
        _resetDone.Set();
    }

    private bool _warm;

    /// <summary>A new episode for the policy and for an encoder with memory (on the stage's thread when pipelined).</summary>
    private void ResetEpisode()
    {
        _episode++;
        _policy.Reset();
        if (_stage is not null)
            _stage.RequestEncoderReset();
        else
            _encoder?.Reset();
    }

    private void EnsureWarm()
    {
        if (_warm)
            return;
        _warm = true;
        if (_stage is not null)
        {
            // Warm-up plans on real encoded frames when they come within a second (else on zeros).
            _stage.Start();
            _stage.WaitForFirst(TimeSpan.FromSeconds(1));
        }
        for (var i = 0; i < _options.WarmupCycles; i++)
            Cycle(send: false);
        ResetEpisode();
        _policyError = "";
    }

    private void ThreadMain()
    {
        try
        {
            if (_options.RealTime is { } request)
                RealTimeReport = RealTimeSetup.ConfigureCurrentThread(request);
            EnsureWarm();
            while (!_stopRequested)
            {
                ServeReset();
                Cycle(send: true);
                _judgedOnce = true;
            }
            // The operator's e-stop from Stop() reaches this cycle: the arm is told to hold.
            Cycle(send: true);
        }
        catch (Exception error)
        {
            Volatile.Write(ref _failure, error);
            _safety.EmergencyStop(EmergencyStopSource.Operator, "the control loop failed: " + error.Message);
            TryHoldAfterFailure();
        }
        finally
        {
            if (RealTimeReport is { } report)
                GCSettings.LatencyMode = report.PreviousGcLatencyMode;
            _resetDone.Set();
        }
    }

    [SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "last-ditch hold after a failure")]
    private void TryHoldAfterFailure()
    {
        try
        {
            Cycle(send: true);
        }
        catch (Exception)
        {
            // Nothing more to do here: the arm's own watchdog holds when commands stop.
        }
    }

    /// <summary>One cycle. <paramref name="send"/> false: warm-up (nothing sent, logged or published).</summary>
    private void Cycle(bool send)
    {
        CycleTiming timing;
        if (send)
        {
            timing = _scheduler.WaitForNextCycle();
        }
        else
        {
            long warmupNow = _time.NowNanoseconds;
            timing = new CycleTiming(-1, warmupNow, warmupNow, warmupNow + _budgetNs, false, 0, 0, _scheduler.PeriodNs);
        }
        int level = timing.RateLevel;
        long budgetNs = _budgetsNs[level];
        long start = _time.NowNanoseconds;
        var record = default(CycleRecord);
        record.CycleIndex = timing.Index;
        record.ScheduledStartNs = timing.ScheduledStartNs;
        record.StartNs = start;
        record.SkippedTicks = timing.SkippedTicks;
        record.ConsecutiveMisses = timing.ConsecutiveMisses;
        record.SendStatus = CycleRecord.NotSent;
        record.RateChange = timing.RateChange;
        record.RateMillihertz = _ratesMillihertz[level];

        // Frames: the newest of each camera, none older than the limit, all captured close together
        // (pipelined: the newest set the encode stage finished, judged by the age of its oldest frame).
        bool encoded = true;
        long frameAge = _stage is null ? ReadFrames(start) : TakeEncoded(start, ref record, out encoded);
        long afterFrames = _time.NowNanoseconds;
        record.FrameAgeNs = frameAge == long.MaxValue ? -1 : frameAge; // -1: no usable frame this cycle

        // Encode only what may be acted on (warm-up encodes whatever is in the buffers, to warm the encoder).
        bool usable = frameAge <= _maxFrameAgeNs || !send;
        if (usable && _encoder is not null && _stage is null)
        {
            encoded = _encoder.Encode(_frames, _observation.Embedding) == EncodeStatus.Ok;
            if (_encoderTimes is not null)
            {
                record.PreprocessNs = (long)(_encoderTimes.LastPreprocessMicroseconds * 1000);
                record.EncodeNs = (long)(_encoderTimes.LastInferenceMicroseconds * 1000);
            }
            else
            {
                record.EncodeNs = _time.NowNanoseconds - afterFrames;
            }
        }
        long afterEncode = _time.NowNanoseconds;

        // Arm state and policy.
        var input = default(SafetyInput);
        input.LinkStatus = _link.Health.Status;
        // The newest state whatever its age: the safety layer judges the age (and says "older than"
        // rather than "none received"); the policy only gets a state young enough to act on.
        input.HasArmState = _link.TryGetLatestState(TimeSpan.MaxValue, out input.ArmState, out var stateAge);
        input.ArmStateAgeNs = input.HasArmState ? (long)stateAge.TotalNanoseconds : long.MaxValue;
        bool freshState = input.HasArmState && input.ArmStateAgeNs <= _maxStateAgeNs;
        input.FrameAgeNs = frameAge;
        input.ConsecutiveDeadlineMisses = timing.ConsecutiveMisses;
        input.CyclePeriodNs = _safetyPeriodsNs[level];
        var policyStatus = PolicyStatus.NoAction;
        if (usable && encoded)
        {
            _observation.ArmState = input.ArmState;
            _observation.HasArmState = freshState;
            _observation.CycleIndex = timing.Index;
            _observation.CycleStartNs = start;
            _observation.PeriodNs = timing.PeriodNs;
            _observation.DeadlineNs = Math.Min(start + budgetNs, timing.DeadlineNs);
            _requested = default;
            policyStatus = _policy.Act(_observation, ref _requested);
            if (policyStatus is PolicyStatus.NoAction or PolicyStatus.Failed)
                _policyError = _policy.LastError;
        }
        else
        {
            _requested = default;
        }
        long afterPlan = _time.NowNanoseconds;
        record.PlanNs = afterPlan - afterEncode;

        // Safety. A stale frame is already in FrameAgeNs; an encoder or policy failure on usable
        // frames is a policy failure. Both hold.
        input.Requested = _requested;
        input.Requested.Sequence = ++_sequence;
        input.CommandTimestampNs = afterPlan;
        input.NowNs = afterPlan;
        input.PolicyFailed = usable && !(encoded && policyStatus is PolicyStatus.Ok or PolicyStatus.BudgetExhausted);
        // Warm-up leaves the safety layer alone: its latched state belongs to real cycles only.
        SafetyResult result = default;
        if (send)
            _safety.Filter(in input, out result);
        long afterSafety = _time.NowNanoseconds;
        record.SafetyNs = afterSafety - afterPlan;
        record.SetRequested(in _requested);
        record.Safety = result.Status;
        record.HoldReason = result.Reason;
        record.Clipped = result.Clipped;
        record.HoldStarted = (byte)(result.HoldStarted ? 1 : 0);
        _holding = result.Status == SafetyStatus.Hold;

        // Send what the safety layer allows (on a hold: the measured joints when known, else nothing).
        if (send && result.Allowed.Mode != ArmCommandMode.None)
        {
            var status = _link.Send(in result.Allowed, out var sent);
            record.SendStatus = (byte)status;
            record.SetSent(in sent);
        }
        long end = _time.NowNanoseconds;
        record.SendNs = end - afterSafety;
        record.EndNs = end;
        record.MissedDeadline = (byte)(end > timing.DeadlineNs ? 1 : 0);
        if (!send)
            return;

        Interlocked.Increment(ref _cycles);
        if (record.MissedDeadline != 0)
            Interlocked.Increment(ref _missed);
        if (policyStatus == PolicyStatus.BudgetExhausted)
        {
            Interlocked.Increment(ref _policyCutShort);
            if (_anytimePolicy is { LastSearchIterations: 0 })
                Interlocked.Increment(ref _policyFallbackOnly);
        }
        if (timing.RateChange != RateChange.None)
        {
            _rateLevel = level;
            _rateChanges.TryWrite(_scheduler.LastRateChange);
        }
        _log?.TryAppend(in record);
        _options.CycleRecords?.TryWrite(in record);
        _options.Recording?.TryWrite(in record, in input, freshState,
            usable && encoded ? (byte)policyStatus : RecordedCycle.PolicyNotRun, _frames, _episode,
            _normalisedActions is not null && usable && encoded && policyStatus is PolicyStatus.Ok or PolicyStatus.BudgetExhausted
                ? _normalisedActions.LastAction : default);
        if (_board is not null)
        {
            _board.PublishCycle(in record, _holding, result.Reason, result.ReasonText ?? "", end);
            if (end >= _nextLiveFrameNs && frameAge != long.MaxValue)
            {
                _nextLiveFrameNs = end + _liveFramePeriodNs;
                for (var i = 0; i < _frames.Length; i++)
                    _board.PublishFrame(i, _frames[i]);
            }
        }
    }

    /// <summary>
    /// Pipelined mode: copies the newest encoded set into the observation; returns the age of its
    /// oldest frame, or long.MaxValue when there is none yet. <paramref name="ok"/> is false when
    /// the encoder failed on that set. The record gets the stage's encode times for a new set only.
    /// </summary>
    private long TakeEncoded(long nowNs, ref CycleRecord record, out bool ok)
    {
        var set = _stage!.TakeLatest();
        if (set is null)
        {
            ok = true;
            return long.MaxValue;
        }
        ok = set.Ok;
        if (set.Version != _stageVersion)
        {
            // A new set: the observation's frames and embedding become its (an old one is already there).
            for (var i = 0; i < _frames.Length; i++)
                set.Frames[i].CopyTo(_frames[i]);
            set.Embedding.AsSpan().CopyTo(_observation.Embedding);
            _stageVersion = set.Version;
            record.PreprocessNs = set.PreprocessNs;
            record.EncodeNs = set.EncodeNs;
        }
        return Math.Max(0, nowNs - set.OldestCaptureNs);
    }

    /// <summary>Reads every camera's newest frame; returns the age of the oldest, or long.MaxValue if any is missing, stale or unpaired.</summary>
    private long ReadFrames(long nowNs)
    {
        if (_cameras.Length == 0)
            return 0;
        long oldest = long.MaxValue, newest = long.MinValue;
        for (var i = 0; i < _cameras.Length; i++)
        {
            if (_cameras[i].TryReadLatest(_maxFrameAge, _frames[i]) != CameraReadStatus.Ok)
                return long.MaxValue;
            long captured = _frames[i].CaptureTimestampNs;
            oldest = Math.Min(oldest, captured);
            newest = Math.Max(newest, captured);
        }
        if (newest - oldest > _pairingNs)
            return long.MaxValue;
        return Math.Max(0, nowNs - oldest);
    }

    /// <summary>Stops the loop (holding the arm) if it runs. Does not dispose the pieces it was given.</summary>
    public void Dispose()
    {
        if (IsRunning)
            Stop("the control loop was disposed", TimeSpan.FromSeconds(5));
        _stage?.Dispose();
        _resetDone.Dispose();
    }
}
