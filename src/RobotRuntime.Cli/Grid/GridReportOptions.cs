using RobotRuntime.Agents.Analysis;

namespace RobotRuntime.Cli.Grid;

/// <summary>Settings of <see cref="GridReport.Write"/>.</summary>
public sealed record GridReportOptions
{
    /// <summary>Confidence level of every interval.</summary>
    public double Confidence { get; init; } = RobustStatistics.DefaultConfidence;

    /// <summary>Bootstrap replicates per interval.</summary>
    public int Resamples { get; init; } = RobustStatistics.DefaultResamples;

    /// <summary>Seed of the bootstrap resampling and of the UMAP layouts; the same grid and seed give the same report.</summary>
    public int Seed { get; init; }

    /// <summary>Success rates whose first crossing the sample-efficiency table reports (steps to reach each).</summary>
    public IReadOnlyList<double> SuccessThresholds { get; init; } = [0.5, 0.8];

    /// <summary>The report's title; default "Grid report: &lt;the spec's name or the folder's&gt;".</summary>
    public string? Title { get; init; }

    /// <summary>Draw the 2-D UMAP maps of visited latents (the slowest part: a few seconds per map of 2,000 states).</summary>
    public bool LatentMaps { get; init; } = true;

    /// <summary>UMAP settings of the latent maps (the seed is taken from <see cref="Seed"/>).</summary>
    public UmapOptions Umap { get; init; } = new();

    /// <summary>
    /// When false (the default) a malformed result.json or latents.csv stops the report with an error naming the
    /// file and the field; when true the cell is left out and listed under "Problems" at the top of the report.
    /// </summary>
    public bool SkipMalformedResults { get; init; }

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        new BootstrapOptions(Confidence, Resamples, Seed).Validate();
        ArgumentNullException.ThrowIfNull(SuccessThresholds);
        foreach (var threshold in SuccessThresholds)
        {
            if (!(threshold >= 0 && threshold <= 1))
                throw new ArgumentOutOfRangeException(nameof(SuccessThresholds), threshold, "a success threshold must lie in [0, 1]");
        }
        ArgumentNullException.ThrowIfNull(Umap);
    }
}
