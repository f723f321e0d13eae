using System.Globalization;
using System.Text.Json.Nodes;
using RobotRuntime.Agents.Packaging;
using RobotRuntime.Agents.Replay;
using RobotRuntime.Agents.Training;
using RobotRuntime.Arm;
using RobotRuntime.Datasets;
using RobotRuntime.Datasets.Recording;
using RobotRuntime.Environments;
using RobotRuntime.Sim.Collection;
using RobotRuntime.Sim.Tabletop;
using Columns = RobotRuntime.Datasets.Recording.DeploymentLayout.Columns;

namespace RobotRuntime.Cli.AgentCommands;

/// <summary>Where the rewards of offline adaptation come from (<c>rr train --from-dataset --reward</c>).</summary>
internal enum AdaptationReward
{
    /// <summary>The dataset's own rewards when it has them, else the task's reward function on its environment state, else success labels.</summary>
    Auto,

    /// <summary>The dataset's "next.reward" column (the simulator's reward, in an eval, collect or simulated-arm recording).</summary>
    Dataset,

    /// <summary>The task's reward function on the environment state after the action (the next frame's "observation.environment_state").</summary>
    Task,

    /// <summary>1 on frames labelled successful ("next.success"), 0 on the others.</summary>
    Success,
}

/// <summary>How one dataset is read for adaptation, and what it gave.</summary>
/// <param name="Dataset">The dataset.</param>
/// <param name="Deployment">A recorded deployment (<c>rr run --record</c>): its state is the arm's, its action the policy's normalised action column.</param>
/// <param name="Reward">The reward source resolved for it.</param>
internal sealed record AdaptationSource(EpisodeDataset Dataset, bool Deployment, AdaptationReward Reward)
{
    /// <summary>Episodes used (of the package's task).</summary>
    public int EpisodesUsed { get; set; }

    /// <summary>Frames of the episodes used.</summary>
    public long FramesUsed { get; set; }

    /// <summary>Transitions stored (frames whose action and next observation were usable).</summary>
    public long Transitions { get; set; }

    /// <summary>Transitions that ended an episode by success (terminal).</summary>
    public long Terminal { get; set; }

    /// <summary>Frames not used as transitions (a hold, a stale frame, a clipped joint command, an episode's last non-terminal frame).</summary>
    public long Dropped { get; set; }

    /// <summary>Episodes of other tasks, skipped.</summary>
    public int OtherTasks { get; set; }

    /// <summary>The manifest's record of this dataset as a parent.</summary>
    public JsonObject ToParent() => new()
    {
        ["kind"] = "dataset",
        ["path"] = Dataset.Folder,
        ["episodes"] = EpisodesUsed,
        ["frames"] = FramesUsed,
        ["transitions"] = Transitions,
        ["reward"] = Reward.ToString().ToLowerInvariant(),
        ["source"] = Deployment ? "rr run --record" : "episodes (rr eval --record, rr collect)",
    };
}

/// <summary>
/// Turns recorded episodes into an offline run's replay (<see cref="OfflineTrainer.Append"/>): checks that a
/// dataset fits the parent package (cameras, image size, rate, proprioception, action, task), reads its
/// frames, and writes transitions: the normalised action (the "action" column of an episode dataset;
/// <c>policy.normalised_action</c> of a recorded deployment), the reward by <see cref="AdaptationReward"/>,
/// terminal on success. A dataset holds no observation after an episode's last action, so a terminal last
/// frame is closed by a padding record (no consistency loss against it) and a non-terminal one is not a transition.
/// </summary>
internal static class AdaptationData
{
    /// <summary>
    /// Checks <paramref name="dataset"/> against the package and resolves the reward source.
    /// </summary>
    /// <exception cref="InvalidDataException">The dataset does not fit; the message names the field and both values.</exception>
    public static AdaptationSource Check(EpisodeDataset dataset, AgentPackage.Loaded parent, AdaptationReward reward)
    {
        var layout = dataset.Layout;
        var config = parent.Model.Config;
        var model = parent.Model.Layout;
        var arm = parent.ArmLayout;
        string where = $"dataset {dataset.Folder}";
        foreach (var camera in config.Cameras)
        {
            if (!layout.Cameras.Contains(camera))
                throw new InvalidDataException($"{where}: cameras: the package's agent sees camera '{camera}'; the dataset has {string.Join(", ", layout.Cameras)}");
        }
        if (layout.ImageWidth != config.ImageSize || layout.ImageHeight != config.ImageSize)
            throw new InvalidDataException($"{where}: image size: the dataset's images are {layout.ImageWidth}×{layout.ImageHeight}; the package's agent takes {config.ImageSize}×{config.ImageSize} (record at that size)");
        if (parent.ControlRateHz is { } rate && Math.Abs(layout.Fps - rate) > 1e-6 * rate)
            throw new InvalidDataException($"{where}: fps: the dataset was recorded at {layout.Fps:0.###} Hz; the package's agent acts at {rate:0.###} Hz");
        if (!layout.Tasks.Contains(parent.Task))
            throw new InvalidDataException($"{where}: task: the dataset's episodes are of {string.Join(", ", layout.Tasks)}; the package was trained on '{parent.Task}'");
        var actionNames = arm.ActionNames();
        bool deployment = DeploymentLayout.IsDeployment(layout);
        if (deployment)
        {
            int joints = DeploymentLayout.JointCountOf(layout);
            if (joints != arm.JointCount)
                throw new InvalidDataException($"{where}: observation.state: recorded on an arm of {joints} joints; the package's arm layout has {arm.JointCount} ({arm.Describe()})");
            int width = DeploymentLayout.NormalisedActionWidth(layout);
            if (width == 0)
                throw new InvalidDataException($"{where}: {Columns.PolicyNormalisedAction}: the recording has no such column (recorded before rr run kept it, or with a policy that has no normalised action of its own), so its commands cannot be turned back into the agent's actions");
            var names = layout.Columns.First(c => c.Name == Columns.PolicyNormalisedAction).Names!;
            if (width != model.ActionDim || !names.SequenceEqual(actionNames))
                throw new InvalidDataException($"{where}: {Columns.PolicyNormalisedAction}: the recording's policy acted with {width} values ({string.Join(", ", names)}); the package's agent with {model.ActionDim} ({string.Join(", ", actionNames)})");
        }
        else
        {
            if (model.ProprioceptionLength > 0 && layout.StateNames.Count != model.ProprioceptionLength)
                throw new InvalidDataException($"{where}: observation.state: the dataset has {layout.StateNames.Count} values; the package's agent takes {model.ProprioceptionLength} proprioception values ({arm.Describe()})");
            if (layout.ActionNames.Count != model.ActionDim)
                throw new InvalidDataException($"{where}: action: the dataset's action has {layout.ActionNames.Count} values ({string.Join(", ", layout.ActionNames)}); the package's agent acts with {model.ActionDim} ({string.Join(", ", actionNames)})");
            if (arm.ActionSpace == ActionSpaceKind.EndEffectorDelta && !layout.ActionNames.SequenceEqual(actionNames))
                throw new InvalidDataException($"{where}: action: the dataset's action is {string.Join(", ", layout.ActionNames)}; the package's agent acts with {string.Join(", ", actionNames)}");
        }
        bool labelled = !dataset.Episodes.Any(e => e.Extra.TryGetValue("rewards", out var r) && r == "unlabelled");
        bool hasEnvironmentState = layout.EnvironmentStateNames.SequenceEqual(DatasetCollector.EnvironmentStateNames);
        var resolved = reward switch
        {
            AdaptationReward.Auto when labelled => AdaptationReward.Dataset,
            AdaptationReward.Auto when hasEnvironmentState => AdaptationReward.Task,
            AdaptationReward.Auto => AdaptationReward.Success,
            _ => reward,
        };
        if (resolved == AdaptationReward.Task && !hasEnvironmentState)
            throw new InvalidDataException($"{where}: --reward task: the dataset keeps no environment state (observation.environment_state: tip, goal, object positions) to compute the task's reward from");
        if (resolved is AdaptationReward.Dataset or AdaptationReward.Success && !labelled)
            throw new InvalidDataException($"{where}: --reward {resolved.ToString().ToLowerInvariant()}: the recording's rewards and success are unlabelled (rr run without a simulator's reward source); it cannot be adapted on");
        return new AdaptationSource(dataset, deployment, resolved);
    }

    /// <summary>
    /// Writes the transitions of <paramref name="source"/>'s episodes of the package's task into the run's replay.
    /// </summary>
    /// <param name="trainer">The offline run (its replay not yet sealed).</param>
    /// <param name="source">The checked dataset.</param>
    /// <param name="parent">The parent package.</param>
    /// <param name="task">The task, for <see cref="AdaptationReward.Task"/>.</param>
    /// <param name="replayEpisode">The next replay episode number (advanced).</param>
    /// <remarks>A frame whose reward is not known (NaN in the dataset's column) is not a transition; it is counted in <see cref="AdaptationSource.Dropped"/>.</remarks>
    public static void Fill(OfflineTrainer trainer, AdaptationSource source, AgentPackage.Loaded parent, TabletopTask? task, ref int replayEpisode)
    {
        var dataset = source.Dataset;
        var config = parent.Model.Config;
        var cameras = config.Cameras.Select(c => dataset.Layout.Cameras.ToList().IndexOf(c)).ToArray();
        var writer = new SegmentWriter(trainer, config.Cameras, config.ImageSize, Math.Max(parent.Model.Layout.ProprioceptionLength, 1), replayEpisode);
        foreach (var entry in dataset.Episodes)
        {
            if (entry.Task != parent.Task)
            {
                source.OtherTasks++;
                continue;
            }
            source.EpisodesUsed++;
            source.FramesUsed += entry.Length;
            Frame? previous = null;
            foreach (var frame in Frames(dataset, entry.Index, cameras, source.Deployment, parent.ArmLayout))
            {
                if (previous is not null)
                    writer.Emit(previous, frame, source, task);
                previous = frame;
            }
            if (previous is not null)
                writer.Emit(previous, null, source, task);
            writer.Close();
        }
        replayEpisode = writer.NextEpisode;
    }

    /// <summary>One recorded frame as adaptation reads it.</summary>
    private sealed class Frame
    {
        public required int Episode;
        public required int Index;
        public required byte[][] Images;
        public required float[] Proprioception;
        public required float[] Action;      // normalised; NaN where unusable
        public required bool ObservationUsable;
        public required float Reward;
        public required bool Success;
        public required float[] EnvironmentState;
    }

    private static IEnumerable<Frame> Frames(EpisodeDataset dataset, int episode, int[] cameras, bool deployment, ArmLayout arm)
    {
        var layout = dataset.Layout;
        int actionDim = arm.ActionDimension;
        foreach (var (first, part) in dataset.ReadParts(episode))
        {
            for (int f = 0; f < part.Length; f++)
            {
                var images = cameras.Select(c => part.Image(c, f).ToArray()).ToArray();
                float[] proprioception, action = new float[actionDim];
                bool usable = true;
                if (deployment)
                {
                    proprioception = new float[arm.ProprioceptionLength];
                    usable = DeploymentLayout.TryReadArmState(part, f, out var state) && part.Integer(f, Columns.FramesUsable) != 0;
                    if (usable)
                        arm.FillProprioception(in state, proprioception);
                    AppliedAction(part, f, arm, action);
                }
                else
                {
                    proprioception = part.State(f).ToArray();
                    part.Action(f).CopyTo(action);
                }
                yield return new Frame
                {
                    Episode = episode,
                    Index = first + f,
                    Images = images,
                    Proprioception = proprioception,
                    Action = action,
                    ObservationUsable = usable,
                    Reward = part.Rewards[f],
                    Success = part.Success[f],
                    EnvironmentState = layout.EnvironmentStateNames.Count > 0 ? part.EnvironmentState(f).ToArray() : [],
                };
            }
        }
    }

    /// <summary>
    /// The normalised action a recorded cycle's command amounts to: the policy's own when the safety layer
    /// passed its command unchanged; on a clipped end-effector-delta command (an arm that applies deltas
    /// itself), the clipped delta over the layout's step sizes and the gripper target as 2g − 1; NaN otherwise
    /// (a hold, nothing sent, a clipped joint command whose action cannot be recovered).
    /// </summary>
    internal static void AppliedAction(Episode part, int frame, ArmLayout arm, Span<float> action)
    {
        action.Fill(float.NaN);
        long safety = part.Integer(frame, Columns.SafetyStatus);
        long mode = part.Integer(frame, Columns.ActionMode);
        if (mode == (long)ArmCommandMode.None || safety == (long)Safety.SafetyStatus.Hold)
            return;
        var normalised = part.Numbers(frame, Columns.PolicyNormalisedAction);
        if (safety == (long)Safety.SafetyStatus.Pass)
        {
            for (int i = 0; i < action.Length; i++)
                action[i] = (float)normalised[i];
            return;
        }
        if (mode != (long)ArmCommandMode.EndEffectorDelta || arm.ActionSpace != ActionSpaceKind.EndEffectorDelta)
            return;
        // Clipped end-effector delta: the "action" column's first block is the delta the arm was told (m, rad).
        var sent = part.Numbers(frame, Columns.ActionExact);
        for (int i = 0; i < 3; i++)
            action[i] = (float)Math.Clamp(sent[i] / arm.TranslationStep, -1, 1);
        int next = 3;
        if (arm.ActionRotation)
        {
            for (int i = 0; i < 3; i++)
                action[next + i] = (float)Math.Clamp(sent[3 + i] / arm.RotationStep, -1, 1);
            next += 3;
        }
        if (arm.HasGripper)
            action[next] = (float)Math.Clamp(2 * sent[^1] - 1, -1, 1);
    }

    /// <summary>Writes frames as replay records, in stretches the learner can sample (each ends with an observation without action).</summary>
    private sealed class SegmentWriter(OfflineTrainer trainer, IReadOnlyList<string> cameras, int imageSize, int proprioceptionLength, int firstEpisode)
    {
        private readonly Observation _observation = new(cameras.Select(c => new CameraImage(c, imageSize, imageSize)).ToArray(), proprioceptionLength);
        private bool _open;
        private int _step;

        public int NextEpisode { get; private set; } = firstEpisode;

        /// <summary>Writes <paramref name="frame"/> knowing the frame after it (null at the episode's end).</summary>
        public void Emit(Frame frame, Frame? next, AdaptationSource source, TabletopTask? task)
        {
            if (!frame.ObservationUsable)
            {
                source.Dropped++;
                return; // never open here: the frame before checked this one
            }
            var (reward, success, known) = RewardOf(frame, next, source, task);
            bool nextUsable = next is { ObservationUsable: true };
            bool acts = known && frame.Action.All(float.IsFinite) && (success || nextUsable);
            if (!acts)
            {
                source.Dropped++;
                if (_open)
                    Close(frame);
                return;
            }
            Append(frame, frame.Action, reward, success ? ReplayFlags.Terminated : ReplayFlags.None);
            source.Transitions++;
            _open = true;
            if (success)
            {
                source.Terminal++;
                if (nextUsable)
                    Close(next!);
                else
                    Close(frame, ReplayFlags.Padding);
            }
        }

        /// <summary>Ends the stretch at an episode's end (nothing to do when the last frame closed it).</summary>
        public void Close()
        {
            _open = false;
            _step = 0;
        }

        private void Close(Frame last, ReplayFlags flags = ReplayFlags.None)
        {
            Append(last, [], 0f, flags);
            _open = false;
            _step = 0;
            NextEpisode++;
        }

        private void Append(Frame frame, ReadOnlySpan<float> action, float reward, ReplayFlags flags)
        {
            for (int c = 0; c < frame.Images.Length; c++)
                frame.Images[c].CopyTo(_observation.Cameras[c].Rgb, 0);
            frame.Proprioception.AsSpan(0, Math.Min(frame.Proprioception.Length, _observation.Proprioception.Length)).CopyTo(_observation.Proprioception);
            trainer.Append(_observation, action, reward, flags, NextEpisode, _step++);
        }

        private static (float Reward, bool Success, bool Known) RewardOf(Frame frame, Frame? next, AdaptationSource source, TabletopTask? task)
        {
            switch (source.Reward)
            {
                case AdaptationReward.Success:
                    return (frame.Success ? 1f : 0f, frame.Success, true);
                case AdaptationReward.Task when next is not null:
                    var status = task!.EvaluateState(next.EnvironmentState);
                    return ((float)status.Reward, status.IsSuccess, true);
                case AdaptationReward.Task:
                    // The last frame: no state after its action was recorded; its own reward column if it has one.
                    return (frame.Reward, frame.Success, float.IsFinite(frame.Reward));
                default:
                    // A cycle whose reward the simulator could not give (NaN; e.g. a recording's last cycle) is no transition.
                    return (frame.Reward, frame.Success, float.IsFinite(frame.Reward));
            }
        }
    }

    /// <summary>The replay records the datasets can give at most (each frame at most twice: as a stretch's last observation and the next one's first).</summary>
    public static long ReplayCapacityFor(IEnumerable<EpisodeDataset> datasets) =>
        Math.Max(16, datasets.Sum(d => 2 * d.TotalFrames) + 64);

    /// <summary>A short description of what a source gave, for the console.</summary>
    public static string Describe(AdaptationSource source) => string.Create(CultureInfo.InvariantCulture,
        $"{source.Dataset.Folder}: {source.EpisodesUsed} episode(s), {source.FramesUsed} frames → {source.Transitions} transitions ({source.Terminal} terminal), {source.Dropped} frame(s) not used; rewards: {source.Reward.ToString().ToLowerInvariant()}")
        + (source.OtherTasks > 0 ? $"; {source.OtherTasks} episode(s) of other tasks skipped" : "");
}
