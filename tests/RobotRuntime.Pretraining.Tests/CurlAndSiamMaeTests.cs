using RobotRuntime.Agents.Model;
using RobotRuntime.Datasets;
using RobotRuntime.Tensors;

namespace RobotRuntime.Pretraining.Tests;

/// <summary>
/// What CURL and SiamMAE draw and compute, beyond what every objective is tested for in
/// <see cref="PretrainingTests"/> (the loss falls, a seed repeats, a killed run resumes, the export
/// equals the engine's forward); on the synthetic square dataset (32 px).
/// </summary>
public sealed class CurlAndSiamMaeTests
{
    private const int Size = SyntheticEpisodes.Size;
    private const int Pixels = 3 * Size * Size;

    private static PretrainOptions Options(PretrainObjective objective) =>
        new(objective, objective == PretrainObjective.SiamMae ? "vit-tiny" : "cnn", 1, BatchSize: 8, Seed: 3, ShiftPad: 3, PoolEpisodes: 4, Group: 1);

    [Fact]
    public void CurlsTwoViewsAreIndependentRandomCropsOfOneFrame()
    {
        using var folder = new TemporaryFolder();
        var dataset = SyntheticEpisodes.Create(Path.Combine(folder.Path, "data"), episodes: 6, frames: 10);
        var frames = AllFrames(dataset);
        var objective = new CurlObjective(Options(PretrainObjective.Curl), Size, new Random(1));

        // No shift: both views are the same dataset image exactly.
        var plain = (FramePairBatch)objective.Draw(new FrameSampler(dataset, new AgentRandom(4), 4, 0), 8, 1);
        Assert.Equal(plain.First, plain.Second);
        Assert.All(Enumerable.Range(0, 8), i => Assert.Contains(frames, f => Sample(plain.First, i).SequenceEqual(Crop(f, 0, 0, 0))));

        // Shift pad 3: each view is a crop of that same frame at its own shift, and the shifts differ.
        const int pad = 3;
        var batch = (FramePairBatch)objective.Draw(new FrameSampler(dataset, new AgentRandom(4), 4, pad), 8, 1);
        var differentShifts = 0;
        for (var i = 0; i < 8; i++)
        {
            var matches = (from f in frames
                           from s1 in Shifts(pad)
                           where Sample(batch.First, i).SequenceEqual(Crop(f, s1.Dx, s1.Dy, pad))
                           from s2 in Shifts(pad)
                           where Sample(batch.Second, i).SequenceEqual(Crop(f, s2.Dx, s2.Dy, pad))
                           select s1 == s2).ToList();
            Assert.NotEmpty(matches);
            differentShifts += matches.All(same => !same) ? 1 : 0;
        }
        // 49 shifts each: two independent draws coincide with probability 1/49 (edge clamping can make some look alike).
        Assert.True(differentShifts >= 5, $"only {differentShifts} of 8 pairs have views at different shifts");
    }

    [Fact]
    public void CurlsLossIsInfoNceOverBilinearLogitsOfQueriesAndMomentumKeys()
    {
        TensorEngine.ThreadCount = 1;
        using var folder = new TemporaryFolder();
        var dataset = SyntheticEpisodes.Create(Path.Combine(folder.Path, "data"), episodes: 6, frames: 10);
        var objective = new CurlObjective(Options(PretrainObjective.Curl), Size, new Random(1));
        // The momentum copy starts as the online encoder (as the trainer does) and is then moved away, so
        // that keys from the online encoder would give other logits.
        var (online, target) = objective.MomentumPairs();
        foreach (var (o, t) in online.Zip(target))
            o.Value.Span.CopyTo(t.Value.Span);
        foreach (var t in target)
        {
            var span = t.Value.Span;
            for (var i = 0; i < span.Length; i++)
                span[i] *= 0.8f;
        }
        var random = new Random(2);
        var w = objective.Bilinear.Value.Span;
        for (var i = 0; i < w.Length; i++)
            w[i] = (float)(0.1 * (random.NextDouble() - 0.5));
        var batch = (FramePairBatch)objective.Draw(new FrameSampler(dataset, new AgentRandom(4), 4, 3), 8, 1);

        float[] queries, keys;
        using (Tape.NoGrad())
        {
            var (q, k) = objective.Codes(batch);
            queries = q.Span.ToArray();
            keys = k.Span.ToArray();
        }
        // The keys are the momentum encoder's: the online encoder on the second views gives other codes.
        float[] onlineKeys;
        using (Tape.NoGrad())
            onlineKeys = objective.Codes(batch with { First = batch.Second }).Queries.Span.ToArray();
        Assert.True(keys.Zip(onlineKeys, (a, b) => Math.Abs(a - b)).Max() > 1e-3, "the keys equal the online encoder's codes");

        // InfoNCE in float64: logits_ij = q_i·W·k_j, loss = mean_i (log Σ_j exp(logits_ij) − logits_ii).
        const int n = 8, c = CurlObjective.CodeSize;
        var logits = new double[n, n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                double sum = 0;
                for (var a = 0; a < c; a++)
                {
                    for (var b = 0; b < c; b++)
                        sum += (double)queries[i * c + a] * w[a * c + b] * keys[j * c + b];
                }
                logits[i, j] = sum;
            }
        }
        double expected = 0;
        for (var i = 0; i < n; i++)
        {
            var max = Enumerable.Range(0, n).Max(j => logits[i, j]);
            expected += max + Math.Log(Enumerable.Range(0, n).Sum(j => Math.Exp(logits[i, j] - max))) - logits[i, i];
        }
        expected /= n;

        using var tape = new Tape();
        float loss;
        using (tape.Record())
        {
            var (value, parts) = objective.Loss(batch, new AgentRandom(1));
            loss = value.Item();
            Assert.Equal(loss, parts.Single(p => p.Name == "infonce").Value);
            tape.Backward(value);
        }
        // float32 logits of 128 × 128 products: 1e-4 relative.
        Assert.True(Math.Abs(loss - expected) <= 1e-4 * Math.Abs(expected), $"loss {loss}, InfoNCE recomputed in float64 {expected}");
        // Gradients reach the encoder, the head and W; never the momentum copies (moved by the EMA only).
        Assert.All(objective.TrainableParameters(), p => Assert.True(p.Grad is not null && p.Grad.Span.ToArray().Any(v => v != 0), $"{p.Name} got no gradient"));
        Assert.All(target, p => Assert.True(p.Grad is null || p.Grad.Span.ToArray().All(v => v == 0), $"momentum parameter {p.Name} got a gradient"));
    }

    [Fact]
    public void SiamMaePairsAreFramesExactlyTheGapApartInsideOneEpisodeWithOneShift()
    {
        using var folder = new TemporaryFolder();
        var dataset = SyntheticEpisodes.Create(Path.Combine(folder.Path, "data"), episodes: 6, frames: 9);
        var episodes = Enumerable.Range(0, dataset.Episodes.Count).Select(dataset.Read).ToList();
        const int gap = 4, size = 10;

        // No shift: both frames are dataset images, t and t + 4 of one episode and camera, never past its end.
        var sampler = new FrameSampler(dataset, new AgentRandom(4), 3, 0);
        var starts = new HashSet<int>();
        for (var draw = 0; draw < 4; draw++)
        {
            var batch = sampler.NextSpaced(size, gap, sameShift: true);
            Assert.Empty(batch.Actions);
            for (var i = 0; i < size; i++)
            {
                var matches = (from e in episodes
                               from camera in new[] { 0, 1 }
                               from t in Enumerable.Range(0, e.Length - gap)
                               where Sample(batch.First, i).SequenceEqual(Crop(e.Image(camera, t), 0, 0, 0))
                                     && Sample(batch.Second, i).SequenceEqual(Crop(e.Image(camera, t + gap), 0, 0, 0))
                               select t).ToList();
                starts.Add(Assert.Single(matches));
            }
        }
        // 9 frames and a gap of 4: t is 0 … 4, never later (t + 4 would run past the episode's end).
        Assert.Subset(new HashSet<int> { 0, 1, 2, 3, 4 }, starts);
        Assert.True(starts.Count >= 4, $"starts drawn: {string.Join(", ", starts)}");

        // Shift pad 3: both frames of a pair are cropped at one shift with sameShift, at independent ones without.
        const int pad = 3;
        int PairsAtOneShift(bool sameShift)
        {
            var batch = new FrameSampler(dataset, new AgentRandom(6), 3, pad).NextSpaced(size, gap, sameShift);
            return Enumerable.Range(0, size).Count(i =>
                (from e in episodes
                 from camera in new[] { 0, 1 }
                 from t in Enumerable.Range(0, e.Length - gap)
                 from s in Shifts(pad)
                 where Sample(batch.First, i).SequenceEqual(Crop(e.Image(camera, t), s.Dx, s.Dy, pad))
                       && Sample(batch.Second, i).SequenceEqual(Crop(e.Image(camera, t + gap), s.Dx, s.Dy, pad))
                 select t).Any());
        }
        Assert.Equal(size, PairsAtOneShift(sameShift: true));
        Assert.True(PairsAtOneShift(sameShift: false) < size - 3, "pairs with independent shifts also look like pairs at one shift: the check above cannot fail");
    }

    [Fact]
    public void SiamMaeLearnsOnlyFromEpisodesLongEnoughForThePair()
    {
        using var folder = new TemporaryFolder();
        var dataset = EpisodeDataset.OpenOrCreate(Path.Combine(folder.Path, "data"), SyntheticEpisodes.Layout);
        // Lengths 3, 9, 4, 9, 5, 9: with a gap of 4 only episodes of 5 frames or more hold a pair.
        int[] lengths = [3, 9, 4, 9, 5, 9];
        for (var e = 0; e < lengths.Length; e++)
            dataset.Append(SyntheticEpisodes.Make(e, lengths[e], 1));
        var objective = new SiamMaeObjective(Options(PretrainObjective.SiamMae), Size, new Random(1));
        var sampler = new FrameSampler(dataset, new AgentRandom(5), 3, 2, objective.Includes);
        for (var i = 0; i < 30; i++)
        {
            objective.Draw(sampler, 4, 1);
            var pool = sampler.SaveState().Split(';')[1].Split(',').Select(int.Parse);
            Assert.All(pool, e => Assert.True(lengths[e] >= 5, $"episode {e} of {lengths[e]} frames is in the pool"));
        }
        var tooLong = Options(PretrainObjective.SiamMae) with { SiamMaeGap = 9, Steps = 1 };
        var error = Assert.Throws<ArgumentException>(() => new Pretrainer(Path.Combine(folder.Path, "run"), dataset, tooLong));
        Assert.Contains("at least 10 frames", error.Message);
    }

    [Fact]
    public void SiamMaeHidesMostOfTheFutureFrameReadsThePastFrameAndScoresOnlyTheFuturesHiddenPatches()
    {
        TensorEngine.ThreadCount = 1;
        using var folder = new TemporaryFolder();
        var dataset = SyntheticEpisodes.Create(Path.Combine(folder.Path, "data"), episodes: 4, frames: 10);
        var pairs = new FrameSampler(dataset, new AgentRandom(2), 4, 0).NextSpaced(6, 4, sameShift: true);
        var objective = new SiamMaeObjective(Options(PretrainObjective.SiamMae), Size, new Random(1));
        // 32 px in 8-px patches: 16 patches, round(16 × 0.95) = 15 of the future frame hidden, 1 seen.
        Assert.Equal(16, objective.Tokens);
        Assert.Equal(15, objective.HiddenPerImage);
        // No tape: the outputs are plain tensors that outlive the call.
        MaeReconstruction Run(float[] past, float[] future) => objective.Reconstruct(past, future, 6, new AgentRandom(7));
        var result = Run(pairs.First, pairs.Second);
        Assert.All(result.Visible, v => Assert.InRange(Assert.Single(v), 0, 15));
        Assert.True(result.Visible.Select(v => v[0]).Distinct().Count() > 1, "every future frame got the same mask");

        // The loss, recomputed in double: the mean squared error over the future frames' hidden patches only.
        var values = objective.PatchValues;
        var predictions = result.Predictions.Span.ToArray();
        double hiddenSum = 0, allSum = 0;
        for (var n = 0; n < 6; n++)
        {
            for (var t = 0; t < 16; t++)
            {
                double sum = 0;
                for (var j = 0; j < values; j++)
                {
                    var k = (n * 16 + t) * values + j;
                    sum += (predictions[k] - (double)result.Targets[k]) * (predictions[k] - result.Targets[k]);
                }
                allSum += sum;
                if (!result.Visible[n].Contains(t))
                    hiddenSum += sum;
            }
        }
        var expected = hiddenSum / (6 * 15 * values);
        Assert.True(Math.Abs(result.Loss.Item() - expected) <= 1e-5 * expected, $"loss {result.Loss.Item()}, hidden patches' MSE {expected}");
        Assert.True(Math.Abs(allSum / (6 * 16 * values) - expected) > 1e-4 * expected, "the test cannot tell hidden-only from all patches");

        // Repainting a hidden patch of the future frame changes its target but no prediction (the encoder never
        // sees it); repainting the seen one, or a patch of the past frame, changes the predictions (the decoder
        // reads the past frame through its cross-attention); the past frame never changes a target.
        var hiddenPatch = Enumerable.Range(0, 16).First(t => !result.Visible[0].Contains(t));
        var hiddenRepainted = Run(pairs.First, Repaint(pairs.Second, hiddenPatch));
        Assert.Equal(predictions, hiddenRepainted.Predictions.Span.ToArray());
        Assert.NotEqual(result.Targets, hiddenRepainted.Targets);
        Assert.NotEqual(predictions, Run(pairs.First, Repaint(pairs.Second, result.Visible[0][0])).Predictions.Span.ToArray());
        var pastRepainted = Run(Repaint(pairs.First, 5), pairs.Second);
        Assert.NotEqual(predictions, pastRepainted.Predictions.Span.ToArray());
        Assert.Equal(result.Targets, pastRepainted.Targets);

        // Over many future frames each patch is seen about once in 16 (1,000 frames: 62.5 ± 7.7 at one standard deviation).
        var counts = new int[16];
        var random = new AgentRandom(11);
        var many = new float[100 * Pixels];
        for (var draw = 0; draw < 10; draw++)
        {
            foreach (var v in objective.Reconstruct(many, many, 100, random).Visible)
                counts[v[0]]++;
        }
        Assert.All(counts, c => Assert.InRange(c, 32, 93));

        // Another ratio; ratios that leave nothing seen; SiamMAE on a CNN.
        Assert.Equal(8, new SiamMaeObjective(Options(PretrainObjective.SiamMae) with { SiamMaeMaskRatio = 0.5f }, Size, new Random(1)).HiddenPerImage);
        Assert.Contains("at least one must be hidden and one seen",
            Assert.Throws<ArgumentException>(() => new SiamMaeObjective(Options(PretrainObjective.SiamMae) with { SiamMaeMaskRatio = 0.99f }, Size, new Random(1))).Message);
        Assert.Contains("vision-transformer", Assert.Throws<ArgumentException>(() => (Options(PretrainObjective.SiamMae) with { Architecture = "cnn" }).Validate()).Message);
    }

    [Fact]
    public void TheNewObjectivesParseByName()
    {
        Assert.Equal(PretrainObjective.Curl, PretrainOptions.Parse("curl"));
        Assert.Equal(PretrainObjective.SiamMae, PretrainOptions.Parse("siammae"));
        Assert.Equal("siammae", PretrainOptions.NameOf(PretrainObjective.SiamMae));
        Assert.Contains("curl or siammae", Assert.Throws<ArgumentException>(() => PretrainOptions.Parse("simclr")).Message);
        Assert.Contains("SiamMAE gap", Assert.Throws<ArgumentException>(() => (Options(PretrainObjective.SiamMae) with { SiamMaeGap = 0 }).Validate()).Message);
    }

    private static float[] Sample(float[] planes, int i) => planes.AsSpan(i * Pixels, Pixels).ToArray();

    private static List<byte[]> AllFrames(EpisodeDataset dataset) =>
        (from e in Enumerable.Range(0, dataset.Episodes.Count).Select(dataset.Read)
         from camera in new[] { 0, 1 }
         from t in Enumerable.Range(0, e.Length)
         select e.Image(camera, t)).ToList();

    private static IEnumerable<(int Dx, int Dy)> Shifts(int pad) =>
        from dy in Enumerable.Range(0, 2 * pad + 1) from dx in Enumerable.Range(0, 2 * pad + 1) select (dx, dy);

    /// <summary>The random-shift augmentation by its definition: pad by edge replication, take the S×S window at (dx, dy); planar floats pixels / 255 − 0.5.</summary>
    private static float[] Crop(byte[] rgb, int dx, int dy, int pad)
    {
        var planes = new float[Pixels];
        for (var y = 0; y < Size; y++)
        {
            for (var x = 0; x < Size; x++)
            {
                var source = (Math.Clamp(y + dy - pad, 0, Size - 1) * Size + Math.Clamp(x + dx - pad, 0, Size - 1)) * 3;
                for (var c = 0; c < 3; c++)
                    planes[c * Size * Size + y * Size + x] = rgb[source + c] / 255f - 0.5f;
            }
        }
        return planes;
    }

    /// <summary>A copy of the first image of a batch with 8×8 patch <paramref name="patch"/> painted a flat colour.</summary>
    private static float[] Repaint(float[] images, int patch)
    {
        var copy = (float[])images.Clone();
        int top = patch / 4 * 8, left = patch % 4 * 8;
        for (var c = 0; c < 3; c++)
        {
            for (var y = 0; y < 8; y++)
            {
                for (var x = 0; x < 8; x++)
                    copy[c * Size * Size + (top + y) * Size + left + x] = 0.45f - 0.1f * c - 0.05f * x;
            }
        }
        return copy;
    }
}
