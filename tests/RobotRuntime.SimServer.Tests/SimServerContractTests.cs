using RobotRuntime.Arm;
using RobotRuntime.Transport.Tests;

namespace RobotRuntime.SimServer.Tests;

/// <summary>The <see cref="IArmLink"/> contract for ZmqArmLink against sim-server instead of the reference arm.</summary>
public sealed class SimServerContractTests : ArmLinkContractTests
{
    protected override int ExpectedJointCount => 4;

    protected override IArmLink CreateConnectedLink()
    {
        var host = SimServerHost.Start(SimServerTestSupport.Loopback(watchdogMilliseconds: 5000));
        try
        {
            return new OwningLink(SimServerTestSupport.Connect(host.Endpoints), host);
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }
}
