using System.Buffers;

namespace RobotRuntime.Agents.Analysis;

/// <summary>The aggregate a set of run scores is summarised by.</summary>
public enum AggregateKind
{
    /// <summary>The interquartile mean (<see cref="RobustStatistics.InterquartileMean"/>).</summary>
    InterquartileMean,
    /// <summary>The arithmetic mean.</summary>
    Mean,
    /// <summary>The median (the 0.5 quantile of <see cref="RobustStatistics.Quantile"/>).</summary>
    Median,
    /// <summary>The optimality gap: the mean of max(0, 1 − x), for scores normalised so that 1 is the target (success rates).</summary>
    OptimalityGap,
}

/// <summary>Settings of a bootstrap: the confidence level, the number of resamples and the seed of the resampling.</summary>
/// <param name="Confidence">Two-sided confidence level in (0, 1); 0.95 gives the 2.5 % and 97.5 % percentiles.</param>
/// <param name="Resamples">Bootstrap replicates (at least 1).</param>
/// <param name="Seed">Seed of the resampling; the same seed and inputs give the same interval.</param>
public sealed record BootstrapOptions(double Confidence = RobustStatistics.DefaultConfidence, int Resamples = RobustStatistics.DefaultResamples, int Seed = 0)
{
    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        if (!(Confidence > 0 && Confidence < 1))
            throw new ArgumentOutOfRangeException(nameof(Confidence), Confidence, "bootstrap confidence must lie strictly between 0 and 1 (e.g. 0.95)");
        if (Resamples < 1)
            throw new ArgumentOutOfRangeException(nameof(Resamples), Resamples, "bootstrap resamples must be at least 1 (e.g. 2000)");
    }
}

/// <summary>A point estimate with a bootstrap percentile interval.</summary>
/// <param name="Estimate">The aggregate of the data as observed (not the mean of the replicates).</param>
/// <param name="Lower">The (1 − confidence)/2 percentile of the replicates.</param>
/// <param name="Upper">The (1 + confidence)/2 percentile of the replicates.</param>
/// <param name="Confidence">The confidence level.</param>
/// <param name="Resamples">Replicates drawn.</param>
public readonly record struct ConfidenceInterval(double Estimate, double Lower, double Upper, double Confidence, int Resamples)
{
    /// <summary>True when <paramref name="value"/> lies inside [Lower, Upper].</summary>
    public bool Contains(double value) => value >= Lower && value <= Upper;
}

/// <summary>One run's curve (e.g. evaluation success against environment steps) and the stratum (task) it belongs to.</summary>
/// <param name="Stratum">The stratum, e.g. the task; runs are resampled only within their stratum.</param>
/// <param name="Points">The run's evaluations; any order; each step at most once.</param>
public sealed record RunCurve(string Stratum, IReadOnlyList<(long Step, double Value)> Points);

/// <summary>One step of an aggregated learning curve.</summary>
/// <param name="Step">Environment step.</param>
/// <param name="Runs">Runs that reported this step.</param>
/// <param name="Interval">The aggregate across those runs and its bootstrap interval.</param>
public readonly record struct CurveBandPoint(long Step, int Runs, ConfidenceInterval Interval);

/// <summary>Steps to reach a threshold, aggregated across runs.</summary>
/// <param name="Threshold">The threshold a run's evaluation had to reach (≥).</param>
/// <param name="Runs">Runs considered.</param>
/// <param name="Reached">Runs that reached it.</param>
/// <param name="PerRun">Each run's first step at or above the threshold, in the order given; +∞ when it never did.</param>
/// <param name="Steps">The aggregate of <paramref name="PerRun"/> with its interval; +∞ (estimate or bound) means "not reached" at that point of the distribution.</param>
public sealed record SampleEfficiencyResult(double Threshold, int Runs, int Reached, IReadOnlyList<double> PerRun, ConfidenceInterval Steps);

/// <summary>
/// Aggregates over runs with error bars, as reported for deep-RL results (Agarwal et al., "Deep RL at the
/// edge of the statistical precipice", 2021): the interquartile mean, stratified bootstrap percentile
/// intervals, learning curves with bands, steps to a threshold, and the probability of improvement.
/// </summary>
/// <remarks>
/// Pure and deterministic: every resampling draws from <c>new System.Random(seed)</c> in a fixed order
/// (stratum by stratum, run by run, replicate by replicate), single-threaded. Setup-time code; it allocates
/// one pooled buffer per call, not per replicate.
/// </remarks>
public static class RobustStatistics
{
    /// <summary>Default confidence level of the intervals.</summary>
    public const double DefaultConfidence = 0.95;

    /// <summary>Default number of bootstrap replicates.</summary>
    public const int DefaultResamples = 2000;

    /// <summary>
    /// The interquartile mean with fractional weighting. Sort the n scores, x(1) ≤ … ≤ x(n), and give
    /// x(i) the interval [i − 1, i] on [0, n]; the IQM is the average over [n/4, 3n/4] of that step
    /// function: IQM = (2/n) · Σ_i x(i) · |[i − 1, i] ∩ [n/4, 3n/4]|. For n divisible by 4 this drops
    /// exactly n/4 scores at each end and equals <c>scipy.stats.trim_mean(x, 0.25)</c> (what rliable
    /// calls); otherwise the two boundary scores count with the fraction of them inside the middle half
    /// (n = 3: (x(1)/4 + x(2) + x(3)/4) / 1.5, where trim_mean would drop nothing), so the IQM moves
    /// continuously as runs are added. n = 1 gives the score, n = 2 the mean.
    /// </summary>
    /// <exception cref="ArgumentException">No scores, or a NaN among them.</exception>
    public static double InterquartileMean(ReadOnlySpan<double> values) => AggregateOfCopy(AggregateKind.InterquartileMean, values);

    /// <summary>The interquartile mean of scores already sorted ascending (definition at <see cref="InterquartileMean"/>). +∞ scores are allowed: an infinite score with a positive weight makes the IQM +∞.</summary>
    public static double InterquartileMeanOfSorted(ReadOnlySpan<double> sorted)
    {
        int n = sorted.Length;
        if (n == 0)
            throw new ArgumentException("the interquartile mean needs at least one score", nameof(sorted));
        double low = n / 4.0, high = 3.0 * n / 4.0, sum = 0;
        int first = (int)Math.Floor(low), last = Math.Min(n - 1, (int)Math.Ceiling(high) - 1);
        for (int i = first; i <= last; i++)
        {
            // Element i (0-based) covers [i, i + 1].
            double weight = Math.Min(i + 1, high) - Math.Max(i, low);
            if (weight > 0)
                sum += weight * sorted[i];
        }
        return sum / (high - low);
    }

    /// <summary>
    /// The p-quantile of sorted values by linear interpolation between order statistics (Hyndman and Fan's
    /// type 7, numpy's default): h = (n − 1)·p, Q = x(⌊h⌋) + (h − ⌊h⌋)·(x(⌊h⌋+1) − x(⌊h⌋)) with 0-based x.
    /// Infinite values are handled: interpolating towards +∞ gives +∞.
    /// </summary>
    public static double Quantile(ReadOnlySpan<double> sorted, double p)
    {
        if (sorted.Length == 0)
            throw new ArgumentException("a quantile needs at least one value", nameof(sorted));
        if (!(p >= 0 && p <= 1))
            throw new ArgumentOutOfRangeException(nameof(p), p, "a quantile's probability must lie in [0, 1]");
        double h = (sorted.Length - 1) * p;
        int below = (int)Math.Floor(h);
        int above = Math.Min(below + 1, sorted.Length - 1);
        double fraction = h - below;
        double a = sorted[below], b = sorted[above];
        if (fraction == 0 || a == b)
            return a;
        if (double.IsInfinity(a) || double.IsInfinity(b))
            return double.IsPositiveInfinity(b) ? double.PositiveInfinity : a + fraction * (b - a);
        return a + fraction * (b - a);
    }

    /// <summary>The median (<see cref="Quantile"/> at 0.5) of unsorted values.</summary>
    public static double Median(ReadOnlySpan<double> values) => AggregateOfCopy(AggregateKind.Median, values);

    // Aggregates a copy of the values in pooled scratch (the aggregate sorts its input in place).
    private static double AggregateOfCopy(AggregateKind kind, ReadOnlySpan<double> values)
    {
        var rented = Rent(values.Length, out var scratch);
        try
        {
            values.CopyTo(scratch);
            return Aggregate(kind, scratch);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(rented);
        }
    }

    /// <summary>The aggregate of <paramref name="scratch"/>'s values; sorts them in place (the caller's buffer, no allocation).</summary>
    /// <exception cref="ArgumentException">No values, or a NaN among them.</exception>
    public static double Aggregate(AggregateKind kind, Span<double> scratch)
    {
        if (scratch.Length == 0)
            throw new ArgumentException($"the {Describe(kind)} needs at least one score", nameof(scratch));
        for (int i = 0; i < scratch.Length; i++)
        {
            if (double.IsNaN(scratch[i]))
                throw new ArgumentException($"score {i} is NaN; the {Describe(kind)} needs numbers", nameof(scratch));
        }
        switch (kind)
        {
            case AggregateKind.Mean:
            {
                double sum = 0;
                foreach (var v in scratch)
                    sum += v;
                return sum / scratch.Length;
            }
            case AggregateKind.OptimalityGap:
            {
                double sum = 0;
                foreach (var v in scratch)
                    sum += Math.Max(0, 1 - v);
                return sum / scratch.Length;
            }
            case AggregateKind.Median:
                scratch.Sort();
                return Quantile(scratch, 0.5);
            case AggregateKind.InterquartileMean:
                scratch.Sort();
                return InterquartileMeanOfSorted(scratch);
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown aggregate");
        }
    }

    /// <summary>A readable name of an aggregate ("IQM", "mean", "median", "optimality gap").</summary>
    public static string Describe(AggregateKind kind) => kind switch
    {
        AggregateKind.InterquartileMean => "IQM",
        AggregateKind.Mean => "mean",
        AggregateKind.Median => "median",
        AggregateKind.OptimalityGap => "optimality gap",
        _ => kind.ToString(),
    };

    /// <summary>
    /// The percentile interval of bootstrap <paramref name="replicates"/> (sorted in place): the
    /// (1 − c)/2 and (1 + c)/2 quantiles (<see cref="Quantile"/>) at confidence c.
    /// </summary>
    public static ConfidenceInterval PercentileInterval(double estimate, Span<double> replicates, double confidence)
    {
        if (!(confidence > 0 && confidence < 1))
            throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "confidence must lie strictly between 0 and 1");
        replicates.Sort();
        double tail = (1 - confidence) / 2;
        return new ConfidenceInterval(estimate, Quantile(replicates, tail), Quantile(replicates, 1 - tail), confidence, replicates.Length);
    }

    /// <summary>
    /// The aggregate of all runs' scores pooled, with a stratified bootstrap percentile interval: each
    /// replicate draws, for every stratum with m runs, m runs with replacement from that stratum only,
    /// pools the draws of all strata and recomputes the aggregate. A stratum is typically a task, a run a
    /// seed, so every replicate keeps the grid's balance of tasks (rliable's <c>StratifiedBootstrap</c>).
    /// Empty strata are skipped.
    /// </summary>
    /// <exception cref="ArgumentException">No scores at all, or a NaN score (named by stratum and run).</exception>
    public static ConfidenceInterval StratifiedBootstrap(IReadOnlyList<IReadOnlyList<double>> strata, AggregateKind kind, BootstrapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(strata);
        options ??= new BootstrapOptions();
        options.Validate();
        int total = 0;
        for (int s = 0; s < strata.Count; s++)
        {
            var stratum = strata[s] ?? throw new ArgumentException($"stratum {s} is null", nameof(strata));
            for (int r = 0; r < stratum.Count; r++)
            {
                if (double.IsNaN(stratum[r]))
                    throw new ArgumentException($"stratum {s}, run {r}: the score is NaN", nameof(strata));
            }
            total += stratum.Count;
        }
        if (total == 0)
            throw new ArgumentException($"the {Describe(kind)} needs at least one score; every stratum is empty", nameof(strata));

        var pooledArray = Rent(total, out var pooled);
        var replicates = new double[options.Resamples];
        try
        {
            int k = 0;
            foreach (var stratum in strata)
            {
                for (int r = 0; r < stratum.Count; r++)
                    pooled[k++] = stratum[r];
            }
            double estimate = Aggregate(kind, pooled);
            var random = new Random(options.Seed);
            for (int b = 0; b < replicates.Length; b++)
            {
                k = 0;
                foreach (var stratum in strata)
                {
                    int m = stratum.Count;
                    for (int r = 0; r < m; r++)
                        pooled[k++] = stratum[random.Next(m)];
                }
                replicates[b] = Aggregate(kind, pooled);
            }
            return PercentileInterval(estimate, replicates, options.Confidence);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(pooledArray);
        }
    }

    /// <summary>
    /// A learning curve with a band: at every step some run reported, the aggregate across the runs that
    /// reported it and its stratified bootstrap interval (resampling those runs within their strata).
    /// Ragged ends: a step reported by fewer than <paramref name="minimumRuns"/> runs is left out
    /// (default: every run, so the curve stops where the shortest run stops); each point says how many
    /// runs it holds. Step k's resampling is seeded from the options' seed and k, so a point does not
    /// depend on which other steps exist.
    /// </summary>
    /// <exception cref="ArgumentException">No runs, a run reporting a step twice, or a NaN value.</exception>
    public static IReadOnlyList<CurveBandPoint> LearningCurve(IReadOnlyList<RunCurve> runs, AggregateKind kind = AggregateKind.InterquartileMean,
        BootstrapOptions? options = null, int? minimumRuns = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0)
            throw new ArgumentException("a learning curve needs at least one run", nameof(runs));
        options ??= new BootstrapOptions();
        int needed = minimumRuns ?? runs.Count;
        if (needed < 1)
            throw new ArgumentOutOfRangeException(nameof(minimumRuns), minimumRuns, "at least one run must report a step for it to be drawn");
        var byStep = new SortedDictionary<long, List<(string Stratum, double Value)>>();
        for (int r = 0; r < runs.Count; r++)
        {
            var seen = new HashSet<long>();
            foreach (var (step, value) in runs[r].Points)
            {
                if (!seen.Add(step))
                    throw new ArgumentException($"run {r} ({runs[r].Stratum}) reports step {step} twice", nameof(runs));
                if (double.IsNaN(value))
                    throw new ArgumentException($"run {r} ({runs[r].Stratum}) has NaN at step {step}", nameof(runs));
                if (!byStep.TryGetValue(step, out var list))
                    byStep[step] = list = [];
                list.Add((runs[r].Stratum, value));
            }
        }
        var result = new List<CurveBandPoint>();
        foreach (var (step, values) in byStep)
        {
            if (values.Count < needed)
                continue;
            var strata = values.GroupBy(v => v.Stratum, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => (IReadOnlyList<double>)g.Select(v => v.Value).ToArray()).ToArray();
            var interval = StratifiedBootstrap(strata, kind, options with { Seed = CombineSeed(options.Seed, step) });
            result.Add(new CurveBandPoint(step, values.Count, interval));
        }
        return result;
    }

    /// <summary>The first step at which <paramref name="curve"/> is at or above <paramref name="threshold"/> (steps taken in ascending order); +∞ when it never is.</summary>
    public static double StepsToThreshold(IReadOnlyList<(long Step, double Value)> curve, double threshold)
    {
        ArgumentNullException.ThrowIfNull(curve);
        double first = double.PositiveInfinity;
        foreach (var (step, value) in curve)
        {
            if (value >= threshold && step < first)
                first = step;
        }
        return first;
    }

    /// <summary>
    /// Sample efficiency: each run's steps to reach <paramref name="threshold"/> (<see cref="StepsToThreshold"/>;
    /// a run that never reached it counts as +∞, a censored value that sorts after every finite one), and
    /// their aggregate (default the median, which stays finite while fewer than half the runs miss) with a
    /// stratified bootstrap interval. An infinite estimate or bound reads "not reached" at that point.
    /// </summary>
    public static SampleEfficiencyResult SampleEfficiency(IReadOnlyList<RunCurve> runs, double threshold,
        AggregateKind kind = AggregateKind.Median, BootstrapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0)
            throw new ArgumentException("sample efficiency needs at least one run", nameof(runs));
        if (kind is AggregateKind.OptimalityGap)
            throw new ArgumentException("the optimality gap is not an aggregate of step counts", nameof(kind));
        var perRun = runs.Select(r => StepsToThreshold(r.Points, threshold)).ToArray();
        var strata = runs.Select((r, i) => (r.Stratum, Steps: perRun[i])).GroupBy(x => x.Stratum, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (IReadOnlyList<double>)g.Select(x => x.Steps).ToArray()).ToArray();
        var interval = StratifiedBootstrap(strata, kind, options);
        return new SampleEfficiencyResult(threshold, runs.Count, perRun.Count(double.IsFinite), perRun, interval);
    }

    /// <summary>
    /// The probability of improvement P(X &gt; Y): within each stratum (task) k with runs x_1..x_n of X and
    /// y_1..y_m of Y, P_k = (1/(n·m)) Σ_i Σ_j S(x_i, y_j) with S = 1 if x &gt; y, ½ if x = y, 0 otherwise (the
    /// Mann–Whitney U statistic over n·m); P is the mean of P_k over the strata where both groups have runs.
    /// 0.5 means neither is better.
    /// </summary>
    /// <exception cref="ArgumentException">No stratum in which both groups have runs, or a NaN score.</exception>
    public static double ProbabilityOfImprovement(IReadOnlyList<(IReadOnlyList<double> X, IReadOnlyList<double> Y)> strata)
    {
        var usable = Usable(strata);
        double sum = 0;
        foreach (var (x, y) in usable)
            sum += PairwiseProbability(x, y);
        return sum / usable.Count;
    }

    /// <summary>
    /// The probability of improvement (definition at <c>ProbabilityOfImprovement(strata)</c>) with a percentile interval from a stratified independent bootstrap: each replicate resamples X's runs
    /// and Y's runs separately, with replacement, within each stratum.
    /// </summary>
    public static ConfidenceInterval ProbabilityOfImprovementInterval(IReadOnlyList<(IReadOnlyList<double> X, IReadOnlyList<double> Y)> strata, BootstrapOptions? options = null)
    {
        options ??= new BootstrapOptions();
        options.Validate();
        var usable = Usable(strata);
        double estimate = 0;
        foreach (var (x, y) in usable)
            estimate += PairwiseProbability(x, y);
        estimate /= usable.Count;
        int longest = usable.Max(s => Math.Max(s.X.Length, s.Y.Length));
        var xArray = Rent(longest, out _);
        var yArray = Rent(longest, out _);
        var replicates = new double[options.Resamples];
        try
        {
            var random = new Random(options.Seed);
            for (int b = 0; b < replicates.Length; b++)
            {
                double sum = 0;
                foreach (var (x, y) in usable)
                {
                    for (int i = 0; i < x.Length; i++)
                        xArray[i] = x[random.Next(x.Length)];
                    for (int j = 0; j < y.Length; j++)
                        yArray[j] = y[random.Next(y.Length)];
                    sum += PairwiseProbability(xArray.AsSpan(0, x.Length), yArray.AsSpan(0, y.Length));
                }
                replicates[b] = sum / usable.Count;
            }
            return PercentileInterval(estimate, replicates, options.Confidence);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(xArray);
            ArrayPool<double>.Shared.Return(yArray);
        }
    }

    private static List<(double[] X, double[] Y)> Usable(IReadOnlyList<(IReadOnlyList<double> X, IReadOnlyList<double> Y)> strata)
    {
        ArgumentNullException.ThrowIfNull(strata);
        var usable = new List<(double[], double[])>();
        for (int s = 0; s < strata.Count; s++)
        {
            var (x, y) = strata[s];
            if (x is null || y is null || x.Count == 0 || y.Count == 0)
                continue;
            for (int i = 0; i < x.Count; i++)
            {
                if (double.IsNaN(x[i]))
                    throw new ArgumentException($"stratum {s}, X run {i}: the score is NaN", nameof(strata));
            }
            for (int j = 0; j < y.Count; j++)
            {
                if (double.IsNaN(y[j]))
                    throw new ArgumentException($"stratum {s}, Y run {j}: the score is NaN", nameof(strata));
            }
            usable.Add((x.ToArray(), y.ToArray()));
        }
        if (usable.Count == 0)
            throw new ArgumentException("the probability of improvement needs a stratum in which both groups have runs", nameof(strata));
        return usable;
    }

    private static double PairwiseProbability(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        double wins = 0;
        foreach (var xi in x)
        {
            foreach (var yj in y)
            {
                if (xi > yj)
                    wins += 1;
                else if (xi == yj)
                    wins += 0.5;
            }
        }
        return wins / ((double)x.Length * y.Length);
    }

    private static double[] Rent(int length, out Span<double> span)
    {
        var array = ArrayPool<double>.Shared.Rent(Math.Max(length, 1));
        span = array.AsSpan(0, length);
        return array;
    }

    private static int CombineSeed(int seed, long step)
    {
        unchecked
        {
            ulong z = (ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)step;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
        }
    }
}
