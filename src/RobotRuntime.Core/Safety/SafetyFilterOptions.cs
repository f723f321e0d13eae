using RobotRuntime.Arm;

namespace RobotRuntime.Safety;

/// <summary>An axis-aligned box in the arm's base frame, m.</summary>
/// <param name="MinX">Lowest x.</param>
/// <param name="MinY">Lowest y.</param>
/// <param name="MinZ">Lowest z.</param>
/// <param name="MaxX">Highest x.</param>
/// <param name="MaxY">Highest y.</param>
/// <param name="MaxZ">Highest z.</param>
public readonly record struct WorkspaceBox(double MinX, double MinY, double MinZ, double MaxX, double MaxY, double MaxZ)
{
    /// <summary>Whether the point lies inside the box or on its faces.</summary>
    public bool Contains(double x, double y, double z) =>
        x >= MinX && x <= MaxX && y >= MinY && y <= MaxY && z >= MinZ && z <= MaxZ;
}

/// <summary>
/// What <see cref="SafetyFilter"/> enforces: the arm's own limits (from its description) narrowed
/// by margins, and the runtime's bounds on ages, misses and change per cycle.
/// </summary>
/// <remarks>Setup only. Checked when the filter is built; a bad value throws naming the option.</remarks>
public sealed class SafetyFilterOptions
{
    /// <summary>The arm's description (joint limits, supported modes, end-effector step limits) from the handshake.</summary>
    public required ArmDescription Arm { get; init; }

    /// <summary>
    /// The control loop's (base) period; turns velocity limits into a largest step per cycle. A cycle
    /// at another rate says its own period (<see cref="SafetyInput.CyclePeriodNs"/>).
    /// </summary>
    public required TimeSpan CyclePeriod { get; init; }

    /// <summary>Distance kept from every joint position limit, rad (m for prismatic joints); ≥ 0.</summary>
    public double JointPositionMargin { get; init; }

    /// <summary>Fraction of each joint's velocity limit that is allowed, in (0, 1].</summary>
    public double VelocityScale { get; init; } = 1.0;

    /// <summary>Largest change of a joint-position target from the measured position per cycle, rad; &gt; 0
    /// (infinity: only the scaled velocity limit × period applies). A fixed step: it does not grow at a
    /// degraded (slower) rate.</summary>
    public double MaxJointPositionChangePerCycle { get; init; } = double.PositiveInfinity;

    /// <summary>Largest change of a joint-velocity command from the previous one per cycle, rad/s; &gt; 0
    /// (infinity: no limit). Per command: it does not grow at a degraded (slower) rate.</summary>
    public double MaxJointVelocityChangePerCycle { get; init; } = double.PositiveInfinity;

    /// <summary>The workspace box the end effector must stay in; null: no box.</summary>
    public WorkspaceBox? Workspace { get; init; }

    /// <summary>Distance kept from the workspace box's faces when clipping end-effector targets, m; ≥ 0.</summary>
    public double WorkspaceMargin { get; init; }

    /// <summary>Largest end-effector translation per command, m; the smaller of this and the arm's own limit applies. Per command: it does not grow at a degraded (slower) rate.</summary>
    public double MaxEndEffectorTranslation { get; init; } = double.PositiveInfinity;

    /// <summary>Largest end-effector rotation per command, rad; the smaller of this and the arm's own limit applies. Per command: it does not grow at a degraded (slower) rate.</summary>
    public double MaxEndEffectorRotation { get; init; } = double.PositiveInfinity;

    /// <summary>A command older than this (from its timestamp to now) makes the arm hold.</summary>
    public TimeSpan CommandExpiry { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>An arm state older than this makes the arm hold.</summary>
    public TimeSpan MaxArmStateAge { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A camera frame older than this makes the arm hold; null: the policy uses no cameras and frame age is not checked.</summary>
    public TimeSpan? MaxFrameAge { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>K: this many consecutive missed deadlines make the arm hold; ≥ 1.</summary>
    public int MaxConsecutiveDeadlineMisses { get; init; } = 3;
}
