using System.Text.Json.Nodes;
using Parquet;
using RobotRuntime.Datasets;
using RobotRuntime.Datasets.Recording;
using RobotRuntime.Timing;
using RobotRuntime.Vision.Cameras;

namespace RobotRuntime.Pretraining.Tests;

/// <summary>
/// <see cref="CameraDatasetRecorder"/> (what <c>rr record --dataset</c> runs) on synthetic cameras, whose
/// frame n carries <see cref="SyntheticCameraSource.PatternValue"/>(n) in its first pixel, so each stored
/// image can be matched with the sequence number stored beside it; and the frames-only layout it writes.
/// </summary>
public sealed class CameraDatasetRecorderTests
{
    // Bounds every wait; reached only when something hangs.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            Thread.Sleep(10);
        }
    }

    private static SyntheticCameraSource Started(SyntheticCameraSource camera)
    {
        camera.Start();
        return camera;
    }

    [Fact]
    public void EveryFrameHoldsEachCamerasImageBesideItsSequenceAndEpisodesEndAtTheirLength()
    {
        using var folder = new TemporaryFolder();
        using var front = Started(new SyntheticCameraSource("front", 32, 32, fps: 40));
        using var wrist = Started(new SyntheticCameraSource("wrist", 32, 32, fps: 40));
        var options = new CameraDatasetOptions { Fps = 20, Task = "watch", EpisodeFrames = 4, Episodes = 2 };
        var stored = new List<EpisodeEntry>();
        using (var recorder = CameraDatasetRecorder.Start(folder.Path, [front, wrist], options, onEpisodeStored: e => { lock (stored) stored.Add(e); }))
        {
            WaitUntil(() => recorder.Finished, "two episodes");
            Assert.True(recorder.Stop(Patience));
            Assert.Equal("2 episode(s) recorded", recorder.EndReason);
            Assert.Null(recorder.Failure);
            Assert.Equal(8, recorder.FramesRecorded);
            Assert.Equal(2, recorder.EpisodesStored);
        }
        Assert.Equal([0, 1], stored.Select(e => e.Index));

        var dataset = EpisodeDataset.Open(folder.Path);
        Assert.True(CameraDatasetLayout.IsCameraRecording(dataset.Layout));
        Assert.Equal(["front", "wrist"], dataset.Layout.Cameras);
        Assert.Equal(["watch"], dataset.Layout.Tasks);
        Assert.Equal([4, 4], dataset.Episodes.Select(e => e.Length));
        Assert.All(dataset.Episodes, e => Assert.Equal("episode length", e.Extra["ended_by"]));
        Assert.All(dataset.Episodes, e => Assert.Equal("unlabelled", e.Extra["rewards"]));
        long lastFront = 0;
        for (var e = 0; e < 2; e++)
        {
            var episode = dataset.Read(e);
            long skipped = 0;
            for (var f = 0; f < episode.Length; f++)
            {
                for (var c = 0; c < 2; c++)
                {
                    var camera = dataset.Layout.Cameras[c];
                    var sequence = episode.Integer(f, CameraDatasetLayout.SequenceColumn(camera));
                    Assert.True(sequence >= 1, $"{camera} frame {f}: sequence {sequence}");
                    // The stored image is the camera's frame that the sequence column names (PNG is lossless).
                    Assert.Equal(SyntheticCameraSource.PatternValue(sequence), episode.Image(c, f)[0]);
                    Assert.True(episode.Integer(f, CameraDatasetLayout.CaptureColumn(camera)) > 0);
                }
                // Frames follow one another: each camera's sequence never goes back.
                var sequenceNow = episode.Integer(f, CameraDatasetLayout.SequenceColumn("front"));
                Assert.True(sequenceNow >= lastFront, $"episode {e} frame {f}: front sequence {sequenceNow} after {lastFront}");
                lastFront = sequenceNow;
                Assert.True(float.IsNaN(episode.Rewards[f]));
                Assert.Equal(f == episode.Length - 1, episode.Done[f]);
                skipped += episode.Integer(f, CameraDatasetLayout.SkippedBefore);
            }
            Assert.Equal(skipped.ToString(System.Globalization.CultureInfo.InvariantCulture), dataset.Episodes[e].Extra["skipped_ticks"]);
        }
    }

    [Fact]
    public void EndEpisodeSplitsTheRecordingAndStopClosesTheLastEpisode()
    {
        using var folder = new TemporaryFolder();
        using var front = Started(new SyntheticCameraSource("front", 16, 16, fps: 60));
        using var recorder = CameraDatasetRecorder.Start(folder.Path, [front], new CameraDatasetOptions { Fps = 30 });
        WaitUntil(() => recorder.CurrentEpisodeFrames >= 3, "three frames");
        recorder.EndEpisode();
        WaitUntil(() => recorder.EpisodesStored == 1, "the first episode stored");
        WaitUntil(() => recorder.CurrentEpisodeFrames >= 2, "two frames of the second episode");
        Assert.True(recorder.Stop(Patience));
        Assert.Null(recorder.EndReason); // stopped, not ended by itself

        var dataset = EpisodeDataset.Open(folder.Path);
        Assert.Equal(["operator", "recording stopped"], dataset.Episodes.Select(e => e.Extra["ended_by"]));
        Assert.True(dataset.Episodes[0].Length >= 3);
        Assert.True(dataset.Episodes[1].Length >= 2);
        Assert.Equal(recorder.FramesRecorded, dataset.TotalFrames);
        // The second episode continues the camera's stream where the first stopped.
        var first = dataset.Read(0);
        var second = dataset.Read(1);
        Assert.True(second.Integer(0, CameraDatasetLayout.SequenceColumn("front")) > first.Integer(first.Length - 1, CameraDatasetLayout.SequenceColumn("front")));
    }

    [Fact]
    public void ACameraLostForGoodEndsTheRecordingWithItsReasonAndKeepsWhatWasRecorded()
    {
        using var folder = new TemporaryFolder();
        // Fed by this test every 10 ms, and lost for good (no reconnect) after two captures of 1 s without a push. The
        // feed stops only once a frame is recorded: a camera whose stream ends on its own schedule (a synthetic one's
        // 12 frames took 183 ms) can end before the recorder's first tick on a busy machine, leaving no episode to
        // keep. The 2 s without a push that lose it are far more than this thread's pauses between pushes.
        using var front = new PushCameraSource("front", 16, 16, frameTimeout: TimeSpan.FromSeconds(1),
            new CaptureOptions(LostAfterFailures: 2, ReconnectInterval: null));
        front.Start();
        var image = new byte[16 * 16 * 3];
        front.Push(image, MonotonicClock.NowNanoseconds);
        using var recorder = CameraDatasetRecorder.Start(folder.Path, [front],
            new CameraDatasetOptions { Fps = 30, LostAfter = TimeSpan.FromMilliseconds(100) });
        var deadline = DateTime.UtcNow + Patience;
        while (recorder.FramesRecorded < 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for a frame recorded");
            Assert.False(recorder.Finished, $"the recording ended while the camera was fed: {recorder.EndReason}");
            front.Push(image, MonotonicClock.NowNanoseconds);
            Thread.Sleep(10);
        }
        WaitUntil(() => recorder.Finished, "the recording to end");
        Assert.True(recorder.Stop(Patience));
        Assert.Contains("nothing pushed for 1000 ms", recorder.EndReason);

        var dataset = EpisodeDataset.Open(folder.Path);
        var entry = Assert.Single(dataset.Episodes);
        Assert.True(entry.Length >= 1);
        Assert.Equal(recorder.FramesRecorded, entry.Length); // every frame recorded before the loss is kept
        Assert.StartsWith("recording ended: ", entry.Extra["ended_by"]);
    }

    [Fact]
    public void ATickWithoutAFreshFrameIsSkippedAndCountedInTheNextFrame()
    {
        using var folder = new TemporaryFolder();
        using var front = Started(new SyntheticCameraSource("front", 16, 16, fps: 60));
        using var pushed = new PushCameraSource("wrist", 16, 16);
        pushed.Start();
        // The wrist camera gets fresh frames (pixel 200), then frames captured 5 s ago (pixel 99): older than the limit.
        var stale = 0;
        var pushedStale = 0;
        using var stopPushing = new CancellationTokenSource();
        var pusher = new Thread(() =>
        {
            var image = new byte[16 * 16 * 3];
            while (!stopPushing.IsCancellationRequested)
            {
                var old = Volatile.Read(ref stale) == 1;
                Array.Fill(image, old ? (byte)99 : (byte)200);
                pushed.Push(image, MonotonicClock.NowNanoseconds - (old ? 5_000_000_000L : 0));
                if (old) Volatile.Write(ref pushedStale, 1);
                Thread.Sleep(10);
            }
        }) { IsBackground = true };
        pusher.Start();
        try
        {
            using var recorder = CameraDatasetRecorder.Start(folder.Path, [front, pushed],
                new CameraDatasetOptions { Fps = 30, MaxFrameAge = TimeSpan.FromSeconds(1) });
            WaitUntil(() => recorder.FramesRecorded >= 2, "two frames");
            // A loaded machine can skip a tick before this point too (no new frame in time), so the three stale
            // skips are counted from the moment the newest wrist frame is known to be stale; every tick after
            // that skips, and all of them are carried by the next frame recorded.
            Volatile.Write(ref stale, 1);
            WaitUntil(() => Volatile.Read(ref pushedStale) == 1, "a stale wrist frame");
            var skippedAtStale = recorder.SkippedTicks;
            WaitUntil(() => recorder.SkippedTicks >= skippedAtStale + 3, "three skipped ticks");
            var before = recorder.FramesRecorded;
            Volatile.Write(ref stale, 0);
            WaitUntil(() => recorder.FramesRecorded >= before + 2, "two more frames");
            Assert.True(recorder.Stop(Patience));

            var dataset = EpisodeDataset.Open(folder.Path);
            var episode = dataset.Read(Assert.Single(dataset.Episodes).Index);
            var skippedBefore = Enumerable.Range(0, episode.Length).Select(f => episode.Integer(f, CameraDatasetLayout.SkippedBefore)).ToList();
            Assert.Contains(skippedBefore, s => s >= 3);
            Assert.Equal(skippedBefore.Sum().ToString(System.Globalization.CultureInfo.InvariantCulture), dataset.Episodes[0].Extra["skipped_ticks"]);
            // No stored frame holds a stale image.
            Assert.All(Enumerable.Range(0, episode.Length), f => Assert.Equal(200, episode.Image(1, f)[0]));
        }
        finally
        {
            stopPushing.Cancel();
            pusher.Join();
        }
    }

    [Fact]
    public void CamerasOfDifferentSizesANameADatasetCannotTakeAndAnotherLayoutAreRefused()
    {
        using var folder = new TemporaryFolder();
        using var front = Started(new SyntheticCameraSource("front", 32, 32, fps: 30));
        using var small = Started(new SyntheticCameraSource("wrist", 16, 16, fps: 30));
        var sizes = Assert.Throws<ArgumentException>(() => CameraDatasetRecorder.Start(folder.Path, [front, small], new CameraDatasetOptions { Fps = 10 }));
        Assert.Contains("front 32x32, wrist 16x16", sizes.Message);
        using var dotted = Started(new SyntheticCameraSource("front.left", 32, 32, fps: 30));
        Assert.Contains("camera name 'front.left' may hold only", Assert.Throws<ArgumentException>(() => CameraDatasetRecorder.Start(folder.Path, [dotted], new CameraDatasetOptions { Fps = 10 })).Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path)); // refused before the dataset is made

        using (var recorder = CameraDatasetRecorder.Start(folder.Path, [front], new CameraDatasetOptions { Fps = 10, Task = "a" }))
        {
            // A second recorder into the same folder while the first records.
            Assert.Contains("another process is recording into this dataset", Assert.Throws<IOException>(() => CameraDatasetRecorder.Start(folder.Path, [front], new CameraDatasetOptions { Fps = 10, Task = "a" })).Message);
            recorder.Stop(Patience);
        }
        var other = Assert.Throws<InvalidDataException>(() => CameraDatasetRecorder.Start(folder.Path, [front], new CameraDatasetOptions { Fps = 10, Task = "b" }));
        Assert.Contains("another layout", other.Message);
        Assert.Contains("tasks a", other.Message);
        Assert.Contains("tasks b", other.Message);
    }

    [Fact]
    public async Task ADatasetOfCamerasAloneHasNoStateOrActionColumnAndReadsBackExactly()
    {
        using var folder = new TemporaryFolder();
        var layout = CameraDatasetLayout.Create(["front"], 8, 8, 10, "look");
        var dataset = EpisodeDataset.OpenOrCreate(folder.Path, layout);
        var episode = new Episode(layout, 0, "look");
        var images = Enumerable.Range(0, 3).Select(f => Enumerable.Range(0, 8 * 8 * 3).Select(i => (byte)(i * 3 + f * 50)).ToArray()).ToList();
        for (var f = 0; f < 3; f++)
            episode.Add([images[f]], [], [], [], float.NaN, f == 2, false, [], [f + 1, 1000L * f, 0]);
        dataset.Append(episode);

        var info = JsonNode.Parse(File.ReadAllText(Path.Combine(folder.Path, "meta", "info.json")))!["features"]!.AsObject();
        Assert.False(info.ContainsKey("action"));
        Assert.False(info.ContainsKey("observation.state"));
        Assert.Equal("image", info["observation.images.front"]!["dtype"]!.GetValue<string>());
        await using (var stream = File.OpenRead(dataset.DataPath(0)))
        {
            await using var reader = await ParquetReader.CreateAsync(stream);
            var columns = reader.Schema.Fields.Select(f => f.Name).ToList();
            Assert.DoesNotContain("action", columns);
            Assert.DoesNotContain("observation.state", columns);
            Assert.Contains("observation.images.front", columns);
        }
        var read = EpisodeDataset.Open(folder.Path).Read(0);
        for (var f = 0; f < 3; f++)
        {
            Assert.Equal(images[f], read.Image(0, f));
            Assert.Equal(0, read.State(f).Length);
            Assert.Equal(0, read.Action(f).Length);
            Assert.Equal(f + 1, read.Integer(f, CameraDatasetLayout.SequenceColumn("front")));
        }
    }
}
