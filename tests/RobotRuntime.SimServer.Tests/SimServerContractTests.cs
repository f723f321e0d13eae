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

    /// <summary>The link, which also stops its server when disposed.</summary>
    private sealed class OwningLink(IArmLink inner, IDisposable server) : IArmLink
    {
        public ArmDescription? Description => inner.Description;
        public ArmLinkHealth Health => inner.Health;
        public ArmControlResult Handshake(TimeSpan timeout) => inner.Handshake(timeout);
        public bool TryGetLatestState(TimeSpan maxAge, out ArmState state, out TimeSpan age) => inner.TryGetLatestState(maxAge, out state, out age);
        public ArmSendStatus Send(in ArmCommand command, out ArmCommand sent) => inner.Send(command, out sent);
        public ArmControlResult Request(ArmControlRequest request, TimeSpan timeout) => inner.Request(request, timeout);

        public void Dispose()
        {
            inner.Dispose();
            server.Dispose();
        }
    }
}
