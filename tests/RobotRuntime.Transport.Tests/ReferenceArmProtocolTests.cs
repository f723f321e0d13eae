using Xunit.Abstractions;

namespace RobotRuntime.Transport.Tests;

/// <summary>
/// The behaviour suite against the reference arm (firmware-interfaces/endpoint, a separate C process): 6 joints of range ±3 rad,
/// velocity_max 2 rad/s, effort_max 50 N·m, joint position and joint velocity commands, and an exact kinematic joint model (a joint
/// moves at exactly its commanded speed, a hold zeroes every speed at once): <see cref="SimulatedJointsArm"/>.
/// </summary>
public sealed class ReferenceArmProtocolTests(ITestOutputHelper output) : ArmBehaviourSuite(output)
{
    protected override ArmUnderTest StartArm(ArmSettings settings) => new SimulatedJointsArm(ArmProgram.ReferenceArm, settings);
}
