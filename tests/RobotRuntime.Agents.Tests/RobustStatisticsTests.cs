using RobotRuntime.Agents.Analysis;

namespace RobotRuntime.Agents.Tests;

public class RobustStatisticsTests
{
    private static IReadOnlyList<IReadOnlyList<double>> Strata(params double[][] strata) => strata;

    [Fact]
    public void InterquartileMeanWeighsTheBoundaryScoresByTheirShareOfTheMiddleHalf()
    {
        // Sorted x(1..n), x(i) covering [i−1, i]; IQM = (2/n)·Σ x(i)·|[i−1, i] ∩ [n/4, 3n/4]|. By hand:
        // n = 1: [0.25, 0.75] lies in x(1)'s interval → 7.
        Assert.Equal(7, RobustStatistics.InterquartileMean([7]), 12);
        // n = 2: [0.5, 1.5] → half of 1 and half of 3, over a width of 1 → 2.
        Assert.Equal(2, RobustStatistics.InterquartileMean([3, 1]), 12);
        // n = 3: [0.75, 2.25] → (0.25·0 + 1·3 + 0.25·12) / 1.5 = 6 / 1.5 = 4 (the mean is 5; trim_mean(x, 0.25) drops nothing and gives 5).
        Assert.Equal(4, RobustStatistics.InterquartileMean([12, 0, 3]), 12);
        // n = 4: [1, 3] → (2 + 3) / 2 = 2.5.
        Assert.Equal(2.5, RobustStatistics.InterquartileMean([4, 1, 3, 2]), 12);
        // n = 5: [1.25, 3.75] → (0.75·20 + 30 + 0.75·40) / 2.5 = 75 / 2.5 = 30.
        Assert.Equal(30, RobustStatistics.InterquartileMean([50, 40, 30, 20, 10]), 12);
        // n = 6: [1.5, 4.5] → (0.5·2 + 3 + 4 + 0.5·5) / 3 = 10.5 / 3 = 3.5; the outlier 100 has no weight.
        Assert.Equal(3.5, RobustStatistics.InterquartileMean([100, 1, 2, 3, 4, 5]), 12);
        // n = 8: [2, 6] → the middle four whole scores (3 + 4 + 5 + 6) / 4 = 4.5, as trim_mean would give.
        Assert.Equal(4.5, RobustStatistics.InterquartileMean([1000, 1, 2, 3, 4, 5, 6, 7]), 12);
    }

    [Fact]
    public void AggregatesRefuseNaNAndEmptyInputNamingTheScore()
    {
        var nan = Assert.Throws<ArgumentException>(() => RobustStatistics.InterquartileMean([1, double.NaN]));
        Assert.Contains("score 1 is NaN", nan.Message);
        Assert.Contains("at least one score", Assert.Throws<ArgumentException>(() => RobustStatistics.InterquartileMean([])).Message);
        var stratum = Assert.Throws<ArgumentException>(() => RobustStatistics.StratifiedBootstrap(Strata([1], [2, double.NaN]), AggregateKind.Mean));
        Assert.Contains("stratum 1, run 1", stratum.Message);
        Assert.Contains("every stratum is empty", Assert.Throws<ArgumentException>(() => RobustStatistics.StratifiedBootstrap(Strata([], []), AggregateKind.Mean)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => RobustStatistics.StratifiedBootstrap(Strata([1]), AggregateKind.Mean, new BootstrapOptions(Confidence: 1.5)));
    }

    [Fact]
    public void QuantilesInterpolateBetweenOrderStatistics()
    {
        // Type 7: h = (n − 1)·p. {1, 2, 3, 4} at 0.25: h = 0.75 → 1 + 0.75·(2 − 1) = 1.75 (numpy.percentile gives 1.75).
        Assert.Equal(1.75, RobustStatistics.Quantile([1, 2, 3, 4], 0.25), 12);
        Assert.Equal(2.5, RobustStatistics.Median([4, 1, 3, 2]), 12);
        // Towards +∞ the quantile is +∞ (a "not reached" run), never NaN.
        Assert.Equal(double.PositiveInfinity, RobustStatistics.Quantile([1, double.PositiveInfinity], 0.5));
        Assert.Equal(double.PositiveInfinity, RobustStatistics.Quantile([double.PositiveInfinity, double.PositiveInfinity], 0.3));
        // 101 replicates 0..100 at 90 %: h = 100·0.05 = 5 and 100·0.95 = 95 → [5, 95].
        var replicates = Enumerable.Range(0, 101).Select(i => (double)(100 - i)).ToArray();
        var interval = RobustStatistics.PercentileInterval(42, replicates, 0.9);
        // (1 − 0.9)/2 is 0.04999… in binary, hence the 1e-9 tolerance.
        Assert.Equal(42.0, interval.Estimate);
        Assert.Equal(5.0, interval.Lower, 1e-9);
        Assert.Equal(95.0, interval.Upper, 1e-9);
    }

    [Fact]
    public void OptimalityGapAndMeanAreTheirTextbookValues()
    {
        // Gap from 1: (1 − 0.2) + (1 − 0.6) + 0 (1.3 is above the target) = 1.2, over 3 → 0.4.
        Assert.Equal(0.4, RobustStatistics.Aggregate(AggregateKind.OptimalityGap, new double[] { 0.2, 1.3, 0.6 }), 12);
        Assert.Equal(0.7, RobustStatistics.Aggregate(AggregateKind.Mean, new double[] { 0.2, 1.3, 0.6 }), 12);
    }

    [Fact]
    public void StratifiedBootstrapResamplesOnlyWithinEachStratum()
    {
        // Stratum A = {0, 1}, stratum B = {10} (one run: it never mixes). Each replicate's mean is
        // (a1 + a2 + 10) / 3 with a1 + a2 ∈ {0, 1, 2} at probabilities 1/4, 1/2, 1/4, so the replicates take
        // only 10/3, 11/3 and 4; the 2.5 % and 97.5 % percentiles of 2,000 of them are 10/3 and 4 (each end
        // holds ~25 % of the mass, far more than 2.5 %). Pooling the three runs instead would draw samples
        // without the 10 (probability (2/3)³ ≈ 0.3) and put the lower bound at or below 1/3.
        var interval = RobustStatistics.StratifiedBootstrap(Strata([0, 1], [10]), AggregateKind.Mean, new BootstrapOptions(Seed: 3));
        Assert.Equal(11.0 / 3, interval.Estimate, 12);
        Assert.Equal(10.0 / 3, interval.Lower, 12);
        Assert.Equal(4.0, interval.Upper, 12);
        Assert.Equal(2000, interval.Resamples);

        // Every stratum constant: every replicate equals the estimate. A = {0}, B = {1, 1, 1}: mean 0.75 always.
        var fixedInterval = RobustStatistics.StratifiedBootstrap(Strata([0], [1, 1, 1]), AggregateKind.InterquartileMean);
        // IQM of {0, 1, 1, 1}: [1, 3] → (1 + 1) / 2 = 1 for the estimate and every replicate.
        Assert.Equal((1.0, 1.0, 1.0), (fixedInterval.Estimate, fixedInterval.Lower, fixedInterval.Upper));
    }

    [Fact]
    public void TheSameSeedGivesTheSameIntervalAndAnotherSeedAnother()
    {
        var random = new Random(11);
        var strata = Strata(Enumerable.Range(0, 10).Select(_ => random.NextDouble()).ToArray(), Enumerable.Range(0, 7).Select(_ => random.NextDouble()).ToArray());
        var first = RobustStatistics.StratifiedBootstrap(strata, AggregateKind.InterquartileMean, new BootstrapOptions(Seed: 5));
        var again = RobustStatistics.StratifiedBootstrap(strata, AggregateKind.InterquartileMean, new BootstrapOptions(Seed: 5));
        var other = RobustStatistics.StratifiedBootstrap(strata, AggregateKind.InterquartileMean, new BootstrapOptions(Seed: 6));
        Assert.Equal(first, again);
        Assert.Equal(first.Estimate, other.Estimate);
        Assert.NotEqual((first.Lower, first.Upper), (other.Lower, other.Upper));
    }

    [Theory]
    [InlineData(AggregateKind.Mean, 30)]
    [InlineData(AggregateKind.InterquartileMean, 40)]
    public void NinetyFivePercentIntervalsCoverTheTrueValueAboutNinetyFivePercentOfTheTime(AggregateKind kind, int samples)
    {
        // 200 samples of N(3, 2²); the true mean and the true IQM are both 3 (the distribution is symmetric).
        // Coverage is a binomial proportion: at 0.95 its standard deviation over 200 intervals is
        // sqrt(0.95·0.05/200) ≈ 0.015, and percentile intervals at n = 30–40 under-cover by about a point, so
        // [0.88, 0.99] is a ±4-standard-deviation band. The draws are seeded, so the test is deterministic.
        var random = new Random(2024);
        int covered = 0, trials = 200;
        for (int trial = 0; trial < trials; trial++)
        {
            var sample = new double[samples];
            for (int i = 0; i < samples; i++)
            {
                double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
                sample[i] = 3 + 2 * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            }
            var interval = RobustStatistics.StratifiedBootstrap(Strata(sample), kind, new BootstrapOptions(Resamples: 1000, Seed: trial));
            if (interval.Contains(3))
                covered++;
        }
        double coverage = (double)covered / trials;
        Assert.InRange(coverage, 0.88, 0.99);
    }

    private static RunCurve Run(string task, params (long, double)[] points) => new(task, points);

    [Fact]
    public void LearningCurvesAggregateEachStepAndStopWhereARunEnds()
    {
        var runs = new[]
        {
            Run("reach", (0, 0.0), (1000, 0.5), (2000, 1.0)),
            Run("reach", (2000, 0.6), (0, 0.2), (1000, 0.4)),
            Run("reach", (0, 0.1), (1000, 0.3)),
        };
        // Every run must report a step by default: steps 0 and 1000. Means: (0 + 0.2 + 0.1)/3 = 0.1, (0.5 + 0.4 + 0.3)/3 = 0.4.
        var common = RobustStatistics.LearningCurve(runs, AggregateKind.Mean);
        Assert.Equal([0L, 1000L], common.Select(p => p.Step));
        Assert.Equal(0.1, common[0].Interval.Estimate, 12);
        Assert.Equal(0.4, common[1].Interval.Estimate, 12);
        Assert.All(common, p => Assert.Equal(3, p.Runs));
        // IQM of {0.3, 0.4, 0.5}: (0.25·0.3 + 0.4 + 0.25·0.5)/1.5 = 0.6/1.5 = 0.4; the band lies within the values' range.
        var iqm = RobustStatistics.LearningCurve(runs, AggregateKind.InterquartileMean);
        Assert.Equal(0.4, iqm[1].Interval.Estimate, 12);
        Assert.InRange(iqm[1].Interval.Lower, 0.3, 0.4);
        Assert.InRange(iqm[1].Interval.Upper, 0.4, 0.5);
        // With two runs enough, the ragged end is drawn from the two that reached it: (1.0 + 0.6)/2 = 0.8.
        var ragged = RobustStatistics.LearningCurve(runs, AggregateKind.Mean, minimumRuns: 2);
        Assert.Equal(2000, ragged[^1].Step);
        Assert.Equal(2, ragged[^1].Runs);
        Assert.Equal(0.8, ragged[^1].Interval.Estimate, 12);
        Assert.Contains("reports step 0 twice", Assert.Throws<ArgumentException>(() => RobustStatistics.LearningCurve([Run("push", (0, 0.1), (0, 0.2))])).Message);
    }

    [Fact]
    public void StepsToAThresholdCountARunThatNeverReachesItAsNotReached()
    {
        var runs = new[]
        {
            Run("reach", (0, 0.0), (1000, 0.5), (2000, 1.0)),
            Run("reach", (0, 0.2), (1000, 0.4), (2000, 0.6)),
            Run("reach", (0, 0.1), (1000, 0.3)),
        };
        // At 0.5: the first run at step 1000 (0.5 ≥ 0.5), the second at 2000, the third never (+∞). Median of
        // {1000, 2000, ∞} = 2000. A replicate's median is 1000 when at least two of its three draws are 1000:
        // 3·(1/3)²·(2/3) + (1/3)³ = 7/27 ≈ 26 % > 2.5 %, so the lower bound is 1000; likewise ≥ 2 draws of ∞
        // (7/27) puts the upper bound at ∞ — "not reached".
        var result = RobustStatistics.SampleEfficiency(runs, 0.5);
        Assert.Equal([1000.0, 2000.0, double.PositiveInfinity], result.PerRun);
        Assert.Equal((3, 2), (result.Runs, result.Reached));
        Assert.Equal(2000, result.Steps.Estimate);
        Assert.Equal(1000, result.Steps.Lower);
        Assert.Equal(double.PositiveInfinity, result.Steps.Upper);
        // The mean of a set with a run that never reached is ∞.
        Assert.Equal(double.PositiveInfinity, RobustStatistics.SampleEfficiency(runs, 0.5, AggregateKind.Mean).Steps.Estimate);
        Assert.Equal(0, RobustStatistics.SampleEfficiency(runs, 0.0).Steps.Estimate);
    }

    [Fact]
    public void ProbabilityOfImprovementCountsWinsAndHalfTiesWithinEachTask()
    {
        // X = {1, 2, 3}, Y = {2, 2}: pairs won 0 + 0 (1), ½ + ½ (2), 1 + 1 (3) = 3 of 6 → 0.5.
        Assert.Equal(0.5, RobustStatistics.ProbabilityOfImprovement([([1, 2, 3], [2, 2])]), 12);
        // Per task, then averaged: task 1 X = {5} vs Y = {4} → 1; task 2 X = {1, 1} vs Y = {2} → 0; mean 0.5.
        // Pooling the tasks would give 2 wins of 6 pairs = 1/3: the tasks are kept apart.
        Assert.Equal(0.5, RobustStatistics.ProbabilityOfImprovement([([5], [4]), ([1, 1], [2])]), 12);
        // A task where one group has no runs is skipped.
        Assert.Equal(1.0, RobustStatistics.ProbabilityOfImprovement([([3, 4], [1, 2]), ([], [7])]), 12);
        // Every X above every Y: every replicate is 1 → [1, 1].
        var interval = RobustStatistics.ProbabilityOfImprovementInterval([([3, 4], [1, 2])]);
        Assert.Equal((1.0, 1.0, 1.0), (interval.Estimate, interval.Lower, interval.Upper));
        // Overlapping groups: the interval straddles 0.5 and contains the estimate.
        var overlap = RobustStatistics.ProbabilityOfImprovementInterval([([0.2, 0.5, 0.7], [0.3, 0.4, 0.6])], new BootstrapOptions(Seed: 1));
        Assert.True(overlap.Lower < 0.5 && overlap.Upper > 0.5, $"{overlap}");
        Assert.True(overlap.Contains(overlap.Estimate));
        Assert.Contains("both groups have runs", Assert.Throws<ArgumentException>(() => RobustStatistics.ProbabilityOfImprovement([([1], [])])).Message);
    }
}
