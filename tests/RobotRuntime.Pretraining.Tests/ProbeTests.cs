namespace RobotRuntime.Pretraining.Tests;

public sealed class ProbeTests
{
    private static readonly (string, int[])[] Groups = [("position", [0, 1, 2]), ("absent", [3])];

    /// <summary>Embeddings that hold the state linearly (plus nuisance dimensions and a little noise), one that holds nothing, and one that is the first shifted by a constant.</summary>
    private static List<ProbeSamples> Conditions()
    {
        var random = new Random(7);
        const int dimension = 24, episodes = 20, frames = 15;
        var mixing = new double[dimension, 3];
        for (var d = 0; d < dimension; d++)
        {
            for (var k = 0; k < 3; k++)
                mixing[d, k] = 2 * random.NextDouble() - 1;
        }
        var states = new List<float[]>();
        var owners = new List<int>();
        for (var e = 0; e < episodes; e++)
        {
            for (var f = 0; f < frames; f++)
            {
                states.Add([(float)random.NextDouble(), (float)random.NextDouble(), (float)random.NextDouble(), float.NaN]);
                owners.Add(e);
            }
        }
        var linear = states.Select(s => Enumerable.Range(0, dimension).Select(d =>
            (float)(mixing[d, 0] * s[0] + mixing[d, 1] * s[1] + mixing[d, 2] * s[2] + 0.001 * (2 * random.NextDouble() - 1))).ToArray()).ToList();
        var noise = states.Select(_ => Enumerable.Range(0, dimension).Select(_ => (float)random.NextDouble()).ToArray()).ToList();
        var shifted = linear.Select(v => v.Select(x => x + 0.5f).ToArray()).ToList();
        return [new("reference", linear, states, owners), new("noise", noise, states, owners), new("shifted", shifted, states, owners)];
    }

    [Fact]
    public void AProbeRecoversAKnownLinearSignalAndNotNoise()
    {
        var results = RepresentationProbe.Run(Conditions(), Groups);
        // The signal is exact up to noise of 0.001 against a spread of ≈ 0.3: R² above 0.999 on held-out episodes.
        Assert.True(results[0].R2["position"] > 0.999, $"R² on the linear signal {results[0].R2["position"]}");
        // Uniform noise carries no state: R² at or below 0 (up to chance).
        Assert.True(results[1].R2["position"] < 0.1, $"R² on noise {results[1].R2["position"]}");
        // A group the reference has no values for is not probed.
        Assert.False(results[0].R2.ContainsKey("absent"));
    }

    [Fact]
    public void InvarianceIsZeroForTheSameEmbeddingsAndGrowsWithTheShift()
    {
        var results = RepresentationProbe.Run(Conditions(), Groups);
        Assert.Equal(0, results[0].Invariance, 12);
        Assert.True(results[2].Invariance > 0.1, $"a constant shift of 0.5 in every dimension: invariance {results[2].Invariance}");
        Assert.True(results[1].Invariance > results[2].Invariance);
    }

    [Fact]
    public void TooFewEpisodesToSplitIsRefused()
    {
        var few = Conditions().Select(c => c with
        {
            Embeddings = c.Embeddings.Take(30).ToList(),
            States = c.States.Take(30).ToList(),
            Episodes = c.Episodes.Take(30).ToList(),
        }).ToList();
        var error = Assert.Throws<ArgumentException>(() => RepresentationProbe.Run(few, Groups));
        Assert.Contains("at least 5 episodes", error.Message);
    }
}
