using System.Text.Json.Nodes;
using RobotRuntime.Datasets;
using RobotRuntime.Imaging;

namespace RobotRuntime.Pretraining.Tests;

/// <summary>
/// The dataset's additional per-frame columns and the journal a long episode is recorded into: what is
/// written reads back exactly, and a journal left behind by a kill becomes an episode on the next open.
/// </summary>
public sealed class EpisodeJournalTests
{
    private static readonly DatasetLayout Layout = SyntheticEpisodes.Layout with
    {
        Columns =
        [
            new DatasetColumn("cycle.index", DatasetColumnType.Int64),
            new DatasetColumn("cycle.deadline_missed", DatasetColumnType.Bool),
            new DatasetColumn("timing.encode_ms", DatasetColumnType.Float64),
            new DatasetColumn("policy.action", DatasetColumnType.Float64Vector, ["dx", "dy", "gripper"]),
        ],
    };

    /// <summary>Frame <paramref name="i"/> of a synthetic recording: a shade per frame, values that say which frame they are.</summary>
    private static DatasetFrame Frame(DatasetFrame frame, int i)
    {
        for (var c = 0; c < frame.Png.Length; c++)
            frame.Png[c] = ImageCodecs.EncodePng(Image(i, c), SyntheticEpisodes.Size, SyntheticEpisodes.Size);
        frame.State[0] = i;
        frame.State[1] = -i;
        frame.Action[0] = i / 1000f;
        frame.Action[1] = 0.5f;
        frame.EnvironmentState[0] = float.NaN;
        frame.EnvironmentState[1] = 2;
        frame.Reward = -i;
        frame.Done = false;
        frame.Success = i % 7 == 0;
        frame.Numbers[0] = i * 0.25;                  // timing.encode_ms
        frame.Numbers[1] = Math.PI * i;               // policy.action: exact doubles
        frame.Numbers[2] = 1e-12 * i;
        frame.Numbers[3] = double.NaN;
        frame.Integers[0] = 1_700_000_000_000_000_000 + i;   // beyond a double's exact integers
        frame.Integers[1] = i % 3 == 0 ? 1 : 0;
        return frame;
    }

    private static byte[] Image(int i, int camera)
    {
        var image = new byte[SyntheticEpisodes.Size * SyntheticEpisodes.Size * 3];
        for (var p = 0; p < image.Length; p++)
            image[p] = (byte)(i * 7 + camera * 50 + p % 13);
        return image;
    }

    private static void AssertFrame(Episode episode, int frame, int i)
    {
        Assert.Equal(Image(i, 0), episode.Image(0, frame));
        Assert.Equal(Image(i, 1), episode.Image(1, frame));
        Assert.Equal(new float[] { i, -i }, episode.State(frame).ToArray());
        Assert.Equal(i / 1000f, episode.Action(frame)[0]);
        Assert.True(float.IsNaN(episode.EnvironmentState(frame)[0]));
        Assert.Equal(-i, episode.Rewards[frame]);
        Assert.Equal(i % 7 == 0, episode.Success[frame]);
        Assert.Equal(i * 0.25, episode.Numbers(frame, "timing.encode_ms")[0]);
        var policy = episode.Numbers(frame, "policy.action");
        Assert.Equal(Math.PI * i, policy[0]);
        Assert.Equal(1e-12 * i, policy[1]);
        Assert.True(double.IsNaN(policy[2]));
        Assert.Equal(1_700_000_000_000_000_000 + i, episode.Integer(frame, "cycle.index"));
        Assert.Equal(i % 3 == 0 ? 1 : 0, episode.Integer(frame, "cycle.deadline_missed"));
    }

    private static string NewJournal(EpisodeDataset dataset, string name) =>
        Path.Combine(Directory.CreateDirectory(dataset.JournalFolder).FullName, name + EpisodeJournal.Extension);

    [Fact]
    public void AdditionalColumnsReadBackExactlyAndAreDescribedInInfoJson()
    {
        using var folder = new TemporaryFolder();
        var dataset = EpisodeDataset.OpenOrCreate(folder.Path, Layout);
        var episode = new Episode(Layout, 0, "move");
        var frame = new DatasetFrame(Layout);
        for (var i = 0; i < 5; i++)
        {
            Frame(frame, i);
            episode.Add([Image(i, 0), Image(i, 1)], frame.State, frame.Action, frame.EnvironmentState, frame.Reward, i == 4, frame.Success, frame.Numbers, frame.Integers);
        }
        dataset.Append(episode);

        var read = EpisodeDataset.Open(folder.Path).Read(0);
        for (var i = 0; i < 5; i++)
            AssertFrame(read, i, i);
        var features = JsonNode.Parse(File.ReadAllText(Path.Combine(folder.Path, "meta", "info.json")))!["features"]!;
        Assert.Equal("int64", features["cycle.index"]!["dtype"]!.GetValue<string>());
        Assert.Equal("bool", features["cycle.deadline_missed"]!["dtype"]!.GetValue<string>());
        Assert.Equal("float64", features["timing.encode_ms"]!["dtype"]!.GetValue<string>());
        Assert.Equal(3, features["policy.action"]!["shape"]![0]!.GetValue<int>());
        Assert.Equal("gripper", features["policy.action"]!["names"]![2]!.GetValue<string>());

        // Another set of columns is another layout: refused, as any other difference is.
        Assert.Throws<InvalidDataException>(() => EpisodeDataset.OpenOrCreate(folder.Path, SyntheticEpisodes.Layout));
        // A frame without the additional columns' values is refused naming them.
        var error = Assert.Throws<ArgumentException>(() => new Episode(Layout, 1, "move").Add([Image(0, 0), Image(0, 1)], [0f, 0f], [0f, 0f], [0f, 0f], 0, false, false));
        Assert.Contains("additional column number", error.Message);
    }

    [Theory]
    [InlineData("action", DatasetColumnType.Float64, "one of the standard columns")]
    [InlineData("observation.images.a", DatasetColumnType.Bool, "one of the standard columns")]
    [InlineData("policy.action", DatasetColumnType.Float64Vector, "needs one name per value")]
    public void ABadAdditionalColumnIsRefusedNamingIt(string name, DatasetColumnType type, string expected)
    {
        var layout = SyntheticEpisodes.Layout with { Columns = [new DatasetColumn(name, type)] };
        var error = Assert.Throws<ArgumentException>(layout.Validate);
        Assert.Contains($"'{name}'", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void AClosedJournalBecomesAnEpisodeInRowGroupsWithItsFacts()
    {
        using var folder = new TemporaryFolder();
        var dataset = EpisodeDataset.OpenOrCreate(folder.Path, Layout);
        const int frames = 2 * EpisodeDataset.JournalRowGroupRows + 40;
        var path = NewJournal(dataset, "000001");
        using (var journal = EpisodeJournal.Create(path, Layout, "move", new Dictionary<string, string> { ["policy"] = "scripted-reach", ["dropped_cycles"] = "0" }))
        {
            var frame = new DatasetFrame(Layout);
            for (var i = 0; i < frames; i++)
            {
                journal.Append(Frame(frame, i));
                if (i == 100)
                    journal.AppendExtra(new Dictionary<string, string> { ["dropped_cycles"] = "3" });
            }
            journal.Close();
        }

        var entry = dataset.AppendJournal(path)!;
        Assert.False(File.Exists(path));
        Assert.Equal(frames, entry.Length);
        Assert.Equal("3", entry.Extra["dropped_cycles"]);
        Assert.Equal("scripted-reach", entry.Extra["policy"]);
        Assert.False(entry.Extra.ContainsKey("recovered"));

        // The file's own metadata carries the whole episode's entry (meta/ is rebuilt from it).
        File.Delete(Path.Combine(folder.Path, "meta", "episodes.jsonl"));
        var reopened = EpisodeDataset.Open(folder.Path);
        Assert.Equal(frames, reopened.Episodes.Single().Length);
        Assert.Equal("3", reopened.Episodes[0].Extra["dropped_cycles"]);

        var parts = reopened.ReadParts(0).ToList();
        Assert.Equal([0, EpisodeDataset.JournalRowGroupRows, 2 * EpisodeDataset.JournalRowGroupRows], parts.Select(p => p.FirstFrame));
        foreach (var (first, part) in parts)
        {
            for (var f = 0; f < part.Length; f++)
            {
                AssertFrame(part, f, first + f);
                Assert.Equal(first + f == frames - 1, part.Done[f]); // the last frame ends the episode
            }
        }
        Assert.Equal(frames, reopened.Read(0).Length);
    }

    [Fact]
    public void AJournalLeftByAKillIsRecoveredOnOpenUpToItsLastWholeRecord()
    {
        using var folder = new TemporaryFolder();
        var dataset = EpisodeDataset.OpenOrCreate(folder.Path, Layout);
        var path = NewJournal(dataset, "000001");
        var journal = EpisodeJournal.Create(path, Layout, "move", new Dictionary<string, string> { ["run"] = "r1" });
        var frame = new DatasetFrame(Layout);
        for (var i = 0; i < 12; i++)
            journal.Append(Frame(frame, i));
        journal.Flush(toDisk: false);
        journal.Dispose(); // killed: no close record
        // ... in the middle of writing the next record.
        using (var torn = new FileStream(path, FileMode.Append))
            torn.Write([200, 1, 0, 0, 9, 9, 9, 9, 1, 2, 3]);
        // An empty journal (killed as it was made) adds nothing.
        EpisodeJournal.Create(NewJournal(dataset, "000002"), Layout, "move", new Dictionary<string, string>()).Dispose();

        var recovered = EpisodeDataset.Open(folder.Path);
        var entry = recovered.Episodes.Single();
        Assert.Equal(12, entry.Length);
        Assert.Equal("true", entry.Extra["recovered"]);
        Assert.Equal("11", entry.Extra["recovered_torn_bytes"]);
        Assert.Equal("r1", entry.Extra["run"]);
        var episode = recovered.Read(0);
        for (var i = 0; i < 12; i++)
            AssertFrame(episode, i, i);
        Assert.True(episode.Done[^1]);
        Assert.Empty(Directory.GetFiles(recovered.JournalFolder, "*" + EpisodeJournal.Extension));
    }

    [Fact]
    public void AJournalStillBeingWrittenIsLeftAloneAndSoIsADatasetAnotherWriterRecordsInto()
    {
        using var folder = new TemporaryFolder();
        var dataset = EpisodeDataset.OpenOrCreate(folder.Path, Layout);
        var path = NewJournal(dataset, "000001");
        using var journal = EpisodeJournal.Create(path, Layout, "move", new Dictionary<string, string>());
        journal.Append(Frame(new DatasetFrame(Layout), 0));
        journal.Flush(toDisk: false);

        Assert.Empty(EpisodeDataset.Open(folder.Path).Episodes);
        Assert.True(File.Exists(path));

        // A writer holding the journal folder's lock recovers journals itself: others do not.
        journal.Dispose();
        using (var writer = dataset.TryLockJournals())
        {
            Assert.NotNull(writer);
            Assert.Null(dataset.TryLockJournals());
            Assert.Empty(EpisodeDataset.Open(folder.Path).Episodes);
        }
        Assert.Single(EpisodeDataset.Open(folder.Path).Episodes);
    }
}
