using RobotRuntime.Arm;

namespace RobotRuntime.Transport.Tests;

/// <summary>What a behaviour test asks of the arm it starts (both arms tested here take both as options).</summary>
/// <param name="WatchdogMilliseconds">The arm's watchdog_ms: it holds when no valid COMMAND arrives for this long.</param>
/// <param name="StateRateHz">The arm's state_rate_hz: it publishes STATE at least this often.</param>
public sealed record ArmSettings(int WatchdogMilliseconds = 100, int StateRateHz = 250);

/// <summary>
/// An arm running for one <see cref="ArmBehaviourSuite"/> test: where to reach it, and the facts about it the suite
/// relies on. The facts are what the arm announces in its DESCRIPTION (a test checks that they are); the
/// capabilities (the virtual members) say how the arm may differ from the reference arm where PROTOCOL.md lets it,
/// and so which equivalent a test exercises. Disposing it stops the arm.
/// </summary>
public abstract class ArmUnderTest : IDisposable
{
    /// <summary>The arm's addresses and its shared secret.</summary>
    public abstract ArmAddresses Addresses { get; }

    /// <summary>The joint count the arm announces.</summary>
    public int JointCount => Limits.Count;

    /// <summary>The joint limits the arm announces, joint by joint (their count is the joint count).</summary>
    public abstract IReadOnlyList<JointLimits> Limits { get; }

    /// <summary>The command modes the arm announces (the command-mode bits of DESCRIPTION's capabilities).</summary>
    public abstract IReadOnlySet<ArmCommandMode> OfferedModes { get; }

    /// <summary>
    /// The arm has a gripper (DESCRIPTION's gripper bit, PROTOCOL.md §3.2): a command's gripper target moves it and the
    /// state's gripper position and effort measure it. Without one the arm accepts any target in [0, 1], ignores it and
    /// reports both as 0. Default true (the reference arm, the bridge template's loopback and sim-server have one; the
    /// reference arm started with <c>--no-gripper</c> has not).
    /// </summary>
    public virtual bool HasGripper => true;

    /// <summary>The largest end-effector translation per command it announces, m (0 unless it offers end-effector deltas).</summary>
    public virtual double EndEffectorMaxTranslation => 0;

    /// <summary>The watchdog it runs with, ms (what it was started with).</summary>
    public abstract int WatchdogMilliseconds { get; }

    /// <summary>The state rate it runs with, Hz (what it was started with).</summary>
    public abstract int StateRateHz { get; }

    /// <summary>A joint-position vector inside every joint's range: what tests put in commands the arm is to reject.</summary>
    public abstract double[] Rest { get; }

    /// <summary>A joint-position vector inside every joint's range that the arm can reach safely from where it starts
    /// (no collision, no effort fault): what tests command when they need a command applied.</summary>
    public abstract double[] Target { get; }

    /// <summary>
    /// True when the arm's joints are an exact kinematic model: a joint-velocity command moves a joint at exactly that
    /// speed from the instant it is applied until a hold, and every hold (watchdog, DISABLE, ESTOP, RESET) sets every
    /// speed to exactly 0 at once. Then a joint's position is a clock and its reported speeds are exact. The reference
    /// arm's are; a physical simulation's (sim-server's MuJoCo) are not: its joints accelerate and brake, and a test
    /// asserts PROTOCOL.md's bounds (§5.3: at rest is every speed within 1 % of velocity_max) and the arm's own
    /// STATE and reply timestamps instead. Default false.
    /// </summary>
    public virtual bool JointModelIsExact => false;

    /// <summary>
    /// The mode the active_mode tests (§3.3) command before a hold: one the arm offers but does not hold in. Both arms
    /// here hold by fixing joint targets (joint position), so an arm that reported how it holds instead of the mode of
    /// its last command would show. Default: the highest mode offered other than joint position (the reference arm:
    /// joint velocity; sim-server: end-effector delta), joint position when it offers nothing else.
    /// </summary>
    public virtual ArmCommandMode HoldTestMode =>
        OfferedModes.Where(m => m != ArmCommandMode.JointPosition).DefaultIfEmpty(ArmCommandMode.JointPosition).Max();

    /// <summary>
    /// A mode the arm does not offer, to check that a COMMAND in it is rejected (bad_payload, §4); null when it offers
    /// all three. Default: the lowest mode not offered (the reference arm: end-effector delta; sim-server: joint velocity).
    /// </summary>
    public virtual ArmCommandMode? ModeNotOffered =>
        new[] { ArmCommandMode.JointPosition, ArmCommandMode.JointVelocity, ArmCommandMode.EndEffectorDelta }
            .Where(m => !OfferedModes.Contains(m)).Select(m => (ArmCommandMode?)m).FirstOrDefault();

    /// <summary>
    /// A small command in <paramref name="mode"/> that the arm applies and that moves it a little (for the active_mode
    /// tests): joint velocity, joint 0 at 5 % of its velocity_max; end-effector delta, 1 cm up (or less, within the
    /// translation limit; up keeps the hand off whatever is below it); joint position, <see cref="Target"/>.
    /// </summary>
    public virtual ArmCommand SmallMove(ArmCommandMode mode) => mode switch
    {
        ArmCommandMode.JointVelocity => ArmCommand.JointVelocities(JointVector(0, 0.05 * Limits[0].VelocityMax), 0),
        ArmCommandMode.EndEffectorDelta => ArmCommand.Create(mode, [0, 0, Math.Min(0.01, EndEffectorMaxTranslation), 0, 0, 0], 0),
        _ => ArmCommand.JointPositions(Target, 0),
    };

    /// <summary>
    /// A command that sets the arm moving fast and keeps it moving for a good fraction of a second from where
    /// <paramref name="now"/> finds it (for the e-stop bounds). Default: in joint velocity, when offered, every joint at
    /// half its velocity_max, alternating in sign; otherwise in joint position, joint 0 to the far end of its range
    /// (10 % inside it), the other joints where they are.
    /// </summary>
    public virtual ArmCommand FastMove(in ArmState now)
    {
        if (OfferedModes.Contains(ArmCommandMode.JointVelocity))
        {
            var velocities = new double[JointCount];
            for (var j = 0; j < JointCount; j++)
                velocities[j] = (j % 2 == 0 ? 0.5 : -0.5) * Limits[j].VelocityMax;
            return ArmCommand.JointVelocities(velocities, 0);
        }
        var positions = WhereItIs(now);
        var l = Limits[0];
        var margin = 0.1 * (l.PositionMax - l.PositionMin);
        positions[0] = positions[0] - l.PositionMin > l.PositionMax - positions[0] ? l.PositionMin + margin : l.PositionMax - margin;
        return ArmCommand.JointPositions(positions, 0);
    }

    /// <summary>
    /// A command that drives joint 0 into its range's end well within 2 s from where <paramref name="now"/> finds it
    /// (fault flag 0x1 is to be latched), without an effort fault. Default: in joint velocity, when offered, joint 0 at
    /// its velocity_max (the reference arm: 2 rad/s, at its 3 rad limit after 1.5 s); otherwise in joint position,
    /// joint 0 to its position_max, the other joints where they are.
    /// </summary>
    public virtual ArmCommand IntoJointLimit(in ArmState now)
    {
        if (OfferedModes.Contains(ArmCommandMode.JointVelocity))
            return ArmCommand.JointVelocities(JointVector(0, Limits[0].VelocityMax), 0);
        var positions = WhereItIs(now);
        positions[0] = Limits[0].PositionMax;
        return ArmCommand.JointPositions(positions, 0);
    }

    /// <summary>The joints as <paramref name="now"/> measured them, each inside its range (a joint may read a hair past its end).</summary>
    protected double[] WhereItIs(in ArmState now)
    {
        var positions = new double[JointCount];
        for (var j = 0; j < JointCount; j++)
            positions[j] = Math.Clamp(now.Positions[j], Limits[j].PositionMin, Limits[j].PositionMax);
        return positions;
    }

    /// <summary>A vector of <see cref="JointCount"/> zeros but <paramref name="value"/> at <paramref name="joint"/>.</summary>
    public double[] JointVector(int joint, double value)
    {
        var vector = new double[JointCount];
        vector[joint] = value;
        return vector;
    }

    /// <summary>Stops the arm (and removes what it left behind: socket files, key files).</summary>
    public abstract void Dispose();
}
