using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Replay;
using RobotRuntime.Agents.Training;

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
    public void APaddingObservationIsNoConsistencyTargetWhileItsTerminalTransitionKeepsItsReward()
    {
        // Offline episodes that end by success are closed with a padding record (the dataset holds no observation
        // after the last action): the sampler marks the step before it as having no recorded next observation.
        var layout = new ObservationLayout(FeatureKind.Floats, 6, 1, 0, 1, 2, 2);
        string path = Path.Combine(TestConfigs.TempFolder(), "replay.bin");
        using var replay = ReplayBuffer.Create(path, layout, 64);
        var features = new byte[layout.FeatureBytes];
        for (int episode = 0; episode < 3; episode++)
        {
            for (int t = 0; t < 3; t++)
            {
                features[0] = (byte)(10 * episode + t);
                replay.Append(features, [t, 0], [0.5f, -0.5f], t == 2 ? 1f : 0.2f, ReplayFlags.HasAction | (t == 2 ? ReplayFlags.Terminated : 0), episode, t);
            }
            replay.Append(features, [2, 0], [], 0f, ReplayFlags.Padding, episode, 3);
        }
        var config = TestConfigs.Tiny() with { BatchSize = 8 };
        var batch = new TrainingBatch(layout, config.BatchSize, config.Horizon);
        new BatchSampler(replay, new AgentRandom(3), 0).Fill(batch);
        for (int i = 0; i < batch.BatchSize; i++)
        {
            for (int t = 0; t < batch.Horizon; t++)
            {
                int row = t * batch.BatchSize + i;
                bool last = batch.Terminated[row] == 1f; // every sequence of 3 steps ends on the terminal step
                Assert.Equal(last ? 0f : 1f, batch.NextObserved[row]);
                Assert.Equal(last ? 1f : 0.2f, batch.Rewards[row]);
            }
        }

        // What the padding observation holds changes no consistency loss; recorded next observations do.
        float Consistency(Action<TrainingBatch> change, bool masked)
        {
            var model = new WorldModel(config, layout, seed: 4);
            using var learner = new TdMpc2Learner(model, 100, new AgentRandom(5));
            var copy = new TrainingBatch(layout, config.BatchSize, config.Horizon);
            batch.Observations.CopyTo(copy.Observations, 0);
            batch.Proprioception.CopyTo(copy.Proprioception, 0);
            batch.Actions.CopyTo(copy.Actions, 0);
            batch.Rewards.CopyTo(copy.Rewards, 0);
            batch.Terminated.CopyTo(copy.Terminated, 0);
            if (masked)
                batch.NextObserved.CopyTo(copy.NextObserved, 0);
            change(copy);
            return learner.Update(copy).Consistency;
        }
        void Scramble(TrainingBatch b)
        {
            // The last observation (step H) of each sequence is the padding one.
            var last = b.Observations.AsSpan(b.Horizon * b.BatchSize * b.ObservationWidth);
            for (int k = 0; k < last.Length; k++)
                last[k] = 3f + k % 7;
        }
        float reference = Consistency(_ => { }, masked: true);
        Assert.Equal(reference, Consistency(Scramble, masked: true));
        Assert.NotEqual(reference, Consistency(Scramble, masked: false));
        Assert.True(reference > 0f);
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
