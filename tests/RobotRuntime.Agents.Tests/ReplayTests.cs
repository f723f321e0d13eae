using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Replay;

namespace RobotRuntime.Agents.Tests;

public class ReplayTests
{
    private static readonly ObservationLayout Layout = new(FeatureKind.Floats, 6, 1, 0, 3, 2, 2);

    [Fact]
    public void CommittedRecordsAreSeenByASecondMappingWithoutFlushOrDispose()
    {
        // A killed writer never flushes or unmaps; what another mapping of the file sees is what survives.
        string folder = TestConfigs.TempFolder();
        string path = Path.Combine(folder, "replay.bin");
        var writer = ReplayBuffer.Create(path, Layout, 64);
        var features = new byte[Layout.FeatureBytes];
        for (int i = 0; i < 10; i++)
        {
            features[0] = (byte)i;
            writer.Append(features, [i, -i], [0.5f, -0.5f], i * 0.1f, ReplayFlags.HasAction, episode: 0, step: i);
        }
        using var reader = ReplayBuffer.Open(path, Layout, 64);
        Assert.Equal(10, reader.Total);
        Assert.Equal(7, reader.Features(7)[0]);
        Assert.Equal(-7f, reader.Proprioception(7)[1]);
        Assert.Equal(0.7f, reader.Reward(7), 6);
        writer.Dispose();
    }

    [Fact]
    public void OpeningWithAnotherLayoutSaysWhatDiffers()
    {
        string path = Path.Combine(TestConfigs.TempFolder(), "replay.bin");
        ReplayBuffer.Create(path, Layout, 64).Dispose();
        var e = Assert.Throws<InvalidDataException>(() => ReplayBuffer.Open(path, Layout with { FeatureLength = 7 }, 64));
        Assert.Contains("features=6", e.Message);
        Assert.Contains("features=7", e.Message);
        Assert.Throws<IOException>(() => ReplayBuffer.Create(path, Layout, 64));
    }

    [Fact]
    public void SequencesStayInsideOneEpisodeAndStacksRepeatTheFirstFrame()
    {
        string path = Path.Combine(TestConfigs.TempFolder(), "replay.bin");
        using var replay = ReplayBuffer.Create(path, Layout, 64);
        var features = new byte[Layout.FeatureBytes];
        for (int episode = 0; episode < 2; episode++)
        {
            for (int t = 0; t < 5; t++)
            {
                replay.Append(features, [0, 0], t < 4 ? [1f, 1f] : [], 0f, t < 4 ? ReplayFlags.HasAction : ReplayFlags.None, episode, t);
            }
        }
        Assert.True(replay.IsValidSequence(0, 3));
        Assert.True(replay.IsValidSequence(1, 3));
        Assert.False(replay.IsValidSequence(2, 3));   // would cross into episode 1
        Assert.True(replay.IsValidSequence(5, 3));
        Assert.Equal(5, replay.StackSource(6, 2));     // clamped at episode 1's first record
        Assert.Equal(7, replay.StackSource(9, 2));
    }

    [Fact]
    public void ReplayStoresEmbeddingsInAFractionOfTheImageBytes()
    {
        // Bytes per transition per mode, the figures docs/agent.md reports: one 64×64 camera as
        // bytes (scratch/full) against a 512-d float embedding (frozen pool-conv), a 768-d trunk
        // output (partial pool-trunk) and a 768-d ViT CLS token.
        int image = ReplayBuffer.RecordBytesFor(new ObservationLayout(FeatureKind.Images, 64 * 64 * 3, 1, 64, 3, 12, 4));
        int frozen = ReplayBuffer.RecordBytesFor(new ObservationLayout(FeatureKind.Floats, 512, 1, 0, 3, 12, 4));
        int vit = ReplayBuffer.RecordBytesFor(new ObservationLayout(FeatureKind.Floats, 768, 1, 0, 3, 12, 4));
        Assert.Equal(12368, image);
        Assert.Equal(2128, frozen);
        Assert.Equal(3152, vit);
        int image224 = ReplayBuffer.RecordBytesFor(new ObservationLayout(FeatureKind.Images, 224 * 224 * 3, 1, 224, 3, 12, 4));
        Assert.True(vit < 0.03 * image224);
    }
}
