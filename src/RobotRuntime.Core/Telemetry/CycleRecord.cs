using System.Runtime.InteropServices;
using RobotRuntime.Arm;
using RobotRuntime.Runtime;
using RobotRuntime.Safety;

namespace RobotRuntime.Telemetry;

/// <summary>
/// One control cycle in the run log: when it ran, how long each stage took, what the policy asked
/// for and what was sent, and what the safety layer did. A fixed-size value type with no
/// references, written to the log as its raw bytes (little-endian); the log's header describes
/// every field, so other tools can read it without this code.
/// </summary>
/// <remarks>Real-time: filling one in and copying it do not allocate. Times are on
/// <see cref="Timing.MonotonicClock"/> (ns); durations are ns.</remarks>
[StructLayout(LayoutKind.Sequential, Pack = 8)]
public struct CycleRecord
{
    /// <summary>The cycle's number on the scheduler's grid (skipped ticks leave gaps).</summary>
    public long CycleIndex;
    /// <summary>When the cycle was due to start (its deadline on the grid).</summary>
    public long ScheduledStartNs;
    /// <summary>When the cycle actually started.</summary>
    public long StartNs;
    /// <summary>When the cycle's work ended (after the send).</summary>
    public long EndNs;
    /// <summary>Age of the oldest camera frame used, at the cycle's start; -1 when the cycle had no usable frame (missing, stale or unpaired).</summary>
    public long FrameAgeNs;
    /// <summary>Preprocessing (resize, normalise) duration.</summary>
    public long PreprocessNs;
    /// <summary>Encoder (PVR) duration.</summary>
    public long EncodeNs;
    /// <summary>Planner or policy duration.</summary>
    public long PlanNs;
    /// <summary>Safety filter duration.</summary>
    public long SafetyNs;
    /// <summary>Send-to-arm duration.</summary>
    public long SendNs;
    /// <summary>Gripper target requested by the policy.</summary>
    public double RequestedGripper;
    /// <summary>Gripper target sent to the arm.</summary>
    public double SentGripper;
    /// <summary>The values requested by the policy (first <see cref="ValueCount"/> meaningful).</summary>
    public JointVector Requested;
    /// <summary>The values sent to the arm (first <see cref="ValueCount"/> meaningful; none when <see cref="SentMode"/> is None).</summary>
    public JointVector Sent;
    /// <summary>Scheduler ticks skipped before this cycle because the previous one overran.</summary>
    public int SkippedTicks;
    /// <summary>Consecutive missed deadlines up to and including this cycle.</summary>
    public int ConsecutiveMisses;
    /// <summary>Mode of the requested command.</summary>
    public ArmCommandMode RequestedMode;
    /// <summary>Mode of the sent command (None: nothing sent).</summary>
    public ArmCommandMode SentMode;
    /// <summary>How many of <see cref="Requested"/> and <see cref="Sent"/> are used.</summary>
    public byte ValueCount;
    /// <summary>1 if this cycle's work ended after its deadline (<see cref="EndNs"/> &gt; <c>CycleTiming.DeadlineNs</c>, the next tick), else 0.</summary>
    public byte MissedDeadline;
    /// <summary>What the safety filter did.</summary>
    public SafetyStatus Safety;
    /// <summary>Why the arm holds (None unless <see cref="Safety"/> is Hold).</summary>
    public HoldReason HoldReason;
    /// <summary>Which limits clipped the command.</summary>
    public ClipKinds Clipped;
    /// <summary>1 in the cycle a hold was latched (the hold event), else 0.</summary>
    public byte HoldStarted;
    /// <summary>The arm link's answer to the send, as <see cref="ArmSendStatus"/>; 255 when nothing was sent.</summary>
    public byte SendStatus;
    /// <summary>Whether the loop's rate changed with this cycle (the rate-change event): stepped down after missed deadlines or back up after a quiet period.</summary>
    public RateChange RateChange;
    /// <summary>The rate the cycle ran at, mHz (25 Hz: 25000); 0 in logs written before rates could change (the header's rate then).</summary>
    public int RateMillihertz;

    /// <summary>The <see cref="SendStatus"/> value for "nothing was sent".</summary>
    public const byte NotSent = 255;

    /// <summary>Total compute time of the cycle: <see cref="EndNs"/> − <see cref="StartNs"/>.</summary>
    public readonly long ComputeNs => EndNs - StartNs;

    /// <summary>Sets <see cref="Requested"/> and <see cref="RequestedMode"/> from <paramref name="command"/>.</summary>
    /// <remarks>Real-time: no allocation.</remarks>
    public void SetRequested(in ArmCommand command)
    {
        RequestedMode = command.Mode;
        ValueCount = (byte)Math.Clamp(command.ValueCount, 0, JointVector.Capacity);
        Requested = command.Values;
        RequestedGripper = command.GripperTarget;
    }

    /// <summary>Sets <see cref="Sent"/> and <see cref="SentMode"/> from <paramref name="command"/>.</summary>
    /// <remarks>Real-time: no allocation.</remarks>
    public void SetSent(in ArmCommand command)
    {
        SentMode = command.Mode;
        Sent = command.Values;
        SentGripper = command.GripperTarget;
    }
}
