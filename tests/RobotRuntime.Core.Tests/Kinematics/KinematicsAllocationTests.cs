using RobotRuntime.Kinematics;
using RobotRuntime.Testing;

namespace RobotRuntime.Core.Tests.Kinematics;

public class KinematicsAllocationTests
{
    /// <summary>
    /// Forward, Jacobian and Solve (converging, giving up on an unreachable target, and refusing
    /// invalid input) allocate 0 bytes over 1000 rounds after one warm-up round (JIT and tiering).
    /// </summary>
    [Fact]
    public void ForwardJacobianAndSolveAllocateNothing()
    {
        var chain = ArmKinematicsLibrary.Get("ur5e");
        var solver = new InverseKinematics(chain);
        var joints = (double[])InverseKinematicsTests.Home.Clone();
        var solution = new double[6];
        var jacobian = new double[36];
        var reachable = InverseKinematicsTests.DownAt(0.4, -0.1, 0.1, 0.3);
        var unreachable = InverseKinematicsTests.DownAt(2, 0, 0.3, 0);
        var statuses = new IkStatus[3];

        void Round()
        {
            chain.Forward(joints, out _);
            chain.Jacobian(joints, jacobian);
            statuses[0] = solver.Solve(reachable, joints, solution).Status;
            statuses[1] = solver.Solve(unreachable, joints, solution).Status;
            statuses[2] = solver.Solve(reachable, joints.AsSpan(1), solution).Status;
        }

        Round();
        var allocated = ThreadAllocations.During(() =>
        {
            for (var i = 0; i < 1000; i++)
                Round();
        });

        Assert.Equal(0, allocated);
        Assert.Equal([IkStatus.Converged, IkStatus.NotConverged, IkStatus.InvalidInput], statuses);
    }
}
