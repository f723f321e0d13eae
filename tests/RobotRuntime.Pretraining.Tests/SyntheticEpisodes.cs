using RobotRuntime.Datasets;

namespace RobotRuntime.Pretraining.Tests;

/// <summary>
/// A small dataset without a simulator: a bright 6-pixel square moved by the recorded action
/// (dx, dy in [−1, 1] → up to 3 pixels a frame; random, or with steered the even "scripted" episodes steer it to the centre) over a plain background whose colour changes per
/// episode, seen by two "cameras" (the second mirrored). The state and environment state are the
/// square's centre in pixels.
/// </summary>
internal static class SyntheticEpisodes
{
    public const int Size = 32;

    public static DatasetLayout Layout { get; } = new("synthetic-square", 10, ["a", "b"], Size, Size,
        ["x (px)", "y (px)"], ["dx", "dy"], ["x (px)", "y (px)"], ["move"]);

    public static EpisodeDataset Create(string folder, int episodes, int frames, int seed = 1, bool steered = false)
    {
        var dataset = EpisodeDataset.OpenOrCreate(folder, Layout);
        for (var e = dataset.Episodes.Count; e < episodes; e++)
            dataset.Append(Make(e, frames, seed, steered));
        return dataset;
    }

    public static Episode Make(int index, int frames, int seed, bool steered = false)
    {
        var random = new Random(seed * 1000 + index);
        var episode = new Episode(Layout, index, "move");
        episode.Extra["seed"] = (seed * 1000 + index).ToString(System.Globalization.CultureInfo.InvariantCulture);
        episode.Extra["policy"] = index % 2 == 0 ? "scripted-noisy" : "random-walk";
        var background = new[] { (byte)random.Next(0, 90), (byte)random.Next(0, 90), (byte)random.Next(0, 90) };
        double x = random.Next(6, Size - 6), y = random.Next(6, Size - 6);
        for (var f = 0; f < frames; f++)
        {
            // With steered, the "scripted" (even) episodes steer the square towards the centre with a
            // little noise, as a demonstrator would: their action can be read from the image.
            // Otherwise every episode acts at random.
            var action = steered && index % 2 == 0
                ? new[] { Steer(x, random), Steer(y, random) }
                : new[] { (float)(2 * random.NextDouble() - 1), (float)(2 * random.NextDouble() - 1) };
            var a = Draw(x, y, background, mirror: false);
            var b = Draw(x, y, background, mirror: true);
            var position = new[] { (float)x, (float)y };
            var nx = Math.Clamp(x + 3 * action[0], 3, Size - 4);
            var ny = Math.Clamp(y + 3 * action[1], 3, Size - 4);
            episode.Add([a, b], position, action, position, (float)-Math.Abs(nx - Size / 2.0), f == frames - 1, false);
            x = nx;
            y = ny;
        }
        return episode;
    }

    private static float Steer(double position, Random random) =>
        (float)Math.Clamp((Size / 2.0 - position) / 8 + 0.1 * (2 * random.NextDouble() - 1), -1, 1);

    private static byte[] Draw(double cx, double cy, byte[] background, bool mirror)
    {
        var image = new byte[Size * Size * 3];
        for (var y = 0; y < Size; y++)
        {
            for (var x = 0; x < Size; x++)
            {
                var sx = mirror ? Size - 1 - x : x;
                var inside = Math.Abs(sx - cx) <= 3 && Math.Abs(y - cy) <= 3;
                var i = (y * Size + x) * 3;
                image[i] = inside ? (byte)250 : background[0];
                image[i + 1] = inside ? (byte)220 : background[1];
                image[i + 2] = inside ? (byte)40 : background[2];
            }
        }
        return image;
    }
}

/// <summary>A temporary folder removed at disposal.</summary>
internal sealed class TemporaryFolder : IDisposable
{
    public TemporaryFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rr-pretrain-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
