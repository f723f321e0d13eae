using System.Globalization;
using System.Text;
using RobotRuntime.Arm;
using RobotRuntime.Cameras;
using RobotRuntime.Cli.Composition;
using RobotRuntime.Cli.Runtime;
using RobotRuntime.Datasets;
using RobotRuntime.Datasets.Recording;
using RobotRuntime.Encoders;
using RobotRuntime.Policies;
using Columns = RobotRuntime.Datasets.Recording.DeploymentLayout.Columns;

namespace RobotRuntime.Cli.Recording;

/// <summary>What <c>rr replay RUN</c> compares.</summary>
/// <param name="Policy">Replace the recorded policy: an agent package folder, or a policy kind (hold-still, scripted-reach, …); null: the recorded one.</param>
/// <param name="Overrides">More <c>--set key=value</c> overrides, applied after the recorded run's own.</param>
/// <param name="Tolerance">A difference above this counts as differing.</param>
/// <param name="Episode">Only this episode; null: every episode.</param>
/// <param name="CsvPath">Write every compared cycle to this CSV; null: none.</param>
/// <param name="ShowRows">Cycles over the tolerance printed per episode (the CSV has all).</param>
internal sealed record RunReplayOptions(string? Policy, IReadOnlyList<string> Overrides, double Tolerance, int? Episode, string? CsvPath, int ShowRows = 20);

/// <summary>What replaying one episode came to.</summary>
/// <param name="Episode">Episode index.</param>
/// <param name="Compared">Cycles on which the recorded run's policy ran, and so the replayed one too.</param>
/// <param name="OverTolerance">Of those, how many differ by more than the tolerance.</param>
/// <param name="FirstOver">The cycle index of the first that does, or null.</param>
/// <param name="MaxDifference">Largest difference (∞ when one side proposed nothing or another mode).</param>
/// <param name="MeanDifference">Mean of the finite differences.</param>
/// <param name="OverCycles">The cycle indices over the tolerance.</param>
internal sealed record EpisodeReplay(int Episode, int Compared, int OverTolerance, long? FirstOver, double MaxDifference, double MeanDifference, IReadOnlyList<long> OverCycles);

/// <summary>
/// <c>rr replay RUN</c> for a recorded deployment (<c>rr run --record</c>): re-runs a policy offline,
/// cycle by cycle, on the recorded frames and arm states, through the same composition root as
/// <c>rr run</c> (the run's stored config, the recorded arm's description, cameras of the recorded
/// names and sizes), and compares its command with the recorded ones. The policy sees what the loop gave
/// it: the frames and state of each cycle on which the recorded policy ran (frames encoded by the run's
/// encoder), the freshness of the state, the cycle index and start time; it gets no deadline (an anytime
/// planner plans to completion). Each episode starts with the policy's and the encoder's reset, as the loop's did.
/// </summary>
internal static class RunReplay
{
    /// <summary>Whether <paramref name="folder"/> holds an episode dataset (<c>meta/info.json</c>).</summary>
    public static bool IsDataset(string folder) => File.Exists(Path.Combine(folder, "meta", "info.json"));

    /// <summary>Replays and reports; returns each episode's outcome.</summary>
    /// <exception cref="InvalidDataException">The folder is a dataset but not a recorded run, or is damaged.</exception>
    /// <exception cref="ConfigException">The stored config or an override does not make a policy.</exception>
    public static IReadOnlyList<EpisodeReplay> Run(string folder, RunReplayOptions options, TextWriter output)
    {
        var dataset = EpisodeDataset.Open(folder);
        var layout = dataset.Layout;
        if (!DeploymentLayout.IsDeployment(layout))
            throw new InvalidDataException($"{dataset.Folder} is an episode dataset but not a recorded run (no cycle and policy columns; made by rr collect or rr record --dataset?): there is no recorded policy to compare with. Record one with rr run --record.");
        if (options.Episode is { } only && (only < 0 || only >= dataset.Episodes.Count))
            throw new ArgumentException($"--episode {only}: the recording has episodes 0..{dataset.Episodes.Count - 1}");
        var policyMode = DeploymentLayout.PolicyModeOf(layout);
        var policyWidth = layout.ColumnAt(Columns.PolicyAction).Column.Width;
        using var csv = options.CsvPath is null ? null : new StreamWriter(options.CsvPath, append: false, new UTF8Encoding(false));
        csv?.WriteLine("episode,frame,cycle,policy_status,action_mode," +
            string.Join(",", layout.ActionNames.Select((_, i) => $"action_{i}")) + "," +
            string.Join(",", Enumerable.Range(0, policyWidth).Select(i => $"recorded_policy_{i}")) + ",replayed_status,replayed_mode," +
            string.Join(",", Enumerable.Range(0, JointVector.Capacity).Select(i => $"replayed_{i}")) + ",replayed_gripper,difference");

        var results = new List<EpisodeReplay>();
        var episodes = options.Episode is { } one ? [one] : Enumerable.Range(0, dataset.Episodes.Count);
        foreach (var index in episodes)
        {
            var entry = dataset.Episodes[index];
            var run = entry.Extra.GetValueOrDefault("run") ?? throw new InvalidDataException($"episode {index} does not name its run; it was not recorded by rr run --record");
            var (config, arm, _) = RecordedRun.Read(dataset.Folder, run);
            if (options.Policy is { } policyChoice)
            {
                config = Directory.Exists(policyChoice)
                    ? config with { Policy = "agent", AgentPackage = policyChoice }
                    : config.WithOverride("policy.kind=" + policyChoice);
            }
            foreach (var assignment in options.Overrides)
                config = config.WithOverride(assignment);
            using var composer = new LoopComposer(config, _ => { });
            composer.Preflight(camerasFromHost: true);
            var cameras = layout.Cameras.Select(name => (ICameraSource)new RecordedCamera(name, layout.ImageWidth, layout.ImageHeight)).ToList();
            composer.UseRecording(arm, cameras);
            var build = composer.CreatePolicy();
            var policy = build.Policy;
            var encoder = build.Encoder;
            if (policy.EmbeddingSize != (encoder?.EmbeddingSize ?? 0))
                throw new ConfigException($"policy '{policy.Name}' needs a {policy.EmbeddingSize}-float embedding; the run's encoder gives {encoder?.EmbeddingSize ?? 0}");
            var frames = layout.Cameras.Select(_ => new CameraFrame(layout.ImageWidth, layout.ImageHeight)).ToArray();
            var observation = new PolicyObservation(encoder?.EmbeddingSize ?? 0, frames);
            policy.Reset();
            encoder?.Reset();
            output.WriteLine($"episode {index} ({entry.Length} cycles, task {entry.Task}, run {run}): recorded policy {entry.Extra.GetValueOrDefault("policy", "?")}, replayed {policy.Name}" +
                (encoder is null ? "" : $" on encoder {encoder.Name}") + (entry.Extra.GetValueOrDefault("dropped_cycles", "0") is "0" ? "" : $"; {entry.Extra["dropped_cycles"]} cycle(s) were dropped from the recording"));

            int compared = 0, over = 0;
            long? firstOver = null;
            double max = 0, sum = 0;
            var finite = 0;
            var overCycles = new List<long>();
            var shown = 0;
            var replayed = new double[policyWidth];
            foreach (var (first, part) in dataset.ReadParts(index))
            {
                for (var f = 0; f < part.Length; f++)
                {
                    var status = part.Integer(f, Columns.PolicyStatus);
                    if (status == Telemetry.RecordedCycle.PolicyNotRun)
                        continue; // the loop did not run the policy on this cycle (no usable frame): neither does the replay
                    var cycle = part.Integer(f, Columns.CycleIndex);
                    for (var c = 0; c < frames.Length; c++)
                    {
                        part.Image(c, f).CopyTo(frames[c].Pixels, 0);
                        frames[c].Sequence = part.Integer(f, $"observation.images.{layout.Cameras[c]}.sequence");
                        frames[c].CaptureTimestampNs = part.Integer(f, $"observation.images.{layout.Cameras[c]}.capture_ns");
                    }
                    var encoded = encoder is null || encoder.Encode(frames, observation.Embedding) == EncodeStatus.Ok;
                    var command = default(ArmCommand);
                    var replayedStatus = PolicyStatus.Failed;
                    if (encoded)
                    {
                        observation.HasArmState = DeploymentLayout.TryReadArmState(part, f, out observation.ArmState) && part.Integer(f, Columns.StateFresh) != 0;
                        observation.CycleIndex = cycle;
                        observation.CycleStartNs = part.Integer(f, Columns.StartNs);
                        observation.DeadlineNs = 0; // offline: no deadline
                        replayedStatus = policy.Act(observation, ref command);
                    }
                    var proposed = replayedStatus is PolicyStatus.Ok or PolicyStatus.BudgetExhausted;
                    var recorded = part.Numbers(f, Columns.PolicyAction);
                    var difference = Difference(recorded, proposed, command, policyMode, replayed);
                    compared++;
                    if (double.IsFinite(difference))
                    {
                        sum += difference;
                        finite++;
                    }
                    max = Math.Max(max, difference);
                    var isOver = !(difference <= options.Tolerance);
                    if (isOver)
                    {
                        over++;
                        firstOver ??= cycle;
                        overCycles.Add(cycle);
                        if (shown++ < options.ShowRows)
                        {
                            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                                $"  cycle {cycle}: sent {Vector(part.Numbers(f, Columns.ActionExact))} (mode {(ArmCommandMode)part.Integer(f, Columns.ActionMode)}); recorded policy {Vector(recorded)}; replayed {(proposed ? $"{Vector(Values(command))} (mode {command.Mode})" : $"nothing ({replayedStatus}: {policy.LastError})")}; |Δ| {difference:G4}"));
                        }
                    }
                    csv?.WriteLine(CsvRow(index, first + f, cycle, status, part, f, recorded, replayedStatus, proposed, command, difference));
                }
            }
            if (shown > options.ShowRows)
                output.WriteLine($"  … {shown - options.ShowRows} more cycle(s) over the tolerance{(csv is null ? " (--out FILE writes every cycle)" : "")}");
            var mean = finite == 0 ? 0 : sum / finite;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {compared} cycle(s) compared: max |Δ| {max:G4}, mean {mean:G4}; {over} over the tolerance {options.Tolerance:G3}{(firstOver is { } firstCycle ? $", the first at cycle {firstCycle}" : "")}"));
            results.Add(new EpisodeReplay(index, compared, over, firstOver, max, mean, overCycles));
        }
        var total = results.Sum(r => r.Compared);
        var totalOver = results.Sum(r => r.OverTolerance);
        var firstAt = results.FirstOrDefault(r => r.FirstOver is not null) is { } firstEpisode ? $", the first in episode {firstEpisode.Episode} at cycle {firstEpisode.FirstOver}" : "";
        var csvAt = options.CsvPath is null ? "" : $"; every cycle in {Path.GetFullPath(options.CsvPath)}";
        var largest = results.Count == 0 ? 0 : results.Max(r => r.MaxDifference);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"rr replay: {results.Count} episode(s), {total} cycle(s) compared; max |Δ| {largest:G4}; {totalOver} over {options.Tolerance:G3}{firstAt}{csvAt}"));
        return results;
    }

    /// <summary>
    /// The Euclidean norm of replayed − recorded over the policy's mode block and the gripper target; 0 when
    /// neither proposed anything, ∞ when only one did or the replayed command has another mode.
    /// </summary>
    private static double Difference(ReadOnlySpan<double> recorded, bool proposed, ArmCommand command, ArmCommandMode mode, double[] replayed)
    {
        var recordedProposed = !double.IsNaN(recorded[^1]);
        if (!proposed && !recordedProposed)
            return 0;
        if (!proposed || !recordedProposed || command.Mode != mode)
            return double.PositiveInfinity;
        for (var i = 0; i < replayed.Length - 1; i++)
            replayed[i] = command.Values[i];
        replayed[^1] = command.GripperTarget;
        double sum = 0;
        for (var i = 0; i < replayed.Length; i++)
        {
            var d = replayed[i] - recorded[i];
            sum += d * d;
        }
        return Math.Sqrt(sum);
    }

    private static double[] Values(ArmCommand command)
    {
        var count = command.Mode == ArmCommandMode.EndEffectorDelta ? 6 : Math.Clamp(command.ValueCount, 0, JointVector.Capacity);
        var values = new double[count + 1];
        for (var i = 0; i < count; i++)
            values[i] = command.Values[i];
        values[^1] = command.GripperTarget;
        return values;
    }

    /// <summary>A command as "[v0, v1, … | gripper]" with 4 significant digits; "none" when every value is NaN.</summary>
    private static string Vector(ReadOnlySpan<double> values)
    {
        var kept = new List<string>();
        for (var i = 0; i < values.Length - 1; i++)
        {
            if (!double.IsNaN(values[i]))
                kept.Add(values[i].ToString("G4", CultureInfo.InvariantCulture));
        }
        if (kept.Count == 0 && double.IsNaN(values[^1]))
            return "none";
        return $"[{string.Join(", ", kept)} | {values[^1].ToString("G4", CultureInfo.InvariantCulture)}]";
    }

    private static string CsvRow(int episode, int frame, long cycle, long status, Episode part, int f, ReadOnlySpan<double> recorded, PolicyStatus replayedStatus, bool proposed, ArmCommand command, double difference)
    {
        var row = new StringBuilder();
        row.Append(CultureInfo.InvariantCulture, $"{episode},{frame},{cycle},{status},{part.Integer(f, Columns.ActionMode)}");
        foreach (var value in part.Numbers(f, Columns.ActionExact))
            row.Append(',').Append(Number(value));
        foreach (var value in recorded)
            row.Append(',').Append(Number(value));
        row.Append(CultureInfo.InvariantCulture, $",{(int)replayedStatus},{(proposed ? (int)command.Mode : 0)}");
        for (var i = 0; i < JointVector.Capacity; i++)
            row.Append(',').Append(proposed && i < (command.Mode == ArmCommandMode.EndEffectorDelta ? 6 : command.ValueCount) ? Number(command.Values[i]) : "");
        row.Append(',').Append(proposed ? Number(command.GripperTarget) : "").Append(',').Append(Number(difference));
        return row.ToString();

        static string Number(double value) => double.IsNaN(value) ? "" : value.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>A camera of the recording: its name and size for the composition; its frames come from the dataset.</summary>
    private sealed class RecordedCamera(string name, int width, int height) : ICameraSource
    {
        public string Name => name;
        public int Width => width;
        public int Height => height;
        public CameraHealth Health => new(false, 0, 0, "a recorded camera: its frames come from the recording");
        public void Start() { }
        public CameraReadStatus Read(CameraFrame destination, TimeSpan timeout) => CameraReadStatus.Lost;
        public CameraReadStatus ReadLatest(CameraFrame destination, TimeSpan timeout) => CameraReadStatus.Lost;
        public CameraReadStatus TryReadLatest(TimeSpan maxAge, CameraFrame destination) => CameraReadStatus.Lost;
        public void Dispose() { }
    }
}
