using RobotRuntime.Datasets;
using RobotRuntime.Datasets.Recording;
using RobotRuntime.Tensors;

namespace RobotRuntime.Pretraining.Tests;

/// <summary>What <see cref="PretrainingData.Check"/> asks of a dataset before a run starts, and a run on a recording of cameras alone.</summary>
public sealed class PretrainingDataTests
{
    private static PretrainOptions Options(PretrainObjective objective, string architecture = "cnn", int steps = 1) =>
        new(objective, architecture, steps, BatchSize: 8, Seed: 3, TemporalOffset: 1, ShiftPad: 2, PoolEpisodes: 4, Group: 4);

    /// <summary>A recording of cameras alone: <paramref name="episodes"/> × <paramref name="frames"/> frames of the synthetic square (its first camera), no actions.</summary>
    private static EpisodeDataset CameraRecording(string folder, int width, int height, int episodes = 2, int frames = 6)
    {
        var layout = CameraDatasetLayout.Create(["front", "wrist"], width, height, 10, "watch");
        var dataset = EpisodeDataset.OpenOrCreate(folder, layout);
        for (var e = 0; e < episodes; e++)
        {
            var source = SyntheticEpisodes.Make(e, frames, seed: 2);
            var episode = new Episode(layout, e, "watch");
            for (var f = 0; f < frames; f++)
            {
                byte[] Crop(int camera)
                {
                    var image = new byte[width * height * 3];
                    for (var y = 0; y < height; y++)
                        source.Image(camera, f).AsSpan(y * SyntheticEpisodes.Size * 3, width * 3).CopyTo(image.AsSpan(y * width * 3));
                    return image;
                }
                episode.Add([Crop(0), Crop(1)], [], [], [], float.NaN, f == frames - 1, false, [], [f + 1, f * 100_000_000L, f + 1, f * 100_000_000L, 0]);
            }
            dataset.Append(episode);
        }
        return dataset;
    }

    [Theory]
    [InlineData(PretrainObjective.Idm, "the action taken between frames t and t + 1")]
    [InlineData(PretrainObjective.Bc, "the demonstrator's action at each frame")]
    [InlineData(PretrainObjective.Spr, "the actions taken between the frames of each window")]
    public void AnObjectiveThatLearnsFromActionsIsRefusedOnARecordingOfCamerasAloneNamingWhatWorks(PretrainObjective objective, string learns)
    {
        using var folder = new TemporaryFolder();
        var dataset = CameraRecording(Path.Combine(folder.Path, "data"), 32, 32);
        var run = Path.Combine(folder.Path, "run");

        var refused = Assert.Throws<ArgumentException>(() => new Pretrainer(run, dataset, Options(objective)));

        Assert.Equal($"{dataset.Folder} has no 'action' column: it is a recording of cameras alone (rr record --dataset). The {PretrainOptions.NameOf(objective)} objective learns from {learns}. "
            + "Objectives that learn from frames alone train on it: atc, video-dynamics, mae, curl, siammae (mae and siammae with --architecture vit-tiny).", refused.Message);
        Assert.False(Directory.Exists(run)); // refused before anything is written
    }

    [Theory]
    [InlineData(PretrainObjective.Atc, "cnn")]
    [InlineData(PretrainObjective.VideoDynamics, "cnn")]
    [InlineData(PretrainObjective.Mae, "vit-tiny")]
    [InlineData(PretrainObjective.Curl, "cnn")]
    [InlineData(PretrainObjective.SiamMae, "vit-tiny")]
    public void AFrameOnlyObjectiveTrainsOnARecordingOfCamerasAlone(PretrainObjective objective, string architecture)
    {
        TensorEngine.ThreadCount = 1;
        using var folder = new TemporaryFolder();
        var dataset = CameraRecording(Path.Combine(folder.Path, "data"), 32, 32);
        var losses = new List<float>();
        var trainer = new Pretrainer(Path.Combine(folder.Path, "run"), dataset, Options(objective, architecture, steps: 3));
        trainer.Run(p => losses.Add(p.Loss));
        Assert.Equal(3, losses.Count);
        Assert.All(losses, l => Assert.True(float.IsFinite(l) && l > 0, $"{objective}: loss {l}"));
        Assert.True(File.Exists(trainer.Export("test", "test")));
    }

    [Theory]
    [InlineData(24, 24, "cnn", "images are 24x24; the cnn encoder takes a side that is a multiple of 16 (four stride-2 layers); nothing resizes them. Record at such a size (rr record --size 64, rr collect --size 64), or train --architecture vit-tiny (sides that are multiples of 8).")]
    [InlineData(32, 16, "cnn", "images are 32x16; the cnn encoder takes square images (a side that is a multiple of 16: four stride-2 layers); nothing resizes them. Record at such a size (rr record --size 64, rr collect --size 64).")]
    [InlineData(20, 20, "vit-tiny", "images are 20x20; the vit-tiny encoder takes a side that is a multiple of 8 (its 8-pixel patches); nothing resizes them. Record at such a size (rr record --size 64, rr collect --size 64).")]
    public void ImagesTheEncoderCannotTakeAreRefusedNamingTheSizeItTakes(int width, int height, string architecture, string expected)
    {
        using var folder = new TemporaryFolder();
        var dataset = CameraRecording(Path.Combine(folder.Path, "data"), width, height, episodes: 1, frames: 2);
        var refused = Assert.Throws<ArgumentException>(() => new Pretrainer(Path.Combine(folder.Path, "run"), dataset, Options(PretrainObjective.Atc, architecture)));
        Assert.Equal($"{dataset.Folder}: {expected}", refused.Message);
    }
}
