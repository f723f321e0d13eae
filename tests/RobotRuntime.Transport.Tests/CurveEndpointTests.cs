using RobotRuntime.Arm;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.Transport.Tests;

/// <summary>The C reference arm with --curve-keys: the runtime's link with the arm's public key works; without it, nothing answers.</summary>
public sealed class CurveEndpointTests
{
    [Fact]
    public void TheReferenceArmServesCurveToALinkThatHasItsPublicKey()
    {
        var prefix = IpcPrefix.Create();
        var keysFile = prefix + "-curve.keys";
        var keys = CurveKeyPair.Create();
        keys.Save(keysFile);
        try
        {
            using var arm = new ArmEndpointProcess(prefix, watchdogMilliseconds: 500, curveKeysFile: keysFile);
            using (var link = new ZmqArmLink(arm.LinkSettings with { CurveServerPublicKey = keys.PublicKey }))
            {
                var hello = link.Handshake(TimeSpan.FromSeconds(5));
                Assert.True(hello.Succeeded, hello.Detail);
                Assert.True(SpinWait.SpinUntil(() => link.Health.Status == ArmLinkStatus.Up, TimeSpan.FromSeconds(5)), "no state over CURVE");
            }
            using var plain = new ZmqArmLink(arm.LinkSettings);
            Assert.False(plain.Handshake(TimeSpan.FromMilliseconds(800)).Succeeded);
        }
        finally
        {
            File.Delete(keysFile);
        }
    }
}
