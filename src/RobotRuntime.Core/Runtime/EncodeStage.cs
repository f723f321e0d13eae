using System.Diagnostics.CodeAnalysis;
using RobotRuntime.Cameras;
using RobotRuntime.Encoders;

namespace RobotRuntime.Runtime;

/// <summary>
/// One encoded set of camera frames: the frames, their embedding and when they were captured and
/// encoded. Owned by <see cref="EncodeStage"/>; a reader may use the slot it took until its next take.
/// </summary>
public sealed class EncodedFrames
{
    internal EncodedFrames(IReadOnlyList<ICameraSource> cameras, int embeddingSize)
    {
        Frames = cameras.Select(c => new CameraFrame(c.Width, c.Height)).ToArray();
        Embedding = new float[embeddingSize];
    }

    /// <summary>The frames that were encoded, one per camera, in the cameras' order.</summary>
    public CameraFrame[] Frames { get; }

    /// <summary>Their embedding.</summary>
    public float[] Embedding { get; }

    /// <summary>Capture time of the oldest frame of the set (ns, on the cameras' clock, which is the stage's time source's).</summary>
    public long OldestCaptureNs { get; internal set; }

    /// <summary>Preprocessing time of the encode that made the set, when the encoder reports it (ns; 0 otherwise).</summary>
    public long PreprocessNs { get; internal set; }

    /// <summary>Time of the encode (inference only when the encoder reports stages, else the whole call) in ns.</summary>
    public long EncodeNs { get; internal set; }

    /// <summary>When the embedding was ready (ns, on the stage's time source).</summary>
    public long EncodedAtNs { get; internal set; }

    /// <summary>Whether the encoder succeeded; a failed set must not be acted on.</summary>
    public bool Ok { get; internal set; }

    /// <summary>Counts the sets the stage has published (1 for the first).</summary>
    public long Version { get; internal set; }
}

/// <summary>
/// Encodes camera frames on its own thread as they arrive, so that the control loop does not spend
/// its cycle encoding: a cycle takes the newest encoded set (frames + embedding) and plans on it,
/// while the next frames are being encoded. This is the runtime's encode/plan pipelining.
/// </summary>
/// <remarks>
/// <para>The stage waits for a new frame from the first camera, takes the newest frame of every
/// other camera (none older than the maximum age; when that frame predates the first camera's by
/// more than 5 ms it waits up to a quarter of the pairing tolerance, at most 10 ms, for a newer
/// one — the companion of a frame triggered together), skips the set if the frames were captured
/// further apart than the pairing tolerance, encodes it, and publishes it through a triple
/// buffer: the writer never waits for the reader and the reader never waits for the writer, and
/// nothing is allocated after construction.</para>
/// <para>The stage only says what it encoded and when; the loop judges the age of what it takes
/// (a stalled or failed camera simply stops new sets from appearing, and the loop holds on age).</para>
/// <para>Only the stage reads the cameras while it runs (a camera's "newer than the last read"
/// bookkeeping belongs to one reader).</para>
/// </remarks>
public sealed class EncodeStage : IDisposable
{
    private const int DirtyBit = 4;
    private readonly ICameraSource[] _cameras;
    private readonly IEncoder _encoder;
    private readonly IEncoderStageTimes? _times;
    private readonly ICycleTimeSource _time;
    private readonly EncodedFrames[] _slots;
    private readonly TimeSpan _maxFrameAge;
    private readonly long _pairingNs;
    private readonly TimeSpan _waitTimeout = TimeSpan.FromMilliseconds(50);
    private readonly ManualResetEventSlim _firstPublished = new();
    private readonly CameraFrame[] _spare;
    private readonly TimeSpan _companionWait;
    private const long CompanionSlackNs = 5_000_000;
    private int _shared = 1;   // index of the middle slot | DirtyBit when it holds a set the reader has not taken
    private int _back;         // the writer's slot
    private int _front = 2;    // the reader's slot
    private long _version;
    private long _unpaired, _failures;
    private Thread? _thread;
    private volatile bool _stop;
    private volatile string _lastError = "";

    /// <summary>Wires the stage (nothing runs until <see cref="Start"/>).</summary>
    /// <param name="cameras">The cameras, in the order the encoder expects (started by their owner).</param>
    /// <param name="encoder">Frames → embedding. Used only on the stage's thread once started.</param>
    /// <param name="maxFrameAge">Frames of the second and later cameras older than this are not used.</param>
    /// <param name="pairingTolerance">Frames captured further apart than this are not encoded together.</param>
    /// <param name="timeSource">Where the encode's start and end are read (the control loop's; the system clock by default). Only its <see cref="ICycleTimeSource.NowNanoseconds"/> is used, on the stage's thread.</param>
    public EncodeStage(IReadOnlyList<ICameraSource> cameras, IEncoder encoder, TimeSpan maxFrameAge, TimeSpan pairingTolerance, ICycleTimeSource? timeSource = null)
    {
        ArgumentNullException.ThrowIfNull(cameras);
        ArgumentNullException.ThrowIfNull(encoder);
        if (cameras.Count == 0)
            throw new ArgumentException("the encode stage needs at least one camera", nameof(cameras));
        if (encoder.CameraCount != cameras.Count)
            throw new ArgumentException($"encoder '{encoder.Name}' takes {encoder.CameraCount} camera(s), the stage has {cameras.Count}", nameof(encoder));
        _cameras = [.. cameras];
        _encoder = encoder;
        _times = encoder as IEncoderStageTimes;
        _time = timeSource ?? SystemCycleTimeSource.Instance;
        _slots = [new(cameras, encoder.EmbeddingSize), new(cameras, encoder.EmbeddingSize), new(cameras, encoder.EmbeddingSize)];
        _maxFrameAge = maxFrameAge;
        _pairingNs = (long)pairingTolerance.TotalNanoseconds;
        _spare = _cameras.Select(c => new CameraFrame(c.Width, c.Height)).ToArray();
        _companionWait = TimeSpan.FromTicks(Math.Min(pairingTolerance.Ticks / 4, TimeSpan.FromMilliseconds(10).Ticks));
    }

    /// <summary>Sets published so far.</summary>
    public long Published => Interlocked.Read(ref _version);

    /// <summary>Sets skipped because the cameras' newest frames were captured too far apart (or one had no fresh frame).</summary>
    public long Unpaired => Interlocked.Read(ref _unpaired);

    /// <summary>Encoder calls that failed (each published as a failed set).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>The last encoder failure's message ("" if none).</summary>
    public string LastError => _lastError;

    /// <summary>Starts the stage's thread.</summary>
    public void Start()
    {
        if (_thread is not null)
            throw new InvalidOperationException("the encode stage has already been started");
        _thread = new Thread(Run) { IsBackground = true, Name = "rr encode stage", Priority = ThreadPriority.AboveNormal };
        _thread.Start();
    }

    /// <summary>Waits until the first set is published (for warm-up); false on timeout.</summary>
    public bool WaitForFirst(TimeSpan timeout) => _firstPublished.Wait(timeout);

    /// <summary>
    /// The newest published set, or null when none has been published yet. The set stays valid
    /// (the stage does not write it) until the caller takes again. One reader only; no allocation.
    /// </summary>
    public EncodedFrames? TakeLatest()
    {
        if ((Volatile.Read(ref _shared) & DirtyBit) != 0)
            _front = Interlocked.Exchange(ref _shared, _front) & 3;
        var slot = _slots[_front];
        return slot.Version == 0 ? null : slot;
    }

    /// <summary>Encodes one set if a new frame arrives within the wait; for tests that drive the stage without its thread.</summary>
    /// <returns>True when a set was published.</returns>
    public bool PumpOnce() => TryEncodeNext();

    private volatile bool _encoderResetPending;

    /// <summary>
    /// Asks for <see cref="IEncoder.Reset"/> (a new episode) before the next encode, on the stage's own
    /// thread: the encoder is only ever called from one thread.
    /// </summary>
    public void RequestEncoderReset() => _encoderResetPending = true;

    private void Run()
    {
        while (!_stop)
            TryEncodeNext();
    }

    [SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "an encoder failure is published as a failed set; the loop holds on it")]
    private bool TryEncodeNext()
    {
        var slot = _slots[_back];
        var frames = slot.Frames;
        var status = _cameras[0].Read(frames[0], _waitTimeout);
        if (status != CameraReadStatus.Ok)
        {
            if (status != CameraReadStatus.Timeout)
                Thread.Sleep(5); // lost or stopped: do not spin while the camera reports it
            return false;
        }
        long oldest = frames[0].CaptureTimestampNs, newest = oldest;
        for (var i = 1; i < _cameras.Length; i++)
        {
            if (_cameras[i].TryReadLatest(_maxFrameAge, frames[i]) != CameraReadStatus.Ok)
            {
                Interlocked.Increment(ref _unpaired);
                return false;
            }
            // Cameras triggered together deliver one after the other: when this camera's newest frame
            // predates the first camera's, its companion may be a moment away. Wait briefly for it
            // rather than pair with a frame a whole period older.
            if (frames[0].CaptureTimestampNs - frames[i].CaptureTimestampNs > CompanionSlackNs
                && _cameras[i].Read(_spare[i], _companionWait) == CameraReadStatus.Ok
                && _spare[i].CaptureTimestampNs > frames[i].CaptureTimestampNs)
            {
                _spare[i].CopyTo(frames[i]);
            }
            oldest = Math.Min(oldest, frames[i].CaptureTimestampNs);
            newest = Math.Max(newest, frames[i].CaptureTimestampNs);
        }
        if (newest - oldest > _pairingNs)
        {
            Interlocked.Increment(ref _unpaired);
            return false;
        }
        long start = _time.NowNanoseconds;
        bool ok;
        try
        {
            if (_encoderResetPending)
            {
                _encoderResetPending = false;
                _encoder.Reset();
            }
            ok = _encoder.Encode(frames, slot.Embedding) == EncodeStatus.Ok;
            if (!ok)
                _lastError = $"encoder '{_encoder.Name}' did not produce an embedding";
        }
        catch (Exception error)
        {
            ok = false;
            _lastError = $"encoder '{_encoder.Name}' failed: {error.Message}";
        }
        long end = _time.NowNanoseconds;
        if (!ok)
            Interlocked.Increment(ref _failures);
        slot.Ok = ok;
        slot.OldestCaptureNs = oldest;
        slot.EncodedAtNs = end;
        slot.PreprocessNs = _times is null ? 0 : (long)(_times.LastPreprocessMicroseconds * 1000);
        slot.EncodeNs = _times is null ? end - start : (long)(_times.LastInferenceMicroseconds * 1000);
        slot.Version = Interlocked.Increment(ref _version);
        // Publish: the written slot becomes the middle one (marked new); the old middle is the next to write.
        _back = Interlocked.Exchange(ref _shared, _back | DirtyBit) & 3;
        if (slot.Version == 1)
            _firstPublished.Set();
        return true;
    }

    /// <summary>Stops the thread (waits for the encode in progress). Does not dispose the cameras or the encoder.</summary>
    public void Dispose()
    {
        _stop = true;
        _thread?.Join(TimeSpan.FromSeconds(5));
        _firstPublished.Dispose();
    }
}
