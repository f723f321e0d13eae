namespace RobotRuntime.Agents.Analysis;

/// <summary>
/// How well a low-dimensional layout keeps the structure of its data: trustworthiness (neighbourhoods),
/// k-NN label agreement and the silhouette (clusters). Euclidean distances, exact, O(n²·d); setup-time code.
/// </summary>
public static class EmbeddingQuality
{
    /// <summary>
    /// Trustworthiness T(k) (Venna and Kaski, 2001): 1 − 2/(n·k·(2n − 3k − 1)) · Σ_i Σ_{j ∈ U_k(i)} (r(i, j) − k),
    /// where U_k(i) are the points among i's k nearest in <paramref name="layout"/> that are not among its k
    /// nearest in <paramref name="data"/>, and r(i, j) is j's rank among i's neighbours in the data (1 =
    /// nearest). 1 means no false neighbours; needs k &lt; n/2.
    /// </summary>
    public static double Trustworthiness(IReadOnlyList<double[]> data, IReadOnlyList<double[]> layout, int k)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(layout);
        int n = data.Count;
        if (layout.Count != n)
            throw new ArgumentException($"the layout has {layout.Count} points; the data has {n}", nameof(layout));
        if (k < 1 || 2 * k >= n)
            throw new ArgumentOutOfRangeException(nameof(k), k, $"trustworthiness needs 1 ≤ k < n/2 ({n} points)");
        double penalty = 0;
        var rank = new int[n];
        var order = new int[n];
        var distances = new double[n];
        for (int i = 0; i < n; i++)
        {
            RankFrom(data, i, order, distances);
            for (int r = 0; r < n; r++)
                rank[order[r]] = r; // order[0] is i itself, so the nearest other point has rank 1
            var near = Nearest(layout, i, k, order, distances);
            foreach (var j in near)
            {
                if (rank[j] > k)
                    penalty += rank[j] - k;
            }
        }
        return 1 - 2.0 / (n * k * (2.0 * n - 3.0 * k - 1)) * penalty;
    }

    /// <summary>The fraction of (point, neighbour) pairs among every point's k nearest in <paramref name="points"/> whose labels agree.</summary>
    public static double NeighbourLabelAgreement(IReadOnlyList<double[]> points, IReadOnlyList<int> labels, int k)
    {
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(labels);
        int n = points.Count;
        if (labels.Count != n)
            throw new ArgumentException($"{labels.Count} labels for {n} points", nameof(labels));
        if (k < 1 || k >= n)
            throw new ArgumentOutOfRangeException(nameof(k), k, $"k must lie in [1, {n - 1}]");
        var order = new int[n];
        var distances = new double[n];
        int agree = 0;
        for (int i = 0; i < n; i++)
        {
            foreach (var j in Nearest(points, i, k, order, distances))
            {
                if (labels[j] == labels[i])
                    agree++;
            }
        }
        return (double)agree / ((double)n * k);
    }

    /// <summary>
    /// The mean silhouette: for each point, s = (b − a)/max(a, b) with a its mean distance to the other points
    /// of its label and b the smallest mean distance to another label's points (s = 0 for a point alone in its
    /// label). In [−1, 1]; near 1 for tight, well-separated clusters.
    /// </summary>
    public static double Silhouette(IReadOnlyList<double[]> points, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(labels);
        int n = points.Count;
        if (labels.Count != n)
            throw new ArgumentException($"{labels.Count} labels for {n} points", nameof(labels));
        var distinct = labels.Distinct().ToArray();
        if (distinct.Length < 2)
            throw new ArgumentException("the silhouette needs at least two labels", nameof(labels));
        var index = distinct.Select((label, i) => (label, i)).ToDictionary(x => x.label, x => x.i);
        var counts = new int[distinct.Length];
        foreach (var label in labels)
            counts[index[label]]++;
        double total = 0;
        var sums = new double[distinct.Length];
        for (int i = 0; i < n; i++)
        {
            Array.Clear(sums);
            for (int j = 0; j < n; j++)
            {
                if (j != i)
                    sums[index[labels[j]]] += Math.Sqrt(Umap.SquaredDistance(points[i], points[j]));
            }
            int own = index[labels[i]];
            if (counts[own] < 2)
                continue;
            double a = sums[own] / (counts[own] - 1), b = double.PositiveInfinity;
            for (int c = 0; c < distinct.Length; c++)
            {
                if (c != own)
                    b = Math.Min(b, sums[c] / counts[c]);
            }
            double larger = Math.Max(a, b);
            total += larger > 0 ? (b - a) / larger : 0;
        }
        return total / n;
    }

    private static void RankFrom(IReadOnlyList<double[]> points, int i, int[] order, double[] distances)
    {
        for (int j = 0; j < points.Count; j++)
        {
            order[j] = j;
            distances[j] = j == i ? double.NegativeInfinity : Umap.SquaredDistance(points[i], points[j]);
        }
        Array.Sort(distances, order);
    }

    private static int[] Nearest(IReadOnlyList<double[]> points, int i, int k, int[] order, double[] distances)
    {
        RankFrom(points, i, order, distances);
        return order.AsSpan(1, k).ToArray();
    }
}
