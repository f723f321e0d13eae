using RobotRuntime.Agents.Model;

namespace RobotRuntime.Agents.Training;

/// <summary>
/// One update's sub-trajectories, time-major: H + 1 observations and H actions, rewards and
/// termination flags for each of B sequences. Buffers are allocated once and refilled.
/// </summary>
public sealed class TrainingBatch
{
    /// <summary>Allocates a batch for <paramref name="batchSize"/> sequences of <paramref name="horizon"/> steps.</summary>
    public TrainingBatch(ObservationLayout layout, int batchSize, int horizon)
    {
        Layout = layout;
        BatchSize = batchSize;
        Horizon = horizon;
        ObservationWidth = layout.Kind == FeatureKind.Images
            ? layout.FrameStack * layout.Cameras * 3 * layout.ImageSize * layout.ImageSize
            : layout.FrameStack * layout.FeatureLength;
        Observations = new float[(horizon + 1) * batchSize * ObservationWidth];
        Proprioception = new float[(horizon + 1) * batchSize * layout.ProprioceptionLength];
        Actions = new float[horizon * batchSize * layout.ActionDim];
        Rewards = new float[horizon * batchSize];
        Terminated = new float[horizon * batchSize];
        NextObserved = new float[horizon * batchSize];
        Array.Fill(NextObserved, 1f);
    }

    /// <summary>The observation layout.</summary>
    public ObservationLayout Layout { get; }

    /// <summary>Sequences B.</summary>
    public int BatchSize { get; }

    /// <summary>Steps H.</summary>
    public int Horizon { get; }

    /// <summary>Floats per observation row (stacked features, or C·size·size for images).</summary>
    public int ObservationWidth { get; }

    /// <summary>[(H + 1)·B, width]: row t·B + b is step t of sequence b (images scaled to [−0.5, 0.5], augmented).</summary>
    public float[] Observations { get; }

    /// <summary>[(H + 1)·B, P].</summary>
    public float[] Proprioception { get; }

    /// <summary>[H·B, A]: the action taken at step t.</summary>
    public float[] Actions { get; }

    /// <summary>[H·B]: the reward after the action at step t.</summary>
    public float[] Rewards { get; }

    /// <summary>[H·B]: 1 where the action at step t ended the episode by termination (success), else 0.</summary>
    public float[] Terminated { get; }

    /// <summary>
    /// [H·B]: 1 where the observation after the action at step t was recorded, 0 where it is padding
    /// (<see cref="Replay.ReplayFlags.Padding"/>, offline data): no consistency loss against it. All 1 online.
    /// </summary>
    public float[] NextObserved { get; }
}
