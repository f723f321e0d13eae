using System.Text.Json.Nodes;
using RobotRuntime.Datasets;

namespace RobotRuntime.Pretraining.Tests;

public sealed class EpisodeDatasetTests
{
    [Fact]
    public void EpisodesReadBackExactlyAsWrittenImagesIncluded()
    {
        using var folder = new TemporaryFolder();
        var written = Enumerable.Range(0, 3).Select(i => SyntheticEpisodes.Make(i, 7, seed: 4)).ToList();
        var dataset = EpisodeDataset.OpenOrCreate(folder.Path, SyntheticEpisodes.Layout);
        foreach (var episode in written)
            dataset.Append(episode);

        var reopened = EpisodeDataset.Open(folder.Path);
        Assert.Equal(3, reopened.Episodes.Count);
        Assert.Equal(21, reopened.TotalFrames);
        for (var e = 0; e < 3; e++)
        {
            var read = reopened.Read(e);
            Assert.Equal(written[e].Length, read.Length);
            Assert.Equal(written[e].Extra["seed"], read.Extra["seed"]);
            for (var f = 0; f < read.Length; f++)
            {
                Assert.Equal(written[e].Image(0, f), read.Image(0, f)); // PNG is lossless
                Assert.Equal(written[e].Image(1, f), read.Image(1, f));
                Assert.Equal(written[e].State(f).ToArray(), read.State(f).ToArray());
                Assert.Equal(written[e].Action(f).ToArray(), read.Action(f).ToArray());
                Assert.Equal(written[e].Rewards[f], read.Rewards[f]);
                Assert.Equal(written[e].Done[f], read.Done[f]);
            }
        }
    }

    [Fact]
    public void TheFolderFollowsLeRobotsV21Layout()
    {
        using var folder = new TemporaryFolder();
        SyntheticEpisodes.Create(folder.Path, episodes: 2, frames: 5);
        var info = JsonNode.Parse(File.ReadAllText(Path.Combine(folder.Path, "meta", "info.json")))!;
        Assert.Equal("v2.1", info["codebase_version"]!.GetValue<string>());
        Assert.Equal(2, info["total_episodes"]!.GetValue<int>());
        Assert.Equal(10, info["total_frames"]!.GetValue<int>());
        Assert.Equal("image", info["features"]!["observation.images.a"]!["dtype"]!.GetValue<string>());
        Assert.Equal("float32", info["features"]!["action"]!["dtype"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(folder.Path, "data", "chunk-000", "episode_000001.parquet")));
        var lines = File.ReadAllLines(Path.Combine(folder.Path, "meta", "episodes.jsonl"));
        Assert.Equal(2, lines.Length);
        Assert.Equal("move", JsonNode.Parse(lines[1])!["tasks"]![0]!.GetValue<string>());
        Assert.Equal("{\"task_index\":0,\"task\":\"move\"}", File.ReadAllLines(Path.Combine(folder.Path, "meta", "tasks.jsonl")).Single());
    }

    [Fact]
    public void AKillBetweenTheEpisodeFileAndItsMetadataLosesNothing()
    {
        using var folder = new TemporaryFolder();
        SyntheticEpisodes.Create(folder.Path, episodes: 3, frames: 4);
        // A kill after episode 2's file was renamed into place but before meta/ was rewritten:
        // the metadata still lists two episodes, with a torn half line; a temporary file of an
        // episode that was being written is left behind.
        var episodes = Path.Combine(folder.Path, "meta", "episodes.jsonl");
        var lines = File.ReadAllLines(episodes);
        File.WriteAllText(episodes, lines[0] + "\n" + lines[1] + "\n" + lines[2][..10]);
        File.WriteAllText(Path.Combine(folder.Path, "data", "chunk-000", "episode_000003.parquet.tmp"), "half an episode");

        var reopened = EpisodeDataset.Open(folder.Path);
        Assert.Equal(3, reopened.Episodes.Count);
        Assert.Equal(4, reopened.Read(2).Length);
        Assert.Equal(3, File.ReadAllLines(episodes).Length);
        Assert.False(File.Exists(Path.Combine(folder.Path, "data", "chunk-000", "episode_000003.parquet.tmp")));
        reopened.Append(SyntheticEpisodes.Make(3, 4, seed: 1));
        Assert.Equal(4, EpisodeDataset.Open(folder.Path).Episodes.Count);
    }

    [Fact]
    public void AMissingEpisodeFileIsNamedNotSkipped()
    {
        using var folder = new TemporaryFolder();
        SyntheticEpisodes.Create(folder.Path, episodes: 3, frames: 4);
        File.Delete(Path.Combine(folder.Path, "data", "chunk-000", "episode_000001.parquet"));
        var error = Assert.Throws<InvalidDataException>(() => EpisodeDataset.Open(folder.Path));
        Assert.Contains("episode 1 is missing", error.Message);
    }

    [Fact]
    public void CollectingIntoAFolderOfAnotherLayoutIsRefusedSayingWhatDiffers()
    {
        using var folder = new TemporaryFolder();
        SyntheticEpisodes.Create(folder.Path, episodes: 1, frames: 2);
        var other = SyntheticEpisodes.Layout with { ImageWidth = 64, ImageHeight = 64 };
        var error = Assert.Throws<InvalidDataException>(() => EpisodeDataset.OpenOrCreate(folder.Path, other));
        Assert.Contains("32x32", error.Message);
        Assert.Contains("64x64", error.Message);
    }

    [Fact]
    public void BadFramesAreRefusedNamingWhatWasExpected()
    {
        var episode = new Episode(SyntheticEpisodes.Layout, 0, "move");
        var image = new byte[SyntheticEpisodes.Size * SyntheticEpisodes.Size * 3];
        var wrongSize = Assert.Throws<ArgumentException>(() => episode.Add([image, new byte[10]], [1, 2], [0, 0], [1, 2], 0, false, false));
        Assert.Contains("camera 'b'", wrongSize.Message);
        var wrongState = Assert.Throws<ArgumentException>(() => episode.Add([image, image], [1, 2, 3], [0, 0], [1, 2], 0, false, false));
        Assert.Contains("state has 3 values", wrongState.Message);
        Assert.Throws<ArgumentException>(() => new Episode(SyntheticEpisodes.Layout, 0, "fly"));
    }
}
