using RobotRuntime.Datasets;
using RobotRuntime.Datasets.Recording;

namespace RobotRuntime.Pretraining;

/// <summary>
/// What an objective and an encoder need of a dataset, checked before a run starts so that a dataset
/// that cannot serve them is refused with the reason rather than failing inside the first update:
/// <list type="bullet">
/// <item>idm, bc and spr learn from the action taken at each frame ("action"); atc, video-dynamics and
/// mae from frames alone. No objective reads "observation.state".</item>
/// <item>A recorded deployment's "action" is the command the arm was sent, not one action per frame; idm and
/// spr learn there from the agent's own normalised action (<c>policy.normalised_action</c>), on the steps
/// where it was carried out as the agent chose it (<see cref="FrameSampler.WindowStartsOf"/>). bc is refused
/// on it.</item>
/// <item>Every encoder takes square images of one size, a multiple of 16 for the CNNs (four stride-2
/// layers) and of 8 for the transformer (its patches); nothing resizes them on the way.</item>
/// <item>Any number of cameras: each sample is one image of one camera (so one encoder serves them all).</item>
/// </list>
/// </summary>
public static class PretrainingData
{
    /// <summary>The objectives that learn from frames alone, in the order the command line lists them.</summary>
    public static IReadOnlyList<PretrainObjective> FrameOnlyObjectives { get; } = [PretrainObjective.Atc, PretrainObjective.VideoDynamics, PretrainObjective.Mae, PretrainObjective.Curl, PretrainObjective.SiamMae];

    /// <summary>Whether <paramref name="objective"/> learns from the recorded actions (idm, bc, spr).</summary>
    public static bool NeedsActions(PretrainObjective objective) => !FrameOnlyObjectives.Contains(objective);

    /// <summary>
    /// The additional column <paramref name="objective"/> reads its actions from on a dataset of
    /// <paramref name="layout"/>: a recorded deployment's <c>policy.normalised_action</c> for idm and spr;
    /// null for "action" (or for an objective that reads none).
    /// </summary>
    public static string? ActionColumn(DatasetLayout layout, PretrainObjective objective) =>
        objective is PretrainObjective.Idm or PretrainObjective.Spr && DeploymentLayout.IsDeployment(layout) && DeploymentLayout.NormalisedActionWidth(layout) > 0
            ? DeploymentLayout.Columns.PolicyNormalisedAction
            : null;

    /// <summary>Values per action <paramref name="objective"/> learns from on a dataset of <paramref name="layout"/>.</summary>
    public static int ActionSize(DatasetLayout layout, PretrainObjective objective) =>
        ActionColumn(layout, objective) is { } column ? layout.ColumnAt(column).Column.Width : layout.ActionNames.Count;

    /// <summary>
    /// Why images of <paramref name="width"/> × <paramref name="height"/> cannot go through the
    /// <paramref name="architecture"/> encoder, or null when they can.
    /// </summary>
    public static string? ImageSizeProblem(int width, int height, string architecture)
    {
        var multiple = EncoderArchitectures.IsTransformer(architecture) ? EncoderArchitectures.VitTiny.PatchSize : 16;
        var why = EncoderArchitectures.IsTransformer(architecture) ? $"its {multiple}-pixel patches" : "four stride-2 layers";
        if (width != height)
            return $"images are {width}x{height}; the {architecture} encoder takes square images (a side that is a multiple of {multiple}: {why})";
        if (width < multiple || width % multiple != 0)
            return $"images are {width}x{height}; the {architecture} encoder takes a side that is a multiple of {multiple} ({why})";
        return null;
    }

    /// <summary>
    /// Checks that <paramref name="dataset"/> can serve <paramref name="options"/>' objective and architecture.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// It cannot: the message names the dataset, what it lacks (the "action" column, or one action per frame
    /// in a recorded deployment; the image size) and what would work on it.
    /// </exception>
    public static void Check(EpisodeDataset dataset, PretrainOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(options);
        var layout = dataset.Layout;
        if (NeedsActions(options.Objective))
        {
            var name = PretrainOptions.NameOf(options.Objective);
            var learns = options.Objective switch
            {
                PretrainObjective.Idm => "the action taken between frames t and t + 1",
                PretrainObjective.Bc => "the demonstrator's action at each frame",
                _ => "the actions taken between the frames of each window",
            };
            if (!layout.HasAction)
            {
                var what = CameraDatasetLayout.IsCameraRecording(layout) ? ": it is a recording of cameras alone (rr record --dataset)" : "";
                throw new ArgumentException($"{dataset.Folder} has no 'action' column{what}. The {name} objective learns from {learns}. {Alternatives()}");
            }
            if (DeploymentLayout.IsDeployment(layout))
            {
                var deployment = $"{dataset.Folder} is a recorded deployment (rr run --record): its 'action' column is the command sent to the arm, "
                    + "one block per command mode with NaN where that mode was not sent (and all NaN when nothing was sent), not one action per frame";
                bool agent = DeploymentLayout.NormalisedActionWidth(layout) > 0;
                if (options.Objective == PretrainObjective.Bc && agent)
                    throw new ArgumentException($"{deployment}, and the actions its agent took are the agent's own, not a demonstrator's; "
                        + $"the bc objective learns from {learns}. idm and spr learn from the agent's actions ({DeploymentLayout.Columns.PolicyNormalisedAction}). {Alternatives()}");
                if (options.Objective == PretrainObjective.Bc)
                    throw new ArgumentException($"{deployment}; the bc objective learns from {learns}. {Alternatives()}");
                if (!agent)
                    throw new ArgumentException($"{deployment}; and it has no '{DeploymentLayout.Columns.PolicyNormalisedAction}' column, the agent's own action that idm and spr learn from "
                        + $"(its policy has no normalised action of its own, as a scripted one, or it was recorded before rr run kept it). {Alternatives()}");
            }
        }
        if (ImageSizeProblem(layout.ImageWidth, layout.ImageHeight, options.Architecture) is { } problem)
            throw new ArgumentException($"{dataset.Folder}: {problem}; nothing resizes them. Record at such a size (rr record --size 64, rr collect --size 64)"
                + (EncoderArchitectures.IsTransformer(options.Architecture) || layout.ImageWidth != layout.ImageHeight || layout.ImageWidth % 8 != 0 ? "." : ", or train --architecture vit-tiny (sides that are multiples of 8)."));

        string Alternatives() =>
            $"Objectives that learn from frames alone train on it: {string.Join(", ", FrameOnlyObjectives.Select(PretrainOptions.NameOf))} (mae and siammae with --architecture vit-tiny).";
    }
}
