using System.Runtime.InteropServices;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Training;

namespace RobotRuntime.Agents.Replay;

/// <summary>
/// Fills a <see cref="TrainingBatch"/> with uniformly drawn sub-trajectories of H + 1 steps from a
/// replay buffer: frames stacked from earlier steps of the same episode (the first frame repeated at
/// an episode's start), images converted to [−0.5, 0.5] floats in channel-first order with an
/// independent random shift (edge-replicated padding) per observation.
/// </summary>
public sealed class BatchSampler
{
    private readonly ReplayBuffer _replay;
    private readonly AgentRandom _random;
    private readonly int _shiftPad;

    /// <summary>Creates a sampler over <paramref name="replay"/> drawing from <paramref name="random"/>.</summary>
    public BatchSampler(ReplayBuffer replay, AgentRandom random, int shiftPad)
    {
        _replay = replay;
        _random = random;
        _shiftPad = shiftPad;
    }

    /// <summary>Whether the buffer holds at least one valid sequence of <paramref name="horizon"/> steps.</summary>
    public bool CanSample(int horizon) => _replay.Total - _replay.Oldest > horizon + 1;

    /// <summary>Fills <paramref name="batch"/>.</summary>
    /// <exception cref="InvalidOperationException">No valid sequence found (too little data).</exception>
    public void Fill(TrainingBatch batch)
    {
        var layout = batch.Layout;
        int b = batch.BatchSize, h = batch.Horizon;
        long oldest = _replay.Oldest, span = _replay.Total - oldest - h;
        if (span <= 0)
        {
            throw new InvalidOperationException($"the replay buffer holds {_replay.Total - oldest} records; at least {h + 2} are needed to sample");
        }
        for (int i = 0; i < b; i++)
        {
            long start = -1;
            for (int attempt = 0; attempt < 1000; attempt++)
            {
                long candidate = oldest + (long)(_random.NextFloat() * span);
                if (_replay.IsValidSequence(candidate, h))
                {
                    start = candidate;
                    break;
                }
            }
            if (start < 0)
            {
                throw new InvalidOperationException($"no valid {h}-step sequence found in 1000 draws from {_replay.Total - oldest} records");
            }
            for (int t = 0; t <= h; t++)
            {
                long index = start + t;
                int row = t * b + i;
                WriteObservation(index, batch.Observations.AsSpan(row * batch.ObservationWidth, batch.ObservationWidth), layout);
                _replay.Proprioception(index).CopyTo(batch.Proprioception.AsSpan(row * layout.ProprioceptionLength, layout.ProprioceptionLength));
                if (t < h)
                {
                    _replay.Action(index).CopyTo(batch.Actions.AsSpan((t * b + i) * layout.ActionDim, layout.ActionDim));
                    batch.Rewards[t * b + i] = _replay.Reward(index);
                    batch.Terminated[t * b + i] = (_replay.Flags(index) & ReplayFlags.Terminated) != 0 ? 1f : 0f;
                    batch.NextObserved[t * b + i] = (_replay.Flags(index + 1) & ReplayFlags.Padding) != 0 ? 0f : 1f;
                }
            }
        }
    }

    private void WriteObservation(long index, Span<float> destination, ObservationLayout layout)
    {
        int stack = layout.FrameStack;
        if (layout.Kind == FeatureKind.Floats)
        {
            for (int k = 0; k < stack; k++)
            {
                long source = _replay.StackSource(index, stack - 1 - k);
                MemoryMarshal.Cast<byte, float>(_replay.Features(source)).CopyTo(destination.Slice(k * layout.FeatureLength, layout.FeatureLength));
            }
            return;
        }
        int size = layout.ImageSize, plane = size * size;
        int dx = _shiftPad > 0 ? _random.NextInt(2 * _shiftPad + 1) - _shiftPad : 0;
        int dy = _shiftPad > 0 ? _random.NextInt(2 * _shiftPad + 1) - _shiftPad : 0;
        for (int k = 0; k < stack; k++)
        {
            var pixels = _replay.Features(_replay.StackSource(index, stack - 1 - k));
            for (int camera = 0; camera < layout.Cameras; camera++)
            {
                var image = pixels.Slice(camera * plane * 3, plane * 3);
                int channelBase = (k * layout.Cameras + camera) * 3;
                ImageToPlanes(image, size, dx, dy, destination.Slice(channelBase * plane, 3 * plane));
            }
        }
    }

    /// <summary>
    /// HWC RGB bytes → three [size, size] planes scaled to [−0.5, 0.5], shifted by (dx, dy) pixels with
    /// edge replication (output pixel (x, y) reads input (x + dx, y + dy) clamped).
    /// </summary>
    public static void ImageToPlanes(ReadOnlySpan<byte> image, int size, int dx, int dy, Span<float> planes)
    {
        int plane = size * size;
        const float scale = 1f / 255f;
        for (int y = 0; y < size; y++)
        {
            int sy = Math.Clamp(y + dy, 0, size - 1);
            for (int x = 0; x < size; x++)
            {
                int sx = Math.Clamp(x + dx, 0, size - 1);
                int source = (sy * size + sx) * 3;
                int target = y * size + x;
                planes[target] = image[source] * scale - 0.5f;
                planes[plane + target] = image[source + 1] * scale - 0.5f;
                planes[2 * plane + target] = image[source + 2] * scale - 0.5f;
            }
        }
    }
}
