using RobotRuntime.Arm;
using Xunit.Abstractions;

namespace RobotRuntime.Transport.Tests;

/// <summary>
/// The behaviour suite against the reference arm (firmware-interfaces/endpoint, a separate C process): 6 joints of
/// range ±3 rad, velocity_max 2 rad/s, effort_max 50 N·m, joint position and joint velocity commands, and an exact
/// kinematic joint model (a joint moves at exactly its commanded speed, a hold zeroes every speed at once).
/// </summary>
public sealed class ReferenceArmProtocolTests(ITestOutputHelper output) : ArmBehaviourSuite(output)
{
    protected override ArmUnderTest StartArm(ArmSettings settings) => new ReferenceArm(settings);

    private sealed class ReferenceArm(ArmSettings settings) : ArmUnderTest
    {
        private const int Joints = 6;

        private readonly ArmEndpointProcess _endpoint = new(IpcPrefix.Create(), settings.WatchdogMilliseconds, settings.StateRateHz, Joints);

        public override ArmAddresses Addresses => ArmAddresses.Of(_endpoint.LinkSettings);

        // As rr_arm_endpoint.c's arm_init announces them.
        public override IReadOnlyList<JointLimits> Limits { get; } = Enumerable.Repeat(new JointLimits(-3.0, 3.0, 2.0, 50.0), Joints).ToArray();

        public override IReadOnlySet<ArmCommandMode> OfferedModes { get; } = new HashSet<ArmCommandMode> { ArmCommandMode.JointPosition, ArmCommandMode.JointVelocity };

        public override int WatchdogMilliseconds => settings.WatchdogMilliseconds;

        public override int StateRateHz => settings.StateRateHz;

        public override double[] Rest => new double[Joints];

        public override double[] Target => JointVector(0, 0.5);

        public override bool JointModelIsExact => true;

        public override void Dispose() => _endpoint.Dispose();
    }
}
