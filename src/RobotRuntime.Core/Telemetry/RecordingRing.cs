using System.Diagnostics.CodeAnalysis;
using RobotRuntime.Arm;
using RobotRuntime.Cameras;
using RobotRuntime.Safety;

namespace RobotRuntime.Telemetry;

/// <summary>
/// The task's reward and success as a simulator knows them, sampled by a recording once per cycle
/// (<see cref="RecordingRing.TryWrite"/>). A real arm has none: a run without a source records its
/// rewards as unlabelled.
/// </summary>
public interface ITaskRewardSource
{
    /// <summary>The newest reward and success; false when none can be had right now.</summary>
    /// <remarks>Real-time: no allocation, no blocking (a busy source answers false rather than wait), no throw.
    /// Called on the control loop's thread.</remarks>
    bool TryRead(out double reward, out bool success);
}

/// <summary>
/// One control cycle as a recording keeps it: the cycle's record (timings, the policy's command, what
/// was sent, the safety verdict), the arm state the cycle read, every camera's frame the cycle used,
/// the policy's status, the loop's episode number and the reward sampled after the cycle. A slot of a
/// <see cref="RecordingRing"/>, allocated once and overwritten in place.
/// </summary>
/// <remarks>Not thread-safe: the ring hands a slot to the loop's thread to fill, then to its reader
/// until <see cref="RecordingRing.Release"/>.</remarks>
public sealed class RecordedCycle
{
    /// <summary>The <see cref="PolicyStatus"/> value for a cycle whose policy did not run (no usable frame, or the encoder failed).</summary>
    public const byte PolicyNotRun = 255;

    internal RecordedCycle(IReadOnlyList<(int Width, int Height)> cameraSizes, int normalisedActionLength)
    {
        Frames = cameraSizes.Select(s => new CameraFrame(s.Width, s.Height)).ToArray();
        NormalisedAction = new float[normalisedActionLength];
    }

    /// <summary>The cycle's run-log record (times on the loop's clock, ns).</summary>
    public CycleRecord Record;

    /// <summary>The newest arm state the cycle read (whatever its age), when <see cref="HasArmState"/>.</summary>
    public ArmState ArmState;

    /// <summary>Whether the link had any state this cycle.</summary>
    public bool HasArmState;

    /// <summary>Whether the state was young enough to hand to the policy (the policy saw it).</summary>
    public bool ArmStateFresh;

    /// <summary>Age of <see cref="ArmState"/> when it was read (ns); <see cref="long.MaxValue"/> without a state.</summary>
    public long ArmStateAgeNs;

    /// <summary>The policy's <c>PolicyStatus</c> this cycle, or <see cref="PolicyNotRun"/>.</summary>
    public byte PolicyStatus;

    /// <summary>
    /// The loop's episode number: it changes each time the loop resets its policy for a new episode (a
    /// successful safety reset, the operator's arming), so a change starts a new episode of the recording.
    /// </summary>
    public long Episode;

    /// <summary>Cycles the ring dropped (its reader was behind) between the previous recorded cycle and this one.</summary>
    public long DroppedBefore;

    /// <summary>Whether <see cref="Reward"/> and <see cref="Success"/> were sampled this cycle.</summary>
    public bool HasReward;

    /// <summary>The task's reward sampled at the end of the cycle (after the send).</summary>
    public double Reward;

    /// <summary>The task's success condition sampled at the end of the cycle.</summary>
    public bool Success;

    /// <summary>Each camera's frame as the cycle used it (the encoder's input), in the loop's camera order.</summary>
    public CameraFrame[] Frames { get; }

    /// <summary>Whether <see cref="NormalisedAction"/> holds this cycle's policy action (the policy has one and acted).</summary>
    public bool HasNormalisedAction;

    /// <summary>
    /// The policy's own normalised action this cycle (<see cref="Policies.INormalisedActionSource.LastAction"/>),
    /// <see cref="RecordingRing.NormalisedActionLength"/> values; meaningful when <see cref="HasNormalisedAction"/>.
    /// </summary>
    public float[] NormalisedAction { get; }
}

/// <summary>
/// A bounded ring of whole cycles — frames included — from the control loop (one writer) to a
/// recording's writer thread (one reader). Writing copies the cycle into a preallocated slot and
/// never blocks or allocates; when the reader is behind and the ring is full, the cycle is dropped
/// and counted (<see cref="Dropped"/>, and in the next recorded cycle's <see cref="RecordedCycle.DroppedBefore"/>),
/// never waited for. Frames are large, so the ring is sized in bytes (<see cref="CapacityFor"/>).
/// </summary>
public sealed class RecordingRing
{
    private readonly RecordedCycle[] _slots;
    private readonly (int Width, int Height)[] _cameraSizes;
    private readonly ITaskRewardSource? _rewards;
    private long _written;   // next slot the writer fills (only the writer advances it)
    private long _read;      // next slot the reader takes (only the reader advances it)
    private long _dropped;
    private long _droppedSinceWrite;

    /// <summary>Allocates <paramref name="capacity"/> slots for cameras of <paramref name="cameraSizes"/> (the loop's, in order).</summary>
    /// <param name="cameraSizes">Width and height of each camera's frames.</param>
    /// <param name="capacity">Cycles the ring holds, at least 2.</param>
    /// <param name="rewards">Where each cycle's reward is sampled (a simulator); null: none.</param>
    /// <param name="normalisedActionLength">Values of the policy's normalised action kept per cycle
    /// (<see cref="Policies.INormalisedActionSource"/>); 0 when the policy has none.</param>
    /// <remarks>Setup only.</remarks>
    public RecordingRing(IReadOnlyList<(int Width, int Height)> cameraSizes, int capacity, ITaskRewardSource? rewards = null, int normalisedActionLength = 0)
    {
        ArgumentNullException.ThrowIfNull(cameraSizes);
        if (capacity < 2)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "a recording ring needs at least 2 cycles");
        ArgumentOutOfRangeException.ThrowIfNegative(normalisedActionLength);
        _cameraSizes = [.. cameraSizes];
        _rewards = rewards;
        NormalisedActionLength = normalisedActionLength;
        _slots = new RecordedCycle[capacity];
        for (var i = 0; i < capacity; i++)
            _slots[i] = new RecordedCycle(_cameraSizes, normalisedActionLength);
    }

    /// <summary>Values of the policy's normalised action each slot keeps (0: the ring keeps none).</summary>
    public int NormalisedActionLength { get; }

    /// <summary>Bytes one slot holds: its frames plus the fixed part (a few hundred bytes, the normalised action included).</summary>
    public static long BytesPerCycle(IReadOnlyList<(int Width, int Height)> cameraSizes) =>
        cameraSizes.Sum(s => 3L * s.Width * s.Height) + 1024;

    /// <summary>How many cycles fit in <paramref name="bytes"/> (at least 2).</summary>
    public static int CapacityFor(IReadOnlyList<(int Width, int Height)> cameraSizes, long bytes) =>
        (int)Math.Clamp(bytes / BytesPerCycle(cameraSizes), 2, 1_000_000);

    /// <summary>The frame sizes the ring was made for.</summary>
    public IReadOnlyList<(int Width, int Height)> CameraSizes => _cameraSizes;

    /// <summary>Cycles the ring holds.</summary>
    public int Capacity => _slots.Length;

    /// <summary>Whether each cycle samples a reward (a source was given).</summary>
    public bool HasRewardSource => _rewards is not null;

    /// <summary>Cycles dropped so far because the reader was behind.</summary>
    public long Dropped => Volatile.Read(ref _dropped);

    /// <summary>Cycles written so far (the reader may not have taken them yet).</summary>
    public long Written => Volatile.Read(ref _written);

    /// <summary>Copies one cycle in (the loop's thread only).</summary>
    /// <param name="record">The cycle's record.</param>
    /// <param name="input">What the safety filter was given: the arm state and its age.</param>
    /// <param name="armStateFresh">Whether the policy was given the state.</param>
    /// <param name="policyStatus">The policy's status, or <see cref="RecordedCycle.PolicyNotRun"/>.</param>
    /// <param name="frames">The cycle's frames, one per camera, of the ring's sizes.</param>
    /// <param name="episode">The loop's episode number.</param>
    /// <param name="normalisedAction">The policy's normalised action this cycle; empty when it has none or did not act.
    /// Values beyond <see cref="NormalisedActionLength"/> are not kept.</param>
    /// <returns>False (and counted) when the ring is full.</returns>
    /// <remarks>Real-time: no allocation, no lock, no throw; copies the frames (a memory copy of their bytes).</remarks>
    public bool TryWrite(in CycleRecord record, in SafetyInput input, bool armStateFresh, byte policyStatus, IReadOnlyList<CameraFrame> frames, long episode,
        ReadOnlySpan<float> normalisedAction = default)
    {
        var written = _written;
        if (written - Volatile.Read(ref _read) >= _slots.Length)
        {
            _droppedSinceWrite++;
            Volatile.Write(ref _dropped, _dropped + 1);
            return false;
        }
        var slot = _slots[written % _slots.Length];
        slot.Record = record;
        slot.ArmState = input.ArmState;
        slot.HasArmState = input.HasArmState;
        slot.ArmStateFresh = armStateFresh;
        slot.ArmStateAgeNs = input.ArmStateAgeNs;
        slot.PolicyStatus = policyStatus;
        slot.Episode = episode;
        slot.DroppedBefore = _droppedSinceWrite;
        _droppedSinceWrite = 0;
        var count = Math.Min(frames.Count, slot.Frames.Length);
        for (var i = 0; i < count; i++)
        {
            var from = frames[i];
            var to = slot.Frames[i];
            from.Pixels.AsSpan().CopyTo(to.Pixels);
            to.Sequence = from.Sequence;
            to.CaptureTimestampNs = from.CaptureTimestampNs;
        }
        slot.HasNormalisedAction = normalisedAction.Length > 0 && NormalisedActionLength > 0;
        if (slot.HasNormalisedAction)
        {
            var kept = Math.Min(normalisedAction.Length, slot.NormalisedAction.Length);
            normalisedAction[..kept].CopyTo(slot.NormalisedAction);
            slot.NormalisedAction.AsSpan(kept).Fill(float.NaN);
        }
        slot.HasReward = false;
        slot.Reward = double.NaN;
        slot.Success = false;
        if (_rewards is not null && _rewards.TryRead(out var reward, out var success))
        {
            slot.HasReward = true;
            slot.Reward = reward;
            slot.Success = success;
        }
        Volatile.Write(ref _written, written + 1);
        return true;
    }

    /// <summary>The oldest cycle not yet released (the reader's thread only); it stays the reader's until <see cref="Release"/>.</summary>
    public bool TryPeek([NotNullWhen(true)] out RecordedCycle? cycle)
    {
        var read = _read;
        if (read >= Volatile.Read(ref _written))
        {
            cycle = null;
            return false;
        }
        cycle = _slots[read % _slots.Length];
        return true;
    }

    /// <summary>Hands the peeked slot back to the writer (the reader's thread only).</summary>
    public void Release()
    {
        var read = _read;
        if (read >= Volatile.Read(ref _written))
            throw new InvalidOperationException("nothing to release: the ring is empty");
        Volatile.Write(ref _read, read + 1);
    }

    /// <summary>Cycles waiting for the reader.</summary>
    public long Pending => Volatile.Read(ref _written) - Volatile.Read(ref _read);
}
