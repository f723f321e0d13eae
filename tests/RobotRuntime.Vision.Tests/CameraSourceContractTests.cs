using System.Diagnostics;
using RobotRuntime.Cameras;
using RobotRuntime.Testing;
using RobotRuntime.Timing;

namespace RobotRuntime.Vision.Tests;

/// <summary>
/// What every <see cref="ICameraSource"/> must do, whatever is behind it, as its documentation
/// says: the configured name and size before and after <see cref="ICameraSource.Start"/>; reads
/// that say <see cref="CameraReadStatus.NotRunning"/> before Start and after Dispose without
/// waiting; nothing delivered, and nothing copied, before the first frame; blocking reads that give
/// newer frames with growing sequence numbers and capture times on <see cref="MonotonicClock"/>
/// that are not in the future; <see cref="ICameraSource.ReadLatest"/> giving the newest frame;
/// <see cref="ICameraSource.TryReadLatest"/> refusing frames older than the age asked for, copying
/// nothing, and allocating nothing in steady state; a wrongly sized destination refused by status;
/// a lost camera said in <see cref="ICameraSource.Health"/> and by every read, never by an
/// exception; an idempotent Dispose; a camera that cannot open named when it fails to start.
/// </summary>
/// <remarks>
/// Subclassed once per backend with a factory for its cameras (<see cref="CreateLive"/>,
/// <see cref="CreateEnding"/>, <see cref="CreateUnopenable"/>). Where a backend legitimately
/// differs, a documented property says so (<see cref="DeliversEveryFrame"/>,
/// <see cref="CaptureTimesIncreaseWithSequence"/>, <see cref="Subject.FeedIsControlled"/>), and the
/// test asserts what that backend promises instead. Every wait is bounded by <see cref="Patience"/>,
/// a liveness bound, never a measure of speed: nothing here asserts how long anything took.
/// </remarks>
public abstract class CameraSourceContractTests : IDisposable
{
    /// <summary>The frame width every subject delivers.</summary>
    protected const int Width = 32;

    /// <summary>The frame height every subject delivers.</summary>
    protected const int Height = 24;

    /// <summary>The longest any wait here may take before the test fails (a hung source, not a slow one).</summary>
    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan OlderThanAnyFrame = TimeSpan.FromTicks(-1);
    private readonly List<IDisposable> _owned = [];

    /// <summary>A folder for what a subject needs on disk (video files, recordings); deleted after the test.</summary>
    protected string Folder { get; } = Directory.CreateTempSubdirectory("rr-camera-contract-").FullName;

    public void Dispose()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
            _owned[i].Dispose();
        Directory.Delete(Folder, recursive: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>A camera under test and whatever feeds it frames.</summary>
    /// <param name="camera">The camera, not started.</param>
    /// <param name="beginFeed">Starts the producer the test runs (a thread pushing frames, a publisher); null when the camera captures on its own from <see cref="ICameraSource.Start"/>.</param>
    /// <param name="endFeed">Stops that producer for good (the camera then gets no new frame); null with <paramref name="beginFeed"/>.</param>
    /// <param name="owned">Anything else to dispose after the camera (a publisher).</param>
    protected sealed class Subject(ICameraSource camera, Action? beginFeed = null, Action? endFeed = null, IDisposable? owned = null) : IDisposable
    {
        public ICameraSource Camera => camera;

        /// <summary>
        /// Whether the test decides when frames start and stop arriving (a producer it runs:
        /// <see cref="Cameras.PushCameraSource"/>, a publisher for <see cref="Cameras.ZmqCameraSource"/>).
        /// Other cameras capture from the moment they start, so the moment before their first frame
        /// and a camera with no new frame cannot be set up; for them the tests check what any
        /// outcome must satisfy instead.
        /// </summary>
        public bool FeedIsControlled => beginFeed is not null;

        public void BeginFeed() => beginFeed?.Invoke();

        public void EndFeed() => endFeed?.Invoke();

        public void Dispose()
        {
            endFeed?.Invoke();
            camera.Dispose();
            owned?.Dispose();
        }
    }

    /// <summary>
    /// A camera named <paramref name="name"/> delivering <see cref="Width"/> × <see cref="Height"/>
    /// frames, not started, whose frames keep coming from <see cref="ICameraSource.Start"/> (and
    /// <see cref="Subject.BeginFeed"/>) for as long as a test runs (a file or recording loops) and
    /// which is not declared lost meanwhile.
    /// </summary>
    protected abstract Subject CreateLive(string name);

    /// <summary>
    /// A camera whose stream ends after <paramref name="frames"/> frames (a file, a recording, a
    /// pipeline with a buffer count), or, for a controlled feed, whose producer stops for good once
    /// the camera has captured that many; either way it then reports itself lost and does not reconnect.
    /// </summary>
    protected abstract Subject CreateEnding(string name, int frames);

    /// <summary>A camera that cannot be opened (a missing file, an element that does not exist, an endpoint with no transport); null when the backend has nothing that can fail to open.</summary>
    protected abstract ICameraSource? CreateUnopenable(string name);

    /// <summary>
    /// Whether the source hands over every frame, capturing the next only once the reader took the
    /// last (a file or recording replayed as fast as it decodes). Live sources are latest-only: a
    /// frame the reader did not take is replaced by the next.
    /// </summary>
    protected virtual bool DeliversEveryFrame => false;

    /// <summary>
    /// Whether a newer frame's capture time is never before an older one's. True where each frame is
    /// stamped on this process's clock as it is captured, or by a producer in order; false where the
    /// stamp is an estimate (<see cref="Cameras.ZmqCameraSource"/>: arrival minus the age the
    /// publisher declared, so a frame that waited longer in transport than the one before it can be
    /// stamped earlier).
    /// </summary>
    protected virtual bool CaptureTimesIncreaseWithSequence => true;

    private Subject Own(Subject subject)
    {
        _owned.Add(subject);
        return subject;
    }

    private Subject StartedLive(string name = "contract-live")
    {
        var subject = Own(CreateLive(name));
        subject.Camera.Start();
        subject.BeginFeed();
        return subject;
    }

    private static CameraFrame NewFrame() => new(Width, Height);

    /// <summary>A destination marked so that any copy into it shows.</summary>
    private static CameraFrame Sentinel()
    {
        var frame = NewFrame();
        frame.Sequence = -1;
        frame.CaptureTimestampNs = -1;
        frame.Pixels.AsSpan().Fill(0xA5);
        return frame;
    }

    private static void AssertNothingCopied(CameraFrame sentinel, string read)
    {
        Assert.True(sentinel.Sequence == -1 && sentinel.CaptureTimestampNs == -1, $"{read} copied a frame's stamps (sequence {sentinel.Sequence}) while refusing it");
        Assert.True(sentinel.Pixels.All(p => p == 0xA5), $"{read} copied pixels while refusing the frame");
    }

    /// <summary>Runs the three reads, each asked to wait as long as it may, on another thread; they must all return within <see cref="Patience"/>.</summary>
    private static (CameraReadStatus TryReadLatest, CameraReadStatus Read, CameraReadStatus ReadLatest) ReadsThatMustNotWait(ICameraSource camera, CameraFrame destination)
    {
        var reads = Task.Run(() => (camera.TryReadLatest(TimeSpan.MaxValue, destination),
            camera.Read(destination, Timeout.InfiniteTimeSpan), camera.ReadLatest(destination, Timeout.InfiniteTimeSpan)));
        Assert.True(reads.Wait(Patience), $"reads asked to wait forever on camera '{camera.Name}' had not returned after {Patience.TotalSeconds} s");
        return reads.Result;
    }

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(waited.Elapsed < Patience, $"{what} (waited {Patience.TotalSeconds} s)");
            Thread.Sleep(5);
        }
    }

    [Fact]
    public void NameAndSizeAreTheConfiguredOnesBeforeAndAfterStart()
    {
        var subject = Own(CreateLive("contract-wrist"));
        var camera = subject.Camera;
        Assert.Equal(("contract-wrist", Width, Height), (camera.Name, camera.Width, camera.Height));
        camera.Start();
        subject.BeginFeed();
        Assert.Equal(("contract-wrist", Width, Height), (camera.Name, camera.Width, camera.Height));
        var frame = NewFrame();
        Assert.Equal(CameraReadStatus.Ok, camera.Read(frame, Patience));
        Assert.Equal(("contract-wrist", Width, Height), (camera.Name, camera.Width, camera.Height));
    }

    [Fact]
    public void ReadsBeforeStartSayNotRunningWithoutWaitingOrCopying()
    {
        var camera = Own(CreateLive("contract-unstarted")).Camera;
        var health = camera.Health;
        Assert.False(health.IsConnected);
        Assert.Equal(0, health.FramesCaptured);
        var frame = Sentinel();
        Assert.Equal((CameraReadStatus.NotRunning, CameraReadStatus.NotRunning, CameraReadStatus.NotRunning), ReadsThatMustNotWait(camera, frame));
        AssertNothingCopied(frame, "a read before Start");
    }

    [Fact]
    public void BeforeTheFirstFrameNothingIsDeliveredAndNothingIsCopied()
    {
        var subject = Own(CreateLive("contract-first"));
        var camera = subject.Camera;
        camera.Start();
        var frame = Sentinel();
        if (subject.FeedIsControlled)
        {
            // Started, nothing fed yet: "none arrived yet" is Stale for the non-blocking read and a
            // timeout for the waiting ones.
            Assert.Equal(CameraReadStatus.Stale, camera.TryReadLatest(TimeSpan.MaxValue, frame));
            Assert.Equal(CameraReadStatus.Timeout, camera.ReadLatest(frame, Short));
            Assert.Equal(CameraReadStatus.Timeout, camera.Read(frame, Short));
            AssertNothingCopied(frame, "a read before the first frame");
            Assert.Equal(0, camera.Health.FramesCaptured);
            subject.BeginFeed();
            Assert.Equal(CameraReadStatus.Ok, camera.Read(frame, Patience));
            Assert.True(frame.Sequence >= 1, $"first frame delivered with sequence {frame.Sequence}");
        }
        else
        {
            // Capture begins with Start: the first non-blocking read finds either no frame yet
            // (Stale, nothing copied) or one (Ok), never anything else.
            var status = camera.TryReadLatest(TimeSpan.MaxValue, frame);
            Assert.True(status is CameraReadStatus.Stale or CameraReadStatus.Ok, $"the first TryReadLatest after Start said {status}");
            if (status == CameraReadStatus.Stale)
                AssertNothingCopied(frame, "TryReadLatest before the first frame");
            else
                Assert.True(frame.Sequence >= 1, $"first frame delivered with sequence {frame.Sequence}");
        }
    }

    [Fact]
    public void BlockingReadsDeliverNewerFramesStampedOnTheMonotonicClockAndNotInTheFuture()
    {
        var camera = StartedLive().Camera;
        var frame = NewFrame();
        long previousSequence = 0, previousCapture = 0;
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(CameraReadStatus.Ok, camera.Read(frame, Patience));
            long after = MonotonicClock.NowNanoseconds;
            Assert.True(frame.Sequence > previousSequence, $"read {i}: sequence {frame.Sequence} after {previousSequence}");
            Assert.True(frame.CaptureTimestampNs > 0 && frame.CaptureTimestampNs <= after,
                $"read {i}: captured at {frame.CaptureTimestampNs} ns, read by {after} ns on the monotonic clock");
            if (CaptureTimesIncreaseWithSequence)
                Assert.True(frame.CaptureTimestampNs >= previousCapture, $"read {i}: captured at {frame.CaptureTimestampNs} ns, before the previous frame ({previousCapture} ns)");
            previousSequence = frame.Sequence;
            previousCapture = frame.CaptureTimestampNs;
        }
    }

    [Fact]
    public void ReadLatestGivesTheNewestFrameAndNeverAnOlderOne()
    {
        var camera = StartedLive().Camera;
        var frame = NewFrame();
        Assert.Equal(CameraReadStatus.Ok, camera.Read(frame, Patience));
        long sequence = frame.Sequence;
        if (DeliversEveryFrame)
        {
            // The next frame is captured once this one was taken: none is skipped.
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(CameraReadStatus.Ok, camera.ReadLatest(frame, Patience));
                Assert.Equal(++sequence, frame.Sequence);
            }
        }
        else
        {
            // Latest-only: frames the reader did not take are replaced, never queued. (A frame is
            // counted in Health just before it is handed over, hence the one in flight.)
            WaitUntil(() => camera.Health.FramesCaptured >= sequence + 4, $"camera '{camera.Name}' captured no 4 more frames after sequence {sequence}");
            Assert.Equal(CameraReadStatus.Ok, camera.ReadLatest(frame, TimeSpan.Zero));
            Assert.True(frame.Sequence >= sequence + 3, $"ReadLatest gave sequence {frame.Sequence}; {sequence + 3} or newer had been captured");
            sequence = frame.Sequence;
        }
        // Again at once: the same frame if none arrived meanwhile, else a newer one; never an older one.
        Assert.Equal(CameraReadStatus.Ok, camera.ReadLatest(frame, TimeSpan.Zero));
        Assert.True(frame.Sequence >= sequence, $"ReadLatest gave sequence {frame.Sequence} after {sequence}");
    }

    [Fact]
    public void TryReadLatestRefusesFramesOlderThanTheAllowedAgeAndCopiesNothing()
    {
        var subject = StartedLive();
        var camera = subject.Camera;
        var frame = NewFrame();
        Assert.Equal(CameraReadStatus.Ok, camera.Read(frame, Patience));

        // No frame is younger than a negative age.
        var sentinel = Sentinel();
        Assert.Equal(CameraReadStatus.Stale, camera.TryReadLatest(OlderThanAnyFrame, sentinel));
        AssertNothingCopied(sentinel, "TryReadLatest refusing an old frame");

        // A frame it hands over was at most the allowed age when asked for.
        var maxAge = TimeSpan.FromSeconds(5);
        long asked = MonotonicClock.NowNanoseconds;
        Assert.Equal(CameraReadStatus.Ok, camera.TryReadLatest(maxAge, frame));
        Assert.True(frame.CaptureTimestampNs >= asked - (long)maxAge.TotalNanoseconds, $"TryReadLatest gave a frame {(asked - frame.CaptureTimestampNs) / 1e6:0.0} ms old for at most {maxAge.TotalMilliseconds} ms");
        long newest = frame.Sequence;

        if (subject.FeedIsControlled)
        {
            // The feed stops: once the newest frame is older than a bound, it is refused with that
            // bound and still handed over with a larger one. (A frame still on its way when the feed
            // stopped may arrive late; it is then handed over, young, and the wait starts again.)
            subject.EndFeed();
            var bound = TimeSpan.FromMilliseconds(30);
            var waited = Stopwatch.StartNew();
            while (true)
            {
                Assert.True(waited.Elapsed < Patience, $"no frame of camera '{camera.Name}' was ever refused as older than {bound.TotalMilliseconds} ms");
                Assert.Equal(CameraReadStatus.Ok, camera.ReadLatest(frame, TimeSpan.Zero));
                newest = frame.Sequence;
                if (MonotonicClock.NowNanoseconds - frame.CaptureTimestampNs <= 2 * (long)bound.TotalNanoseconds)
                {
                    Thread.Sleep(5);
                    continue;
                }
                sentinel = Sentinel();
                asked = MonotonicClock.NowNanoseconds;
                var status = camera.TryReadLatest(bound, sentinel);
                if (status == CameraReadStatus.Stale)
                    break;
                Assert.Equal(CameraReadStatus.Ok, status);
                Assert.True(sentinel.Sequence > newest && sentinel.CaptureTimestampNs >= asked - (long)bound.TotalNanoseconds,
                    $"TryReadLatest({bound.TotalMilliseconds} ms) gave sequence {sentinel.Sequence}, {(asked - sentinel.CaptureTimestampNs) / 1e6:0.0} ms old, after {newest} had aged past it");
            }
            AssertNothingCopied(sentinel, "TryReadLatest refusing a frame older than the bound");
            Assert.Equal(CameraReadStatus.Ok, camera.TryReadLatest(TimeSpan.MaxValue, frame));
            Assert.Equal(newest, frame.Sequence);
            // Nothing newer arrives: the blocking read times out, ReadLatest gives the newest anyway.
            Assert.Equal(CameraReadStatus.Timeout, camera.Read(Sentinel(), Short));
            Assert.Equal(CameraReadStatus.Ok, camera.ReadLatest(frame, Short));
            Assert.Equal(newest, frame.Sequence);
        }
        else
        {
            Assert.Equal(CameraReadStatus.Ok, camera.TryReadLatest(TimeSpan.MaxValue, frame));
            Assert.True(frame.Sequence >= newest, $"TryReadLatest gave sequence {frame.Sequence} after {newest}");
        }
    }

    [Fact]
    public void AWrongSizedDestinationIsRefusedByStatusWithoutThrowing()
    {
        var camera = StartedLive().Camera;
        Assert.Equal(CameraReadStatus.Ok, camera.Read(NewFrame(), Patience));
        Assert.Equal(CameraReadStatus.WrongFrameSize, camera.ReadLatest(new CameraFrame(Width + 1, Height), Patience));
        Assert.Equal(CameraReadStatus.WrongFrameSize, camera.TryReadLatest(TimeSpan.MaxValue, new CameraFrame(Width, Height + 1)));
    }

    [Fact]
    public void HealthSaysConnectedAndCountsTheFramesWhileTheyArrive()
    {
        var camera = StartedLive().Camera;
        var frame = NewFrame();
        for (var i = 0; i < 3; i++)
            Assert.Equal(CameraReadStatus.Ok, camera.Read(frame, Patience));
        var health = camera.Health;
        Assert.True(health.IsConnected, health.Reason);
        Assert.Equal("", health.Reason);
        Assert.True(health.FramesCaptured >= frame.Sequence, $"{health.FramesCaptured} frames counted, sequence {frame.Sequence} read");
        Assert.True(health.FramesDropped >= 0);
    }

    [Fact]
    public void ALostCameraSaysWhyInItsHealthAndEveryReadSaysLost()
    {
        const int frames = 5;
        var subject = Own(CreateEnding("contract-ending", frames));
        var camera = subject.Camera;
        camera.Start();
        subject.BeginFeed();
        var frame = NewFrame();
        var delivered = new List<long>();
        var status = CameraReadStatus.Ok;
        var waited = Stopwatch.StartNew();
        while (status is CameraReadStatus.Ok or CameraReadStatus.Timeout)
        {
            Assert.True(waited.Elapsed < Patience, $"camera '{camera.Name}' was not lost after {Patience.TotalSeconds} s; health {camera.Health}");
            status = camera.Read(frame, TimeSpan.FromMilliseconds(200));
            if (status == CameraReadStatus.Ok)
                delivered.Add(frame.Sequence);
        }
        Assert.Equal(CameraReadStatus.Lost, status);

        var health = camera.Health;
        Assert.False(health.IsConnected);
        Assert.Contains($"camera '{camera.Name}'", health.Reason);
        if (subject.FeedIsControlled)
            Assert.True(health.FramesCaptured >= frames, $"{health.FramesCaptured} frames captured"); // the producer stops once it saw them captured; some may have been on their way
        else
            Assert.Equal(frames, health.FramesCaptured);
        if (DeliversEveryFrame)
            Assert.Equal(Enumerable.Range(1, frames).Select(n => (long)n), delivered);
        else
            Assert.True(delivered.SequenceEqual(delivered.Distinct().Order()) && delivered.All(n => n >= 1 && n <= health.FramesCaptured),
                $"delivered sequences {string.Join(",", delivered)} of {health.FramesCaptured} captured");

        // Gone means gone: not even the last frame is handed over, and nothing is copied.
        var sentinel = Sentinel();
        Assert.Equal(CameraReadStatus.Lost, camera.TryReadLatest(TimeSpan.MaxValue, sentinel));
        Assert.Equal(CameraReadStatus.Lost, camera.ReadLatest(sentinel, Short));
        Assert.Equal(CameraReadStatus.Lost, camera.Read(sentinel, Short));
        AssertNothingCopied(sentinel, "a read of a lost camera");
    }

    [Fact]
    public void DisposeTwiceIsHarmlessAndReadsAfterItSayNotRunningWithoutWaiting()
    {
        var camera = StartedLive("contract-disposed").Camera;
        Assert.Equal(CameraReadStatus.Ok, camera.Read(NewFrame(), Patience));
        camera.Dispose();
        camera.Dispose();
        var frame = Sentinel();
        Assert.Equal((CameraReadStatus.NotRunning, CameraReadStatus.NotRunning, CameraReadStatus.NotRunning), ReadsThatMustNotWait(camera, frame));
        AssertNothingCopied(frame, "a read after Dispose");
        Assert.False(camera.Health.IsConnected);
    }

    [Fact]
    public void DisposingACameraThatNeverStartedIsHarmless()
    {
        var camera = Own(CreateLive("contract-never-started")).Camera;
        camera.Dispose();
        camera.Dispose();
        Assert.Equal(CameraReadStatus.NotRunning, camera.TryReadLatest(TimeSpan.MaxValue, NewFrame()));
    }

    [Fact]
    public void NonBlockingReadsAllocateNothingInSteadyState()
    {
        var camera = StartedLive().Camera;
        var frame = NewFrame();
        Assert.Equal(CameraReadStatus.Ok, camera.Read(frame, Patience));
        for (var i = 0; i < 100; i++)
        {
            camera.TryReadLatest(TimeSpan.MaxValue, frame);
            camera.TryReadLatest(OlderThanAnyFrame, frame);
        }
        int handedOver = 0, refused = 0;
        long allocated = ThreadAllocations.During(() =>
        {
            for (var i = 0; i < 2000; i++)
            {
                if (camera.TryReadLatest(TimeSpan.MaxValue, frame) == CameraReadStatus.Ok)
                    handedOver++;
                if (camera.TryReadLatest(OlderThanAnyFrame, frame) == CameraReadStatus.Stale)
                    refused++;
            }
        });
        Assert.Equal(0, allocated);
        Assert.Equal((2000, 2000), (handedOver, refused)); // both paths were measured
    }

    [Fact]
    public void ACameraThatCannotOpenIsNamedWhenItFailsToStart()
    {
        var camera = CreateUnopenable("contract-missing");
        if (camera is null)
        {
            // Nothing to open: Start succeeds with nothing feeding the camera, which then runs.
            var subject = Own(CreateLive("contract-nothing-to-open"));
            subject.Camera.Start();
            var status = subject.Camera.TryReadLatest(TimeSpan.MaxValue, NewFrame());
            Assert.True(status is CameraReadStatus.Stale or CameraReadStatus.Ok, $"a started camera with nothing to open said {status}");
            return;
        }
        using (camera)
        {
            var error = Assert.ThrowsAny<Exception>(camera.Start);
            Assert.StartsWith("camera 'contract-missing': ", error.Message);
            Assert.True(error.Message.Length > "camera 'contract-missing': ".Length + 10, $"no reason given: {error.Message}");
            Assert.Equal(CameraReadStatus.NotRunning, camera.TryReadLatest(TimeSpan.MaxValue, NewFrame()));
        }
    }
}
