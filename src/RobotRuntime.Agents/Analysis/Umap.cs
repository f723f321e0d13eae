namespace RobotRuntime.Agents.Analysis;

/// <summary>How the low-dimensional layout starts before the optimisation.</summary>
public enum UmapInitialisation
{
    /// <summary>The data's leading principal components (power iteration from a seeded start), each rescaled to [0, 10]: keeps the coarse global arrangement.</summary>
    Pca,
    /// <summary>Uniform in [0, 10] per coordinate from the seed.</summary>
    Random,
}

/// <summary>Settings of <see cref="Umap.Embed"/>; the defaults are umap-learn's.</summary>
public sealed record UmapOptions
{
    /// <summary>Nearest neighbours per point, k (not counting the point itself); at least 2.</summary>
    public int Neighbours { get; init; } = 15;

    /// <summary>Output dimensions (2 for a figure).</summary>
    public int Components { get; init; } = 2;

    /// <summary>min_dist: how tightly the layout may pack neighbours (in output units).</summary>
    public double MinDistance { get; init; } = 0.1;

    /// <summary>spread: the scale over which the layout's attraction decays; MinDistance must not exceed it.</summary>
    public double Spread { get; init; } = 1.0;

    /// <summary>Optimisation epochs; 0 picks 500 for up to 10,000 points and 200 above.</summary>
    public int Epochs { get; init; }

    /// <summary>Initial SGD step size α, decayed linearly to 0 over the epochs.</summary>
    public double LearningRate { get; init; } = 1.0;

    /// <summary>Negative samples per positive sample.</summary>
    public int NegativeSampleRate { get; init; } = 5;

    /// <summary>Weight γ of the repulsive term.</summary>
    public double RepulsionStrength { get; init; } = 1.0;

    /// <summary>How the layout starts.</summary>
    public UmapInitialisation Initialisation { get; init; } = UmapInitialisation.Pca;

    /// <summary>Seed of every random choice (initialisation, negative samples).</summary>
    public int Seed { get; init; }
}

/// <summary>A UMAP layout and the quantities it was built from.</summary>
/// <param name="Points">The layout: one array of <see cref="UmapOptions.Components"/> coordinates per input point, in input order.</param>
/// <param name="Sigmas">σ_i of every point's smooth k-NN distance.</param>
/// <param name="Rhos">ρ_i: every point's distance to its nearest neighbour at a positive distance (0 if all its neighbours coincide with it).</param>
/// <param name="A">Fitted a of the low-dimensional similarity 1 / (1 + a·d^(2b)).</param>
/// <param name="B">Fitted b.</param>
/// <param name="Epochs">Epochs run.</param>
/// <param name="Edges">Undirected edges of the fuzzy graph that took part in the optimisation.</param>
public sealed record UmapEmbedding(double[][] Points, double[] Sigmas, double[] Rhos, double A, double B, int Epochs, int Edges);

/// <summary>
/// UMAP (McInnes, Healy and Melville, 2018) for projecting latents to 2-D, written from the paper's method:
/// exact k-nearest neighbours (Euclidean); per point ρ_i (distance to the nearest neighbour) and σ_i by
/// binary search so that Σ_j exp(−max(0, d_ij − ρ_i)/σ_i) = log2(k) over its k neighbours; directed
/// memberships w_ij = exp(−max(0, d_ij − ρ_i)/σ_i) made symmetric by the fuzzy union
/// w = w_ij + w_ji − w_ij·w_ji; a and b of the output similarity 1/(1 + a·d^(2b)) fitted by least squares
/// to the curve that is 1 below min_dist and exp(−(d − min_dist)/spread) above; then SGD on the fuzzy
/// cross-entropy: every edge is sampled once per max_w/w epochs (edges below max_w/epochs dropped), pulling
/// both ends together with gradient −2ab·d^(2(b−1))/(1 + a·d^(2b)) per unit offset, and each sample draws
/// <see cref="UmapOptions.NegativeSampleRate"/> random points pushed away with 2γb/((0.001 + d²)(1 + a·d^(2b)));
/// gradient components clipped to ±4; step size α·(1 − epoch/epochs).
/// </summary>
/// <remarks>
/// Deterministic for a seed: single-threaded, every random choice from <c>new System.Random(seed)</c>.
/// Exact k-NN costs O(n²·d): fine for the ≤ 2,000 latents a grid cell keeps. Setup-time code; allocates.
/// </remarks>
public static class Umap
{
    private const int SigmaIterations = 64;

    /// <summary>Tolerance of the σ search on |Σ_j exp(…) − log2(k)|.</summary>
    public const double SigmaTolerance = 1e-5;

    /// <summary>Lays <paramref name="data"/> (n points of equal dimension) out in <see cref="UmapOptions.Components"/> dimensions.</summary>
    /// <exception cref="ArgumentException">Ragged rows, a NaN or infinite value (named by row and column), k &lt; 2, or no more points than k.</exception>
    public static UmapEmbedding Embed(IReadOnlyList<double[]> data, UmapOptions? options = null)
    {
        options ??= new UmapOptions();
        Validate(data, options);
        int n = data.Count, k = options.Neighbours;
        int epochs = options.Epochs > 0 ? options.Epochs : n <= 10_000 ? 500 : 200;

        var (indices, distances) = NearestNeighbours(data, k);
        var (sigmas, rhos) = SmoothNearestNeighbourDistances(distances, Math.Log2(k));
        var graph = FuzzyUnion(indices, distances, sigmas, rhos);
        var (a, b) = FitCurve(options.Spread, options.MinDistance);
        var random = new Random(options.Seed);
        var layout = options.Initialisation == UmapInitialisation.Pca
            ? PrincipalComponents(data, options.Components, random)
            : RandomLayout(n, options.Components, random);
        int edges = Optimise(layout, graph, epochs, a, b, options, random);
        return new UmapEmbedding(layout, sigmas, rhos, a, b, epochs, edges);
    }

    private static void Validate(IReadOnlyList<double[]> data, UmapOptions options)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (options.Neighbours < 2)
            throw new ArgumentOutOfRangeException(nameof(options), options.Neighbours, "UMAP needs at least 2 neighbours per point (umap-learn's default is 15)");
        if (options.Components < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.Components, "UMAP needs at least one output dimension");
        if (!(options.MinDistance >= 0 && options.Spread > 0 && options.MinDistance <= options.Spread))
            throw new ArgumentOutOfRangeException(nameof(options), $"UMAP needs 0 ≤ min_dist ≤ spread; got min_dist {options.MinDistance}, spread {options.Spread}");
        if (options.NegativeSampleRate < 0 || !(options.LearningRate > 0) || options.Epochs < 0)
            throw new ArgumentOutOfRangeException(nameof(options), "UMAP needs a non-negative negative-sample rate and epoch count and a positive learning rate");
        if (data.Count <= options.Neighbours)
            throw new ArgumentException($"UMAP with {options.Neighbours} neighbours needs more than {options.Neighbours} points; got {data.Count}", nameof(data));
        int d = data[0]?.Length ?? 0;
        if (d == 0)
            throw new ArgumentException("UMAP needs points with at least one coordinate; point 0 has none", nameof(data));
        for (int i = 0; i < data.Count; i++)
        {
            var row = data[i];
            if (row is null || row.Length != d)
                throw new ArgumentException($"point {i} has {row?.Length ?? 0} coordinates; point 0 has {d}", nameof(data));
            for (int j = 0; j < d; j++)
            {
                if (!double.IsFinite(row[j]))
                    throw new ArgumentException($"point {i}, coordinate {j} is {row[j]}; UMAP needs finite numbers", nameof(data));
            }
        }
    }

    /// <summary>
    /// Exact k nearest neighbours by Euclidean distance, the point itself excluded, nearest first (ties by
    /// index). O(n²·d).
    /// </summary>
    /// <returns>For each point, the neighbours' indices and distances.</returns>
    public static (int[][] Indices, double[][] Distances) NearestNeighbours(IReadOnlyList<double[]> data, int k)
    {
        ArgumentNullException.ThrowIfNull(data);
        int n = data.Count;
        if (k < 1 || k >= n)
            throw new ArgumentOutOfRangeException(nameof(k), k, $"k must lie in [1, {n - 1}] for {n} points");
        var indices = new int[n][];
        var distances = new double[n][];
        for (int i = 0; i < n; i++)
        {
            var bestIndex = new int[k];
            var bestSquared = new double[k];
            Array.Fill(bestSquared, double.PositiveInfinity);
            Array.Fill(bestIndex, int.MaxValue);
            var xi = data[i];
            for (int j = 0; j < n; j++)
            {
                if (j == i)
                    continue;
                double squared = SquaredDistance(xi, data[j]);
                if (squared >= bestSquared[k - 1])
                    continue;
                // Insertion into the sorted short list (k is small).
                int p = k - 1;
                while (p > 0 && bestSquared[p - 1] > squared)
                {
                    bestSquared[p] = bestSquared[p - 1];
                    bestIndex[p] = bestIndex[p - 1];
                    p--;
                }
                bestSquared[p] = squared;
                bestIndex[p] = j;
            }
            indices[i] = bestIndex;
            distances[i] = bestSquared.Select(Math.Sqrt).ToArray();
        }
        return (indices, distances);
    }

    /// <summary>
    /// ρ_i and σ_i per point from its k neighbour distances (ascending): ρ_i is the smallest positive distance
    /// (0 if none), σ_i solves Σ_j exp(−max(0, d_ij − ρ_i)/σ_i) = <paramref name="target"/> by bisection
    /// (64 halvings or doublings, stopping within <see cref="SigmaTolerance"/>). Where the target cannot be met
    /// (neighbours coinciding), σ_i is floored at 10⁻³ × the mean neighbour distance (of the point, or of all
    /// points when the point's are all 0), as umap-learn does.
    /// </summary>
    public static (double[] Sigmas, double[] Rhos) SmoothNearestNeighbourDistances(double[][] distances, double target)
    {
        ArgumentNullException.ThrowIfNull(distances);
        int n = distances.Length;
        var sigmas = new double[n];
        var rhos = new double[n];
        double overallMean = distances.Length == 0 ? 0 : distances.Average(row => row.Length == 0 ? 0 : row.Average());
        for (int i = 0; i < n; i++)
        {
            var row = distances[i];
            double rho = 0;
            foreach (var d in row)
            {
                if (d > 0)
                {
                    rho = d;
                    break;
                }
            }
            double low = 0, high = double.PositiveInfinity, sigma = 1;
            for (int iteration = 0; iteration < SigmaIterations; iteration++)
            {
                double sum = MembershipSum(row, rho, sigma);
                if (Math.Abs(sum - target) < SigmaTolerance)
                    break;
                if (sum > target)
                {
                    high = sigma;
                    sigma = (low + high) / 2;
                }
                else
                {
                    low = sigma;
                    sigma = double.IsPositiveInfinity(high) ? sigma * 2 : (low + high) / 2;
                }
            }
            double mean = row.Length == 0 ? 0 : row.Average();
            double floor = 1e-3 * (rho > 0 ? mean : overallMean);
            sigmas[i] = Math.Max(sigma, floor);
            rhos[i] = rho;
        }
        return (sigmas, rhos);
    }

    /// <summary>Σ_j exp(−max(0, d_j − ρ)/σ) over one point's neighbour distances (the quantity the σ search sets to log2(k)).</summary>
    public static double MembershipSum(ReadOnlySpan<double> distances, double rho, double sigma)
    {
        double sum = 0;
        foreach (var d in distances)
        {
            double excess = d - rho;
            sum += excess > 0 ? Math.Exp(-excess / sigma) : 1.0;
        }
        return sum;
    }

    /// <summary>
    /// a and b of 1/(1 + a·x^(2b)) fitted by Levenberg–Marquardt least squares to f(x) = 1 for x &lt; min_dist,
    /// exp(−(x − min_dist)/spread) otherwise, on 300 evenly spaced x in [0, 3·spread], starting from a = b = 1.
    /// </summary>
    public static (double A, double B) FitCurve(double spread, double minDistance)
    {
        if (!(spread > 0) || !(minDistance >= 0))
            throw new ArgumentOutOfRangeException(nameof(spread), "the UMAP curve needs spread > 0 and min_dist ≥ 0");
        const int count = 300;
        var xs = new double[count];
        var ys = new double[count];
        for (int i = 0; i < count; i++)
        {
            xs[i] = 3 * spread * i / (count - 1);
            ys[i] = xs[i] < minDistance ? 1 : Math.Exp(-(xs[i] - minDistance) / spread);
        }
        double a = 1, b = 1, lambda = 1e-3;
        double cost = CurveCost(xs, ys, a, b);
        for (int iteration = 0; iteration < 500; iteration++)
        {
            // Normal equations of the Gauss–Newton step, damped (JᵀJ + λ·diag(JᵀJ)) δ = −Jᵀr.
            double jaa = 0, jab = 0, jbb = 0, ga = 0, gb = 0;
            for (int i = 0; i < count; i++)
            {
                double x = xs[i];
                double power = x > 0 ? Math.Pow(x, 2 * b) : 0;
                double denominator = 1 + a * power;
                double model = 1 / denominator;
                double residual = model - ys[i];
                double derivativeA = -power / (denominator * denominator);
                double derivativeB = x > 0 ? -a * power * 2 * Math.Log(x) / (denominator * denominator) : 0;
                jaa += derivativeA * derivativeA;
                jab += derivativeA * derivativeB;
                jbb += derivativeB * derivativeB;
                ga += derivativeA * residual;
                gb += derivativeB * residual;
            }
            bool improved = false;
            for (int attempt = 0; attempt < 30 && !improved; attempt++)
            {
                double m11 = jaa * (1 + lambda), m22 = jbb * (1 + lambda), m12 = jab;
                double determinant = m11 * m22 - m12 * m12;
                if (determinant <= 0)
                {
                    lambda *= 10;
                    continue;
                }
                double stepA = -(m22 * ga - m12 * gb) / determinant;
                double stepB = -(m11 * gb - m12 * ga) / determinant;
                double candidateCost = CurveCost(xs, ys, a + stepA, b + stepB);
                if (candidateCost < cost && a + stepA > 0 && b + stepB > 0)
                {
                    double relative = (cost - candidateCost) / Math.Max(cost, 1e-300);
                    a += stepA;
                    b += stepB;
                    cost = candidateCost;
                    lambda = Math.Max(lambda / 10, 1e-12);
                    improved = true;
                    if (relative < 1e-15)
                        return (a, b);
                }
                else
                {
                    lambda *= 10;
                }
            }
            if (!improved)
                break;
        }
        return (a, b);
    }

    private static double CurveCost(double[] xs, double[] ys, double a, double b)
    {
        double cost = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            double power = xs[i] > 0 ? Math.Pow(xs[i], 2 * b) : 0;
            double residual = 1 / (1 + a * power) - ys[i];
            cost += residual * residual;
        }
        return cost;
    }

    /// <summary>The symmetric fuzzy graph as a list of undirected edges (i &lt; j) with their weights, in a fixed order.</summary>
    internal static List<(int I, int J, double Weight)> FuzzyUnion(int[][] indices, double[][] distances, double[] sigmas, double[] rhos)
    {
        var directed = new Dictionary<long, double>();
        int n = indices.Length;
        for (int i = 0; i < n; i++)
        {
            for (int m = 0; m < indices[i].Length; m++)
            {
                int j = indices[i][m];
                double excess = distances[i][m] - rhos[i];
                double weight = excess > 0 ? Math.Exp(-excess / sigmas[i]) : 1.0;
                directed[(long)i * n + j] = weight;
            }
        }
        var edges = new List<(int, int, double)>();
        foreach (var key in directed.Keys.Order())
        {
            int i = (int)(key / n), j = (int)(key % n);
            bool hasBackward = directed.TryGetValue((long)j * n + i, out var backward);
            // Each unordered pair once: from its smaller end, or from the only end that has it.
            if (i < j || !hasBackward)
            {
                double forward = directed[key];
                double weight = forward + backward - forward * backward;
                if (weight > 0)
                    edges.Add((Math.Min(i, j), Math.Max(i, j), weight));
            }
        }
        edges.Sort((x, y) => x.Item1 != y.Item1 ? x.Item1.CompareTo(y.Item1) : x.Item2.CompareTo(y.Item2));
        return edges;
    }

    private static int Optimise(double[][] layout, List<(int I, int J, double Weight)> graph, int epochs, double a, double b, UmapOptions options, Random random)
    {
        int n = layout.Length, dimensions = options.Components;
        double maxWeight = graph.Count == 0 ? 0 : graph.Max(e => e.Weight);
        // Both directions of every kept edge are samples, as in the symmetric matrix the method samples from.
        var heads = new List<int>();
        var tails = new List<int>();
        var period = new List<double>();
        int kept = 0;
        foreach (var (i, j, weight) in graph)
        {
            if (weight < maxWeight / epochs)
                continue;
            kept++;
            double every = maxWeight / weight;
            heads.Add(i); tails.Add(j); period.Add(every);
            heads.Add(j); tails.Add(i); period.Add(every);
        }
        int samples = heads.Count;
        var nextSample = period.ToArray();
        var negativePeriod = period.Select(p => options.NegativeSampleRate > 0 ? p / options.NegativeSampleRate : double.PositiveInfinity).ToArray();
        var nextNegative = negativePeriod.ToArray();
        double gamma = options.RepulsionStrength;
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            double alpha = options.LearningRate * (1 - (double)epoch / epochs);
            for (int e = 0; e < samples; e++)
            {
                if (nextSample[e] > epoch)
                    continue;
                var current = layout[heads[e]];
                var other = layout[tails[e]];
                double squared = SquaredDistance(current, other);
                if (squared > 0)
                {
                    double powerB = Math.Pow(squared, b);
                    double coefficient = -2 * a * b * (powerB / squared) / (a * powerB + 1);
                    for (int d = 0; d < dimensions; d++)
                    {
                        double step = Clip(coefficient * (current[d] - other[d])) * alpha;
                        current[d] += step;
                        other[d] -= step;
                    }
                }
                nextSample[e] += period[e];

                int negatives = (int)((epoch - nextNegative[e]) / negativePeriod[e]);
                for (int p = 0; p < negatives; p++)
                {
                    int k = random.Next(n);
                    if (k == heads[e])
                        continue;
                    var away = layout[k];
                    double squaredAway = SquaredDistance(current, away);
                    if (squaredAway > 0)
                    {
                        double coefficient = 2 * gamma * b / ((0.001 + squaredAway) * (a * Math.Pow(squaredAway, b) + 1));
                        for (int d = 0; d < dimensions; d++)
                            current[d] += Clip(coefficient * (current[d] - away[d])) * alpha;
                    }
                    else
                    {
                        // Coincident points: the largest push, in every coordinate.
                        for (int d = 0; d < dimensions; d++)
                            current[d] += 4 * alpha;
                    }
                }
                if (negatives > 0)
                    nextNegative[e] += negatives * negativePeriod[e];
            }
        }
        return kept;
    }

    private static double Clip(double value) => value > 4 ? 4 : value < -4 ? -4 : value;

    private static double[][] RandomLayout(int n, int dimensions, Random random)
    {
        var layout = new double[n][];
        for (int i = 0; i < n; i++)
        {
            layout[i] = new double[dimensions];
            for (int d = 0; d < dimensions; d++)
                layout[i][d] = random.NextDouble() * 10;
        }
        return layout;
    }

    /// <summary>The leading principal components by power iteration with deflation (v ← Xᵀ(X·v), 100 rounds each, seeded start), each coordinate rescaled to [0, 10]; a direction without variance falls back to random coordinates.</summary>
    private static double[][] PrincipalComponents(IReadOnlyList<double[]> data, int components, Random random)
    {
        int n = data.Count, d = data[0].Length;
        var mean = new double[d];
        foreach (var row in data)
        {
            for (int j = 0; j < d; j++)
                mean[j] += row[j] / n;
        }
        var centred = data.Select(row => row.Select((v, j) => v - mean[j]).ToArray()).ToArray();
        var directions = new List<double[]>();
        var layout = new double[n][];
        for (int i = 0; i < n; i++)
            layout[i] = new double[components];
        var projection = new double[n];
        for (int c = 0; c < components; c++)
        {
            var v = new double[d];
            for (int j = 0; j < d; j++)
                v[j] = random.NextDouble() - 0.5;
            bool usable = Orthonormalise(v, directions);
            for (int round = 0; round < 100 && usable; round++)
            {
                for (int i = 0; i < n; i++)
                    projection[i] = Dot(centred[i], v);
                var next = new double[d];
                for (int i = 0; i < n; i++)
                {
                    var row = centred[i];
                    double p = projection[i];
                    for (int j = 0; j < d; j++)
                        next[j] += p * row[j];
                }
                usable = Orthonormalise(next, directions);
                v = next;
            }
            double low = double.PositiveInfinity, high = double.NegativeInfinity;
            if (usable)
            {
                directions.Add(v);
                for (int i = 0; i < n; i++)
                {
                    projection[i] = Dot(centred[i], v);
                    low = Math.Min(low, projection[i]);
                    high = Math.Max(high, projection[i]);
                }
            }
            for (int i = 0; i < n; i++)
            {
                layout[i][c] = usable && high > low ? 10 * (projection[i] - low) / (high - low) : random.NextDouble() * 10;
            }
        }
        return layout;
    }

    private static bool Orthonormalise(double[] v, List<double[]> basis)
    {
        foreach (var u in basis)
        {
            double p = Dot(v, u);
            for (int j = 0; j < v.Length; j++)
                v[j] -= p * u[j];
        }
        double norm = Math.Sqrt(Dot(v, v));
        if (!(norm > 1e-12))
            return false;
        for (int j = 0; j < v.Length; j++)
            v[j] /= norm;
        return true;
    }

    private static double Dot(double[] x, double[] y)
    {
        double sum = 0;
        for (int j = 0; j < x.Length; j++)
            sum += x[j] * y[j];
        return sum;
    }

    internal static double SquaredDistance(double[] x, double[] y)
    {
        double sum = 0;
        for (int j = 0; j < x.Length; j++)
        {
            double d = x[j] - y[j];
            sum += d * d;
        }
        return sum;
    }
}
