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
        using (var rr = RrChild.Start("run", "--config", cell, "--record", data))
        {
            rr.WaitFor(l => l.StartsWith("rr: armed", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            Thread.Sleep(3000);
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(data, "journal"), "*" + EpisodeJournal.Extension));
            rr.KillHard();
        }

        var log = RunLog.Read(Path.Combine(Directory.GetDirectories(Path.Combine(_folder, "runs")).Single(), "run.rrlog")).Records;
        var dataset = EpisodeDataset.Open(data); // recovers the journals the kill left
        Assert.Empty(Directory.GetFiles(dataset.JournalFolder, "*" + EpisodeJournal.Extension));
        Assert.NotEmpty(dataset.Episodes);
        Assert.Contains(dataset.Episodes, e => e.Extra.GetValueOrDefault("recovered") == "true");

        var recorded = new List<long>();
        long dropped = 0;
        for (var e = 0; e < dataset.Episodes.Count; e++)
        {
            var episode = dataset.Read(e); // decodes every image (PNG) at the layout's size
            for (var f = 0; f < episode.Length; f++)
            {
                recorded.Add(episode.Integer(f, Columns.CycleIndex));
                dropped += episode.Integer(f, Columns.DroppedBefore);
                Assert.Equal(1, episode.Integer(f, Columns.StateValid));
                Assert.All(episode.State(f).ToArray(), v => Assert.True(float.IsFinite(v)));
                Assert.Contains(episode.Image(0, f), b => b != 0);
                Assert.Contains(episode.Image(1, f), b => b != 0);
            }
        }
        // Every cycle of the run log from the first to the last recorded one is there, in order, but for
        // the ones the recording says it dropped.
        var logged = log.Select(r => r.CycleIndex).ToList();
        var upTo = logged.IndexOf(recorded[^1]);
        Assert.True(upTo >= 0, $"the last recorded cycle {recorded[^1]} is not in the run log");
        Assert.Equal(logged[0], recorded[0]);
        Assert.Equal(upTo + 1 - dropped, recorded.Count);
        Assert.Equal(logged.Take(upTo + 1).Where(recorded.Contains), recorded);
        // What the kill lost: the cycles after the last flush (at most 100 ms of them, and the ones still in the ring).
        var lost = logged.Count - 1 - upTo;
        Assert.True(lost <= rate, $"the kill lost {lost} of {logged.Count} cycles; a flush comes at least every 100 ms");
        Assert.True(recorded.Count >= 2 * rate, $"{recorded.Count} cycles recorded in 3 s at {rate} Hz");
    }
}
