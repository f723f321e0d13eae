using RobotRuntime.Datasets;
using RobotRuntime.Datasets.Recording;
using RobotRuntime.Telemetry;
using Columns = RobotRuntime.Datasets.Recording.DeploymentLayout.Columns;

namespace RobotRuntime.EndToEnd.Tests;

/// <summary>
/// <c>rr run --record</c> killed with SIGKILL mid-run: the next open of the dataset turns the journal of
/// the episode being recorded into an episode, and it holds every cycle of the run log up to the last
/// one handed to the operating system — complete and consistent.
/// </summary>
public sealed class RecordingKillTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rr-record-kill-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void AKilledRecordingKeepsEveryCycleUpToItsLastFlushCompleteAndConsistent()
    {
        const int rate = 30;
        var cell = Path.Combine(_folder, "cell.yaml");
        File.WriteAllText(cell, $$"""
            rate_hz: {{rate}}
            runs_folder: {{Path.Combine(_folder, "runs")}}
            arm: {kind: sim, task: reach, seed: 2}
            cameras:
              - {name: front, backend: synthetic, width: 64, height: 64, fps: 60}
              - {name: wrist, backend: synthetic, width: 64, height: 64, fps: 60}
            policy: {kind: scripted-reach, goal: [0.3, 0.05, 0.15]}
            safety: {max_deadline_misses: 25, max_frame_age: 500ms}

            """);
        var data = Path.Combine(_folder, "data");
        var runs = Path.Combine(_folder, "runs");
        using (var rr = RrChild.Start("run", "--config", cell, "--record", data))
        {
            rr.WaitFor(l => l.StartsWith("rr: armed", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            // Killed once the run log on disk holds 4 s of cycles at the configured rate, not after a fixed sleep: a
            // loaded machine runs fewer cycles in any given time (late ticks are skipped). 4 s is more than the loss
            // allowed below, so a recorder that flushed only when an episode ends would lose more than that.
            string? runLog = null;
            rr.WaitUntil(() =>
            {
                runLog ??= Directory.Exists(runs) ? Directory.GetDirectories(runs).Select(d => Path.Combine(d, "run.rrlog")).SingleOrDefault(File.Exists) : null;
                return runLog is not null && RunLog.Read(runLog).Records.Count >= 4 * rate;
            }, TimeSpan.FromSeconds(60), $"{4 * rate} cycles in the run log");
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(data, "journal"), "*" + EpisodeJournal.Extension));
            rr.KillHard();
        }

        var log = RunLog.Read(Path.Combine(Directory.GetDirectories(runs).Single(), "run.rrlog")).Records;
        var dataset = EpisodeDataset.Open(data); // recovers the journals the kill left
        Assert.Empty(Directory.GetFiles(dataset.JournalFolder, "*" + EpisodeJournal.Extension));
        Assert.NotEmpty(dataset.Episodes);
        Assert.Contains(dataset.Episodes, e => e.Extra.GetValueOrDefault("recovered") == "true");

        var recorded = new List<long>();
        long dropped = 0;
        var delivered = new bool[2];
        for (var e = 0; e < dataset.Episodes.Count; e++)
        {
            var episode = dataset.Read(e); // decodes every image (PNG) at the layout's size
            for (var f = 0; f < episode.Length; f++)
            {
                recorded.Add(episode.Integer(f, Columns.CycleIndex));
                dropped += episode.Integer(f, Columns.DroppedBefore);
                Assert.Equal(1, episode.Integer(f, Columns.StateValid));
                Assert.All(episode.State(f).ToArray(), v => Assert.True(float.IsFinite(v)));
                // Rendered frames are not blank. A cycle before a camera's first frame (on a busy machine the
                // first cycles can come before it) keeps that camera's blank buffer: sequence 0, leading frames only.
                for (var c = 0; c < 2; c++)
                {
                    if (episode.Integer(f, $"observation.images.{dataset.Layout.Cameras[c]}.sequence") > 0)
                    {
                        Assert.Contains(episode.Image(c, f), b => b != 0);
                        delivered[c] = true;
                    }
                    else
                    {
                        Assert.False(delivered[c], $"cycle {episode.Integer(f, Columns.CycleIndex)} has no {dataset.Layout.Cameras[c]} frame after earlier ones had");
                        Assert.DoesNotContain(episode.Image(c, f), b => b != 0);
                        Assert.Equal(RecordedCycle.PolicyNotRun, episode.Integer(f, Columns.PolicyStatus));
                    }
                }
            }
        }
        Assert.Equal([true, true], delivered);
        // Every cycle of the run log from the first to the last recorded one is there, in order, but for
        // the ones the recording says it dropped.
        var logged = log.Select(r => r.CycleIndex).ToList();
        var upTo = logged.IndexOf(recorded[^1]);
        Assert.True(upTo >= 0, $"the last recorded cycle {recorded[^1]} is not in the run log");
        Assert.Equal(logged[0], recorded[0]);
        Assert.Equal(upTo + 1 - dropped, recorded.Count);
        Assert.Equal(logged.Take(upTo + 1).Where(recorded.Contains), recorded);
        // What the kill lost: the cycles after the last flush (at most 100 ms of those written) and the ones still in the
        // ring, which the writer drains behind the loop. On a busy machine the writer falls behind (PNG encoding, and
        // the forced write to disk every second, which a busy disk stretches), so 3 s of cycles are allowed: 30 flush
        // intervals, and less than the 4 s logged before the kill, all of which a recorder that did not flush would lose.
        var lost = logged.Count - 1 - upTo;
        Assert.True(lost <= 3 * rate, $"the kill lost {lost} of {logged.Count} cycles; a flush comes at least every 100 ms");
        // The recording kept up: cycles are dropped only when the ring is full (64 MB: 2,621 of these cycles, 87 s), so
        // of the 4 × rate or more cycles logged, at least the rate the loss above leaves are recorded.
        Assert.True(recorded.Count >= rate, $"{recorded.Count} of {logged.Count} logged cycles recorded, {dropped} dropped");
    }
}
