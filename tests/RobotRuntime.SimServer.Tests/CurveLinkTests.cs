using RobotRuntime.Arm;
using RobotRuntime.SimServer;
using RobotRuntime.Transport.Firmware;
using RobotRuntime.Transport.Zmq;

namespace RobotRuntime.SimServer.Tests;

/// <summary>
/// The arm link over CURVE against the simulator's arm (in this process, real tcp sockets): with the
/// arm's public key it works like a plain link; with another key, or none, the arm never answers.
/// </summary>
public sealed class CurveLinkTests
{
    private static SimServerHost Arm(CurveKeyPair? keys) => SimServerHost.Start(new SimServerOptions
    {
        Task = "reach", StateEndpoint = "tcp://127.0.0.1:*", CommandEndpoint = "tcp://127.0.0.1:*", ControlEndpoint = "tcp://127.0.0.1:*",
        FrontCameraEndpoint = "tcp://127.0.0.1:*", WristCameraEndpoint = "tcp://127.0.0.1:*",
        CameraRateHz = 5, CameraWidth = 16, CameraHeight = 16, WatchdogMilliseconds = 500, Quiet = true, CurveKeys = keys,
    });

    [Fact]
    public void WithTheArmsPublicKeyTheLinkHandshakesAndStatesArrive()
    {
        Assert.True(CurveKeyPair.IsAvailable);
        var keys = CurveKeyPair.Create();
        using var host = Arm(keys);
        using var link = new ZmqArmLink(host.Endpoints.LinkSettings with { CurveServerPublicKey = keys.PublicKey });

        var hello = link.Handshake(TimeSpan.FromSeconds(5));

        Assert.True(hello.Succeeded, hello.Detail);
        Assert.True(SpinWait.SpinUntil(() => link.Health.Status == ArmLinkStatus.Up, TimeSpan.FromSeconds(5)), "no state over CURVE");
        Assert.Equal(ArmControlStatus.Ok, link.Request(ArmControlRequest.Enable, TimeSpan.FromSeconds(2)).Status);
    }

    [Fact]
    public void WithAnotherKeyOrWithoutCurveTheArmNeverAnswers()
    {
        var keys = CurveKeyPair.Create();
        using var host = Arm(keys);

        using (var wrongKey = new ZmqArmLink(host.Endpoints.LinkSettings with { CurveServerPublicKey = CurveKeyPair.Create().PublicKey }))
            Assert.False(wrongKey.Handshake(TimeSpan.FromMilliseconds(800)).Succeeded);
        using (var plain = new ZmqArmLink(host.Endpoints.LinkSettings))
        {
            Assert.False(plain.Handshake(TimeSpan.FromMilliseconds(800)).Succeeded);
            Assert.NotEqual(ArmLinkStatus.Up, plain.Health.Status);
        }
    }

    [Fact]
    public void TheArmsCameraStreamsAreEncryptedToo()
    {
        var keys = CurveKeyPair.Create();
        using var host = Arm(keys);
        var endpoint = host.Endpoints.Cameras["front"];
        using var secured = new RobotRuntime.Vision.Cameras.ZmqCameraSource("front", endpoint, 16, 16, curvePublicKey: keys.PublicKey);
        using var plain = new RobotRuntime.Vision.Cameras.ZmqCameraSource("plain", endpoint, 16, 16);
        secured.Start();
        plain.Start();
        var frame = new RobotRuntime.Cameras.CameraFrame(16, 16);

        Assert.Equal(RobotRuntime.Cameras.CameraReadStatus.Ok, secured.Read(frame, TimeSpan.FromSeconds(5)));
        Assert.NotEqual(RobotRuntime.Cameras.CameraReadStatus.Ok, plain.Read(frame, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void KeyPairsRoundTripThroughTheirFileAndBadKeysAreNamed()
    {
        var path = Path.Combine(Path.GetTempPath(), "rr-curve-" + Guid.NewGuid().ToString("N"));
        try
        {
            var keys = CurveKeyPair.Create();
            keys.Save(path);
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(keys, CurveKeyPair.Load(path));
            Assert.Equal(keys.PublicKey, CurveKeyPair.FromSecret(keys.SecretKey).PublicKey);
            var error = Assert.Throws<ArgumentException>(() => CurveKeyPair.CheckKey("short", "arm.curve_public_key"));
            Assert.Contains("arm.curve_public_key: expected a CURVE key, 40 characters of Z85", error.Message);
            File.WriteAllText(path, "public nothing\n");
            Assert.Contains("no 'secret' line", Assert.Throws<InvalidDataException>(() => CurveKeyPair.Load(path)).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
