namespace RobotRuntime.Pretraining;

/// <summary>Embeddings of one visual condition with the state each frame shows.</summary>
/// <param name="Condition">Condition name.</param>
/// <param name="Embeddings">One embedding per frame.</param>
/// <param name="States">The state per frame (NaN for values a task does not have).</param>
/// <param name="Episodes">Episode of each frame; frames of one episode are consecutive, and the same episode shows the same states in every condition.</param>
public sealed record ProbeSamples(string Condition, IReadOnlyList<float[]> Embeddings, IReadOnlyList<float[]> States, IReadOnlyList<int> Episodes);

/// <summary>The probe's result for one condition.</summary>
/// <param name="Condition">Condition name.</param>
/// <param name="R2">Coefficient of determination on held-out episodes per state group (e.g. "tip", "goal", "object"), the probe fitted on the reference condition.</param>
/// <param name="Invariance">Mean distance between a state's embedding in this condition and in the reference condition, over the mean distance between embeddings of different states in the reference condition (0: unaffected; 1: moved as far as a change of state).</param>
public sealed record ProbeResult(string Condition, IReadOnlyDictionary<string, double> R2, double Invariance);

/// <summary>
/// Linear probes and invariance of a frozen representation (ALGORITHMS.md, "Judging a
/// representation without RL"): ridge regression from the embedding to the state, fitted on the
/// reference condition's training episodes (the first 70 %), its ridge strength chosen on a
/// held-out fifth of those, and scored by R² on the last 30 % of episodes of every condition.
/// </summary>
public static class RepresentationProbe
{
    private static readonly double[] Ridges = [1e-3, 1e-2, 1e-1, 1, 10, 100];

    /// <summary>Probes <paramref name="conditions"/>; the first is the reference the probe is fitted on.</summary>
    /// <param name="conditions">Reference first.</param>
    /// <param name="groups">State groups: name and the state indices in it (e.g. ("tip", [0, 1, 2])). A group whose values are NaN in the reference is skipped.</param>
    /// <exception cref="ArgumentException">No conditions, or too few episodes to split.</exception>
    public static IReadOnlyList<ProbeResult> Run(IReadOnlyList<ProbeSamples> conditions, IReadOnlyList<(string Name, int[] Indices)> groups)
    {
        if (conditions.Count == 0)
            throw new ArgumentException("no conditions to probe");
        var reference = conditions[0];
        var episodes = reference.Episodes.Distinct().OrderBy(e => e).ToArray();
        if (episodes.Length < 5)
            throw new ArgumentException($"probing needs at least 5 episodes to split into fit, validation and test; got {episodes.Length}");
        var trainCount = (int)Math.Round(episodes.Length * 0.7);
        var fitCount = (int)Math.Round(trainCount * 0.8);
        var train = episodes.Take(trainCount).ToHashSet();
        var fit = episodes.Take(fitCount).ToHashSet();
        var test = episodes.Skip(trainCount).ToHashSet();
        var usable = groups.Where(g => reference.States.All(s => g.Indices.All(i => float.IsFinite(s[i])))).ToList();
        var targets = usable.SelectMany(g => g.Indices).ToArray();
        var dimension = reference.Embeddings[0].Length;

        // Centre with the reference's training frames and scale every feature by one number (the
        // root of the mean feature variance). Not per feature: a unit nearly dead in distribution
        // would be blown up by its tiny spread and dominate the prediction when a shift wakes it.
        var trainRows = Rows(reference, train);
        var mean = new double[dimension];
        foreach (var row in trainRows)
        {
            for (var d = 0; d < dimension; d++)
                mean[d] += reference.Embeddings[row][d];
        }
        for (var d = 0; d < dimension; d++)
            mean[d] /= trainRows.Count;
        double variance = 0;
        foreach (var row in trainRows)
        {
            for (var d = 0; d < dimension; d++)
            {
                var v = reference.Embeddings[row][d] - mean[d];
                variance += v * v;
            }
        }
        var scale = Math.Sqrt(variance / (trainRows.Count * (double)dimension)) is var s && s > 1e-12 ? s : 1;

        double[] Features(float[] embedding)
        {
            var x = new double[dimension + 1];
            for (var d = 0; d < dimension; d++)
                x[d] = (embedding[d] - mean[d]) / scale;
            x[dimension] = 1;
            return x;
        }

        // Choose the ridge on the validation episodes, then refit on all training episodes.
        var fitRows = Rows(reference, fit);
        var validationRows = trainRows.Where(r => !fit.Contains(reference.Episodes[r])).ToList();
        var best = Ridges[0];
        var bestScore = double.NegativeInfinity;
        foreach (var ridge in Ridges)
        {
            var weights = Fit(fitRows.Select(r => Features(reference.Embeddings[r])).ToList(), fitRows.Select(r => reference.States[r]).ToList(), targets, ridge);
            var score = usable.Average(g => R2(validationRows.Select(r => Features(reference.Embeddings[r])).ToList(), validationRows.Select(r => reference.States[r]).ToList(), weights, targets, g.Indices));
            if (score > bestScore)
            {
                bestScore = score;
                best = ridge;
            }
        }
        var probe = Fit(trainRows.Select(r => Features(reference.Embeddings[r])).ToList(), trainRows.Select(r => reference.States[r]).ToList(), targets, best);

        var typical = MeanPairDistance(reference.Embeddings);
        var results = new List<ProbeResult>();
        foreach (var condition in conditions)
        {
            var testRows = Rows(condition, test);
            var x = testRows.Select(r => Features(condition.Embeddings[r])).ToList();
            var y = testRows.Select(r => condition.States[r]).ToList();
            var r2 = usable.ToDictionary(g => g.Name, g => R2(x, y, probe, targets, g.Indices));
            results.Add(new ProbeResult(condition.Condition, r2, MeanPairedDistance(reference, condition) / typical));
        }
        return results;
    }

    private static List<int> Rows(ProbeSamples samples, HashSet<int> episodes) =>
        Enumerable.Range(0, samples.Episodes.Count).Where(i => episodes.Contains(samples.Episodes[i])).ToList();

    /// <summary>Ridge regression (intercept unpenalised) for every target column; returns weights [features × targets].</summary>
    private static double[,] Fit(List<double[]> x, List<float[]> y, int[] targets, double ridge)
    {
        int n = x.Count, d = x[0].Length, t = targets.Length;
        var gram = new double[d, d];
        var right = new double[d, t];
        for (var r = 0; r < n; r++)
        {
            var row = x[r];
            for (var i = 0; i < d; i++)
            {
                var xi = row[i];
                if (xi == 0)
                    continue;
                for (var j = i; j < d; j++)
                    gram[i, j] += xi * row[j];
                for (var k = 0; k < t; k++)
                    right[i, k] += xi * y[r][targets[k]];
            }
        }
        for (var i = 0; i < d; i++)
        {
            for (var j = 0; j < i; j++)
                gram[i, j] = gram[j, i];
            if (i < d - 1)
                gram[i, i] += ridge * n;
        }
        gram[d - 1, d - 1] += 1e-9 * n;
        return CholeskySolve(gram, right);
    }

    private static double[,] CholeskySolve(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), m = b.GetLength(1);
        var l = new double[n, n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var sum = a[i, j];
                for (var k = 0; k < j; k++)
                    sum -= l[i, k] * l[j, k];
                l[i, j] = i == j ? Math.Sqrt(Math.Max(sum, 1e-12)) : sum / l[j, j];
            }
        }
        var x = new double[n, m];
        for (var c = 0; c < m; c++)
        {
            var z = new double[n];
            for (var i = 0; i < n; i++)
            {
                var sum = b[i, c];
                for (var k = 0; k < i; k++)
                    sum -= l[i, k] * z[k];
                z[i] = sum / l[i, i];
            }
            for (var i = n - 1; i >= 0; i--)
            {
                var sum = z[i];
                for (var k = i + 1; k < n; k++)
                    sum -= l[k, i] * x[k, c];
                x[i, c] = sum / l[i, i];
            }
        }
        return x;
    }

    /// <summary>R² of the group's values (pooled over its indices) against their mean.</summary>
    private static double R2(List<double[]> x, List<float[]> y, double[,] weights, int[] targets, int[] group)
    {
        double residual = 0, total = 0;
        foreach (var index in group)
        {
            var column = Array.IndexOf(targets, index);
            var mean = y.Average(row => (double)row[index]);
            for (var r = 0; r < x.Count; r++)
            {
                var prediction = 0.0;
                for (var i = 0; i < x[r].Length; i++)
                    prediction += x[r][i] * weights[i, column];
                residual += (y[r][index] - prediction) * (y[r][index] - prediction);
                total += (y[r][index] - mean) * (y[r][index] - mean);
            }
        }
        return total <= 0 ? double.NaN : 1 - residual / total;
    }

    private static double Distance(float[] a, float[] b)
    {
        double sum = 0;
        for (var i = 0; i < a.Length; i++)
            sum += (a[i] - b[i]) * (double)(a[i] - b[i]);
        return Math.Sqrt(sum);
    }

    /// <summary>Mean distance between embeddings of different frames (a fixed sample of pairs).</summary>
    private static double MeanPairDistance(IReadOnlyList<float[]> embeddings)
    {
        var random = new Random(12345);
        double sum = 0;
        var pairs = 0;
        for (var k = 0; k < 2000 && embeddings.Count > 1; k++)
        {
            int i = random.Next(embeddings.Count), j = random.Next(embeddings.Count);
            if (i == j)
                continue;
            sum += Distance(embeddings[i], embeddings[j]);
            pairs++;
        }
        return pairs == 0 || sum <= 0 ? 1 : sum / pairs;
    }

    /// <summary>Mean distance between the same episode's k-th frame in two conditions.</summary>
    private static double MeanPairedDistance(ProbeSamples reference, ProbeSamples other)
    {
        var referenceFrames = FramesByEpisode(reference);
        var otherFrames = FramesByEpisode(other);
        double sum = 0;
        var count = 0;
        foreach (var (episode, frames) in referenceFrames)
        {
            if (!otherFrames.TryGetValue(episode, out var matching))
                continue;
            for (var k = 0; k < Math.Min(frames.Count, matching.Count); k++)
            {
                sum += Distance(reference.Embeddings[frames[k]], other.Embeddings[matching[k]]);
                count++;
            }
        }
        return count == 0 ? double.NaN : sum / count;
    }

    private static Dictionary<int, List<int>> FramesByEpisode(ProbeSamples samples)
    {
        var map = new Dictionary<int, List<int>>();
        for (var i = 0; i < samples.Episodes.Count; i++)
        {
            if (!map.TryGetValue(samples.Episodes[i], out var list))
                map[samples.Episodes[i]] = list = [];
            list.Add(i);
        }
        return map;
    }
}
