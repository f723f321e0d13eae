using RobotRuntime.Arm;

namespace RobotRuntime.Transport.Tests;

/// <summary>
/// A C arm program whose joints are the reference arm's simulated ones (firmware-interfaces/src/rrfw_sim_joints.c), started as a
/// separate process for one behaviour test: 6 joints of range ±3 rad, velocity_max 2 rad/s, effort_max 50 N·m, joint position and
/// joint velocity commands, and an exact kinematic joint model (a joint moves at exactly its commanded speed, a hold zeroes every
/// speed at once), and a gripper unless the program is started with <c>--no-gripper</c> (both take it). The reference arm is
/// such a program, and so is the bridge template with its loopback backend.
/// </summary>
internal sealed class SimulatedJointsArm(ArmProgram program, ArmSettings settings) : ArmUnderTest
{
    private const int Joints = 6;

    private readonly ArmEndpointProcess _endpoint = new(IpcPrefix.Create(), settings.WatchdogMilliseconds, settings.StateRateHz, Joints, program: program);

    public override ArmAddresses Addresses => ArmAddresses.Of(_endpoint.LinkSettings);

    // As rrfw_sim_joints.c's rrfw_sim_default_limits announces them.
    public override IReadOnlyList<JointLimits> Limits { get; } = Enumerable.Repeat(new JointLimits(-3.0, 3.0, 2.0, 50.0), Joints).ToArray();

    public override IReadOnlySet<ArmCommandMode> OfferedModes { get; } = new HashSet<ArmCommandMode> { ArmCommandMode.JointPosition, ArmCommandMode.JointVelocity };

    public override bool HasGripper { get; } = !program.Arguments.Contains("--no-gripper");

    public override int WatchdogMilliseconds => settings.WatchdogMilliseconds;

    public override int StateRateHz => settings.StateRateHz;

    public override double[] Rest => new double[Joints];

    public override double[] Target => JointVector(0, 0.5);

    public override bool JointModelIsExact => true;

    public override void Dispose() => _endpoint.Dispose();
}
