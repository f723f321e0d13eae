using RobotRuntime.Arm;
using RobotRuntime.Sim.Tabletop;
using RobotRuntime.Transport.Tests;
using Xunit.Abstractions;

namespace RobotRuntime.SimServer.Tests;

/// <summary>
/// The behaviour suite the reference arm passes, against sim-server: the C# firmware state machine
/// (<see cref="Transport.Firmware.ArmFirmware"/>) hosted over MuJoCo, started in this process on loopback ports.
/// Its arm has 4 joints with the ranges of the tabletop MJCF, joint position and end-effector delta commands (no joint
/// velocity), and physics: joints accelerate and brake, so the suite asserts PROTOCOL.md's bounds and the arm's own
/// timestamps where the reference arm's exact joint model allows exact values.
/// </summary>
public sealed class SimServerBehaviourTests(ITestOutputHelper output) : ArmBehaviourSuite(output)
{
    protected override ArmUnderTest StartArm(ArmSettings settings) => new SimServerArm(settings);

    private sealed class SimServerArm : ArmUnderTest
    {
        private readonly SimServerHost _host;
        private readonly ArmSettings _settings;

        public SimServerArm(ArmSettings settings)
        {
            _settings = settings;
            _host = SimServerHost.Start(SimServerTestSupport.Loopback(watchdogMilliseconds: settings.WatchdogMilliseconds) with
            {
                StateRateHz = settings.StateRateHz,
            });
        }

        public override ArmAddresses Addresses => ArmAddresses.Of(_host.Endpoints.LinkSettings);

        public override IReadOnlyList<JointLimits> Limits { get; } = SimulatedArm.Limits(SimArm.Get("toy4"));

        public override IReadOnlySet<ArmCommandMode> OfferedModes { get; } = new HashSet<ArmCommandMode> { ArmCommandMode.JointPosition, ArmCommandMode.EndEffectorDelta };

        public override double EndEffectorMaxTranslation => TabletopEnvironment.MaxEndEffectorStep;

        public override int WatchdogMilliseconds => _settings.WatchdogMilliseconds;

        public override int StateRateHz => _settings.StateRateHz;

        // Straight up (every angle is measured from the vertical): inside every range.
        public override double[] Rest => new double[4];

        // The hand pointing down 15 cm above the table in front of the arm, where the tasks work: reachable from the
        // start pose without touching the table.
        public override double[] Target
        {
            get
            {
                var joints = new double[4];
                ArmKinematics.Solve(0.35, 0.05, 0.15, joints);
                return joints;
            }
        }

        public override void Dispose() => _host.Dispose();
    }
}
