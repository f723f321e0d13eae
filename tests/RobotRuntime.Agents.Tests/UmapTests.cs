using RobotRuntime.Agents.Analysis;
using Xunit.Abstractions;

namespace RobotRuntime.Agents.Tests;

public class UmapTests(ITestOutputHelper output)
{
    private static double Normal(Random random)
    {
        double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Four Gaussian clusters of 75 points in 50-D: centres ~ N(0, 1.5²·I), noise N(0, I).</summary>
    private static (double[][] Points, int[] Labels) Clusters(int seed)
    {
        var random = new Random(seed);
        const int clusters = 4, each = 75, dimension = 50;
        var centres = Enumerable.Range(0, clusters).Select(_ => Enumerable.Range(0, dimension).Select(_ => 1.5 * Normal(random)).ToArray()).ToArray();
        var points = new List<double[]>();
        var labels = new List<int>();
        for (int c = 0; c < clusters; c++)
        {
            for (int i = 0; i < each; i++)
            {
                points.Add(centres[c].Select(v => v + Normal(random)).ToArray());
                labels.Add(c);
            }
        }
        return (points.ToArray(), labels.ToArray());
    }

    private static double[][] RandomProjection(double[][] points, int seed)
    {
        var random = new Random(seed);
        int d = points[0].Length;
        var u = Enumerable.Range(0, d).Select(_ => Normal(random)).ToArray();
        var v = Enumerable.Range(0, d).Select(_ => Normal(random)).ToArray();
        double uu = Math.Sqrt(u.Sum(x => x * x));
        for (int j = 0; j < d; j++) u[j] /= uu;
        double uv = u.Zip(v).Sum(p => p.First * p.Second);
        for (int j = 0; j < d; j++) v[j] -= uv * u[j];
        double vv = Math.Sqrt(v.Sum(x => x * x));
        for (int j = 0; j < d; j++) v[j] /= vv;
        return points.Select(p => new[] { p.Zip(u).Sum(x => x.First * x.Second), p.Zip(v).Sum(x => x.First * x.Second) }).ToArray();
    }

    [Theory]
    [InlineData(UmapInitialisation.Pca)]
    [InlineData(UmapInitialisation.Random)]
    public void WellSeparatedClustersIn50DimensionsStaySeparatedIn2(UmapInitialisation start)
    {
        var (points, labels) = Clusters(7);
        // In 50-D the clusters are separable: centres ~15 apart, points ~10 from their cluster-mates.
        Assert.True(EmbeddingQuality.NeighbourLabelAgreement(points, labels, 10) > 0.99);
        var layout = Umap.Embed(points, new UmapOptions { Seed = 1, Initialisation = start }).Points;
        double agreement = EmbeddingQuality.NeighbourLabelAgreement(layout, labels, 10);
        double silhouette = EmbeddingQuality.Silhouette(layout, labels);
        var projected = RandomProjection(points, 3);
        double projectedAgreement = EmbeddingQuality.NeighbourLabelAgreement(projected, labels, 10);
        double projectedSilhouette = EmbeddingQuality.Silhouette(projected, labels);
        output.WriteLine($"UMAP: 10-NN label agreement {agreement:0.000}, silhouette {silhouette:0.000}; random projection: {projectedAgreement:0.000}, {projectedSilhouette:0.000}");
        // Thresholds: UMAP keeps ≥ 98 % of 10-NN labels and a silhouette ≥ 0.6 (tight, apart); a random
        // orthonormal 2-D projection of the same points loses the separation (the centres' spread shrinks by
        // √(2/50) while the noise does not), at least 0.2 lower in agreement and 0.4 in silhouette.
        Assert.True(agreement >= 0.98, $"UMAP 10-NN label agreement {agreement}");
        Assert.True(silhouette >= 0.6, $"UMAP silhouette {silhouette}");
        Assert.True(agreement - projectedAgreement >= 0.2, $"UMAP {agreement} vs random projection {projectedAgreement}");
        Assert.True(silhouette - projectedSilhouette >= 0.4, $"UMAP {silhouette} vs random projection {projectedSilhouette}");
    }

    [Theory]
    [InlineData(UmapInitialisation.Pca)]
    [InlineData(UmapInitialisation.Random)]
    public void ANoisyHelixKeepsItsNeighbourhoods(UmapInitialisation start)
    {
        // 400 points along two turns of a helix (radius 1, pitch 1.5 per turn), rotated into 10-D, noise N(0, 0.05²) per coordinate.
        var random = new Random(5);
        const int n = 400, dimension = 10;
        var basis = new double[3][];
        for (int b = 0; b < 3; b++)
        {
            var v = Enumerable.Range(0, dimension).Select(_ => Normal(random)).ToArray();
            for (int c = 0; c < b; c++)
            {
                double p = v.Zip(basis[c]).Sum(x => x.First * x.Second);
                for (int j = 0; j < dimension; j++) v[j] -= p * basis[c][j];
            }
            double norm = Math.Sqrt(v.Sum(x => x * x));
            basis[b] = v.Select(x => x / norm).ToArray();
        }
        var points = new double[n][];
        for (int i = 0; i < n; i++)
        {
            double t = 4 * Math.PI * i / (n - 1);
            double[] helix = [Math.Cos(t), Math.Sin(t), 1.5 * t / (2 * Math.PI)];
            points[i] = new double[dimension];
            for (int j = 0; j < dimension; j++)
                points[i][j] = helix[0] * basis[0][j] + helix[1] * basis[1][j] + helix[2] * basis[2][j] + 0.05 * Normal(random);
        }
        var layout = Umap.Embed(points, new UmapOptions { Seed = 2, Initialisation = start }).Points;
        double trust = EmbeddingQuality.Trustworthiness(points, layout, 10);
        output.WriteLine($"helix: trustworthiness@10 {trust:0.0000}");
        // Threshold 0.95: a layout that cuts or folds the curve brings far-apart parts of it together and drops
        // well below (a random 2-D layout scores ~0.5).
        Assert.True(trust >= 0.95, $"trustworthiness@10 {trust}");
        var shuffled = points.Select(_ => new[] { random.NextDouble(), random.NextDouble() }).ToArray();
        Assert.True(EmbeddingQuality.Trustworthiness(points, shuffled, 10) < 0.7);
    }

    [Fact]
    public void SigmaSearchMeetsTheLogTwoOfKTarget()
    {
        var random = new Random(9);
        var points = Enumerable.Range(0, 120).Select(_ => Enumerable.Range(0, 6).Select(_ => Normal(random)).ToArray()).ToArray();
        const int k = 15;
        var (indices, distances) = Umap.NearestNeighbours(points, k);
        var (sigmas, rhos) = Umap.SmoothNearestNeighbourDistances(distances, Math.Log2(k));
        for (int i = 0; i < points.Length; i++)
        {
            // ρ_i is the nearest neighbour's distance (no duplicates here); the sum meets log2(15) ≈ 3.9069 within the search's tolerance 1e-5.
            Assert.Equal(distances[i][0], rhos[i]);
            Assert.Equal(Math.Log2(k), Umap.MembershipSum(distances[i], rhos[i], sigmas[i]), 1e-5);
        }
        // The neighbour lists are the exact ones: point 0's 15 nearest by brute force, nearest first.
        var expected = Enumerable.Range(1, points.Length - 1).OrderBy(j => Umap.SquaredDistance(points[0], points[j])).Take(k);
        Assert.Equal(expected, indices[0]);
    }

    [Fact]
    public void CurveParametersMatchUmapLearnsForTheDefaults()
    {
        // umap-learn's find_ab_params(spread = 1, min_dist = 0.1) returns a = 1.5769434603, b = 0.8950608781
        // (scipy's curve_fit on the same 300 points); two least-squares solvers agree to ~1e-7, tolerance 1e-5.
        var (a, b) = Umap.FitCurve(1.0, 0.1);
        Assert.Equal(1.5769434603, a, 1e-5);
        Assert.Equal(0.8950608781, b, 1e-5);
        // min_dist 0.5: the target stays 1 for longer, so the fitted curve's shoulder is sharper (b grows).
        Assert.True(Umap.FitCurve(1.0, 0.5).B > b);
    }

    [Fact]
    public void QualityMeasuresHaveTheirTextbookValues()
    {
        // Two pairs on a line, {0, 1} and {10, 11}. Silhouette by hand: point 0: a = 1, b = (10 + 11)/2 = 10.5,
        // s = 9.5/10.5; point 1: a = 1, b = (9 + 10)/2 = 9.5, s = 8.5/9.5; points 10 and 11 mirror them.
        double[][] line = [[0.0], [1.0], [10.0], [11.0]];
        Assert.Equal((9.5 / 10.5 + 8.5 / 9.5) / 2, EmbeddingQuality.Silhouette(line, [0, 0, 1, 1]), 12);
        // Each point's nearest neighbour shares its label; with 2 neighbours half the pairs cross → 0.5.
        Assert.Equal(1.0, EmbeddingQuality.NeighbourLabelAgreement(line, [0, 0, 1, 1], 1), 12);
        Assert.Equal(0.5, EmbeddingQuality.NeighbourLabelAgreement(line, [0, 0, 1, 1], 2), 12);
        // A layout that is the data itself has no false neighbours: T = 1.
        var random = new Random(1);
        var points = Enumerable.Range(0, 30).Select(_ => new[] { Normal(random), Normal(random), Normal(random) }).ToArray();
        Assert.Equal(1.0, EmbeddingQuality.Trustworthiness(points, points, 5), 12);
        // Five points on a line at 0, 1, 3, 7, 12 (no tied distances), laid out with the ends swapped: point 0 at
        // 12, point 4 at 0. k = 1, layout neighbour → its rank among the data neighbours (1 = nearest) → penalty:
        // point 0 → 3 (rank 3, penalty 2); 1 → 4 (rank 4, penalty 3); 2 → 1 (rank 1, 0); 3 → 2 (rank 1, 0);
        // 4 → 1 (rank 3, penalty 2). T = 1 − 2/(n·k·(2n − 3k − 1))·7 = 1 − 2·7/(5·6) = 16/30.
        double[][] data = [[0.0], [1.0], [3.0], [7.0], [12.0]];
        double[][] swapped = [[12.0], [1.0], [3.0], [7.0], [0.0]];
        Assert.Equal(16.0 / 30, EmbeddingQuality.Trustworthiness(data, swapped, 1), 12);
    }

    [Fact]
    public void TheSameSeedGivesTheSameLayout()
    {
        var (points, _) = Clusters(3);
        var small = points.Take(120).ToArray();
        var options = new UmapOptions { Seed = 4, Epochs = 100 };
        var first = Umap.Embed(small, options).Points;
        var again = Umap.Embed(small, options).Points;
        var other = Umap.Embed(small, options with { Seed = 5 }).Points;
        Assert.Equal(first.SelectMany(p => p), again.SelectMany(p => p));
        Assert.NotEqual(first.SelectMany(p => p), other.SelectMany(p => p));
        var random = Umap.Embed(small, options with { Initialisation = UmapInitialisation.Random }).Points;
        Assert.Equal(random.SelectMany(p => p), Umap.Embed(small, options with { Initialisation = UmapInitialisation.Random }).Points.SelectMany(p => p));
    }

    [Fact]
    public void BadInputIsRefusedWithTheReason()
    {
        var points = Enumerable.Range(0, 20).Select(i => new[] { i * 1.0, i * 2.0 }).ToArray();
        points[3] = [1.0, double.NaN];
        var nan = Assert.Throws<ArgumentException>(() => Umap.Embed(points));
        Assert.Contains("point 3, coordinate 1 is NaN", nan.Message);
        var few = Assert.Throws<ArgumentException>(() => Umap.Embed(points.Take(10).ToArray()));
        Assert.Contains("needs more than 15 points; got 10", few.Message);
        var ragged = Enumerable.Range(0, 20).Select(i => new[] { i * 1.0, 0 }).ToArray();
        ragged[5] = [1.0];
        Assert.Contains("point 5 has 1 coordinates; point 0 has 2", Assert.Throws<ArgumentException>(() => Umap.Embed(ragged)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Umap.Embed(ragged, new UmapOptions { Neighbours = 1 }));
    }
}
